#include "crimegraph/search/asha/asha.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "crimegraph/error.hpp"

namespace crimegraph {

void AshaOptions::validate(bool time_limited) const {
  if (max_epochs < 1) throw ConfigError("max-epochs must be at least 1 (got " + std::to_string(max_epochs) + ")");
  if (factor < 2) throw ConfigError("the ASHA factor must be at least 2 (got " + std::to_string(factor) + ")");
  if (min_epochs < 1 || min_epochs > max_epochs) {
    throw ConfigError("min-epochs must be in 1..max-epochs (got " + std::to_string(min_epochs) + ")");
  }
  if (brackets < 1) throw ConfigError("ASHA needs at least one bracket (got " + std::to_string(brackets) + ")");
  if (brackets > static_cast<std::int32_t>(rungs(0).size())) {
    throw ConfigError(fmt::format("{} brackets are more than the {} rungs from {} to {} epochs (factor {}) allow",
                                  brackets, rungs(0).size(), min_epochs, max_epochs, factor));
  }
  if (max_trials < 0 || max_total_epochs < 0) throw ConfigError("ASHA's budgets must not be negative");
  if (max_trials == 0 && max_total_epochs == 0 && !time_limited) {
    throw ConfigError("ASHA runs until a budget is spent: give --max-trials, --max-total-epochs or --time-limit");
  }
}

std::vector<std::int32_t> AshaOptions::rungs(std::int32_t bracket) const {
  std::vector<std::int32_t> epochs;
  std::int64_t e = min_epochs;
  for (std::int32_t s = 0; s < bracket && e < max_epochs; ++s) e *= factor;
  for (; e < max_epochs; e *= factor) epochs.push_back(static_cast<std::int32_t>(e));
  epochs.push_back(max_epochs);
  return epochs;
}

AshaScheduler::AshaScheduler(const AshaOptions& options, SearchSpace space, std::uint64_t seed, Ranking ranking)
    : options_(options), ranking_(ranking), seed_(seed), sampler_(space, seed) {
  for (const auto& p : space.parameters()) names_.push_back(p.name);
  for (std::int32_t b = 0; b < options_.brackets; ++b) {
    std::vector<Rung> rungs;
    for (auto e : options_.rungs(b)) {
      Rung r;
      r.epochs = e;
      rungs.push_back(std::move(r));
    }
    brackets_.push_back(std::move(rungs));
  }
  counts_.planned = -1;
  counts_.epochs_planned = options_.max_total_epochs > 0 ? options_.max_total_epochs : -1;
}

std::int32_t AshaScheduler::epochs_of(const Trial& t) const {
  const auto& rungs = brackets_[static_cast<std::size_t>(t.bracket)];
  const auto k = static_cast<std::size_t>(t.rung);
  return rungs[k].epochs - (k == 0 || t.parent_id < 0 ? 0 : rungs[k - 1].epochs);
}

std::optional<AshaScheduler::Key> AshaScheduler::promotable(std::size_t b, std::size_t k) const {
  const auto& rungs = brackets_[b];
  if (k + 1 >= rungs.size()) return std::nullopt;
  const auto& rung = rungs[k];
  if (rung.unpromoted.empty()) return std::nullopt;
  // The best unpromoted trial is in the top 1/eta when fewer than |rung|/eta trials rank above it.
  const Key best = *rung.unpromoted.begin();
  const auto above = static_cast<std::int64_t>(rung.ranked.order_of_key(best));
  if (above >= rung.reported / options_.factor) return std::nullopt;
  const auto need = rungs[k + 1].epochs - rung.epochs;
  if (options_.max_total_epochs > 0 && epochs_committed_ + need > options_.max_total_epochs) return std::nullopt;
  return best;
}

bool AshaScheduler::can_start_new() const {
  if (options_.max_trials > 0 && configs_started_ >= options_.max_trials) return false;
  const auto bracket = static_cast<std::size_t>(configs_started_ % options_.brackets);
  const auto need = brackets_[bracket].front().epochs;
  return options_.max_total_epochs == 0 || epochs_committed_ + need <= options_.max_total_epochs;
}

bool AshaScheduler::has_work() const {
  for (std::size_t b = 0; b < brackets_.size(); ++b) {
    for (std::size_t k = 0; k < brackets_[b].size(); ++k)
      if (promotable(b, k)) return true;
  }
  return can_start_new();
}

TrialSpec AshaScheduler::start(Trial trial) {
  TrialSpec s;
  s.id = static_cast<std::int64_t>(trials_.size());
  s.parent_id = trial.parent_id;
  s.config_id = trial.config_id;
  s.bracket = trial.bracket;
  s.round = trial.rung;
  s.slot = static_cast<std::int32_t>(trial.config_id);
  const auto& rungs = brackets_[static_cast<std::size_t>(trial.bracket)];
  s.end_epoch = rungs[static_cast<std::size_t>(trial.rung)].epochs;
  s.start_epoch = trial.parent_id < 0 ? 0 : rungs[static_cast<std::size_t>(trial.rung) - 1].epochs;
  s.seed = trial_seed(seed_, trial.config_id);
  const auto* values = config_values_.data() + static_cast<std::size_t>(trial.config_id) * names_.size();
  for (std::size_t i = 0; i < names_.size(); ++i) s.config[names_[i]] = values[i];
  if (trial.parent_id >= 0) {
    if (const auto it = checkpoints_.find(trial.parent_id); it != checkpoints_.end()) {
      s.parent_checkpoint = std::move(it->second);
      checkpoints_.erase(it);
    }
  }
  epochs_committed_ += s.epochs();
  ++counts_.dispatched;
  trials_.push_back(trial);
  return s;
}

std::optional<TrialSpec> AshaScheduler::next() {
  for (std::size_t b = 0; b < brackets_.size(); ++b) {
    for (std::size_t k = brackets_[b].size() - 1; k-- > 0;) {
      const auto key = promotable(b, k);
      if (!key) continue;
      auto& rung = brackets_[b][k];
      rung.unpromoted.erase(rung.unpromoted.begin());
      const auto& parent = trials_[static_cast<std::size_t>(key->second)];
      Trial child;
      child.config_id = parent.config_id;
      child.parent_id = key->second;
      child.bracket = static_cast<std::int32_t>(b);
      child.rung = static_cast<std::int32_t>(k + 1);
      return start(child);
    }
  }
  if (!can_start_new()) return std::nullopt;
  const auto config = sampler_.draw();
  for (const auto& name : names_) config_values_.push_back(config.at(name));
  Trial t;
  t.config_id = configs_started_;
  t.bracket = static_cast<std::int32_t>(configs_started_ % options_.brackets);
  ++configs_started_;
  return start(t);
}

void AshaScheduler::report(const TrialReport& rep) {
  if (rep.id < 0 || rep.id >= static_cast<std::int64_t>(trials_.size())) {
    throw Error("result for unknown trial " + std::to_string(rep.id));
  }
  auto& t = trials_[static_cast<std::size_t>(rep.id)];
  if (t.done) throw Error("trial " + std::to_string(rep.id) + " reported twice");
  t.done = true;
  auto& rungs = brackets_[static_cast<std::size_t>(t.bracket)];
  auto& rung = rungs[static_cast<std::size_t>(t.rung)];
  ++rung.reported;
  ++counts_.completed;
  counts_.epochs_completed += epochs_of(t);
  const double score = ranking_ == Ranking::BestEpoch ? rep.best_score : rep.last_score;
  if (!(rep.ok && std::isfinite(rep.best_score) && std::isfinite(rep.last_score))) {
    ++counts_.failed;  // ranks last: counted in the rung, never promoted
    return;
  }
  const Key key{-score, rep.id};
  rung.ranked.insert(key);
  if (static_cast<std::size_t>(t.rung) + 1 < rungs.size()) {
    rung.unpromoted.insert(key);
    if (!rep.checkpoint.empty()) checkpoints_[rep.id] = rep.checkpoint;
  }
}

std::string AshaScheduler::describe() const {
  std::string text = fmt::format("ASHA: factor {}, {} bracket(s), rungs up to {} epochs\n", options_.factor,
                                 options_.brackets, options_.max_epochs);
  for (std::int32_t b = 0; b < options_.brackets; ++b) {
    text += fmt::format("  bracket {}: rungs at {} epochs\n", b, fmt::join(options_.rungs(b), ", "));
  }
  std::vector<std::string> budgets;
  if (options_.max_trials > 0) budgets.push_back(fmt::format("{} configurations", options_.max_trials));
  if (options_.max_total_epochs > 0) budgets.push_back(fmt::format("{} epochs in all", options_.max_total_epochs));
  text += "budget: " + (budgets.empty() ? std::string("the time limit") : fmt::format("{}", fmt::join(budgets, ", "))) + "\n";
  return text;
}

}  // namespace crimegraph
