#include "crimegraph/io/machine.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include <spdlog/fmt/fmt.h>

namespace crimegraph {

namespace {
// A cgroup's limit, from the first of its files that holds a number ("max": none).
std::size_t cgroup_limit() {
  std::size_t limit = 0;
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text.empty() || text.find_first_not_of("0123456789") != std::string::npos) continue;
    try {
      limit = static_cast<std::size_t>(std::stoull(text));
    } catch (const std::exception&) {
      continue;  // larger than any machine: no limit
    }
    break;
  }
  return limit;
}

// CRIMEGRAPH_MEMORY_LIMIT: bytes, or a number with K, M or G (powers of 1024); 0 when unset or
// unreadable.
std::size_t stated_limit() {
  const char* text = std::getenv("CRIMEGRAPH_MEMORY_LIMIT");
  if (!text || !*text) return 0;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  double scale = 1;
  switch (*end) {
    case 'K': case 'k': scale = 1024.0; ++end; break;
    case 'M': case 'm': scale = 1024.0 * 1024; ++end; break;
    case 'G': case 'g': scale = 1024.0 * 1024 * 1024; ++end; break;
    default: break;
  }
  if (*end != '\0' || !(value > 0) || value * scale > 1e18) return 0;
  return static_cast<std::size_t>(value * scale);
}
}  // namespace

std::size_t usable_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  std::size_t bytes = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  for (const auto limit : {cgroup_limit(), stated_limit()})
    if (limit > 0) bytes = bytes == 0 ? limit : std::min(bytes, limit);
  return bytes;
}

std::string describe_bytes(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.0f} MB", bytes / 1e6);
  return fmt::format("{:.0f} kB", bytes / 1e3);
}

}  // namespace crimegraph
