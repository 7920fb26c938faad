#pragma once
// What stateful update rules share: the fused plan for x0 and g-hat, per-element state allocated once per trainable
// block, and its checkpoint section.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "zeroth/io/binary.hpp"
#include "zeroth/preconditioners/update_context.hpp"
#include "zeroth/sweeps/fused.hpp"

namespace zeroth {

/// The fused plan whose element function sees x0 (the step's start) and u = g-hat = (1/q) sum_k g_k n_k z_k (with the
/// estimator's masks; the sum without 1/q when c.sum_terms). An update plan: written values keep to the blocks' bounds.
/// Uses c.scratch_a and c.scratch_b for the coefficients.
template <class Context>
FusedPlan gradient_plan(Context& c) {
  const std::size_t q = c.seeds.size();
  auto cu = c.scratch_a.first(q), cb = c.scratch_b.first(q);
  bool back = false;
  for (std::size_t k = 0; k < q; ++k) {
    cu[k] = c.weighted(c.g[k] * c.norms[k]);
    cb[k] = c.from_snapshot ? 0.0 : -c.offset[k];
    back = back || cb[k] != 0.0;
  }
  return {.kind = c.direction,
          .seeds = c.seeds,
          .coeff = cu,
          .back = back ? cb : std::span<const double>{},
          .from_snapshot = c.from_snapshot,
          .rounding = c.rounding,
          .rounding_seed = c.rounding_seed,
          .active = c.active,
          .mask = c.mask,
          .bounded = true};
}

/// `per` float32 values per trainable parameter, per block (empty for frozen blocks), allocated once for a layout.
class ElementState {
 public:
  /// Allocates (filled with `init`) unless the state already matches the store's layout (a resumed run keeps it).
  void prepare(const BufferStore& store, std::size_t per, float init = 0.0f) {
    if (matches(store, per)) return;
    per_ = per;
    data_.assign(store.blocks().size(), {});
    for (std::size_t b = 0; b < data_.size(); ++b)
      if (store.blocks()[b].flags.trainable) data_[b].assign(per * store.blocks()[b].size, init);
  }

  bool matches(const BufferStore& store, std::size_t per) const {
    if (per != per_ || data_.size() != store.blocks().size()) return false;
    for (std::size_t b = 0; b < data_.size(); ++b) {
      const Block& blk = store.blocks()[b];
      if (data_[b].size() != (blk.flags.trainable ? per * blk.size : 0)) return false;
    }
    return true;
  }

  float* block(std::size_t b) noexcept { return data_[b].data(); }
  const float* block(std::size_t b) const noexcept { return data_[b].data(); }
  std::size_t blocks() const noexcept { return data_.size(); }
  /// Bytes held: per * 4 per trainable parameter.
  std::size_t bytes() const noexcept {
    std::size_t n = 0;
    for (const auto& d : data_) n += d.size() * sizeof(float);
    return n;
  }

  void save(io::Writer& w) const {
    w.put(static_cast<std::uint64_t>(per_));
    w.put(static_cast<std::uint64_t>(data_.size()));
    for (const auto& d : data_) {
      w.put(static_cast<std::uint64_t>(d.size()));
      w.bytes(d.data(), d.size() * sizeof(float));
    }
  }

  /// Reads a saved state, checking it against the store's layout; `rule` names the owner in errors.
  void load(io::Reader& r, const BufferStore& store, std::size_t per, const char* rule) {
    const std::string where = "zeroth: checkpoint '" + r.path + "': state of '" + rule + "' ";
    if (auto p = r.get<std::uint64_t>("state values per parameter"); p != per)
      throw std::runtime_error(where + "has " + std::to_string(p) + " values per parameter, expected " +
                               std::to_string(per));
    if (auto n = r.get<std::uint64_t>("state block count"); n != store.blocks().size())
      throw std::runtime_error(where + "has " + std::to_string(n) + " blocks, the store has " +
                               std::to_string(store.blocks().size()));
    std::vector<std::vector<float>> data(store.blocks().size());
    for (std::size_t b = 0; b < data.size(); ++b) {
      const Block& blk = store.blocks()[b];
      const auto n = r.get<std::uint64_t>("state block size");
      const std::size_t expect = blk.flags.trainable ? per * blk.size : 0;
      if (n != expect)
        throw std::runtime_error(where + "for block '" + blk.name + "' has " + std::to_string(n) +
                                 " values, expected " + std::to_string(expect));
      data[b].resize(n);
      r.bytes(data[b].data(), n * sizeof(float), "rule state");
    }
    per_ = per;
    data_ = std::move(data);
  }

 private:
  std::size_t per_ = 0;
  std::vector<std::vector<float>> data_;
};

/// One fused sweep applying a rule's per-element step (host/device structs such as detail::MomentumElement, with
/// `per` state values per element): `ef` for float32 and 16-bit blocks, `ed` for float64 ones.
template <class Ef, class Ed>
SweepStats fused_update(UpdateContext& c, const FusedPlan& p, ElementState& state, const Ef& ef, const Ed& ed) {
  return fused_sweep(
      c.store, c.snapshot, p,
      [&](std::uint32_t b, bool decay, std::size_t i, auto x0, auto u) {
        if constexpr (sizeof(x0) == sizeof(float))
          return ef(decay, x0, u, state.block(b) + Ef::per * i);
        else
          return ed(decay, x0, u, state.block(b) + Ed::per * i);
      },
      c.threads);
}

namespace detail {
/// Throws "zeroth: 'field' must be <bound> (got v)" unless ok.
inline void check_option(bool ok, const char* field, const char* bound, double v) {
  if (ok) return;
  std::ostringstream s;
  s << "zeroth: '" << field << "' must be " << bound << " (got " << v << ")";
  throw std::invalid_argument(s.str());
}
}  // namespace detail

}  // namespace zeroth
