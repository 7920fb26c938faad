// Plugging a hand-written forward function into zeroth through the adapter layer (zeroth::Backend).
#include <zeroth/zeroth.hpp>

#include <cmath>
#include <array>
#include <cstdio>
#include <numeric>

struct TinyNet {  // y = w2 . tanh(W1 x + b1): weights live in the model's own buffers
  std::vector<float> w1 = std::vector<float>(8 * 2, 0.3f), b1 = std::vector<float>(8, 0.0f), w2 = std::vector<float>(8, 0.1f);
  std::vector<std::array<float, 3>> data;  // (x0, x1, target)
  std::vector<zeroth::Block> parameters() {
    return {{"w1", w1.data(), w1.size()}, {"b1", b1.data(), b1.size(), zeroth::DType::f32, {.decay = false}},
            {"w2", w2.data(), w2.size()}};
  }
  double loss(std::span<const std::size_t> batch) {  // forward pass only: mean squared error on the batch
    double s = 0;
    for (std::size_t i : batch) {
      float y = 0;
      for (int h = 0; h < 8; ++h) y += w2[h] * std::tanh(w1[2 * h] * data[i][0] + w1[2 * h + 1] * data[i][1] + b1[h]);
      s += (y - data[i][2]) * (y - data[i][2]);
    }
    return s / static_cast<double>(batch.size());
  }
};

int main() {
  TinyNet net;
  for (int i = 0; i < 256; ++i) {
    const float a = std::sin(0.37f * i), b = std::cos(0.91f * i);
    net.data.push_back({a, b, a * b});  // learn a product: not linear, so the hidden layer matters
  }
  zeroth::BufferStore store = zeroth::make_store(net);
  zeroth::BackendObjective f(net, net.data.size(), /*batch=*/32, /*seed=*/1);
  std::vector<std::size_t> all(net.data.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  std::printf("loss before %.4f\n", net.loss(all));
  zeroth::ZOSGD({.learning_rate = 2e-2, .epsilon = 1e-3, .max_steps = 4000}).minimize(f, store);
  std::printf("loss after  %.4f\n", net.loss(all));
}
