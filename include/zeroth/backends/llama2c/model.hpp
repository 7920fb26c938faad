#pragma once
// Batched CPU forward pass of a llama2.c Llama model: ragged sequences packed into one matrix per projection. The
// matrices may be held in bfloat16 (Model::to_bfloat16): each is converted to float32 on the fly, layer by layer,
// into a reusable scratch buffer; all arithmetic is float32.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <span>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "zeroth/backends/transformer/attention.hpp"
#include "zeroth/backends/transformer/linear.hpp"
#include "zeroth/backends/transformer/norms.hpp"
#include "zeroth/backends/transformer/packed_batch.hpp"

#include "config.hpp"
#include "kv_cache.hpp"
#include "peft.hpp"
#include "weights.hpp"

namespace zeroth::llama2c {

using transformer::add_linear;
using transformer::attend;
using transformer::for_each_group;
using transformer::linear;
using transformer::LoraRef;
using transformer::MatrixRef;
using transformer::PackedBatch;
using transformer::rms_norm;

/// A Llama model (RMSNorm, interleaved RoPE, grouped-query attention, SwiGLU) over owned, mutable weights.
class Model {
 public:
  /// Takes ownership of `weights`; throws std::invalid_argument if they are inconsistent with their config.
  explicit Model(Weights weights) : weights_(std::move(weights)) {
    validate(weights_.config, "model config");
    if (!weights_.has_consistent_sizes()) throw std::invalid_argument("zeroth: weights do not match their config");
    const Config& c = config();
    const int half = c.head_size() / 2;
    rope_cos_.resize(c.seq_len, half);
    rope_sin_.resize(c.seq_len, half);
    for (int pos = 0; pos < c.seq_len; ++pos)
      for (int i = 0; i < half; ++i) {  // same float arithmetic as run.c
        const float freq = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / static_cast<float>(c.head_size()));
        const float val = static_cast<float>(pos) * freq;
        rope_cos_(pos, i) = std::cos(val);
        rope_sin_(pos, i) = std::sin(val);
      }
  }

  const Config& config() const { return weights_.config; }
  /// Mutable access, e.g. for in-place perturbation through `weights().tensors()`.
  Weights& weights() { return weights_; }
  const Weights& weights() const { return weights_; }

  /// Adds fresh LoRA adapters (replacing any): the model's outputs are unchanged until B moves from zero.
  void enable_lora(LoraOptions options) { lora_ = Lora::make(config(), std::move(options)); }
  const Lora& lora() const noexcept { return lora_; }
  /// The weights in float32 with the LoRA adapters merged in (the plain weights when LoRA is off).
  Weights merged_weights() const { return merge_lora(weights_, lora_); }

  /// Holds the matrices (embedding, wq..w3, classifier) in bfloat16 from now on, rounded to nearest, and frees their
  /// float32 copies: weights().tensors() then reports them as bf16 views (norms stay float32), so an optimizer
  /// perturbs and updates them in its low-precision path. The forward converts each to float32 as it is used.
  void to_bfloat16() { weights_.to_bfloat16(); }
  /// Back to float32 matrices (exact: every bfloat16 is a float32).
  void to_float32() { weights_.to_float32(); }
  /// DType::bf16 after to_bfloat16(), else DType::f32.
  DType matrix_dtype() const noexcept { return weights_.matrix_dtype; }

  /// Adds a prefix of tokens.size() virtual tokens per layer (replacing any), initialised to the keys and values the
  /// model (without a prefix) computes for `tokens` at positions 0..size-1: the model then behaves exactly as if
  /// every sequence were preceded by `tokens`. Real tokens' RoPE positions start after the prefix (see Prefix).
  void enable_prefix(const std::vector<int>& tokens) {
    const Config& c = config();
    const int p = static_cast<int>(tokens.size());
    if (p <= 0 || p >= c.seq_len)
      throw std::invalid_argument("zeroth: a prefix needs between 1 and seq_len - 1 = " + std::to_string(c.seq_len - 1) +
                                  " tokens (got " + std::to_string(p) + ")");
    prefix_ = Prefix{};
    std::vector<KvCache> cache(1, KvCache(c, p));
    hidden_states({tokens}, &cache);
    Prefix prefix{p, {}, {}};
    for (int l = 0; l < c.n_layers; ++l)
      for (auto [dst, src] : {std::pair{&prefix.keys, &cache[0].keys[l]}, std::pair{&prefix.values, &cache[0].values[l]}})
        dst->insert(dst->end(), src->data(), src->data() + src->size());
    prefix_ = std::move(prefix);
  }
  /// Installs a prefix (e.g. llama2c::load_prefix's), replacing any; throws std::invalid_argument unless its sizes
  /// fit this model.
  void set_prefix(Prefix p) {
    const Config& c = config();
    const auto n = static_cast<std::size_t>(c.n_layers) * static_cast<std::size_t>(p.tokens) * c.kv_dim();
    if (p.tokens <= 0 || p.tokens >= c.seq_len || p.keys.size() != n || p.values.size() != n)
      throw std::invalid_argument("zeroth: the prefix does not fit this model (tokens " + std::to_string(p.tokens) +
                                  ", " + std::to_string(p.keys.size()) + " keys; expected " +
                                  std::to_string(c.n_layers) + " x tokens x " + std::to_string(c.kv_dim()) + ")");
    prefix_ = std::move(p);
  }
  const Prefix& prefix() const noexcept { return prefix_; }
  int prefix_tokens() const noexcept { return prefix_.tokens; }

