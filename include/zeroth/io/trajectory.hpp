#pragma once
// The trajectory log: (step, seed, lr, eps, projected gradients) per step, 40 + 8q bytes; replaying it from the
// initial parameters repeats the run's sweeps without evaluating and reproduces its parameters bit for bit.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zeroth/io/binary.hpp"
#include "zeroth/optimizer/run.hpp"

namespace zeroth {

/// The settings a trajectory depends on, stored in its header and checked on replay.
struct TrajectoryHeader {
  std::uint32_t directions = 1;
  std::uint8_t direction = 0, one_sided = 0, rollback = 0, rounding = 0;
  std::uint64_t seed = 0;
  double weight_decay = 0;
  char rule[16] = {};

  bool operator==(const TrajectoryHeader& o) const {
    return directions == o.directions && direction == o.direction && one_sided == o.one_sided &&
           rollback == o.rollback && rounding == o.rounding && seed == o.seed && weight_decay == o.weight_decay &&
           std::strncmp(rule, o.rule, sizeof rule) == 0;
  }
};

/// One step of a trajectory.
struct TrajectoryRecord {
  std::uint64_t step = 0, seed = 0;
  double learning_rate = 0, epsilon = 0;
  std::int32_t failed_evaluation = -1;  ///< >= 0 when the step was rolled back
  std::vector<double> g;
};

template <class E, class R>
TrajectoryHeader trajectory_header(const Options& o, const E& est) {
  TrajectoryHeader h;
  h.directions = static_cast<std::uint32_t>(recorded_scalars<R>(est));  // per record: g_1..g_q and any extras
  h.direction = static_cast<std::uint8_t>(est.direction());
  if constexpr (requires { est.one_sided(); }) h.one_sided = est.one_sided();
  h.rollback = static_cast<std::uint8_t>(o.rollback);
  h.rounding = static_cast<std::uint8_t>(o.rounding);
  h.seed = o.seed;
  h.weight_decay = o.weight_decay;
  std::strncpy(h.rule, R::name, sizeof h.rule - 1);
  return h;
}

namespace detail {
inline constexpr char kTrajectoryMagic[4] = {'Z', 'T', 'R', 'J'};
inline constexpr std::uint32_t kTrajectoryVersion = 1;

inline void write_header(io::Writer& w, const TrajectoryHeader& h) {
  w.bytes(kTrajectoryMagic, 4);
  w.put(kTrajectoryVersion);
  w.put(h.directions);
  w.put(h.direction);
  w.put(h.one_sided);
  w.put(h.rollback);
  w.put(h.rounding);
  w.put(h.seed);
  w.put(h.weight_decay);
  w.bytes(h.rule, sizeof h.rule);
}

inline TrajectoryHeader read_header(io::Reader& r) {
  char magic[4];
  r.bytes(magic, 4, "magic");
  if (std::memcmp(magic, kTrajectoryMagic, 4) != 0)
    throw std::runtime_error("zeroth: '" + r.path + "' is not a zeroth trajectory");
  if (auto v = r.get<std::uint32_t>("version"); v != kTrajectoryVersion)
    throw std::runtime_error("zeroth: '" + r.path + "': unsupported trajectory version " + std::to_string(v));
  TrajectoryHeader h;
  h.directions = r.get<std::uint32_t>("directions");
  if (h.directions == 0 || h.directions > 4096)
    throw std::runtime_error("zeroth: '" + r.path + "': corrupt header (directions)");
  h.direction = r.get<std::uint8_t>("direction");
  h.one_sided = r.get<std::uint8_t>("one_sided");
  h.rollback = r.get<std::uint8_t>("rollback");
  h.rounding = r.get<std::uint8_t>("rounding");
  h.seed = r.get<std::uint64_t>("seed");
  h.weight_decay = r.get<double>("weight_decay");
  r.bytes(h.rule, sizeof h.rule, "rule");
  h.rule[sizeof h.rule - 1] = '\0';
  return h;
}

inline constexpr std::size_t kHeaderBytes = 4 + 4 + 4 + 4 + 8 + 8 + 16;
inline std::size_t record_bytes(std::uint32_t q) { return 8 + 8 + 8 + 8 + 4 + 4 + 8 * std::size_t(q); }
}  // namespace detail

/// Reads a whole trajectory; a torn last record (a crash mid-write) is dropped, anything else corrupt throws.
inline std::pair<TrajectoryHeader, std::vector<TrajectoryRecord>> read_trajectory(const std::filesystem::path& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(io::open_read(path), &std::fclose);
  io::Reader r{f.get(), path.string()};
  auto h = detail::read_header(r);
  const auto size = std::filesystem::file_size(path);
  const std::size_t rb = detail::record_bytes(h.directions);
  const std::size_t n = (size - detail::kHeaderBytes) / rb;
  std::vector<TrajectoryRecord> recs(n);
  for (auto& rec : recs) {
    rec.step = r.get<std::uint64_t>("step");
    rec.seed = r.get<std::uint64_t>("seed");
    rec.learning_rate = r.get<double>("learning rate");
    rec.epsilon = r.get<double>("epsilon");
    rec.failed_evaluation = r.get<std::int32_t>("failed evaluation");
    if (r.get<std::uint32_t>("direction count") != h.directions)
      throw std::runtime_error("zeroth: '" + path.string() + "': corrupt record at step " + std::to_string(rec.step));
    rec.g.resize(h.directions);
    r.bytes(rec.g.data(), 8 * rec.g.size(), "projected gradients");
  }
  return {h, std::move(recs)};
}

/// Callback that appends every step to a trajectory file. On resume (a run starting at step s > 0) it keeps the
/// records of steps < s and drops later ones, so the log always matches the parameters.
///   opt.minimize(f, x, zeroth::TrajectoryRecorder("run/trajectory.bin"));
class TrajectoryRecorder {
 public:
  explicit TrajectoryRecorder(std::filesystem::path path) : path_(std::move(path)) {}
  TrajectoryRecorder(const TrajectoryRecorder&) = delete;
  TrajectoryRecorder& operator=(const TrajectoryRecorder&) = delete;
  ~TrajectoryRecorder() {
    if (f_) std::fclose(f_);
  }

