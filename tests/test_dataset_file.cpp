#include <gtest/gtest.h>

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
