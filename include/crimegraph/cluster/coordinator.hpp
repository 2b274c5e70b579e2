#pragma once
// The workers the search loop (search/search_loop.hpp) drives over MPI or in process, and a
// worker rank's own loop.
#include <memory>
#include <vector>

#include "crimegraph/cluster/objective.hpp"
#include "crimegraph/search/search_loop.hpp"

namespace crimegraph {

class MpiTransport;

/// Ranks 1..workers over MPI, all of them training.
std::unique_ptr<WorkerPool> make_mpi_worker_pool(MpiTransport& transport, int workers);
/// Ranks 1..workers over MPI, of which only `training` are given trials; the others wait,
/// blocked, until shutdown() (ranks beyond their node's cores would only slow the others).
std::unique_ptr<WorkerPool> make_mpi_worker_pool(MpiTransport& transport, int workers, std::vector<int> training);
/// One worker running inside the coordinator's process (a single-rank run).
std::unique_ptr<WorkerPool> make_in_process_pool(Objective& objective);

/// How many of a node's workers are given trials: `setting` is "auto" (one per `threads` of
/// the node's cores, at least one: more would only share the cores and slow every trial),
/// "all", or a number (at most the node's workers). Throws ConfigError for anything else.
int training_workers(const std::string& setting, int node_workers, int node_cores, int threads);

/// A worker rank's loop: run work until told to shut down.
void run_worker(MpiTransport& transport, int rank, Objective& objective);

}  // namespace crimegraph
