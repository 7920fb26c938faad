#pragma once
// MPI for zeroth's distributed runs: Environment (MPI_Init_thread / MPI_Finalize, or MPI_Abort when an exception
// leaves it) and Communicator, the few collectives a seed-based ZO step needs: scalars only, never a parameter.
// Optional (-DZEROTH_WITH_MPI=ON, CMake's FindMPI); never included by zeroth.hpp.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <mpi.h>

namespace zeroth::distributed {

/// Throws std::runtime_error naming the MPI call and MPI's own message when `code` is not MPI_SUCCESS.
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int n = 0;
  MPI_Error_string(code, text, &n);
  throw std::runtime_error(std::string("zeroth: ") + call + " failed: " + std::string(text, static_cast<std::size_t>(n)));
}

/// MPI for the life of the object: MPI_Init_thread with MPI_THREAD_FUNNELED (OpenMP inside a rank; only the main
/// thread calls MPI), MPI_Finalize at the end, or MPI_Abort when the scope is left by an exception (the other ranks
/// may wait in a collective: finalizing would hang them). One per process, in main():
///   int main(int argc, char** argv) { zeroth::distributed::Environment mpi(argc, argv); ... }
class Environment {
 public:
  Environment(int& argc, char**& argv) {
    int provided = 0;
    check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      throw std::runtime_error("zeroth: this MPI library cannot run OpenMP threads inside a rank "
                               "(MPI_THREAD_FUNNELED not provided)");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    if (std::uncaught_exceptions() > 0)
      MPI_Abort(MPI_COMM_WORLD, 1);
    else
      MPI_Finalize();
  }

  /// Whether this process was started by a launcher (mpirun, srun): the variables OpenMPI, PMI or PMIx set. Ask
  /// before constructing the Environment: a singleton MPI_Init sets some of them itself.
  static bool launched() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
      if (std::getenv(v)) return true;
    return false;
  }
  /// The number of ranks the launcher started, read before MPI_Init (1 without a launcher).
  static int launched_size() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
      if (const char* s = std::getenv(v)) return std::atoi(s);
    return 1;
  }
};

/// A communicator (MPI_COMM_WORLD by default) with the collectives of zeroth's distributed runs. Errors of MPI are
/// exceptions naming the call. Counts the bytes this rank sends, for the benchmark's table.
class Communicator {
 public:
  explicit Communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  bool root() const noexcept { return rank_ == 0; }
  MPI_Comm get() const noexcept { return comm_; }

  /// Gathers every rank's `mine` (rank r sends counts[r] doubles) into `all`, rank after rank, on every rank.
  void allgather(std::span<const double> mine, std::span<double> all, std::span<const int> counts) {
    if (counts.size() != static_cast<std::size_t>(size_) || mine.size() != static_cast<std::size_t>(counts[rank_]))
      throw std::logic_error("zeroth: Communicator::allgather: counts do not match the ranks");
    displs_.assign(counts.size(), 0);
    std::size_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      displs_[r] = static_cast<int>(total);
      total += static_cast<std::size_t>(counts[r]);
    }
    if (all.size() != total) throw std::logic_error("zeroth: Communicator::allgather: wrong output size");
    check_mpi(MPI_Allgatherv(mine.data(), counts[rank_], MPI_DOUBLE, all.data(), counts.data(), displs_.data(),
                             MPI_DOUBLE, comm_),
              "MPI_Allgatherv");
    bytes_sent_ += mine.size() * sizeof(double);
    ++collectives_;
  }

  /// allgather() with an agreement on failure in the same collective: rank r sends counts[r] values, or (with `error`
  /// set: its evaluation threw) counts[r] values that are ignored, and the error. Returns, on every rank, -1 with `all` filled,
  /// or the lowest failing rank, with its message in `error` (one broadcast more, only then). No rank is left waiting.
  int allgather_checked(std::span<const double> mine, std::span<double> all, std::span<const int> counts,
                        std::string& error) {
    send_.assign(1, error.empty() ? 0.0 : 1.0);
    send_.insert(send_.end(), mine.begin(), mine.end());
    counts_.assign(counts.begin(), counts.end());
    std::size_t total = 0;
    for (int& c : counts_) total += static_cast<std::size_t>(c++);
    recv_.resize(total + counts_.size());
    allgather(send_, recv_, counts_);
    int failed = -1;
    std::size_t at = 0, out = 0;
    for (std::size_t r = 0; r < counts_.size(); ++r) {
      if (recv_[at] != 0.0 && failed < 0) failed = static_cast<int>(r);
      for (int j = 1; j < counts_[r]; ++j) all[out++] = recv_[at + static_cast<std::size_t>(j)];
      at += static_cast<std::size_t>(counts_[r]);
    }
    if (failed >= 0) error = broadcast(error, failed);
    return failed;
  }

  /// The largest of every rank's `value`, on every rank.
  std::int64_t max(std::int64_t value) {
    std::int64_t out = 0;
    check_mpi(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_MAX, comm_), "MPI_Allreduce");
    bytes_sent_ += sizeof value;
    ++collectives_;
    return out;
  }

  /// Rank `from`'s text, on every rank.
  std::string broadcast(std::string text, int from) {
    std::uint64_t n = text.size();
    check_mpi(MPI_Bcast(&n, 1, MPI_UINT64_T, from, comm_), "MPI_Bcast");
    text.resize(n);
    check_mpi(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, from, comm_), "MPI_Bcast");
    if (rank_ == from) bytes_sent_ += sizeof n + n;
    collectives_ += 2;
    return text;
  }

  void barrier() { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

  /// Ends every rank of the communicator now (what a rank does on an error the others cannot learn of).
  [[noreturn]] void abort(int code) {
    MPI_Abort(comm_, code);
    std::abort();
  }

  /// Payload bytes this rank has contributed to collectives, and the number of collectives.
  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }
  std::uint64_t collectives() const noexcept { return collectives_; }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::vector<int> displs_, counts_;
  std::vector<double> send_, recv_;
  std::uint64_t bytes_sent_ = 0, collectives_ = 0;
};

/// [begin, end) of rank `r`'s contiguous share of n items over `ranks` (the first n % ranks ranks get one more).
struct Share {
  std::size_t begin = 0, end = 0;
  std::size_t size() const noexcept { return end - begin; }
};
inline Share share(std::size_t n, int ranks, int r) {
  const auto R = static_cast<std::size_t>(ranks), i = static_cast<std::size_t>(r);
  const std::size_t base = n / R, extra = n % R;
  const std::size_t begin = i * base + (i < extra ? i : extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

namespace detail {
/// Runs body(); an exception becomes `error` (its message), for the agreement of allgather_checked.
template <class Body>
void guarded(std::string& error, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    error = *e.what() ? e.what() : "an exception without a message";
  } catch (...) {
    error = "an exception that is not a std::exception";
  }
}
}  // namespace detail

/// What every rank learns when some rank's evaluation threw: the lowest such rank, its message, and the step.
class RankFailure : public std::runtime_error {
 public:
  RankFailure(int rank, std::uint64_t step, const std::string& what)
      : std::runtime_error("rank " + std::to_string(rank) + " failed at step " + std::to_string(step) + ": " + what),
        rank_(rank),
        step_(step) {}
  int rank() const noexcept { return rank_; }
  std::uint64_t step() const noexcept { return step_; }

 private:
  int rank_;
  std::uint64_t step_;
};

}  // namespace zeroth::distributed
