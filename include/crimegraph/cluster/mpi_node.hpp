#pragma once
// The job's ranks grouped by node, and memory a node's ranks share (MPI-3 shared-memory
// windows). With mpi_transport.hpp, the only code that calls MPI; every call is checked and a
// failure becomes MpiError naming the call.
//
// The coordinator (rank 0) trains nothing, so it is in no node's group; it talks to one rank
// per node, the node's leader (its lowest rank), through the "leaders" group, whose member 0 is
// the coordinator and member i the leader of node i - 1.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crimegraph {

class MpiSession;

/// Memory one rank of a node allocated, which every rank of the node reads in place.
class SharedMemory {
 public:
  virtual ~SharedMemory() = default;
  virtual std::byte* data() const = 0;
  virtual std::size_t size() const = 0;
  /// Collective over the node: what any rank wrote before it is visible to every rank after it.
  virtual void publish() = 0;
};

class NodeComm {
 public:
  /// Collective over every rank of the job. Workers are grouped by the memory they can share
  /// (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED). The environment variable
  /// CRIMEGRAPH_RANKS_PER_NODE=k groups them by blocks of k job ranks instead (ranks 0..k-1 on
  /// the first "node"), so that tests can run several nodes on one machine.
  explicit NodeComm(const MpiSession& session);
  ~NodeComm();
  NodeComm(const NodeComm&) = delete;
  NodeComm& operator=(const NodeComm&) = delete;

  bool coordinator() const { return world_rank_ == 0; }
  /// This worker's node, 0 .. nodes() - 1, in the order of their leaders' ranks; -1 on the coordinator.
  int node() const { return node_; }
  int nodes() const { return nodes_; }
  /// Rank within the node, and the node's worker count (0 and 1 on the coordinator).
  int node_rank() const { return node_rank_; }
  int node_size() const { return node_size_; }
  bool leader() const { return !coordinator() && node_rank_ == 0; }
  /// The host's name (MPI_Get_processor_name), for messages about a node.
  const std::string& host() const { return host_; }
  /// Cores the node's workers may run on: the union of their CPU affinity masks (a Slurm
  /// allocation or a binding narrows it). Collective over the node. 1 on the coordinator.
  int node_cores() const;

  // Over the node (workers only).
  /// `bytes` allocated by the leader (the others pass any size; it is ignored), shared by all.
  std::shared_ptr<SharedMemory> allocate_shared(std::size_t bytes);
  /// The leader's `text` on every rank of the node.
  void node_broadcast(std::string& text);
  /// Collective: every rank passes its own failure (or none) and gets the failure of the
  /// lowest rank that had one, so that all of the node stop together instead of waiting.
  std::optional<std::string> node_agree(const std::optional<std::string>& failure);

  // Over the coordinator and the leaders (the others must not call these).
  /// Each leader's `text`, in leader order, on the coordinator (empty elsewhere).
  std::vector<std::string> leaders_gather(const std::string& text);
  /// The coordinator's `text` on every leader.
  void leaders_broadcast(std::string& text);
  /// The coordinator sends `size` bytes to the leader of `node`; that leader receives them.
  void send_to_leader(int node, const void* bytes, std::size_t size);
  void receive_from_coordinator(void* bytes, std::size_t size);

 private:
  int world_rank_ = 0;
  int node_ = -1, nodes_ = 0, node_rank_ = 0, node_size_ = 1;
  std::string host_;
  // The node's and the leaders' MPI_Comm, defined where mpi.h is included.
  struct Handles;
  std::unique_ptr<Handles> comms_;
};

}  // namespace crimegraph
