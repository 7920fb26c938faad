// libFuzzer target: zeroth's trajectory.bin: read_trajectory, then a replay onto the store of fixtures.hpp with the
// optimizer it was recorded with. Records are whole; a replay that returns replayed every record.
#include "fixtures.hpp"
#include "fuzz.hpp"
#include "zeroth/io/trajectory.hpp"

using zeroth::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const zeroth::fuzz::ScratchFile file("trajectory.bin");
  const auto& path = file.write(data, size);
  std::size_t records = 0;
  if (!zeroth::fuzz::accepts(
          [&] {
            const auto [header, recs] = zeroth::read_trajectory(path);
            for (const auto& r : recs) check(r.g.size() == header.directions);
            records = recs.size();
          },
          path.string()))
    return 0;
  zeroth::fuzz::Params p;
  zeroth::ZOSGD opt(zeroth::fuzz::replay_options());
  std::uint64_t replayed = 0;
  if (zeroth::fuzz::accepts([&] { replayed = zeroth::replay(path, p.store, opt); }, path.string()))
    check(replayed == records);
  return 0;
}
