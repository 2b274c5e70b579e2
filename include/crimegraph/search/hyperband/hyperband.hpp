#pragma once
// Hyperband (Keras Tuner's arithmetic or the paper's, see plan.hpp) behind the Scheduler
// interface: exact and deterministic, with brackets run pipelined.
//
// Promotion chooses exactly the set synchronous successive halving would (the top k of the
// finished round, ties broken by slot), but starts a promotion as soon as it is certain: when
// fewer than k trials of the round can still end up ranked above it. next() offers any
// runnable trial of any bracket, the earliest bracket first and in it the deepest round.
//
// Trial ids are stable: bracket base + round x first-round size + slot.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crimegraph/search/hyperband/plan.hpp"
#include "crimegraph/search/sampler.hpp"
#include "crimegraph/search/scheduler.hpp"

namespace crimegraph {

class HyperbandScheduler : public Scheduler {
 public:
  HyperbandScheduler(const HyperbandOptions& options, SearchSpace space, std::uint64_t seed,
                     Ranking ranking = Ranking::BestEpoch);

  std::optional<TrialSpec> next() override;
  void report(const TrialReport& report) override;
  bool finished() const override { return counts_.completed == counts_.planned; }
  std::int32_t max_epochs() const override { return options_.max_epochs; }
  std::string describe() const override { return describe_plan(plan_, options_); }

  std::int64_t planned() const { return counts_.planned; }
  std::int64_t dispatched() const { return counts_.dispatched; }
  std::int64_t completed() const { return counts_.completed; }
  std::int64_t running() const { return counts_.running(); }
  std::int64_t failed() const { return counts_.failed; }
  std::int64_t epochs_completed() const { return counts_.epochs_completed; }
  std::int64_t epochs_planned() const { return counts_.epochs_planned; }
  const std::vector<BracketPlan>& plan() const { return plan_; }
  Ranking ranking() const { return ranking_; }
  const ConfigurationSampler& sampler() const { return sampler_; }

 private:
  struct Member {
    std::int32_t slot = 0;
    std::int64_t parent_id = -1;
    enum class State { Ready, Running, Done } state = State::Ready;
    bool ok = false;
    double score = 0.0;
    bool promoted = false;
    std::string checkpoint;
    std::string parent_checkpoint;
  };
  struct Round {
    std::int32_t size = 0, epochs = 0, done = 0;
    std::vector<Member> members;
    std::vector<std::int32_t> member_of_slot;  // index into members, -1 while the slot has none
    std::vector<std::size_t> ready;            // indices into members, in promotion order
    std::size_t next_ready = 0;
    bool has_ready() const { return next_ready < ready.size(); }
  };
  struct Bracket {
    BracketPlan plan;
    std::int64_t id_base = 0, config_base = 0;
    std::int32_t first_size = 0;
    std::vector<Round> rounds;
  };

  bool better(const Member& a, const Member& b) const;
  void promote_certain(std::size_t bracket, std::size_t round);
  TrialSpec spec_for(const Bracket& bracket, std::size_t round, const Member& m) const;

  HyperbandOptions options_;
  std::vector<BracketPlan> plan_;
  std::vector<Bracket> brackets_;
  std::set<std::size_t> with_ready_;    // brackets that have a trial to hand out
  std::vector<Configuration> configs_;  // by config id
  ConfigurationSampler sampler_;
  std::uint64_t seed_;
  Ranking ranking_;
};

}  // namespace crimegraph
