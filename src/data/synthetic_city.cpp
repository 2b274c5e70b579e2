#include "crimegraph/data/synthetic_city.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <random>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/version.hpp"

namespace crimegraph {
namespace {

// Portable random numbers: mt19937_64 is fully specified by the standard, the
// distributions are not, so we derive uniforms, normals and Poisson draws ourselves.
class Random {
 public:
  explicit Random(std::uint64_t seed) : rng_(seed) {}
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * M_PI * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  std::int32_t poisson(double lambda) {
    if (lambda <= 0.0) return 0;
    if (lambda > 50.0) return static_cast<std::int32_t>(std::max(0.0, std::round(lambda + std::sqrt(lambda) * normal())));
    // Inversion by sequential search: fast for the small rates of daily crime counts.
    double p = std::exp(-lambda), cdf = p;
    const double u = uniform();
    std::int32_t k = 0;
    while (u > cdf && k < 1000) {
      ++k;
      p *= lambda / k;
      cdf += p;
    }
    return k;
  }
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

constexpr double kCentreLat = 39.3241, kCentreLon = -76.6472;  // central Baltimore
constexpr double kMetresPerDegree = 111320.0;

// A spatially smooth standard-normal field: white noise averaged with graph neighbours.
std::vector<double> smooth_field(const SparseAdjacency& a, Random& rng, int passes) {
  const auto n = static_cast<std::size_t>(a.nodes);
  std::vector<double> z(n), next(n);
  for (auto& v : z) v = rng.normal();
  for (int p = 0; p < passes; ++p) {
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (auto k = a.row_ptr[i]; k < a.row_ptr[i + 1]; ++k) s += a.value[k] * z[a.col[k]];
      next[i] = a.row_ptr[i + 1] > a.row_ptr[i] ? 0.4 * z[i] + 0.6 * s : z[i];
    }
    z.swap(next);
  }
  double mean = 0.0, var = 0.0;
  for (auto v : z) mean += v;
  mean /= static_cast<double>(n);
  for (auto v : z) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(n));
  for (auto& v : z) v = sd > 0 ? (v - mean) / sd : 0.0;
  return z;
}

}  // namespace

StreetGraph synthetic_street_grid(const StreetGridOptions& o) {
  if (o.nodes < 2) throw ConfigError("a synthetic street grid needs at least 2 segments, got " + std::to_string(o.nodes));
  if (!(o.block_m > 0) || !(o.alpha_m > 0) || o.jitter_m < 0) throw ConfigError("grid block, jitter and alpha must be positive");
  // k x k intersections give 2 k (k - 1) segments.
  std::int64_t k = 2;
  while (2 * k * (k - 1) < o.nodes) ++k;
  Random rng(o.seed);
  std::vector<double> ix(static_cast<std::size_t>(k * k)), iy(ix.size());
  const double half = 0.5 * (k - 1) * o.block_m;
  for (std::int64_t r = 0; r < k; ++r) {
    for (std::int64_t c = 0; c < k; ++c) {
      ix[r * k + c] = c * o.block_m - half + o.jitter_m * rng.normal();
      iy[r * k + c] = r * o.block_m - half + o.jitter_m * rng.normal();
    }
  }
  struct Segment { std::int64_t a, b; bool horizontal; std::int64_t index; };
  std::vector<Segment> segs;
  for (std::int64_t r = 0; r < k; ++r)
    for (std::int64_t c = 0; c + 1 < k; ++c) segs.push_back({r * k + c, r * k + c + 1, true, c});
  for (std::int64_t c = 0; c < k; ++c)
    for (std::int64_t r = 0; r + 1 < k; ++r) segs.push_back({r * k + c, (r + 1) * k + c, false, r});
  // Drop random segments until exactly `nodes` remain (real grids have gaps too).
  while (static_cast<std::int64_t>(segs.size()) > o.nodes) {
    segs.erase(segs.begin() + static_cast<std::ptrdiff_t>(rng.below(segs.size())));
  }

  StreetGraph g;
  g.crs = "synthetic local metres (centred on central Baltimore)";
  g.alpha_m = o.alpha_m;
  const double cos_lat = std::cos(kCentreLat * M_PI / 180.0);
  std::map<std::int64_t, std::vector<std::int32_t>> at_intersection;
  for (std::size_t s = 0; s < segs.size(); ++s) {
    const auto& sg = segs[s];
    const double mx = 0.5 * (ix[sg.a] + ix[sg.b]), my = 0.5 * (iy[sg.a] + iy[sg.b]);
    g.source_id.push_back(static_cast<std::int64_t>(s) + 1);
    const auto street = sg.horizontal ? "Street " + std::to_string(sg.a / k + 1)
                                      : "Avenue " + std::to_string(sg.a % k + 1);
    g.name.push_back(street);
    g.x.push_back(mx);
    g.y.push_back(my);
    g.lat.push_back(kCentreLat + my / kMetresPerDegree);
    g.lon.push_back(kCentreLon + mx / (kMetresPerDegree * cos_lat));
    g.length_m.push_back(std::hypot(ix[sg.b] - ix[sg.a], iy[sg.b] - iy[sg.a]));
    at_intersection[sg.a].push_back(static_cast<std::int32_t>(s));
    at_intersection[sg.b].push_back(static_cast<std::int32_t>(s));
  }
  // Along-segment distance from a segment's start (its endpoint a) to the meeting point.
  auto along = [&](std::int32_t s, std::int64_t point) { return segs[s].a == point ? 0.0 : g.length_m[s]; };
  for (const auto& [point, members] : at_intersection) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      for (std::size_t j = i + 1; j < members.size(); ++j) {
        const auto u = std::min(members[i], members[j]), v = std::max(members[i], members[j]);
        const double d = 0.5 * (along(u, point) + along(v, point));
        g.edges.push_back({u, v, d, gaussian_weight(d, o.alpha_m)});
      }
    }
  }
  std::sort(g.edges.begin(), g.edges.end(), [](const Edge& a, const Edge& b) { return std::tie(a.u, a.v) < std::tie(b.u, b.v); });
  g.validate();
  return g;
}

