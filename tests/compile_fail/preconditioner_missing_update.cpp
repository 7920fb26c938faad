// Must not compile: a preconditioner without update(). Expected: "zeroth: the preconditioner needs ...".
#include <zeroth/zeroth.hpp>

struct NoUpdate {
  static constexpr const char* name = "no_update";
};

int main() { zeroth::Optimizer<zeroth::RGE, NoUpdate> opt; }
