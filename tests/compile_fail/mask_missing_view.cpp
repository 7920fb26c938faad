// Must not compile: a mask policy without view(). Expected: "zeroth: a mask needs ...".
#include <zeroth/zeroth.hpp>

struct NoView {
  void prepare(const zeroth::BufferStore&) {}
  void begin_step(const zeroth::BufferStore&, std::uint64_t, std::uint64_t) {}
};

int main() { zeroth::Sparse<zeroth::RGE, NoView> est; }
