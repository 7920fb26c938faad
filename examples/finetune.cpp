// zeroth-finetune: fine-tune a model with forward passes only, on a classification task (a preset or a task spec
// of your own) or on the causal language-modelling loss of texts.
//   zeroth-finetune --task sst2 --k 512 --steps 1000 --out runs/sst2                   (all-MiniLM-L6-v2, a BERT folder)
//   zeroth-finetune --model ../shared/models/stories260K/stories260K.bin --task sst2 --out runs/llama   (llama2.c)
//   zeroth-finetune --train my.tsv --labels 0,1,2 --verbalizers bad,okay,good --template "{text}" --out runs/mine
// Prints held-out metrics before, during and after; writes the files `--help` lists to --out. --resume continues a
// killed run bit-identically. The work is library code: tasks/ (specs, presets, sampling, reports), io/run_folder,
// io/plot, backends/bert and backends/llama2c; this file wires them to flags.
#include <zeroth/backends/bert.hpp>
#include <zeroth/backends/llama2c/causal_lm.hpp>
#include <zeroth/backends/llama2c/checkpoint.hpp>
#include <zeroth/backends/llama2c/prefix_file.hpp>
#include <zeroth/backends/llama2c/prompt_classifier.hpp>
#include <zeroth/data/text.hpp>
#include <zeroth/io/plot.hpp>
#include <zeroth/io/run_folder.hpp>
#include <zeroth/tasks/presets.hpp>
#include <zeroth/tasks/report.hpp>
#include <zeroth/tasks/sampling.hpp>
#include <zeroth/zeroth.hpp>

#ifdef ZEROTH_WITH_TORCH
#include <zeroth/backends/torch.hpp>
#endif
#ifdef ZEROTH_WITH_MPI
#include <zeroth/distributed/data_parallel.hpp>
#include <zeroth/distributed/direction_parallel.hpp>
#endif

#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;
using namespace zeroth;

namespace {

const char* kVersion = "zeroth-finetune 0.2.0";

struct Args {
  std::string model = "../shared/models/all-MiniLM-L6-v2", tokenizer = "../shared/models/stories260K/tok512.bin";
  std::string task = "sst2", task_file, train, eval, out = "runs/finetune", method = "zosgd", objective = "ce";
  std::string format, labels, verbalizers, template_, template_b, label_field = "label";  // a spec from flags
  std::size_t k = 512, batch = 16, eval_examples = 0, directions = 1, max_length = 128;
  std::uint64_t steps = 1000, eval_every = 250, checkpoint_every = 0, seed = 0, collapse_steps = 20;
  double lr = 1e-4, eps = 1e-3, weight_decay = 0.0, temperature = 0.05, collapse_tolerance = 2e-3;
  std::string direction = "gaussian", train_only, freeze, tune = "all", lr_scheduler = "constant";
  std::uint64_t warmup_steps = 0;
  int threads = 0;
  bool resume = false, overwrite = false, bf16 = false, batch_invariant = false;
  int lora_rank = 0, prefix_tokens = 0;
  double lora_alpha = 16;
  std::string rounding = "nearest", prefix_file, lora_targets;
  std::string prefix_init = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
  std::string parallel;  ///< "", "data" or "directions" (MPI ranks)
  std::string backend = "eigen";  ///< BERT: eigen (zeroth's forward) or torch (LibTorch)
  std::string hybrid_zo = "^embeddings\\.|^encoder\\.layer\\.[0-2]\\.";  ///< --method hybrid: the ZO tensors
  double clip_grad_norm = 0, lr_zo = 1e-4;
  bool check_finite = false;  ///< lomo, adalomo, hybrid: a checking backward pass before any update
#ifdef ZEROTH_WITH_MPI
  distributed::Communicator* comm = nullptr;  ///< the ranks of --parallel
#endif
  bool root() const noexcept {  // the rank that prints and writes --out (the only one without --parallel)
#ifdef ZEROTH_WITH_MPI
    return !comm || comm->root();
#else
    return true;
#endif
  }
};

std::vector<std::string> split_list(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

// A path the user did not give: a default under ../shared, relative to the current folder. Throws naming the option
// when it does not exist, with that hint.
void require_default(const char* option, const fs::path& path) {
  if (fs::exists(path)) return;
  throw std::invalid_argument(std::string(option) + " '" + path.string() + "' does not exist" +
                              (path.string().rfind("../shared", 0) == 0
                                   ? " (the default paths are relative to the current folder: run from the repository "
                                     "root, or give " + std::string(option) + ")"
                                   : ""));
}

// CLI11 checks with messages a person can read (its own ranges print a 309-digit bound, and it reads "-1" into an
// unsigned option as 2^64 - 1).
const CLI::Validator kWholeNumber(
    [](std::string& s) -> std::string {
      if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) return {};
      return "must be a whole number >= 0 (got '" + s + "')";
    },
    "WHOLE NUMBER >= 0");
CLI::Validator number_above(double low, bool inclusive) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (!s.empty() && *end == '\0' && std::isfinite(v) && (inclusive ? v >= low : v > low)) return {};
        char bound[32];
        std::snprintf(bound, sizeof bound, "%g", low);
        return std::string("must be a finite number ") + (inclusive ? ">= " : "> ") + bound + " (got '" + s + "')";
      },
      std::string("NUMBER ") + (inclusive ? ">= " : "> ") + (low == 0 ? "0" : std::to_string(low)));
}

