#include "crimegraph/io/python.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <filesystem>

#include "crimegraph/error.hpp"

namespace crimegraph {

std::string python_module_dir() {
  const char* dir = std::getenv("CRIMEGRAPH_PYTHON_DIR");
  return dir && *dir ? dir : CRIMEGRAPH_PYTHON_DIR;
}

void run_python_module(const std::vector<std::string>& args) {
  const auto module = python_module_dir() + "/crimegraph_results.py";
  if (!std::filesystem::exists(module)) throw ConfigError("the project's Python module '" + module + "' is missing");
  const auto quote = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string command = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  command += " " + quote(module);
  for (const auto& a : args) command += " " + quote(a);
  std::fflush(stdout);
  std::cout.flush();  // what this program printed comes before what the module prints
  const int status = std::system(command.c_str());
  if (status != 0) {
    throw Error("the figures could not be drawn (" + command +
                "); they need Debian's python3-h5py, python3-pandas and python3-matplotlib");
  }
}

}  // namespace crimegraph
