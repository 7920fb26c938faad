#pragma once
// Hyper-parameters of a llama2.c model and their validation.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace zeroth::llama2c {

/// Shape of a llama2.c Llama model, as stored in a checkpoint header.
struct Config {
  int dim = 0;
  int hidden_dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;
  int seq_len = 0;
  bool shared_classifier = true;

  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return head_size() * n_kv_heads; }

  /// Number of trainable floats (including the classifier only when it is not shared).
  std::uint64_t parameter_count() const {
    const std::uint64_t d = dim, h = hidden_dim, l = n_layers, v = vocab_size, kv = kv_dim();
    std::uint64_t n = v * d;                   // token embedding
    n += l * (2 * d + 2 * d * d + 2 * kv * d);  // norms, wq, wo, wk, wv
    n += l * 3 * h * d;                        // w1, w2, w3
    n += d;                                    // final norm
    if (!shared_classifier) n += v * d;
    return n;
  }

  friend bool operator==(const Config&, const Config&) = default;
};

/// Throws std::runtime_error naming `source` unless every field is positive, sane and mutually consistent.
inline void validate(const Config& c, const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("zeroth: '" + source + "' has a corrupt header: " + what);
  };
  auto check_range = [&](const char* name, int value, int max) {
    if (value <= 0) fail(std::string(name) + " = " + std::to_string(value) + " is not positive");
    if (value > max) fail(std::string(name) + " = " + std::to_string(value) + " exceeds " + std::to_string(max));
  };
  check_range("dim", c.dim, 1 << 20);
  check_range("hidden_dim", c.hidden_dim, 1 << 22);
  check_range("n_layers", c.n_layers, 1 << 12);
  check_range("n_heads", c.n_heads, c.dim);
  check_range("n_kv_heads", c.n_kv_heads, c.n_heads);
  check_range("vocab_size", c.vocab_size, 1 << 24);
  check_range("seq_len", c.seq_len, 1 << 20);
  if (c.dim % c.n_heads != 0)
    fail("n_heads = " + std::to_string(c.n_heads) + " does not divide dim = " + std::to_string(c.dim));
  if (c.n_heads % c.n_kv_heads != 0)
    fail("n_kv_heads = " + std::to_string(c.n_kv_heads) + " does not divide n_heads = " + std::to_string(c.n_heads));
  if (c.head_size() % 2 != 0) fail("head size " + std::to_string(c.head_size()) + " is odd (RoPE needs pairs)");
  if (c.parameter_count() > (std::uint64_t{1} << 40)) fail("parameter count is absurdly large");
}

}  // namespace zeroth::llama2c
