#pragma once
// Runs the project's Python module (python/crimegraph_results.py: figures and maps, with
// Debian's h5py, pandas and matplotlib). /usr/bin/python3 comes first, so that another Python
// earlier on PATH, without those packages, is not picked up.
#include <string>
#include <vector>

namespace crimegraph {

/// The folder of the module: $CRIMEGRAPH_PYTHON_DIR, else the source tree's python/.
std::string python_module_dir();
/// Runs `python3 crimegraph_results.py ARGS...`; throws Error naming the command when it fails.
void run_python_module(const std::vector<std::string>& args);

}  // namespace crimegraph
