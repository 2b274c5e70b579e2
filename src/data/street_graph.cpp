#include "crimegraph/data/street_graph.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <limits>
#include <cmath>
#include <set>
#include <utility>

#include "crimegraph/error.hpp"

namespace crimegraph {

// --- polyline geometry -------------------------------------------------------------------------

double Polyline::length() const {
  double total = 0.0;
  for (const auto& part : parts)
    for (std::size_t i = 1; i < part.size(); ++i)
      total += std::hypot(part[i].first - part[i - 1].first, part[i].second - part[i - 1].second);
  return total;
}

namespace {
// Nearest point of segment a-b to p: returns (squared distance, fraction along a-b).
std::pair<double, double> nearest_on_segment(std::pair<double, double> a, std::pair<double, double> b, double x,
                                             double y) {
  const double dx = b.first - a.first, dy = b.second - a.second;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((x - a.first) * dx + (y - a.second) * dy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double px = a.first + t * dx - x, py = a.second + t * dy - y;
  return {px * px + py * py, t};
}
}  // namespace

double Polyline::project(double x, double y) const {
  double best = std::numeric_limits<double>::infinity(), at = 0.0, walked = 0.0;
  for (const auto& part : parts) {
    if (part.size() == 1) {
      const double d = std::pow(part[0].first - x, 2) + std::pow(part[0].second - y, 2);
      if (d < best) best = d, at = walked;
    }
    for (std::size_t i = 1; i < part.size(); ++i) {
      const double seg = std::hypot(part[i].first - part[i - 1].first, part[i].second - part[i - 1].second);
      const auto [d, t] = nearest_on_segment(part[i - 1], part[i], x, y);
      if (d < best) best = d, at = walked + t * seg;
      walked += seg;
    }
  }
  return at;
}

double Polyline::distance2(double x, double y) const {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& part : parts) {
    if (part.size() == 1) best = std::min(best, std::pow(part[0].first - x, 2) + std::pow(part[0].second - y, 2));
    for (std::size_t i = 1; i < part.size(); ++i) best = std::min(best, nearest_on_segment(part[i - 1], part[i], x, y).first);
  }
  return best;
}

Polyline::Bounds Polyline::Bounds::merge(const Bounds& o) const {
  return {std::min(minx, o.minx), std::min(miny, o.miny), std::max(maxx, o.maxx), std::max(maxy, o.maxy)};
}

Polyline::Bounds Polyline::bounds() const {
  constexpr double inf = std::numeric_limits<double>::infinity();
  Bounds b{inf, inf, -inf, -inf};
  for (const auto& part : parts)
    for (const auto& [x, y] : part) b = b.merge({x, y, x, y});
  return b;
}

double gaussian_weight(double distance_m, double alpha_m) {
  return std::exp(-(distance_m * distance_m) / (2.0 * alpha_m * alpha_m));
}

void StreetGraph::validate() const {
  const std::size_t n = source_id.size();
  if (name.size() != n || x.size() != n || y.size() != n || lon.size() != n || lat.size() != n ||
      length_m.size() != n) {
    throw DataError("street graph: per-node arrays have different lengths");
  }
  if (!(alpha_m > 0.0)) throw DataError("street graph: kernel alpha must be positive");
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]) || !(lon[i] >= -180.0 && lon[i] <= 180.0) ||
        !(lat[i] >= -90.0 && lat[i] <= 90.0) || !(length_m[i] >= 0.0 && std::isfinite(length_m[i]))) {
      throw DataError("street graph: node " + std::to_string(i) + " (id " + std::to_string(source_id[i]) +
                      ") has a position or length that is not a finite number in range");
    }
  }
  if (!geometry.empty() && geometry.size() != n) throw DataError("street graph: geometry count differs from node count");
  std::set<std::pair<std::int32_t, std::int32_t>> seen;
  for (const auto& e : edges) {
    if (e.u < 0 || e.v < 0 || e.u >= static_cast<std::int32_t>(n) || e.v >= static_cast<std::int32_t>(n)) {
      throw DataError("street graph: edge (" + std::to_string(e.u) + ", " + std::to_string(e.v) +
                      ") refers to a node outside 0.." + std::to_string(n > 0 ? n - 1 : 0));
    }
    if (e.u >= e.v) {
      throw DataError("street graph: edge (" + std::to_string(e.u) + ", " + std::to_string(e.v) +
                      ") is a self-loop or not stored with u < v");
    }
    if (!seen.emplace(e.u, e.v).second) {
      throw DataError("street graph: duplicate edge (" + std::to_string(e.u) + ", " + std::to_string(e.v) + ")");
    }
    // Weights are kernel values of a distance: in [0, 1].
    if (!(e.distance_m >= 0.0) || !std::isfinite(e.distance_m) || !(e.weight >= 0.0 && e.weight <= 1.0)) {
      throw DataError(fmt::format("street graph: edge ({}, {}) has distance {:g} m and weight {:g} (a finite "
                                  "distance and a weight in [0, 1] expected)",
                                  e.u, e.v, e.distance_m, e.weight));
    }
  }
}

