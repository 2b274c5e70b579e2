#include "crimegraph/search/space.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"

namespace crimegraph {
namespace {

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

std::string describe(const Configuration& config) {
  std::string s;
  for (const auto& [k, v] : config) s += (s.empty() ? "" : " ") + k + "=" + num(v);
  return s;
}

namespace {
// Integers a double holds exactly: sample() counts a range's points in them.
constexpr double kLargestExactInteger = 9007199254740992.0;  // 2^53
}  // namespace

void Parameter::validate() const {
  const std::string where = "search space parameter '" + name + "'";
  const auto too_wide = [&] {
    return ConfigError(where + ": the range " + num(min) + ".." + num(max) + " is too wide to sample (at most 2^53 " +
                       (kind == Kind::Int ? "integers either side of 0)" : "steps, and a finite width)"));
  };
  switch (kind) {
    case Kind::Int:
      if (min > max) throw ConfigError(where + ": min " + num(min) + " > max " + num(max));
      if (std::abs(min) > kLargestExactInteger || std::abs(max) > kLargestExactInteger) throw too_wide();
      if (min != std::floor(min) || max != std::floor(max)) throw ConfigError(where + ": int bounds must be integers");
      if (step < 1 || step != std::floor(step)) throw ConfigError(where + ": int step must be a positive integer");
      if (default_value < min || default_value > max || std::fmod(default_value - min, step) != 0) {
        throw ConfigError(where + ": default " + num(default_value) + " is outside its range");
      }
      break;
    case Kind::Float:
      if (min > max) throw ConfigError(where + ": min " + num(min) + " > max " + num(max));
      if (step < 0) throw ConfigError(where + ": step must not be negative");
      if (!std::isfinite(max - min) || (step > 0 && (max - min) / step >= kLargestExactInteger)) throw too_wide();
      if (log && min <= 0) throw ConfigError(where + ": log sampling needs min > 0");
      if (log && step > 0) throw ConfigError(where + ": choose either a step or log sampling");
      if (default_value < min || default_value > max) {
        throw ConfigError(where + ": default " + num(default_value) + " is outside its range");
      }
      break;
    case Kind::Choice: {
      if (values.empty()) throw ConfigError(where + ": a choice needs at least one value");
      if (std::set<double>(values.begin(), values.end()).size() != values.size()) {
        throw ConfigError(where + ": choice values repeat");
      }
      bool found = false;
      for (auto v : values) found |= v == default_value;
      if (!found) throw ConfigError(where + ": default " + num(default_value) + " is not one of the choices");
      break;
    }
  }
}

double Parameter::sample(std::mt19937_64& rng) const {
  switch (kind) {
    case Kind::Int: {
      const auto n = static_cast<std::uint64_t>((max - min) / step) + 1;
      return min + step * static_cast<double>(rng() % n);
    }
    case Kind::Float: {
      if (step > 0) {
        const auto n = static_cast<std::uint64_t>(std::floor((max - min) / step + 1e-9)) + 1;
        const double v = min + step * static_cast<double>(rng() % n);
        // Where the grid is made of multiples of the step, round away the float noise so that
        // configurations print as the grid values; a grid that starts off a multiple (min 0.005,
        // step 5.005) keeps its own points, which the rounding would move out of range.
        const double rounded = std::round(v / step) * step;
        return std::abs(rounded - v) <= 1e-9 * std::max(1.0, std::abs(v)) ? rounded : v;
      }
      const double u = uniform01(rng);
      return log ? std::exp(std::log(min) + u * (std::log(max) - std::log(min))) : min + u * (max - min);
    }
    case Kind::Choice:
      return values[rng() % values.size()];
  }
  return default_value;
}

double Parameter::smallest() const {
  return kind == Kind::Choice && !values.empty() ? *std::min_element(values.begin(), values.end()) : min;
}

double Parameter::largest() const {
  return kind == Kind::Choice && !values.empty() ? *std::max_element(values.begin(), values.end()) : max;
}

std::string Parameter::describe() const {
  std::string s;
  switch (kind) {
    case Kind::Int:
      s = "int " + num(min) + " " + num(max) + (step != 1 ? " step=" + num(step) : "");
      break;
    case Kind::Float:
      s = "float " + num(min) + " " + num(max) + (step > 0 ? " step=" + num(step) : "") + (log ? " log" : "");
      break;
    case Kind::Choice: {
      s = "choice ";
      for (std::size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + num(values[i]);
      if (ordered) s += " ordered";
      break;
    }
  }
  return s + " default=" + num(default_value);
}

SearchSpace::SearchSpace(std::vector<Parameter> parameters) : parameters_(std::move(parameters)) { validate(); }

void SearchSpace::validate() const {
  if (parameters_.empty()) throw ConfigError("the search space has no parameters");
  std::set<std::string> names;
  for (const auto& p : parameters_) {
    if (!names.insert(p.name).second) throw ConfigError("search space parameter '" + p.name + "' appears twice");
    p.validate();
  }
}

Configuration SearchSpace::defaults() const {
  Configuration c;
  for (const auto& p : parameters_) c[p.name] = p.default_value;
  return c;
}

Configuration SearchSpace::sample(std::mt19937_64& rng) const {
  Configuration c;
  for (const auto& p : parameters_) c[p.name] = p.sample(rng);
  return c;
}

std::string SearchSpace::to_text() const {
  std::string s = "[space]\n";
  for (const auto& p : parameters_) s += p.name + " = " + p.describe() + "\n";
  return s;
}

SearchSpace SearchSpace::parse(const std::string& text, const std::string& origin) {
  std::vector<Parameter> params;
  for (const auto& entry : ini_section(text, "space", origin)) {
    const std::string where = origin + ":" + std::to_string(entry.line);
    Parameter p;
    p.name = entry.key;
    std::istringstream words(entry.value);
    std::string kind;
    words >> kind;
    std::vector<std::string> rest;
    for (std::string w; words >> w;) rest.push_back(w);
    bool has_default = false, has_step = false;
    std::vector<std::string> pos;
    for (const auto& w : rest) {
      if (w.rfind("default=", 0) == 0) {
        p.default_value = parse_number(w.substr(8), where);
        has_default = true;
      } else if (w.rfind("step=", 0) == 0) {
        p.step = parse_number(w.substr(5), where);
        has_step = true;
      } else if (w == "log") {
        p.log = true;
      } else if (w == "ordered") {
        p.ordered = true;
      } else if (w.find('=') != std::string::npos) {
        throw ConfigError(where + ": unknown option '" + w + "' of '" + p.name + "' (step=, default=, log or ordered)");
      } else {
        pos.push_back(w);
      }
    }
    if (kind == "int" || kind == "float") {
      p.kind = kind == "int" ? Parameter::Kind::Int : Parameter::Kind::Float;
      if (pos.size() != 2) throw ConfigError(where + ": " + kind + " '" + p.name + "' needs MIN and MAX");
      p.min = parse_number(pos[0], where);
      p.max = parse_number(pos[1], where);
      if (has_step && !(p.step > 0)) throw ConfigError(where + ": step must be positive (leave it out for none)");
      if (p.kind == Parameter::Kind::Int && !has_step) p.step = 1;
    } else if (kind == "choice") {
      p.kind = Parameter::Kind::Choice;
      if (pos.size() != 1) throw ConfigError(where + ": choice '" + p.name + "' needs comma-separated values");
      std::istringstream vs(pos[0]);
      for (std::string v; std::getline(vs, v, ',');) {
        if (!trim(v).empty()) p.values.push_back(parse_number(trim(v), where));
      }
    } else {
      throw ConfigError(where + ": unknown parameter kind '" + kind + "' (use int, float or choice)");
    }
    if (!has_default) {
      p.default_value = p.kind == Parameter::Kind::Choice ? (p.values.empty() ? 0 : p.values.front()) : p.min;
    }
    params.push_back(p);
  }
  SearchSpace space;
  space.parameters_ = std::move(params);
  try {
    space.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(origin + ": " + e.what());
  }
  return space;
}

SearchSpace SearchSpace::from_file(const std::string& path) {
  return parse(read_text_file(path, "search space file"), path);
}

SearchSpace SearchSpace::original_study() {
  return parse(
      "[space]\n"
      "num_gated_relu_layers = int 1 4 default=2\n"
      "num_gated_relu_hidden_units = choice 2,4,8,16 ordered default=8\n"
      "num_ldn_layers = int 1 7 default=5\n"
      "num_ldn_hidden_units = choice 2,4,8,16 ordered default=4\n"
      "loss_rho = float 0.005 0.035 step=0.005 default=0.03\n",
      "original study space");
}

}  // namespace crimegraph
