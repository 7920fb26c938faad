// A step allocates nothing on the heap once the run exists (counted by replacing the global operator new).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include <zeroth/zeroth.hpp>

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// GCC sees free() of a pointer from operator new when it inlines one into the other; this operator new is malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("ZO-SGD steps make no heap allocation", "[optimizer][memory]") {
  counting = true;  // the counter itself works
  auto probe = std::make_unique<std::vector<int>>(10);
  counting = false;
  REQUIRE(allocations >= 2);
  for (auto [kind, rollback, q] : {std::tuple{zeroth::Direction::gaussian, zeroth::Rollback::inverse, 1},
                                   std::tuple{zeroth::Direction::sphere, zeroth::Rollback::snapshot, 3}}) {
    Eigen::VectorXf x = Eigen::VectorXf::Ones(200000);
    zeroth::EigenStore store(x);
    zeroth::Optimizer<zeroth::RGE, zeroth::Identity> opt({.max_steps = 100, .rollback = rollback, .threads = 2},
                                                         zeroth::RGE({.directions = q, .direction = kind}));
    auto run = opt.run(store);
    auto one_step = [&] {
      std::optional<zeroth::StepInfo> s;
      while (!s) {
        run.ask();
        s = run.tell(double(x[0]));
      }
    };
    one_step();  // warm up the OpenMP thread pool
    allocations = 0;
    counting = true;
    for (int i = 0; i < 20; ++i) one_step();
    counting = false;
    CHECK(allocations == 0);
  }
}
