// crimegraph-train: trains and evaluates one GLDNet configuration, given or taken from a
// search's results file.
//   crimegraph-train --dataset FILE.h5 [--config FILE] [--set name=value ...] [--epochs 25]
//                    [--seed S] [--threads N] [--save model.ckpt]
//   crimegraph-train --from RESULTS.h5 [--trial ID] [--evaluate] [--dataset FILE.h5] ...
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <thread>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/machine.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/logging.hpp"
#include "crimegraph/model/baselines.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"
#include "crimegraph/model/trainer.hpp"
#include "crimegraph/model/hyperparameter_options.hpp"
#include "crimegraph/search/results_reader.hpp"

using namespace crimegraph;

namespace {

// What --from takes from a results file.
struct FromResults {
  Hyperparameters hyperparameters;  // the search's fixed ones, then the trial's searched ones
  std::int32_t epochs = 0;          // the trial's, or the final retraining's
  std::string dataset, origin;
  std::string checkpoint;           // with --evaluate: the state to score
};

FromResults from_results(const po::variables_map& vm) {
  const ResultsReader results(vm["from"].as<std::string>());
  FromResults out;
  out.dataset = results.setting("dataset");
  // Every checkpoint names all its hyperparameters, the fixed ones included.
  const auto& kept = !results.final_checkpoint().empty() ? results.final_checkpoint() : results.best_checkpoint();
  if (kept.empty()) throw ConfigError("'" + results.path() + "' has no finished trial to take a configuration from");
  out.hyperparameters = Trainer::checkpoint_hyperparameters(kept);
  const auto& trials = results.trials();
  const auto best = static_cast<std::int64_t>(attribute_number(results.best(), "trial_id"));
  const std::int64_t id = vm.count("trial") ? vm["trial"].as<std::int64_t>() : best;
  std::size_t row = trials.rows();
  for (std::size_t i = 0; i < trials.rows(); ++i)
    if (trials.column("trial_id").integers[i] == id) row = i;
  if (row == trials.rows()) throw ConfigError("'" + results.path() + "' has no trial " + std::to_string(id));
  for (const auto& name : results.hyperparameters()) out.hyperparameters.set(name, trials.column(name).reals[row]);
  const bool final_model = !vm.count("trial") && !results.final_checkpoint().empty();
  out.epochs = final_model ? static_cast<std::int32_t>(attribute_number(results.final_result(), "epochs"))
                           : static_cast<std::int32_t>(trials.column("end_epoch").integers[row]);
  out.origin = fmt::format("{}, {} (score {})", results.path(),
                           final_model ? "the best configuration, as retrained" : "trial " + std::to_string(id),
                           fmt::format("{:.4f}", trials.column("score").reals[row]));
  if (vm["evaluate"].as<bool>()) {
    if (final_model) out.checkpoint = results.final_checkpoint();
    else if (id == best) out.checkpoint = results.best_checkpoint();
    else throw ConfigError("--evaluate: only the best trial's (" + std::to_string(best) + ") and the final model's states are kept");
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("crimegraph-train", [&] {
    po::options_description desc("crimegraph-train options");
    add_standard_options(desc);
    desc.add_options()
        ("dataset", po::value<std::string>(), "dataset file (.h5); with --from, default the search's")
        ("from", po::value<std::string>(), "take the configuration from a search's results file: its best trial, "
                                           "or --trial's, over the search's fixed hyperparameters")
        ("trial", po::value<std::int64_t>(), "with --from: this trial's configuration and epochs")
        ("evaluate", po::bool_switch(), "with --from: score the file's final retrained model on the test split "
                                        "(or, with --trial, the best trial's kept state) without training")
        ("epochs", po::value<std::int32_t>()->default_value(25), "training epochs")
        ("seed", po::value<std::int64_t>()->default_value(1), "seed of weight initialisation and batch order")
        ("threads", po::value<std::int32_t>()->default_value(1), "intra-op threads")
        ("coverage", po::value<double>()->default_value(0.2), "share of segments flagged by the hit rate")
        ("hit-rate", po::value<std::string>()->default_value("day-mean"), "day-mean, event-weighted or street-length")
        ("save", po::value<std::string>(), "write the trained model's checkpoint here");
    add_hyperparameter_options(desc);
    po::variables_map vm;
    if (!parse_options(argc, argv, desc, {}, vm,
                       "Usage: crimegraph-train --dataset FILE.h5 [--config FILE] [--set name=value ...] [--epochs 25]\n"
                       "Hyperparameters go in a [model] section of the config file or in --set.")) {
      return 0;
    }
    setup_logging(vm["log-level"].as<std::string>());
    // Everything the user gave is validated before the dataset is read.
    if (!vm.count("from") && (vm.count("trial") || vm["evaluate"].as<bool>())) throw ConfigError("--trial and --evaluate go with --from");
    const auto source = vm.count("from") ? from_results(vm) : FromResults{};
    const auto hp = hyperparameters_from(vm, source.hyperparameters);
    const auto kernel = describe_simd_target("");  // a CRIMEGRAPH_SIMD this CPU cannot run fails before the dataset is read
    const auto epochs = vm["epochs"].defaulted() && source.epochs > 0 ? source.epochs : vm["epochs"].as<std::int32_t>();
    if (epochs < 1) throw ConfigError("--epochs must be at least 1");
    if (vm.count("save")) check_output_path(vm["save"].as<std::string>(), "--save");
    TrainerOptions options;
    options.seed = non_negative(vm, "seed");
    options.threads = vm["threads"].as<std::int32_t>();
    if (options.threads < 1) throw ConfigError("--threads must be at least 1");
    if (const auto cores = std::thread::hardware_concurrency(); cores > 0 && options.threads > static_cast<int>(cores)) {
      spdlog::warn("--threads {} is more than this machine's {} cores: training will be slower, not faster",
                   options.threads, cores);
    }
    options.hit_rate.coverage = vm["coverage"].as<double>();
    options.hit_rate.kind = parse_hit_rate_kind(vm["hit-rate"].as<std::string>());
    options.hit_rate.validate();

    if (!vm.count("dataset") && source.dataset.empty()) throw ConfigError("--dataset is required (or --from a results file)");
    const auto path = vm.count("dataset") ? vm["dataset"].as<std::string>() : source.dataset;
    const auto dataset = read_dataset(path);
    if (hp.smoothing != 0.0) check_channels_are_smoothed_counts(dataset.channels, dataset.categories, "'" + path + "'");
    auto own_data = std::make_shared<TrainingData>(dataset, hp.smoothing);
    // Before the model is made: a configuration that cannot fit would fail there, or thrash.
    const double need = static_cast<double>(training_memory_bytes(hp, own_data->nodes(), own_data->smoothed_width(),
                                                                  options.threads));
    const double usable = static_cast<double>(usable_memory_bytes());
    if (usable > 0 && need > 0.8 * usable) {
      spdlog::warn("this configuration needs about {} to train, of this machine's {}: it may run out of memory",
                   describe_bytes(need), describe_bytes(usable));
    }
    // Training smooths every window's inputs once, as a search's workers read them, instead of
    // each group's days every epoch; not when only evaluating, nor when the table would crowd
    // the model out of memory.
    const double table = static_cast<double>(own_data->smoothed_table_bytes());
    if (source.checkpoint.empty() && (usable <= 0 || need + table <= 0.8 * usable)) {
      own_data->cache_smoothed_windows(hp.lookback);
    }
    std::shared_ptr<const TrainingData> data = std::move(own_data);
    Trainer trainer(data, hp, options);
    std::cout << fmt::format("dataset {}: {} nodes, {} days; windows train {}, validation {}, test {}\n", path,
                             dataset.nodes(), dataset.days(), trainer.windows().count(Split::Train),
                             trainer.windows().count(Split::Validation), trainer.windows().count(Split::Test));
    const auto windows_table = data->cached_bytes() ? fmt::format(" and {} of smoothed windows",
                                                                 describe_bytes(static_cast<double>(data->cached_bytes())))
                                                    : std::string();
    std::cout << fmt::format("model   GLDNet, {} parameters, about {} in training{}; {}\n", trainer.parameter_count(),
                             describe_bytes(need), windows_table, hp.describe());
    std::cout << fmt::format("kernel  {}\n", kernel);
    std::cout << fmt::format("scoring {}\n", options.hit_rate.describe());
    if (!source.origin.empty()) std::cout << fmt::format("from     {}\n", source.origin);
    if (!source.checkpoint.empty()) {
      trainer.restore(source.checkpoint);
      std::cout << fmt::format("restored the model after {} epochs; evaluating only\n", trainer.epoch());
    } else trainer.fit(epochs, [&](const EpochRecord& r) {
      std::cout << fmt::format("epoch {:>3}/{}  loss {:.5f}  val loss {:.5f}  val hit rate {:.4f} {}  lr {:.5f}  "
                               "train {:.2f} s  eval {:.2f} s\n",
                               r.epoch, epochs, r.train_loss, r.validation_loss, r.validation_hit_rate,
                               describe(Interval{r.validation_low, r.validation_high}), r.learning_rate,
                               r.train_seconds, r.eval_seconds)
                << std::flush;
    });
    if (trainer.status() != TrialStatus::Ok) {
      std::cout << "training stopped: " << trial_status_name(trainer.status()) << ": " << trainer.message() << "\n";
    }
    const auto test = trainer.evaluate(Split::Test);
    const auto base = baseline_hit_rates(dataset, trainer.windows(), Split::Test, options.hit_rate);
    std::cout << fmt::format("test {} over {} days with events:\n", options.hit_rate.describe(), test.days_scored);
    std::cout << fmt::format("  GLDNet      {:.4f}  {}\n", test.hit_rate, describe(test.interval));
    std::cout << fmt::format("  naive       {:.4f}  {}  (yesterday's smoothed violent count)\n", base.naive,
                             describe(base.naive_interval));
    std::cout << fmt::format("  historical  {:.4f}  {}  (mean over the training days)\n", base.historical,
                             describe(base.historical_interval));
    if (base.oracle) {
      std::cout << fmt::format("  oracle      {:.4f}  {}  (true intensity)\n", *base.oracle, describe(base.oracle_interval));
    }
    const auto vs = compare_with_baselines(test.hit_rate, test.days, base);
    std::cout << fmt::format("  GLDNet - {}: {:+.4f}  {}  (paired; 95% intervals from a block bootstrap over weeks of "
                             "test days)\n",
                             vs.best_baseline, vs.gain, describe(vs.interval));
    if (vm.count("save")) {
      trainer.save(vm["save"].as<std::string>());
      spdlog::info("saved the model to {}", vm["save"].as<std::string>());
    }
    return trainer.status() == TrialStatus::Ok ? 0 : 3;
  });
}
