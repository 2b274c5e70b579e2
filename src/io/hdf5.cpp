#include "crimegraph/io/hdf5.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "crimegraph/error.hpp"

namespace crimegraph::h5 {
namespace {

static_assert(sizeof(hid_t) == sizeof(std::int64_t), "hid_t must be 64-bit (HDF5 >= 1.10)");

// HDF5 prints its error stack to stderr by default; we report errors ourselves.
const bool kSilenced = [] {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return true;
}();

// The innermost description on HDF5's error stack ("can't open file", "bad object header"...).
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* err, void* out) -> herr_t {
        if (err->desc && *err->desc) *static_cast<std::string*>(out) = err->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason;
}

[[noreturn]] void fail(const char* call, const std::string& file, const std::string& object) {
  std::string msg = std::string("HDF5 ") + call + " failed on '" + file + "'";
  if (!object.empty()) msg += ", object '" + object + "'";
  const auto reason = hdf5_reason();
  if (!reason.empty()) msg += ": " + reason;
  throw IoError(msg);
}

// Owns one hid_t and closes it with the matching H5xclose.
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  operator hid_t() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Checks a returned id or status, throwing with context when negative.
template <class R>
R check(R value, const char* call, const std::string& file, const std::string& object) {
  if (value < 0) fail(call, file, object);
  return value;
}

std::string norm(const std::string& object) { return object.empty() ? "/" : object; }

template <class T> hid_t native_type();
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<std::int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }

hid_t string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

hid_t link_create_plist(const std::string& file) {
  hid_t lcpl = check(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate", file, "");
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

Dims dataspace_dims(hid_t space, const std::string& file, const std::string& object) {
  const int rank = check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", file, object);
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space, d.data(), nullptr), "H5Sget_simple_extent_dims", file, object);
  return Dims(d.begin(), d.end());
}

std::uint64_t element_count(const Dims& dims) {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// Opens a dataset, with a message that says "missing" rather than a raw HDF5 failure.
hid_t open_dataset(hid_t file_id, const std::string& file, const std::string& dataset) {
  hid_t id = H5Dopen2(file_id, dataset.c_str(), H5P_DEFAULT);
  if (id < 0) {
    H5Eclear2(H5E_DEFAULT);
    throw IoError("'" + file + "' has no dataset '" + dataset + "'");
  }
  return id;
}

}  // namespace

Layout Layout::compressed_rows(const Dims& dims, std::uint64_t rows) {
  Layout layout;
  if (dims.empty() || element_count(dims) == 0) return layout;
  layout.chunk = dims;
  layout.chunk[0] = std::max<std::uint64_t>(1, std::min<std::uint64_t>(rows, dims[0]));
  layout.gzip = 4;
  return layout;
}

File File::create(const std::string& path) {
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail("H5Fcreate", path, "");
  return File(id, path);
}

namespace {
// H5Fopen itself would write a superblock into an empty file opened for writing.
void require_hdf5_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw IoError("file '" + path + "' does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw IoError("'" + path + "' is not an HDF5 file");
  }
}
}  // namespace

File File::open_read(const std::string& path) {
  require_hdf5_file(path);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail("H5Fopen", path, "");
  return File(id, path);
}

