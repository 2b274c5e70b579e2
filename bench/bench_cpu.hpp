#pragma once
// The machine a benchmark ran on, for its first line: a speed figure means little without the
// CPU model, its vector extensions and the SIMD targets the kernel could choose from.
#include <fstream>
#include <string>

#include "crimegraph/model/gldnet_kernel.hpp"

namespace bench {

inline std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  return "";
}

/// "cpu: AMD EPYC (family 23, model 1; avx2 fma, no avx512f); SIMD targets: avx2, sse4, baseline"
inline std::string cpu_description() {
  const std::string flags = " " + cpuinfo_field("flags") + " ";
  std::string ext;
  for (const char* f : {"avx512f", "avx2", "fma", "sse4_2", "asimd", "sve"}) {
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) ext += (ext.empty() ? "" : " ") + std::string(f);
  }
  if (flags.find(" avx2 ") != std::string::npos && flags.find(" avx512f ") == std::string::npos) ext += ", no avx512f";
  std::string model = cpuinfo_field("model name");
  if (model.empty()) model = cpuinfo_field("CPU part");  // ARM
  std::string targets;
  for (const auto& t : crimegraph::simd_targets()) targets += (targets.empty() ? "" : ", ") + t;
  return "cpu: " + model + " (family " + cpuinfo_field("cpu family") + ", model " + cpuinfo_field("model") + "; " +
         ext + "); SIMD targets: " + targets;
}

}  // namespace bench
