#include "crimegraph/search/trial.hpp"

#include <cmath>
#include <limits>

#include "crimegraph/error.hpp"

namespace crimegraph {

const char* ranking_name(Ranking ranking) { return ranking == Ranking::BestEpoch ? "best-epoch" : "last-epoch"; }

Ranking parse_ranking(const std::string& text) {
  if (text == "best-epoch" || text == "best") return Ranking::BestEpoch;
  if (text == "last-epoch" || text == "last") return Ranking::LastEpoch;
  throw ConfigError("unknown ranking '" + text + "' (use best-epoch or last-epoch)");
}

double TrialOutcome::best_hit_rate() const {
  double best = std::numeric_limits<double>::quiet_NaN();
  for (const auto& e : epochs) {
    if (std::isnan(best) || e.validation_hit_rate > best) best = e.validation_hit_rate;
  }
  return best;
}

double TrialOutcome::last_hit_rate() const {
  return epochs.empty() ? std::numeric_limits<double>::quiet_NaN() : epochs.back().validation_hit_rate;
}

double TrialOutcome::score(Ranking ranking) const {
  return ranking == Ranking::BestEpoch ? best_hit_rate() : last_hit_rate();
}

bool TrialOutcome::scored(Ranking ranking) const {
  return status == TrialStatus::Ok && !epochs.empty() && std::isfinite(score(ranking));
}

}  // namespace crimegraph
