#include <gtest/gtest.h>

#include <random>

#include "crimegraph/cluster/objective.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/search/hyperband/plan.hpp"
#include "crimegraph/search/space.hpp"

using namespace crimegraph;

namespace {
std::vector<std::pair<int, int>> rounds_of(const BracketPlan& b) {
  std::vector<std::pair<int, int>> out;
  for (const auto& r : b.rounds) out.emplace_back(r.trials, r.epochs);
  return out;
}
using Rounds = std::vector<std::pair<int, int>>;
}  // namespace

TEST(HyperbandPlan, KerasOriginalStudyIs460Trials) {
  HyperbandOptions o;  // keras, max_epochs 25, factor 2
  o.iterations = 5;
  const auto plan = hyperband_plan(o);
  ASSERT_EQ(plan.size(), 25u);
  EXPECT_EQ(plan_totals(plan).trials, 460);
  EXPECT_EQ(plan.front().bracket, 4);  // most aggressive first
  EXPECT_EQ(rounds_of(plan[0]), (Rounds{{20, 2}, {10, 4}, {5, 7}, {3, 13}, {2, 25}}));
  EXPECT_EQ(rounds_of(plan[1]), (Rounds{{12, 4}, {6, 7}, {3, 13}, {2, 25}}));
  EXPECT_EQ(rounds_of(plan[2]), (Rounds{{8, 7}, {4, 13}, {2, 25}}));
  EXPECT_EQ(rounds_of(plan[3]), (Rounds{{6, 13}, {3, 25}}));
  EXPECT_EQ(rounds_of(plan[4]), (Rounds{{6, 25}}));
  EXPECT_EQ(plan[5].iteration, 1);
  EXPECT_EQ(plan_totals(plan).configurations, 5 * (20 + 12 + 8 + 6 + 6));
  EXPECT_EQ(plan_totals(plan).epochs, 5 * (117 + 108 + 104 + 114 + 150));
}

TEST(HyperbandPlan, PaperAlgorithmForR81Eta3) {
  HyperbandOptions o;
  o.variant = HyperbandVariant::Paper;
  o.max_epochs = 81;
  o.factor = 3;
  const auto plan = hyperband_plan(o);
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(rounds_of(plan[0]), (Rounds{{81, 1}, {27, 3}, {9, 9}, {3, 27}, {1, 81}}));
  EXPECT_EQ(rounds_of(plan[1]), (Rounds{{34, 3}, {11, 9}, {3, 27}, {1, 81}}));
  EXPECT_EQ(rounds_of(plan[2]), (Rounds{{15, 9}, {5, 27}, {1, 81}}));
  EXPECT_EQ(rounds_of(plan[3]), (Rounds{{8, 27}, {2, 81}}));
  EXPECT_EQ(rounds_of(plan[4]), (Rounds{{5, 81}}));
  EXPECT_EQ(plan_totals(plan).trials, 81 + 27 + 9 + 3 + 1 + 34 + 11 + 3 + 1 + 15 + 5 + 1 + 8 + 2 + 5);
}

TEST(HyperbandPlan, IntegerLogEdgeCases) {
  EXPECT_EQ(integer_log(243, 3), 5);  // floating log gives 4.999...
  EXPECT_EQ(integer_log(242, 3), 4);
  EXPECT_EQ(integer_log(1, 2), 0);
  EXPECT_EQ(integer_log(2, 2), 1);
  EXPECT_EQ(integer_log(8, 2), 3);
  EXPECT_EQ(integer_log(1000, 10), 3);
  EXPECT_EQ(integer_log(999, 10), 2);
  HyperbandOptions o;
  o.variant = HyperbandVariant::Paper;
  o.max_epochs = 243;
  o.factor = 3;
  EXPECT_EQ(hyperband_plan(o).size(), 6u);
}