double branching_ratio(const EventProcessOptions& o) {
  // Offspring of one event: excitation x (1 + neighbour share) x sum of decay^d.
  const double horizon = 1.0 / (1.0 - o.decay);
  double worst = 0.0;
  for (const auto& row : o.excitation) {
    double sum = 0.0;
    for (auto v : row) sum += v;
    worst = std::max(worst, sum * (1.0 + o.neighbour_share) * horizon);
  }
  return worst;
}

EventProcessOptions event_process_preset(const std::string& name) {
  EventProcessOptions o;
  if (name == "default") return o;
  if (name != "baltimore-like") throw ConfigError("unknown synthetic city preset '" + name + "' (default or baltimore-like)");
  // Calibrated on the central-Baltimore graph, 3232 days, seeds 1 and 2 (docs/synthetic-city.md):
  // milder hotspots, violence driven by a hidden drifting risk and by the recent arrests and
  // property crime around a segment more than by its own past.
  o.base_rate = {0.016, 0.037, 0.006};
  o.hotspot_sigma = 0.45;
  o.decay = 0.5;
  o.excitation = {{{0.040, 0.004, 0.024},
                   {0.004, 0.048, 0.024},
                   {0.008, 0.004, 0.008}}};
  o.latent_sigma = 1.2;
  o.latent_persistence = 0.97;
  return o;
}

