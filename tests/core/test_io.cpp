// Checkpoints, trajectory replay and resume: bit-exact, atomic, and corrupt files rejected by name.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include <zeroth/zeroth.hpp>

using namespace zeroth;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  auto p = fs::temp_directory_path() / ("zeroth_io_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}
template <class V>
bool same_bits(const V& a, const V& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(a[0]) * a.size()) == 0;
}
struct Model {  // a float block, a bf16 block exempt from decay and a frozen block
  std::vector<float> w;
  std::vector<bfloat16> n;
  std::vector<float> frozen;
  BufferStore store;
  Model() : w(5000), n(300), frozen(10, 1.0f) {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i));
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = to_bfloat16(1.0f + 0.01f * float(i % 7));
    store.add("w", w.data(), w.size()).add("n", n.data(), n.size(), {.decay = false});
    store.add("frozen", frozen.data(), frozen.size(), {.trainable = false});
  }
  double loss() const {
    double s = 0;
    for (std::size_t i = 0; i < w.size(); ++i) s += (w[i] - 0.5) * (w[i] - 0.5) * (1 + i % 3);
    for (auto h : n) s += (to_float(h) - 2) * (to_float(h) - 2);
    return s;
  }
};
}  // namespace

TEST_CASE("replaying the trajectory from the initial parameters reproduces the final ones bit for bit", "[io]") {
  const auto dir = temp_dir();
  for (Rollback mode : {Rollback::inverse, Rollback::snapshot}) {
    Options o{.learning_rate = 1e-5, .epsilon = 1e-3, .weight_decay = 0.01, .max_steps = 200, .seed = 5,
              .lr_schedule = Schedule::cosine(10), .rollback = mode, .rounding = Rounding::stochastic};
    Model a, b;
    Optimizer<RGE, Identity> opt(o, RGE({.directions = 2}));
    Result r = opt.minimize([&] { return a.loss(); }, a.store, TrajectoryRecorder(dir / "t.bin"));
    REQUIRE(r.ok());
    CHECK(fs::file_size(dir / "t.bin") == 48 + 200 * (40 + 16));
    Optimizer<RGE, Identity> opt2(o, RGE({.directions = 2}));
    CHECK(replay(dir / "t.bin", b.store, opt2) == 200);
    CHECK(same_bits(a.w, b.w));
    CHECK(same_bits(a.n, b.n));
    // Different options are refused rather than silently replayed.
    Model c;
    Optimizer<RGE, Identity> wrong(o, RGE({.directions = 1}));
    CHECK_THROWS_WITH(replay(dir / "t.bin", c.store, wrong), Catch::Contains("recorded with different options"));
  }
}

