#pragma once
// File fingerprints for provenance.
#include <cstddef>
#include <string>

namespace crimegraph {

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  /// The digest as lowercase hex (call once, at the end).
  std::string hex();

 private:
  void* ctx_;
};

/// SHA-256 of a file's bytes as lowercase hex; throws IoError when the file cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace crimegraph