File File::open_image(const void* image, std::size_t size, const std::string& name) {
  // Read in place: HDF5 neither copies the bytes nor frees them, and the image stays read-only.
  hid_t id = H5LTopen_file_image(const_cast<void*>(image), size,
                                 H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
  if (id < 0) fail("H5LTopen_file_image", name, "");
  return File(id, name);
}

File File::open_read_write(const std::string& path) {
  require_hdf5_file(path);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (id < 0) fail("H5Fopen", path, "");
  return File(id, path);
}

File::File(File&& other) noexcept : id_(std::exchange(other.id_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = std::exchange(other.id_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}

void File::close() {
  if (id_ < 0) return;
  const hid_t id = std::exchange(id_, -1);
  check(H5Fclose(id), "H5Fclose", path_, "");
}

void File::flush() { check(H5Fflush(id_, H5F_SCOPE_GLOBAL), "H5Fflush", path_, ""); }

bool File::exists(const std::string& object) const {
  if (object.empty() || object == "/") return true;
  std::string prefix;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    const auto next = object.find('/', pos);
    prefix = object.substr(0, next);
    pos = next == std::string::npos ? next : next + 1;
    if (prefix.empty()) continue;
    const htri_t e = H5Lexists(id_, prefix.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

void File::create_group(const std::string& group) {
  if (exists(group)) return;
  Id lcpl(link_create_plist(path_), H5Pclose);
  Id g(check(H5Gcreate2(id_, group.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), "H5Gcreate2", path_, group),
       H5Gclose);
}

void File::remove(const std::string& object) {
  check(H5Ldelete(id_, object.c_str(), H5P_DEFAULT), "H5Ldelete", path_, object);
}

std::vector<std::string> File::members(const std::string& group) const {
  Id g(check(H5Gopen2(id_, norm(group).c_str(), H5P_DEFAULT), "H5Gopen2", path_, group), H5Gclose);
  H5G_info_t info;
  check(H5Gget_info(g, &info), "H5Gget_info", path_, group);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = check(H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                              "H5Lget_name_by_idx", path_, group);
    std::string name(static_cast<std::size_t>(len), '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

template <class T>
void File::write(const std::string& dataset, const T* data, const Dims& dims, const Layout& layout) {
  static_assert(is_element<T>::value, "unsupported HDF5 element type");
  const std::vector<hsize_t> d(dims.begin(), dims.end());
  Id space(check(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), "H5Screate_simple", path_, dataset),
           H5Sclose);
  Id dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", path_, dataset), H5Pclose);
  if (!layout.chunk.empty() && element_count(dims) > 0) {
    const std::vector<hsize_t> c(layout.chunk.begin(), layout.chunk.end());
    check(H5Pset_chunk(dcpl, static_cast<int>(c.size()), c.data()), "H5Pset_chunk", path_, dataset);
    if (layout.gzip > 0) {
      check(H5Pset_shuffle(dcpl), "H5Pset_shuffle", path_, dataset);
      check(H5Pset_deflate(dcpl, static_cast<unsigned>(layout.gzip)), "H5Pset_deflate", path_, dataset);
    }
  }
  Id lcpl(link_create_plist(path_), H5Pclose);
  Id ds(check(H5Dcreate2(id_, dataset.c_str(), native_type<T>(), space, lcpl, dcpl, H5P_DEFAULT), "H5Dcreate2",
              path_, dataset),
        H5Dclose);
  if (element_count(dims) > 0) {
    check(H5Dwrite(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite", path_, dataset);
  }
}

Dims File::shape(const std::string& dataset) const {
  Id ds(open_dataset(id_, path_, dataset), H5Dclose);
  Id space(check(H5Dget_space(ds), "H5Dget_space", path_, dataset), H5Sclose);
  return dataspace_dims(space, path_, dataset);
}

template <class T>
std::vector<T> File::read(const std::string& dataset, Dims* dims) const {
  static_assert(is_element<T>::value, "unsupported HDF5 element type");
  Id ds(open_dataset(id_, path_, dataset), H5Dclose);
  Id type(check(H5Dget_type(ds), "H5Dget_type", path_, dataset), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
    throw IoError("'" + path_ + "': dataset '" + dataset + "' is not numeric");
  }
  Id space(check(H5Dget_space(ds), "H5Dget_space", path_, dataset), H5Sclose);
  const Dims d = dataspace_dims(space, path_, dataset);
  std::vector<T> out(element_count(d));
  if (!out.empty()) {
    check(H5Dread(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread", path_, dataset);
  }
  if (dims) *dims = d;
  return out;
}

template <class T>
std::vector<T> File::read_range(const std::string& dataset, std::uint64_t offset, std::uint64_t count) const {
  static_assert(is_element<T>::value, "unsupported HDF5 element type");
  Id ds(open_dataset(id_, path_, dataset), H5Dclose);
  Id space(check(H5Dget_space(ds), "H5Dget_space", path_, dataset), H5Sclose);
  const Dims d = dataspace_dims(space, path_, dataset);
  if (d.size() != 1 || offset + count > d[0] || offset + count < offset) {
    throw IoError("'" + path_ + "': values " + std::to_string(offset) + ".." + std::to_string(offset + count) +
                  " are outside the 1-D dataset '" + dataset + "'");
  }
  std::vector<T> out(count);
  if (count == 0) return out;
  const hsize_t start = offset, n = count;
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &n, nullptr), "H5Sselect_hyperslab", path_, dataset);
  Id mem(check(H5Screate_simple(1, &n, nullptr), "H5Screate_simple", path_, dataset), H5Sclose);
  check(H5Dread(ds, native_type<T>(), mem, space, H5P_DEFAULT, out.data()), "H5Dread", path_, dataset);
  return out;
}

void File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  Id type(string_type(), H5Tclose);
  Id space(check(H5Screate_simple(1, &n, nullptr), "H5Screate_simple", path_, dataset), H5Sclose);
  Id lcpl(link_create_plist(path_), H5Pclose);
  Id ds(check(H5Dcreate2(id_, dataset.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT), "H5Dcreate2", path_,
              dataset),
        H5Dclose);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (n > 0) check(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "H5Dwrite", path_, dataset);
}

std::vector<std::string> File::read_strings(const std::string& dataset) const {
  Id ds(open_dataset(id_, path_, dataset), H5Dclose);
  Id file_type(check(H5Dget_type(ds), "H5Dget_type", path_, dataset), H5Tclose);
  if (H5Tget_class(file_type) != H5T_STRING) {
    throw IoError("'" + path_ + "': dataset '" + dataset + "' does not hold strings");
  }
  Id space(check(H5Dget_space(ds), "H5Dget_space", path_, dataset), H5Sclose);
  const Dims d = dataspace_dims(space, path_, dataset);
  const std::size_t n = element_count(d);
  std::vector<std::string> out;
  out.reserve(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(file_type) > 0) {
    Id type(string_type(), H5Tclose);
    std::vector<char*> ptrs(n, nullptr);
    check(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "H5Dread", path_, dataset);
    for (auto* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t width = H5Tget_size(file_type);
    std::vector<char> buf(n * width);
    check(H5Dread(ds, file_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "H5Dread", path_, dataset);
    for (std::size_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * width;
      std::size_t len = 0;
      while (len < width && p[len] != '\0') ++len;
      out.emplace_back(p, len);
    }
  }
  return out;
}

// --- attributes --------------------------------------------------------------

namespace {

hid_t open_object(hid_t file_id, const std::string& file, const std::string& object) {
  hid_t id = H5Oopen(file_id, norm(object).c_str(), H5P_DEFAULT);
  if (id < 0) {
    H5Eclear2(H5E_DEFAULT);
    throw IoError("'" + file + "' has no object '" + norm(object) + "'");
  }
  return id;
}

void write_attribute(hid_t file_id, const std::string& file, const std::string& object, const std::string& name,
                     hid_t type, const void* value) {
  Id obj(open_object(file_id, file, object), H5Oclose);
  if (H5Aexists(obj, name.c_str()) > 0) check(H5Adelete(obj, name.c_str()), "H5Adelete", file, object + "@" + name);
  Id space(check(H5Screate(H5S_SCALAR), "H5Screate", file, object), H5Sclose);
  Id attr(check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "H5Acreate2", file,
                object + "@" + name),
          H5Aclose);
  check(H5Awrite(attr, type, value), "H5Awrite", file, object + "@" + name);
}

template <class T>
T read_numeric_attribute(hid_t file_id, const std::string& file, const std::string& object, const std::string& name,
                         hid_t mem_type) {
  Id obj(open_object(file_id, file, object), H5Oclose);
  if (H5Aexists(obj, name.c_str()) <= 0) {
    throw IoError("'" + file + "': object '" + norm(object) + "' has no attribute '" + name + "'");
  }
  Id attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "H5Aopen", file, object + "@" + name), H5Aclose);
  Id type(check(H5Aget_type(attr), "H5Aget_type", file, object + "@" + name), H5Tclose);
  const auto cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
    throw IoError("'" + file + "': attribute '" + norm(object) + "@" + name + "' is not numeric");
  }
  T value{};
  check(H5Aread(attr, mem_type, &value), "H5Aread", file, object + "@" + name);
  return value;
}

}  // namespace

void File::set_attribute(const std::string& object, const std::string& name, const std::string& value) {
  Id type(string_type(), H5Tclose);
  const char* p = value.c_str();
  write_attribute(id_, path_, object, name, type, &p);
}

void File::set_attribute(const std::string& object, const std::string& name, std::int64_t value) {
  write_attribute(id_, path_, object, name, H5T_NATIVE_INT64, &value);
}

void File::set_attribute(const std::string& object, const std::string& name, double value) {
  write_attribute(id_, path_, object, name, H5T_NATIVE_DOUBLE, &value);
}

bool File::has_attribute(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  Id obj(open_object(id_, path_, object), H5Oclose);
  return H5Aexists(obj, name.c_str()) > 0;
}

std::string File::string_attribute(const std::string& object, const std::string& name) const {
  Id obj(open_object(id_, path_, object), H5Oclose);
  if (H5Aexists(obj, name.c_str()) <= 0) {
    throw IoError("'" + path_ + "': object '" + norm(object) + "' has no attribute '" + name + "'");
  }
  const std::string where = norm(object) + "@" + name;
  Id attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "H5Aopen", path_, where), H5Aclose);
  Id type(check(H5Aget_type(attr), "H5Aget_type", path_, where), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING) throw IoError("'" + path_ + "': attribute '" + where + "' is not a string");
  if (H5Tis_variable_str(type) > 0) {
    Id mem(string_type(), H5Tclose);
    char* p = nullptr;
    check(H5Aread(attr, mem, &p), "H5Aread", path_, where);
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
  }
  std::string buf(H5Tget_size(type), '\0');
  check(H5Aread(attr, type, buf.data()), "H5Aread", path_, where);
  return buf.substr(0, buf.find('\0'));
}

std::int64_t File::int_attribute(const std::string& object, const std::string& name) const {
  return read_numeric_attribute<std::int64_t>(id_, path_, object, name, H5T_NATIVE_INT64);
}

double File::double_attribute(const std::string& object, const std::string& name) const {
  return read_numeric_attribute<double>(id_, path_, object, name, H5T_NATIVE_DOUBLE);
}

File::AttributeClass File::attribute_class(const std::string& object, const std::string& name) const {
  Id obj(open_object(id_, path_, object), H5Oclose);
  const std::string where = norm(object) + "@" + name;
  Id attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "H5Aopen", path_, where), H5Aclose);
  Id type(check(H5Aget_type(attr), "H5Aget_type", path_, where), H5Tclose);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return AttributeClass::Integer;
    case H5T_FLOAT: return AttributeClass::Real;
    case H5T_STRING: return AttributeClass::String;
    default: return AttributeClass::Other;
  }
}

