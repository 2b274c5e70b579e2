#pragma once
// Fingerprints: of files for provenance, and to tell whether two nodes hold the same dataset.
#include <string>

namespace crimegraph {

/// SHA-256 of a file's bytes as lowercase hex; throws IoError when the file cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace crimegraph
