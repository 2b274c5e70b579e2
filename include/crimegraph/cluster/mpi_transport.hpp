#pragma once
// With mpi_node.hpp, the only code that calls MPI. Every call is checked and a failure becomes
// MpiError naming the call. Waiting never spins: a wait probes for a while, then sleeps in
// growing pauses (up to 2 ms), so idle ranks leave the cores to the ranks that train.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>


namespace crimegraph {

/// MPI_Init / MPI_Finalize for the lifetime of the object. Errors return instead of aborting.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Ends every rank of the job (MPI_Abort): for errors that would otherwise leave ranks waiting.
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0, size_ = 1;
};

struct Message {
  int source = -1;
  int tag = -1;  ///< the sender's tag (see cluster/messages.hpp)
  std::string payload;
};

class MpiTransport {
 public:
  static constexpr int kAnySource = -1;
  MpiTransport() = default;

  void send(int destination, int tag, const std::string& payload);
  /// The next message from `source` (or any rank), waiting without spinning.
  Message receive(int source = kAnySource);
  /// As receive(), but gives up at `deadline`.
  std::optional<Message> receive_until(std::chrono::steady_clock::time_point deadline, int source = kAnySource);
  /// A barrier that waits without spinning (MPI_Ibarrier + backoff).
  void barrier();
  /// Every rank's `value`, in rank order, on rank 0 (empty elsewhere); collective over the
  /// job, waiting without spinning (MPI_Igather + backoff).
  std::vector<int> gather(int value);
  /// The largest `value` over every rank, on every rank; collective, waiting as gather() does.
  int max_over_ranks(int value);

  /// Wall and CPU seconds this process spent waiting in receive/barrier.
  double waiting_seconds() const { return waiting_seconds_; }
  double waiting_cpu_seconds() const { return waiting_cpu_seconds_; }

 private:
  double waiting_seconds_ = 0.0, waiting_cpu_seconds_ = 0.0;
};

}  // namespace crimegraph
