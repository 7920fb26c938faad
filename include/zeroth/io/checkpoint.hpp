#pragma once
// Checkpoints: the parameters of every block and the run's counters, written atomically, checked on load.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/io/atomic_file.hpp"
#include "zeroth/io/binary.hpp"
#include "zeroth/optimizer/run.hpp"
#include "zeroth/preconditioners/identity.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth {

namespace detail {
inline constexpr char kCheckpointMagic[4] = {'Z', 'C', 'K', 'P'};
inline constexpr std::uint32_t kCheckpointVersion = 3;           ///< 1 without RunState::plateau_scale (read as 1)
inline constexpr std::uint32_t kCheckpointVersionWithState = 4;  ///< adds an update rule's state after the blocks (2: as 1)

/// An update rule with state to checkpoint (momentum, Adam moments, HiZOO's Hessian, ...).
template <class R>
concept StatefulRule = requires(const R cr, R r, io::Writer& w, io::Reader& rd, const BufferStore& s) {
  cr.save_state(w);
  r.load_state(rd, s);
};

inline void put_rule_name(io::Writer& w, const char* name) {
  char buf[16] = {};
  std::strncpy(buf, name, sizeof buf - 1);
  w.bytes(buf, sizeof buf);
}
}  // namespace detail

template <class R>
void save_checkpoint(const std::filesystem::path& path, const BufferStore& store, const RunState& state,
                     const R& rule);
template <class R>
RunState load_checkpoint(const std::filesystem::path& path, BufferStore& store, R& rule);

/// Writes every block of `store` and `state` to `path` atomically (a crash leaves the previous checkpoint intact).
///   zeroth::save_checkpoint("run/ckpt.bin", store, opt.state());
inline void save_checkpoint(const std::filesystem::path& path, const BufferStore& store, const RunState& state) {
  save_checkpoint(path, store, state, Identity{});
}

/// Also writes the update rule's state when it has one (save_state/load_state), for a bit-identical resume.
///   zeroth::save_checkpoint("run/ckpt.bin", store, opt.state(), opt.preconditioner());
template <class R>
void save_checkpoint(const std::filesystem::path& path, const BufferStore& store, const RunState& state,
                     const R& rule) {
  io::write_atomic(path, [&](std::FILE* f) {
    io::Writer w{f};
    w.bytes(detail::kCheckpointMagic, 4);
    w.put(detail::StatefulRule<R> ? detail::kCheckpointVersionWithState : detail::kCheckpointVersion);
    w.put(state.step);
    w.put(state.evaluations);
    w.put(state.plateau_scale);
    w.put(static_cast<std::uint64_t>(store.blocks().size()));
    for (const Block& b : store.blocks()) {
      w.put(static_cast<std::uint32_t>(b.name.size()));
      w.bytes(b.name.data(), b.name.size());
      w.put(static_cast<std::uint8_t>(b.dtype));
      w.put(static_cast<std::uint64_t>(b.size));
      w.bytes(b.data, b.bytes());
    }
    if constexpr (detail::StatefulRule<R>) {
      detail::put_rule_name(w, R::name);
      rule.save_state(w);
    }
    const std::uint64_t h = w.hash;
    w.put(h);
  });
}

/// Reads a checkpoint into `store` (blocks matched by name, dtype and size) and returns its run state.
/// Nothing is written into the store unless the whole file is valid.
inline RunState load_checkpoint(const std::filesystem::path& path, BufferStore& store) {
  Identity none;
  return load_checkpoint(path, store, none);
}

/// Also restores the update rule's state (a stateful rule needs a checkpoint saved with its state); nothing is
/// written into the store or the rule unless the whole file is valid.
///   opt.state() = zeroth::load_checkpoint("run/ckpt.bin", store, opt.preconditioner());
template <class R>
RunState load_checkpoint(const std::filesystem::path& path, BufferStore& store, R& rule) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(io::open_read(path), &std::fclose);
  io::Reader r{f.get(), path.string()};
  const std::string where = "zeroth: checkpoint '" + path.string() + "': ";
  char magic[4];
  r.bytes(magic, 4, "magic");
  if (std::memcmp(magic, detail::kCheckpointMagic, 4) != 0) throw std::runtime_error(where + "not a zeroth checkpoint");
  const auto version = r.get<std::uint32_t>("version");
  if (version < 1 || version > detail::kCheckpointVersionWithState)
    throw std::runtime_error(where + "unsupported version " + std::to_string(version));
  const bool with_state = version % 2 == 0;  // 2 and 4
  RunState state;
  state.step = r.get<std::uint64_t>("step");
  state.evaluations = r.get<std::uint64_t>("evaluations");
  if (version >= detail::kCheckpointVersion) {
    state.plateau_scale = r.get<double>("plateau scale");
    if (!(state.plateau_scale >= 1.0 && std::isfinite(state.plateau_scale)))
      throw std::runtime_error(where + "plateau scale " + std::to_string(state.plateau_scale) + " is not finite and >= 1");
  }
  const auto n = r.get<std::uint64_t>("block count");
  if (n != store.blocks().size())
    throw std::runtime_error(where + "has " + std::to_string(n) + " blocks, the store has " +
                             std::to_string(store.blocks().size()));
  std::vector<std::vector<std::byte>> data(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Block& b = store.blocks()[i];
    const auto len = r.get<std::uint32_t>("block name length");
    if (len > 4096) throw std::runtime_error(where + "corrupt block name length");
    std::string name(len, '\0');
    r.bytes(name.data(), len, "block name");
    const auto dt = r.get<std::uint8_t>("dtype");
    const auto size = r.get<std::uint64_t>("block size");
    if (name != b.name || dt != static_cast<std::uint8_t>(b.dtype) || size != b.size)
      throw std::runtime_error(where + "block " + std::to_string(i) + " is '" + name + "' (" + std::to_string(size) +
                               " elements), the store has '" + b.name + "' (" + std::to_string(b.size) + " " +
                               std::string(to_string(b.dtype)) + ")");
    data[i].resize(b.bytes());
    r.bytes(data[i].data(), data[i].size(), ("block '" + name + "'").c_str());
  }
  std::optional<R> loaded;
  if (with_state) {
    char saved[16];
    r.bytes(saved, sizeof saved, "rule name");
    saved[sizeof saved - 1] = '\0';
    if constexpr (detail::StatefulRule<R>) {
      if (std::strncmp(saved, R::name, sizeof saved - 1) != 0)
        throw std::runtime_error(where + "holds the state of rule '" + saved + "', not '" + R::name + "'");
      loaded.emplace(rule);
      loaded->load_state(r, store);
    } else {
      throw std::runtime_error(where + "holds the state of rule '" + saved +
                               "': load it with that rule (load_checkpoint(path, store, opt.preconditioner()))");
    }
  } else if constexpr (detail::StatefulRule<R>) {
    throw std::runtime_error(where + "has no state for rule '" + R::name + "' (saved without its preconditioner)");
  }
  const std::uint64_t expect = r.hash;
  if (r.get<std::uint64_t>("checksum") != expect) throw std::runtime_error(where + "checksum mismatch (corrupt file)");
  if (std::fgetc(f.get()) != EOF) throw std::runtime_error(where + "trailing bytes after the checksum");
  for (std::size_t i = 0; i < n; ++i) std::memcpy(store.blocks()[i].data, data[i].data(), data[i].size());
  if (loaded) rule = std::move(*loaded);
  return state;
}

}  // namespace zeroth
