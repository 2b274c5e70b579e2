#include "crimegraph/search/simulator.hpp"

#include <spdlog/fmt/fmt.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "crimegraph/error.hpp"
#include "crimegraph/search/results_reader.hpp"
#include "crimegraph/search/sampler.hpp"

namespace crimegraph {
namespace {

// Where a value sits in its parameter's range, 0..1 (log-scaled floats on the log scale,
// choices by their index): the coordinates both models work in.
double position(const Parameter& p, double value) {
  if (p.kind == Parameter::Kind::Choice) {
    if (p.values.size() < 2) return 0.5;
    const auto it = std::min_element(p.values.begin(), p.values.end(),
                                     [&](double a, double b) { return std::abs(a - value) < std::abs(b - value); });
    return static_cast<double>(it - p.values.begin()) / static_cast<double>(p.values.size() - 1);
  }
  if (p.max <= p.min) return 0.5;
  if (p.log && p.min > 0 && value > 0) return std::log(value / p.min) / std::log(p.max / p.min);
  return (value - p.min) / (p.max - p.min);
}

std::uint64_t key(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  return mix_seed(seed ^ mix_seed(a ^ mix_seed(b + 0x51ED)));
}

// Solves the symmetric system a x = b (Gaussian elimination with partial pivoting).
std::vector<double> solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t pivot = c;
    for (std::size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    if (std::abs(a[c][c]) < 1e-12) continue;
    for (std::size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (std::size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) x[i] = std::abs(a[i][i]) < 1e-12 ? 0.0 : b[i] / a[i][i];
  return x;
}

}  // namespace

struct TrialModel::Impl {
  SimulationOptions options;
  SearchSpace space;
  // Seconds per epoch: exp(cost[0] + sum cost[i+1] * position_i).
  std::vector<double> cost;
  // Synthetic quality: the best hit rate a configuration reaches, highest at `optimum`.
  std::vector<double> optimum, weight, speed;
  // Fitted curves: recorded configurations' positions and their hit rate by epoch (index 0 = epoch 1).
  std::vector<std::vector<double>> recorded_positions;
  std::vector<std::vector<double>> recorded_curves;
  std::string description;

  std::vector<double> positions(const Configuration& c) const {
    std::vector<double> u;
    for (const auto& p : space.parameters()) {
      const auto it = c.find(p.name);
      u.push_back(it == c.end() ? 0.5 : std::clamp(position(p, it->second), 0.0, 1.0));
    }
    return u;
  }

  void synthetic() {
    std::mt19937_64 rng(key(options.seed, 17));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto n = space.parameters().size();
    cost.assign(1, std::log(options.epoch_seconds));
    for (std::size_t i = 0; i < n; ++i) {
      const double c = options.cost_spread * unit(rng);
      cost.push_back(c);
      cost[0] -= 0.5 * c;  // a middling configuration takes epoch_seconds
      optimum.push_back(unit(rng));
      weight.push_back(0.02 + 0.06 * unit(rng));
      speed.push_back(unit(rng));
    }
    double spread = 0.0;
    for (std::size_t i = 1; i < cost.size(); ++i) spread += cost[i];
    description = fmt::format("synthetic: {:.3g} s an epoch for a middling configuration (x{:.2f} to x{:.2f} over the "
                              "space), {:.0f}% stragglers taking x{:g}",
                              options.epoch_seconds, std::exp(-0.5 * spread), std::exp(0.5 * spread),
                              100 * options.straggler_rate, options.straggler_factor);
  }