void StreetGraph::reweight(double alpha) {
  alpha_m = alpha;
  for (auto& e : edges) e.weight = gaussian_weight(e.distance_m, alpha);
}

SparseAdjacency sparse_adjacency(const StreetGraph& graph, AdjacencyNorm norm) {
  SparseAdjacency a;
  a.nodes = graph.node_count();
  std::vector<std::int64_t> degree(static_cast<std::size_t>(a.nodes) + 1, 0);
  for (const auto& e : graph.edges) {
    ++degree[static_cast<std::size_t>(e.u) + 1];
    ++degree[static_cast<std::size_t>(e.v) + 1];
  }
  a.row_ptr.assign(degree.size(), 0);
  for (std::size_t i = 1; i < degree.size(); ++i) a.row_ptr[i] = a.row_ptr[i - 1] + degree[i];
  a.col.resize(static_cast<std::size_t>(a.row_ptr.back()));
  a.value.resize(a.col.size());
  std::vector<std::int64_t> fill(a.row_ptr.begin(), a.row_ptr.end() - 1);
  for (const auto& e : graph.edges) {
    auto put = [&](std::int32_t r, std::int32_t c) {
      const auto k = static_cast<std::size_t>(fill[static_cast<std::size_t>(r)]++);
      a.col[k] = c;
      a.value[k] = static_cast<float>(e.weight);
    };
    put(e.u, e.v);
    put(e.v, e.u);
  }
  // Sorted columns make the layout independent of edge order.
  for (std::int32_t r = 0; r < a.nodes; ++r) {
    const auto b = static_cast<std::size_t>(a.row_ptr[r]), end = static_cast<std::size_t>(a.row_ptr[r + 1]);
    std::vector<std::pair<std::int32_t, float>> row;
    for (auto k = b; k < end; ++k) row.emplace_back(a.col[k], a.value[k]);
    std::sort(row.begin(), row.end());
    double sum = 0.0;
    for (const auto& [c, v] : row) sum += v;
    for (auto k = b; k < end; ++k) {
      a.col[k] = row[k - b].first;
      a.value[k] = row[k - b].second;
      if (norm == AdjacencyNorm::Row && sum > 0.0) a.value[k] = static_cast<float>(a.value[k] / sum);
    }
  }
  return a;
}

SparseAdjacency transposed(const SparseAdjacency& a) {
  SparseAdjacency t;
  t.nodes = a.nodes;
  t.row_ptr.assign(static_cast<std::size_t>(a.nodes) + 1, 0);
  for (auto c : a.col) ++t.row_ptr[static_cast<std::size_t>(c) + 1];
  for (std::size_t i = 1; i < t.row_ptr.size(); ++i) t.row_ptr[i] += t.row_ptr[i - 1];
  t.col.resize(a.col.size());
  t.value.resize(a.value.size());
  std::vector<std::int64_t> fill(t.row_ptr.begin(), t.row_ptr.end() - 1);
  for (std::int32_t r = 0; r < a.nodes; ++r) {
    for (auto k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
      const auto at = static_cast<std::size_t>(fill[static_cast<std::size_t>(a.col[k])]++);
      t.col[at] = r;
      t.value[at] = a.value[k];
    }
  }
  return t;
}

}  // namespace crimegraph