  /// Views of the LoRA and prefix buffers, per layer ("layers.0.attention.wq.lora_a" [rank x cols], ".lora_b"
  /// [rows x rank]; "layers.0.attention.prefix_keys" / "prefix_values" [tokens x kv_dim]); empty when both are off.
  std::vector<TensorView> adapter_tensors() {
    const Config& c = config();
    std::vector<TensorView> out;
    for (int l = 0; l < c.n_layers; ++l) {
      const auto L = static_cast<std::size_t>(l);
      for (std::size_t i = 0; i < kProjections; ++i) {
        if (lora_.a[i].empty()) continue;
        const auto [rows, cols] = projection_shape(c, static_cast<Projection>(i));
        const auto r = static_cast<std::size_t>(lora_.options.rank);
        const std::string name = projection_name(static_cast<Projection>(i), l);
        out.push_back({name + ".lora_a", lora_.a[i].data() + L * r * cols, r * cols, {r, cols}, true, nullptr});
        out.push_back({name + ".lora_b", lora_.b[i].data() + L * rows * r, rows * r, {rows, r}, true, nullptr});
      }
      if (prefix_.enabled()) {
        const auto p = static_cast<std::size_t>(prefix_.tokens), kv = static_cast<std::size_t>(c.kv_dim());
        const std::string name = "layers." + std::to_string(l) + ".attention.";
        out.push_back({name + "prefix_keys", prefix_.keys.data() + L * p * kv, p * kv, {p, kv}, false, nullptr});
        out.push_back({name + "prefix_values", prefix_.values.data() + L * p * kv, p * kv, {p, kv}, false, nullptr});
      }
    }
    return out;
  }

  /// Runs the forward pass over contiguous groups of `sequences` (transformer::PackedBatch::groups: fixed by the
  /// lengths, so the bits do not depend on the thread count), in parallel, calling `visit(first_row, hidden)` from the
  /// thread that ran the group with its final RMS-normed hidden states [rows x dim], whose rows start at `first_row`
  /// of the packed order (sequence after sequence). `visit` must not throw.
  /// With `caches` (one per sequence), each sequence continues after its cache's `length` positions and extends it.
  template <class Visit>
  void forward_groups(const std::vector<std::vector<int>>& sequences, Visit&& visit,
                      std::vector<KvCache>* caches = nullptr) const {
    const Config& c = config();
    const std::size_t B = sequences.size();
    if (caches && caches->size() != B) throw std::invalid_argument("zeroth: need one KV cache per sequence");
    std::vector<Eigen::Index> offset(B + 1, 0);
    for (std::size_t b = 0; b < B; ++b) {  // validate here: nothing may throw inside the parallel region below
      const auto T = static_cast<Eigen::Index>(sequences[b].size());
      const Eigen::Index start = caches ? (*caches)[b].length : 0;
      const int positions = c.seq_len - prefix_.tokens;  // the prefix takes the first RoPE positions
      const Eigen::Index limit = caches ? std::min((*caches)[b].capacity, positions) : positions;
      if (start + T > limit)
        throw std::length_error("zeroth: sequence of " + std::to_string(start + T) + " tokens exceeds the limit " +
                                std::to_string(limit));
      for (int token : sequences[b])
        if (token < 0 || token >= c.vocab_size)
          throw std::out_of_range("zeroth: token id " + std::to_string(token) + " is outside the vocabulary");
      offset[b + 1] = offset[b] + T;
    }
    PackedBatch packed;
    packed.offset = std::move(offset);
    for_each_group(packed, [&](std::size_t b0, std::size_t b1) {
      if (packed.offset[b1] == packed.offset[b0]) return;
      visit(packed.offset[b0],
            hidden_states_of(std::span(sequences).subspan(b0, b1 - b0), caches ? caches->data() + b0 : nullptr));
    });
  }