TEST_CASE("replay names the trajectory file when a record does not fit the run (a missing step)", "[io]") {
  const auto path = temp_dir() / "gap.bin";
  const Options o{.max_steps = 4, .seed = 3};
  {
    Model m;
    REQUIRE(ZOSGD(o).minimize([&] { return m.loss(); }, m.store, TrajectoryRecorder(path)).ok());
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(bytes.size() == 48 + 4 * 48);
  bytes.erase(48 + 48, 48);  // drop step 1's record: step 2 follows step 0
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  Model m;
  ZOSGD opt(o);
  CHECK_THROWS_AS(replay(path, m.store, opt), std::invalid_argument);
  CHECK_THROWS_WITH(replay(path, m.store, opt), Catch::Contains(path.string()) && Catch::Contains("step 2"));
}

TEST_CASE("a run resumed from a checkpoint is bit-identical to an uninterrupted one", "[io]") {
  const auto dir = temp_dir();
  Options o{.learning_rate = 1e-5, .max_steps = 120, .seed = 9, .rounding = Rounding::stochastic};
  Model full, part, resumed;
  ZOSGD(o).minimize([&] { return full.loss(); }, full.store, TrajectoryRecorder(dir / "full.bin"));

  // Interrupted: checkpoint every 50 steps, killed after step 70 (the log runs ahead of the checkpoint).
  ZOSGD first(o);
  first.minimize([&] { return part.loss(); }, part.store, Checkpointer(dir / "ck.bin", 50), StepLimit(70),
                 TrajectoryRecorder(dir / "resumed.bin"));
  ZOSGD second(o);
  second.state() = load_checkpoint(dir / "ck.bin", resumed.store);
  CHECK(second.state().step == 50);
  second.minimize([&] { return resumed.loss(); }, resumed.store, TrajectoryRecorder(dir / "resumed.bin"));
  CHECK(same_bits(full.w, resumed.w));
  CHECK(same_bits(full.n, resumed.n));
  // The resumed log was cut back to the checkpoint and continued: it equals the uninterrupted log.
  std::ifstream fa(dir / "full.bin", std::ios::binary), fb(dir / "resumed.bin", std::ios::binary);
  std::string sa((std::istreambuf_iterator<char>(fa)), {}), sb((std::istreambuf_iterator<char>(fb)), {});
  CHECK(sa == sb);
}

TEST_CASE("checkpoints hold RunState::plateau_scale; one written before it (version 1) loads with 1", "[io]") {
  const auto dir = temp_dir();
  Model m;
  save_checkpoint(dir / "v3.bin", m.store, RunState{7, 14, 2.5});
  Model back;
  const RunState s = load_checkpoint(dir / "v3.bin", back.store);
  CHECK(s.step == 7);
  CHECK(s.evaluations == 14);
  CHECK(s.plateau_scale == 2.5);
  // The same file as version 1 wrote it: no scale after the counters, the checksum over the rest.
  std::ifstream in(dir / "v3.bin", std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(in)), {});
  const std::uint32_t v1 = 1;
  std::memcpy(b.data() + 4, &v1, 4);
  b.erase(24, 8);  // magic 4, version 4, step 8, evaluations 8, then the scale
  const std::uint64_t h = io::fnv1a(b.data(), b.size() - 8);
  std::memcpy(b.data() + b.size() - 8, &h, 8);
  std::ofstream(dir / "v1.bin", std::ios::binary) << b;
  Model old;
  const RunState o = load_checkpoint(dir / "v1.bin", old.store);
  CHECK(o.step == 7);
  CHECK(o.plateau_scale == 1.0);
  CHECK(same_bits(old.w, m.w));
  // A scale below 1 (or not finite) is refused, naming the field.
  save_checkpoint(dir / "bad.bin", m.store, RunState{7, 14, 0.5});
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.bin", back.store), Catch::Contains("plateau scale"));
  fs::remove_all(dir);
}

