#include "crimegraph/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "crimegraph/error.hpp"

namespace crimegraph {

void setup_logging(const std::string& level, int rank) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw ConfigError("unknown log level '" + level +
                      "' (use trace, debug, info, warn, error or off)");
  }
  spdlog::drop("crimegraph");  // allow re-configuration (tests, subcommands)
  auto logger = spdlog::stderr_color_mt("crimegraph");
  if (rank >= 0) {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(rank) + "] [%^%l%$] %v");
  } else {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace crimegraph
