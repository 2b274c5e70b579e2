// crimegraph-train: trains and evaluates one GLDNet configuration.
//   crimegraph-train --dataset FILE.h5 [--config FILE] [--set name=value ...] [--epochs 25]
//                    [--seed S] [--threads N] [--save model.pt]
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/logging.hpp"
#include "crimegraph/model/baselines.hpp"
#include "crimegraph/model/gldnet_kernel.hpp"
#include "crimegraph/model/trainer.hpp"
#include "crimegraph/model/hyperparameter_options.hpp"

using namespace crimegraph;

int main(int argc, char** argv) {
  return run_guarded("crimegraph-train", [&] {
    po::options_description desc("crimegraph-train options");
    add_standard_options(desc);
    desc.add_options()
        ("dataset", po::value<std::string>()->required(), "dataset file (.h5)")
        ("epochs", po::value<std::int32_t>()->default_value(25), "training epochs")
        ("seed", po::value<std::uint64_t>()->default_value(1), "seed of weight initialisation and batch order")
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
    const auto hp = hyperparameters_from(vm);
    const auto kernel = describe_simd_target("");  // a CRIMEGRAPH_SIMD this CPU cannot run fails before the dataset is read
    const auto epochs = vm["epochs"].as<std::int32_t>();
    if (epochs < 1) throw ConfigError("--epochs must be at least 1");
    TrainerOptions options;
    options.seed = vm["seed"].as<std::uint64_t>();
    options.threads = vm["threads"].as<std::int32_t>();
    options.hit_rate.coverage = vm["coverage"].as<double>();
    options.hit_rate.kind = parse_hit_rate_kind(vm["hit-rate"].as<std::string>());
    options.hit_rate.validate();

    const auto path = vm["dataset"].as<std::string>();
    const auto dataset = read_dataset(path);
    auto data = std::make_shared<const TrainingData>(dataset);
    Trainer trainer(data, hp, options);
    std::cout << fmt::format("dataset {}: {} nodes, {} days; windows train {}, validation {}, test {}\n", path,
                             dataset.nodes(), dataset.days(), trainer.windows().count(Split::Train),
                             trainer.windows().count(Split::Validation), trainer.windows().count(Split::Test));
    std::cout << fmt::format("model   GLDNet, {} parameters; {}\n", trainer.parameter_count(), hp.describe());
    std::cout << fmt::format("kernel  {}\n", kernel);
    std::cout << fmt::format("scoring {}\n", options.hit_rate.describe());
    trainer.fit(epochs, [&](const EpochRecord& r) {
      std::cout << fmt::format("epoch {:>3}/{}  loss {:.5f}  val loss {:.5f}  val hit rate {:.4f}  lr {:.5f}  "
                               "train {:.2f} s  eval {:.2f} s\n",
                               r.epoch, epochs, r.train_loss, r.validation_loss, r.validation_hit_rate,
                               r.learning_rate, r.train_seconds, r.eval_seconds)
                << std::flush;
    });
    if (trainer.status() != TrialStatus::Ok) {
      std::cout << "training stopped: " << trial_status_name(trainer.status()) << ": " << trainer.message() << "\n";
    }
    const auto test = trainer.evaluate(Split::Test);
    const auto base = baseline_hit_rates(dataset, trainer.windows(), Split::Test, options.hit_rate);
    std::cout << fmt::format("test {} over {} days with events:\n", options.hit_rate.describe(), test.days_scored);
    std::cout << fmt::format("  GLDNet      {:.4f}\n", test.hit_rate);
    std::cout << fmt::format("  naive       {:.4f}  (yesterday's smoothed violent count)\n", base.naive);
    std::cout << fmt::format("  historical  {:.4f}  (mean over the training days)\n", base.historical);
    if (base.oracle) std::cout << fmt::format("  oracle      {:.4f}  (true intensity)\n", *base.oracle);
    if (vm.count("save")) {
      trainer.save(vm["save"].as<std::string>());
      spdlog::info("saved the model to {}", vm["save"].as<std::string>());
    }
    return trainer.status() == TrialStatus::Ok ? 0 : 3;
  });
}
