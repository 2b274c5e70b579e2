#include "crimegraph/options.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "crimegraph/error.hpp"
#include "crimegraph/version.hpp"

namespace crimegraph {

void add_standard_options(po::options_description& desc) {
  desc.add_options()
      ("help,h", "show this help and exit")
      ("version", "show the version and exit")
      ("config", po::value<std::string>(), "read options from this INI-style file (command line wins)")
      ("log-level", po::value<std::string>()->default_value("info"),
       "trace, debug, info, warn, error or off");
}

bool parse_options(int argc, const char* const* argv, const po::options_description& desc,
                   const po::positional_options_description& positional, po::variables_map& vm,
                   const std::string& usage) {
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << desc << "\n";
      return false;
    }
    if (vm.count("version")) {
      std::cout << argv[0] << " (CrimeGraph Search) " << kVersion << "\n";
      return false;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw ConfigError("cannot read config file '" + path + "'");
      po::store(po::parse_config_file(in, desc), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  return true;
}

int run_guarded(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace crimegraph
