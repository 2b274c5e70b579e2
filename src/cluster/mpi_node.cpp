#include "crimegraph/cluster/mpi_node.hpp"

#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>

#include "crimegraph/cluster/mpi_transport.hpp"
#include "cluster/mpi_check.hpp"
#include "crimegraph/error.hpp"

namespace crimegraph {
namespace {

constexpr auto check = detail::check_mpi;

constexpr int kBulkTag = 901;               // bulk bytes, coordinator -> leader
constexpr std::size_t kChunk = 1ull << 30;  // MPI counts are ints: send at most 1 GiB at a time

int ranks_per_node_override() {
  const char* text = std::getenv("CRIMEGRAPH_RANKS_PER_NODE");
  if (!text || !*text) return 0;
  char* end = nullptr;
  const long k = std::strtol(text, &end, 10);
  if (*end || k < 1) throw ConfigError(std::string("CRIMEGRAPH_RANKS_PER_NODE must be a positive integer, not '") + text + "'");
  return static_cast<int>(k);
}

void broadcast_text(std::string& text, int root, MPI_Comm comm, int my_rank) {
  unsigned long long size = text.size();
  check(MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, root, comm), "MPI_Bcast");
  if (my_rank != root) text.resize(size);
  if (size > 0) check(MPI_Bcast(text.data(), static_cast<int>(size), MPI_CHAR, root, comm), "MPI_Bcast");
}

// A window of shared memory on a node, locked for passive access for its whole life: ranks
// read and write it directly, publish() orders the writes before the reads.
class MpiSharedMemory : public SharedMemory {
 public:
  MpiSharedMemory(std::size_t bytes, bool allocator, MPI_Comm node) : node_(node) {
    void* mine = nullptr;
    check(MPI_Win_allocate_shared(static_cast<MPI_Aint>(allocator ? bytes : 0), 1, MPI_INFO_NULL, node, &mine, &win_),
          "MPI_Win_allocate_shared");
    MPI_Aint size = 0;
    int unit = 0;
    void* base = nullptr;
    check(MPI_Win_shared_query(win_, 0, &size, &unit, &base), "MPI_Win_shared_query");
    data_ = static_cast<std::byte*>(base);
    size_ = static_cast<std::size_t>(size);
    check(MPI_Win_lock_all(MPI_MODE_NOCHECK, win_), "MPI_Win_lock_all");
  }
  ~MpiSharedMemory() override {
    MPI_Win_unlock_all(win_);
    MPI_Win_free(&win_);
  }
  std::byte* data() const override { return data_; }
  std::size_t size() const override { return size_; }
  void publish() override {
    check(MPI_Win_sync(win_), "MPI_Win_sync");
    check(MPI_Barrier(node_), "MPI_Barrier");
    check(MPI_Win_sync(win_), "MPI_Win_sync");
  }

