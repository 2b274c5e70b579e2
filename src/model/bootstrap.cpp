#include "crimegraph/model/bootstrap.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <random>

#include "crimegraph/error.hpp"

namespace crimegraph {

std::string describe(const Interval& interval) {
  return interval.known() ? fmt::format("[{:.4f}, {:.4f}]", interval.low, interval.high) : std::string();
}

double rate_of(const std::vector<DayScore>& days) {
  double hits = 0.0, weight = 0.0;
  for (const auto& d : days) {
    hits += d.hits;
    weight += d.weight;
  }
  return weight > 0.0 ? hits / weight : std::nan("");
}

namespace {

// `statistic(take)` for `replicates` resamples, where take(f) calls f(day) for each day drawn:
// blocks of consecutive days, wrapping, until as many days as the data has.
template <class Statistic>
Interval percentile_interval(std::size_t n, const BootstrapOptions& o, Statistic statistic) {
  if (n == 0 || o.replicates < 2 || o.block_days < 1 || !(o.level > 0 && o.level < 1)) return {};
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<std::size_t> start(0, n - 1);
  const auto block = std::min<std::size_t>(static_cast<std::size_t>(o.block_days), n);
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(o.replicates));
  for (std::int32_t r = 0; r < o.replicates; ++r) {
    const double v = statistic([&](auto&& f) {
      for (std::size_t drawn = 0; drawn < n;) {
        const auto s = start(rng);
        for (std::size_t k = 0; k < block && drawn < n; ++k, ++drawn) f((s + k) % n);
      }
    });
    if (std::isfinite(v)) values.push_back(v);
  }
  if (values.size() < 2) return {};
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto i = static_cast<std::size_t>(pos);
    const double frac = pos - static_cast<double>(i);
    return i + 1 < values.size() ? values[i] * (1 - frac) + values[i + 1] * frac : values[i];
  };
  const double tail = (1.0 - o.level) / 2.0;
  return {at(tail), at(1.0 - tail)};
}

}  // namespace

Interval bootstrap_interval(const std::vector<DayScore>& days, const BootstrapOptions& options) {
  return percentile_interval(days.size(), options, [&](auto take) {
    double hits = 0.0, weight = 0.0;
    take([&](std::size_t d) {
      hits += days[d].hits;
      weight += days[d].weight;
    });
    return weight > 0.0 ? hits / weight : std::nan("");
  });
}

Interval paired_difference_interval(const std::vector<DayScore>& a, const std::vector<DayScore>& b,
                                    const BootstrapOptions& options) {
  if (a.size() != b.size()) throw Error("a paired comparison needs scores of the same days");
  return percentile_interval(a.size(), options, [&](auto take) {
    double ha = 0.0, wa = 0.0, hb = 0.0, wb = 0.0;
    take([&](std::size_t d) {
      ha += a[d].hits;
      wa += a[d].weight;
      hb += b[d].hits;
      wb += b[d].weight;
    });
    return wa > 0.0 && wb > 0.0 ? ha / wa - hb / wb : std::nan("");
  });
}

}  // namespace crimegraph