// Every option that changes the result (a resume must match them all); threads and --out do not.
io::Settings settings_of(const Args& a, const tasks::TaskSpec* spec) {
  io::Settings s;
  s.set("model", a.model).set("task", a.task).set("train", a.train).set("eval", a.eval).set("k", a.k);
  if (spec) s.set("spec", tasks::spec_to_json(*spec).dump());
  if (!a.tokenizer.empty() && !bert::is_model_folder(a.model)) s.set("tokenizer", a.tokenizer);
  s.set("objective", a.objective).set("method", a.method).set("steps", a.steps).set("batch", a.batch);
  s.set("lr", a.lr).set("eps", a.eps).set("weight_decay", a.weight_decay).set("directions", a.directions);
  s.set("direction", a.direction).set("seed", a.seed).set("tune", a.tune).set("train_only", a.train_only);
  s.set("freeze", a.freeze);
  s.set("eval_examples", a.eval_examples).set("temperature", a.temperature).set("max_length", a.max_length);
  s.set("lora_rank", a.lora_rank).set("lora_alpha", a.lora_alpha).set("lora_targets", a.lora_targets);
  s.set("prefix_tokens", a.prefix_tokens).set("prefix_init", a.prefix_init).set("prefix_file", a.prefix_file);
  s.set("bf16", a.bf16).set("rounding", a.rounding).set("collapse_steps", a.collapse_steps);
  s.set("collapse_tolerance", a.collapse_tolerance);
  if (a.batch_invariant) s.set("batch_invariant", true);  // other bits (absent from older runs' settings)
  if (a.lr_scheduler != "constant") s.set("lr_scheduler", a.lr_scheduler);
  if (a.warmup_steps > 0) s.set("warmup_steps", a.warmup_steps);
  if (a.backend != "eigen") s.set("backend", a.backend);
  if (a.method == "hybrid") s.set("hybrid_zo", a.hybrid_zo).set("lr_zo", a.lr_zo);
  if (a.clip_grad_norm > 0) s.set("clip_grad_norm", a.clip_grad_norm);
  if (a.check_finite) s.set("check_finite", true);
  return s;
}

// The task: --task-file, a spec from flags (--train with --template/--labels/...), or a preset.
tasks::TaskSpec task_spec(const Args& a, tasks::ModelKind kind) {
  if (!a.task_file.empty()) return tasks::load_spec_file(a.task_file);
  if (a.format.empty() && a.template_.empty() && a.verbalizers.empty() && a.labels.empty())
    return tasks::preset(a.task, kind);
  tasks::TaskSpec s;
  s.name = "custom";
  s.format = tasks::format_from_string(a.format.empty() ? "tsv" : a.format);
  s.label_field = a.label_field;
  s.labels = split_list(a.labels);
  s.verbalizers = split_list(a.verbalizers);
  s.template_ = a.template_.empty() ? "{text}" : a.template_;
  s.template_b = a.template_b;
  if (s.verbalizers.empty()) s.verbalizers = s.labels;  // the label values themselves as label texts
  std::string error;
  if (!s.is_valid(&error)) throw std::invalid_argument("the task given by flags: " + error);
  return s;
}

// Held-out metrics at every --eval-every steps: printed, appended to eval.jsonl ("step" = steps done), plotted.
template <class Backend>
struct Evaluator {
  Backend& heldout;
  io::RunFolder& run;
  std::uint64_t every;
  const char* metric;
  std::vector<double> steps, loss, accuracy;
  double zero_shot_accuracy = 0;
  double tolerance;          ///< --collapse-tolerance
  std::string equal_scores;  ///< set when the last evaluation found every class scored alike

  double eval_seconds = 0;    ///< spent in held-out evaluations since it was last reset

  void record(std::uint64_t step, double l, double acc, const std::string& detail) {
    steps.push_back(static_cast<double>(step));
    loss.push_back(l);
    accuracy.push_back(acc);
    io::append_jsonl(run.file("eval.jsonl"), nlohmann::json{{"step", step}, {"eval_loss", l}, {"eval_accuracy", acc}});
    io::plot_training_curves(run.file("plot.png"), steps, loss, accuracy, run.settings().find("task")->c_str(),
                             zero_shot_accuracy);
    std::printf("step %llu: held-out loss %.4f, %s\n", static_cast<unsigned long long>(step), l, detail.c_str());
    std::fflush(stdout);
  }
  auto evaluate_and_record(std::uint64_t step) {
    const auto t0 = std::chrono::steady_clock::now();
    auto ev = heldout.evaluate();
    eval_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    record(step, ev.loss, ev.accuracy, describe(ev));
    if constexpr (requires { heldout.classes(); })
      equal_scores = tasks::equal_scores_warning(ev.predictions, ev.loss, static_cast<int>(heldout.classes()),
                                                 tolerance);
    return ev;
  }
  std::string describe(const auto& ev) const {
    if constexpr (requires { heldout.classes(); }) {
      std::vector<int> labels;
      for (std::size_t i = 0; i < ev.examples; ++i) labels.push_back(heldout.label(i));
      return tasks::accuracy_report(labels, ev.predictions, static_cast<int>(heldout.classes())).brief();
    } else {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s %.1f%% (%zu examples)", metric, 100 * ev.accuracy, ev.examples);
      return std::string(buf);
    }
  }
  void on_step(const StepInfo& s) {
    if (every && (s.step + 1) % every == 0) {
      std::fprintf(stderr, "\n");
      evaluate_and_record(s.step + 1);
    }
  }
  // Reloads the evaluations of a resumed run from eval.jsonl (cut back to its checkpoint by RunFolder::resume).
  void reload() {
    std::ifstream in(run.file("eval.jsonl"));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      steps.push_back(j["step"].get<double>());
      loss.push_back(j["eval_loss"].get<double>());
      accuracy.push_back(j["eval_accuracy"].get<double>());
    }
  }
};

