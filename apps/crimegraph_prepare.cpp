// crimegraph-prepare: makes and inspects dataset files.
//   crimegraph-prepare synth --out FILE.h5 [--nodes N | --graph FILE] [--days D] [--seed S]
//   crimegraph-prepare inspect FILE.h5 [--lookback L]
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/data/events.hpp"
#include "crimegraph/data/gis_graph.hpp"
#include "crimegraph/io/checksum.hpp"
#include "crimegraph/version.hpp"
#include <spdlog/fmt/fmt.h>
#include "crimegraph/model/inspect.hpp"
#include "crimegraph/data/synthetic_city.hpp"
#include "crimegraph/io/csv.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/logging.hpp"
#include "crimegraph/options.hpp"

using namespace crimegraph;

namespace {

const char* kUsage =
    "Usage: crimegraph-prepare COMMAND [options]\n"
    "Commands:\n"
    "  graph    build a street graph from a GIS line layer, GraphML or a nodes/edges CSV pair\n"
    "  events   count crime report CSVs on a street graph into a dataset file\n"
    "  synth    generate a synthetic city (street grid or a given graph + self-exciting events)\n"
    "  inspect  summarise a dataset file: graph, calendar, events, windows, baselines\n"
    "Run 'crimegraph-prepare COMMAND --help' for the options of a command.";

int synth(int argc, const char* const* argv) {
  po::options_description desc("crimegraph-prepare synth options");
  add_standard_options(desc);
  StreetGridOptions grid;
  EventProcessOptions events;
  desc.add_options()
      ("out,o", po::value<std::string>()->required(), "dataset file to write (.h5)")
      ("preset", po::value<std::string>()->default_value("default"),
       "event process: default (an easy city), or baltimore-like (calibrated to the original study: naive hit "
       "rate near 0.34; on the committed central-Baltimore graph unless --graph or --nodes says otherwise)")
      ("nodes", po::value<std::int32_t>(&grid.nodes)->default_value(grid.nodes), "street segments of the synthetic grid")
      ("graph", po::value<std::string>(), "use the street graph of this dataset file instead of a grid")
      ("days", po::value<std::int32_t>(&events.days)->default_value(events.days), "days to simulate")
      ("seed", po::value<std::int64_t>()->default_value(static_cast<std::int64_t>(events.seed)), "random seed")
      ("start-date", po::value<std::string>()->default_value("2014-01-01"), "calendar date of the first day")
      ("smoothing", po::value<double>(&events.smoothing)->default_value(events.smoothing),
       "exponential smoothing factor of the feature channels")
      ("alpha", po::value<double>(&grid.alpha_m)->default_value(grid.alpha_m), "edge weight kernel width, metres")
      ("hotspot-sigma", po::value<double>(&events.hotspot_sigma)->default_value(events.hotspot_sigma),
       "log-standard deviation of the background rates")
      ("decay", po::value<double>(&events.decay)->default_value(events.decay), "daily decay of the triggering")
      ("base-rates", po::value<std::string>(), "background events per segment-day of Arrest,Property,Violent (e.g. 0.01,0.02,0.003)")
      ("excitation-scale", po::value<double>()->default_value(1.0), "multiplies every triggering effect")
      ("neighbour-share", po::value<double>(&events.neighbour_share)->default_value(events.neighbour_share),
       "share of an event's triggering that reaches the neighbouring segments")
      ("shared-hotspots", po::value<double>(&events.shared_hotspot_share)->default_value(events.shared_hotspot_share),
       "correlation of the categories' hotspot fields (0..1)")
      ("hidden-risk", po::value<double>(&events.latent_sigma)->default_value(events.latent_sigma),
       "log-standard deviation of a hidden, drifting violent risk per segment (0: none)")
      ("hidden-risk-persistence", po::value<double>(&events.latent_persistence)->default_value(events.latent_persistence),
       "day-to-day autocorrelation of the hidden risk")
      ("lookback", po::value<std::int32_t>()->default_value(14), "lookback for the summary printed afterwards");
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, {}, vm, "Usage: crimegraph-prepare synth --out FILE.h5 [options]")) return 0;
  setup_logging(vm["log-level"].as<std::string>());
  // The preset's process, with each option given on the command line on top.
  {
    const auto given = events;
    events = event_process_preset(vm["preset"].as<std::string>());
    if (!vm["days"].defaulted()) events.days = given.days;
    if (!vm["smoothing"].defaulted()) events.smoothing = given.smoothing;
    if (!vm["hotspot-sigma"].defaulted()) events.hotspot_sigma = given.hotspot_sigma;
    if (!vm["decay"].defaulted()) events.decay = given.decay;
    if (!vm["neighbour-share"].defaulted()) events.neighbour_share = given.neighbour_share;
    if (!vm["shared-hotspots"].defaulted()) events.shared_hotspot_share = given.shared_hotspot_share;
    if (!vm["hidden-risk"].defaulted()) events.latent_sigma = given.latent_sigma;
    if (!vm["hidden-risk-persistence"].defaulted()) events.latent_persistence = given.latent_persistence;
  }
  if (vm["preset"].as<std::string>() == "baltimore-like" && !vm.count("graph") && vm["nodes"].defaulted()) {
    const std::string committed = "data/central-baltimore/streets.h5";
    if (!std::filesystem::exists(committed)) {
      throw ConfigError("--preset baltimore-like uses " + committed + ": run from the repository, or give --graph");
    }
    vm.insert({"graph", po::variable_value(committed, false)});
  }
  events.start_day = parse_iso_date(vm["start-date"].as<std::string>());
  if (vm.count("base-rates")) {
    const auto text = vm["base-rates"].as<std::string>();
    std::vector<std::string_view> rates;
    split_csv_line(text, rates);
    if (rates.size() != 3) throw ConfigError("--base-rates takes three rates: Arrest,Property,Violent");
    for (std::size_t c = 0; c < 3; ++c) {
      events.base_rate[c] = parse_number(std::string(rates[c]), "--base-rates");
      if (!(events.base_rate[c] >= 0 && events.base_rate[c] < 10)) throw ConfigError("--base-rates must be 0 to 10 each");
    }
  }
  const double scale = vm["excitation-scale"].as<double>();
  if (!(scale >= 0 && scale < 100)) throw ConfigError("--excitation-scale must be 0 to 100");
  for (auto& row : events.excitation)
    for (auto& a : row) a *= scale;
  if (!(events.shared_hotspot_share >= 0 && events.shared_hotspot_share <= 1)) {
    throw ConfigError("--shared-hotspots must be 0 to 1");
  }
  if (!(events.neighbour_share >= 0 && events.neighbour_share < 10)) throw ConfigError("--neighbour-share must be 0 to 10");
  events.seed = non_negative(vm, "seed");
  grid.seed = events.seed;

  const auto t0 = std::chrono::steady_clock::now();
  StreetGraph graph;
  if (vm.count("graph")) {
    graph = read_street_graph(vm["graph"].as<std::string>());
    if (!vm["alpha"].defaulted()) graph.reweight(grid.alpha_m);
    spdlog::info("street graph from {}: {} nodes, {} edges", vm["graph"].as<std::string>(), graph.node_count(),
                 graph.edges.size());
  } else {
    if (grid.nodes < 2) throw ConfigError("--nodes must be at least 2");
    graph = synthetic_street_grid(grid);
    spdlog::info("synthetic street grid: {} nodes, {} edges", graph.node_count(), graph.edges.size());
  }
  auto dataset = simulate_city(std::move(graph), events);
  if (vm.count("graph")) dataset.provenance["graph_source"] = vm["graph"].as<std::string>();
  const auto t1 = std::chrono::steady_clock::now();
  const auto out = vm["out"].as<std::string>();
  // The summary first: a dataset too short for its windows is refused before anything is written.
  const auto summary = inspect_report(dataset, vm["lookback"].as<std::int32_t>());
  write_dataset(dataset, out);
  const auto t2 = std::chrono::steady_clock::now();
  spdlog::info("simulated {} days in {:.2f} s, wrote {} in {:.2f} s", events.days,
               std::chrono::duration<double>(t1 - t0).count(), out, std::chrono::duration<double>(t2 - t1).count());
  std::cout << summary;
  return 0;
}

