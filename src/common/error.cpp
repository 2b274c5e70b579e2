// Anchors the exception classes' vtables in the library.
#include "crimegraph/error.hpp"

#include <cstdio>

namespace crimegraph {

std::string one_line(const std::string& message) {
  constexpr std::size_t kMax = 2000;
  std::string out;
  for (const char c : message) {
    if (out.size() >= kMax) return out + "...";
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace crimegraph
