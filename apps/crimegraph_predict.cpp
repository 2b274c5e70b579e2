// crimegraph-predict: where will violent crime be? Ranks a city's street segments for the day
// after its dataset's last (or a given past day) with a search's retrained model.
//   crimegraph-predict --results RESULTS.h5 --dataset CITY.h5 [--day YYYY-MM-DD] [--out PREFIX]
//                      [--map FILE.png] [--coverage 0.2] [--model final|best]
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/data/ranking_output.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/python.hpp"
#include "crimegraph/logging.hpp"
#include "crimegraph/model/forecast.hpp"
#include "crimegraph/model/trainer.hpp"
#include "crimegraph/options.hpp"
#include "crimegraph/search/results_reader.hpp"

using namespace crimegraph;

namespace {

std::string model_of(const ResultsReader& results, const std::string& which) {
  if (which == "final") {
    if (!results.final_checkpoint().empty()) return results.final_checkpoint();
    throw ConfigError("'" + results.path() + "' has no final retrained model (the search did not retrain, or has not "
                      "finished); --model best uses the best trial's");
  }
  if (which == "best") {
    if (!results.best_checkpoint().empty()) return results.best_checkpoint();
    throw ConfigError("'" + results.path() + "' has no best trial yet");
  }
  throw ConfigError("--model must be final or best, not '" + which + "'");
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("crimegraph-predict", [&] {
    po::options_description desc("crimegraph-predict options");
    add_standard_options(desc);
    desc.add_options()
        ("results", po::value<std::string>()->required(), "a search's results file, with its retrained model")
        ("dataset", po::value<std::string>()->required(), "the city's dataset (.h5), up to the latest day known")
        ("day", po::value<std::string>(), "the day to rank (YYYY-MM-DD): default the day after the dataset's last; "
                                          "a day inside the dataset is scored against its events")
        ("out", po::value<std::string>(), "write PREFIX.csv and PREFIX.geojson (default: beside the results file)")
        ("map", po::value<std::string>(), "draw the street network coloured by risk into this PNG (needs matplotlib)")
        ("coverage", po::value<double>()->default_value(0.2), "share of segments flagged")
        ("hit-rate", po::value<std::string>()->default_value("day-mean"), "day-mean, event-weighted or street-length")
        ("model", po::value<std::string>()->default_value("final"), "final (the retrained model) or best (best trial)")
        ("threads", po::value<std::int32_t>()->default_value(1), "intra-op threads");
    po::variables_map vm;
    if (!parse_options(argc, argv, desc, {}, vm,
                       "Usage: crimegraph-predict --results RESULTS.h5 --dataset CITY.h5 [--day YYYY-MM-DD] "
                       "[--out PREFIX] [--map FILE.png]")) {
      return 0;
    }
    setup_logging(vm["log-level"].as<std::string>());
    HitRateOptions scoring;
    scoring.coverage = vm["coverage"].as<double>();
    scoring.kind = parse_hit_rate_kind(vm["hit-rate"].as<std::string>());
    scoring.validate();
    const ResultsReader results(vm["results"].as<std::string>());
    const auto model = model_of(results, vm["model"].as<std::string>());
    const auto hp = Trainer::checkpoint_hyperparameters(model);

    auto dataset = read_dataset(vm["dataset"].as<std::string>());
    if (dataset.days() == 0) throw DataError("'" + vm["dataset"].as<std::string>() + "' has no days");
    const std::int32_t after_last = dataset.day_number.back() + 1;
    const std::int32_t wanted = vm.count("day") ? parse_iso_date(vm["day"].as<std::string>()) : after_last;
    const bool forecast = wanted == after_last;
    if (!forecast && (wanted < dataset.day_number.front() || wanted > dataset.day_number.back())) {
      throw ConfigError("--day " + iso_date(wanted) + " is outside the dataset (" + iso_date(dataset.day_number.front()) +
                        " to " + iso_date(dataset.day_number.back()) + ") and is not the day after it");
    }
    if (forecast) dataset = with_day_after(dataset);
    const std::int32_t target = wanted - dataset.day_number.front();

    // Outputs are checked before the work.
    const auto prefix = vm.count("out") ? vm["out"].as<std::string>()
                                        : (std::filesystem::path(results.path()).parent_path() /
                                           (results.setting("name", "search") + "-ranking-" + iso_date(wanted)))
                                              .string();
    const auto parent = std::filesystem::path(prefix).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
      throw ConfigError("the output folder '" + parent.string() + "' does not exist");
    }

    spdlog::info("ranking {} segments for {} ({}) with the {} model of '{}': {}", dataset.nodes(), iso_date(wanted),
                 forecast ? "the day after the data" : "a past day, scored against its events",
                 vm["model"].as<std::string>(), results.path(), hp.describe());
    const auto ranking = rank_segments(dataset, model, target, scoring, vm["threads"].as<std::int32_t>());

    RankedSegments out;
    out.day = iso_date(wanted);
    out.coverage = scoring.coverage;
    out.risk = ranking.risk;
    out.rank = ranking.rank;
    out.flagged = ranking.flagged;
    if (!forecast) {
      const auto* label = dataset.label.data() + static_cast<std::size_t>(target) * dataset.nodes();
      out.events.assign(label, label + dataset.nodes());
    }
    write_ranking_csv(prefix + ".csv", dataset.graph, out);
    write_ranking_geojson(prefix + ".geojson", dataset.graph, out);

    std::cout << fmt::format("{}: {} of {} segments flagged at {:.0f}% coverage ({})\n", out.day, ranking.flagged_count,
                             dataset.nodes(), 100.0 * scoring.coverage, hit_rate_kind_name(scoring.kind));
    std::cout << "highest predicted risk:\n";
    std::vector<std::int32_t> order(ranking.rank.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[ranking.rank[i] - 1] = static_cast<std::int32_t>(i);
    for (std::size_t k = 0; k < std::min<std::size_t>(10, order.size()); ++k) {
      const auto node = order[k];
      std::cout << fmt::format("  {:>3}. segment {:>8}  {:<28} risk {:.4f}\n", k + 1, dataset.graph.source_id[node],
                               dataset.graph.name[node].empty() ? "(unnamed)" : dataset.graph.name[node].substr(0, 28),
                               ranking.risk[node]);
    }
    if (!forecast) {
      std::int64_t segments = 0, found = 0;
      for (std::size_t i = 0; i < out.events.size(); ++i) {
        if (out.events[i] <= 0) continue;
        ++segments;
        found += ranking.flagged[i];
      }
      std::cout << fmt::format("that day: {} segments had violent events, {} of them flagged ({})\n", segments, found,
                               segments ? fmt::format("hit rate {:.4f}", static_cast<double>(found) / segments)
                                        : std::string("no events to score"));
    }
    std::cout << "ranking: " << prefix << ".csv, " << prefix << ".geojson\n";
    if (vm.count("map")) {
      run_python_module({"map", prefix + ".geojson", vm["map"].as<std::string>()});
    }
    return 0;
  });
}