// The training objective: the loss (or, --objective accuracy, the error rate) of each step's batch; with --parallel,
// the batch split over the ranks (data) or the step's points shared out (directions). Runs opt.minimize with it.
template <class Opt, class Trainer, class... Callbacks>
Result minimize_with(Opt& opt, const Args& a, Trainer& trainer, BufferStore& store, Callbacks&&... callbacks) {
  auto example_losses = [&](std::span<const std::size_t> batch) {
    if constexpr (BackendWithPredictions<Trainer>)
      if (a.objective == "accuracy") {  // the error rate: piecewise constant in the weights
        const auto pred = trainer.predict(batch);
        std::vector<ExampleLoss> wrong;
        for (std::size_t j = 0; j < batch.size(); ++j) wrong.push_back({pred[j] != trainer.label(batch[j]) ? 1.0 : 0.0});
        return wrong;
      }
    return trainer.example_losses(batch);
  };
  const std::size_t batch = std::min(a.batch, trainer.size());
  auto whole = [&] {
    return Minibatch([=](std::span<const std::size_t> b) { return batch_loss(example_losses(b)); }, trainer.size(),
                     batch, a.seed);
  };
#ifdef ZEROTH_WITH_MPI
  if (a.parallel == "data") {
    distributed::DataParallel f(*a.comm, example_losses, trainer.size(), batch, a.seed);
    return opt.minimize(f, store, callbacks...);
  }
  if (a.parallel == "directions") {
    distributed::DirectionParallel f(*a.comm, whole());
    return opt.minimize(f, store, callbacks...);
  }
#endif
  auto f = whole();
  return opt.minimize(f, store, callbacks...);
}

// A rank other than the root of a --parallel run: the same steps from the same checkpoint, writing nothing.
template <class Opt, class Trainer>
int follow(Opt& opt, const Args& a, Trainer& trainer, BufferStore& store, CollapseOptions collapse) {
#ifdef ZEROTH_WITH_MPI
  const auto step = static_cast<std::uint64_t>(a.comm->max(0));  // the root's, once it has opened --out
  if (step > 0) {
    opt.state() = load_checkpoint(fs::path(a.out) / "checkpoint.bin", store, opt.preconditioner());
    if (opt.state().step != step)
      throw std::runtime_error("rank " + std::to_string(a.comm->rank()) + " read step " +
                               std::to_string(opt.state().step) + " from the checkpoint, the root resumed at " +
                               std::to_string(step));
  }
  const Result r = minimize_with(opt, a, trainer, store, CollapseDetector(collapse));
  return r.ok() ? 0 : r.status == Status::collapsed ? 3 : 1;
#else
  (void)opt, (void)a, (void)trainer, (void)store, (void)collapse;
  return 0;
#endif
}

// The end of a run: the last evaluation, the model, summary.json, and what the user reads; returns the exit status.
template <class Ev, class Save>
int finish_run(io::RunFolder& run, const Args& a, const Result& r, Ev& ev, double before_loss, double before_acc,
               double seconds, std::uint64_t done, const io::Settings& st, const char* metric, Save&& save_model) {
  const double train_ms = r.steps ? 1000 * (seconds - ev.eval_seconds) / static_cast<double>(r.steps) : 0.0;
  if (ev.steps.back() != static_cast<double>(done)) ev.evaluate_and_record(done);
  save_model(run);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double ms = r.steps ? 1000 * seconds / static_cast<double>(r.steps) : 0.0;
  std::printf("after %llu steps: held-out loss %.4f -> %.4f, %s %.1f%% -> %.1f%%; %.1f ms/step, peak RSS %.1f MiB\n",
              static_cast<unsigned long long>(done), before_loss, ev.loss.back(), metric, 100 * before_acc,
              100 * ev.accuracy.back(), ms, static_cast<double>(ru.ru_maxrss) / 1024.0);
  std::vector<std::string> warnings;
  if (r.status == Status::collapsed) warnings.push_back("collapsed: " + r.message);
  if (!ev.equal_scores.empty()) warnings.push_back("held-out after " + std::to_string(done) + " steps: " + ev.equal_scores);
  for (const auto& w : warnings) std::fprintf(stderr, "zeroth-finetune: warning: %s\n", w.c_str());
  nlohmann::ordered_json summary{{"status", r.ok() ? "ok" : to_string(r.status)}, {"message", r.message},
                                 {"warnings", warnings},
                                 {"steps", done}, {"seconds", seconds}, {"ms_per_step", ms},
                                 {"train_ms_per_step", train_ms},
                                 {"before", {{"loss", before_loss}, {"accuracy", before_acc}}},
                                 {"after", {{"loss", ev.loss.back()}, {"accuracy", ev.accuracy.back()}}},
                                 {"peak_rss_mib", static_cast<double>(ru.ru_maxrss) / 1024.0},
                                 {"settings", st.json()}};
#ifdef ZEROTH_WITH_MPI
  if (a.comm) {  // what rank 0 sent, per step of this call (every rank sends about the same)
    const double per = r.steps ? 1.0 / static_cast<double>(r.steps) : 0.0;
    summary["parallel"] = {{"mode", a.parallel}, {"ranks", a.comm->size()},
                           {"bytes_sent_per_step", static_cast<double>(a.comm->bytes_sent()) * per},
                           {"collectives_per_step", static_cast<double>(a.comm->collectives()) * per}};
  }
#endif
  run.write_summary(summary);
  std::string files;
  for (const char* f : {"summary.json", "eval.jsonl", "metrics.jsonl", "plot.png", "trajectory.bin", "checkpoint.bin"})
    if (fs::exists(run.file(f))) files += std::string(files.empty() ? "" : ",") + f;
  std::printf("wrote %s/{%s,...}\n", a.out.c_str(), files.c_str());
  if (!r.ok() && r.status != Status::collapsed)  // a collapse was just said, as a warning
    std::fprintf(stderr, "zeroth-finetune: %s: %s\n", to_string(r.status), r.message.c_str());
  return r.ok() ? 0 : r.status == Status::collapsed ? 3 : 1;
}

