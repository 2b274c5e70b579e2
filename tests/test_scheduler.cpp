#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "crimegraph/error.hpp"
#include "crimegraph/search/hyperband/hyperband.hpp"

using namespace crimegraph;

namespace {

// A deterministic score of (configuration, round) that creates ties now and then.
double score_of(const TrialSpec& s) {
  const auto h = std::hash<std::string>{}(describe(s.config) + "/" + std::to_string(s.end_epoch) + "/" + std::to_string(s.slot));
  return static_cast<double>(h % 17) / 17.0;
}

struct Run {
  std::map<std::int64_t, TrialSpec> trials;  // by id
};

// Runs a whole search with `workers` concurrent slots, finishing running trials in a random order.
Run run_search(const HyperbandOptions& o, std::uint64_t order_seed, int workers,
               const std::set<std::int64_t>& failing = {}) {
  HyperbandScheduler s(o, SearchSpace::original_study(), 42);
  std::mt19937_64 rng(order_seed);
  std::vector<TrialSpec> running;
  Run run;
  while (!s.finished()) {
    while (static_cast<int>(running.size()) < workers) {
      auto t = s.next();
      if (!t) break;
      running.push_back(*t);
    }
    EXPECT_FALSE(running.empty()) << "scheduler stalled";
    if (running.empty()) break;
    const auto i = rng() % running.size();
    const auto t = running[i];
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    TrialReport r;
    r.id = t.id;
    r.ok = !failing.count(t.id);
    r.best_score = r.last_score = score_of(t);
    r.checkpoint = "ckpt-" + std::to_string(t.id);
    s.report(r);
    run.trials[t.id] = t;
  }
  EXPECT_EQ(static_cast<std::int64_t>(run.trials.size()), s.planned());
  return run;
}

}  // namespace

TEST(Scheduler, PromotionsEqualSynchronousTopKWhateverTheOrder) {
  HyperbandOptions o;
  o.max_epochs = 9;
  o.factor = 3;
  o.iterations = 2;
  // The synchronous reference: each round's members are the top k of the previous round.
  const auto reference = run_search(o, 1, 1);
  for (const auto& [id, t] : reference.trials) {
    if (t.round == 0) continue;
    // Recompute the parent round's ranking independently.
    std::vector<const TrialSpec*> parents;
    for (const auto& [pid, p] : reference.trials) {
      if (p.iteration == t.iteration && p.bracket == t.bracket && p.round == t.round - 1) parents.push_back(&p);
    }
    std::sort(parents.begin(), parents.end(), [](auto a, auto b) {
      const double sa = score_of(*a), sb = score_of(*b);
      return sa != sb ? sa > sb : a->slot < b->slot;
    });
    std::size_t k = 0;
    for (const auto& [cid, c] : reference.trials) k += c.iteration == t.iteration && c.bracket == t.bracket && c.round == t.round;
    bool found = false;
    for (std::size_t i = 0; i < k; ++i) found |= parents[i]->id == t.parent_id;
    EXPECT_TRUE(found) << "trial " << id << " continues a parent outside the top " << k;
  }
  for (std::uint64_t seed = 2; seed < 40; ++seed) {
    for (int workers : {1, 3, 8, 64}) {
      const auto run = run_search(o, seed, workers);
      ASSERT_EQ(run.trials.size(), reference.trials.size());
      for (const auto& [id, t] : reference.trials) {
        ASSERT_TRUE(run.trials.count(id)) << "trial " << id << " missing (seed " << seed << ", " << workers << " workers)";
        const auto& u = run.trials.at(id);
        EXPECT_EQ(u.parent_id, t.parent_id);
        EXPECT_EQ(u.config, t.config);
        EXPECT_EQ(u.start_epoch, t.start_epoch);
      }
    }
  }
}

TEST(Scheduler, PromotedTrialsResumeFromTheParent) {
  HyperbandOptions o;  // keras 25 / 2
  HyperbandScheduler s(o, SearchSpace::original_study(), 7);
  std::vector<TrialSpec> first;
  while (auto t = s.next()) first.push_back(*t);
  ASSERT_EQ(first.size(), 20u + 12 + 8 + 6 + 6);  // every first round is runnable at once (pipelined brackets)
  for (const auto& t : first) {
    EXPECT_EQ(t.round, 0);
    EXPECT_EQ(t.start_epoch, 0);
    EXPECT_TRUE(t.parent_checkpoint.empty());
  }
  // Finish the most aggressive bracket's first round: slot i scores i / 20.
  for (const auto& t : first) {
    if (t.bracket != 4) continue;
    s.report({t.id, true, t.slot / 20.0, t.slot / 20.0, "state-of-" + std::to_string(t.id)});
  }
  std::vector<TrialSpec> promoted;
  while (auto t = s.next()) promoted.push_back(*t);
  ASSERT_EQ(promoted.size(), 10u);
  for (const auto& t : promoted) {
    EXPECT_EQ(t.round, 1);
    EXPECT_EQ(t.start_epoch, 2);
    EXPECT_EQ(t.end_epoch, 4);
    EXPECT_GE(t.slot, 10);  // the ten best
    EXPECT_EQ(t.parent_checkpoint, "state-of-" + std::to_string(t.parent_id));
    EXPECT_EQ(t.config, first[static_cast<std::size_t>(t.slot)].config);
    EXPECT_EQ(t.id, 20 + t.slot);
  }
}