std::vector<std::string> File::attribute_names(const std::string& object) const {
  Id obj(open_object(id_, path_, object), H5Oclose);
  H5O_info_t info;
  check(H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS), "H5Oget_info2", path_, object);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const ssize_t len = check(H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                              "H5Aget_name_by_idx", path_, object);
    std::string name(static_cast<std::size_t>(len), '\0');
    H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

// --- growable columns --------------------------------------------------------

namespace {

void create_growable(hid_t file_id, const std::string& file, const std::string& dataset, hid_t type,
                     std::uint64_t chunk) {
  const hsize_t zero = 0, unlimited = H5S_UNLIMITED, c = std::max<std::uint64_t>(1, chunk);
  Id space(check(H5Screate_simple(1, &zero, &unlimited), "H5Screate_simple", file, dataset), H5Sclose);
  Id dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate", file, dataset), H5Pclose);
  check(H5Pset_chunk(dcpl, 1, &c), "H5Pset_chunk", file, dataset);
  Id lcpl(link_create_plist(file), H5Pclose);
  Id ds(check(H5Dcreate2(file_id, dataset.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT), "H5Dcreate2", file,
              dataset),
        H5Dclose);
}

void append_many(hid_t file_id, const std::string& file, const std::string& dataset, hid_t type, const void* values,
                 hsize_t count) {
  if (count == 0) return;
  Id ds(open_dataset(file_id, file, dataset), H5Dclose);
  hsize_t n = 0;
  {
    Id space(check(H5Dget_space(ds), "H5Dget_space", file, dataset), H5Sclose);
    check(H5Sget_simple_extent_dims(space, &n, nullptr), "H5Sget_simple_extent_dims", file, dataset);
  }
  const hsize_t grown = n + count;
  check(H5Dset_extent(ds, &grown), "H5Dset_extent", file, dataset);
  Id space(check(H5Dget_space(ds), "H5Dget_space", file, dataset), H5Sclose);
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, &n, nullptr, &count, nullptr), "H5Sselect_hyperslab", file, dataset);
  Id mem(check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple", file, dataset), H5Sclose);
  check(H5Dwrite(ds, type, mem, space, H5P_DEFAULT, values), "H5Dwrite", file, dataset);
}

}  // namespace