// The evaluations a run starts with: a resumed run keeps those its checkpoint covers (one killed before its first
// checkpoint keeps its step-0 evaluation: RunFolder::resume cut eval.jsonl there, and it is not repeated), a new one
// evaluates step 0; then the evaluation lost between a checkpoint at `start` and its own. Returns the held-out loss
// and metric before training; the evaluation time counted from here on is left out of train_ms_per_step.
template <class Ev>
std::pair<double, double> begin_evaluations(const Args& a, io::RunFolder& run, Ev& ev, std::uint64_t start) {
  if (a.resume) ev.reload();
  if (start > 0)
    std::printf("resuming at step %llu (checkpoint of run %s)\n", static_cast<unsigned long long>(start),
                run.run_id().c_str());
  std::pair<double, double> before;
  if (ev.steps.empty() || ev.steps.front() != 0) {
    const auto b = ev.evaluate_and_record(0);
    before = {b.loss, b.accuracy};
  } else {
    before = {ev.loss.front(), ev.accuracy.front()};
  }
  ev.zero_shot_accuracy = before.second;
  if (start > 0 && !run.has_evaluation(start) && a.eval_every && start % a.eval_every == 0)
    ev.evaluate_and_record(start);
  ev.eval_seconds = 0;
  return before;
}

template <class Opt, class Trainer, class Heldout, class Save>
int run_with(Opt& opt, const Args& a, Trainer& trainer, Heldout& heldout, BufferStore& store, const io::Settings& st,
             const char* metric, Save&& save_model) {
  // Collapse: g exactly 0 with a loss that no longer moves, or (cross-entropy over C classes) a loss at ln C.
  CollapseOptions collapse{.steps = a.collapse_steps, .tolerance = a.collapse_tolerance};
  if constexpr (requires { trainer.classes(); })
    if (a.objective == "ce") collapse.chance_loss = std::log(static_cast<double>(trainer.classes()));
  if (!a.root()) return follow(opt, a, trainer, store, collapse);
  const std::vector<io::RunFile> extra = {{"model", "the fine-tuned model folder (Hugging Face layout)"}};
  io::RunFolder run = a.resume ? io::RunFolder::resume(a.out, st, extra) : io::RunFolder::create(a.out, st, a.overwrite, extra);
  opt.state() = run.load_checkpoint(store, opt.preconditioner());
  const std::uint64_t start = opt.state().step;
#ifdef ZEROTH_WITH_MPI
  if (a.comm) a.comm->max(static_cast<std::int64_t>(start));  // the other ranks load the same checkpoint
#endif
  Evaluator<Heldout> ev{heldout, run, a.eval_every, metric, {}, {}, {}, 0, a.collapse_tolerance, {}};
  const auto [before_loss, before_acc] = begin_evaluations(a, run, ev, start);
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t every = a.checkpoint_every ? a.checkpoint_every : (a.eval_every ? a.eval_every : 100);
  Result r = minimize_with(opt, a, trainer, store, ProgressBar(), JsonlLogger(run.file("metrics.jsonl"), start > 0),
                          TrajectoryRecorder(run.file("trajectory.bin")), ev, run.checkpointer(every),
                          CollapseDetector(collapse));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.status != Status::non_finite_loss && r.status != Status::rank_failed) run.save_checkpoint(store, opt.state(), opt.preconditioner());
  return finish_run(run, a, r, ev, before_loss, before_acc, seconds, opt.state().step, st, metric, save_model);
}

// --lr-scheduler and --warmup-steps as the learning rate's multiplier (decaying to 0 at --steps).
Schedule lr_schedule_of(const Args& a) {
  if (a.lr_scheduler == "linear") return Schedule::linear(a.warmup_steps);
  if (a.lr_scheduler == "cosine") return Schedule::cosine(a.warmup_steps);
  return Schedule::constant(a.warmup_steps);
}

// Runs the chosen method over `store`.
template <class... R>
int run_method(const Args& a, R&&... rest) {
  const Options o{.learning_rate = a.lr, .epsilon = a.eps, .weight_decay = a.weight_decay, .max_steps = a.steps,
                  .seed = a.seed, .lr_schedule = lr_schedule_of(a),
                  .rounding = a.rounding == "stochastic" ? Rounding::stochastic : Rounding::nearest,
                  .threads = a.threads, .evaluate_final = false};
  const Direction d = direction_from_string(a.direction);
  const RGE rge({.directions = static_cast<int>(a.directions), .direction = d});
  auto go = [&](auto opt) { return run_with(opt, a, std::forward<R>(rest)...); };
  if (a.method == "zosgd") return go(ZOSGD(o, rge));
  if (a.method == "sign") return go(ZOSGDSign(o, rge));
  if (a.method == "momentum") return go(ZOSGDMomentum(o, rge));
  if (a.method == "adam") return go(ZOAdam(o, rge));
  if (a.method == "factored") return go(ZOFactored(o, rge));
  if (a.method == "fzoo")
    return go(FZOO(o, NormalizedRGE({.directions = static_cast<int>(a.directions), .direction = d})));
  return go(HiZOO(o, ThreePointRGE({.direction = d})));
}

