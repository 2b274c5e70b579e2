#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "crimegraph/data/dataset_file.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(DatasetFile, RoundTripIsExact) {
  fixture::TempDir dir;
  const auto ds = fixture::small_city(40, 60);
  write_dataset(ds, dir.file("d.h5"));
  const auto back = read_dataset(dir.file("d.h5"));
  EXPECT_EQ(back.days(), ds.days());
  EXPECT_EQ(back.nodes(), ds.nodes());
  EXPECT_EQ(back.features, ds.features);
  EXPECT_EQ(back.label, ds.label);
  EXPECT_EQ(back.counts, ds.counts);
  EXPECT_EQ(back.intensity, ds.intensity);
  EXPECT_EQ(back.day_number, ds.day_number);
  EXPECT_EQ(back.channels, ds.channels);
  EXPECT_EQ(back.categories, ds.categories);
  EXPECT_EQ(back.provenance, ds.provenance);
  EXPECT_EQ(back.graph.name, ds.graph.name);
  EXPECT_EQ(back.graph.lon, ds.graph.lon);
  ASSERT_EQ(back.graph.edges.size(), ds.graph.edges.size());
  EXPECT_EQ(back.graph.edges[3].v, ds.graph.edges[3].v);
  EXPECT_DOUBLE_EQ(back.graph.edges[3].weight, ds.graph.edges[3].weight);
  EXPECT_EQ(back.graph.alpha_m, 750.0);
  // Dates are stored as text too, for people opening the file in Python.
  auto f = h5::File::open_read(dir.file("d.h5"));
  EXPECT_EQ(f.read_strings("calendar/date").front(), "2014-01-01");
}

TEST(DatasetFile, MissingFileIsAClearError) {
  const auto msg = message_of([] { read_dataset("/nonexistent/city.h5"); });
  EXPECT_NE(msg.find("/nonexistent/city.h5"), std::string::npos) << msg;
}

TEST(DatasetFile, RejectsOtherFormatVersion) {
  fixture::TempDir dir;
  write_dataset(fixture::small_city(20, 30), dir.file("d.h5"));
  { auto f = h5::File::open_read_write(dir.file("d.h5")); f.set_attribute("", "format_version", std::int64_t{99}); }
  const auto msg = message_of([&] { read_dataset(dir.file("d.h5")); });
  EXPECT_NE(msg.find("format version 99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("d.h5"), std::string::npos) << msg;
}

TEST(DatasetFile, RejectsForeignHdf5) {
  fixture::TempDir dir;
  { auto f = h5::File::create(dir.file("x.h5")); f.write<float>("data", std::vector<float>{1.0f}); }
  const auto msg = message_of([&] { read_dataset(dir.file("x.h5")); });
  EXPECT_NE(msg.find("not a CrimeGraph dataset"), std::string::npos) << msg;
}

TEST(DatasetFile, RejectsMissingDatasetAndWrongShape) {
  fixture::TempDir dir;
  write_dataset(fixture::small_city(20, 30), dir.file("missing.h5"));
  { auto f = h5::File::open_read_write(dir.file("missing.h5")); f.remove("tensor/label"); }
  auto msg = message_of([&] { read_dataset(dir.file("missing.h5")); });
  EXPECT_NE(msg.find("missing dataset 'tensor/label'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing.h5"), std::string::npos) << msg;

  write_dataset(fixture::small_city(20, 30), dir.file("shape.h5"));
  {
    auto f = h5::File::open_read_write(dir.file("shape.h5"));
    h5::Dims dims;
    const auto label = f.read<std::int32_t>("tensor/label", &dims);
    f.remove("tensor/label");
    f.write("tensor/label", label.data(), {dims[1], dims[0]});
  }
  msg = message_of([&] { read_dataset(dir.file("shape.h5")); });
  EXPECT_NE(msg.find("'tensor/label' has shape [20 x 30], expected [30 x 20]"), std::string::npos) << msg;
}

TEST(DatasetFile, RejectsNegativeSizes) {
  fixture::TempDir dir;
  write_dataset(fixture::small_city(20, 30), dir.file("d.h5"));
  { auto f = h5::File::open_read_write(dir.file("d.h5")); f.set_attribute("tensor", "days", std::int64_t{-5}); }
  const auto msg = message_of([&] { read_dataset(dir.file("d.h5")); });
  EXPECT_NE(msg.find("negative day count"), std::string::npos) << msg;
}

TEST(DatasetFile, WriteValidatesFirst) {
  fixture::TempDir dir;
  auto ds = fixture::small_city(20, 30);
  ds.label.pop_back();
  EXPECT_THROW(write_dataset(ds, dir.file("bad.h5")), DataError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.h5")));
}

namespace {
// Replaces one array of a written dataset file, as a damaged or hand-edited file would have it.
template <class T>
void rewrite(const std::string& path, const std::string& object, std::vector<T> values, const h5::Dims& dims) {
  auto f = h5::File::open_read_write(path);
  f.remove(object);
  f.write(object, values.data(), dims);
}

std::string refusal(const std::string& path) {
  try {
    read_dataset(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST(DatasetFile, BadValuesAreRefusedWithTheObjectAndTheFirstBadIndex) {
  fixture::TempDir dir;
  const auto city = fixture::small_city(20, 40, 3);
  const auto path = dir.file("city.h5");
  const std::uint64_t d = city.days(), n = city.nodes(), c = city.channel_count(), k = city.category_count();

  write_dataset(city, path);
  auto features = city.features;
  features[(3 * n + 5) * c + 1] = std::nanf("");
  rewrite(path, "tensor/features", features, {d, n, c});
  EXPECT_NE(refusal(path).find("tensor/features[3][5][1] is nan"), std::string::npos) << refusal(path);

  write_dataset(city, path);
  features = city.features;
  features[7] = std::numeric_limits<float>::infinity();
  rewrite(path, "tensor/features", features, {d, n, c});
  EXPECT_NE(refusal(path).find("tensor/features[0][2][1] is inf"), std::string::npos) << refusal(path);

  write_dataset(city, path);
  auto counts = city.counts;
  counts[(2 * n + 4) * k] = -3;
  rewrite(path, "tensor/counts", counts, {d, n, k});
  EXPECT_NE(refusal(path).find("tensor/counts[2][4][0] is -3"), std::string::npos) << refusal(path);

  write_dataset(city, path);
  auto label = city.label;
  label[n + 1] = -1;
  rewrite(path, "tensor/label", label, {d, n});
  EXPECT_NE(refusal(path).find("tensor/label[1][1] is -1"), std::string::npos) << refusal(path);

  write_dataset(city, path);
  std::vector<double> weights;
  for (const auto& e : city.graph.edges) weights.push_back(e.weight);
  weights[2] = 1e6;
  rewrite(path, "graph/edge_weight", weights, {weights.size()});
  EXPECT_NE(refusal(path).find("weight 1e+06"), std::string::npos) << refusal(path);

  write_dataset(city, path);
  auto lat = city.graph.lat;
  lat[4] = std::nan("");
  rewrite(path, "graph/lat", lat, {lat.size()});
  EXPECT_NE(refusal(path).find("node 4"), std::string::npos) << refusal(path);

  write_dataset(city, path);
  EXPECT_EQ(refusal(path), "accepted");
}
