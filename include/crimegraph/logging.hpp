#pragma once
// Logging setup shared by every executable: spdlog to stderr, with the MPI rank in
// every line when there is one.
#include <string>

namespace crimegraph {

/// Configures the default spdlog logger. `rank` < 0 means "not an MPI run".
/// `level` is one of trace, debug, info, warn, error, off.
void setup_logging(const std::string& level = "info", int rank = -1);

}  // namespace crimegraph