 private:
  MPI_Comm node_;
  MPI_Win win_ = MPI_WIN_NULL;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

struct NodeComm::Handles {
  MPI_Comm node = MPI_COMM_NULL;     // the workers of this node
  MPI_Comm leaders = MPI_COMM_NULL;  // the coordinator and every node's leader
};

NodeComm::NodeComm(const MpiSession& session)
    : world_rank_(session.rank()), comms_(std::make_unique<Handles>()) {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  check(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
  host_.assign(name, static_cast<std::size_t>(len));

  const int k = ranks_per_node_override();
  MPI_Comm workers = MPI_COMM_NULL;
  check(MPI_Comm_split(MPI_COMM_WORLD, coordinator() ? MPI_UNDEFINED : 0, world_rank_, &workers), "MPI_Comm_split");
  if (!coordinator()) {
    const int code = k > 0 ? MPI_Comm_split(workers, world_rank_ / k, world_rank_, &comms_->node)
                           : MPI_Comm_split_type(workers, MPI_COMM_TYPE_SHARED, world_rank_, MPI_INFO_NULL, &comms_->node);
    MPI_Comm_free(&workers);
    check(code, k > 0 ? "MPI_Comm_split" : "MPI_Comm_split_type");
    check(MPI_Comm_rank(comms_->node, &node_rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comms_->node, &node_size_), "MPI_Comm_size");
  }
  const bool in_leaders = coordinator() || node_rank_ == 0;
  check(MPI_Comm_split(MPI_COMM_WORLD, in_leaders ? 0 : MPI_UNDEFINED, world_rank_, &comms_->leaders), "MPI_Comm_split");
  int is_leader = leader() ? 1 : 0;
  check(MPI_Allreduce(&is_leader, &nodes_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  if (!coordinator()) {
    if (leader()) {
      check(MPI_Comm_rank(comms_->leaders, &node_), "MPI_Comm_rank");
      node_ -= 1;  // member 0 is the coordinator
    }
    check(MPI_Bcast(&node_, 1, MPI_INT, 0, comms_->node), "MPI_Bcast");
  }
}

NodeComm::~NodeComm() {
  if (comms_->node != MPI_COMM_NULL) MPI_Comm_free(&comms_->node);
  if (comms_->leaders != MPI_COMM_NULL) MPI_Comm_free(&comms_->leaders);
}

int NodeComm::node_cores() const {
  if (coordinator()) return 1;
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return 1;
  cpu_set_t all;
  check(MPI_Allreduce(&mine, &all, static_cast<int>(sizeof mine), MPI_BYTE, MPI_BOR, comms_->node), "MPI_Allreduce");
  return std::max(1, CPU_COUNT(&all));
}

std::shared_ptr<SharedMemory> NodeComm::allocate_shared(std::size_t bytes) {
  if (coordinator()) throw MpiError("the coordinator has no node memory to share");
  return std::make_shared<MpiSharedMemory>(bytes, leader(), comms_->node);
}

void NodeComm::node_broadcast(std::string& text) { broadcast_text(text, 0, comms_->node, node_rank_); }

std::optional<std::string> NodeComm::node_agree(const std::optional<std::string>& failure) {
  // The lowest failing rank (node_size_ when none) says what went wrong.
  int mine = failure ? node_rank_ : node_size_, first = 0;
  check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comms_->node), "MPI_Allreduce");
  if (first == node_size_) return std::nullopt;
  std::string text = failure ? *failure : "";
  broadcast_text(text, first, comms_->node, node_rank_);
  return text;
}

std::vector<std::string> NodeComm::leaders_gather(const std::string& text) {
  int members = 0, me = 0;
  check(MPI_Comm_size(comms_->leaders, &members), "MPI_Comm_size");
  check(MPI_Comm_rank(comms_->leaders, &me), "MPI_Comm_rank");
  int size = static_cast<int>(text.size());
  std::vector<int> sizes(static_cast<std::size_t>(members)), offsets(static_cast<std::size_t>(members));
  check(MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, comms_->leaders), "MPI_Gather");
  std::string all;
  if (me == 0) {
    int total = 0;
    for (int i = 0; i < members; ++i) {
      offsets[static_cast<std::size_t>(i)] = total;
      total += sizes[static_cast<std::size_t>(i)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  check(MPI_Gatherv(text.data(), size, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0, comms_->leaders),
        "MPI_Gatherv");
  std::vector<std::string> texts;
  if (me != 0) return texts;
  for (int i = 1; i < members; ++i) {  // member 0 is the coordinator itself
    texts.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(i)]),
                               static_cast<std::size_t>(sizes[static_cast<std::size_t>(i)])));
  }
  return texts;
}

void NodeComm::leaders_broadcast(std::string& text) {
  int me = 0;
  check(MPI_Comm_rank(comms_->leaders, &me), "MPI_Comm_rank");
  broadcast_text(text, 0, comms_->leaders, me);
}

void NodeComm::send_to_leader(int node, const void* bytes, std::size_t size) {
  const auto* p = static_cast<const char*>(bytes);
  for (std::size_t done = 0; done < size; done += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, size - done));
    check(MPI_Send(p + done, n, MPI_BYTE, node + 1, kBulkTag, comms_->leaders), "MPI_Send");
  }
}

void NodeComm::receive_from_coordinator(void* bytes, std::size_t size) {
  auto* p = static_cast<char*>(bytes);
  for (std::size_t done = 0; done < size; done += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, size - done));
    check(MPI_Recv(p + done, n, MPI_BYTE, 0, kBulkTag, comms_->leaders, MPI_STATUS_IGNORE), "MPI_Recv");
  }
}

}  // namespace crimegraph
