#include <gtest/gtest.h>

#include <map>
#include <set>

#include "crimegraph/error.hpp"
#include "crimegraph/search/asha/asha.hpp"
#include "crimegraph/search/sampler.hpp"

using namespace crimegraph;

namespace {

AshaOptions rungs_1_2_4() {
  AshaOptions o;
  o.min_epochs = 1;
  o.max_epochs = 4;
  o.factor = 2;
  o.max_trials = 100;
  return o;
}

void report(AshaScheduler& s, std::int64_t id, double score, bool ok = true) {
  s.report({id, ok, score, score, ""});
}

}  // namespace

TEST(Asha, RungsGoUpByTheFactorToMaxEpochs) {
  AshaOptions o;
  o.min_epochs = 1;
  o.max_epochs = 25;
  o.factor = 2;
  o.brackets = 3;
  o.max_trials = 1;
  EXPECT_EQ(o.rungs(0), (std::vector<std::int32_t>{1, 2, 4, 8, 16, 25}));
  EXPECT_EQ(o.rungs(2), (std::vector<std::int32_t>{4, 8, 16, 25}));
  o.factor = 3;
  o.max_epochs = 27;
  EXPECT_EQ(o.rungs(0), (std::vector<std::int32_t>{1, 3, 9, 27}));
  o.brackets = 5;
  EXPECT_THROW(o.validate(false), ConfigError);  // 4 rungs allow 4 brackets
  o.brackets = 1;
  o.max_trials = 0;
  EXPECT_THROW(o.validate(false), ConfigError);  // no budget
  EXPECT_NO_THROW(o.validate(true));             // the loop's time limit is one
}

// The promotion rule worked by hand: when a worker asks, the best not-yet-promoted trial in the
// top 1/eta of the highest rung that has one is promoted, else a new configuration starts.
TEST(Asha, PromotesTheBestUnpromotedOfTheTopOneOverEtaHighestRungFirst) {
  AshaScheduler s(rungs_1_2_4(), SearchSpace::original_study(), 3);
  std::vector<TrialSpec> first;
  for (std::int64_t i = 0; i < 4; ++i) {
    const auto t = s.next();
    ASSERT_TRUE(t);
    first.push_back(*t);
    EXPECT_EQ(t->id, i);
    EXPECT_EQ(t->config_id, i);
    EXPECT_EQ(t->parent_id, -1);
    EXPECT_EQ(t->round, 0);
    EXPECT_EQ(t->start_epoch, 0);
    EXPECT_EQ(t->end_epoch, 1);
  }
  report(s, 0, 0.5);  // rung 0: 1 result, top 1/2 of 1 is no one
  auto t = s.next();
  EXPECT_EQ(t->id, 4);
  EXPECT_EQ(t->parent_id, -1);
  report(s, 1, 0.7);  // 2 results: trial 1 is the top one
  t = s.next();
  EXPECT_EQ(t->id, 5);
  EXPECT_EQ(t->parent_id, 1);
  EXPECT_EQ(t->config_id, 1);
  EXPECT_EQ(t->round, 1);
  EXPECT_EQ(t->start_epoch, 1);
  EXPECT_EQ(t->end_epoch, 2);
  EXPECT_EQ(t->config, first[1].config);
  EXPECT_EQ(t->seed, first[1].seed);  // the configuration's weights and batch order, continued
  report(s, 2, 0.6);  // 3 results, top 1: trial 1, already promoted
  t = s.next();
  EXPECT_EQ(t->id, 6);
  EXPECT_EQ(t->parent_id, -1);
  report(s, 3, 0.9);  // 4 results, top 2: trials 3 and 1
  t = s.next();
  EXPECT_EQ(t->id, 7);
  EXPECT_EQ(t->parent_id, 3);
  t = s.next();  // trial 2 ranks third of 4: not in the top 2
  EXPECT_EQ(t->id, 8);
  EXPECT_EQ(t->parent_id, -1);
  report(s, 4, 0.99, false);  // failed: ranks last whatever it claims, never promoted
  report(s, 5, 0.8);          // rung 1: 1 result
  report(s, 7, 0.85);         // rung 1: 2 results, trial 7 the top one
  report(s, 6, 0.95);         // rung 0: 6 results, top 3: trials 6, 3, 1; 6 not promoted yet
  t = s.next();               // the highest rung first
  EXPECT_EQ(t->id, 9);
  EXPECT_EQ(t->parent_id, 7);
  EXPECT_EQ(t->round, 2);
  EXPECT_EQ(t->start_epoch, 2);
  EXPECT_EQ(t->end_epoch, 4);
  t = s.next();
  EXPECT_EQ(t->id, 10);
  EXPECT_EQ(t->parent_id, 6);
  EXPECT_EQ(t->round, 1);
  t = s.next();
  EXPECT_EQ(t->parent_id, -1);
  EXPECT_EQ(s.counts().failed, 1);
  EXPECT_THROW(report(s, 4, 0.5), Error);    // twice
  EXPECT_THROW(report(s, 999, 0.5), Error);  // never handed out
}

