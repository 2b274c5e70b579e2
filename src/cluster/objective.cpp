#include "crimegraph/cluster/objective.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <functional>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/model/baselines.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"
#include "crimegraph/model/trainer.hpp"

namespace crimegraph {

void check_gldnet_space(const SearchSpace& space) {
  for (const auto& p : space.parameters()) {
    if (!Hyperparameters::is_known(p.name)) {
      throw ConfigError("search space parameter '" + p.name + "' is not a GLDNet hyperparameter");
    }
    Hyperparameters hp;
    try {
      if (p.kind == Parameter::Kind::Choice) {
        for (auto v : p.values) hp.set(p.name, v);
      } else {
        hp.set(p.name, p.min);
        hp.set(p.name, p.max);
      }
    } catch (const ConfigError& e) {
      throw ConfigError("search space parameter '" + p.name + "': " + e.what());
    }
  }
}
bool needs_daily_counts(const Hyperparameters& base, const SearchSpace& space) {
  if (base.smoothing != 0.0) return true;
  for (const auto& p : space.parameters())
    if (p.name == "smoothing") return true;
  return false;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Hyperparameters with_config(Hyperparameters hp, const Configuration& config) {
  for (const auto& [name, value] : config) hp.set(name, value);
  return hp;
}

// The worker's dataset, with every window's smoothed inputs kept for the base lookback when
// they fit the budget: its trials read the same windows again and again, and loading a group
// from the table moves a quarter of the bytes (trials that change the lookback smooth their own).
std::shared_ptr<const TrainingData> training_data(const GLDNetObjectiveOptions& options) {
  spdlog::debug("GLDNet kernel on {}", describe_simd_target(""));
  if (options.training) return options.training;
  auto data = std::make_shared<TrainingData>(
      read_dataset(options.dataset, options.keep_counts ? DatasetParts::TrainingAndCounts : DatasetParts::Training));
  const auto table_bytes = data->smoothed_table_bytes();
  if (table_bytes <= options.window_cache_bytes) {
    data->cache_smoothed_windows(static_cast<std::int32_t>(options.base.lookback));
    spdlog::debug("keeping the smoothed windows (lookback {}): {:.0f} MB", options.base.lookback, table_bytes / 1e6);
  } else {
    spdlog::debug("smoothing windows from raw days: their table would take {:.0f} MB, over the {:.0f} MB budget",
                  table_bytes / 1e6, options.window_cache_bytes / 1e6);
  }
  return data;
}

class GLDNetObjective : public Objective {
 public:
  explicit GLDNetObjective(GLDNetObjectiveOptions o)
      : options_(std::move(o)),
        data_(training_data(options_)) {}

  TrialOutcome run(const TrialSpec& spec) override {
    const auto t0 = std::chrono::steady_clock::now();
    TrialOutcome out;
    out.id = spec.id;
    try {
      const auto hp = with_config(options_.base, spec.config);
      Trainer trainer(inputs(hp.smoothing), hp, trainer_options(spec));
      if (spec.parent_id >= 0) {
        if (spec.parent_checkpoint.empty()) throw Error("parent trial " + std::to_string(spec.parent_id) + " left no checkpoint");
        trainer.restore(spec.parent_checkpoint);
        if (trainer.epoch() != spec.start_epoch) {
          throw Error("parent checkpoint is at epoch " + std::to_string(trainer.epoch()) + ", expected " +
                      std::to_string(spec.start_epoch));
        }
      }
      out.status = trainer.fit(spec.end_epoch);
      out.message = trainer.message();
      out.epochs = trainer.history();
      if (out.status == TrialStatus::Ok) out.checkpoint = trainer.checkpoint();
    } catch (const std::exception& e) {
      out.status = TrialStatus::Failed;
      out.message = e.what();
    }
    out.wall_seconds = seconds_since(t0);
    return out;
  }

  FinalOutcome run_final(const TrialSpec& spec) override {
    FinalOutcome out;
    out.epochs = spec.end_epoch;
    out.hit_rate_description = options_.hit_rate.describe();
    try {
      auto t = trainer_options(spec);
      t.time_limit_seconds = 0.0;  // the final retraining is not a trial
      if (options_.final_threads > 0) t.threads = options_.final_threads;
      spdlog::info("final retraining on {} thread(s)", t.threads);
      const auto hp = with_config(options_.base, spec.config);
      Trainer trainer(inputs(hp.smoothing), hp, t);
      out.status = trainer.fit(spec.end_epoch);
      out.message = trainer.message();
      out.history = trainer.history();
      for (const auto& e : trainer.history()) out.best_validation_hit_rate = std::max(out.best_validation_hit_rate, e.validation_hit_rate);
      const auto test = trainer.evaluate(Split::Test);
      out.test_hit_rate = test.hit_rate;
      out.test_interval = test.interval;
      // Baselines need the full dataset (counts, intensity): read it once more, only here.
      const auto dataset = read_dataset(options_.dataset);
      const auto b = baseline_hit_rates(dataset, trainer.windows(), Split::Test, options_.hit_rate);
      out.naive = b.naive;
      out.historical = b.historical;
      out.oracle = b.oracle;
      out.naive_interval = b.naive_interval;
      out.historical_interval = b.historical_interval;
      out.oracle_interval = b.oracle_interval;
      const auto vs = compare_with_baselines(test.hit_rate, test.days, b);
      out.best_baseline = vs.best_baseline;
      out.gain = vs.gain;
      out.gain_interval = vs.interval;
      out.checkpoint = trainer.checkpoint();
    } catch (const std::exception& e) {
      out.status = TrialStatus::Failed;
      out.message = e.what();
    }
    return out;
  }

 private:
  TrainerOptions trainer_options(const TrialSpec& spec) const {
    TrainerOptions t;
    t.seed = spec.seed;
    t.threads = options_.threads;
    t.hit_rate = options_.hit_rate;
    t.time_limit_seconds = options_.trial_timeout_seconds;
    return t;
  }

  // The channels for a smoothing factor. One recomputed copy is kept, and recomputed in place
  // for another factor once no trainer holds it: a trial's promotions reuse it, and a new
  // factor costs a pass over the counts but no fresh memory.
  std::shared_ptr<const TrainingData> inputs(double smoothing) {
    if (smoothing == 0.0) return data_;
    if (!resmoothed_) {
      resmoothed_ = TrainingData::resmoothed(data_, smoothing);
    } else if (resmoothed_->smoothing() != smoothing) {
      if (resmoothed_.use_count() == 1) {
        resmoothed_->recompute_channels(smoothing);
      } else {
        resmoothed_ = TrainingData::resmoothed(data_, smoothing);
      }
    }
    return resmoothed_;
  }

  GLDNetObjectiveOptions options_;
  std::shared_ptr<const TrainingData> data_;
  std::shared_ptr<TrainingData> resmoothed_;
};

class NullObjective : public Objective {
 public:
  TrialOutcome run(const TrialSpec& spec) override {
    TrialOutcome out;
    out.id = spec.id;
    // The "checkpoint" names the configuration and epoch, so a promotion handed another
    // trial's state (or none) fails visibly.
    if (spec.parent_id >= 0 && spec.parent_checkpoint != checkpoint(spec.config_id, spec.start_epoch)) {
      out.status = TrialStatus::Failed;
      out.message = "continued from a wrong checkpoint ('" + spec.parent_checkpoint + "')";
      return out;
    }
    for (std::int32_t e = spec.start_epoch + 1; e <= spec.end_epoch; ++e) {
      EpochRecord r;
      r.epoch = e;
      r.validation_hit_rate = score(spec.config, e);
      out.epochs.push_back(r);
    }
    out.checkpoint = checkpoint(spec.config_id, spec.end_epoch);
    return out;
  }
  FinalOutcome run_final(const TrialSpec& spec) override {
    FinalOutcome out;
    out.epochs = spec.end_epoch;
    out.best_validation_hit_rate = out.test_hit_rate = score(spec.config, spec.end_epoch);
    out.hit_rate_description = "null objective (no training)";
    return out;
  }

 private:
  static std::string checkpoint(std::int64_t config_id, std::int32_t epoch) {
    return "null:" + std::to_string(config_id) + "@" + std::to_string(epoch);
  }
  static double score(const Configuration& c, std::int32_t epoch) {
    const auto h = std::hash<std::string>{}(describe(c));
    return 0.2 + 0.4 * static_cast<double>(h % 1000) / 1000.0 + 0.1 * (1.0 - std::exp(-0.2 * epoch));
  }
};

}  // namespace

std::unique_ptr<Objective> make_gldnet_objective(const GLDNetObjectiveOptions& options) {
  return std::make_unique<GLDNetObjective>(options);
}

std::unique_ptr<Objective> make_null_objective() { return std::make_unique<NullObjective>(); }

}  // namespace crimegraph
