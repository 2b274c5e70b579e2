#pragma once
// GLDNet's hyperparameters, settable by name (config files, --set, the search space) with
// their valid ranges checked before any training starts.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace crimegraph {

struct Hyperparameters {
  std::int32_t num_gated_relu_layers = 2;
  std::int32_t num_gated_relu_hidden_units = 8;
  std::int32_t num_ldn_layers = 5;
  std::int32_t num_ldn_hidden_units = 4;
  double loss_rho = 0.03;
  double initial_learning_rate = 0.03;
  double learning_rate_decay = 0.95;  ///< multiplier per epoch of the exponential-decay schedule
  std::int32_t batch_size = 30;
  std::int32_t lookback = 14;
  /// Exponential smoothing factor of the input channels, recomputed from the dataset's daily
  /// counts; 0: the channels as the dataset was prepared.
  double smoothing = 0.0;

  /// Sets one hyperparameter from text ("8", "0.03"); throws ConfigError for an unknown name,
  /// a value that does not parse, a fraction given to an integer, or a value out of range.
  void set(const std::string& name, const std::string& value);
  void set(const std::string& name, double value);
  double get(const std::string& name) const;
  /// Applies "name=value" assignments in order.
  void apply(const std::vector<std::string>& assignments);
  /// "name=value" of every hyperparameter, in a fixed order; smoothing only when it is set, so
  /// that checkpoints and models made before it existed still name the same hyperparameters.
  std::string describe() const;
  std::map<std::string, double> values() const;

  struct Spec {
    std::string name;
    bool integer;
    double min, max;  ///< inclusive; a float's min is exclusive when `min_exclusive`
    bool min_exclusive;
    std::string help;
  };
  /// Every hyperparameter with its range, in a fixed order.
  static const std::vector<Spec>& specs();
  static bool is_known(const std::string& name);
};

bool operator==(const Hyperparameters& a, const Hyperparameters& b);

}  // namespace crimegraph
