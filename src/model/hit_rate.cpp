#include "crimegraph/model/hit_rate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "crimegraph/error.hpp"

namespace crimegraph {

const char* hit_rate_kind_name(HitRateKind kind) {
  switch (kind) {
    case HitRateKind::DayMean: return "day-mean";
    case HitRateKind::EventWeighted: return "event-weighted";
    case HitRateKind::StreetLength: return "street-length";
  }
  return "?";
}

HitRateKind parse_hit_rate_kind(const std::string& text) {
  for (auto k : {HitRateKind::DayMean, HitRateKind::EventWeighted, HitRateKind::StreetLength}) {
    if (text == hit_rate_kind_name(k)) return k;
  }
  throw ConfigError("unknown hit rate '" + text + "' (use day-mean, event-weighted or street-length)");
}

std::string HitRateOptions::describe() const {
  return std::string("hit rate (") + hit_rate_kind_name(kind) + ") at " +
         std::to_string(static_cast<int>(std::lround(coverage * 100))) + "% coverage";
}

void HitRateOptions::validate() const {
  if (!(coverage > 0.0 && coverage <= 1.0)) {
    throw ConfigError("hit rate coverage must be in (0, 1], got " + std::to_string(coverage));
  }
}

HitRate::HitRate(HitRateOptions options, const std::vector<double>& lengths) : options_(options) {
  options_.validate();
  if (options_.kind == HitRateKind::StreetLength) lengths_ = lengths;
  if (options_.kind == HitRateKind::StreetLength && lengths_.empty()) {
    throw ConfigError("the street-length hit rate needs segment lengths");
  }
}

void HitRate::add_day(const float* scores, const float* labels, std::int32_t nodes) { add(scores, labels, nodes); }
void HitRate::add_day(const float* scores, const std::int32_t* labels, std::int32_t nodes) {
  add(scores, labels, nodes);
}

template <class Label>
void HitRate::add(const float* scores, const Label* labels, std::int32_t nodes) {
  const auto n = static_cast<std::size_t>(nodes);
  double day_events = 0.0, day_event_nodes = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] > 0) {
      day_events += static_cast<double>(labels[i]);
      day_event_nodes += 1.0;
    }
  }
  if (day_event_nodes == 0.0) {
    ++days_skipped_;
    days_.push_back({});
    return;
  }
  ++days_scored_;
  credit_.assign(n, 0.0);
  // NaN scores rank last: treat them as -inf.
  auto score = [&](std::size_t i) { return std::isnan(scores[i]) ? -INFINITY : scores[i]; };

  if (options_.kind == HitRateKind::StreetLength) {
    if (lengths_.size() != n) throw DataError("street-length hit rate: lengths do not match the node count");
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return score(a) > score(b); });
    double budget = options_.coverage * std::accumulate(lengths_.begin(), lengths_.end(), 0.0);
    for (std::size_t p = 0; p < n && budget > 0.0;) {
      // A group of equal scores shares the remaining budget in proportion to its length.
      std::size_t q = p;
      double group_length = 0.0;
      while (q < n && score(order[q]) == score(order[p])) group_length += lengths_[order[q++]];
      const double share = group_length > 0.0 ? std::min(1.0, budget / group_length) : 1.0;
      for (std::size_t r = p; r < q; ++r) credit_[order[r]] = share;
      budget -= group_length;
      p = q;
    }
  } else {
    const auto k = static_cast<std::size_t>(std::floor(options_.coverage * static_cast<double>(n) + 1e-9));
    if (k > 0) {
      sorted_.resize(n);
      for (std::size_t i = 0; i < n; ++i) sorted_[i] = score(i);
      std::nth_element(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(k - 1), sorted_.end(),
                       std::greater<float>());
      const float cut = sorted_[k - 1];
      std::size_t above = 0, tied = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const float s = score(i);
        above += s > cut;
        tied += s == cut;
      }
      const double tie_credit = static_cast<double>(k - above) / static_cast<double>(tied);
      for (std::size_t i = 0; i < n; ++i) {
        const float s = score(i);
        credit_[i] = s > cut ? 1.0 : (s == cut ? tie_credit : 0.0);
      }
    }
  }

  double hit_nodes = 0.0, hit_events = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] > 0) {
      hit_nodes += credit_[i];
      hit_events += credit_[i] * static_cast<double>(labels[i]);
    }
  }
  if (options_.kind == HitRateKind::EventWeighted) {
    sum_ += hit_events;
    events_ += day_events;
    days_.push_back({hit_events, day_events});
  } else {
    sum_ += hit_nodes / day_event_nodes;
    days_.push_back({hit_nodes / day_event_nodes, 1.0});
  }
}

double HitRate::value() const {
  if (options_.kind == HitRateKind::EventWeighted) return events_ > 0.0 ? sum_ / events_ : 0.0;
  return days_scored_ > 0 ? sum_ / static_cast<double>(days_scored_) : 0.0;
}

}  // namespace crimegraph
