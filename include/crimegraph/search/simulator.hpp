#pragma once
// Virtual workers in simulated time: the real schedulers and search loop run against them
// without MPI or training, so a 10,000-worker search can be tried on a workstation.
//
// A trial takes epochs x seconds-per-epoch of its configuration, times log-normal noise, and a
// straggler now and then takes several times longer. Its validation hit rates follow its
// configuration's learning curve. Both models are synthetic (a smooth cost and quality
// landscape over the search space), or fitted from a real results file: seconds per epoch by
// a log-linear fit on the hyperparameters, curves from the recorded configuration nearest to
// the one asked for. Everything is a function of the seed and the trial, not of the order
// events happen in, so a simulation is deterministic.
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "crimegraph/search/search_loop.hpp"

namespace crimegraph {

struct SimulationOptions {
  int workers = 64;
  std::uint64_t seed = 1;
  double epoch_seconds = 10.0;     ///< synthetic: seconds per epoch of a middling configuration
  double cost_spread = 1.5;        ///< synthetic: how much epoch times vary over the space (0: not at all)
  double noise = 0.1;              ///< sigma of a trial's log-normal duration noise
  double straggler_rate = 0.02;    ///< share of trials that straggle
  double straggler_factor = 4.0;   ///< how much longer a straggler takes
  double score_noise = 0.005;      ///< sd of an epoch's validation hit rate around its curve
  std::size_t checkpoint_bytes = 0;  ///< size of each trial's simulated training state
  std::string fit_from;            ///< a results file to fit both models from ("": synthetic)
};

/// How long trials take and what they score.
class TrialModel {
 public:
  TrialModel(const SimulationOptions& options, const SearchSpace& space);
  ~TrialModel();
  TrialModel(TrialModel&&) noexcept;
  TrialModel& operator=(TrialModel&&) noexcept;
  /// Seconds one epoch of `config` takes, without noise.
  double epoch_seconds(const Configuration& config) const;
  /// The validation hit rate of `config` after `epoch` epochs, without noise.
  double curve(const Configuration& config, std::int32_t epoch) const;
  /// The same for epochs first..last.
  std::vector<double> curve(const Configuration& config, std::int32_t first, std::int32_t last) const;
  /// The whole trial as a worker would report it, deterministic in (seed, spec).
  TrialOutcome run(const TrialSpec& spec) const;
  std::string describe() const;
  /// A promotion was given its parent's state (always true without simulated states).
  bool continues(const TrialSpec& spec) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class SimulatedClock : public SearchClock {
 public:
  double now() const override { return now_; }
  void advance_to(double t) { now_ = t > now_ ? t : now_; }

 private:
  double now_ = 0.0;
};

/// `workers` virtual workers numbered from 1; a trial's result arrives when its simulated
/// duration has passed on the clock.
class SimulatedPool : public WorkerPool {
 public:
  SimulatedPool(int workers, const TrialModel& model, SimulatedClock& clock);
  int size() const override { return workers_; }
  std::vector<int> workers() const override;
  void start(int worker, const TrialSpec& spec) override;
  void start_final(int worker, const TrialSpec& spec) override;
  std::optional<Event> wait(double seconds) override;
  std::vector<WorkerStats> shutdown() override;

  /// (time, best validation hit rate so far) at every improvement.
  const std::vector<std::pair<double, double>>& best_over_time() const { return best_over_time_; }

 private:
  struct Finish {
    double time = 0.0;
    int worker = 0;
    bool operator>(const Finish& o) const { return time != o.time ? time > o.time : worker > o.worker; }
  };
  int workers_;
  const TrialModel& model_;
  SimulatedClock& clock_;
  std::priority_queue<Finish, std::vector<Finish>, std::greater<Finish>> finishing_;
  std::vector<std::optional<Event>> in_flight_;  // by worker
  std::vector<WorkerStats> stats_;
  std::vector<std::pair<double, double>> best_over_time_;
};

/// A scheduler that counts the wall time its calls take: the coordinator's cost per decision.
class TimedScheduler : public Scheduler {
 public:
  explicit TimedScheduler(Scheduler& inner) : inner_(inner) { counts_ = inner.counts(); }
  std::optional<TrialSpec> next() override;
  void report(const TrialReport& report) override;
  bool finished() const override { return inner_.finished(); }
  std::int32_t max_epochs() const override { return inner_.max_epochs(); }
  std::string describe() const override { return inner_.describe(); }
  std::int64_t calls() const { return calls_; }
  double seconds() const { return seconds_; }

 private:
  Scheduler& inner_;
  std::int64_t calls_ = 0;
  double seconds_ = 0.0;
};

struct SimulationSummary {
  SearchSummary search;
  double makespan_seconds = 0.0;  ///< simulated
  double wall_seconds = 0.0;      ///< real time the simulation took
  double decision_microseconds = 0.0;  ///< scheduler time per next() or report() call
  double loop_microseconds_per_trial = 0.0;  ///< real time per trial, simulation included
  std::vector<std::pair<double, double>> best_over_time;
  std::size_t peak_rss_bytes = 0;
};

/// Runs the search `settings` describe (results written as a real search's) against simulated workers.
SimulationSummary simulate_search(const SearchSettings& settings, const SimulationOptions& options);

}  // namespace crimegraph
