// libFuzzer target: the search-space parser. Any text is a space or a ConfigError; a space it
// accepts samples configurations inside its own ranges.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "crimegraph/error.hpp"
#include "crimegraph/search/space.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto space = crimegraph::SearchSpace::parse(text, "fuzz.ini");
    std::mt19937_64 rng(1);
    for (int i = 0; i < 4; ++i) {
      const auto config = space.sample(rng);
      for (const auto& p : space.parameters()) {
        const double v = config.at(p.name);
        if (p.kind != crimegraph::Parameter::Kind::Choice && (v < p.min - 1e-9 || v > p.max + 1e-9)) __builtin_trap();
      }
    }
    (void)crimegraph::SearchSpace::parse(space.to_text(), "round-trip");  // what it prints parses again
  } catch (const crimegraph::ConfigError&) {
  }
  return 0;
}
