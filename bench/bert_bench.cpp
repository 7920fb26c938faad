// BERT encoder costs on all-MiniLM-L6-v2 and SST-2, one configuration per process (so peak RSS is its own):
//   bert_bench MODEL_DIR DATA_DIR MODE THREADS [N] [REPEATS]
// MODEL_DIR: a Hugging Face BERT folder (../shared/models/all-MiniLM-L6-v2); DATA_DIR: SST-2 (../shared/data/sst2).
// MODE:
//   forward   Encoder::embed over the first N batches of 16 train.tsv sentences (BertTokenizer, max_length 128),
//             REPEATS times: median and range of tokens/s (real tokens, no padding), then the GFLOP/s of Eigen's
//             product [128 x 384] x [384 x 1536] (the encoder's intermediate projection), median of REPEATS.
//   step      N ZO-SGD steps (make_store over a SentenceClassifier of k=512 per class, BackendObjective batch 16,
//             lr 1e-5, eps 1e-3) alternated with two plain classifier.loss() calls on each step's batch: the medians
//             of each and of their paired ratio (step / two forward passes), as llm_bench's "overhead" mode.
//             Further arguments (e.g. bias LayerNorm: BitFit, the main job's) train only the tensors whose name
//             contains one of them.
//   rss-infer N steps of two forward losses at batch 16, nothing else: peak RSS.
//   rss-zo    N ZO-SGD steps on the same batches: peak RSS.
// OpenMP threads: omp_set_num_threads(THREADS) (and Options::threads). Prints one line of key=value.
#include <zeroth/backends/bert.hpp>
#include <zeroth/tasks/presets.hpp>
#include <zeroth/tasks/sampling.hpp>
#include <zeroth/zeroth.hpp>

#include <sys/resource.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace zeroth;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

