// The input channels' smoothing factor as a hyperparameter: trials recompute the channels from
// the dataset's daily counts, exactly as preparing the data with that factor would.
#include <gtest/gtest.h>

#include <cstring>

#include "crimegraph/cluster/objective.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/model/forecast.hpp"
#include "crimegraph/model/trainer.hpp"
#include "crimegraph/search/space.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {

// The same events, their channels smoothed with `alpha` when prepared.
CrimeDataset city_smoothed(double alpha) {
  StreetGridOptions grid;
  grid.nodes = 50;
  grid.seed = 5;
  EventProcessOptions events;
  events.days = 160;
  events.seed = 5;
  events.smoothing = alpha;
  return simulate_city(synthetic_street_grid(grid), events);
}

bool same_bits(const TrainingData& a, const TrainingData& b) {
  const auto n = static_cast<std::size_t>(a.days()) * a.nodes() * a.channels();
  return a.days() == b.days() && a.nodes() == b.nodes() && a.channels() == b.channels() &&
         std::memcmp(a.features(), b.features(), n * sizeof(float)) == 0;
}

Hyperparameters quick() {
  Hyperparameters hp;
  hp.num_ldn_layers = 2;
  hp.num_gated_relu_hidden_units = 4;
  return hp;
}

}  // namespace

TEST(FeatureHyperparameters, RecomputedChannelsAreThoseOfDataPreparedWithTheFactor) {
  const auto prepared_at_half = city_smoothed(0.5);
  const auto prepared_at_0_2 = city_smoothed(0.2);
  ASSERT_EQ(prepared_at_half.counts, prepared_at_0_2.counts);  // the same events
  const TrainingData reference(prepared_at_0_2);
  ASSERT_FALSE(same_bits(TrainingData(prepared_at_half), reference)) << "the factors should give other inputs";

  // From the dataset in memory, and from the counts a TrainingData keeps.
  EXPECT_TRUE(same_bits(TrainingData(prepared_at_half, 0.2), reference));
  const auto base = std::make_shared<const TrainingData>(prepared_at_half);
  ASSERT_TRUE(base->has_counts());
  const auto derived = TrainingData::with_smoothing(base, 0.2);
  EXPECT_DOUBLE_EQ(derived->smoothing(), 0.2);
  EXPECT_TRUE(same_bits(*derived, reference));
  EXPECT_EQ(TrainingData::with_smoothing(derived, 0.2), derived);
  EXPECT_EQ(TrainingData::with_smoothing(base, 0.0), base);
  // Recomputed in place, as a worker does for its next factor: the same channels, no stale table.
  auto reused = TrainingData::resmoothed(base, 0.7);
  reused->recompute_channels(0.2);
  EXPECT_TRUE(same_bits(*reused, reference));
  auto tabled = std::make_shared<TrainingData>(prepared_at_half);
  tabled->cache_smoothed_windows(7);
  tabled->recompute_channels(0.2);
  EXPECT_TRUE(same_bits(*tabled, reference));
  EXPECT_EQ(tabled->cached_smoothed_window(10, 7), nullptr) << "the table of the old channels was kept";
  // The label is the raw violent count whatever the smoothing.
  EXPECT_EQ(std::memcmp(derived->label_of_day(0), base->label_of_day(0), sizeof(float) * base->nodes() * base->days()), 0);

  // Through a dataset file, as a worker reads it.
  fixture::TempDir dir;
  write_dataset(prepared_at_half, dir.file("half.h5"));
  const auto from_file = std::make_shared<const TrainingData>(
      read_dataset(dir.file("half.h5"), DatasetParts::TrainingAndCounts));
  EXPECT_TRUE(same_bits(*TrainingData::with_smoothing(from_file, 0.2), reference));
  // Without the counts there is nothing to recompute from.
  const auto without = std::make_shared<const TrainingData>(read_dataset(dir.file("half.h5"), DatasetParts::Training));
  EXPECT_FALSE(without->has_counts());
  EXPECT_THROW(TrainingData::with_smoothing(without, 0.2), DataError);
}

