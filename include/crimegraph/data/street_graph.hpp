#pragma once
// The street graph: one node per street segment, an undirected edge where two segments meet.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace crimegraph {

/// A segment's geometry in projected metres: one or more parts, each a run of points.
struct Polyline {
  std::vector<std::vector<std::pair<double, double>>> parts;
  double length() const;
  /// Distance along the line from its start to the point of the line nearest (x, y).
  double project(double x, double y) const;
  /// Squared distance from (x, y) to the nearest point of the line.
  double distance2(double x, double y) const;

  struct Bounds {
    double minx, miny, maxx, maxy;
    /// The smallest box holding both.
    Bounds merge(const Bounds& other) const;
  };
  /// The bounding box of all points (inverted infinities for an empty line).
  Bounds bounds() const;
};

struct Edge {
  std::int32_t u = 0;
  std::int32_t v = 0;
  double distance_m = 0.0;  ///< along-street distance between the two segments
  double weight = 0.0;      ///< kernel weight of that distance
};

struct StreetGraph {
  // Per node (street segment), all of equal length.
  std::vector<std::int64_t> source_id;  ///< id in the source data (OBJECTID, OSM way...)
  std::vector<std::string> name;        ///< street name, may be empty
  std::vector<double> x, y;             ///< segment midpoint, projected metres (`crs`)
  std::vector<double> lon, lat;         ///< the same point in WGS 84 degrees
  std::vector<double> length_m;         ///< segment length in metres

  std::vector<Edge> edges;  ///< undirected, u < v, no duplicates
  /// Segment geometries in projected metres, one per node; empty when unknown (synthetic grids,
  /// CSV graphs). Used to snap events to the nearest segment line.
  std::vector<Polyline> geometry;

  std::string crs;                   ///< projected CRS of x/y, e.g. "EPSG:26985"
  std::string kernel = "gaussian";   ///< weight = exp(-d^2 / (2 alpha^2))
  double alpha_m = 750.0;

  std::int32_t node_count() const { return static_cast<std::int32_t>(source_id.size()); }
  /// Throws DataError when per-node arrays disagree in size or an edge is out of range,
  /// a self-loop, not normalised (u < v) or duplicated.
  void validate() const;
  /// Recomputes every edge weight from its distance with the Gaussian kernel and `alpha_m`.
  void reweight(double alpha_m);
};

double gaussian_weight(double distance_m, double alpha_m);

/// Compressed sparse rows of the symmetric weighted adjacency (both directions stored).
struct SparseAdjacency {
  std::int32_t nodes = 0;
  std::vector<std::int64_t> row_ptr;  ///< size nodes + 1
  std::vector<std::int32_t> col;
  std::vector<float> value;
  std::int64_t nnz() const { return static_cast<std::int64_t>(col.size()); }
};

enum class AdjacencyNorm {
  None,  ///< raw kernel weights
  Row,   ///< each row sums to 1 (a weighted mean over neighbours); empty rows stay empty
};

SparseAdjacency sparse_adjacency(const StreetGraph& graph, AdjacencyNorm norm = AdjacencyNorm::None);
/// The transpose of `a` (a row-normalised adjacency is not symmetric): the backward pass's matrix.
SparseAdjacency transposed(const SparseAdjacency& a);

}  // namespace crimegraph