TEST(HyperbandPlan, BadOptionsAreErrors) {
  HyperbandOptions o;
  o.factor = 1;
  EXPECT_THROW(hyperband_plan(o), ConfigError);
  o = {};
  o.max_epochs = 0;
  EXPECT_THROW(hyperband_plan(o), ConfigError);
  o = {};
  o.iterations = 0;
  EXPECT_THROW(hyperband_plan(o), ConfigError);
  EXPECT_THROW(parse_variant("bohb"), ConfigError);
}

TEST(HyperbandPlan, DescribeShowsEveryRound) {
  HyperbandOptions o;
  o.iterations = 5;
  const auto text = describe_plan(hyperband_plan(o), o);
  EXPECT_NE(text.find("total: 460 trials"), std::string::npos) << text;
  EXPECT_NE(text.find("        0       4     0      20       2             40"), std::string::npos) << text;
  EXPECT_NE(text.find("iterations 1..4 repeat"), std::string::npos) << text;
}

TEST(SearchSpace, OriginalStudySpace) {
  const auto space = SearchSpace::original_study();
  ASSERT_EQ(space.parameters().size(), 5u);
  const auto d = space.defaults();
  EXPECT_EQ(d.at("num_gated_relu_layers"), 2);
  EXPECT_EQ(d.at("num_gated_relu_hidden_units"), 8);
  EXPECT_EQ(d.at("num_ldn_layers"), 5);
  EXPECT_EQ(d.at("num_ldn_hidden_units"), 4);
  EXPECT_DOUBLE_EQ(d.at("loss_rho"), 0.03);
  std::mt19937_64 rng(1);
  std::set<double> rhos;
  for (int i = 0; i < 500; ++i) {
    const auto c = space.sample(rng);
    EXPECT_GE(c.at("num_ldn_layers"), 1);
    EXPECT_LE(c.at("num_ldn_layers"), 7);
    rhos.insert(c.at("loss_rho"));
  }
  EXPECT_EQ(rhos.size(), 7u);  // 0.005, 0.010, ..., 0.035
  EXPECT_EQ(SearchSpace::parse(space.to_text()).to_text(), space.to_text());
}

TEST(SearchSpace, LogFloatStaysInRange) {
  const auto space = SearchSpace::parse("[space]\ninitial_learning_rate = float 0.0001 0.1 log default=0.03\n");
  std::mt19937_64 rng(3);
  int small = 0;
  for (int i = 0; i < 1000; ++i) {
    const double v = space.sample(rng).at("initial_learning_rate");
    ASSERT_GE(v, 0.0001);
    ASSERT_LE(v, 0.1);
    small += v < 0.001;
  }
  EXPECT_GT(small, 250);  // log-uniform: a third of the mass below 0.001
}

