#pragma once
// Hit rate: the share of next-day event segments found among the top-ranked segments.
// Pure arithmetic, no Torch: the trainer, the baselines and `inspect` all score through it.
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/model/bootstrap.hpp"

namespace crimegraph {

enum class HitRateKind {
  DayMean,        ///< per day: event nodes in the top floor(c N) / event nodes; mean over days with events
  EventWeighted,  ///< events (counts) in the top floor(c N) / all events, pooled over days ("share of events")
  StreetLength,   ///< like DayMean, but the top set covers a share c of total street length
};

const char* hit_rate_kind_name(HitRateKind kind);
/// "day-mean", "event-weighted" or "street-length"; throws ConfigError otherwise.
HitRateKind parse_hit_rate_kind(const std::string& text);

struct HitRateOptions {
  double coverage = 0.2;
  HitRateKind kind = HitRateKind::DayMean;
  std::string describe() const;  ///< e.g. "hit rate (day-mean) at 20% coverage"
  /// Throws ConfigError unless 0 < coverage <= 1.
  void validate() const;
};

/// Accumulates a hit rate over days. Ties at the cut-off are split fairly: when g nodes share
/// the score at the boundary and r of the k slots remain, each of them counts r/g (the
/// expected result of breaking the tie at random), so a constant predictor scores exactly c.
class HitRate {
 public:
  /// `lengths` (one per node) are kept for HitRateKind::StreetLength, which needs them, and
  /// ignored otherwise, so callers can always pass the graph's.
  explicit HitRate(HitRateOptions options, const std::vector<double>& lengths = {});

  /// Scores one day: `scores` and `labels` (event counts) for `nodes` nodes.
  void add_day(const float* scores, const float* labels, std::int32_t nodes);
  void add_day(const float* scores, const std::int32_t* labels, std::int32_t nodes);

  /// The hit rate so far, in [0, 1]; 0 when no day had an event.
  double value() const;
  /// Every day added, in order: what the value sums (a day without events weighs nothing).
  const std::vector<DayScore>& days() const { return days_; }
  /// The value's 95% interval from a block bootstrap over the days.
  Interval interval(const BootstrapOptions& options = {}) const { return bootstrap_interval(days_, options); }
  std::int64_t days_scored() const { return days_scored_; }  ///< days with at least one event
  std::int64_t days_skipped() const { return days_skipped_; }  ///< days without events
  const HitRateOptions& options() const { return options_; }

 private:
  template <class Label>
  void add(const float* scores, const Label* labels, std::int32_t nodes);

  HitRateOptions options_;
  std::vector<double> lengths_;
  std::vector<double> credit_;  // scratch: selection credit per node
  std::vector<float> sorted_;   // scratch
  std::vector<DayScore> days_;
  double sum_ = 0.0;            // DayMean/StreetLength: sum of daily fractions; EventWeighted: events hit
  double events_ = 0.0;         // EventWeighted: events seen
  std::int64_t days_scored_ = 0;
  std::int64_t days_skipped_ = 0;
};

}  // namespace crimegraph