TEST(Scheduler, PromotesAsSoonAsCertain) {
  HyperbandOptions o;
  o.max_epochs = 9;
  o.factor = 3;  // most aggressive bracket: 9 -> 3 -> 1
  HyperbandScheduler s(o, SearchSpace::original_study(), 1);
  std::vector<TrialSpec> r0;
  while (auto t = s.next()) {
    if (t->bracket == 2) r0.push_back(*t);
  }
  ASSERT_EQ(r0.size(), 9u);
  // Seven finish; the best three are certain once at most 3 - 1 - ... cannot be overtaken:
  // with 2 unfinished, only the top 1 finished trial is certain (rank 0 + 2 < 3).
  for (int i = 0; i < 7; ++i) s.report({r0[i].id, true, 0.1 * i, 0.1 * i, "c"});
  auto t = s.next();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->round, 1);
  EXPECT_EQ(t->parent_id, r0[6].id);
  EXPECT_FALSE(s.next().has_value());
  s.report({r0[7].id, true, 0.0, 0.0, "c"});  // 1 unfinished: the top 2 are certain
  t = s.next();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->parent_id, r0[5].id);
  EXPECT_FALSE(s.next().has_value());
}

TEST(Scheduler, FailedTrialsRankLast) {
  HyperbandOptions o;
  o.max_epochs = 9;
  o.factor = 3;
  HyperbandScheduler s(o, SearchSpace::original_study(), 1);
  std::vector<TrialSpec> r0;
  while (auto t = s.next()) {
    if (t->bracket == 2) r0.push_back(*t);
  }
  for (std::size_t i = 0; i < r0.size(); ++i) {
    // The highest "scores" belong to failed trials: they must not be promoted.
    const bool ok = i < 6;
    s.report({r0[i].id, ok, ok ? 0.1 * i : 0.99, ok ? 0.1 * i : 0.99, "c"});
  }
  EXPECT_EQ(s.failed(), 3);
  std::set<std::int64_t> parents;
  while (auto t = s.next()) parents.insert(t->parent_id);
  EXPECT_EQ(parents, (std::set<std::int64_t>{r0[5].id, r0[4].id, r0[3].id}));
}

TEST(Scheduler, DeterministicForASeedAndRejectsBadReports) {
  HyperbandOptions o;
  HyperbandScheduler a(o, SearchSpace::original_study(), 5), b(o, SearchSpace::original_study(), 5),
      c(o, SearchSpace::original_study(), 6);
  const auto ta = a.next(), tb = b.next(), tc = c.next();
  EXPECT_EQ(ta->config, tb->config);
  EXPECT_EQ(ta->seed, tb->seed);
  EXPECT_NE(ta->config, tc->config);
  a.report({ta->id, true, 0.5, 0.5, ""});
  EXPECT_THROW(a.report({ta->id, true, 0.5, 0.5, ""}), Error);
  EXPECT_THROW(a.report({99999, true, 0.5, 0.5, ""}), Error);
  EXPECT_THROW(a.report({ta->id + 1, true, 0.5, 0.5, ""}), Error);  // not dispatched yet
}

TEST(Scheduler, RankingByLastEpoch) {
  HyperbandOptions o;
  o.max_epochs = 3;
  o.factor = 3;  // bracket 1: 3 trials of 1 epoch -> 1 of 3
  HyperbandScheduler s(o, SearchSpace::original_study(), 1, Ranking::LastEpoch);
  std::vector<TrialSpec> r0;
  while (auto t = s.next()) {
    if (t->bracket == 1) r0.push_back(*t);
  }
  ASSERT_EQ(r0.size(), 3u);
  s.report({r0[0].id, true, 0.9, 0.1, ""});
  s.report({r0[1].id, true, 0.5, 0.5, ""});
  s.report({r0[2].id, true, 0.4, 0.4, ""});
  const auto t = s.next();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->parent_id, r0[1].id);
}