  void fit(const std::string& path) {
    const ResultsReader reader(path);
    const auto& trials = reader.trials();
    const auto& names = reader.hyperparameters();
    const auto& seconds = trials.column("train_seconds");
    const auto& trained = trials.column("epochs_trained");
    const auto& ids = trials.column("trial_id");
    const auto& configs = trials.column("config_id");
    // Seconds per epoch: least squares of log(seconds / epoch) on the positions.
    const auto n = space.parameters().size();
    std::vector<std::vector<double>> xtx(n + 1, std::vector<double>(n + 1, 0.0));
    std::vector<double> xty(n + 1, 0.0);
    std::map<std::int64_t, std::int64_t> config_of_trial;
    std::map<std::int64_t, Configuration> config_values;
    std::size_t samples = 0;
    for (std::size_t r = 0; r < trials.rows(); ++r) {
      Configuration c;
      for (const auto& name : names) c[name] = trials.column(name).number(r);
      const auto config_id = static_cast<std::int64_t>(configs.number(r));
      config_of_trial[static_cast<std::int64_t>(ids.number(r))] = config_id;
      config_values[config_id] = c;
      const double epochs = trained.number(r), s = seconds.number(r);
      if (!(epochs > 0) || !(s > 0)) continue;
      auto x = positions(c);
      x.insert(x.begin(), 1.0);
      const double y = std::log(s / epochs);
      for (std::size_t i = 0; i <= n; ++i) {
        xty[i] += x[i] * y;
        for (std::size_t j = 0; j <= n; ++j) xtx[i][j] += x[i] * x[j];
      }
      ++samples;
    }
    if (samples == 0) throw DataError("'" + path + "' has no trial with measured epochs to fit the simulator to");
    for (std::size_t i = 1; i <= n; ++i) xtx[i][i] += 1e-6 * static_cast<double>(samples);  // a little ridge
    cost = solve(xtx, xty);
    // Curves: every recorded configuration's hit rate by epoch.
    std::map<std::int64_t, std::vector<double>> curves;
    const auto& curve_trial = reader.curves().column("trial_id");
    const auto& curve_epoch = reader.curves().column("epoch");
    const auto& curve_rate = reader.curves().column("val_hit_rate");
    for (std::size_t r = 0; r < reader.curves().rows(); ++r) {
      const auto it = config_of_trial.find(static_cast<std::int64_t>(curve_trial.number(r)));
      const double rate = curve_rate.number(r);
      const auto epoch = static_cast<std::int64_t>(curve_epoch.number(r));
      if (it == config_of_trial.end() || epoch < 1 || !std::isfinite(rate)) continue;
      auto& curve = curves[it->second];
      if (curve.size() < static_cast<std::size_t>(epoch)) curve.resize(static_cast<std::size_t>(epoch), std::nan(""));
      curve[static_cast<std::size_t>(epoch - 1)] = rate;
    }
    for (auto& [config_id, curve] : curves) {
      // An epoch a curve lacks takes the one before it.
      for (std::size_t e = 1; e < curve.size(); ++e)
        if (std::isnan(curve[e])) curve[e] = curve[e - 1];
      if (curve.empty() || std::isnan(curve.front())) continue;
      recorded_positions.push_back(positions(config_values[config_id]));
      recorded_curves.push_back(std::move(curve));
    }
    if (recorded_curves.empty()) throw DataError("'" + path + "' has no learning curve to fit the simulator to");
    description = fmt::format("fitted to {}: {} trials' epoch times, {} configurations' learning curves", path, samples,
                              recorded_curves.size());
  }
};

TrialModel::TrialModel(const SimulationOptions& options, const SearchSpace& space) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->space = space;
  if (options.fit_from.empty()) impl_->synthetic();
  else impl_->fit(options.fit_from);
}
TrialModel::~TrialModel() = default;
TrialModel::TrialModel(TrialModel&&) noexcept = default;
TrialModel& TrialModel::operator=(TrialModel&&) noexcept = default;

std::string TrialModel::describe() const { return impl_->description; }

bool TrialModel::continues(const TrialSpec& spec) const {
  if (impl_->options.checkpoint_bytes == 0) return true;
  return spec.parent_checkpoint.size() == impl_->options.checkpoint_bytes &&
         spec.parent_checkpoint.rfind(fmt::format("config {} epoch {};", spec.config_id, spec.start_epoch), 0) == 0;
}

double TrialModel::epoch_seconds(const Configuration& config) const {
  const auto u = impl_->positions(config);
  double log_seconds = impl_->cost[0];
  for (std::size_t i = 0; i < u.size() && i + 1 < impl_->cost.size(); ++i) log_seconds += impl_->cost[i + 1] * u[i];
  return std::exp(log_seconds);
}

double TrialModel::curve(const Configuration& config, std::int32_t epoch) const {
  return curve(config, epoch, epoch).front();
}

// The configuration's positions, and the recorded curve nearest to them, are found once for
// all the epochs asked for: a trial asks for all of its epochs at once.
std::vector<double> TrialModel::curve(const Configuration& config, std::int32_t first, std::int32_t last) const {
  const auto& m = *impl_;
  const auto u = m.positions(config);
  std::vector<double> rates;
  if (!m.recorded_curves.empty()) {
    std::size_t nearest = 0;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < m.recorded_positions.size(); ++k) {
      double d = 0.0;
      for (std::size_t i = 0; i < u.size(); ++i) d += (u[i] - m.recorded_positions[k][i]) * (u[i] - m.recorded_positions[k][i]);
      if (d < best) {
        best = d;
        nearest = k;
      }
    }
    const auto& c = m.recorded_curves[nearest];
    for (auto e = first; e <= last; ++e) rates.push_back(c[std::min(c.size(), static_cast<std::size_t>(std::max(e, 1))) - 1]);
    return rates;
  }
  double ceiling = 0.66, pace = 2.0;
  for (std::size_t i = 0; i < u.size(); ++i) {
    ceiling -= m.weight[i] * (u[i] - m.optimum[i]) * (u[i] - m.optimum[i]);
    pace += 3.0 * m.speed[i] * u[i];
  }
  const double start = 0.45;
  for (auto e = first; e <= last; ++e) rates.push_back(ceiling - (ceiling - start) * std::exp(-e / pace));
  return rates;
}

