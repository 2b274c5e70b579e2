#include "crimegraph/data/dataset_file.hpp"

#include <limits>

#include "crimegraph/data/calendar.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/hdf5.hpp"

namespace crimegraph {
namespace {

[[noreturn]] void bad_file(const std::string& path, const std::string& problem) {
  throw DataError("dataset file '" + path + "': " + problem);
}

std::string dims_text(const h5::Dims& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Reads a dataset and checks its shape against `want`.
template <class T>
std::vector<T> read_shaped(const h5::File& f, const std::string& name, const h5::Dims& want) {
  if (!f.exists(name)) bad_file(f.path(), "missing dataset '" + name + "'");
  h5::Dims got;
  auto values = f.read<T>(name, &got);
  if (got != want) bad_file(f.path(), "dataset '" + name + "' has shape " + dims_text(got) + ", expected " + dims_text(want));
  return values;
}

std::vector<std::string> read_strings_shaped(const h5::File& f, const std::string& name, std::uint64_t n) {
  if (!f.exists(name)) bad_file(f.path(), "missing dataset '" + name + "'");
  auto values = f.read_strings(name);
  if (values.size() != n) {
    bad_file(f.path(), "dataset '" + name + "' has " + std::to_string(values.size()) + " entries, expected " +
                           std::to_string(n));
  }
  return values;
}

void check_format(const h5::File& f) {
  if (!f.has_attribute("", "format") || f.string_attribute("", "format") != kDatasetFormatName) {
    bad_file(f.path(), std::string("not a CrimeGraph dataset (root attribute 'format' is not '") + kDatasetFormatName +
                           "')");
  }
  const auto version = f.int_attribute("", "format_version");
  if (version != kDatasetFormatVersion) {
    bad_file(f.path(), "format version " + std::to_string(version) + " is not supported (this build reads version " +
                           std::to_string(kDatasetFormatVersion) + ")");
  }
}

StreetGraph read_graph_group(const h5::File& f) {
  if (!f.exists("graph")) bad_file(f.path(), "missing group 'graph'");
  const auto n64 = f.int_attribute("graph", "nodes");
  if (n64 < 0) bad_file(f.path(), "negative node count");
  const auto n = static_cast<std::uint64_t>(n64);
  StreetGraph g;
  g.crs = f.string_attribute("graph", "crs");
  g.kernel = f.string_attribute("graph", "kernel");
  g.alpha_m = f.double_attribute("graph", "alpha_m");
  if (g.kernel != "gaussian") bad_file(f.path(), "unknown weight kernel '" + g.kernel + "'");
  g.source_id = read_shaped<std::int64_t>(f, "graph/node_id", {n});
  g.name = read_strings_shaped(f, "graph/node_name", n);
  g.x = read_shaped<double>(f, "graph/x_m", {n});
  g.y = read_shaped<double>(f, "graph/y_m", {n});
  g.lon = read_shaped<double>(f, "graph/lon", {n});
  g.lat = read_shaped<double>(f, "graph/lat", {n});
  g.length_m = read_shaped<double>(f, "graph/length_m", {n});
  h5::Dims edims;
  if (!f.exists("graph/edges")) bad_file(f.path(), "missing dataset 'graph/edges'");
  const auto pairs = f.read<std::int32_t>("graph/edges", &edims);
  if (edims.size() != 2 || edims[1] != 2) bad_file(f.path(), "dataset 'graph/edges' must have shape [edges x 2], has " + dims_text(edims));
  const auto e = edims[0];
  const auto dist = read_shaped<double>(f, "graph/edge_distance_m", {e});
  const auto weight = read_shaped<double>(f, "graph/edge_weight", {e});
  g.edges.resize(e);
  for (std::size_t i = 0; i < e; ++i) g.edges[i] = {pairs[2 * i], pairs[2 * i + 1], dist[i], weight[i]};
  if (f.exists("graph/geometry")) {
    const auto node_parts = read_shaped<std::int64_t>(f, "graph/geometry/node_parts", {n + 1});
    const auto part_vertices = f.read<std::int64_t>("graph/geometry/part_vertices");
    h5::Dims vdims;
    const auto vertices = f.read<double>("graph/geometry/vertices_m", &vdims);
    const auto parts = part_vertices.empty() ? 0 : part_vertices.size() - 1;
    const bool consistent = !part_vertices.empty() && node_parts.front() == 0 &&
                            static_cast<std::size_t>(node_parts.back()) == parts && vdims.size() == 2 && vdims[1] == 2 &&
                            static_cast<std::uint64_t>(part_vertices.back()) == vdims[0];
    if (!consistent) bad_file(f.path(), "inconsistent 'graph/geometry' offsets");
    g.geometry.resize(n);
    for (std::size_t node = 0; node < n; ++node) {
      for (auto p = node_parts[node]; p < node_parts[node + 1]; ++p) {
        std::vector<std::pair<double, double>> part;
        for (auto v = part_vertices[static_cast<std::size_t>(p)]; v < part_vertices[static_cast<std::size_t>(p) + 1]; ++v) {
          part.emplace_back(vertices[2 * static_cast<std::size_t>(v)], vertices[2 * static_cast<std::size_t>(v) + 1]);
        }
        g.geometry[node].parts.push_back(std::move(part));
      }
    }
  }
  try {
    g.validate();
  } catch (const DataError& err) {
    bad_file(f.path(), err.what());
  }
  return g;
}

}  // namespace

void write_dataset(const CrimeDataset& ds, const std::string& path) {
  ds.validate();
  const std::uint64_t d = ds.days(), n = ds.nodes(), c = ds.channel_count(), k = ds.category_count();
  const auto& g = ds.graph;
  h5::write_atomically(path, [&](h5::File& f) {
    f.set_attribute("", "format", std::string(kDatasetFormatName));
    f.set_attribute("", "format_version", static_cast<std::int64_t>(kDatasetFormatVersion));

    f.create_group("graph");
    f.set_attribute("graph", "nodes", static_cast<std::int64_t>(n));
    f.set_attribute("graph", "crs", g.crs);
    f.set_attribute("graph", "kernel", g.kernel);
    f.set_attribute("graph", "alpha_m", g.alpha_m);
    f.write("graph/node_id", g.source_id);
    f.write_strings("graph/node_name", g.name);
    f.write("graph/x_m", g.x);
    f.write("graph/y_m", g.y);
    f.write("graph/lon", g.lon);
    f.write("graph/lat", g.lat);
    f.write("graph/length_m", g.length_m);
    std::vector<std::int32_t> pairs;
    std::vector<double> dist, weight;
    for (const auto& e : g.edges) {
      pairs.push_back(e.u);
      pairs.push_back(e.v);
      dist.push_back(e.distance_m);
      weight.push_back(e.weight);
    }
    f.write("graph/edges", pairs.data(), {g.edges.size(), 2});
    f.write("graph/edge_distance_m", dist);
    f.write("graph/edge_weight", weight);
    if (!g.geometry.empty()) {
      // Polylines flattened: node n owns parts [node_parts[n], node_parts[n+1]); part p owns
      // vertices [part_vertices[p], part_vertices[p+1]) of vertices_m (x, y).
      std::vector<std::int64_t> node_parts{0}, part_vertices{0};
      std::vector<double> vertices;
      for (const auto& line : g.geometry) {
        for (const auto& part : line.parts) {
          for (const auto& [x, y] : part) {
            vertices.push_back(x);
            vertices.push_back(y);
          }
          part_vertices.push_back(static_cast<std::int64_t>(vertices.size() / 2));
        }
        node_parts.push_back(static_cast<std::int64_t>(part_vertices.size() - 1));
      }
      f.write("graph/geometry/node_parts", node_parts);
      f.write("graph/geometry/part_vertices", part_vertices);
      f.write("graph/geometry/vertices_m", vertices.data(), {vertices.size() / 2, 2});
    }

    std::vector<std::string> dates;
    dates.reserve(d);
    for (auto day : ds.day_number) dates.push_back(iso_date(day));
    f.write_strings("calendar/date", dates);
    f.write("calendar/day_number", ds.day_number);

    f.create_group("tensor");
    f.set_attribute("tensor", "days", static_cast<std::int64_t>(d));
    f.set_attribute("tensor", "nodes", static_cast<std::int64_t>(n));
    f.write_strings("tensor/channels", ds.channels);
    f.write_strings("tensor/categories", ds.categories);
    // 32 days per chunk: a training window touches one or two chunks.
    f.write("tensor/features", ds.features.data(), {d, n, c}, h5::Layout::compressed_rows({d, n, c}, 32));
    f.write("tensor/label", ds.label.data(), {d, n}, h5::Layout::compressed_rows({d, n}, 32));
    f.write("tensor/counts", ds.counts.data(), {d, n, k}, h5::Layout::compressed_rows({d, n, k}, 32));
    if (ds.has_intensity()) {
      f.write("truth/intensity", ds.intensity.data(), {d, n}, h5::Layout::compressed_rows({d, n}, 32));
      f.set_attribute("truth/intensity", "description",
                      std::string("true conditional intensity (expected count) of the label category per day and node"));
    }

    f.create_group("provenance");
    for (const auto& [key, value] : ds.provenance) f.set_attribute("provenance", key, value);
  });
}

namespace {
h5::File open_source(const DatasetSource& source) {
  return source.in_memory() ? h5::File::open_image(source.image, source.image_size, source.path)
                            : h5::File::open_read(source.path);
}
}  // namespace

StreetGraph read_street_graph(const DatasetSource& source) {
  const auto f = open_source(source);
  check_format(f);
  return read_graph_group(f);
}

StreetGraph read_street_graph(const std::string& path) { return read_street_graph(DatasetSource{path}); }

namespace {
std::int32_t day_count(const h5::File& f, const std::string& path) {
  check_format(f);
  if (!f.exists("tensor")) bad_file(path, "missing group 'tensor'");
  const auto days = f.int_attribute("tensor", "days");
  if (days < 0 || days > std::numeric_limits<std::int32_t>::max()) bad_file(path, "day count out of range");
  return static_cast<std::int32_t>(days);
}
}  // namespace

std::int32_t read_day_count(const std::string& path) { return day_count(h5::File::open_read(path), path); }

DatasetExtent read_dataset_extent(const std::string& path) {
  const auto f = h5::File::open_read(path);
  DatasetExtent e;
  e.days = day_count(f, path);
  e.nodes = f.int_attribute("tensor", "nodes");
  if (!f.exists("tensor/channels")) bad_file(path, "missing dataset 'tensor/channels'");
  e.channel_names = read_strings_shaped(f, "tensor/channels", f.shape("tensor/channels").at(0));
  e.channels = static_cast<std::int64_t>(e.channel_names.size());
  if (!f.exists("tensor/categories")) bad_file(path, "missing dataset 'tensor/categories'");
  e.categories = read_strings_shaped(f, "tensor/categories", f.shape("tensor/categories").at(0));
  return e;
}

CrimeDataset read_dataset(const std::string& path, DatasetParts parts) {
  return read_dataset(DatasetSource{path}, parts);
}

CrimeDataset read_dataset(const DatasetSource& source, DatasetParts parts) {
  const auto& path = source.path;
  const auto f = open_source(source);
  check_format(f);
  CrimeDataset ds;
  ds.graph = read_graph_group(f);
  if (!f.exists("tensor")) bad_file(path, "missing group 'tensor'");
  const auto d64 = f.int_attribute("tensor", "days");
  if (d64 < 0) bad_file(path, "negative day count");
  const std::uint64_t d = static_cast<std::uint64_t>(d64), n = static_cast<std::uint64_t>(ds.nodes());
  if (static_cast<std::uint64_t>(f.int_attribute("tensor", "nodes")) != n) {
    bad_file(path, "tensor node count differs from the graph's");
  }
  ds.channels = read_strings_shaped(f, "tensor/channels", f.shape("tensor/channels").at(0));
  ds.categories = read_strings_shaped(f, "tensor/categories", f.shape("tensor/categories").at(0));
  const std::uint64_t c = ds.channels.size(), k = ds.categories.size();
  ds.day_number = read_shaped<std::int32_t>(f, "calendar/day_number", {d});
  ds.features = read_shaped<float>(f, "tensor/features", {d, n, c});
  ds.label = read_shaped<std::int32_t>(f, "tensor/label", {d, n});
  if (parts != DatasetParts::Training) ds.counts = read_shaped<std::int32_t>(f, "tensor/counts", {d, n, k});
  if (parts == DatasetParts::All) {
    if (f.exists("truth/intensity")) ds.intensity = read_shaped<float>(f, "truth/intensity", {d, n});
  } else if (parts == DatasetParts::Training) {
    if (!f.exists("tensor/counts")) bad_file(path, "missing dataset 'tensor/counts'");
    ds.categories.clear();  // the counts are not loaded: keep the dataset self-consistent
  }
  if (f.exists("provenance")) {
    for (const auto& key : f.attribute_names("provenance")) ds.provenance[key] = f.string_attribute("provenance", key);
  }
  try {
    ds.validate();
  } catch (const DataError& err) {
    bad_file(path, err.what());
  }
  return ds;
}

}  // namespace crimegraph
