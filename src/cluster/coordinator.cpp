#include "crimegraph/cluster/coordinator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <deque>

#include "crimegraph/cluster/messages.hpp"
#include "crimegraph/cluster/mpi_transport.hpp"
#include "crimegraph/error.hpp"

namespace crimegraph {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

class MpiWorkerPool : public WorkerPool {
 public:
  MpiWorkerPool(MpiTransport& t, int workers, std::vector<int> training)
      : transport_(t), workers_(workers), training_(std::move(training)) {}
  int size() const override { return static_cast<int>(training_.size()); }
  std::vector<int> workers() const override { return training_; }
  void start(int worker, const TrialSpec& spec) override { transport_.send(worker, tag_number(Tag::Work), encode(spec)); }
  void start_final(int worker, const TrialSpec& spec) override {
    transport_.send(worker, tag_number(Tag::FinalWork), encode(spec));
  }
  std::optional<Event> wait(double seconds) override {
    const auto m = transport_.receive_until(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                               std::chrono::duration<double>(seconds)));
    if (!m) return std::nullopt;
    Event e;
    e.worker = m->source;
    switch (tag_of(m->tag)) {
      case Tag::Result: e.trial = decode_trial_outcome(m->payload); break;
      case Tag::FinalResult: e.final = decode_final_outcome(m->payload); break;
      case Tag::Fatal: throw Error("worker rank " + std::to_string(m->source) + " stopped: " + m->payload);
      default: throw MpiError(std::string("unexpected '") + tag_name(tag_of(m->tag)) + "' message from rank " + std::to_string(m->source));
    }
    return e;
  }
  std::vector<WorkerStats> shutdown() override {
    for (int w = 1; w <= workers_; ++w) transport_.send(w, tag_number(Tag::Shutdown), "");
    std::vector<WorkerStats> stats;
    while (static_cast<int>(stats.size()) < workers_) {
      const auto m = transport_.receive();
      if (tag_of(m.tag) == Tag::Stats) stats.push_back(decode_worker_stats(m.payload));
      else if (tag_of(m.tag) == Tag::Fatal) spdlog::error("worker rank {} stopped: {}", m.source, m.payload);
    }
    return stats;
  }

 private:
  MpiTransport& transport_;
  int workers_;
  std::vector<int> training_;
};

class InProcessPool : public WorkerPool {
 public:
  explicit InProcessPool(Objective& o) : objective_(o) {}
  int size() const override { return 1; }
  std::vector<int> workers() const override { return {1}; }
  void start(int, const TrialSpec& spec) override { queue_.push_back({spec, false}); }
  void start_final(int, const TrialSpec& spec) override { queue_.push_back({spec, true}); }
  std::optional<Event> wait(double) override {
    if (queue_.empty()) return std::nullopt;
    auto [spec, final] = std::move(queue_.front());
    queue_.pop_front();
    const auto t0 = Clock::now();
    Event e;
    e.worker = 1;
    if (final) {
      e.final = objective_.run_final(spec);
    } else {
      e.trial = objective_.run(spec);
      ++stats_.trials;
    }
    stats_.busy_seconds += seconds_since(t0);
    return e;
  }
  std::vector<WorkerStats> shutdown() override {
    stats_.worker = 1;
    return {stats_};
  }

 private:
  Objective& objective_;
  std::deque<std::pair<TrialSpec, bool>> queue_;
  WorkerStats stats_;
};

}  // namespace

std::unique_ptr<WorkerPool> make_mpi_worker_pool(MpiTransport& transport, int workers) {
  std::vector<int> all(static_cast<std::size_t>(workers));
  for (int w = 1; w <= workers; ++w) all[static_cast<std::size_t>(w - 1)] = w;
  return std::make_unique<MpiWorkerPool>(transport, workers, std::move(all));
}

std::unique_ptr<WorkerPool> make_mpi_worker_pool(MpiTransport& transport, int workers, std::vector<int> training) {
  if (training.empty()) throw Error("internal error: no worker is given trials");
  return std::make_unique<MpiWorkerPool>(transport, workers, std::move(training));
}

std::unique_ptr<WorkerPool> make_in_process_pool(Objective& objective) {
  return std::make_unique<InProcessPool>(objective);
}

int training_workers(const std::string& setting, int node_workers, int node_cores, int threads) {
  if (setting == "all") return node_workers;
  if (setting == "auto") return std::clamp(node_cores / std::max(1, threads), 1, std::max(1, node_workers));
  std::size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(setting, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != setting.size() || n < 1) {
    throw ConfigError("--workers-per-node must be auto, all or a positive number, not '" + setting + "'");
  }
  return std::min(n, std::max(1, node_workers));
}

// For tests: the trial whose worker dies as the out-of-memory killer would end it (SIGKILL),
// from CRIMEGRAPH_TEST_KILL_AT_TRIAL; -1 when unset.
std::int64_t trial_to_die_at() {
  const char* text = std::getenv("CRIMEGRAPH_TEST_KILL_AT_TRIAL");
  return text ? std::atoll(text) : -1;
}

void run_worker(MpiTransport& transport, int rank, Objective& objective) {
  WorkerStats stats;
  stats.worker = rank;
  const auto die_at = trial_to_die_at();
  for (;;) {
    const auto m = transport.receive(0);
    const auto t0 = Clock::now();
    if (tag_of(m.tag) == Tag::Work) {
      const auto spec = decode_trial_spec(m.payload);
      spdlog::debug("trial {}: {} epochs {}..{}", spec.id, describe(spec.config), spec.start_epoch, spec.end_epoch);
      if (spec.id == die_at) std::raise(SIGKILL);
      auto outcome = objective.run(spec);
      outcome.worker = rank;
      // A failure is logged once, by the coordinator, which also records it.
      transport.send(0, tag_number(Tag::Result), encode(outcome));
      ++stats.trials;
    } else if (tag_of(m.tag) == Tag::FinalWork) {
      const auto spec = decode_trial_spec(m.payload);
      spdlog::info("final retraining: {} for {} epochs", describe(spec.config), spec.end_epoch);
      transport.send(0, tag_number(Tag::FinalResult), encode(objective.run_final(spec)));
    } else if (tag_of(m.tag) == Tag::Shutdown) {
      stats.waiting_seconds = transport.waiting_seconds();
      stats.waiting_cpu_seconds = transport.waiting_cpu_seconds();
      transport.send(0, tag_number(Tag::Stats), encode(stats));
      return;
    } else {
      throw MpiError(std::string("worker got an unexpected '") + tag_name(tag_of(m.tag)) + "' message");
    }
    stats.busy_seconds += seconds_since(t0);
  }
}

}  // namespace crimegraph
