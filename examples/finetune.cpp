// zeroth-finetune: fine-tune a llama2.c checkpoint with forward passes only, on a prompt-classification task or on
// the causal language-modelling loss of texts.
//   zeroth-finetune --task sst2 --k 512 --steps 1000 --lr 1e-4 --out runs/sst2
//   zeroth-finetune --task lm --k 512 --steps 1000 --lr 1e-4 --out runs/lm   (SST-2's sentences as text by default)
// Prints held-out metrics before, during and after; writes metrics (JSONL), the trajectory log, a resumable
// checkpoint and the fine-tuned model (llama2.c format) to --out. --resume continues a killed run bit-identically.
#include <zeroth/backends/llama2c/causal_lm.hpp>
#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/prefix_file.hpp>
#include <zeroth/backends/llama2c/prompt_classifier.hpp>
#include <zeroth/data/load.hpp>
#include <zeroth/data/sampling.hpp>
#include <zeroth/data/text.hpp>
#include <zeroth/zeroth.hpp>

#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace zeroth;

namespace {

struct Args {
  std::string model = "../shared/models/stories260K/stories260K.bin";
  std::string tokenizer = "../shared/models/stories260K/tok512.bin";
  std::string task = "sst2", train, eval, out = "runs/finetune", method = "zosgd", objective = "ce";
  std::size_t k = 512, batch = 16, eval_examples = 300, directions = 1;
  std::uint64_t steps = 1000, eval_every = 250, seed = 0;
  double lr = 1e-4, eps = 1e-3, weight_decay = 0.0;
  std::string direction = "gaussian", train_only;
  int threads = 0;
  bool resume = false;
  int lora_rank = 0, prefix_tokens = 0;  // parameter-efficient modes (0 = off: full-parameter ZO)
  double lora_alpha = 16;
  bool bf16 = false;                 // matrices held in bfloat16 (updated through zeroth's low-precision path)
  std::string rounding = "nearest";  // how updates of bfloat16 weights are stored: nearest or stochastic
  std::string prefix_file;  // a prefix.bin to start from instead of --prefix-init
  std::string lora_targets = "wq,wv", prefix_init = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

  std::string describe() const {  // what must match for --resume
    std::ostringstream s;
    s << "model=" << model << "\ntask=" << task << (objective == "ce" ? "" : "\nobjective=" + objective) << "\ntrain=" << train << "\neval=" << eval << "\nk=" << k
      << "\nbatch=" << batch << "\nsteps=" << steps << "\nseed=" << seed << "\nlr=" << lr << "\neps=" << eps
      << "\nweight_decay=" << weight_decay << "\ndirections=" << directions << "\ndirection=" << direction
      << "\ntrain_only=" << train_only
      << "\nmethod=" << method << "\n";
    if (lora_rank > 0) s << "lora_rank=" << lora_rank << "\nlora_alpha=" << lora_alpha << "\nlora_targets=" << lora_targets << "\n";
    if (prefix_tokens > 0) s << "prefix_tokens=" << prefix_tokens << "\nprefix_init=" << prefix_init << "\n";
    if (!prefix_file.empty()) s << "prefix_file=" << prefix_file << "\n";
    if (bf16) s << "bf16=1\n";
    if (rounding != "nearest") s << "rounding=" << rounding << "\n";
    return s.str();
  }
};

std::pair<std::string, std::string> default_files(const std::string& name) {
  const std::string d = "../shared/data/";
  if (name == "lm") return {d + "sst2/train.tsv", d + "sst2/dev.tsv"};
  switch (data::task_from_string(name)) {
    case data::Task::sst2: return {d + "sst2/train.tsv", d + "sst2/dev.tsv"};
    case data::Task::rte: return {d + "superglue/RTE/train.jsonl", d + "superglue/RTE/val.jsonl"};
    case data::Task::cb: return {d + "superglue/CB/train.jsonl", d + "superglue/CB/val.jsonl"};
    case data::Task::boolq: return {d + "fewglue/BoolQ/train.jsonl", ""};
    case data::Task::copa: return {d + "fewglue/COPA/train.jsonl", ""};
  }
  return {};
}

// Prints and logs held-out loss and accuracy every `every` steps.
template <class Backend>
struct EvalCallback {
  Backend& heldout;
  std::size_t n;
  std::uint64_t every;
  std::ofstream log;
  const char* accuracy = "accuracy";  // what the backend's accuracy measures
  void on_step(const StepInfo& s) {
    if (every == 0 || (s.step + 1) % every != 0) return;
    const auto ev = heldout.evaluate(n);
    std::fprintf(stderr, "\n  step %llu: held-out loss %.4f %s %.1f%% (%zu examples)\n",
                 static_cast<unsigned long long>(s.step + 1), ev.loss, accuracy, 100 * ev.accuracy, ev.examples);
    log << "{\"step\":" << s.step + 1 << ",\"eval_loss\":" << ev.loss << ",\"eval_accuracy\":" << ev.accuracy << "}\n"
        << std::flush;
  }
};

}  // namespace

