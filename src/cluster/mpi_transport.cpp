#include "crimegraph/cluster/mpi_transport.hpp"

#include <mpi.h>
#include <time.h>

#include <cstdlib>
#include <limits>
#include <thread>

#include "cluster/mpi_check.hpp"
#include "crimegraph/error.hpp"

namespace crimegraph {
namespace {

constexpr auto check = detail::check_mpi;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Polls `ready` until it returns true or the deadline passes: a short burst of probes for
// low latency, then sleeps that double from 20 us up to 2 ms. Accounts wall and CPU time.
template <class Ready>
bool wait_backoff(Ready&& ready, std::optional<std::chrono::steady_clock::time_point> deadline, double& wall,
                  double& cpu) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = process_cpu_seconds();
  bool got = false;
  auto pause = std::chrono::microseconds(20);
  for (int spins = 0;; ++spins) {
    if (ready()) {
      got = true;
      break;
    }
    if (deadline && std::chrono::steady_clock::now() >= *deadline) break;
    if (spins >= 200) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
    }
  }
  wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  cpu += process_cpu_seconds() - c0;
  return got;
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  check(MPI_Initialized(&initialised), "MPI_Initialized");
  if (!initialised) check(MPI_Init(argc, argv), "MPI_Init");
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiSession::~MpiSession() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
}

void MpiSession::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void MpiTransport::send(int destination, int tag, const std::string& payload) {
  if (payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw MpiError("MPI_Send: message of " + std::to_string(payload.size()) + " bytes is too large");
  }
  check(MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, destination, tag,
                 MPI_COMM_WORLD),
        "MPI_Send");
}

namespace {
std::optional<Message> probe_and_receive(int source, std::optional<std::chrono::steady_clock::time_point> deadline,
                                         double& wall, double& cpu) {
  MPI_Message handle{};
  MPI_Status status{};
  int found = 0;
  const int from = source == MpiTransport::kAnySource ? MPI_ANY_SOURCE : source;
  const bool got = wait_backoff(
      [&] {
        check(MPI_Improbe(from, MPI_ANY_TAG, MPI_COMM_WORLD, &found, &handle, &status), "MPI_Improbe");
        return found != 0;
      },
      deadline, wall, cpu);
  if (!got) return std::nullopt;
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  Message m;
  m.source = status.MPI_SOURCE;
  m.tag = status.MPI_TAG;
  m.payload.resize(static_cast<std::size_t>(count));
  check(MPI_Mrecv(m.payload.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE), "MPI_Mrecv");
  return m;
}
}  // namespace

std::optional<Message> MpiTransport::receive_until(std::chrono::steady_clock::time_point deadline, int source) {
  return probe_and_receive(source, deadline, waiting_seconds_, waiting_cpu_seconds_);
}

Message MpiTransport::receive(int source) {
  return *probe_and_receive(source, std::nullopt, waiting_seconds_, waiting_cpu_seconds_);
}

namespace {
// Waits, without spinning, for a non-blocking collective to complete.
void wait_for(MPI_Request& request, double& wall, double& cpu) {
  wait_backoff(
      [&] {
        int done = 0;
        check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        return done != 0;
      },
      std::nullopt, wall, cpu);
}
}  // namespace

void MpiTransport::barrier() {
  MPI_Request request{};
  check(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
  wait_for(request, waiting_seconds_, waiting_cpu_seconds_);
}

std::vector<int> MpiTransport::gather(int value) {
  int rank = 0, size = 1;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  std::vector<int> all(rank == 0 ? static_cast<std::size_t>(size) : 0);
  MPI_Request request{};
  check(MPI_Igather(&value, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD, &request), "MPI_Igather");
  wait_for(request, waiting_seconds_, waiting_cpu_seconds_);
  return all;
}

int MpiTransport::max_over_ranks(int value) {
  int largest = value;
  MPI_Request request{};
  check(MPI_Iallreduce(&value, &largest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &request), "MPI_Iallreduce");
  wait_for(request, waiting_seconds_, waiting_cpu_seconds_);
  return largest;
}

}  // namespace crimegraph
