#include "crimegraph/search/hyperband/plan.hpp"

#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "crimegraph/error.hpp"

namespace crimegraph {

const char* variant_name(HyperbandVariant variant) {
  return variant == HyperbandVariant::Keras ? "keras" : "paper";
}

HyperbandVariant parse_variant(const std::string& text) {
  if (text == "keras") return HyperbandVariant::Keras;
  if (text == "paper") return HyperbandVariant::Paper;
  throw ConfigError("unknown Hyperband variant '" + text + "' (use keras or paper)");
}

void HyperbandOptions::validate() const {
  if (max_epochs < 1) throw ConfigError("max-epochs must be at least 1 (got " + std::to_string(max_epochs) + ")");
  if (factor < 2) throw ConfigError("the Hyperband factor must be at least 2 (got " + std::to_string(factor) + ")");
  if (iterations < 1) throw ConfigError("iterations must be at least 1 (got " + std::to_string(iterations) + ")");
  if (min_epochs < 1 || min_epochs > max_epochs) throw ConfigError("min_epochs must be in 1..max_epochs");
  if (max_planned_trials < 1) throw ConfigError("the largest plan allowed must be at least 1 trial");
}

namespace {
[[noreturn]] void too_large(const HyperbandOptions& o, double trials) {
  throw ConfigError(fmt::format("this plan (max_epochs {}, factor {}, {} iteration(s)) has {:.3g} trials, more than "
                                "the {} allowed; --max-planned-trials raises the limit",
                                o.max_epochs, o.factor, o.iterations, trials, o.max_planned_trials));
}
}  // namespace

std::int32_t integer_log(std::int64_t r, std::int64_t eta) {
  std::int32_t s = 0;
  for (std::int64_t p = eta; p <= r; p *= eta) ++s;
  return s;
}

namespace {

std::int64_t ipow(std::int64_t b, std::int32_t e) {
  std::int64_t p = 1;
  while (e-- > 0) p *= b;
  return p;
}

// Keras Tuner's HyperbandOracle (keras_tuner/tuners/hyperband.py):
//   brackets: count of R, R/f, R/f^2, ... that stay >= min_epochs
//   rounds of bracket b: b + 1
//   size(b, r)   = ceil(ceil(1 + log_f R) / (b + 1) * f^(b - r))
//   epochs(b, r) = ceil(R / f^(b - r))
// It uses floating point, as Keras does; these are the numbers it runs.
std::vector<BracketPlan> keras_brackets(const HyperbandOptions& o) {
  std::int32_t brackets = 0;
  for (double e = o.max_epochs; e >= o.min_epochs; e /= o.factor) ++brackets;
  const double end0 = std::ceil(1.0 + std::log(static_cast<double>(o.max_epochs)) / std::log(static_cast<double>(o.factor)));
  std::vector<BracketPlan> out;
  for (std::int32_t b = brackets - 1; b >= 0; --b) {
    BracketPlan bp;
    bp.bracket = b;
    const double end = end0 / (b + 1);
    for (std::int32_t r = 0; r <= b; ++r) {
      const double scale = std::pow(static_cast<double>(o.factor), b - r);
      RoundPlan rp;
      // A small tolerance keeps exact products (e.g. 1.5 * 4) from rounding up by float noise.
      const double trials = std::ceil(end * scale - 1e-9);
      if (trials > static_cast<double>(o.max_planned_trials)) too_large(o, trials);
      rp.trials = static_cast<std::int32_t>(trials);
      rp.epochs = static_cast<std::int32_t>(std::ceil(o.max_epochs / scale - 1e-9));
      bp.rounds.push_back(rp);
    }
    out.push_back(bp);
  }
  return out;
}

// Li et al. 2018, Algorithm 1, in integers: s_max = floor(log_eta R), n = ceil((s_max+1) eta^s / (s+1)),
// r = R eta^-s, round i: n_i = floor(n eta^-i), r_i = r eta^i (epochs rounded up to whole epochs).
std::vector<BracketPlan> paper_brackets(const HyperbandOptions& o) {
  const std::int32_t s_max = integer_log(o.max_epochs, o.factor);
  std::vector<BracketPlan> out;
  for (std::int32_t s = s_max; s >= 0; --s) {
    BracketPlan bp;
    bp.bracket = s;
    // eta^s <= R < 2^31, so this stays well inside 64 bits.
    const std::int64_t eta_s = ipow(o.factor, s);
    const std::int64_t n = ((s_max + 1) * eta_s + s) / (s + 1);
    if (n > o.max_planned_trials) too_large(o, static_cast<double>(n));
    for (std::int32_t i = 0; i <= s; ++i) {
      RoundPlan rp;
      rp.trials = static_cast<std::int32_t>(n / ipow(o.factor, i));
      const std::int64_t div = ipow(o.factor, s - i);
      rp.epochs = static_cast<std::int32_t>((o.max_epochs + div - 1) / div);
      bp.rounds.push_back(rp);
    }
    out.push_back(bp);
  }
  return out;
}

}  // namespace

std::vector<BracketPlan> hyperband_plan(const HyperbandOptions& o) {
  o.validate();
  const auto one = o.variant == HyperbandVariant::Keras ? keras_brackets(o) : paper_brackets(o);
  // Checked before the iterations are laid out, so a huge plan is refused, not allocated.
  const double total = static_cast<double>(plan_totals(one).trials) * o.iterations;
  if (total > static_cast<double>(o.max_planned_trials)) too_large(o, total);
  std::vector<BracketPlan> out;
  for (std::int32_t it = 0; it < o.iterations; ++it) {
    for (auto b : one) {
      b.iteration = it;
      out.push_back(b);
    }
  }
  return out;
}

PlanTotals plan_totals(const std::vector<BracketPlan>& plan) {
  PlanTotals t;
  for (const auto& b : plan) {
    std::int32_t previous = 0;
    for (const auto& r : b.rounds) {
      t.trials += r.trials;
      t.epochs += static_cast<std::int64_t>(r.trials) * (r.epochs - previous);
      previous = r.epochs;
    }
    if (!b.rounds.empty()) t.configurations += b.rounds.front().trials;
  }
  return t;
}

std::string describe_plan(const std::vector<BracketPlan>& plan, const HyperbandOptions& o) {
  std::string s = fmt::format("Hyperband ({} variant): max_epochs {}, factor {}, {} iteration(s)\n", variant_name(o.variant),
                              o.max_epochs, o.factor, o.iterations);
  s += fmt::format("{:>9} {:>7} {:>5} {:>7} {:>7} {:>14}\n", "iteration", "bracket", "round", "trials", "epochs",
                   "epochs trained");
  for (const auto& b : plan) {
    if (b.iteration > 0) continue;  // every iteration repeats the same brackets
    std::int32_t previous = 0;
    for (std::size_t r = 0; r < b.rounds.size(); ++r) {
      const auto& rp = b.rounds[r];
      s += fmt::format("{:>9} {:>7} {:>5} {:>7} {:>7} {:>14}\n", b.iteration, b.bracket, r, rp.trials, rp.epochs,
                       static_cast<std::int64_t>(rp.trials) * (rp.epochs - previous));
      previous = rp.epochs;
    }
  }
  if (o.iterations > 1) s += fmt::format("  iterations 1..{} repeat these brackets\n", o.iterations - 1);
  const auto t = plan_totals(plan);
  s += fmt::format("total: {} trials, {} configurations, {} epochs trained (promotions continue from checkpoints)\n",
                   t.trials, t.configurations, t.epochs);
  return s;
}

}  // namespace crimegraph
