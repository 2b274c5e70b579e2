#pragma once
// The one place that talks to the HDF5 C library. Every call is checked; a failure becomes
// crimegraph::IoError naming the call, the file and the object. Objects are addressed by
// slash paths ("graph/edges"); "" or "/" is the root group.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <string>
#include <vector>

namespace crimegraph::h5 {

using Dims = std::vector<std::uint64_t>;

/// Element types the adapter stores: float, double, std::int32_t, std::int64_t, std::uint8_t.
template <class T>
struct is_element : std::false_type {};
template <> struct is_element<float> : std::true_type {};
template <> struct is_element<double> : std::true_type {};
template <> struct is_element<std::int32_t> : std::true_type {};
template <> struct is_element<std::int64_t> : std::true_type {};
template <> struct is_element<std::uint8_t> : std::true_type {};

/// Storage of a new dataset: chunk shape (empty = contiguous) and gzip level (0 = none).
struct Layout {
  Dims chunk;
  int gzip = 0;
  /// Chunked along the first axis, `rows` at a time, gzip level 4 (+ shuffle filter).
  static Layout compressed_rows(const Dims& dims, std::uint64_t rows);
};

class File {
 public:
  /// Creates (truncating) a file for writing.
  static File create(const std::string& path);
  static File open_read(const std::string& path);
  /// Opens the image of a file in memory, read-only and in place: `image` must outlive the
  /// File. `name` stands for the file in messages.
  static File open_image(const void* image, std::size_t size, const std::string& name);
  static File open_read_write(const std::string& path);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }

  /// True when every component of `object` exists (a group or a dataset).
  bool exists(const std::string& object) const;
  /// Creates a group (and any missing parents).
  void create_group(const std::string& group);
  /// Unlinks a group or dataset (the space is reclaimed only when the file is rewritten).
  void remove(const std::string& object);
  /// Names of the members of a group, in HDF5's (alphabetical) order.
  std::vector<std::string> members(const std::string& group) const;

  template <class T>
  void write(const std::string& dataset, const T* data, const Dims& dims, const Layout& layout = {});
  template <class T>
  void write(const std::string& dataset, const std::vector<T>& data) {
    write(dataset, data.data(), Dims{data.size()});
  }
  /// Reads a whole dataset; its element type must convert to T (HDF5 converts numbers).
  template <class T>
  std::vector<T> read(const std::string& dataset, Dims* dims = nullptr) const;
  /// Values offset..offset+count-1 of a 1-D dataset.
  template <class T>
  std::vector<T> read_range(const std::string& dataset, std::uint64_t offset, std::uint64_t count) const;
  Dims shape(const std::string& dataset) const;

  /// Variable-length UTF-8 strings (h5py: `ds.asstr()[:]`).
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& dataset) const;

  // Attributes on a group or dataset ("" = root).
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, std::int64_t value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  bool has_attribute(const std::string& object, const std::string& name) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;
  std::int64_t int_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  std::vector<std::string> attribute_names(const std::string& object) const;
  enum class AttributeClass { Integer, Real, String, Other };
  AttributeClass attribute_class(const std::string& object, const std::string& name) const;

  // Growable 1-D columns, for tables that gain a row at a time (the search results).
  template <class T>
  void create_column(const std::string& dataset, std::uint64_t chunk = 256);
  void create_string_column(const std::string& dataset, std::uint64_t chunk = 256);
  template <class T>
  void append(const std::string& dataset, const T& value) {
    append(dataset, &value, 1);
  }
  /// Appends `count` values in one extend + write.
  template <class T>
  void append(const std::string& dataset, const T* values, std::size_t count);
  void append_string(const std::string& dataset, const std::string& value) { append_strings(dataset, {value}); }
  void append_strings(const std::string& dataset, const std::vector<std::string>& values);
  /// Cuts a growable column back to its first `rows` values (e.g. a write cut off by a crash).
  void truncate_column(const std::string& dataset, std::uint64_t rows);

  /// Pushes everything written so far to disk (H5Fflush).
  void flush();
  /// Closes the file now, reporting a failure (the destructor can only log one).
  void close();

 private:
  File(std::int64_t id, std::string path) : id_(id), path_(std::move(path)) {}
  std::int64_t id_ = -1;
  std::string path_;
};

/// Writes a file the safe way: `fill` writes into "<path>.tmp-<pid>", which is then renamed
/// over `path`. A crash or exception leaves no file at `path` that looks complete.
void write_atomically(const std::string& path, const std::function<void(File&)>& fill);

}  // namespace crimegraph::h5
