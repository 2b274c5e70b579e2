#pragma once
// What this machine (or the container or Slurm job it runs in) gives a process.
#include <cstddef>
#include <string>

namespace crimegraph {

/// The memory this process may use: the machine's physical memory, or less where a cgroup
/// (a Slurm job's --mem, a container) or CRIMEGRAPH_MEMORY_LIMIT ("4G", "512M") sets a limit.
std::size_t usable_memory_bytes();

/// "1.2 GB", "161 MB": bytes for a log line.
std::string describe_bytes(double bytes);

}  // namespace crimegraph
