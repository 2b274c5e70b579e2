// libFuzzer target: job and model settings as text: INI sections, hyperparameter assignments,
// CSV column overrides and --deadline moments. Each is accepted or a ConfigError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crimegraph/data/events.hpp"
#include "crimegraph/error.hpp"
#include "crimegraph/io/text.hpp"
#include "crimegraph/model/hyperparameters.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::vector<std::string> assignments;
    for (const auto& e : crimegraph::ini_section(text, "model", "fuzz.ini")) assignments.push_back(e.key + "=" + e.value);
    crimegraph::Hyperparameters hp;
    hp.apply(assignments);
    (void)hp.describe();
  } catch (const crimegraph::ConfigError&) {
  }
  try {
    auto columns = crimegraph::csv_preset("spotcrime");
    crimegraph::apply_column_overrides(columns, text);
  } catch (const crimegraph::ConfigError&) {
  }
  try {
    (void)crimegraph::parse_time_point(text, "--deadline");
  } catch (const crimegraph::ConfigError&) {
  }
  return 0;
}
