// The latency of the collectives a distributed ZO step makes (bench/distributed.py runs it under mpirun): the
// median and 90th percentile of Communicator::allgather_checked (the agreement-carrying all-gather of
// DataParallel and DirectionParallel) for payloads of 1 to 4096 doubles per rank, over 2000 repetitions after 200
// warm-up ones. Rank 0 prints one JSON line per payload.
#include <zeroth/distributed/communicator.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  zeroth::distributed::Environment mpi(argc, argv);
  zeroth::distributed::Communicator comm;
  for (int n : {1, 2, 8, 32, 128, 1024, 4096}) {
    std::vector<double> mine(static_cast<std::size_t>(n), 1.0), all(static_cast<std::size_t>(n) * comm.size());
    std::vector<int> counts(static_cast<std::size_t>(comm.size()), n);
    std::vector<double> us;
    std::string error;
    for (int rep = 0; rep < 2200; ++rep) {
      comm.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      comm.allgather_checked(mine, all, counts, error);
      const double t = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (rep >= 200) us.push_back(t);
    }
    std::sort(us.begin(), us.end());
    if (comm.root())
      std::printf("{\"ranks\": %d, \"doubles_per_rank\": %d, \"median_us\": %.2f, \"p90_us\": %.2f}\n", comm.size(), n,
                  us[us.size() / 2], us[us.size() * 9 / 10]);
  }
}
