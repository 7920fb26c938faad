// Catch2's main inside MPI: every rank runs every test case (their collectives pair up); mpirun's exit status is
// non-zero when any rank failed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <zeroth/distributed/communicator.hpp>

int main(int argc, char** argv) {
  zeroth::distributed::Environment mpi(argc, argv);
  return Catch::Session().run(argc, argv);
}