TrialOutcome TrialModel::run(const TrialSpec& spec) const {
  const auto& o = impl_->options;
  std::mt19937_64 rng(key(o.seed, static_cast<std::uint64_t>(spec.id), 1));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double per_epoch = epoch_seconds(spec.config) * std::exp(o.noise * normal(rng));
  if (unit(rng) < o.straggler_rate) per_epoch *= o.straggler_factor;
  TrialOutcome outcome;
  outcome.id = spec.id;
  const auto rates = curve(spec.config, spec.start_epoch + 1, spec.end_epoch);
  for (std::int32_t e = spec.start_epoch + 1; e <= spec.end_epoch; ++e) {
    // An epoch's noise belongs to the configuration and epoch, whichever trial trains it.
    std::mt19937_64 epoch_rng(key(o.seed, static_cast<std::uint64_t>(spec.config_id), static_cast<std::uint64_t>(e) + 2));
    EpochRecord r;
    r.epoch = e;
    r.validation_hit_rate =
        std::clamp(rates[static_cast<std::size_t>(e - spec.start_epoch - 1)] + o.score_noise * normal(epoch_rng), 0.0, 1.0);
    r.train_loss = r.validation_loss = 1.0 - r.validation_hit_rate;
    r.learning_rate = 0.001;
    r.train_seconds = per_epoch;
    outcome.epochs.push_back(r);
  }
  outcome.wall_seconds = per_epoch * spec.epochs();
  if (o.checkpoint_bytes > 0) {
    // Names the configuration and epoch, as a real state would, so a promotion that continued
    // from another trial's state would show.
    const auto tag = fmt::format("config {} epoch {};", spec.config_id, spec.end_epoch);
    outcome.checkpoint.reserve(o.checkpoint_bytes);
    while (outcome.checkpoint.size() < o.checkpoint_bytes) outcome.checkpoint += tag;
    outcome.checkpoint.resize(o.checkpoint_bytes);
  }
  return outcome;
}

SimulatedPool::SimulatedPool(int workers, const TrialModel& model, SimulatedClock& clock)
    : workers_(workers), model_(model), clock_(clock), in_flight_(static_cast<std::size_t>(workers) + 1),
      stats_(static_cast<std::size_t>(workers) + 1) {
  if (workers < 1) throw ConfigError("a simulation needs at least one worker");
  for (int w = 1; w <= workers; ++w) stats_[static_cast<std::size_t>(w)].worker = w;
}

