#pragma once
// The hyperparameter search space: integer, float and choice parameters with defaults,
// read from an INI-style file and validated before any search starts.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace crimegraph {

/// One configuration: hyperparameter name -> value (integers and choices are stored as doubles).
using Configuration = std::map<std::string, double>;
std::string describe(const Configuration& config);

struct Parameter {
  enum class Kind { Int, Float, Choice };
  std::string name;
  Kind kind = Kind::Int;
  double min = 0, max = 0;
  double step = 0;              ///< Int: >= 1; Float: 0 means continuous
  bool log = false;             ///< Float: sample log-uniformly
  std::vector<double> values;   ///< Choice
  bool ordered = false;         ///< Choice: values have an order (informational)
  double default_value = 0;

  /// Throws ConfigError naming the parameter when the definition is inconsistent.
  void validate() const;
  double sample(std::mt19937_64& rng) const;
  /// The smallest and largest value it can take (a choice's too).
  double smallest() const;
  double largest() const;
  /// "int 1..4 step 1 (default 2)".
  std::string describe() const;
};

class SearchSpace {
 public:
  SearchSpace() = default;
  explicit SearchSpace(std::vector<Parameter> parameters);

  /// Parses the [space] section of an INI-style file, one parameter per line:
  ///   name = int MIN MAX [step=S] [default=D]
  ///   name = float MIN MAX [step=S] [log] [default=D]
  ///   name = choice V1,V2,... [ordered] [default=D]
  static SearchSpace from_file(const std::string& path);
  static SearchSpace parse(const std::string& text, const std::string& origin = "<text>");
  /// The original study's space.
  static SearchSpace original_study();

  /// Checks every parameter, and that no name appears twice. Whether the names mean anything
  /// is the objective's to say (check_gldnet_space).
  void validate() const;
  const std::vector<Parameter>& parameters() const { return parameters_; }
  Configuration defaults() const;
  Configuration sample(std::mt19937_64& rng) const;
  /// The space written back in the file syntax (stored in the results file).
  std::string to_text() const;

 private:
  std::vector<Parameter> parameters_;
};

}  // namespace crimegraph
