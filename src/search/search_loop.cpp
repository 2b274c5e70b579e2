#include "crimegraph/search/search_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "crimegraph/error.hpp"
#include "crimegraph/search/hyperband/hyperband.hpp"

namespace crimegraph {

double SteadyClock::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

const char* algorithm_name(Algorithm algorithm) { return algorithm == Algorithm::Asha ? "asha" : "hyperband"; }

Algorithm parse_algorithm(const std::string& text) {
  if (text == "hyperband") return Algorithm::Hyperband;
  if (text == "asha") return Algorithm::Asha;
  throw ConfigError("unknown algorithm '" + text + "' (use hyperband or asha)");
}

std::unique_ptr<Scheduler> make_scheduler(const SearchSettings& s) {
  if (s.algorithm == Algorithm::Asha) {
    s.asha.validate(s.time_limit_seconds > 0);
    return std::make_unique<AshaScheduler>(s.asha, s.space, s.seed, s.ranking);
  }
  return std::make_unique<HyperbandScheduler>(s.hyperband, s.space, s.seed, s.ranking);
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

namespace {

std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<long>(std::lround(s));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total / 60 % 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

ResultsOpen open_mode(const SearchSettings& s) {
  return s.resume ? ResultsOpen::Resume : s.overwrite ? ResultsOpen::Replace : ResultsOpen::Create;
}

}  // namespace

SearchLoop::SearchLoop(const SearchSettings& settings, Scheduler& scheduler, WorkerPool& pool, const SearchClock& clock)
    : settings_(settings),
      scheduler_(scheduler),
      pool_(pool),
      clock_(clock),
      results_(settings.results_path, settings.metadata, settings.space, open_mode(settings)),
      t0_(clock.now()) {
  if (settings.deadline) {
    const auto left = std::chrono::duration<double>(*settings.deadline - std::chrono::system_clock::now()).count();
    deadline_ = t0_ + left;
  }
  summary_.results_path = settings.results_path;
}

// Everything a finished trial changes, whether it just finished (`fresh`: when and in which
// order it ran) or a resumed search found it in the file (already written, and logged by the
// run that ran it). Checkpoints stay with the results file, not in the scheduler: the loop
// reads a parent's back when it dispatches the promotion, so memory does not grow with trials.
void SearchLoop::record(const TrialSpec& spec, const TrialOutcome& outcome, const TrialTiming* fresh) {
  const double score = outcome.score(settings_.ranking);
  const bool ok = outcome.scored(settings_.ranking);  // the NaN policy: see TrialOutcome::score
  scheduler_.report({spec.id, ok, score, outcome.last_hit_rate(), ""});
  auto& s = summary_;
  const bool best = ok && (s.best_trial < 0 || score > s.best_score || (score == s.best_score && spec.id < s.best_trial));
  if (fresh) {
    results_.add_trial(spec, outcome, ok ? score : std::nan(""), *fresh);
    // Kept: the states promotions may continue (a trial that reached max_epochs never is),
    // and the best trial's, which a resumed search writes to /best again.
    if (ok && (spec.end_epoch < scheduler_.max_epochs() || best)) results_.add_checkpoint(spec.id, outcome.checkpoint);
    if (!ok) {
      const std::string why = !outcome.message.empty()             ? outcome.message
                              : outcome.epochs.empty()             ? "no epoch finished"
                              : outcome.status == TrialStatus::Ok ? "its validation hit rate is not a number: ranked last"
                                                                   : "";
      if (s.first_failure.empty()) {
        s.first_failure = fmt::format("trial {} {}: {}", spec.id, trial_status_name(outcome.status), why);
      }
      spdlog::warn("trial {} {} on worker {}: {}", spec.id, trial_status_name(outcome.status), outcome.worker, why);
    }
  }
  if (best) {
    s.best_trial = spec.id;
    s.best_score = score;
    s.best_config = spec.config;
    best_spec_ = spec;
    best_spec_.parent_checkpoint.clear();
    if (fresh) results_.set_best(spec, score, outcome.checkpoint);
  }
}

// A resumed search replays the scheduler's calls in the order the file records them: before
// each result, the scheduler hands out as many trials as it had then, so it makes the same
// decisions whatever they depend on (ASHA's depend on the order results arrived in). Trials
// it hands out that never finished wait in pending_ to run first.
void SearchLoop::replay() {
  const auto& recorded = results_.recorded();
  if (recorded.empty()) return;
  std::vector<const RecordedTrial*> rows;
  for (const auto& [id, r] : recorded) rows.push_back(&r);
  std::sort(rows.begin(), rows.end(), [](auto a, auto b) { return a->row < b->row; });
  const auto cannot = [&](const std::string& why) {
    return DataError("cannot resume '" + results_.partial_path() + "': " + why);
  };
  std::unordered_map<std::int64_t, TrialSpec> handed_out;  // recorded, awaiting their turn
  for (const auto* r : rows) {
    const auto id = r->outcome.id;
    while (scheduler_.counts().dispatched < r->dispatched_at_report || !handed_out.count(id)) {
      auto spec = scheduler_.next();
      if (!spec) throw cannot("its trial " + std::to_string(id) + " is not in this search's plan");
      const auto order = scheduler_.counts().dispatched - 1;
      const auto it = recorded.find(spec->id);
      if (it == recorded.end()) {
        pending_.emplace_back(std::move(*spec), order);
        continue;
      }
      const auto& was = it->second;
      if (was.parent_id != spec->parent_id || was.config_id != spec->config_id ||
          was.start_epoch != spec->start_epoch || was.end_epoch != spec->end_epoch) {
        throw cannot("its trial " + std::to_string(spec->id) + " is not the one this search plans");
      }
      handed_out.emplace(spec->id, std::move(*spec));
    }
    const auto it = handed_out.find(id);
    record(it->second, r->outcome, nullptr);
    handed_out.erase(it);
  }
  for (const auto& [spec, order] : pending_) {
    const auto parent = recorded.find(spec.parent_id);
    if (parent != recorded.end() && parent->second.outcome.scored(settings_.ranking) &&
        !results_.has_checkpoint(spec.parent_id)) {
      throw cannot("the checkpoint of trial " + std::to_string(spec.parent_id) + " is missing from '" +
                   results_.checkpoints_path() + "'");
    }
  }
  summary_.resumed = static_cast<std::int64_t>(rows.size());
  // The time budget is the search's, not each run's: the runs before this one searched at
  // least until their last result arrived.
  std::map<std::int32_t, double> run_ends;
  for (const auto* r : rows) {
    if (std::isfinite(r->end_seconds)) run_ends[r->run] = std::max(run_ends[r->run], r->end_seconds);
  }
  for (const auto& [run, end] : run_ends) searched_before_ += end;
  // A crash while /best was being rewritten may have left it missing or stale.
  if (summary_.best_trial >= 0 && results_.has_checkpoint(summary_.best_trial)) {
    results_.set_best(best_spec_, summary_.best_score, results_.checkpoint(summary_.best_trial));
    results_.flush();
  }
  const auto& c = scheduler_.counts();
  spdlog::info("resuming: {}{} trials were finished ({} epochs), {} failed; {} run again", rows.size(),
               c.planned >= 0 ? fmt::format(" of {}", c.planned) : std::string(), c.epochs_completed, c.failed,
               pending_.size());
}

bool SearchLoop::draining() const {
  return out_of_time_ || (settings_.drain_requested && settings_.drain_requested->load());
}

bool SearchLoop::time_is_up() const {
  return settings_.time_limit_seconds > 0 && searched_before_ + clock_.now() - t0_ >= settings_.time_limit_seconds;
}

// Draining: no new trial starts, the running ones finish, then the search stops. The deadline
// drains too, once a trial would not finish before it at the slowest epoch time seen so far.
bool SearchLoop::fits_before_deadline(std::int32_t epochs) const {
  if (!deadline_ || slowest_epoch_ <= 0.0) return true;
  return clock_.now() + 1.2 * slowest_epoch_ * epochs + 1.0 <= *deadline_;
}

void SearchLoop::dispatch() {
  while (!idle_.empty() && !draining() && !time_is_up()) {
    TrialSpec spec;
    std::int64_t order = 0;
    if (!pending_.empty()) {
      std::tie(spec, order) = std::move(pending_.front());
      pending_.pop_front();
    } else {
      auto next = scheduler_.next();
      if (!next) break;
      spec = std::move(*next);
      order = scheduler_.counts().dispatched - 1;
    }
    if (!fits_before_deadline(spec.epochs())) {
      spdlog::warn("not starting trial {} ({} epochs): it would not finish before the deadline; the search "
                   "stops when the running trials have finished", spec.id, spec.epochs());
      pending_.emplace_front(std::move(spec), order);  // kept: a resumed search plans it again
      out_of_time_ = true;
      break;
    }
    // A failed parent (promoted when too few trials of its round succeeded) kept no state: its
    // promotion fails too, with the objective's reason.
    if (spec.parent_id >= 0 && spec.parent_checkpoint.empty() && results_.has_checkpoint(spec.parent_id)) {
      spec.parent_checkpoint = results_.checkpoint(spec.parent_id);
    }
    const int w = idle_.front();
    idle_.pop_front();
    pool_.start(w, spec);
    spec.parent_checkpoint.clear();
    running_[w] = Running{std::move(spec), clock_.now() - t0_, order};
  }
}

void SearchLoop::finish_trial(WorkerPool::Event event) {
  if (!event.trial) throw Error("unexpected final result during the search");
  auto outcome = std::move(*event.trial);
  const auto it = running_.find(event.worker);
  if (it == running_.end() || it->second.spec.id != outcome.id) {
    throw Error("worker " + std::to_string(event.worker) + " reported trial " + std::to_string(outcome.id) +
                " it was not running");
  }
  const Running run = std::move(it->second);
  running_.erase(it);
  idle_.push_back(event.worker);
  outcome.worker = event.worker;
  busy_seconds_ += outcome.wall_seconds;
  for (const auto& e : outcome.epochs) slowest_epoch_ = std::max(slowest_epoch_, e.train_seconds + e.eval_seconds);
  TrialTiming timing;
  timing.start_seconds = run.start_seconds;
  timing.end_seconds = clock_.now() - t0_;
  timing.dispatch_order = run.dispatch_order;
  timing.dispatched_at_report = scheduler_.counts().dispatched;
  record(run.spec, outcome, &timing);
}

void SearchLoop::progress() {
  const auto& c = scheduler_.counts();
  const double elapsed = clock_.now() - t0_;
  const double rate = (c.epochs_completed - epochs_before_) / std::max(elapsed, 1e-9);
  double eta = std::nan("");
  if (c.epochs_planned >= 0) eta = (c.epochs_planned - c.epochs_completed) / std::max(rate, 1e-12);
  if (settings_.time_limit_seconds > 0) {
    eta = std::fmin(eta, std::max(0.0, settings_.time_limit_seconds - searched_before_ - elapsed));
  }
  const auto& s = summary_;
  const std::string best = s.best_trial < 0 ? "none yet"
                                            : fmt::format("{:.4f} (trial {}: {})", s.best_score, s.best_trial,
                                                          describe(s.best_config));
  const std::string done = c.planned >= 0 ? fmt::format("{}/{}", c.completed, c.planned) : std::to_string(c.completed);
  spdlog::info("progress: {} trials done, {} running, {} failed | best val hit rate {} | {:.2f} epochs/s | ETA {}", done,
               c.running(), c.failed, best, rate, duration_text(eta));
}

void SearchLoop::flush_if_due(bool force) {
  // Also by rows, so that a fast search (or a simulation) never holds many trials in memory.
  constexpr std::size_t kMaxQueuedTrials = 4096;
  if (results_.queued() > 0 &&
      (force || results_.queued() >= kMaxQueuedTrials || clock_.now() - last_flush_ >= settings_.flush_seconds)) {
    results_.flush();
    last_flush_ = clock_.now();
  }
}

SearchSummary SearchLoop::run() {
  auto& s = summary_;
  s.planned = scheduler_.counts().planned;
  replay();
  epochs_before_ = scheduler_.counts().epochs_completed;
  {
    const auto& c = scheduler_.counts();
    spdlog::info("search: {}, {} worker(s){}, results in {}",
                 c.planned >= 0 ? fmt::format("{} trials planned ({} epochs)", c.planned, c.epochs_planned)
                                : std::string("ASHA until its budget is spent"),
                 pool_.size(), settings_.workers_description.empty() ? "" : ", " + settings_.workers_description,
                 results_.partial_path());
  }
  for (int w : pool_.workers()) idle_.push_back(w);
  last_flush_ = clock_.now();
  next_progress_ = clock_.now() + settings_.progress_seconds;
  dispatch();
  while (!scheduler_.finished()) {
    if (settings_.stop_requested && settings_.stop_requested->load()) {
      flush_if_due(true);
      std::vector<std::int64_t> unfinished;
      for (const auto& [worker, run] : running_) unfinished.push_back(run.spec.id);
      spdlog::warn("stopping on request with {} trials finished; the search resumes from {}{}",
                   scheduler_.counts().completed, results_.partial_path(),
                   unfinished.empty() ? std::string()
                                      : fmt::format(", where the unfinished trials {} run again",
                                                    fmt::join(unfinished, ", ")));
      s.stop = SearchSummary::Stop::OnRequest;
      break;
    }
    if (running_.empty() && draining()) {
      flush_if_due(true);
      spdlog::warn("stopped {} with {} trials finished and none running; the search resumes from {}",
                   out_of_time_ ? "before the deadline" : "on the time-limit signal", scheduler_.counts().completed,
                   results_.partial_path());
      s.stop = SearchSummary::Stop::Drained;
      break;
    }
    if (running_.empty() && time_is_up()) {
      spdlog::info("the time limit of {} is spent", duration_text(settings_.time_limit_seconds));
      s.time_limit_reached = true;
      break;
    }
    if (running_.empty()) throw Error("internal error: the scheduler has work left but offers none");
    double until = results_.queued() > 0 ? std::min(next_progress_, last_flush_ + settings_.flush_seconds) : next_progress_;
    if (settings_.stop_requested || settings_.drain_requested) until = std::min(until, clock_.now() + settings_.flush_seconds);
    auto event = pool_.wait(std::max(0.0, until - clock_.now()));
    flush_if_due(false);
    if (clock_.now() >= next_progress_) {
      progress();
      next_progress_ = clock_.now() + settings_.progress_seconds;
    }
    if (!event) continue;
    finish_trial(std::move(*event));
    if (++finished_here_ == settings_.stop_after_trials) {
      flush_if_due(true);
      spdlog::warn("stopping after {} trials as asked; the search resumes from {}", finished_here_,
                   results_.partial_path());
      s.stop = SearchSummary::Stop::AfterTrials;
      break;
    }
    dispatch();
    flush_if_due(false);
  }
  flush_if_due(true);
  s.wall_seconds = clock_.now() - t0_;
  s.completed = scheduler_.counts().completed;
  s.failed = scheduler_.counts().failed;
  if (s.stopped()) {
    if (s.stop != SearchSummary::Stop::OnRequest) s.workers = pool_.shutdown();
    return s;
  }
  s.utilisation = busy_seconds_ / (pool_.size() * std::max(s.wall_seconds, 1e-9));
  s.trials_per_second = (s.completed - s.resumed) / std::max(s.wall_seconds, 1e-9);
  progress();
  spdlog::info("search finished in {}: {} trials, {} failed, worker utilisation {:.1f}%", duration_text(s.wall_seconds),
               s.completed, s.failed, 100.0 * s.utilisation);
  if (settings_.final_epochs > 0 && s.best_trial >= 0 && (draining() || !fits_before_deadline(settings_.final_epochs))) {
    spdlog::warn("not starting the final retraining ({} epochs) before the {}; resuming runs only that",
                 settings_.final_epochs, draining() ? "time limit" : "deadline");
    s.stop = SearchSummary::Stop::Drained;
    s.workers = pool_.shutdown();
    return s;
  }
  if (settings_.final_epochs > 0 && s.best_trial >= 0) {
    retrain_best();
    if (s.stopped()) return s;
  }
  s.workers = pool_.shutdown();
  results_.finish(s.wall_seconds, s.utilisation);
  return s;
}

void SearchLoop::retrain_best() {
  auto& s = summary_;
  TrialSpec final_spec = best_spec_;
  final_spec.parent_id = -1;
  final_spec.start_epoch = 0;
  final_spec.end_epoch = settings_.final_epochs;
  spdlog::info("retraining the best configuration (trial {}) from scratch for {} epochs", s.best_trial,
               settings_.final_epochs);
  pool_.start_final(pool_.workers().front(), final_spec);
  std::optional<WorkerPool::Event> event;
  while (!(event = pool_.wait(settings_.flush_seconds))) {
    if (settings_.stop_requested && settings_.stop_requested->load()) {
      spdlog::warn("stopping on request during the final retraining; resuming reruns only that");
      s.stop = SearchSummary::Stop::OnRequest;
      return;
    }
  }
  if (!event->final) throw Error("unexpected trial result while waiting for the final retraining");
  s.final = *event->final;
  results_.set_final(*s.final, best_spec_.config);
}

SearchSummary run_search(const SearchSettings& settings, WorkerPool& pool) {
  const SteadyClock clock;
  const auto scheduler = make_scheduler(settings);
  SearchLoop loop(settings, *scheduler, pool, clock);
  return loop.run();
}

}  // namespace crimegraph
