#pragma once
// Hyperband as a plain, deterministic state machine: "give me work" (next) and "here is a
// result" (report). It knows nothing of MPI or Torch, so every transport reuses it and the
// tests drive it directly.
//
// Promotion chooses exactly the set synchronous successive halving would (the top k of the
// finished round, ties broken by slot), but starts a promotion as soon as it is certain: when
// fewer than k trials of the round can still end up ranked above it. Brackets run pipelined:
// next() offers any runnable trial of any bracket.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crimegraph/search/plan.hpp"
#include "crimegraph/search/space.hpp"

namespace crimegraph {

enum class Ranking {
  BestEpoch,  ///< a trial scores its best validation hit rate over the epochs it trained
  LastEpoch,  ///< a trial scores the validation hit rate of its last epoch
};
const char* ranking_name(Ranking ranking);
Ranking parse_ranking(const std::string& text);

struct TrialSpec {
  std::int64_t id = 0;          ///< stable: bracket base + round x first-round size + slot
  std::int64_t parent_id = -1;  ///< the trial this one continues, -1 in a first round
  std::int64_t config_id = 0;   ///< dense index of the configuration in the search
  std::int32_t iteration = 0, bracket = 0, round = 0, slot = 0;
  std::int32_t start_epoch = 0;  ///< epochs already trained (the parent's)
  std::int32_t end_epoch = 0;    ///< epochs trained by the end of this trial
  std::uint64_t seed = 0;        ///< seed of the configuration's weights and batch order
  Configuration config;
  std::string parent_checkpoint;  ///< the parent's training state; empty in a first round
};

struct TrialReport {
  std::int64_t id = 0;
  bool ok = true;           ///< false for failed or diverged trials: they rank last
  double best_score = 0.0;  ///< best validation hit rate over this trial's epochs
  double last_score = 0.0;  ///< validation hit rate of its last epoch
  std::string checkpoint;   ///< training state at end_epoch, kept while a promotion may need it
};

class HyperbandScheduler {
 public:
  HyperbandScheduler(const HyperbandOptions& options, SearchSpace space, std::uint64_t seed,
                     Ranking ranking = Ranking::BestEpoch);

  /// A runnable trial, or nothing if every runnable trial is out (more may follow results).
  std::optional<TrialSpec> next();
  /// Records a finished trial; throws Error for an unknown id or a second report.
  void report(const TrialReport& report);

  bool finished() const { return completed_ == planned_; }
  std::int64_t planned() const { return planned_; }
  std::int64_t dispatched() const { return dispatched_; }
  std::int64_t completed() const { return completed_; }
  std::int64_t running() const { return dispatched_ - completed_; }
  std::int64_t failed() const { return failed_; }
  /// Epochs of all trials completed so far / planned.
  std::int64_t epochs_completed() const { return epochs_completed_; }
  std::int64_t epochs_planned() const { return epochs_planned_; }
  const std::vector<BracketPlan>& plan() const { return plan_; }
  Ranking ranking() const { return ranking_; }

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
    std::vector<std::size_t> ready;  // indices into members, in promotion order
    std::size_t next_ready = 0;
  };
  struct Bracket {
    BracketPlan plan;
    std::int64_t id_base = 0, config_base = 0;
    std::int32_t first_size = 0;
    std::vector<Round> rounds;
  };

  bool better(const Member& a, const Member& b) const;
  void promote_certain(Bracket& bracket, std::size_t round);
  TrialSpec spec_for(const Bracket& bracket, std::size_t round, const Member& m) const;

  std::vector<BracketPlan> plan_;
  std::vector<Bracket> brackets_;
  std::vector<Configuration> configs_;  // by config id
  std::uint64_t seed_;
  Ranking ranking_;
  std::int64_t planned_ = 0, dispatched_ = 0, completed_ = 0, failed_ = 0;
  std::int64_t epochs_planned_ = 0, epochs_completed_ = 0;
};

}  // namespace crimegraph
