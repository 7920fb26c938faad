// LLM fine-tuning costs, one configuration per process (so peak RSS is its own):
//   llm_bench MODEL MODE [steps=20] [batch=16] [seq=32] [threads=2]
// MODEL: a llama2.c checkpoint path, or "random15M" for a randomly initialised model of stories15M's shape
// (dim 288, hidden 768, 6 layers, 6 heads, vocab 32000: random weights, labelled as such).
// MODE: "forward" (two loss evaluations per step, no optimizer: plain inference), or the steps of "zosgd" (MeZO),
// "adam" (ZO-Adam) or "hizoo" (each for its time and peak RSS), or "overhead" (two forward passes and a ZO-SGD step
// alternated in one process: their medians and the median of their ratio).
// Loss: next-token cross-entropy on a fixed batch of random token sequences. Prints one line of key=value.
#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/log_probs.hpp>
#include <zeroth/zeroth.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace zeroth;

namespace {

llama2c::Weights random_weights(const llama2c::Config& c, std::uint64_t seed) {
  auto w = llama2c::Weights::zeros(c);
  std::uint32_t b = 0;
  for (auto& t : w.tensors()) {
    const bool norm = !t.decay;
    for (std::size_t i = 0; i < t.size; ++i)
      t.data[i] = norm ? 1.0f : 0.02f * random::direction_element(Direction::gaussian, seed, b, i);
    ++b;
  }
  return w;
}

struct LmBackend {  // zeroth::Backend over a fixed batch of token sequences
  llama2c::Model& model;
  std::vector<std::vector<int>> seqs;
  std::vector<Block> parameters() {
    std::vector<Block> out;
    for (auto& t : model.weights().tensors())
      out.push_back(Block{t.name, t.data, t.size, DType::f32, {.decay = t.decay}, t.shape});
    return out;
  }
  double loss(std::span<const std::size_t>) {
    double s = 0;
    std::size_t n = 0;
    for (const auto& v : llama2c::next_token_log_probs(model, seqs)) {
      s -= v.cast<double>().sum();
      n += static_cast<std::size_t>(v.size());
    }
    return s / static_cast<double>(n);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: llm_bench MODEL|random15M forward|zosgd|adam|hizoo|overhead [steps] [batch] [seq] "
                         "[threads]\n");
    return 2;
  }
  const std::string which = argv[1], mode = argv[2];
  const int steps = argc > 3 ? std::stoi(argv[3]) : 20, batch = argc > 4 ? std::stoi(argv[4]) : 16,
            seq = argc > 5 ? std::stoi(argv[5]) : 32, threads = argc > 6 ? std::stoi(argv[6]) : 2;
  if (steps < 1 || batch < 1 || seq < 2 || threads < 1)
    throw std::invalid_argument("llm_bench: steps, batch and threads must be at least 1, seq at least 2");
  llama2c::Config c{.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6, .vocab_size = 32000,
                    .seq_len = 256, .shared_classifier = true};
  llama2c::Model model(which == "random15M" ? random_weights(c, 1) : llama2c::load_checkpoint(which));
  LmBackend backend{model, {}};
  for (int b = 0; b < batch; ++b) {
    std::vector<int> s(static_cast<std::size_t>(seq));
    for (int t = 0; t < seq; ++t)
      s[static_cast<std::size_t>(t)] = 3 + static_cast<int>(random::philox(7, b, t, Stream::sampling)[0] %
                                                            static_cast<std::uint32_t>(model.config().vocab_size - 3));
    backend.seqs.push_back(std::move(s));
  }
  BufferStore store = make_store(backend);
  const Options o{.learning_rate = 1e-6, .epsilon = 1e-3, .max_steps = 1u << 30, .threads = threads};
  double sink = 0;
  std::vector<double> ms;
  auto time_steps = [&](auto&& one) {
    one();  // warm-up
    for (int i = 0; i < steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      one();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  };
  auto time_optimizer = [&](auto opt) {
    auto run = opt.run(store);
    time_steps([&] {
      std::optional<StepInfo> s;
      while (!s) {
        run.ask();
        s = run.tell(backend.loss({}));
      }
      sink += s->loss;
    });
  };
  if (mode == "forward")
    time_steps([&] { sink += backend.loss({}) + backend.loss({}); });
  else if (mode == "overhead") {
    // Two forward passes and one ZO-SGD step, alternated, so that both see the same machine (its memory bandwidth
    // varies by several percent from minute to minute here): the medians of each and of their paired ratio.
    auto run = ZOSGD(o).run(store);
    std::vector<double> fwd, step, ratio;
    for (int i = -1; i < steps; ++i) {  // i = -1: warm-up
      auto t0 = std::chrono::steady_clock::now();
      sink += backend.loss({}) + backend.loss({});
      auto t1 = std::chrono::steady_clock::now();
      std::optional<StepInfo> s;
      while (!s) {
        run.ask();
        s = run.tell(backend.loss({}));
      }
      auto t2 = std::chrono::steady_clock::now();
      sink += s->loss;
      if (i < 0) continue;
      fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      step.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      ratio.push_back(step.back() / fwd.back());
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::printf("model=%s mode=overhead params=%zu batch=%d seq=%d forward_ms=%.3f step_ms=%.3f ratio=%.4f sink=%g\n",
                which.c_str(), store.dimension(), batch, seq, median(fwd), median(step), median(ratio), sink);
    return 0;
  } else if (mode == "zosgd")
    time_optimizer(ZOSGD(o));
  else if (mode == "adam")
    time_optimizer(ZOAdam(o));
  else if (mode == "hizoo")
    time_optimizer(HiZOO(o));
  else
    throw std::invalid_argument("llm_bench: unknown mode '" + mode + "'");
  std::sort(ms.begin(), ms.end());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("model=%s mode=%s params=%zu batch=%d seq=%d median_ms=%.3f peak_rss_mib=%.1f sink=%g\n", which.c_str(),
              mode.c_str(), store.dimension(), batch, seq, ms[ms.size() / 2], ru.ru_maxrss / 1024.0, sink);
}
