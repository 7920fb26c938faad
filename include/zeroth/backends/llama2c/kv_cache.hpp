#pragma once
// Per-sequence key/value cache, so a sequence can be extended without recomputing its prefix.
#include <vector>

#include <Eigen/Core>

#include "config.hpp"

namespace zeroth::llama2c {

/// Row-major float matrix: one row per token.
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Keys and values (after RoPE) of the first `length` positions of one sequence, per layer [capacity x kv_dim].
struct KvCache {
  KvCache(const Config& config, int capacity) : keys(config.n_layers), values(config.n_layers), capacity(capacity) {
    for (auto* family : {&keys, &values})
      for (auto& m : *family) m.resize(capacity, config.kv_dim());
  }
  std::vector<RowMatrix> keys, values;
  int capacity;
  int length = 0;
};

}  // namespace zeroth::llama2c