// --train-only / --freeze: BufferStore::train_only over their comma-separated fragments.
void apply_train_only(BufferStore& store, const std::string& train_only, const std::string& freeze) {
  if (store.train_only(split_list(train_only), split_list(freeze)) == 0)
    throw std::invalid_argument("--train-only '" + train_only + "' / --freeze '" + freeze + "' leave nothing to train");
}

// Training and held-out items: --eval, the preset's held-out file, or a seeded stratified split of --train.
std::pair<std::vector<tasks::Item>, std::vector<tasks::Item>> load_items(const Args& a, const tasks::TaskSpec& spec) {
  std::string train = a.train, eval = a.eval;
  const bool preset = a.task_file.empty() && spec.name == a.task;
  if (train.empty()) {
    if (!preset) throw std::invalid_argument("--train is required with a task of your own");
    const auto f = tasks::preset_files(a.task);
    train = f.train.string();
    require_default("--train", train);
    if (eval.empty() && !f.eval.empty()) {
      eval = f.eval.string();
      require_default("--eval", eval);
    }
  }
  if (!eval.empty() && fs::exists(eval) && fs::exists(train) && fs::equivalent(eval, train))
    throw std::invalid_argument("--eval '" + eval + "' is the training file: held-out accuracy would be meaningless");
  tasks::TaskSpec s = spec;
  if (s.labels.empty()) {
    s.labels = tasks::infer_labels(s, train);
    std::printf("labels inferred from %s: %s\n", train.c_str(), tasks::detail::join(s.labels).c_str());
  }
  auto all = tasks::load(s, train);
  std::vector<tasks::Item> heldout;
  if (eval.empty()) {
    auto parts = tasks::stratified_split(all, 0.2, a.seed);
    std::printf("held-out set: a stratified 20%% of %s (seed %llu), %zu examples\n", train.c_str(),
                static_cast<unsigned long long>(a.seed), parts.heldout.size());
    all = std::move(parts.train);
    heldout = std::move(parts.heldout);
  } else {
    heldout = tasks::load(s, eval);
  }
  if (a.eval_examples) heldout.resize(std::min(heldout.size(), a.eval_examples));
  const auto classes = s.num_classes();
  auto shots = a.k ? tasks::sample_k_shot(all, classes, a.k, a.seed).items : all;
  const auto counts = tasks::class_counts(shots, classes);
  if (std::count_if(counts.begin(), counts.end(), [](auto c) { return c > 0; }) < 2) {
    const auto only = std::find_if(counts.begin(), counts.end(), [](auto c) { return c > 0; });
    throw std::invalid_argument(
        "--train '" + train + "': every training example is of " +
        (only == counts.end() ? std::string("no class") : "class '" + s.labels[only - counts.begin()] + "'") +
        " (labels: " + tasks::detail::join(s.labels) + "): a classifier needs examples of at least two classes");
  }
  if (a.k && std::any_of(counts.begin(), counts.end(), [&](auto c) { return c < a.k; })) {
    std::string per_class;
    for (std::size_t c = 0; c < counts.size(); ++c)
      per_class += (c ? ", " : "") + s.labels[c] + ": " + std::to_string(counts[c]);
    std::fprintf(stderr, "zeroth-finetune: warning: --k %zu is more than the training data has of some classes: "
                 "training on %zu examples (%s), not %zu per class%s\n", a.k, shots.size(), per_class.c_str(), a.k,
                 *std::min_element(counts.begin(), counts.end()) * 2 < *std::max_element(counts.begin(), counts.end())
                     ? "; the classes are imbalanced"
                     : "");
  }
  std::printf("task %s: %zu training examples, %zu held-out\n", s.name.c_str(), shots.size(), heldout.size());
  return {std::move(shots), std::move(heldout)};
}

int run_bert(const Args& a) {
  const auto spec = task_spec(a, tasks::ModelKind::encoder);
  auto [train, heldout] = load_items(a, spec);
  bert::Encoder encoder = bert::load_encoder(a.model, a.bf16 ? DType::bf16 : DType::f32);
  const auto tokenizer = tokenizers::BertTokenizer::from_folder(a.model);
  if (a.lora_rank > 0)
    encoder.enable_lora({.rank = a.lora_rank, .alpha = static_cast<float>(a.lora_alpha),
                         .targets = a.lora_targets.empty() ? std::vector<std::string>{"query", "value"}
                                                           : split_list(a.lora_targets),
                         .seed = a.seed});
  const bert::ClassifierOptions o{.temperature = static_cast<float>(a.temperature), .max_length = a.max_length,
                                  .head = a.tune == "head" || a.tune == "all+head"};
  bert::SentenceClassifier trainer(encoder, tokenizer, std::move(train), o),
      evaluator(encoder, tokenizer, std::move(heldout), o);
  evaluator.share_head(trainer);
  BufferStore store;
  for (Block b : a.tune == "head" ? trainer.head_parameters() : trainer.parameters()) store.add_block(std::move(b));
  apply_train_only(store, a.train_only, a.freeze);
  std::printf("model %s: BERT, %d layers, hidden %d; training %zu parameters (%s)\n", a.model.c_str(),
              encoder.config().num_hidden_layers, encoder.config().hidden_size, store.dimension(),
              a.tune == "head"                             ? "the head alone"
              : a.lora_rank > 0                            ? "LoRA adapters"
              : a.train_only.empty() && a.freeze.empty()   ? "the whole encoder"
                                                           : "the tensors --train-only / --freeze select");
  return run_method(a, trainer, evaluator, store, settings_of(a, &spec), "accuracy", [&](io::RunFolder& run) {
    bert::save_model_folder(encoder, a.model, run.file("model"));
  });
}

#ifdef ZEROTH_WITH_TORCH
#include "finetune_torch.hpp"
#endif

