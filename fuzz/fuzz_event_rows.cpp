// libFuzzer target: what the events import does to each CSV row: splitting, dates in the
// presets' formats, and category mapping files.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crimegraph/data/events.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    const std::string_view line(text.data() + start, end - start);
    if (crimegraph::split_csv_line(line, fields)) {
      for (auto f : fields) {
        std::int32_t day = 0;
        for (const char* format : {"auto", "%m/%d/%Y %I:%M:%S %p", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d"}) {
          (void)crimegraph::parse_date(f, format, day);
        }
      }
    }
    start = end + 1;
  }
  try {
    auto categories = crimegraph::CategoryMap::parse(text, "fuzz.ini");
    for (auto f : fields) (void)categories.classify(std::string(f));
  } catch (const crimegraph::ConfigError&) {
  }
  return 0;
}