TEST_CASE("corrupt or mismatched checkpoints are rejected by name and leave the store untouched", "[io]") {
  const auto dir = temp_dir();
  Model m;
  save_checkpoint(dir / "c.bin", m.store, {7, 14});
  CHECK_FALSE(fs::exists(dir / ("c.bin.tmp." + std::to_string(::getpid()))));  // no temporary left behind
  Model other;
  other.w[0] = 42;
  const auto before = other.w;
  std::string bytes;
  {
    std::ifstream f(dir / "c.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  auto write = [&](const std::string& s) { std::ofstream(dir / "bad.bin", std::ios::binary) << s; };
  write(bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.bin", other.store), Catch::Contains("bad.bin") && Catch::Contains("truncated"));
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  write(flipped);
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.bin", other.store), Catch::Contains("checksum mismatch"));
  write("not a checkpoint at all");
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.bin", other.store), Catch::Contains("not a zeroth checkpoint"));
  CHECK(same_bits(other.w, before));
  std::vector<float> v(10);
  BufferStore small;
  small.add("v", v.data(), v.size());
  CHECK_THROWS_WITH(load_checkpoint(dir / "c.bin", small), Catch::Contains("has 3 blocks, the store has 1"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "missing.bin", small), Catch::Contains("cannot open"));
  auto st = load_checkpoint(dir / "c.bin", other.store);
  CHECK(st.step == 7);
  CHECK(st.evaluations == 14);
  CHECK(same_bits(other.w, m.w));
}

TEST_CASE("loggers write one row per step", "[io][callbacks]") {
  const auto dir = temp_dir();
  Model m;
  ZOSGD({.max_steps = 7}).minimize([&] { return m.loss(); }, m.store, CsvLogger(dir / "l.csv"),
                                   JsonlLogger(dir / "l.jsonl"));
  std::ifstream csv(dir / "l.csv"), jl(dir / "l.jsonl");
  std::string line;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  CHECK(rows == 8);
  std::getline(jl, line);  // "step" counts steps done, as eval.jsonl and checkpoints do: 1 after the first
  CHECK_THAT(line, Catch::StartsWith("{\"step\":1,\"loss\":") && Catch::Contains("\"rolled_back\":false}"));
  std::ifstream csv_again(dir / "l.csv");
  std::getline(csv_again, line);  // the header
  std::getline(csv_again, line);
  CHECK_THAT(line, Catch::StartsWith("1,"));
}

TEST_CASE("replay rejects a kept-candidate index that is not an exact integer in range, naming the step", "[io][cons]") {
  for (double bad : {std::nan(""), 1e300, -1e300, 2.7, -1.0, 3.0, HUGE_VAL}) {
    Model m;
    ZOSGDCons opt({.max_steps = 5, .seed = 3});
    auto run = opt.run(m.store);
    std::vector<double> g(2, 0.5);  // g_1 and the kept candidate
    g[1] = 1;
    run.replay(0, g);
    g[1] = bad;
    INFO(bad);
    CHECK_THROWS_AS(run.replay(1, g), std::invalid_argument);
    CHECK_THROWS_WITH(run.replay(1, g), Catch::Contains("step 1") && Catch::Contains("kept candidate"));
  }
}

TEST_CASE("loggers and atomic writes throw on a full disk, naming the file and the error", "[io][callbacks]") {
  Model m;
  const std::vector<double> g{0.5};
  StepInfo s;
  s.projected_gradient = g;
  const auto dev_full = Catch::Contains("/dev/full"), no_space = Catch::Contains(std::strerror(ENOSPC));
  CHECK_THROWS_WITH(CsvLogger("/dev/full"), dev_full && no_space);  // the header row
  JsonlLogger jl("/dev/full");
  CHECK_THROWS_WITH(jl.on_step(s), dev_full && no_space);
  CsvLogger csv("/dev/full", true);
  CHECK_THROWS_WITH(csv.on_step(s), dev_full && no_space);
  JsonlLogger appended("/dev/full", true);
  CHECK_THROWS_WITH(appended.on_step(s), dev_full && no_space);
  // The trajectory log too: its records are buffered, a full disk shows at the flush.
  CHECK_THROWS_WITH(ZOSGD({.max_steps = 3}).minimize([&] { return m.loss(); }, m.store, TrajectoryRecorder("/dev/full")),
                    dev_full && no_space);
  // write_atomic names the file it was writing and the error, whether fwrite or the flush fails.
  const auto dir = temp_dir();
  auto to_full = [](std::FILE* f) {
    const int fd = ::open("/dev/full", O_WRONLY);
    REQUIRE(fd >= 0);
    ::dup2(fd, ::fileno(f));
    ::close(fd);
  };
  const auto named = Catch::Contains("unwritten.bin");
  CHECK_THROWS_WITH(io::write_atomic(dir / "unwritten.bin",
                                     [&](std::FILE* f) {
                                       to_full(f);
                                       std::vector<char> big(1 << 20);
                                       io::Writer w{f};
                                       w.bytes(big.data(), big.size());
                                     }),
                    named && no_space);
  CHECK_THROWS_WITH(io::write_atomic(dir / "unwritten.bin",
                                     [&](std::FILE* f) {
                                       to_full(f);
                                       std::fputs("small", f);
                                     }),
                    named && no_space);
  CHECK_FALSE(fs::exists(dir / "unwritten.bin"));
  CHECK_FALSE(fs::exists(dir / ("unwritten.bin.tmp." + std::to_string(::getpid()))));
}
