// libFuzzer target: zeroth's checkpoint.bin, loaded into the store of fixtures.hpp without a rule state and with each
// stateful rule's (momentum, Adam, HiZOO's Hessian, factored). A rejected file leaves the store untouched.
#include <cstring>

#include "fixtures.hpp"
#include "fuzz.hpp"
#include "zeroth/io/checkpoint.hpp"
#include "zeroth/preconditioners/adam.hpp"
#include "zeroth/preconditioners/diagonal_hessian.hpp"
#include "zeroth/preconditioners/factored.hpp"
#include "zeroth/preconditioners/momentum.hpp"

using zeroth::fuzz::check;

namespace {

template <class Rule>
void load_with(const std::filesystem::path& path) {
  zeroth::fuzz::Params p;
  const zeroth::fuzz::Params before;
  Rule rule;
  if (!zeroth::fuzz::accepts([&] { (void)zeroth::load_checkpoint(path, p.store, rule); }, path.string()))
    check(std::memcmp(p.w.data(), before.w.data(), p.w.size() * sizeof(float)) == 0 &&
          std::memcmp(p.h.data(), before.h.data(), p.h.size() * sizeof(zeroth::bfloat16)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("checkpoint.bin");
  const auto& path = file.write(data, size);
  load_with<zeroth::Identity>(path);
  load_with<zeroth::Momentum>(path);
  load_with<zeroth::Adam>(path);
  load_with<zeroth::DiagonalHessian>(path);
  load_with<zeroth::Factored>(path);
  return 0;
}