namespace {
// Why a space of this one line is refused, by the parser or (as_gldnet) by GLDNet's objective;
// "" when it is not.
std::string refusal(const std::string& line, bool as_gldnet) {
  try {
    const auto space = SearchSpace::parse("[space]\n" + line + "\n", "space.ini");
    if (as_gldnet) check_gldnet_space(space);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(SearchSpace, InvalidSpacesAreClearErrors) {
  auto message = [](const std::string& text) { return refusal(text, true); };
  EXPECT_NE(message("num_ldn_layers = int 7 1").find("min 7 > max 1"), std::string::npos);
  EXPECT_NE(message("num_ldn_hidden_units = choice ,").find("at least one value"), std::string::npos);
  EXPECT_NE(message("num_lnd_layers = int 1 7").find("not a GLDNet hyperparameter"), std::string::npos);
  EXPECT_NE(message("num_ldn_layers = int 1 7 default=9").find("default 9 is outside"), std::string::npos);
  EXPECT_NE(message("loss_rho = float 0.01 0.02 default=0.5").find("outside"), std::string::npos);
  EXPECT_NE(message("num_ldn_hidden_units = choice 2,4 default=3").find("not one of the choices"), std::string::npos);
  EXPECT_NE(message("num_ldn_layers = int 0 3").find("out of range"), std::string::npos);
  EXPECT_NE(message("num_ldn_layers = range 1 3").find("unknown parameter kind"), std::string::npos);
  EXPECT_NE(message("").find("no parameters"), std::string::npos);
  EXPECT_NE(message("num_ldn_layers = int 1 x").find("space.ini:2"), std::string::npos);
  // A step of zero was taken as "no step" (int: 1) without a word.
  EXPECT_NE(message("num_ldn_layers = int 1 7 step=0").find("step must be positive"), std::string::npos);
  EXPECT_NE(message("loss_rho = float 0.01 0.03 step=0").find("step must be positive"), std::string::npos);
  EXPECT_NE(message("loss_rho = float 0.01 0.03 step=-0.01").find("step must be positive"), std::string::npos);
  EXPECT_THROW(SearchSpace::from_file("/nonexistent/space.ini"), ConfigError);
}

// Found by the fuzzing test once the space stopped checking its names against GLDNet's ranges:
// a range of more integers than a double holds exactly (or than sample() can count) was
// sampled by an out-of-range conversion.
TEST(SearchSpace, ARangeTooWideToSampleIsRefused) {
  auto refused = [](const std::string& line) { return refusal(line, false); };
  EXPECT_NE(refused("num_ldn_layers = int 1 788888888888888888888 default=5").find("too wide"), std::string::npos);
  EXPECT_NE(refused("num_ldn_layers = int -9007199254740994 1 default=1").find("too wide"), std::string::npos);
  EXPECT_NE(refused("loss_rho = float 0 1 step=1e-300 default=0").find("too wide"), std::string::npos);
  EXPECT_NE(refused("loss_rho = float -1e308 1e308 default=0").find("too wide"), std::string::npos);
  const auto space = SearchSpace::parse("[space]\nnum_ldn_layers = int 0 9007199254740991 default=0\n");
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100; ++i) {
    const double v = space.sample(rng).at("num_ldn_layers");
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 9007199254740991.0);
  }
}

// A mistyped --max-epochs or --iterations planned billions of trials (and ran out of memory,
// deaf to SIGTERM, while doing so): refused at once, unless the limit is raised.
TEST(HyperbandPlan, APlanFarBeyondAnySearchIsRefused) {
  for (auto variant : {HyperbandVariant::Keras, HyperbandVariant::Paper}) {
    HyperbandOptions o;
    o.variant = variant;
    o.max_epochs = 2147483647;
    o.factor = 3;
    try {
      hyperband_plan(o);
      ADD_FAILURE() << "planned R = 2^31 - 1";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--max-planned-trials"), std::string::npos) << e.what();
    }
    o.max_epochs = 25;
    o.factor = 2;
    o.iterations = 1000000000;
    EXPECT_THROW(hyperband_plan(o), ConfigError);
    o.iterations = 1000;  // 50,000 or so trials: allowed
    EXPECT_EQ(plan_totals(hyperband_plan(o)).trials, 1000 * plan_totals(hyperband_plan({variant, 25, 2, 1})).trials);
    o.max_planned_trials = 1000;
    EXPECT_THROW(hyperband_plan(o), ConfigError);
  }
}

// Found by fuzz/run.sh: a float grid that does not start on a multiple of its step sampled
// values outside its range (min 0.005, step 5.005 gave 0).
TEST(SearchSpace, AGridOffTheMultiplesOfItsStepSamplesInsideItsRange) {
  const auto space = SearchSpace::parse("[space]\nloss_rho = float 0.005 0.035 step=5.005 default=0.005\n"
                                        "initial_learning_rate = float 0.0015 0.0115 step=0.005 default=0.0015\n");
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) {
    const auto c = space.sample(rng);
    EXPECT_EQ(c.at("loss_rho"), 0.005);
    const double lr = c.at("initial_learning_rate");
    EXPECT_GE(lr, 0.0015);
    EXPECT_LE(lr, 0.0115 + 1e-12);
  }
}
