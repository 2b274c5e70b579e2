#pragma once
// Command-line plumbing shared by the executables: the standard options every tool has
// (--help, --version, --config, --log-level), config-file merging, and the error edge.
#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace crimegraph {

namespace po = boost::program_options;

/// Adds --help, --version, --config FILE and --log-level LEVEL to `desc`.
void add_standard_options(po::options_description& desc);

/// Parses argv alone into `vm`: a word beyond `positional`'s arguments is a ConfigError naming it.
void store_command_line(int argc, const char* const* argv, const po::options_description& desc,
                        const po::positional_options_description& positional, po::variables_map& vm);

/// The int64 option `name` as an unsigned value (seeds, counts): a negative one is a ConfigError,
/// where an unsigned option would have wrapped it silently.
std::uint64_t non_negative(const po::variables_map& vm, const std::string& name);

/// Stores the INI-style `text` of the file `path` into `vm` and returns the keys it set (a value
/// the command line already gave is kept); an error names the file as "<what> '<path>'".
std::vector<std::string> store_config_text(const std::string& text, const std::string& path, const std::string& what,
                       const po::options_description& desc, po::variables_map& vm);

/// Parses argv (and then the INI-style config file named by --config, whose values the
/// command line overrides) into `vm`. Prints help or version and returns false when the
/// user asked for them. Unknown options are a ConfigError.
bool parse_options(int argc, const char* const* argv, const po::options_description& desc,
                   const po::positional_options_description& positional, po::variables_map& vm,
                   const std::string& usage);

/// Runs `body` and turns any exception into a one-line message on stderr and a non-zero
/// exit code: 1 for crimegraph::Error (bad input), 2 for anything else (a bug).
int run_guarded(const std::string& program, const std::function<int()>& body);

}  // namespace crimegraph