  /// Total number of tokens in `sequences` (rows of the packed order).
  static Eigen::Index packed_rows(const std::vector<std::vector<int>>& sequences) {
    Eigen::Index n = 0;
    for (const auto& s : sequences) n += static_cast<Eigen::Index>(s.size());
    return n;
  }

  /// Final RMS-normed hidden states of every token, packed [sum of lengths x dim]; see forward_groups.
  RowMatrix hidden_states(const std::vector<std::vector<int>>& sequences, std::vector<KvCache>* caches = nullptr) const {
    RowMatrix out(packed_rows(sequences), config().dim);
    forward_groups(sequences, [&](Eigen::Index row, const RowMatrix& h) { out.middleRows(row, h.rows()) = h; }, caches);
    return out;
  }
  /// Logits of the rows of `hidden` [rows x vocab_size].
  RowMatrix classify(const Eigen::Ref<const RowMatrix>& hidden) const {
    std::vector<float> scratch;
    if (weights_.matrix_dtype != DType::bf16) return hidden * classifier_matrix(scratch).transpose();
    // bfloat16: the classifier converted a block of vocabulary rows at a time (scratch of at most 4096 x dim).
    const Config& c = config();
    const Eigen::Index block = std::min<Eigen::Index>(4096, c.vocab_size), dim = c.dim;
    RowMatrix out(hidden.rows(), c.vocab_size);
    scratch.resize(static_cast<std::size_t>(block * dim));
    const bfloat16* w = weights_.classifier_bf16();
    for (Eigen::Index v0 = 0; v0 < c.vocab_size; v0 += block) {
      const Eigen::Index n = std::min(block, c.vocab_size - v0);
      const bfloat16* src = w + static_cast<std::size_t>(v0 * dim);
      for (std::size_t i = 0; i < static_cast<std::size_t>(n * dim); ++i) scratch[i] = to_float(src[i]);
      out.middleCols(v0, n).noalias() = hidden * Eigen::Map<const RowMatrix>(scratch.data(), n, dim).transpose();
    }
    return out;
  }

  /// Logits at every position of every sequence, packed [sum of lengths x vocab_size]; see hidden_states.
  RowMatrix packed_logits(const std::vector<std::vector<int>>& sequences, std::vector<KvCache>* caches = nullptr) const {
    RowMatrix out(packed_rows(sequences), config().vocab_size);
    std::vector<float> scratch;  // the classifier in float32 when held in bfloat16 (converted once, shared read-only)
    const auto wcls = classifier_matrix(scratch);
    forward_groups(
        sequences,
        [&](Eigen::Index row, const RowMatrix& h) { out.middleRows(row, h.rows()).noalias() = h * wcls.transpose(); },
        caches);
    return out;
  }

  /// Logits at every position, one [length x vocab_size] matrix per sequence (lengths may differ).
  std::vector<Eigen::MatrixXf> forward(const std::vector<std::vector<int>>& sequences) const {
    const RowMatrix logits = packed_logits(sequences);
    std::vector<Eigen::MatrixXf> out;
    Eigen::Index row = 0;
    for (const auto& s : sequences) {
      const auto T = static_cast<Eigen::Index>(s.size());
      out.emplace_back(logits.middleRows(row, T));
      row += T;
    }
    return out;
  }

  /// As above for a padded [B x max_length] token matrix: row b holds lengths[b] real tokens, the rest is ignored.
  std::vector<Eigen::MatrixXf> forward(const Eigen::MatrixXi& padded, const std::vector<int>& lengths) const {
    if (static_cast<Eigen::Index>(lengths.size()) != padded.rows())
      throw std::invalid_argument("zeroth: need one length per row of the token matrix");
    std::vector<std::vector<int>> sequences(lengths.size());
    for (std::size_t b = 0; b < lengths.size(); ++b) {
      if (lengths[b] < 0 || lengths[b] > padded.cols()) throw std::invalid_argument("zeroth: length out of range");
      for (int t = 0; t < lengths[b]; ++t) sequences[b].push_back(padded(static_cast<Eigen::Index>(b), t));
    }
    return forward(sequences);
  }