int run_llama2c(const Args& a) {
  llama2c::Model model(llama2c::load_checkpoint(a.model, a.bf16 ? DType::bf16 : DType::f32));
  require_default("--tokenizer", a.tokenizer);
  const auto tokenizer = llama2c::Tokenizer::load(a.tokenizer, model.config().vocab_size);
  if (a.lora_rank > 0) {
    llama2c::LoraOptions lo{.rank = a.lora_rank, .alpha = static_cast<float>(a.lora_alpha), .targets = {}, .seed = a.seed};
    for (const auto& t : split_list(a.lora_targets.empty() ? "wq,wv" : a.lora_targets))
      lo.targets.push_back(llama2c::projection_from_string(t));
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
  auto save = [&](io::RunFolder& run) {
    llama2c::save_checkpoint(run.file("model.bin"), model.merged_weights(), llama2c::Format::legacy);
    if (model.prefix_tokens() > 0) llama2c::save_prefix(run.file("prefix.bin"), model.prefix(), model.config());
  };
  auto go = [&](auto& trainer, auto& evaluator, const tasks::TaskSpec* spec, const char* metric) {
    BufferStore store = make_store(trainer);
    apply_train_only(store, a.train_only, a.freeze);
    std::printf("model %s: llama2.c, %zu parameters; training %zu\n", a.model.c_str(),
                static_cast<std::size_t>(model.config().parameter_count()), store.dimension());
    return run_method(a, trainer, evaluator, store, settings_of(a, spec), metric, save);
  };
  if (a.task == "lm") {
    if (a.objective != "ce") throw std::invalid_argument("--objective accuracy needs a classification task");
    const auto files = tasks::preset_files("sst2");
    if (a.train.empty()) require_default("--train", files.train);
    if (a.eval.empty()) require_default("--eval", files.eval);
    const auto texts = data::read_texts(a.train.empty() ? files.train : fs::path(a.train));
    const auto train = a.k ? data::sample_texts(texts, a.k, a.seed) : texts;
    auto eval = data::read_texts(a.eval.empty() ? files.eval : fs::path(a.eval));
    if (a.eval_examples) eval.resize(std::min(eval.size(), a.eval_examples));
    std::printf("task lm: %zu training texts, %zu held-out\n", train.size(), eval.size());
    llama2c::CausalLM trainer(model, tokenizer, train), evaluator(model, tokenizer, eval);
    return go(trainer, evaluator, nullptr, "next-token accuracy");
  }
  const auto spec = task_spec(a, tasks::ModelKind::causal_lm);
  auto [train, heldout] = load_items(a, spec);
  llama2c::PromptClassifier trainer(model, tokenizer, std::move(train)), evaluator(model, tokenizer, std::move(heldout));
  return go(trainer, evaluator, &spec, "accuracy");
}


// Starts MPI for --parallel (the root rank alone prints to stdout); refuses mpirun without --parallel, whose ranks
// would all write --out.
#ifdef ZEROTH_WITH_MPI
struct Ranks {
  std::optional<distributed::Environment> mpi;
  std::optional<distributed::Communicator> comm;
  void start(Args& a, int& argc, char**& argv) {
    if (a.parallel.empty()) {
      if (distributed::Environment::launched_size() > 1)
        throw std::invalid_argument("started by mpirun on " + std::to_string(distributed::Environment::launched_size()) +
                                    " ranks without --parallel data|directions: every rank would write --out");
      return;
    }
    const bool launched = distributed::Environment::launched();  // before MPI_Init, which sets the variables itself
    mpi.emplace(argc, argv);
    comm.emplace();
    a.comm = &*comm;
    if (!comm->root()) std::freopen("/dev/null", "w", stdout);
    std::printf("--parallel %s on %d rank%s%s\n", a.parallel.c_str(), comm->size(), comm->size() > 1 ? "s" : "",
                launched ? "" : " (started without mpirun: mpirun -np N runs N)");
  }
  // An error on one rank: the others may wait in a collective, so end them all (after the message is out).
  void fail(int code) {
    if (comm && comm->size() > 1) comm->abort(code);
  }
};
#else
struct Ranks {
  void start(Args& a, int&, char**&) {
    if (!a.parallel.empty())
      throw std::invalid_argument("--parallel: this zeroth-finetune was built without MPI (configure with "
                                  "-DZEROTH_WITH_MPI=ON, with Debian's libopenmpi-dev installed)");
  }
  void fail(int) {}
};
#endif

int run_main(Args& a, Ranks& ranks, int argc, char** argv) {
  std::string files_help = "\nFiles written to --out (a folder that holds another run is refused):\n";
  for (const auto& f : io::RunFolder::files()) files_help += "  " + std::string(f.name) + ": " + std::string(f.description) + "\n";
  files_help += "  model/: the fine-tuned BERT model folder (config, tokenizer and model.safetensors)\n"
                "Checkpoints are written every --checkpoint-every steps (default: --eval-every) and at the end.\n"
                "Steps are counted as steps done in every file: metrics.jsonl's row \"step\": s is written after the "
                "s-th step (1 for the first), eval.jsonl's after s steps (0 = before training), and a checkpoint at "
                "step s resumes after s steps.\n"
                "Exit status: 0 done, 1 a non-finite loss or a failed rank (--parallel), 2 an error, 3 collapsed (--collapse-steps; summary.json "
                "\"status\": \"collapsed\" and \"warnings\"), 100 and up an option CLI11 rejected.\n"
                "Data formats (--format): tsv / csv with a header naming the columns; label_text: 'label<TAB>text' or "
                "'label text' lines; jsonl: one object per line. Templates name fields as {column}.\n";
  CLI::App app{"Fine-tune a model with zeroth-order optimization (forward passes only)"};
  app.footer(files_help);
  app.set_version_flag("--version", kVersion);
  app.add_option("--model", a.model, "a Hugging Face BERT folder, or a llama2.c checkpoint (.bin)")->capture_default_str();
  app.add_option("--tokenizer", a.tokenizer, "llama2.c tokenizer (a BERT folder brings its own)")->capture_default_str();
  std::vector<std::string> task_names{"lm"};
  for (auto t : tasks::preset_names()) task_names.emplace_back(t);
  app.add_option("--task", a.task, "preset: sst2, rte, cb, boolq, copa, or lm (causal-LM loss, llama2.c)")
      ->capture_default_str()->check(CLI::IsMember(task_names));
  app.add_option("--task-file", a.task_file, "a task spec (JSON: name, format, label_field, labels, verbalizers, "
                                             "template, template_b)")->check(CLI::ExistingFile);
  app.add_option("--format", a.format, "your own task: tsv, csv, label_text or jsonl");
  app.add_option("--labels", a.labels, "your own task: the label values, comma-separated, in class order");
  app.add_option("--verbalizers", a.verbalizers, "your own task: the label text of each class, comma-separated");
  app.add_option("--template", a.template_, "your own task: the input text, e.g. '{sentence}' or '{text} It was'");
  app.add_option("--template-b", a.template_b, "your own task: a second segment (sentence pairs)");
  app.add_option("--label-field", a.label_field, "your own task: the label's column or key")->capture_default_str();
  app.add_option("--train", a.train, "training file (default: the preset's under ../shared/data)");
  app.add_option("--eval", a.eval, "held-out file (default: the preset's; else a stratified 20% of --train)");
  app.add_option("--k", a.k, "training examples per class (0 = all); lm: texts")->capture_default_str()
      ->check(kWholeNumber);
  app.add_option("--method", a.method, "zosgd (MeZO), sign, momentum, adam, factored, hizoo or fzoo; with --backend "
                                       "torch also the first-order lomo, adalomo, hybrid (ZO and LOMO), fo-sgd, fo-adamw")
      ->capture_default_str()->check(CLI::IsMember({"zosgd", "sign", "momentum", "adam", "factored", "hizoo", "fzoo",
                                                    "lomo", "adalomo", "hybrid", "fo-sgd", "fo-adamw"}));
  app.add_option("--backend", a.backend, "BERT: eigen (zeroth's own forward) or torch (LibTorch: back-propagation too)")
      ->capture_default_str()->check(CLI::IsMember({"eigen", "torch"}));
  app.add_option("--hybrid-zo", a.hybrid_zo, "--method hybrid: a regular expression; the tensors whose names match "
                                             "are trained by ZO-SGD, the rest by LOMO")->capture_default_str();
  app.add_option("--lr-zo", a.lr_zo, "--method hybrid: the ZO part's learning rate (--lr is LOMO's)")
      ->capture_default_str()->check(number_above(0, false));
  app.add_flag("--check-finite", a.check_finite, "lomo, adalomo, hybrid: a first backward pass checks every "
                                                 "gradient, so that a NaN or infinity moves nothing (without it, "
                                                 "the tensors updated before it stay updated)");
  app.add_option("--clip-grad-norm", a.clip_grad_norm, "first-order methods: clip the gradient's norm to this (0 = "
                                                       "off; LOMO then takes two backward passes)")
      ->capture_default_str()->check(number_above(0, true));
  app.add_option("--objective", a.objective, "ce (cross-entropy) or accuracy (1 - accuracy: non-differentiable)")
      ->capture_default_str()->check(CLI::IsMember({"ce", "accuracy"}));
  app.add_option("--steps", a.steps, "optimizer steps")->capture_default_str()->check(CLI::Range(1ull, 1ull << 40));
  app.add_option("--lr", a.lr, "learning rate")->capture_default_str()->check(number_above(0, false));
  app.add_option("--eps", a.eps, "perturbation scale")->capture_default_str()->check(number_above(0, false));
  app.add_option("--weight-decay", a.weight_decay, "weight decay (biases and norms exempt)")->capture_default_str()
      ->check(number_above(0, true));
  app.add_option("--lr-scheduler", a.lr_scheduler, "the learning rate over the run: constant, or linear or cosine "
                                                   "decay to 0 at --steps (ZO methods)")
      ->capture_default_str()->check(CLI::IsMember({"constant", "linear", "cosine"}));
  app.add_option("--warmup-steps", a.warmup_steps, "steps of a linear ramp of the learning rate from 0 (ZO methods)")
      ->capture_default_str()->check(kWholeNumber);
  app.add_option("--batch", a.batch, "examples per step")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--directions", a.directions, "directions q per step")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--direction", a.direction, "gaussian, rademacher or sphere")
      ->capture_default_str()->check(CLI::IsMember({"gaussian", "rademacher", "sphere"}));
  app.add_option("--tune", a.tune, "BERT: all (the encoder, label texts moving with it), head (a linear head on "
                                   "frozen embeddings), all+head")
      ->capture_default_str()->check(CLI::IsMember({"all", "head", "all+head"}));
  app.add_option("--temperature", a.temperature, "BERT: logits are cosine similarities over this")
      ->capture_default_str()->check(number_above(0, false));
  app.add_option("--max-length", a.max_length, "BERT: tokens per input")->capture_default_str()->check(CLI::Range(2, 512));
  app.add_option("--train-only", a.train_only, "train only tensors whose name contains one of these (comma-separated), e.g. "
                                               "bias,LayerNorm (BitFit: the biases and norms, the main job's choice)");
  app.add_option("--freeze", a.freeze, "freeze tensors whose name contains one of these (comma-separated), e.g. "
                                       "word_embeddings: a lookup table's rows outside a batch only gather noise");
  app.add_option("--seed", a.seed, "seed of sampling and directions")->capture_default_str()->check(kWholeNumber);
  app.add_option("--threads", a.threads, "OpenMP threads of the sweeps (0 = all); results do not depend on "
                                         "it (--backend eigen; with --backend torch, LibTorch's threads too)")
      ->capture_default_str()->check(CLI::Range(0, 4096));
  app.add_option("--eval-every", a.eval_every, "steps between held-out evaluations (0 = before/after only)")
      ->capture_default_str()->check(kWholeNumber);
  app.add_option("--checkpoint-every", a.checkpoint_every, "steps between checkpoints (0 = as --eval-every)")
      ->check(kWholeNumber);
  app.add_option("--eval-examples", a.eval_examples, "held-out examples evaluated (0 = all)")->capture_default_str()
      ->check(kWholeNumber);
  app.add_option("--collapse-steps", a.collapse_steps, "end the run as collapsed (exit 3) after this many steps in "
                                                       "a row with g exactly 0 and an unchanged loss, or (ce) a loss "
                                                       "within --collapse-tolerance of ln C (equal scores); 0 = never")
      ->capture_default_str()->check(kWholeNumber);
  app.add_option("--collapse-tolerance", a.collapse_tolerance, "how near ln C a loss counts as equal scores (a "
                                                               "warning too when the final held-out loss is there)")
      ->capture_default_str()->check(number_above(0, true));
  app.add_option("--out", a.out, "output folder")->capture_default_str();
  app.add_flag("--resume", a.resume, "continue the run in --out from its last checkpoint");
  app.add_flag("--overwrite", a.overwrite, "replace the run in --out");
  auto* lora = app.add_option("--lora-rank", a.lora_rank, "train rank-R LoRA adapters instead of the weights")
                   ->check(CLI::Range(1, 4096));
  app.add_option("--lora-alpha", a.lora_alpha, "LoRA scale (adapters add alpha/R B A x)")->capture_default_str()
      ->check(number_above(0, false))->needs(lora);
  app.add_option("--lora-targets", a.lora_targets, "LoRA projections: BERT query,key,value,attention.output,"
                                                   "intermediate,output (default query,value); llama2.c wq..w3 "
                                                   "(default wq,wv)")->needs(lora);
  auto* prefix = app.add_option("--prefix-tokens", a.prefix_tokens, "llama2.c prefix tuning: P virtual tokens")
                     ->check(CLI::Range(1, 4096))->excludes(lora);
  app.add_option("--prefix-init", a.prefix_init, "text whose first P tokens initialise the prefix")->needs(prefix);
  app.add_option("--prefix-file", a.prefix_file, "llama2.c prefix tuning from a saved prefix.bin")
      ->excludes(lora)->excludes(prefix)->check(CLI::ExistingFile);
  app.add_flag("--bf16", a.bf16, "hold the weight matrices in bfloat16 (--backend torch: every "
                                              "tensor; the saved model is float32)");
  app.add_option("--rounding", a.rounding, "storing bfloat16 updates: nearest or stochastic")
      ->capture_default_str()->check(CLI::IsMember({"nearest", "stochastic"}));
  app.add_option("--parallel", a.parallel, "run on MPI ranks (mpirun -np N zeroth-finetune ...): data (each batch "
                                          "split over the ranks) or directions (each step's points shared out); "
                                          "the same bits as one process, see the README")
      ->check(CLI::IsMember({"data", "directions"}));
  app.add_flag("--batch-invariant", a.batch_invariant, "one sequence per product in the forward pass, so that an "
                                                     "example's loss does not depend on the rest of its batch: "
                                                     "--parallel data then gives one process's bits (slower)");
  CLI11_PARSE(app, argc, argv);
  ranks.start(a, argc, argv);
  if (a.batch_invariant) transformer::set_group_tokens(0);
  if (a.method == "fzoo" && a.directions < 2)
    throw std::invalid_argument("--method fzoo needs --directions 2 or more (the step is divided by the standard "
                                "deviation of the q losses; FZOO's paper uses 8)");
  if (!fs::exists(a.model))
    throw std::invalid_argument("--model '" + a.model + "' does not exist" +
                                (a.model.rfind("../shared", 0) == 0 ? " (the default paths are relative to the "
                                                                      "current folder: run from the repository root)"
                                                                    : ""));
  const bool first_order = a.method == "lomo" || a.method == "adalomo" || a.method == "hybrid" ||
                           a.method == "fo-sgd" || a.method == "fo-adamw";
  if (a.backend == "torch" || first_order) {
    if (!bert::is_model_folder(a.model))
      throw std::invalid_argument("--backend torch" + std::string(first_order ? " (needed by --method " + a.method + ")" : "") +
                                  " runs BERT model folders; --model '" + a.model + "' is not one");
#ifdef ZEROTH_WITH_TORCH
    if (first_order && a.backend != "torch")
      throw std::invalid_argument("--method " + a.method + " back-propagates: add --backend torch");
    return run_bert_torch(a);
#else
    throw std::invalid_argument(std::string(first_order ? "--method " + a.method : "--backend torch") +
                                ": this zeroth-finetune was built without LibTorch (configure with "
                                "-DZEROTH_WITH_TORCH=ON, with Debian's libtorch-dev installed)");
#endif
  }
  return bert::is_model_folder(a.model) ? run_bert(a) : run_llama2c(a);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  Ranks ranks;
  try {
    return run_main(a, ranks, argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "\nzeroth-finetune: %s\n", e.what());
    ranks.fail(2);
    return 2;
  }
}
