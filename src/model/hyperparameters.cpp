#include "crimegraph/model/hyperparameters.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"

namespace crimegraph {
namespace {

// One place maps names to fields, so set/get/describe cannot drift apart.
template <class F>
void visit(Hyperparameters& h, F&& f) {
  f("num_gated_relu_layers", h.num_gated_relu_layers);
  f("num_gated_relu_hidden_units", h.num_gated_relu_hidden_units);
  f("num_ldn_layers", h.num_ldn_layers);
  f("num_ldn_hidden_units", h.num_ldn_hidden_units);
  f("loss_rho", h.loss_rho);
  f("initial_learning_rate", h.initial_learning_rate);
  f("learning_rate_decay", h.learning_rate_decay);
  f("batch_size", h.batch_size);
  f("lookback", h.lookback);
  f("smoothing", h.smoothing);
}

std::string known_names() {
  std::string s;
  for (const auto& spec : Hyperparameters::specs()) s += (s.empty() ? "" : ", ") + spec.name;
  return s;
}

// The shortest text that reads back as the same double (fmt's default): a model file names its
// hyperparameters in this text, and a smoothing factor read back must recompute the same inputs.
std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

const std::vector<Hyperparameters::Spec>& Hyperparameters::specs() {
  static const std::vector<Spec> s = {
      {"num_gated_relu_layers", true, 1, 16, false, "gated ReLU layers over the lookback window"},
      {"num_gated_relu_hidden_units", true, 1, 1024, false, "units per gated ReLU layer"},
      {"num_ldn_layers", true, 1, 16, false, "localised diffusion layers (one graph hop each)"},
      {"num_ldn_hidden_units", true, 1, 1024, false, "units per diffusion layer"},
      {"loss_rho", false, 0, 1, true, "loss weight of segments without events"},
      {"initial_learning_rate", false, 0, 10, true, "Adam's initial learning rate"},
      {"learning_rate_decay", false, 0, 1, true, "learning rate multiplier per epoch"},
      {"batch_size", true, 1, 100000, false, "windows per training batch"},
      {"lookback", true, 1, 3650, false, "days of history per window"},
      {"smoothing", false, 0, 1, false,
       "exponential smoothing factor of the input channels, recomputed from the dataset's daily counts "
       "(0: as the dataset was prepared)"},
  };
  return s;
}

bool Hyperparameters::is_known(const std::string& name) {
  for (const auto& s : specs())
    if (s.name == name) return true;
  return false;
}

void Hyperparameters::set(const std::string& name, double value) {
  const Spec* spec = nullptr;
  for (const auto& s : specs())
    if (s.name == name) spec = &s;
  if (!spec) throw ConfigError("unknown hyperparameter '" + name + "' (known: " + known_names() + ")");
  if (!std::isfinite(value)) throw ConfigError("hyperparameter " + name + " must be a finite number");
  if (spec->integer && value != std::floor(value)) {
    throw ConfigError("hyperparameter " + name + " must be an integer, got " + number(value));
  }
  const bool below = spec->min_exclusive ? value <= spec->min : value < spec->min;
  if (below || value > spec->max) {
    throw ConfigError("hyperparameter " + name + " = " + number(value) + " is out of range " +
                      (spec->min_exclusive ? "(" : "[") + number(spec->min) + ", " + number(spec->max) + "]");
  }
  visit(*this, [&](const char* n, auto& field) {
    if (name == n) field = static_cast<std::decay_t<decltype(field)>>(value);
  });
}

void Hyperparameters::set(const std::string& name, const std::string& text) {
  if (!is_known(name)) throw ConfigError("unknown hyperparameter '" + name + "' (known: " + known_names() + ")");
  set(name, parse_number(text, "hyperparameter " + name));
}

double Hyperparameters::get(const std::string& name) const {
  double out = 0.0;
  bool found = false;
  visit(const_cast<Hyperparameters&>(*this), [&](const char* n, auto& field) {
    if (name == n) {
      out = static_cast<double>(field);
      found = true;
    }
  });
  if (!found) throw ConfigError("unknown hyperparameter '" + name + "' (known: " + known_names() + ")");
  return out;
}

void Hyperparameters::apply(const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError("'" + a + "' is not of the form name=value");
    set(a.substr(0, eq), a.substr(eq + 1));
  }
}

std::map<std::string, double> Hyperparameters::values() const {
  std::map<std::string, double> out;
  for (const auto& s : specs()) out[s.name] = get(s.name);
  return out;
}

std::string Hyperparameters::describe() const {
  std::string s;
  for (const auto& spec : specs()) {
    if (spec.name == "smoothing" && smoothing == 0.0) continue;
    s += (s.empty() ? "" : " ") + spec.name + "=" + number(get(spec.name));
  }
  return s;
}

bool operator==(const Hyperparameters& a, const Hyperparameters& b) { return a.values() == b.values(); }

}  // namespace crimegraph