 private:
  // The forward pass of already validated `sequences` (and their `caches`, if non-null), packed into one matrix.
  RowMatrix hidden_states_of(std::span<const std::vector<int>> sequences, KvCache* caches) const {
    const Config& c = config();
    const Eigen::Index dim = c.dim, kv_dim = c.kv_dim(), hs = c.head_size();
    const std::size_t B = sequences.size();
    std::vector<Eigen::Index> offset(B + 1, 0), start(B, 0);  // packed row offsets; first position per sequence
    for (std::size_t b = 0; b < B; ++b) {
      if (caches) start[b] = caches[b].length;
      offset[b + 1] = offset[b] + static_cast<Eigen::Index>(sequences[b].size());
    }
    const Eigen::Index N = offset[B];
    std::vector<int> position(static_cast<std::size_t>(N));
    RowMatrix x(N, dim);
    const Weights& w = weights_;
    const bool b16 = w.matrix_dtype == DType::bf16;
    for (std::size_t b = 0; b < B; ++b)
      for (Eigen::Index t = 0; t < offset[b + 1] - offset[b]; ++t) {
        const int token = sequences[b][static_cast<std::size_t>(t)];
        position[static_cast<std::size_t>(offset[b] + t)] = static_cast<int>(prefix_.tokens + start[b] + t);
        const std::size_t first = static_cast<std::size_t>(token) * static_cast<std::size_t>(dim);
        if (b16)
          for (Eigen::Index j = 0; j < dim; ++j)
            x(offset[b] + t, j) = to_float(w.half.token_embedding[first + static_cast<std::size_t>(j)]);
        else
          x.row(offset[b] + t) = Eigen::Map<const Eigen::RowVectorXf>(w.token_embedding.data() + first, dim);
      }
    // bf16 matrices: the layer's matrix in float32, converted just before its product (one at a time).
    std::vector<float> scratch;
    auto W = [&](const std::vector<float>& f32, const std::vector<bfloat16>& half, int l, Eigen::Index rows,
                 Eigen::Index cols) { return layer_matrix(f32, half, l, rows, cols); };

    RowMatrix xn(N, dim), q(N, dim), k(N, kv_dim), v(N, kv_dim), att(N, dim), h1, h3, low, scores;  // low: LoRA's
    const Eigen::Index pp = prefix_.tokens;
    for (int l = 0; l < c.n_layers; ++l) {
      rms_norm(xn, x, weights_.rms_att.data() + l * dim);
      linear(q, xn, W(w.wq, w.half.wq, l, dim, dim), nullptr, lora(Projection::wq, l), scratch, low);
      linear(k, xn, W(w.wk, w.half.wk, l, kv_dim, dim), nullptr, lora(Projection::wk, l), scratch, low);
      linear(v, xn, W(w.wv, w.half.wv, l, kv_dim, dim), nullptr, lora(Projection::wv, l), scratch, low);
      rope(q, position);
      rope(k, position);

      const int group = c.n_heads / c.n_kv_heads;
      if (caches)
        for (std::size_t b = 0; b < B; ++b) {
          auto& cache = caches[b];
          const Eigen::Index T = offset[b + 1] - offset[b];
          cache.keys[l].middleRows(start[b], T) = k.middleRows(offset[b], T);
          cache.values[l].middleRows(start[b], T) = v.middleRows(offset[b], T);
        }
      for (std::size_t b = 0; b < B; ++b) {
        const Eigen::Index T = offset[b + 1] - offset[b];
        if (T == 0) continue;
        const Eigen::Index P = start[b] + T;  // positions visible to the last token
        const RowMatrix& keys = caches ? caches[b].keys[l] : k;
        const RowMatrix& values = caches ? caches[b].values[l] : v;
        const Eigen::Index kv_row = caches ? 0 : offset[b];
        for (Eigen::Index head = 0; head < c.n_heads; ++head) {
          const Eigen::Index kv_col = (head / group) * hs;
          const auto front_k = prefix_matrix(prefix_.keys, l).middleCols(kv_col, hs);
          const auto front_v = prefix_matrix(prefix_.values, l).middleCols(kv_col, hs);
          attend(q.block(offset[b], head * hs, T, hs), keys.block(kv_row, kv_col, P, hs),
                 values.block(kv_row, kv_col, P, hs), att.block(offset[b], head * hs, T, hs), start[b], scores,
                 front_k.topRows(pp), front_v.topRows(pp));
        }
      }
      add_linear(x, att, W(w.wo, w.half.wo, l, dim, dim), lora(Projection::wo, l), scratch, low);

      rms_norm(xn, x, weights_.rms_ffn.data() + l * dim);
      linear(h1, xn, W(w.w1, w.half.w1, l, c.hidden_dim, dim), nullptr, lora(Projection::w1, l), scratch, low);
      linear(h3, xn, W(w.w3, w.half.w3, l, c.hidden_dim, dim), nullptr, lora(Projection::w3, l), scratch, low);
      h1.array() = h1.array() / (1.0f + (-h1.array()).exp()) * h3.array();  // SwiGLU
      add_linear(x, h1, W(w.w2, w.half.w2, l, dim, c.hidden_dim), lora(Projection::w2, l), scratch, low);
    }
    if (caches)
      for (std::size_t b = 0; b < B; ++b) caches[b].length += static_cast<int>(sequences[b].size());
    rms_norm(xn, x, weights_.rms_final.data());
    return xn;
  }


