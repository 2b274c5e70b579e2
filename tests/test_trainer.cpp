#include <gtest/gtest.h>

#include <cmath>

#include "crimegraph/error.hpp"
#include "crimegraph/model/baselines.hpp"
#include "crimegraph/model/trainer.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {
const CrimeDataset& small() {
  static const CrimeDataset ds = fixture::small_city(100, 400, 21);
  return ds;
}
std::shared_ptr<const TrainingData> small_data() {
  static const auto data = std::make_shared<const TrainingData>(small());
  return data;
}
Hyperparameters quick() {
  Hyperparameters hp;
  hp.num_ldn_layers = 2;
  return hp;
}
}  // namespace

TEST(Trainer, SmoothingWeightsSpanTheWholeWindow) {
  const auto w = TrainingData::smoothing_weights(5);
  ASSERT_EQ(w.size(), 4u * 5u);
  for (int s = 0; s < 4; ++s) {
    float sum = 0.0f;
    for (int d = 0; d < 5; ++d) sum += w[s * 5 + d];
    EXPECT_NEAR(sum, 1.0f, 1e-6);
  }
  EXPECT_FLOAT_EQ(w[4], 1.0f);        // gamma 0: the last day only
  EXPECT_FLOAT_EQ(w[3 * 5 + 0], 0.2f);  // gamma 1: the plain mean, oldest day included
  EXPECT_NEAR(w[5 + 3] / w[5 + 4], 0.5, 1e-6);
}

TEST(Trainer, PredictionDependsOnTheOldestDayOfTheWindow) {
  auto changed = small();
  const std::int32_t lookback = 14, target = 200;
  const std::int32_t n = changed.nodes(), c = changed.channel_count();
  // Raise every feature of day t - L, the oldest input day.
  for (std::int32_t i = 0; i < n * c; ++i) changed.features[static_cast<std::size_t>(target - lookback) * n * c + i] += 5.0f;
  TrainerOptions o;
  o.seed = 4;
  Trainer a(small_data(), quick(), o), b(std::make_shared<const TrainingData>(changed), quick(), o);
  const auto pa = a.predict({target}), pb = b.predict({target});
  double diff = 0.0;
  for (std::size_t i = 0; i < pa.size(); ++i) diff += std::abs(pa[i] - pb[i]);
  EXPECT_GT(diff, 1e-4);
  // ... and not on the day before it.
  auto outside = small();
  for (std::int32_t i = 0; i < n * c; ++i) outside.features[static_cast<std::size_t>(target - lookback - 1) * n * c + i] += 5.0f;
  Trainer d(std::make_shared<const TrainingData>(outside), quick(), o);
  EXPECT_EQ(a.predict({target}), d.predict({target}));
}

TEST(Trainer, ResumedFromCheckpointEqualsStraightThrough) {
  TrainerOptions o;
  o.seed = 9;
  Trainer straight(small_data(), quick(), o);
  ASSERT_EQ(straight.fit(5), TrialStatus::Ok);

  Trainer first(small_data(), quick(), o);
  ASSERT_EQ(first.fit(3), TrialStatus::Ok);
  const auto bytes = first.checkpoint();
  EXPECT_LT(bytes.size(), 200000u);
  TrainerOptions other = o;
  other.seed = 1234;  // the checkpoint carries the seed
  Trainer resumed(small_data(), quick(), other);
  resumed.restore(bytes);
  EXPECT_EQ(resumed.epoch(), 3);
  ASSERT_EQ(resumed.fit(5), TrialStatus::Ok);
  ASSERT_EQ(resumed.history().size(), 2u);
  EXPECT_EQ(resumed.history().back().validation_hit_rate, straight.history().back().validation_hit_rate);
  EXPECT_EQ(resumed.predict({300, 301}), straight.predict({300, 301}));
  // Checkpoints of other hyperparameters are refused.
  Hyperparameters wider = quick();
  wider.num_ldn_hidden_units = 8;
  Trainer mismatched(small_data(), wider, o);
  EXPECT_THROW(mismatched.restore(bytes), ConfigError);
  EXPECT_THROW(mismatched.restore("garbage"), DataError);
}

