// zeroth-finetune --backend torch (built where CMake finds LibTorch): the BERT encoder in torch::nn
// (zeroth/backends/torch). The ZO methods run through the same run_method() as the Eigen backend; the first-order
// ones (--method lomo, adalomo, hybrid, fo-sgd, fo-adamw) in a loop of their own that writes the same files.
// Included by finetune.cpp inside its anonymous namespace, after what it uses.

bool is_first_order(const std::string& method) {
  return method == "lomo" || method == "adalomo" || method == "hybrid" || method == "fo-sgd" || method == "fo-adamw";
}

// --train-only / --freeze (name fragments) and --tune as a parameter selection.
libtorch::ParameterSelection selection_of(const Args& a) {
  auto escaped = [](const std::string& fragment) {
    std::string out;
    for (char c : fragment) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
    return out;
  };
  libtorch::ParameterSelection s;
  if (a.tune == "head") s.trainable = {"^(pair_)?head\\.weight$"};
  if (!a.train_only.empty()) {
    if (a.tune == "head") throw std::invalid_argument("--train-only and --tune head: choose one (--backend torch)");
    s.trainable.clear();
    for (const auto& f : split_list(a.train_only)) s.trainable.push_back(escaped(f));
  }
  for (const auto& f : split_list(a.freeze)) s.frozen.push_back(escaped(f));
  return s;
}

// The first-order loop: a step of `rule` per batch (the batches of the ZO runs: the same seed gives the same ones),
// held-out evaluations every --eval-every steps, metrics.jsonl, the model and summary.json. No checkpoint: the
// first-order state is not saved, so --resume is refused.
template <class Trainer, class Heldout, class Save>
int run_first_order(const std::function<libtorch::FirstOrderStep(std::span<const std::size_t>)>& rule, const Args& a,
                    Trainer& trainer, Heldout& heldout, std::size_t dimension, const io::Settings& st,
                    Save&& save_model) {
  if (a.resume)
    throw std::invalid_argument("--resume: --method " + a.method + " keeps no checkpoint (its first-order state is "
                                "not saved yet); start again with --overwrite");
  if (a.objective != "ce")
    throw std::invalid_argument("--objective " + a.objective + " has no gradient: --method " + a.method +
                                " back-propagates the cross-entropy (use a ZO method)");
  if (!a.parallel.empty()) throw std::invalid_argument("--parallel is for the ZO methods");
  const std::vector<io::RunFile> extra = {{"model", "the fine-tuned model folder (Hugging Face layout)"}};
  io::RunFolder run = io::RunFolder::create(a.out, st, a.overwrite, extra);
  Evaluator<Heldout> ev{heldout, run, a.eval_every, "accuracy", {}, {}, {}, 0, a.collapse_tolerance, {}};
  const auto b = ev.evaluate_and_record(0);
  ev.zero_shot_accuracy = b.accuracy;
  ev.eval_seconds = 0;
  Minibatch batches([](std::span<const std::size_t>) { return 0.0; }, trainer.size(), std::min(a.batch, trainer.size()),
                    a.seed);
  ProgressBar bar;
  JsonlLogger log(run.file("metrics.jsonl"));
  bar.on_begin({.dimension = dimension, .max_steps = a.steps, .first_step = 0, .evaluations_per_step = 1});
  Result r;
  r.status = Status::max_steps;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t step = 0; step < a.steps; ++step) {
    batches.next_batch(step);
    const libtorch::FirstOrderStep s = rule(batches.batch());
    StepInfo info;
    info.step = step;
    info.seed = a.seed;
    info.loss = s.loss;
    info.learning_rate = a.lr;
    info.evaluations = step + 1;
    info.rolled_back = !s.ok();
    info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      r.status = s.status;
      r.message = "step " + std::to_string(step) + ": " + to_string(s.status) + " (loss " + std::to_string(s.loss) +
                  "): no parameter moved";
      break;
    }
    ++r.steps;
    bar.on_step(info);
    log.on_step(info);
    ev.on_step(info);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.ok()) r.message = "reached max_steps = " + std::to_string(a.steps);
  r.seconds = seconds;
  bar.on_end(r);
  return finish_run(run, a, r, ev, b.loss, b.accuracy, seconds, r.steps, st, "accuracy", save_model);
}

