#include "crimegraph/model/inspect.hpp"

#include <spdlog/fmt/fmt.h>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/data/windows.hpp"
#include "crimegraph/model/baselines.hpp"

namespace crimegraph {

std::string inspect_report(const CrimeDataset& ds, std::int32_t lookback, const HitRateOptions& options) {
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  const auto& g = ds.graph;
  std::int64_t nnz = 2 * static_cast<std::int64_t>(g.edges.size());
  line(fmt::format("graph       {} nodes, {} edges ({} adjacency non-zeros), kernel {} alpha {:.0f} m, crs {}",
                   g.node_count(), g.edges.size(), nnz, g.kernel, g.alpha_m, g.crs));
  if (ds.days() > 0) {
    line(fmt::format("calendar    {} days, {} .. {}", ds.days(), iso_date(ds.day_number.front()),
                     iso_date(ds.day_number.back())));
  }
  if (ds.days() == 0) {
    line("(a street graph without days: no events, windows or baselines)");
    return out;
  }
  std::string ch;
  for (const auto& c : ds.channels) ch += (ch.empty() ? "" : ", ") + c;
  line("channels    " + ch);
  const auto k = static_cast<std::size_t>(ds.category_count());
  std::vector<std::int64_t> totals(k, 0);
  for (std::size_t i = 0; i < ds.counts.size(); ++i) totals[i % k] += ds.counts[i];
  std::string ev;
  for (std::size_t c = 0; c < k; ++c) {
    ev += fmt::format("{}{} {} ({:.2f}/day)", c ? ", " : "", ds.categories[c], totals[c],
                      ds.days() ? static_cast<double>(totals[c]) / ds.days() : 0.0);
  }
  line("events      " + ev);
  const WindowIndex index(ds.days(), lookback);
  line(fmt::format("windows     lookback {}: train {}, validation {}, test {}", lookback, index.count(Split::Train),
                   index.count(Split::Validation), index.count(Split::Test)));
  for (auto s : {Split::Train, Split::Validation, Split::Test}) {
    const auto r = index.days_of(s);
    if (r.size() > 0) {
      line(fmt::format("  {:<10} days {} .. {} ({} days)", split_name(s), iso_date(ds.day_number[r.first]),
                       iso_date(ds.day_number[r.end - 1]), r.size()));
    }
  }
  if (index.count(Split::Test) > 0) {
    const auto b = baseline_hit_rates(ds, index, Split::Test, options);
    line("baselines   " + options.describe() + " on the test split:");
    line(fmt::format("  naive      {:.4f}  {}  (yesterday's smoothed violent count)", b.naive, describe(b.naive_interval)));
    line(fmt::format("  historical {:.4f}  {}  (mean violent count over the training days)", b.historical,
                     describe(b.historical_interval)));
    if (b.oracle) {
      line(fmt::format("  oracle     {:.4f}  {}  (true intensity: the best achievable)", *b.oracle,
                       describe(b.oracle_interval)));
    }
    line("  (95% intervals from a block bootstrap over weeks of test days)");
  }
  if (!ds.provenance.empty()) {
    line("provenance");
    for (const auto& [key, value] : ds.provenance) line(fmt::format("  {:<17} {}", key, value));
  }
  return out;
}

}  // namespace crimegraph
