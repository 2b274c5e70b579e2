#include "crimegraph/options.hpp"

#include <spdlog/spdlog.h>

#include <iostream>
#include <sstream>
#include <limits>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
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

void store_command_line(int argc, const char* const* argv, const po::options_description& desc,
                        const po::positional_options_description& positional, po::variables_map& vm) {
  // Words beyond the positional arguments land in a hidden option, so the error can name them.
  constexpr const char* kStray = "unexpected-argument";
  po::options_description all;
  all.add(desc).add_options()(kStray, po::value<std::vector<std::string>>());
  po::positional_options_description with_stray = positional;
  const bool bounded = positional.max_total_count() != std::numeric_limits<unsigned>::max();
  if (bounded) with_stray.add(kStray, -1);
  auto parsed = po::command_line_parser(argc, argv).options(all).positional(with_stray).run();
  for (const auto& option : parsed.options) {
    if (option.string_key == kStray && !option.value.empty()) {
      throw ConfigError("unexpected argument '" + option.value.front() + "' (options start with --; see --help)");
    }
  }
  po::store(parsed, vm);  // while `all`, which `parsed` points to, lives
}

std::uint64_t non_negative(const po::variables_map& vm, const std::string& name) {
  const auto value = vm[name].as<std::int64_t>();
  if (value < 0) throw ConfigError("--" + name + " must not be negative (got " + std::to_string(value) + ")");
  return static_cast<std::uint64_t>(value);
}

std::vector<std::string> store_config_text(const std::string& text, const std::string& path, const std::string& what,
                                           const po::options_description& desc, po::variables_map& vm) {
  std::istringstream in(text);
  try {
    const auto parsed = po::parse_config_file(in, desc);
    po::store(parsed, vm);
    std::vector<std::string> keys;
    for (const auto& option : parsed.options) keys.push_back(option.string_key);
    return keys;
  } catch (const po::error& e) {
    throw ConfigError(what + " '" + path + "': " + e.what());
  }
}

bool parse_options(int argc, const char* const* argv, const po::options_description& desc,
                   const po::positional_options_description& positional, po::variables_map& vm,
                   const std::string& usage) {
  try {
    store_command_line(argc, argv, desc, positional, vm);
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
      store_config_text(read_text_file(path, "config file"), path, "config file", desc, vm);
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
    std::cerr << program << ": error: " << one_line(e.what()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << one_line(e.what()) << "\n";
    return 2;
  }
}

}  // namespace crimegraph