int parse_epsg(const std::string& text) {
  std::string digits = text.rfind("EPSG:", 0) == 0 || text.rfind("epsg:", 0) == 0 ? text.substr(5) : text;
  try {
    std::size_t used = 0;
    const int code = std::stoi(digits, &used);
    if (used == digits.size() && code > 0) return code;
  } catch (const std::exception&) {
  }
  throw ConfigError("--crs: '" + text + "' is not an EPSG code (e.g. EPSG:26985)");
}

int graph(int argc, const char* const* argv) {
  po::options_description desc("crimegraph-prepare graph options");
  add_standard_options(desc);
  desc.add_options()
      ("input", po::value<std::string>()->required(),
       "street centreline file: any GDAL line layer (.shp, .gpkg, .geojson...), a GraphML file (.graphml), "
       "or a nodes CSV (with --edges)")
      ("edges", po::value<std::string>(), "edges CSV (u,v,distance_m) when the input is a nodes CSV")
      ("out,o", po::value<std::string>()->required(), "graph file to write (.h5, the dataset format without days)")
      ("layer", po::value<std::string>()->default_value(""), "layer name (default: the first)")
      ("crs", po::value<std::string>()->default_value("EPSG:26985"), "metric CRS to work in")
      ("bbox", po::value<std::string>(), "keep segments intersecting minLat,minLon,maxLat,maxLon")
      ("alpha", po::value<double>()->default_value(750.0), "Gaussian edge weight width, metres")
      ("id-field", po::value<std::string>()->default_value(""), "segment id field (default: OBJECTID if present, else the feature id)")
      ("name-field", po::value<std::string>()->default_value(""), "street name field (default: ROAD_NAME or name)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, pos, vm, "Usage: crimegraph-prepare graph INPUT --out graph.h5 [options]")) return 0;
  setup_logging(vm["log-level"].as<std::string>());
  const auto input = vm["input"].as<std::string>();
  const double alpha = vm["alpha"].as<double>();
  if (!(alpha > 0)) throw ConfigError("--alpha must be positive");
  const int epsg = parse_epsg(vm["crs"].as<std::string>());
  const auto t0 = std::chrono::steady_clock::now();
  CrimeDataset ds;
  const auto ends_with = [&](const std::string& suffix) {
    return input.size() >= suffix.size() && input.compare(input.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (vm.count("edges")) {
    ds.graph = read_csv_street_graph(input, vm["edges"].as<std::string>(), alpha);
  } else if (ends_with(".graphml")) {
    ds.graph = read_graphml_street_graph(input, epsg, alpha);
  } else {
    GisGraphOptions o;
    o.path = input;
    o.layer = vm["layer"].as<std::string>();
    o.target_epsg = epsg;
    if (vm.count("bbox")) o.bbox = parse_bbox(vm["bbox"].as<std::string>());
    o.alpha_m = alpha;
    o.id_field = vm["id-field"].as<std::string>();
    o.name_field = vm["name-field"].as<std::string>();
    ds.graph = read_gis_street_graph(o);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ds.provenance["creator"] = "crimegraph-prepare graph";
  ds.provenance["software_version"] = kVersion;
  ds.provenance["source"] = input + (vm.count("edges") ? " + " + vm["edges"].as<std::string>() : "");
  ds.provenance["source_sha256"] = file_sha256(input);
  ds.provenance["crs"] = ds.graph.crs;
  if (vm.count("bbox")) ds.provenance["bbox"] = vm["bbox"].as<std::string>();
  ds.provenance["alpha_m"] = std::to_string(alpha);
  const auto out = vm["out"].as<std::string>();
  write_dataset(ds, out);
  spdlog::info("built the street graph in {:.2f} s", seconds);
  std::cout << fmt::format("graph {}: {} nodes, {} edges, built in {:.2f} s\n", out, ds.graph.node_count(),
                           ds.graph.edges.size(), seconds);
  return 0;
}

int events(int argc, const char* const* argv) {
  po::options_description desc("crimegraph-prepare events options");
  add_standard_options(desc);
  desc.add_options()
      ("graph", po::value<std::string>()->required(), "street graph file (from 'crimegraph-prepare graph')")
      ("input", po::value<std::vector<std::string>>()->required()->composing(), "crime report CSV files (.csv or .csv.gz)")
      ("out,o", po::value<std::string>()->required(), "dataset file to write (.h5)")
      ("preset", po::value<std::string>()->default_value("spotcrime"), "column preset: spotcrime, chicago or baltimore")
      ("columns", po::value<std::string>(), "column overrides, e.g. date=Occurred,type=Offense,lat=Lat,lon=Lon")
      ("date-format", po::value<std::string>(), "date format, e.g. '%m/%d/%Y %I:%M:%S %p' (default: the preset's)")
      ("categories", po::value<std::string>(), "category mapping file (default: the original study's)")
      ("bbox", po::value<std::string>(), "keep events inside minLat,minLon,maxLat,maxLon (default: the graph's box)")
      ("snap", po::value<std::string>()->default_value("centroid"),
       "centroid (nearest segment centroid, as the original study) or segment (nearest segment line)")
      ("max-snap-m", po::value<double>()->default_value(500.0),
       "drop (and count) events farther than this many metres from the segment they would snap to")
      ("smoothing", po::value<double>()->default_value(0.5), "exponential smoothing factor of the channels")
      ("start-date", po::value<std::string>(), "first calendar day (default: the first event's)")
      ("end-date", po::value<std::string>(), "last calendar day (default: the last event's)")
      ("strict", "stop at the first bad row instead of counting it")
      ("lookback", po::value<std::int32_t>()->default_value(14), "lookback for the summary printed afterwards");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, pos, vm,
                     "Usage: crimegraph-prepare events --graph streets.h5 --out city.h5 CRIMES.csv[.gz] ... [options]")) {
    return 0;
  }
  setup_logging(vm["log-level"].as<std::string>());
  EventImportOptions o;
  o.inputs = vm["input"].as<std::vector<std::string>>();
  o.columns = csv_preset(vm["preset"].as<std::string>());
  if (vm.count("columns")) apply_column_overrides(o.columns, vm["columns"].as<std::string>());
  if (vm.count("date-format")) o.columns.date_format = vm["date-format"].as<std::string>();
  const auto snap = vm["snap"].as<std::string>();
  if (snap != "centroid" && snap != "segment") throw ConfigError("--snap must be centroid or segment");
  o.snap = snap == "centroid" ? SnapMode::Centroid : SnapMode::Segment;
  o.max_snap_m = vm["max-snap-m"].as<double>();
  if (!(o.max_snap_m > 0)) throw ConfigError("--max-snap-m must be positive");
  o.smoothing = vm["smoothing"].as<double>();
  if (!(o.smoothing > 0 && o.smoothing <= 1)) throw ConfigError("--smoothing must be in (0, 1]");
  o.strict = vm.count("strict") > 0;
  if (vm.count("start-date")) o.first_day = parse_iso_date(vm["start-date"].as<std::string>());
  if (vm.count("end-date")) o.last_day = parse_iso_date(vm["end-date"].as<std::string>());
  if (o.first_day && o.last_day && *o.last_day < *o.first_day) {
    throw ConfigError("--end-date " + vm["end-date"].as<std::string>() + " is before --start-date " +
                      vm["start-date"].as<std::string>());
  }
  auto categories = vm.count("categories") ? CategoryMap::from_file(vm["categories"].as<std::string>())
                                           : CategoryMap::original_study();
  const auto graph_path = vm["graph"].as<std::string>();
  const auto graph_file = read_dataset(graph_path);
  if (vm.count("bbox")) {
    o.bbox = parse_bbox(vm["bbox"].as<std::string>());
  } else if (graph_file.provenance.count("bbox")) {
    o.bbox = parse_bbox(graph_file.provenance.at("bbox"));
  }
  ImportReport report;
  auto ds = import_events(graph_file.graph, std::move(categories), o, report);
  ds.provenance["graph_source"] = graph_path;
  const auto out = vm["out"].as<std::string>();
  const auto summary = inspect_report(ds, vm["lookback"].as<std::int32_t>());  // refused before writing
  write_dataset(ds, out);
  std::cout << fmt::format("{} rows read, {} events kept in {:.2f} s ({:.2f} million rows/s parsing)\n", report.rows,
                           report.kept, report.total_seconds, report.rows / std::max(report.parse_seconds, 1e-9) / 1e6);
  for (const auto& [reason, count] : report.dropped) std::cout << fmt::format("  dropped {:>9}  {}\n", count, reason);
  for (const auto& e : report.examples) std::cout << "  e.g. " << e << "\n";
  std::cout << summary;
  return 0;
}

int inspect(int argc, const char* const* argv) {
  po::options_description desc("crimegraph-prepare inspect options");
  add_standard_options(desc);
  desc.add_options()
      ("dataset", po::value<std::string>()->required(), "dataset file (.h5); may be given as the first argument")
      ("lookback", po::value<std::int32_t>()->default_value(14), "lookback days for the window counts")
      ("coverage", po::value<double>()->default_value(0.2), "share of segments flagged for the hit rates")
      ("hit-rate", po::value<std::string>()->default_value("day-mean"), "day-mean, event-weighted or street-length");
  po::positional_options_description pos;
  pos.add("dataset", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, pos, vm, "Usage: crimegraph-prepare inspect FILE.h5 [options]")) return 0;
  setup_logging(vm["log-level"].as<std::string>());
  HitRateOptions hr;
  hr.coverage = vm["coverage"].as<double>();
  hr.kind = parse_hit_rate_kind(vm["hit-rate"].as<std::string>());
  const auto dataset = read_dataset(vm["dataset"].as<std::string>());
  std::cout << inspect_report(dataset, vm["lookback"].as<std::int32_t>(), hr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("crimegraph-prepare", [&] {
    const std::string command = argc > 1 ? argv[1] : "";
    // Sub-command options are parsed from argv[1..]: argv[1] plays the program name.
    if (command == "synth") return synth(argc - 1, argv + 1);
    if (command == "inspect") return inspect(argc - 1, argv + 1);
    if (command == "graph") return graph(argc - 1, argv + 1);
    if (command == "events") return events(argc - 1, argv + 1);
    if (command == "--version") {
      po::options_description d;
      add_standard_options(d);
      po::variables_map vm;
      parse_options(argc, argv, d, {}, vm, kUsage);
      return 0;
    }
    if (command == "--help" || command == "-h") {
      std::cout << kUsage << "\n";
      return 0;
    }
    std::cerr << kUsage << "\n";
    throw ConfigError(command.empty() ? "no command given" : "unknown command '" + command + "'");
  });
}