TEST(Asha, BracketsStartOneRungHigherInTurn) {
  auto o = rungs_1_2_4();
  o.brackets = 2;
  AshaScheduler s(o, SearchSpace::original_study(), 3);
  const auto a = s.next(), b = s.next(), c = s.next();
  EXPECT_EQ(a->bracket, 0);
  EXPECT_EQ(a->end_epoch, 1);
  EXPECT_EQ(b->bracket, 1);
  EXPECT_EQ(b->end_epoch, 2);
  EXPECT_EQ(c->bracket, 0);
}

TEST(Asha, TheTrialBudgetCountsConfigurationsAndPromotionsGoOn) {
  auto o = rungs_1_2_4();
  o.max_trials = 6;
  AshaScheduler s(o, SearchSpace::original_study(), 5);
  std::map<std::int64_t, TrialSpec> running;
  std::set<std::int64_t> configs;
  double score = 0.1;
  while (!s.finished()) {
    while (auto t = s.next()) running[t->id] = *t;
    ASSERT_FALSE(running.empty()) << "stalled";
    const auto t = running.begin()->second;  // results in dispatch order
    running.erase(running.begin());
    configs.insert(t.config_id);
    report(s, t.id, score += 0.1);
  }
  EXPECT_EQ(configs.size(), 6u);
  EXPECT_EQ(s.configurations(), 6);
  EXPECT_GT(s.counts().completed, 6);  // promotions ran after the last new configuration
  EXPECT_EQ(s.counts().running(), 0);
}

TEST(Asha, TheEpochBudgetIsNeverExceeded) {
  auto o = rungs_1_2_4();
  o.max_trials = 0;
  o.max_total_epochs = 37;
  AshaScheduler s(o, SearchSpace::original_study(), 5);
  std::vector<TrialSpec> running;
  std::int64_t committed = 0;
  std::uint64_t turn = 0;
  while (!s.finished()) {
    while (auto t = s.next()) {
      committed += t->epochs();
      EXPECT_LE(committed, 37);
      running.push_back(*t);
    }
    ASSERT_FALSE(running.empty()) << "stalled";
    const auto i = (turn++ * 7) % running.size();  // results out of order
    const auto t = running[i];
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    report(s, t.id, 0.01 * static_cast<double>((t.id * 37) % 17));
  }
  EXPECT_EQ(s.counts().epochs_completed, committed);
  EXPECT_EQ(committed, 37);  // a new configuration needs 1 epoch: the budget is spent to the last
}

TEST(Asha, SameCallsSameDecisions) {
  auto run = [](std::uint64_t seed) {
    AshaScheduler s(rungs_1_2_4(), SearchSpace::original_study(), seed);
    std::vector<std::pair<std::int64_t, std::int64_t>> decisions;  // (id, parent)
    std::vector<TrialSpec> running;
    for (int step = 0; step < 60; ++step) {
      while (running.size() < 3) {
        const auto t = s.next();
        if (!t) break;
        decisions.emplace_back(t->id, t->parent_id);
        running.push_back(*t);
      }
      const auto t = running[static_cast<std::size_t>(step) % running.size()];
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(step) % running.size()));
      report(s, t.id, 0.001 * static_cast<double>((t.config_id * 7919) % 1000));
    }
    return decisions;
  };
  EXPECT_EQ(run(1), run(1));
}

// A plan far larger than a small space stops redrawing repeats once 100 redraws in a row find
// nothing new (a huge plan over a small space spent seconds redrawing, deaf to SIGTERM).
TEST(Sampler, StopsRedrawingOnceTheSpaceIsUsedUp) {
  const auto space = SearchSpace::parse("[space]\nnum_ldn_layers = int 1 2\n");
  ConfigurationSampler sampler(space, 1);
  std::set<Configuration> seen;
  for (int i = 0; i < 2; ++i) seen.insert(sampler.draw());
  EXPECT_EQ(seen.size(), 2u);  // repeats redrawn while the space has something new
  EXPECT_FALSE(sampler.exhausted());
  const auto before = sampler.draws();
  sampler.draw();  // nothing new: 1 + 100 draws, then the space is used up
  EXPECT_TRUE(sampler.exhausted());
  EXPECT_EQ(sampler.draws() - before, 101);
  const auto after = sampler.draws();
  for (int i = 0; i < 1000; ++i) sampler.draw();
  EXPECT_EQ(sampler.draws() - after, 1000);  // one draw a configuration from then on
}