// The whole path of a trial: a configuration naming the smoothing factor trains exactly as the
// same configuration without it on data prepared with that factor.
TEST(FeatureHyperparameters, ATrialSmoothingItsInputsTrainsAsOnDataPreparedSo) {
  fixture::TempDir dir;
  write_dataset(city_smoothed(0.5), dir.file("half.h5"));
  write_dataset(city_smoothed(0.2), dir.file("fifth.h5"));
  auto objective_on = [&](const std::string& file, bool keep_counts) {
    GLDNetObjectiveOptions o;
    o.dataset = DatasetSource{dir.file(file)};
    o.base = quick();
    o.keep_counts = keep_counts;
    return make_gldnet_objective(o);
  };
  TrialSpec spec;
  spec.id = 0;
  spec.seed = 99;
  spec.end_epoch = 2;
  const auto reference = objective_on("fifth.h5", false)->run(spec);
  spec.config = {{"smoothing", 0.2}};
  const auto searched = objective_on("half.h5", true)->run(spec);
  ASSERT_EQ(reference.status, TrialStatus::Ok) << reference.message;
  ASSERT_EQ(searched.status, TrialStatus::Ok) << searched.message;
  ASSERT_EQ(searched.epochs.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(searched.epochs[e].train_loss, reference.epochs[e].train_loss) << e;
    EXPECT_EQ(searched.epochs[e].validation_hit_rate, reference.epochs[e].validation_hit_rate) << e;
  }
  // One objective, factors taking turns: each trial sees its own factor's channels.
  auto worker = objective_on("half.h5", true);
  spec.config = {{"smoothing", 0.8}};
  const auto other = worker->run(spec);
  spec.config = {{"smoothing", 0.2}};
  const auto again = worker->run(spec);
  EXPECT_NE(other.epochs[0].train_loss, reference.epochs[0].train_loss);
  EXPECT_EQ(again.epochs[1].train_loss, reference.epochs[1].train_loss);
  EXPECT_EQ(again.epochs[1].validation_hit_rate, reference.epochs[1].validation_hit_rate);
  spec.config = {};
  const auto unsmoothed = worker->run(spec);
  EXPECT_NE(unsmoothed.epochs[0].train_loss, reference.epochs[0].train_loss) << "the factor changed nothing";

  // An objective that kept no counts fails such a trial with the reason.
  spec.config = {{"smoothing", 0.2}};
  const auto failed = objective_on("half.h5", false)->run(spec);
  EXPECT_EQ(failed.status, TrialStatus::Failed);
  EXPECT_NE(failed.message.find("daily counts"), std::string::npos) << failed.message;
}

TEST(FeatureHyperparameters, OnlyDatasetsWhoseChannelsAreTheirSmoothedCountsCanBeResmoothed) {
  EXPECT_NO_THROW(check_channels_are_smoothed_counts({"ArrestSmoothed", "ViolentSmoothed"}, {"Arrest", "Violent"}, "x"));
  try {
    check_channels_are_smoothed_counts({"Temperature", "ViolentSmoothed"}, {"Arrest", "Violent"}, "the dataset 'x.h5'");
    ADD_FAILURE() << "channels that are not smoothed counts were accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'x.h5''s channels (Temperature, ViolentSmoothed)"), std::string::npos) << e.what();
  }
  try {
    check_channels_are_smoothed_counts({"ViolentSmoothed"}, {}, "the dataset 'x.h5'");
    ADD_FAILURE() << "a dataset without counts was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("has no daily counts"), std::string::npos) << e.what();
  }
  auto odd = city_smoothed(0.5);
  odd.channels[0] = "Temperature";
  EXPECT_FALSE(TrainingData(odd).has_counts());
  EXPECT_THROW(TrainingData(odd, 0.3), DataError);
  Hyperparameters hp = quick();
  hp.smoothing = 0.3;
  EXPECT_THROW(Trainer(std::make_shared<const TrainingData>(odd), hp, TrainerOptions{}), DataError);
}

TEST(FeatureHyperparameters, TheSmoothingFactorIsAHyperparameterOfTheSpace) {
  Hyperparameters hp;
  EXPECT_EQ(hp.describe().find("smoothing"), std::string::npos) << "unset, it must not change older checkpoints";
  hp.set("smoothing", "0.123456789");
  EXPECT_NE(hp.describe().find("smoothing=0.123456789"), std::string::npos) << hp.describe();
  Hyperparameters back;
  back.apply({"smoothing=0.123456789"});
  EXPECT_EQ(back, hp);
  EXPECT_THROW(hp.set("smoothing", 1.5), ConfigError);
  EXPECT_THROW(hp.set("smoothing", -0.1), ConfigError);

  const auto with = SearchSpace::parse("[space]\nsmoothing = float 0.1 0.9 step=0.2\nlookback = int 7 28 step=7\n");
  EXPECT_NO_THROW(check_gldnet_space(with));
  EXPECT_TRUE(needs_daily_counts(Hyperparameters{}, with));
  EXPECT_FALSE(needs_daily_counts(Hyperparameters{}, SearchSpace::parse("[space]\nlookback = int 7 28\n")));
  EXPECT_TRUE(needs_daily_counts(hp, SearchSpace::parse("[space]\nlookback = int 7 28\n")));
  EXPECT_THROW(check_gldnet_space(SearchSpace::parse("[space]\nsmoothing = float 0.5 2\n")), ConfigError);
  // The original study's space does not search it.
  EXPECT_FALSE(needs_daily_counts(Hyperparameters{}, SearchSpace::original_study()));
}

// A model trained on recomputed channels ranks segments from channels recomputed the same way,
// whatever smoothing the dataset it is given was prepared with.
TEST(FeatureHyperparameters, AModelRemembersItsSmoothingForRanking) {
  const auto half = city_smoothed(0.5), fifth = city_smoothed(0.2);
  Hyperparameters hp = quick();
  hp.smoothing = 0.2;
  Trainer trainer(std::make_shared<const TrainingData>(half), hp, TrainerOptions{});
  trainer.fit(1);
  const auto model = trainer.checkpoint();
  EXPECT_DOUBLE_EQ(Trainer::checkpoint_hyperparameters(model).smoothing, 0.2);
  const HitRateOptions scoring;
  const auto on_half = rank_segments(half, model, half.days() - 1, scoring);
  const auto on_fifth = rank_segments(fifth, model, fifth.days() - 1, scoring);
  EXPECT_EQ(on_half.risk, on_fifth.risk);
  EXPECT_EQ(on_half.rank, on_fifth.rank);
}