struct Stats {
  double median, min, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 5) {
    std::fprintf(stderr, "usage: bert_bench MODEL_DIR DATA_DIR forward|step|rss-infer|rss-zo THREADS [N] [REPEATS]\n");
    return 2;
  }
  const fs::path model_dir = argv[1], data_dir = argv[2];
  const std::string mode = argv[3];
  const int threads = std::stoi(argv[4]);
  const int n = argc > 5 ? std::stoi(argv[5]) : (mode == "forward" ? 8 : 20);
  const int repeats = argc > 6 ? std::stoi(argv[6]) : 5;
  if (threads < 1 || n < 1 || repeats < 1)
    throw std::invalid_argument("bert_bench: THREADS, N and REPEATS must be at least 1");
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  constexpr std::size_t kBatch = 16, kMaxLength = 128, kShots = 512;
  const auto spec = tasks::preset("sst2", tasks::ModelKind::encoder);
  const auto train = tasks::load(spec, data_dir / "train.tsv");
  bert::Encoder encoder = bert::load_encoder(model_dir);
  const auto tokenizer = tokenizers::BertTokenizer::from_folder(model_dir);
  double sink = 0;

  if (mode == "forward") {
    const std::size_t sentences = static_cast<std::size_t>(n) * kBatch;
    if (sentences > train.size()) throw std::invalid_argument("bert_bench: N batches exceed train.tsv");
    std::vector<std::vector<bert::Sequence>> batches(static_cast<std::size_t>(n));
    std::size_t tokens = 0;
    for (std::size_t i = 0; i < sentences; ++i) {
      const auto e = tokenizer.encode(train[i].text, kMaxLength);
      tokens += e.ids.size();
      batches[i / kBatch].push_back({e.ids, e.type_ids});
    }
    auto pass = [&] {
      for (const auto& b : batches) sink += encoder.embed(b)(0, 0);
    };
    pass();  // warm-up
    std::vector<double> tok_s;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = Clock::now();
      pass();
      tok_s.push_back(static_cast<double>(tokens) / (ms_since(t0, Clock::now()) / 1e3));
    }
    // Eigen's product on the encoder's typical shape, as transformer::linear forms it (in W^T, W row-major
    // [1536 x 384]); outside a parallel region Eigen may split it over the OpenMP threads.
    Eigen::setNbThreads(threads);
    const Eigen::Index M = 128, K = 384, N = 1536;
    const transformer::RowMatrix a = transformer::RowMatrix::Random(M, K), w = transformer::RowMatrix::Random(N, K);
    transformer::RowMatrix c(M, N);
    const int reps = 50;
    auto products = [&] {
      for (int i = 0; i < reps; ++i) {
        c.noalias() = a * w.transpose();
        sink += c(i % M, i % N);
      }
    };
    products();
    std::vector<double> gflops;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = Clock::now();
      products();
      gflops.push_back(2.0 * M * K * N * reps / (ms_since(t0, Clock::now()) / 1e3) / 1e9);
    }
    const Stats t = stats(tok_s), g = stats(gflops);
    std::printf("mode=forward threads=%d batches=%d sentences=%zu tokens=%zu tok_s=%.1f tok_s_min=%.1f "
                "tok_s_max=%.1f gemm_gflops=%.2f gemm_gflops_min=%.2f gemm_gflops_max=%.2f sink=%g\n",
                threads, n, sentences, tokens, t.median, t.min, t.max, g.median, g.min, g.max, sink);
    return 0;
  }

  const auto shots = tasks::sample_k_shot(train, 2, kShots, 0).items;
  bert::SentenceClassifier classifier(encoder, tokenizer, shots, {.max_length = kMaxLength});
  BufferStore store = make_store(classifier);
  if (argc > 7) store.train_only({argv + 7, argv + argc});  // the fine-tuner's --train-only fragments
  BackendObjective objective(classifier, classifier.size(), kBatch, 0);
  const Options o{.learning_rate = 1e-5, .epsilon = 1e-3, .max_steps = 1u << 30, .threads = threads};
  auto run = ZOSGD(o).run(store);
  auto zo_step = [&] {  // one ZO-SGD step on the batch of run.step(), as Optimizer::minimize takes it
    objective.next_batch(run.step());
    std::optional<StepInfo> s;
    while (!s) {
      run.ask();
      s = run.tell(objective());
    }
    sink += s->loss;
  };

  if (mode == "step") {
    std::vector<double> fwd, step, ratio;
    for (int i = -1; i < n; ++i) {  // i = -1: warm-up
      objective.next_batch(run.step());
      const auto t0 = Clock::now();
      sink += classifier.loss(objective.batch()) + classifier.loss(objective.batch());
      const auto t1 = Clock::now();
      zo_step();
      const auto t2 = Clock::now();
      if (i < 0) continue;
      fwd.push_back(ms_since(t0, t1));
      step.push_back(ms_since(t1, t2));
      ratio.push_back(step.back() / fwd.back());
    }
    const Stats f = stats(fwd), s = stats(step), r = stats(ratio);
    std::printf("mode=step threads=%d params=%zu steps=%d forward2_ms=%.3f step_ms=%.3f step_ms_min=%.3f "
                "step_ms_max=%.3f ratio=%.4f ratio_min=%.4f ratio_max=%.4f sink=%g\n",
                threads, store.dimension(), n, f.median, s.median, s.min, s.max, r.median, r.min, r.max, sink);
    return 0;
  }
  if (mode == "rss-infer" || mode == "rss-zo") {
    const bool zo = mode == "rss-zo";
    for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(n); ++i) {
      if (zo) {
        zo_step();
      } else {
        objective.next_batch(i);
        sink += classifier.loss(objective.batch()) + classifier.loss(objective.batch());
      }
    }
    std::printf("mode=%s threads=%d params=%zu steps=%d peak_rss_mib=%.1f sink=%g\n", mode.c_str(), threads,
                store.dimension(), n, peak_rss_mib(), sink);
    return 0;
  }
  throw std::invalid_argument("bert_bench: unknown mode '" + mode + "'");
} catch (const std::exception& e) {
  std::fprintf(stderr, "bert_bench: %s\n", e.what());
  return 1;
}