  template <class RunT>
  void on_step(const StepInfo& s, RunT& run) {
    if (!f_) open(s.step, trajectory_header<std::remove_cvref_t<decltype(run.estimator())>,
                                            typename RunT::preconditioner_type>(run.options(), run.estimator()));
    io::Writer w{.f = f_, .path = path_.string()};
    w.put(s.step);
    w.put(s.seed);
    w.put(s.learning_rate);
    w.put(s.epsilon);
    w.put(static_cast<std::int32_t>(s.rolled_back ? run.failed_evaluation() : -1));
    w.put(static_cast<std::uint32_t>(s.projected_gradient.size()));
    w.bytes(s.projected_gradient.data(), 8 * s.projected_gradient.size());
    if (std::fflush(f_) != 0)  // a full disk shows here: the records are buffered
      throw std::runtime_error("zeroth: writing '" + path_.string() + "' failed: " + std::strerror(errno));
  }

  std::string name() const { return "TrajectoryRecorder"; }

 private:
  void open(std::uint64_t first_step, const TrajectoryHeader& h) {
    if (first_step > 0 && std::filesystem::exists(path_)) {
      auto [old, recs] = read_trajectory(path_);
      if (!(old == h)) throw std::runtime_error("zeroth: '" + path_.string() + "' was written by a different run");
      std::size_t keep = 0;
      while (keep < recs.size() && recs[keep].step < first_step) ++keep;
      if (keep != first_step)
        throw std::runtime_error("zeroth: '" + path_.string() + "' holds " + std::to_string(keep) +
                                 " steps before step " + std::to_string(first_step) + "; cannot resume it");
      std::filesystem::resize_file(path_, detail::kHeaderBytes + keep * detail::record_bytes(h.directions));
      f_ = std::fopen(path_.c_str(), "ab");
    } else {
      f_ = std::fopen(path_.c_str(), "wb");
      if (f_) {
        io::Writer w{.f = f_, .path = path_.string()};
        detail::write_header(w, h);
      }
    }
    if (!f_)
      throw std::runtime_error("zeroth: cannot open '" + path_.string() + "' for writing: " + std::strerror(errno));
  }

  std::filesystem::path path_;
  std::FILE* f_ = nullptr;
};

/// Replays a trajectory onto `store` (holding the run's initial parameters) with an optimizer built with the same
/// options; afterwards the store holds the run's final parameters bit for bit. Returns the number of steps replayed.
template <class Opt>
std::uint64_t replay(const std::filesystem::path& path, BufferStore& store, Opt& optimizer) {
  auto [h, recs] = read_trajectory(path);
  using E = std::remove_cvref_t<decltype(optimizer.estimator())>;
  using R = std::remove_cvref_t<decltype(optimizer.preconditioner())>;
  if (!(h == trajectory_header<E, R>(optimizer.options(), optimizer.estimator())))
    throw std::invalid_argument("zeroth: '" + path.string() + "' was recorded with different options");
  auto run = optimizer.run(store);
  for (const auto& rec : recs) {
    if (rec.step < run.step()) continue;
    StepInfo s;
    try {
      s = run.replay(rec.step, rec.g, rec.failed_evaluation);
    } catch (const std::invalid_argument& e) {  // a record the run cannot take (a gap, a bad kept index): name the file
      std::string_view what = e.what();
      if (what.starts_with("zeroth: ")) what.remove_prefix(8);
      throw std::invalid_argument("zeroth: '" + path.string() + "': " + std::string(what));
    }
    if (s.seed != rec.seed || s.learning_rate != rec.learning_rate || s.epsilon != rec.epsilon)
      throw std::invalid_argument("zeroth: '" + path.string() + "': step " + std::to_string(rec.step) +
                                  " does not match the optimizer's seed or schedule");
  }
  optimizer.state() = run.state();
  return recs.size();
}

}  // namespace zeroth
