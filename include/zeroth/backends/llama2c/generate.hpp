#pragma once
// Greedy (argmax) decoding with a KV cache.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kv_cache.hpp"
#include "model.hpp"

namespace zeroth::llama2c {

/// Index of the largest entry of a logits row (the first on ties, as run.c's argmax).
inline int argmax(const Eigen::Ref<const Eigen::RowVectorXf>& logits) {
  int best = 0;
  for (Eigen::Index i = 1; i < logits.size(); ++i)
    if (logits(i) > logits(best)) best = static_cast<int>(i);
  return best;
}

/// Up to `steps` tokens following `prompt`, each the argmax of the next-token logits; stops before `stop_token`
/// (llama2.c's stories models end a story with BOS) or when the context (seq_len) is full. Returns only new tokens.
inline std::vector<int> generate_greedy(const Model& model, const std::vector<int>& prompt, int steps,
                                        int stop_token = 1) {
  if (prompt.empty()) throw std::invalid_argument("zeroth: generate_greedy needs a non-empty prompt");
  const int capacity = model.config().seq_len;
  std::vector<KvCache> cache{KvCache(model.config(), capacity)};
  std::vector<int> out;
  RowMatrix logits = model.packed_logits({prompt}, &cache);
  while (static_cast<int>(out.size()) < steps) {
    const int next = argmax(logits.row(logits.rows() - 1));
    if (next == stop_token) break;
    out.push_back(next);
    if (cache[0].length >= capacity || static_cast<int>(out.size()) == steps) break;
    logits = model.packed_logits({{next}}, &cache);
  }
  return out;
}

}  // namespace zeroth::llama2c