CrimeDataset simulate_city(StreetGraph graph, const EventProcessOptions& o) {
  if (o.days < 1) throw ConfigError("the number of days must be positive, got " + std::to_string(o.days));
  if (!(o.decay >= 0.0 && o.decay < 1.0)) throw ConfigError("triggering decay must be in [0, 1)");
  if (!(o.latent_sigma >= 0.0 && o.latent_sigma <= 3.0)) throw ConfigError("the hidden risk's sigma must be in [0, 3]");
  if (!(o.latent_persistence >= 0.0 && o.latent_persistence < 1.0)) {
    throw ConfigError("the hidden risk's persistence must be in [0, 1)");
  }
  if (branching_ratio(o) >= 1.0) throw ConfigError("the event process is explosive (branching ratio >= 1)");
  graph.validate();
  const std::int32_t n = graph.node_count(), days = o.days, cats = 3;
  const auto nn = static_cast<std::size_t>(n);
  Random rng(o.seed);

  const SparseAdjacency adj = sparse_adjacency(graph, AdjacencyNorm::Row);
  // Background rates: a shared hotspot field plus one field per category.
  const auto shared = smooth_field(adj, rng, 8);
  std::array<std::vector<double>, 3> mu;
  const double rho = o.shared_hotspot_share, own = std::sqrt(1.0 - rho * rho), sigma = o.hotspot_sigma;
  for (int c = 0; c < cats; ++c) {
    const auto field = smooth_field(adj, rng, 8);
    mu[c].resize(nn);
    for (std::size_t i = 0; i < nn; ++i) {
      mu[c][i] = o.base_rate[c] * std::exp(sigma * (rho * shared[i] + own * field[i]) - 0.5 * sigma * sigma);
    }
  }
  // Weekly profiles (Monday first) per category: violence peaks at weekends.
  const std::array<std::array<double, 7>, 3> weekly = {{{1.05, 1.10, 1.10, 1.05, 1.00, 0.85, 0.85},
                                                        {1.05, 1.05, 1.05, 1.05, 1.00, 0.90, 0.90},
                                                        {0.90, 0.88, 0.90, 0.95, 1.05, 1.17, 1.15}}};

  CrimeDataset ds;
  ds.graph = std::move(graph);
  ds.day_number.resize(static_cast<std::size_t>(days));
  ds.counts.assign(static_cast<std::size_t>(days) * nn * cats, 0);
  ds.intensity.assign(static_cast<std::size_t>(days) * nn, 0.0f);

  std::array<std::vector<double>, 3> excite;  // decayed past counts per category and node
  for (auto& e : excite) e.assign(nn, 0.0);
  std::vector<double> spread(nn);
  std::array<std::vector<double>, 3> lambda;
  for (auto& l : lambda) l.resize(nn);

  // Its own random stream, so that a city without hidden risk is the same as before it existed.
  Random latent_rng(o.seed ^ 0x6C6174656E74ULL);
  std::vector<double> latent;
  if (o.latent_sigma > 0.0) latent = smooth_field(adj, latent_rng, 4);
  const double phi = o.latent_persistence, innovation = std::sqrt(std::max(0.0, 1.0 - phi * phi));

  for (std::int32_t t = 0; t < days; ++t) {
    const std::int32_t day = o.start_day + t;
    ds.day_number[t] = day;
    const int dow = weekday(day);
    const double annual = 1.0 + o.annual_amplitude * std::cos(2.0 * M_PI * (day_of_year(day) - 196) / 365.25);
    for (int c = 0; c < cats; ++c) {
      const double season = weekly[c][dow] * (c == 2 ? annual : 1.0);
      for (std::size_t i = 0; i < nn; ++i) lambda[c][i] = mu[c][i] * season;
    }
    // The hidden risk scales the violent background (not the triggering, which would feed on it).
    if (!latent.empty()) {
      const auto shock = smooth_field(adj, latent_rng, 4);
      const double sigma_l = o.latent_sigma;
      for (std::size_t i = 0; i < nn; ++i) {
        latent[i] = phi * latent[i] + innovation * shock[i];
        lambda[2][i] *= std::exp(sigma_l * std::clamp(latent[i], -2.5, 2.5) - 0.5 * sigma_l * sigma_l);
      }
    }
    // Triggering from every source category, on the segment itself and its neighbours.
    for (int from = 0; from < cats; ++from) {
      const auto& e = excite[from];
      for (std::size_t i = 0; i < nn; ++i) {
        double s = 0.0;
        for (auto k = adj.row_ptr[i]; k < adj.row_ptr[i + 1]; ++k) s += adj.value[k] * e[adj.col[k]];
        spread[i] = e[i] + o.neighbour_share * s;
      }
      for (int to = 0; to < cats; ++to) {
        const double a = o.excitation[from][to];
        for (std::size_t i = 0; i < nn; ++i) lambda[to][i] += a * spread[i];
      }
    }
    auto* counts = ds.counts.data() + static_cast<std::size_t>(t) * nn * cats;
    for (std::size_t i = 0; i < nn; ++i) {
      for (int c = 0; c < cats; ++c) counts[i * cats + c] = rng.poisson(lambda[c][i]);
      ds.intensity[static_cast<std::size_t>(t) * nn + i] = static_cast<float>(lambda[2][i]);
    }
    for (int c = 0; c < cats; ++c) {
      for (std::size_t i = 0; i < nn; ++i) excite[c][i] = o.decay * excite[c][i] + counts[i * cats + c];
    }
  }

  ds.categories = kDefaultCategories;
  ds.channels = kDefaultChannels;
  ds.features = smooth_counts(ds.counts, days, n, cats, o.smoothing);
  ds.label = label_from_counts(ds.counts, days, n, ds.categories);

  double min_lat = 90, max_lat = -90, min_lon = 180, max_lon = -180;
  for (std::size_t i = 0; i < nn; ++i) {
    min_lat = std::min(min_lat, ds.graph.lat[i]);
    max_lat = std::max(max_lat, ds.graph.lat[i]);
    min_lon = std::min(min_lon, ds.graph.lon[i]);
    max_lon = std::max(max_lon, ds.graph.lon[i]);
  }
  auto& p = ds.provenance;
  p["creator"] = "crimegraph-prepare synth";
  p["software_version"] = kVersion;
  p["created_utc"] = utc_timestamp();
  p["source"] = "synthetic self-exciting event process";
  p["seed"] = std::to_string(o.seed);
  p["days"] = std::to_string(days);
  p["start_date"] = iso_date(o.start_day);
  p["smoothing"] = std::to_string(o.smoothing);
  p["categories"] = "Arrest=synthetic arrests; Property=synthetic property crime; Violent=synthetic violent crime";
  p["label_category"] = kLabelCategory;
  p["bbox"] = std::to_string(min_lat) + "," + std::to_string(min_lon) + "," + std::to_string(max_lat) + "," +
              std::to_string(max_lon);
  p["process"] = "base_rate=" + std::to_string(o.base_rate[0]) + "/" + std::to_string(o.base_rate[1]) + "/" +
                 std::to_string(o.base_rate[2]) + " hotspot_sigma=" + std::to_string(o.hotspot_sigma) +
                 " decay=" + std::to_string(o.decay) + " neighbour_share=" + std::to_string(o.neighbour_share) +
                 " branching_ratio=" + std::to_string(branching_ratio(o));
  return ds;
}

}  // namespace crimegraph
