// crimegraph-report: what a search found, from its results file, without Python, MPI or LibTorch.
//   crimegraph-report RESULTS.h5 [--top 10] [--csv FILE|-] [--columns a,b] [--json FILE|-] [--plots DIR]
//   crimegraph-report --compare A.h5 B.h5
//   crimegraph-report --schema
#include <functional>
#include <fstream>
#include <iostream>
#include <sstream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/python.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/logging.hpp"
#include "crimegraph/options.hpp"
#include "crimegraph/search/report.hpp"
#include "crimegraph/version.hpp"

using namespace crimegraph;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// Writes through a temporary name and renames, so a failed export leaves no half file; "-" is stdout.
void export_to(const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    return;
  }
  write_file_atomically(path, write);
}

}  // namespace

int main(int argc, char** argv) {
  return run_guarded("crimegraph-report", [&] {
    po::options_description desc("crimegraph-report options");
    add_standard_options(desc);
    desc.add_options()
        ("results", po::value<std::string>(), "the results file (a running search's .partial is read safely)")
        ("top", po::value<std::int64_t>()->default_value(10), "how many of the best configurations to list")
        ("csv", po::value<std::string>(), "write the trials table as CSV to this file ('-' for stdout)")
        ("columns", po::value<std::string>(), "with --csv: only these columns, comma-separated, in this order")
        ("curves-csv", po::value<std::string>(), "write the learning curves (one row per epoch) as CSV")
        ("json", po::value<std::string>(), "write the summary as JSON to this file ('-' for stdout)")
        ("plots", po::value<std::string>(), "draw the figures as PNG into this folder (needs python3-matplotlib)")
        ("compare", po::value<std::vector<std::string>>()->multitoken(), "two results files side by side")
        ("schema", po::bool_switch(), "print the results file's columns and attributes");
    po::positional_options_description positional;
    positional.add("results", 1);
    po::variables_map vm;
    if (!parse_options(argc, argv, desc, positional, vm,
                       "Usage: crimegraph-report RESULTS.h5 [--top 10] [--csv FILE|-] [--json FILE|-] [--plots DIR]\n"
                       "       crimegraph-report --compare A.h5 B.h5\n"
                       "       crimegraph-report --schema")) {
      return 0;
    }
    setup_logging(vm["log-level"].as<std::string>());
    if (vm["schema"].as<bool>()) {
      std::cout << schema_markdown();
      return 0;
    }
    const auto top = static_cast<std::size_t>(non_negative(vm, "top"));
    if (vm.count("compare")) {
      const auto files = vm["compare"].as<std::vector<std::string>>();
      if (files.size() != 2) throw ConfigError("--compare takes two results files");
      const ResultsReader a(files[0]), b(files[1]);
      print_comparison(a, summarize(a, top), b, summarize(b, top), std::cout);
      return 0;
    }
    if (!vm.count("results")) throw ConfigError("no results file given (crimegraph-report RESULTS.h5)");
    if (vm.count("columns") && !vm.count("csv")) throw ConfigError("--columns goes with --csv");
    const ResultsReader results(vm["results"].as<std::string>());
    const auto summary = summarize(results, top);
    bool exported = false;
    if (vm.count("csv")) {
      const auto columns = vm.count("columns") ? split_list(vm["columns"].as<std::string>()) : std::vector<std::string>{};
      export_to(vm["csv"].as<std::string>(), [&](std::ostream& out) { write_csv(results.trials(), columns, out); });
      exported = true;
    }
    if (vm.count("curves-csv")) {
      export_to(vm["curves-csv"].as<std::string>(), [&](std::ostream& out) { write_csv(results.curves(), {}, out); });
      exported = true;
    }
    if (vm.count("json")) {
      export_to(vm["json"].as<std::string>(), [&](std::ostream& out) { out << summary_json(results, summary); });
      exported = true;
    }
    if (vm.count("plots")) {
      run_python_module({"plots", results.path(), vm["plots"].as<std::string>()});
      exported = true;
    }
    if (!exported) print_report(results, summary, std::cout);
    return 0;
  });
}