int main(int argc, char** argv) try {
  Args a;
  CLI::App app{"Fine-tune a llama2.c model with zeroth-order optimization, on prompt classification or a causal-LM loss"};
  app.add_option("--model", a.model, "llama2.c checkpoint (legacy or version 1)")->capture_default_str();
  app.add_option("--tokenizer", a.tokenizer, "llama2.c tokenizer")->capture_default_str();
  std::vector<std::string> task_names{"lm"};
  for (data::Task t : data::all_tasks) task_names.emplace_back(data::task_name(t));
  app.add_option("--task", a.task,
                 "sst2, rte, cb, boolq or copa (prompt classification), or lm (causal-LM loss on texts: one per line, "
                 "or a tsv's sentences)")
      ->capture_default_str()
      ->check(CLI::IsMember(task_names));
  app.add_option("--objective", a.objective,
                 "ce (cross-entropy over the verbalizers) or accuracy (1 - accuracy: non-differentiable)")
      ->capture_default_str()
      ->check(CLI::IsMember({"ce", "accuracy"}));
  app.add_option("--train", a.train, "training file (default: the task's file under ../shared/data)");
  app.add_option("--eval", a.eval, "held-out file (default: the task's dev/val file; else a split of --train)");
  app.add_option("--k", a.k, "training examples per class; for lm, training texts (0 = all)")->capture_default_str();
  app.add_option("--method", a.method, "zosgd (MeZO), sign, momentum, adam, factored or hizoo")
      ->capture_default_str();
  app.add_option("--steps", a.steps, "optimizer steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", a.lr, "learning rate")->capture_default_str();
  app.add_option("--eps", a.eps, "perturbation scale")->capture_default_str();
  app.add_option("--weight-decay", a.weight_decay, "weight decay (norm weights exempt)")->capture_default_str();
  app.add_option("--batch", a.batch, "examples per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--directions", a.directions, "directions q per step")->capture_default_str();
  app.add_option("--direction", a.direction, "gaussian, rademacher or sphere")->capture_default_str();
  app.add_option("--train-only", a.train_only,
                 "comma-separated name fragments: train only the tensors whose name contains one (e.g. norm)");
  app.add_option("--seed", a.seed, "seed of sampling and directions")->capture_default_str();
  app.add_option("--threads", a.threads, "OpenMP threads (0 = all)")->capture_default_str();
  app.add_option("--eval-every", a.eval_every, "steps between held-out evaluations (0 = only before/after)")
      ->capture_default_str();
  app.add_option("--eval-examples", a.eval_examples, "held-out examples evaluated")->capture_default_str();
  app.add_option("--out", a.out, "output directory")->capture_default_str();
  app.add_flag("--resume", a.resume, "continue the run in --out from its last checkpoint");
  auto* lora = app.add_option("--lora-rank", a.lora_rank, "LoRA: train rank-R adapters instead of the weights (0 = off)")
                   ->check(CLI::NonNegativeNumber);
  app.add_option("--lora-alpha", a.lora_alpha, "LoRA scale alpha (adapters add alpha/R B A x)")
      ->capture_default_str()->needs(lora);
  app.add_option("--lora-targets", a.lora_targets, "LoRA: comma-separated projections among wq,wk,wv,wo,w1,w2,w3")
      ->capture_default_str()->needs(lora);
  auto* prefix = app.add_option("--prefix-tokens", a.prefix_tokens,
                                "prefix tuning: train P virtual tokens' keys and values per layer (0 = off)")
                     ->check(CLI::NonNegativeNumber)->excludes(lora);
  app.add_option("--prefix-init", a.prefix_init, "text whose first P tokens (after BOS) initialise the prefix")
      ->capture_default_str()->needs(prefix);
  app.add_option("--prefix-file", a.prefix_file, "prefix tuning from a saved prefix.bin (its token count) instead")
      ->excludes(lora)->excludes(prefix);
  app.add_flag("--bf16", a.bf16, "hold the weight matrices in bfloat16 (norms stay float32; model.bin is float32)");
  app.add_option("--rounding", a.rounding, "storing updates of bfloat16 weights: nearest or stochastic")
      ->capture_default_str()
      ->check(CLI::IsMember({"nearest", "stochastic"}));
  CLI11_PARSE(app, argc, argv);

  const bool lm = a.task == "lm";
  if (lm && a.objective != "ce") throw std::invalid_argument("--objective accuracy needs a classification task");
  auto [dtrain, deval] = default_files(a.task);
  if (a.train.empty()) a.train = dtrain;
  if (a.eval.empty()) a.eval = deval;
  const Direction direction = direction_from_string(a.direction);

  llama2c::Model model(llama2c::load_checkpoint(a.model, a.bf16 ? DType::bf16 : DType::f32));
  const auto tokenizer = llama2c::Tokenizer::load(a.tokenizer, model.config().vocab_size);
  if (a.lora_rank > 0 && a.prefix_tokens > 0)
    throw std::invalid_argument("--lora-rank and --prefix-tokens are mutually exclusive");
  if (a.lora_rank > 0) {
    llama2c::LoraOptions lo{.rank = a.lora_rank, .alpha = static_cast<float>(a.lora_alpha), .targets = {},
                            .seed = a.seed};
    for (std::stringstream ss(a.lora_targets); ss.good();) {
      std::string t;
      std::getline(ss, t, ',');
      if (!t.empty()) lo.targets.push_back(llama2c::projection_from_string(t));
    }
    model.enable_lora(std::move(lo));
  } else if (!a.prefix_file.empty()) {
    model.set_prefix(llama2c::load_prefix(a.prefix_file, model.config()));
  } else if (a.prefix_tokens > 0) {  // BOS + the text's tokens, repeated as needed, cut to P
    std::vector<int> init = tokenizer.encode(a.prefix_init, true, false);
    const auto more = tokenizer.encode(a.prefix_init, false, false);
    if (more.empty()) throw std::invalid_argument("--prefix-init has no tokens");
    while (init.size() < static_cast<std::size_t>(a.prefix_tokens)) init.insert(init.end(), more.begin(), more.end());
    init.resize(static_cast<std::size_t>(a.prefix_tokens));
    model.enable_prefix(init);
  }
  // The backends: a prompt classifier over examples, or a causal LM over texts.
  auto fine_tune = [&](auto& trainer, auto& evaluator) -> int {
    BufferStore store = make_store(trainer);
    if (!a.train_only.empty()) {
      std::vector<std::string> parts;
      for (std::stringstream ss(a.train_only); ss.good();) {
        std::string p;
        std::getline(ss, p, ',');
        if (!p.empty()) parts.push_back(p);
      }
      std::vector<std::pair<std::string, BlockFlags>> flags;
      for (const Block& b : store.blocks()) {
        const bool train = std::any_of(parts.begin(), parts.end(), [&](const std::string& p) {
          return b.name.find(p) != std::string::npos;
        });
        flags.emplace_back(b.name, BlockFlags{.trainable = train, .decay = b.flags.decay});
      }
      for (const auto& [name, f] : flags) store.set_flags(name, f);
      if (store.dimension() == 0) throw std::invalid_argument("--train-only '" + a.train_only + "' matches no tensor");
    }
    std::printf("training %zu %s\n", store.dimension(),
                a.lora_rank > 0                ? "parameters of LoRA adapters (base weights frozen)"
                : model.prefix_tokens() > 0 ? "parameters of prefix keys and values (base weights frozen)"
                                               : "of the model's parameters");
    if (a.bf16) std::printf("weight matrices in bfloat16 (norms float32), %s rounding of updates\n", a.rounding.c_str());

    fs::create_directories(a.out);
    const fs::path ckpt = fs::path(a.out) / "checkpoint.bin", args_file = fs::path(a.out) / "args.txt";
    const Options options{.learning_rate = a.lr, .epsilon = a.eps, .weight_decay = a.weight_decay, .max_steps = a.steps,
                          .seed = a.seed,
                          .rounding = a.rounding == "stochastic" ? Rounding::stochastic : Rounding::nearest,
                          .threads = a.threads, .evaluate_final = false};
    const RGE rge({.directions = static_cast<int>(a.directions), .direction = direction});
    auto run_with = [&](auto& opt) -> int {
      if (a.resume) {
        std::ifstream in(args_file);
        std::stringstream saved;
        saved << in.rdbuf();
        if (saved.str() != a.describe())
          throw std::runtime_error("--resume: the options differ from the run in '" + a.out + "' (see " +
                                   args_file.string() + ")");
        if (fs::exists(ckpt)) opt.state() = zeroth::load_checkpoint(ckpt, store, opt.preconditioner());
        std::printf("resuming at step %llu\n", static_cast<unsigned long long>(opt.state().step));
      } else {
        io::write_atomic(args_file, a.describe());
      }

      const auto before = evaluator.evaluate();
      std::printf("before: held-out loss %.4f %s %.1f%%\n", before.loss, lm ? "next-token accuracy" : "accuracy",
                  100 * before.accuracy);
      // The training objective: the backend's loss, or a classifier's error rate (piecewise constant in the weights).
      Minibatch objective(
          [&](std::span<const std::size_t> batch) {
            if constexpr (BackendWithPredictions<std::remove_reference_t<decltype(trainer)>>) {
              if (a.objective == "accuracy") {
                const auto pred = trainer.predict(batch);
                double wrong = 0;
                for (std::size_t j = 0; j < batch.size(); ++j) wrong += pred[j] != trainer.label(batch[j]);
                return wrong / static_cast<double>(batch.size());
              }
            }
            return trainer.loss(batch);
          },
          trainer.size(), std::min(a.batch, trainer.size()), a.seed);
      const bool append = a.resume && opt.state().step > 0;
      EvalCallback eval{evaluator, evaluator.size(), a.eval_every,
                        std::ofstream(fs::path(a.out) / "eval.jsonl", append ? std::ios::app : std::ios::trunc),
                        lm ? "next-token accuracy" : "accuracy"};
      Result r = opt.minimize(objective, store, ProgressBar(), JsonlLogger(fs::path(a.out) / "metrics.jsonl", append),
                              TrajectoryRecorder(fs::path(a.out) / "trajectory.bin"),
                              Checkpointer(ckpt, std::max<std::uint64_t>(1, a.eval_every ? a.eval_every : 100)), eval);
      if (r.status != Status::non_finite_loss) save_checkpoint(ckpt, store, opt.state(), opt.preconditioner());
      const auto after = evaluator.evaluate();
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      std::printf("after %llu steps: held-out loss %.4f %s %.1f%% (before %.1f%%); %.1f ms/step, peak RSS %.1f MiB\n",
                  static_cast<unsigned long long>(opt.state().step), after.loss,
                  lm ? "next-token accuracy" : "accuracy", 100 * after.accuracy,
                  100 * before.accuracy, r.steps ? 1000 * r.seconds / static_cast<double>(r.steps) : 0.0,
                  static_cast<double>(ru.ru_maxrss) / 1024.0);
      // LoRA: the adapters merged into the weights, so model.bin loads with the plain loader.
      llama2c::save_checkpoint(fs::path(a.out) / "model.bin", model.merged_weights(), llama2c::Format::legacy);
      if (model.prefix_tokens() > 0)
        llama2c::save_prefix(fs::path(a.out) / "prefix.bin", model.prefix(), model.config());
      std::printf("wrote %s/{model.bin,%scheckpoint.bin,trajectory.bin,metrics.jsonl,eval.jsonl}\n", a.out.c_str(),
                  model.prefix_tokens() > 0 ? "prefix.bin," : "");
      if (!r.ok()) std::fprintf(stderr, "zeroth-finetune: %s\n", r.message.c_str());
      return r.ok() ? 0 : 1;
    };
    if (a.method == "zosgd") {
      ZOSGD opt(options, rge);
      return run_with(opt);
    } else if (a.method == "sign") {
      ZOSGDSign opt(options, rge);
      return run_with(opt);
    } else if (a.method == "momentum") {
      ZOSGDMomentum opt(options, rge);
      return run_with(opt);
    } else if (a.method == "adam") {
      ZOAdam opt(options, rge);
      return run_with(opt);
    } else if (a.method == "factored") {
      ZOFactored opt(options, rge);
      return run_with(opt);
    } else if (a.method == "hizoo") {
      HiZOO opt(options, ThreePointRGE({.direction = direction}));
      return run_with(opt);
    }
    throw std::invalid_argument("--method '" + a.method + "' is not one of zosgd, sign, momentum, adam, factored, hizoo");
  };
  if (lm) {
    const auto train_texts = data::read_texts(a.train);
    const auto train = a.k ? data::sample_texts(train_texts, a.k, a.seed) : train_texts;
    const auto eval_texts = data::read_texts(a.eval);
    const std::vector<std::string> heldout(eval_texts.begin(),
                                           eval_texts.begin() + static_cast<long>(std::min(eval_texts.size(),
                                                                                           a.eval_examples)));
    std::printf("task lm: %zu training texts, %zu held-out; model %s (%zu parameters)\n", train.size(),
                heldout.size(), a.model.c_str(), static_cast<std::size_t>(model.config().parameter_count()));
    llama2c::CausalLM trainer(model, tokenizer, train), evaluator(model, tokenizer, heldout);
    return fine_tune(trainer, evaluator);
  }
  const data::Task task = data::task_from_string(a.task);
  auto train_all = data::load_task(task, a.train);
  std::vector<data::Example> train, heldout;
  if (!a.eval.empty()) {
    heldout = data::load_task(task, a.eval);
    train = a.k ? data::sample_k_shot(train_all, data::num_classes(task), a.k, a.seed).examples : train_all;
  } else {  // no labelled held-out file: hold out a third of the training file
    auto parts = data::split(train_all, train_all.size() * 2 / 3, a.seed);
    train = std::move(parts.first);
    heldout = std::move(parts.second);
  }
  heldout = data::take_first(heldout, std::min(heldout.size(), a.eval_examples));
  std::printf("task %s: %zu training examples, %zu held-out; model %s (%zu parameters)\n", a.task.c_str(),
              train.size(), heldout.size(), a.model.c_str(), static_cast<std::size_t>(model.config().parameter_count()));
  llama2c::PromptClassifier trainer(model, tokenizer, task, train), evaluator(model, tokenizer, task, heldout);
  return fine_tune(trainer, evaluator);
} catch (const std::exception& e) {
  std::fprintf(stderr, "zeroth-finetune: %s\n", e.what());
  return 2;
}
