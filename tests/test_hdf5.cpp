#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crimegraph/error.hpp"
#include "crimegraph/io/hdf5.hpp"
#include "fixtures.hpp"

using namespace crimegraph;

TEST(Hdf5, RoundTripsArraysStringsAndAttributes) {
  fixture::TempDir dir;
  const auto path = dir.file("a.h5");
  {
    auto f = h5::File::create(path);
    std::vector<float> v = {1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f};
    f.write("group/deep/matrix", v.data(), {2, 3}, h5::Layout::compressed_rows({2, 3}, 1));
    f.write_strings("names", {"a", "", "Ünïcode street"});
    f.set_attribute("", "format", std::string("x"));
    f.set_attribute("group", "count", std::int64_t{42});
    f.set_attribute("group/deep/matrix", "scale", 0.25);
  }
  auto f = h5::File::open_read(path);
  h5::Dims dims;
  const auto v = f.read<float>("group/deep/matrix", &dims);
  EXPECT_EQ(dims, (h5::Dims{2, 3}));
  EXPECT_EQ(v[5], 6.5f);
  const auto as_double = f.read<double>("group/deep/matrix");  // HDF5 converts
  EXPECT_DOUBLE_EQ(as_double[0], 1.5);
  EXPECT_EQ(f.read_strings("names"), (std::vector<std::string>{"a", "", "Ünïcode street"}));
  EXPECT_EQ(f.string_attribute("", "format"), "x");
  EXPECT_EQ(f.int_attribute("group", "count"), 42);
  EXPECT_DOUBLE_EQ(f.double_attribute("group/deep/matrix", "scale"), 0.25);
  EXPECT_TRUE(f.exists("group/deep"));
  EXPECT_FALSE(f.exists("group/nope/matrix"));
  EXPECT_EQ(f.members("group"), (std::vector<std::string>{"deep"}));
}

TEST(Hdf5, GrowableColumnsAppend) {
  fixture::TempDir dir;
  const auto path = dir.file("t.h5");
  {
    auto f = h5::File::create(path);
    f.create_column<std::int64_t>("table/id", 4);
    f.create_string_column("table/status", 4);
    for (std::int64_t i = 0; i < 10; ++i) {
      f.append("table/id", i * 3);
      f.append_string("table/status", i % 2 ? "ok" : "failed");
      f.flush();
    }
  }
  auto f = h5::File::open_read(path);
  const auto ids = f.read<std::int64_t>("table/id");
  ASSERT_EQ(ids.size(), 10u);
  EXPECT_EQ(ids[9], 27);
  EXPECT_EQ(f.read_strings("table/status")[3], "ok");
}

TEST(Hdf5, ErrorsNameFileAndObject) {
  fixture::TempDir dir;
  const auto path = dir.file("e.h5");
  { auto f = h5::File::create(path); f.write<std::int32_t>("x", std::vector<std::int32_t>{1}); }
  auto f = h5::File::open_read(path);
  try {
    f.read<float>("missing/thing");
    FAIL() << "expected an IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("missing/thing"), std::string::npos);
  }
  EXPECT_THROW(f.read_strings("x"), IoError);
  EXPECT_THROW(f.string_attribute("", "nothing"), IoError);
  EXPECT_THROW(h5::File::open_read(dir.file("absent.h5")), IoError);
  { std::ofstream(dir.file("text.h5")) << "not hdf5"; }
  EXPECT_THROW(h5::File::open_read(dir.file("text.h5")), IoError);
}

TEST(Hdf5, AtomicWriteLeavesNothingOnFailure) {
  fixture::TempDir dir;
  const auto path = dir.file("atomic.h5");
  EXPECT_THROW(h5::write_atomically(path,
                                    [](h5::File& f) {
                                      f.write<float>("a", std::vector<float>{1.0f});
                                      throw DataError("boom");
                                    }),
               DataError);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the temporary file must be removed";
  h5::write_atomically(path, [](h5::File& f) { f.write<float>("a", std::vector<float>{1.0f}); });
  EXPECT_TRUE(std::filesystem::exists(path));
}
