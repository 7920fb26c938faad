#pragma once
// The fixed objects that the seed generator (gen_corpus.cpp) writes files for and the fuzz targets read them with:
// a tiny llama2.c shape, a small parameter store, and the optimizer whose trajectory is replayed.
#include <cmath>
#include <cstddef>
#include <vector>

#include "zeroth/backends/llama2c/config.hpp"
#include "zeroth/optimizer/optimizer.hpp"
#include "zeroth/stores/buffer_store.hpp"

namespace zeroth::fuzz {

/// A llama2.c shape whose checkpoint is 2.7 KB (664 floats): dim 8, one layer, 2 heads sharing one kv head.
inline llama2c::Config tiny_llama() {
  return {.dim = 8, .hidden_dim = 16, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1, .vocab_size = 8, .seq_len = 4};
}

/// A float block, a bfloat16 block and a frozen block, as a checkpoint or a replay sees them.
struct Params {
  std::vector<float> w = std::vector<float>(24);
  std::vector<bfloat16> h = std::vector<bfloat16>(8);
  std::vector<float> frozen = std::vector<float>(3, 1.0f);
  BufferStore store;
  Params() {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i));
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = to_bfloat16(0.5f + 0.125f * static_cast<float>(i));
    store.add("w", w.data(), w.size()).add("h", h.data(), h.size(), {.decay = false});
    store.add("frozen", frozen.data(), frozen.size(), {.trainable = false});
  }
  double loss() const {
    double s = 0;
    for (float x : w) s += (x - 0.25) * (x - 0.25);
    for (bfloat16 x : h) s += to_float(x) * to_float(x);
    return s;
  }
};

/// The options the trajectory seed was recorded with (a replay refuses a trajectory recorded with others).
inline Options replay_options() {
  return {.learning_rate = 1e-3, .epsilon = 1e-3, .weight_decay = 0.01, .max_steps = 6, .seed = 11, .threads = 1};
}

}  // namespace zeroth::fuzz
