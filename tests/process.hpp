#pragma once
// Runs a command line in a shell and captures its exit code and combined output.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace crimegraph::fixture {

struct ProcessResult {
  int exit_code = -1;
  std::string output;
};

inline ProcessResult run_command(const std::string& command) {
  ProcessResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace crimegraph::fixture