template <class T>
void File::create_column(const std::string& dataset, std::uint64_t chunk) {
  create_growable(id_, path_, dataset, native_type<T>(), chunk);
}

void File::create_string_column(const std::string& dataset, std::uint64_t chunk) {
  Id type(string_type(), H5Tclose);
  create_growable(id_, path_, dataset, type, chunk);
}

void File::truncate_column(const std::string& dataset, std::uint64_t rows) {
  Id ds(open_dataset(id_, path_, dataset), H5Dclose);
  const hsize_t n = rows;
  check(H5Dset_extent(ds, &n), "H5Dset_extent", path_, dataset);
}

template <class T>
void File::append(const std::string& dataset, const T* values, std::size_t count) {
  append_many(id_, path_, dataset, native_type<T>(), values, count);
}

void File::append_strings(const std::string& dataset, const std::vector<std::string>& values) {
  Id type(string_type(), H5Tclose);
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  append_many(id_, path_, dataset, type, ptrs.data(), ptrs.size());
}

#define CRIMEGRAPH_H5_INSTANTIATE(T)                                                                   \
  template void File::write<T>(const std::string&, const T*, const Dims&, const Layout&);            \
  template std::vector<T> File::read<T>(const std::string&, Dims*) const;                            \
  template std::vector<T> File::read_range<T>(const std::string&, std::uint64_t, std::uint64_t) const; \
  template void File::create_column<T>(const std::string&, std::uint64_t);                           \
  template void File::append<T>(const std::string&, const T*, std::size_t);
CRIMEGRAPH_H5_INSTANTIATE(float)
CRIMEGRAPH_H5_INSTANTIATE(double)
CRIMEGRAPH_H5_INSTANTIATE(std::int32_t)
CRIMEGRAPH_H5_INSTANTIATE(std::int64_t)
CRIMEGRAPH_H5_INSTANTIATE(std::uint8_t)
#undef CRIMEGRAPH_H5_INSTANTIATE

void write_atomically(const std::string& path, const std::function<void(File&)>& fill) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    File file = File::create(tmp);
    fill(file);
    file.close();
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw IoError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace crimegraph::h5