  // Layer `l` of a family of [rows x cols] row-major matrices.
  static Eigen::Map<const RowMatrix> matrix(const std::vector<float>& family, int l, Eigen::Index rows,
                                            Eigen::Index cols) {
    return {family.data() + static_cast<std::size_t>(l) * rows * cols, rows, cols};
  }

  // Layer `l` of a matrix family, in float32 or in bfloat16 as the weights hold it.
  MatrixRef layer_matrix(const std::vector<float>& f32, const std::vector<bfloat16>& half, int l, Eigen::Index rows,
                         Eigen::Index cols) const {
    const auto first = static_cast<std::size_t>(l) * static_cast<std::size_t>(rows * cols);
    if (weights_.matrix_dtype != DType::bf16) return {f32.data() + first, nullptr, rows, cols};
    return {nullptr, half.data() + first, rows, cols};
  }

  // The classifier [vocab_size x dim] as float32 (converted into `scratch` when held in bfloat16).
  Eigen::Map<const RowMatrix> classifier_matrix(std::vector<float>& scratch) const {
    const Config& c = config();
    if (weights_.matrix_dtype != DType::bf16) return {weights_.classifier(), c.vocab_size, c.dim};
    const auto& half = c.shared_classifier ? weights_.half.token_embedding : weights_.half.wcls;
    return layer_matrix({}, half, 0, c.vocab_size, c.dim).float32(scratch);
  }

  // Layer l's LoRA adapter of `p` (empty when `p` has none).
  LoraRef lora(Projection p, int l) const {
    const auto i = static_cast<std::size_t>(p);
    if (lora_.a[i].empty()) return {};
    const auto [rows, cols] = projection_shape(config(), p);
    const std::size_t r = static_cast<std::size_t>(lora_.options.rank), L = static_cast<std::size_t>(l);
    return {lora_.a[i].data() + L * r * cols, lora_.b[i].data() + L * rows * r, static_cast<Eigen::Index>(r),
            lora_.scale()};
  }

  // Layer `l`'s prefix keys or values [tokens x kv_dim].
  Eigen::Map<const RowMatrix> prefix_matrix(const std::vector<float>& family, int l) const {
    return {family.empty() ? nullptr : family.data() + static_cast<std::size_t>(l) * prefix_.tokens * config().kv_dim(),
            prefix_.tokens, config().kv_dim()};
  }

  // Rotates each (even, odd) pair within every head of every row by its position's angle.
  void rope(RowMatrix& m, const std::vector<int>& position) const {
    const Eigen::Index hs = config().head_size();
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
      const int pos = position[static_cast<std::size_t>(r)];
      float* row = m.row(r).data();
      for (Eigen::Index col = 0; col < m.cols(); col += 2) {
        const Eigen::Index i = (col % hs) / 2;
        const float fcr = rope_cos_(pos, i), fci = rope_sin_(pos, i);
        const float v0 = row[col], v1 = row[col + 1];
        row[col] = v0 * fcr - v1 * fci;
        row[col + 1] = v0 * fci + v1 * fcr;
      }
    }
  }

  Weights weights_;
  Lora lora_;
  Prefix prefix_;
  RowMatrix rope_cos_, rope_sin_;  // [seq_len x head_size/2]
};

}  // namespace zeroth::llama2c