int run_bert_torch(const Args& a) {
  if (a.lora_rank > 0) throw std::invalid_argument("--lora-rank is for --backend eigen");
  if (a.tune == "all+head") throw std::invalid_argument("--tune all+head is for --backend eigen");
  if (a.method == "adalomo" && a.clip_grad_norm > 0)
    throw std::invalid_argument("--clip-grad-norm is for lomo, fo-sgd, fo-adamw and hybrid (AdaLomo normalises its "
                                "updates instead)");
  if (a.check_finite && a.method != "lomo" && a.method != "adalomo" && a.method != "hybrid")
    throw std::invalid_argument("--check-finite is for lomo, adalomo and hybrid (the others always check)");
  const auto spec = task_spec(a, tasks::ModelKind::encoder);
  auto [train, heldout] = load_items(a, spec);
  if (a.threads > 0) torch::set_num_threads(a.threads);
  libtorch::BertEncoder encoder = libtorch::load_bert(a.model, a.bf16 ? torch::kBFloat16 : torch::kFloat);
  const auto tokenizer = tokenizers::BertTokenizer::from_folder(a.model);
  const bert::ClassifierOptions o{.temperature = static_cast<float>(a.temperature), .max_length = a.max_length,
                                  .head = a.tune == "head"};
  const libtorch::ParameterSelection select = selection_of(a);
  libtorch::SentenceClassifier trainer(encoder, tokenizer, train, o, select), evaluator(encoder, tokenizer, heldout, o, select);
  evaluator.share_head(trainer);
  BufferStore store = make_store(trainer);
  if (store.dimension() == 0)
    throw std::invalid_argument("--train-only '" + a.train_only + "' / --freeze '" + a.freeze + "' leave nothing to train");
  std::printf("model %s: BERT in LibTorch (%d threads), %d layers, hidden %d; training %zu parameters by %s\n",
              a.model.c_str(), torch::get_num_threads(), encoder->config.num_hidden_layers, encoder->config.hidden_size,
              store.dimension(), a.method.c_str());
  auto save = [&](io::RunFolder& run) { libtorch::save_model_folder(encoder, a.model, run.file("model")); };
  const io::Settings st = settings_of(a, &spec);
  if (!is_first_order(a.method)) return run_method(a, trainer, evaluator, store, st, "accuracy", save);
  auto closure = [&](std::span<const std::size_t> batch) { return [&trainer, batch] { return trainer.loss_tensor(batch); }; };
  const auto fo = trainer.trainable_parameters();
  if (a.method == "lomo") {
    libtorch::Lomo rule(fo, {.learning_rate = a.lr, .weight_decay = a.weight_decay, .clip_grad_norm = a.clip_grad_norm,
                             .check_finite = a.check_finite},
                       select);
    return run_first_order([&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator,
                           store.dimension(), st, save);
  }
  if (a.method == "adalomo") {
    libtorch::AdaLomo rule(fo, {.learning_rate = a.lr, .weight_decay = a.weight_decay, .check_finite = a.check_finite},
                           select);
    return run_first_order([&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator,
                           store.dimension(), st, save);
  }
  if (a.method == "fo-sgd") {
    libtorch::FOSGD rule(fo, torch::optim::SGDOptions(a.lr).weight_decay(a.weight_decay), a.clip_grad_norm,
                         select);
    return run_first_order([&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator,
                           store.dimension(), st, save);
  }
  if (a.method == "fo-adamw") {
    libtorch::FOAdamW rule(fo, torch::optim::AdamWOptions(a.lr).weight_decay(a.weight_decay), a.clip_grad_norm,
                         select);
    return run_first_order([&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator,
                           store.dimension(), st, save);
  }
  // hybrid: --hybrid-zo's tensors by ZO-SGD (--lr-zo, --eps, --directions, --direction), the rest by LOMO (--lr).
  libtorch::ParameterSelection zo;
  zo.trainable = {a.hybrid_zo};
  try {
    zo.is_trainable("");
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("--hybrid-zo '" + a.hybrid_zo + "': " + e.what());
  }
  const Options zo_options{.learning_rate = a.lr_zo, .epsilon = a.eps, .weight_decay = a.weight_decay,
                           .max_steps = a.steps, .seed = a.seed,
                           .rounding = a.rounding == "stochastic" ? Rounding::stochastic : Rounding::nearest,
                           .threads = a.threads, .evaluate_final = false};
  const RGE rge({.directions = static_cast<int>(a.directions), .direction = direction_from_string(a.direction)});
  libtorch::Hybrid hybrid(trainer, zo, ZOSGD(zo_options, rge), [&](auto tensors) {
    return libtorch::Lomo(tensors, {.learning_rate = a.lr, .weight_decay = a.weight_decay,
                                    .clip_grad_norm = a.clip_grad_norm, .check_finite = a.check_finite},
                          select);
  });
  std::size_t fo_size = 0;
  for (const auto& [name, t] : hybrid.fo_parameters()) fo_size += static_cast<std::size_t>(t.numel());
  std::printf("hybrid: %zu parameters by ZO-SGD (%s), %zu by LOMO\n", hybrid.zo_store().dimension(),
              a.hybrid_zo.c_str(), fo_size);
  return run_first_order(
      [&](auto batch) {
        return hybrid.step(batch).fo;  // a rolled-back ZO part: non_finite_loss, nothing moved
      },
      a, trainer, evaluator, store.dimension(), st, save);
}