TEST(Trainer, ThreadCountDoesNotChangeResults) {
  // Batches of 40 windows make three groups, split over the threads; their gradients are
  // summed in group order whatever thread ran them.
  Hyperparameters hp = quick();
  hp.batch_size = 40;
  TrainerOptions one, two;
  one.seed = two.seed = 5;
  two.threads = 2;
  Trainer a(small_data(), hp, one);
  ASSERT_EQ(a.fit(2), TrialStatus::Ok);
  Trainer b(small_data(), hp, two);
  ASSERT_EQ(b.fit(2), TrialStatus::Ok);
  EXPECT_EQ(a.predict({300, 301}), b.predict({300, 301}));
  EXPECT_EQ(a.history().back().train_loss, b.history().back().train_loss);
  // ... and the threads really ran: a batch's groups went to both.
  EXPECT_EQ(a.threads_used(), 1);
  EXPECT_EQ(b.threads_used(), 2);
}

TEST(Trainer, ShortTrainingImprovesAndBeatsNaive) {
  TrainerOptions o;
  o.seed = 2;
  Trainer t(small_data(), quick(), o);
  const auto before = t.evaluate(Split::Validation).hit_rate;
  ASSERT_EQ(t.fit(8), TrialStatus::Ok);
  double best = 0.0;
  for (const auto& r : t.history()) best = std::max(best, r.validation_hit_rate);
  const auto naive = baseline_hit_rates(small(), t.windows(), Split::Validation, {}).naive;
  EXPECT_GT(best, before + 0.02) << "training should improve the validation hit rate";
  EXPECT_GT(best, naive) << "the trained model should beat yesterday's count";
  EXPECT_EQ(t.history().size(), 8u);
  EXPECT_LT(t.history().back().train_loss, t.history().front().train_loss);
}

TEST(Trainer, NonFiniteLossStopsWithDiverged) {
  auto poisoned = small();
  poisoned.features[static_cast<std::size_t>(50) * poisoned.nodes() * poisoned.channel_count()] = NAN;
  Trainer t(std::make_shared<const TrainingData>(poisoned), quick(), {});
  EXPECT_EQ(t.fit(3), TrialStatus::Diverged);
  EXPECT_EQ(t.status(), TrialStatus::Diverged);
  EXPECT_NE(t.message().find("NaN"), std::string::npos) << t.message();
  EXPECT_EQ(t.epoch(), 0);
}

TEST(Trainer, LookbackTooLongForTheSplitsIsAConfigError) {
  Hyperparameters hp;
  hp.lookback = 70;  // validation has 60 days
  EXPECT_THROW(Trainer(small_data(), hp, {}), ConfigError);
}

TEST(Hyperparameters, SetByNameWithValidation) {
  Hyperparameters hp;
  hp.set("num_ldn_layers", "3");
  hp.set("loss_rho", 0.01);
  EXPECT_EQ(hp.num_ldn_layers, 3);
  EXPECT_DOUBLE_EQ(hp.get("loss_rho"), 0.01);
  hp.apply({"batch_size=16", "initial_learning_rate=0.001"});
  EXPECT_EQ(hp.batch_size, 16);
  EXPECT_THROW(hp.set("num_lnd_layers", "3"), ConfigError);
  EXPECT_THROW(hp.set("num_ldn_layers", "2.5"), ConfigError);
  EXPECT_THROW(hp.set("num_ldn_layers", "0"), ConfigError);
  EXPECT_THROW(hp.set("loss_rho", "0"), ConfigError);
  EXPECT_THROW(hp.set("loss_rho", "abc"), ConfigError);
  EXPECT_THROW(hp.set("loss_rho", "0.1x"), ConfigError);
  EXPECT_THROW(hp.apply({"batch_size"}), ConfigError);
  try {
    hp.set("bogus", "1");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: num_gated_relu_layers"), std::string::npos);
  }
}

// --trial-timeout: a fit that runs past its time limit stops with Failed and says why; the
// epochs it finished are kept.
TEST(Trainer, ATimeLimitStopsTheFitWithItsReason) {
  const auto city = fixture::small_city(40, 200, 3);
  TrainerOptions options;
  options.time_limit_seconds = 1e-9;  // past before the second batch
  Trainer trainer(std::make_shared<const TrainingData>(city), Hyperparameters{}, options);
  EXPECT_EQ(trainer.fit(3), TrialStatus::Failed);
  EXPECT_NE(trainer.message().find("stopped by the time limit"), std::string::npos) << trainer.message();
  EXPECT_NE(trainer.message().find("in epoch 1"), std::string::npos) << trainer.message();
  EXPECT_TRUE(trainer.history().empty());

  options.time_limit_seconds = 0.0;
  Trainer unlimited(std::make_shared<const TrainingData>(city), Hyperparameters{}, options);
  EXPECT_EQ(unlimited.fit(2), TrialStatus::Ok);
  EXPECT_EQ(unlimited.history().size(), 2u);
}
