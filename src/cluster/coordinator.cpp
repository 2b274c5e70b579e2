#include "crimegraph/cluster/coordinator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <cmath>
#include <deque>
#include <map>

#include "crimegraph/cluster/mpi_transport.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"

namespace crimegraph {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<long>(std::lround(s));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total / 60 % 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

class MpiWorkerPool : public WorkerPool {
 public:
  MpiWorkerPool(MpiTransport& t, int workers, std::vector<int> training)
      : transport_(t), workers_(workers), training_(std::move(training)) {}
  int size() const override { return static_cast<int>(training_.size()); }
  std::vector<int> workers() const override { return training_; }
  void start(int worker, const TrialSpec& spec) override { transport_.send(worker, Tag::Work, encode(spec)); }
  void start_final(int worker, const TrialSpec& spec) override {
    transport_.send(worker, Tag::FinalWork, encode(spec));
  }
  std::optional<Event> wait(Clock::time_point deadline) override {
    const auto m = transport_.receive_until(deadline);
    if (!m) return std::nullopt;
    Event e;
    e.worker = m->source;
    switch (m->tag) {
      case Tag::Result: e.trial = decode_trial_outcome(m->payload); break;
      case Tag::FinalResult: e.final = decode_final_outcome(m->payload); break;
      case Tag::Fatal: throw Error("worker rank " + std::to_string(m->source) + " stopped: " + m->payload);
      default: throw MpiError(std::string("unexpected '") + tag_name(m->tag) + "' message from rank " + std::to_string(m->source));
    }
    return e;
  }
  std::vector<WorkerStats> shutdown() override {
    for (int w = 1; w <= workers_; ++w) transport_.send(w, Tag::Shutdown, "");
    std::vector<WorkerStats> stats;
    while (static_cast<int>(stats.size()) < workers_) {
      const auto m = transport_.receive();
      if (m.tag == Tag::Stats) stats.push_back(decode_worker_stats(m.payload));
      else if (m.tag == Tag::Fatal) spdlog::error("worker rank {} stopped: {}", m.source, m.payload);
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
  std::optional<Event> wait(Clock::time_point) override {
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

int search_exit_status(const SearchSummary& summary, std::string& why) {
  if (summary.completed > 0 && summary.best_trial < 0) {
    why = "every trial failed or diverged (the first: " + summary.first_failure +
          "); the results file records each one's reason";
    return kExitNoResult;
  }
  if (summary.final && summary.final->status != TrialStatus::Ok) {
    why = std::string("the final retraining ") + trial_status_name(summary.final->status) + ": " + summary.final->message;
    return kExitNoResult;
  }
  return 0;
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

SearchSummary run_search(const SearchSettings& settings, WorkerPool& pool) {
  const auto t0 = Clock::now();
  HyperbandScheduler scheduler(settings.hyperband, settings.space, settings.seed, settings.ranking);
  ResultsWriter results(settings.results_path, settings.metadata, settings.space,
                        settings.resume     ? ResultsOpen::Resume
                        : settings.overwrite ? ResultsOpen::Replace
                                             : ResultsOpen::Create);
  SearchSummary summary;
  summary.planned = scheduler.planned();
  summary.results_path = settings.results_path;

  TrialSpec best_spec;
  std::string best_checkpoint;  // of a replayed best, to write /best again after the replay
  // Everything a finished trial changes, whether it just finished or a resumed search found it
  // in the file (then it is already written, and logged by the run that ran it).
  // `times`: when a fresh trial was dispatched and when its result arrived, after t0.
  auto record = [&](const TrialSpec& spec, const TrialOutcome& outcome, bool fresh,
                    std::pair<double, double> times = {}) {
    // The NaN policy, here and in the scheduler: a trial without a finite score ranks last and
    // is never the best, whatever its status says.
    const double score = settings.ranking == Ranking::BestEpoch ? outcome.best_hit_rate() : outcome.last_hit_rate();
    const bool ok = outcome.status == TrialStatus::Ok && !outcome.epochs.empty() && std::isfinite(score);
    scheduler.report({spec.id, ok, score, outcome.last_hit_rate(), outcome.checkpoint});
    const bool best = ok && (summary.best_trial < 0 || score > summary.best_score ||
                             (score == summary.best_score && spec.id < summary.best_trial));
    if (fresh) {
      results.add_trial(spec, outcome, ok ? score : std::nan(""), times.first, times.second);
      // Kept for resuming: the states promotions may continue (a trial that reached max_epochs
      // never is), and the best trial's, which a resumed search writes to /best again.
      if (ok && (spec.end_epoch < settings.hyperband.max_epochs || best)) {
        results.add_checkpoint(spec.id, outcome.checkpoint);
      }
      if (!ok) {
        const std::string why = !outcome.message.empty()     ? outcome.message
                                : outcome.epochs.empty()     ? "no epoch finished"
                                : outcome.status == TrialStatus::Ok ? "its validation hit rate is not a number: ranked last"
                                                                    : "";
        if (summary.first_failure.empty()) {
          summary.first_failure = fmt::format("trial {} {}: {}", spec.id, trial_status_name(outcome.status), why);
        }
        spdlog::warn("trial {} {} on worker {}: {}", spec.id, trial_status_name(outcome.status), outcome.worker, why);
      }
    }
    if (best) {
      summary.best_trial = spec.id;
      summary.best_score = score;
      summary.best_config = spec.config;
      best_spec = spec;
      if (fresh) results.set_best(spec, score, outcome.checkpoint);
      else best_checkpoint = outcome.checkpoint;
    }
  };

  // A resumed search replays the file: the scheduler hands out its trials in its own order
  // (the same whatever the order results arrive in), recorded ones are reported at once, and
  // the others wait in `pending` to be dispatched first.
  std::deque<TrialSpec> pending;
  const auto& recorded = results.recorded();
  if (!recorded.empty()) {
    std::size_t replayed = 0;
    while (auto spec = scheduler.next()) {
      const auto it = recorded.find(spec->id);
      if (it == recorded.end()) {
        pending.push_back(std::move(*spec));
        continue;
      }
      const auto& r = it->second;
      if (r.parent_id != spec->parent_id || r.config_id != spec->config_id || r.start_epoch != spec->start_epoch ||
          r.end_epoch != spec->end_epoch) {
        throw DataError("cannot resume '" + results.partial_path() + "': its trial " + std::to_string(spec->id) +
                        " is not the one this search plans");
      }
      record(*spec, r.outcome, false);
      ++replayed;
    }
    if (replayed != recorded.size()) {
      throw DataError("cannot resume '" + results.partial_path() + "': " + std::to_string(recorded.size() - replayed) +
                      " of its trials are not in this search's plan");
    }
    for (const auto& spec : pending) {
      if (spec.parent_id >= 0 && spec.parent_checkpoint.empty()) {
        throw DataError("cannot resume '" + results.partial_path() + "': the checkpoint of trial " +
                        std::to_string(spec.parent_id) + " is missing from '" + results.checkpoints_path() + "'");
      }
    }
    summary.resumed = static_cast<std::int64_t>(replayed);
    // A crash while /best was being rewritten may have left it missing or stale.
    if (summary.best_trial >= 0 && !best_checkpoint.empty()) {
      results.set_best(best_spec, summary.best_score, best_checkpoint);
      results.flush();
    }
    spdlog::info("resuming: {} of {} trials were finished ({} epochs), {} failed", replayed, scheduler.planned(),
                 scheduler.epochs_completed(), scheduler.failed());
  }
  const std::int64_t epochs_before = scheduler.epochs_completed();
  spdlog::info("search: {} trials planned ({} epochs), {} worker(s), GLDNet kernel on {}, results in {}",
               scheduler.planned(), scheduler.epochs_planned(), pool.size(), describe_simd_target(""),
               results.partial_path());

  std::deque<int> idle;
  for (int w : pool.workers()) idle.push_back(w);
  std::map<int, TrialSpec> running;  // by worker, without checkpoints
  std::map<int, double> started;     // by worker: when its trial was dispatched, after t0
  double busy_seconds = 0.0;
  std::int64_t finished_here = 0;

  // Draining: no new trial starts, the running ones finish, then the search stops. The deadline
  // drains too, once a trial would not finish before it at the slowest epoch time seen so far.
  double slowest_epoch = 0.0;
  bool out_of_time = false;
  const auto draining = [&] {
    return out_of_time || (settings.drain_requested && settings.drain_requested->load());
  };
  const auto fits_before_deadline = [&](std::int32_t epochs) {
    if (!settings.deadline || slowest_epoch <= 0.0) return true;
    const auto needed = std::chrono::duration<double>(1.2 * slowest_epoch * epochs + 1.0);
    return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(needed) <=
           *settings.deadline;
  };
  auto dispatch = [&] {
    while (!idle.empty() && !draining()) {
      std::optional<TrialSpec> spec;
      if (!pending.empty()) {
        spec = std::move(pending.front());
        pending.pop_front();
      } else {
        spec = scheduler.next();
      }
      if (!spec) break;
      if (!fits_before_deadline(spec->end_epoch - spec->start_epoch)) {
        spdlog::warn("not starting trial {} ({} epochs): it would not finish before the deadline; the search "
                     "stops when the running trials have finished", spec->id, spec->end_epoch - spec->start_epoch);
        pending.push_front(std::move(*spec));  // kept: a resumed search plans it again
        out_of_time = true;
        break;
      }
      const int w = idle.front();
      idle.pop_front();
      pool.start(w, *spec);
      started[w] = seconds_since(t0);
      spec->parent_checkpoint.clear();
      running[w] = std::move(*spec);
    }
  };
  auto progress = [&] {
    const double elapsed = seconds_since(t0);
    const double rate = (scheduler.epochs_completed() - epochs_before) / std::max(elapsed, 1e-9);
    const double eta = (scheduler.epochs_planned() - scheduler.epochs_completed()) / std::max(rate, 1e-12);
    std::string best = summary.best_trial < 0 ? "none yet"
                                              : fmt::format("{:.4f} (trial {}: {})", summary.best_score,
                                                            summary.best_trial, describe(summary.best_config));
    spdlog::info("progress: {}/{} trials done, {} running, {} failed | best val hit rate {} | {:.2f} epochs/s | ETA {}",
                 scheduler.completed(), scheduler.planned(), scheduler.running(), scheduler.failed(), best, rate,
                 duration_text(eta));
  };

  // Finished trials reach the file at once when they are seconds apart (real training); when
  // they arrive faster, they are written in batches at most kFlushInterval later.
  constexpr auto kFlushInterval = std::chrono::milliseconds(250);
  auto last_flush = Clock::now();
  auto flush_if_due = [&](bool force) {
    if (results.queued() > 0 && (force || Clock::now() - last_flush >= kFlushInterval)) {
      results.flush();
      last_flush = Clock::now();
    }
  };

  dispatch();
  auto next_progress = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(settings.progress_seconds));
  while (!scheduler.finished()) {
    if (settings.stop_requested && settings.stop_requested->load()) {
      flush_if_due(true);
      std::vector<std::int64_t> unfinished;
      for (const auto& [worker, spec] : running) unfinished.push_back(spec.id);
      spdlog::warn("stopping on request with {} of {} trials finished; the search resumes from {}{}",
                   scheduler.completed(), scheduler.planned(), results.partial_path(),
                   unfinished.empty() ? std::string()
                                      : fmt::format(", where the unfinished trials {} run again",
                                                    fmt::join(unfinished, ", ")));
      summary.stop = SearchSummary::Stop::OnRequest;
      break;
    }
    if (running.empty() && draining()) {
      flush_if_due(true);
      spdlog::warn("stopped {} with {} of {} trials finished and none running; the search resumes from {}",
                   out_of_time ? "before the deadline" : "on the time-limit signal", scheduler.completed(),
                   scheduler.planned(), results.partial_path());
      summary.stop = SearchSummary::Stop::Drained;
      break;
    }
    if (running.empty()) throw Error("internal error: the scheduler has work left but offers none");
    auto deadline = results.queued() > 0 ? std::min(next_progress, last_flush + kFlushInterval) : next_progress;
    if (settings.stop_requested || settings.drain_requested) deadline = std::min(deadline, Clock::now() + kFlushInterval);
    auto event = pool.wait(deadline);
    flush_if_due(false);
    if (Clock::now() >= next_progress) {
      progress();
      next_progress = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(settings.progress_seconds));
    }
    if (!event) continue;
    if (!event->trial) throw Error("unexpected final result during the search");
    auto outcome = std::move(*event->trial);
    const auto it = running.find(event->worker);
    if (it == running.end() || it->second.id != outcome.id) {
      throw Error("worker " + std::to_string(event->worker) + " reported trial " + std::to_string(outcome.id) +
                  " it was not running");
    }
    const TrialSpec spec = std::move(it->second);
    running.erase(it);
    idle.push_back(event->worker);
    outcome.worker = event->worker;
    busy_seconds += outcome.wall_seconds;
    for (const auto& e : outcome.epochs) slowest_epoch = std::max(slowest_epoch, e.train_seconds + e.eval_seconds);
    record(spec, outcome, true, {started[event->worker], seconds_since(t0)});
    if (++finished_here == settings.stop_after_trials) {
      flush_if_due(true);
      spdlog::warn("stopping after {} trials as asked; the search resumes from {}", finished_here,
                   results.partial_path());
      summary.stop = SearchSummary::Stop::AfterTrials;
      break;
    }
    dispatch();
    flush_if_due(false);
  }
  flush_if_due(true);
  summary.wall_seconds = seconds_since(t0);
  summary.completed = scheduler.completed();
  summary.failed = scheduler.failed();
  if (summary.stopped()) {
    if (summary.stop != SearchSummary::Stop::OnRequest) summary.workers = pool.shutdown();
    return summary;
  }
  summary.utilisation = busy_seconds / (pool.size() * std::max(summary.wall_seconds, 1e-9));
  summary.trials_per_second = (summary.completed - summary.resumed) / std::max(summary.wall_seconds, 1e-9);
  progress();
  spdlog::info("search finished in {}: {} trials, {} failed, worker utilisation {:.1f}%",
               duration_text(summary.wall_seconds), summary.completed, summary.failed, 100.0 * summary.utilisation);

  if (settings.final_epochs > 0 && summary.best_trial >= 0 &&
      (draining() || !fits_before_deadline(settings.final_epochs))) {
    spdlog::warn("not starting the final retraining ({} epochs) before the {}; resuming runs only that",
                 settings.final_epochs, draining() ? "time limit" : "deadline");
    summary.stop = SearchSummary::Stop::Drained;
    summary.workers = pool.shutdown();
    return summary;
  }
  if (settings.final_epochs > 0 && summary.best_trial >= 0) {
    TrialSpec final_spec = best_spec;
    final_spec.parent_id = -1;
    final_spec.start_epoch = 0;
    final_spec.end_epoch = settings.final_epochs;
    spdlog::info("retraining the best configuration (trial {}) from scratch for {} epochs", summary.best_trial,
                 settings.final_epochs);
    pool.start_final(pool.workers().front(), final_spec);
    std::optional<WorkerPool::Event> event;
    while (!(event = pool.wait(Clock::now() + kFlushInterval))) {
      if (settings.stop_requested && settings.stop_requested->load()) {
        spdlog::warn("stopping on request during the final retraining; resuming reruns only that");
        summary.stop = SearchSummary::Stop::OnRequest;
        return summary;
      }
    }
    if (!event->final) throw Error("unexpected trial result while waiting for the final retraining");
    summary.final = *event->final;
    results.set_final(*summary.final, best_spec.config);
  }
  summary.workers = pool.shutdown();
  results.finish(summary.wall_seconds, summary.utilisation);
  return summary;
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
    if (m.tag == Tag::Work) {
      const auto spec = decode_trial_spec(m.payload);
      spdlog::debug("trial {}: {} epochs {}..{}", spec.id, describe(spec.config), spec.start_epoch, spec.end_epoch);
      if (spec.id == die_at) std::raise(SIGKILL);
      auto outcome = objective.run(spec);
      outcome.worker = rank;
      // A failure is logged once, by the coordinator, which also records it.
      transport.send(0, Tag::Result, encode(outcome));
      ++stats.trials;
    } else if (m.tag == Tag::FinalWork) {
      const auto spec = decode_trial_spec(m.payload);
      spdlog::info("final retraining: {} for {} epochs", describe(spec.config), spec.end_epoch);
      transport.send(0, Tag::FinalResult, encode(objective.run_final(spec)));
    } else if (m.tag == Tag::Shutdown) {
      stats.waiting_seconds = transport.waiting_seconds();
      stats.waiting_cpu_seconds = transport.waiting_cpu_seconds();
      transport.send(0, Tag::Stats, encode(stats));
      return;
    } else {
      throw MpiError(std::string("worker got an unexpected '") + tag_name(m.tag) + "' message");
    }
    stats.busy_seconds += seconds_since(t0);
  }
}

}  // namespace crimegraph