std::vector<int> SimulatedPool::workers() const {
  std::vector<int> all(static_cast<std::size_t>(workers_));
  for (int w = 1; w <= workers_; ++w) all[static_cast<std::size_t>(w - 1)] = w;
  return all;
}

void SimulatedPool::start(int worker, const TrialSpec& spec) {
  auto& slot = in_flight_.at(static_cast<std::size_t>(worker));
  if (slot) throw Error("internal error: simulated worker " + std::to_string(worker) + " is busy");
  if (spec.parent_id >= 0 && !model_.continues(spec)) {
    throw Error("internal error: trial " + std::to_string(spec.id) + " did not get its parent's training state");
  }
  Event e;
  e.worker = worker;
  e.trial = model_.run(spec);
  e.trial->worker = worker;
  finishing_.push({clock_.now() + e.trial->wall_seconds, worker});
  slot = std::move(e);
}

void SimulatedPool::start_final(int, const TrialSpec&) {
  throw ConfigError("a simulation does not retrain the best configuration (it runs with --final-epochs 0)");
}

std::optional<WorkerPool::Event> SimulatedPool::wait(double seconds) {
  if (finishing_.empty() || finishing_.top().time > clock_.now() + seconds) {
    clock_.advance_to(clock_.now() + seconds);
    return std::nullopt;
  }
  const auto f = finishing_.top();
  finishing_.pop();
  clock_.advance_to(f.time);
  auto& slot = in_flight_[static_cast<std::size_t>(f.worker)];
  auto event = std::move(*slot);
  slot.reset();
  auto& stats = stats_[static_cast<std::size_t>(f.worker)];
  ++stats.trials;
  stats.busy_seconds += event.trial->wall_seconds;
  const double best = event.trial->best_hit_rate();
  if (std::isfinite(best) && (best_over_time_.empty() || best > best_over_time_.back().second)) {
    best_over_time_.emplace_back(f.time, best);
  }
  return event;
}

std::vector<WorkerStats> SimulatedPool::shutdown() {
  const double end = clock_.now();
  std::vector<WorkerStats> all(stats_.begin() + 1, stats_.end());
  for (auto& s : all) s.waiting_seconds = std::max(0.0, end - s.busy_seconds);
  return all;
}

std::optional<TrialSpec> TimedScheduler::next() {
  const auto t0 = std::chrono::steady_clock::now();
  auto spec = inner_.next();
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++calls_;
  counts_ = inner_.counts();
  return spec;
}

void TimedScheduler::report(const TrialReport& report) {
  const auto t0 = std::chrono::steady_clock::now();
  inner_.report(report);
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++calls_;
  counts_ = inner_.counts();
}

SimulationSummary simulate_search(const SearchSettings& settings, const SimulationOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  SearchSettings s = settings;
  s.final_epochs = 0;
  s.progress_seconds = std::numeric_limits<double>::infinity();  // simulated hours pass in real seconds
  s.flush_seconds = std::numeric_limits<double>::infinity();     // flushed by rows instead
  SimulatedClock clock;
  const TrialModel model(options, s.space);
  SimulatedPool pool(options.workers, model, clock);
  const auto scheduler = make_scheduler(s);
  TimedScheduler timed(*scheduler);
  SearchLoop loop(s, timed, pool, clock);
  SimulationSummary out;
  out.search = loop.run();
  out.makespan_seconds = clock.now();
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.decision_microseconds = 1e6 * timed.seconds() / std::max<std::int64_t>(1, timed.calls());
  out.loop_microseconds_per_trial = 1e6 * out.wall_seconds / std::max<std::int64_t>(1, out.search.completed);
  out.best_over_time = pool.best_over_time();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  out.peak_rss_bytes = static_cast<std::size_t>(usage.ru_maxrss) * 1024;
  return out;
}

}  // namespace crimegraph
