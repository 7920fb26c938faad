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
// held-out evaluations every --eval-every steps, metrics.jsonl, checkpoints of `store` with the rule's state
// (libtorch::ArchivedState) every --checkpoint-every steps, so that --resume continues bit for bit, the model and
// summary.json.
template <class Rule, class Trainer, class Heldout, class Save>
int run_first_order(Rule& rule, const std::function<libtorch::FirstOrderStep(std::span<const std::size_t>)>& step_of,
                    const Args& a, Trainer& trainer, Heldout& heldout, BufferStore& store, const io::Settings& st,
                    Save&& save_model) {
  if (a.objective != "ce")
    throw std::invalid_argument("--objective " + a.objective + " has no gradient: --method " + a.method +
                                " back-propagates the cross-entropy (use a ZO method)");
  if (!a.parallel.empty()) throw std::invalid_argument("--parallel is for the ZO methods");
  const std::vector<io::RunFile> extra = {{"model", "the fine-tuned model folder (Hugging Face layout)"}};
  io::RunFolder run = a.resume ? io::RunFolder::resume(a.out, st, extra) : io::RunFolder::create(a.out, st, a.overwrite, extra);
  libtorch::ArchivedState saved;
  const std::uint64_t start = run.load_checkpoint(store, saved).step;
  if (start > 0) libtorch::load_archive_bytes(rule, saved.bytes, "'" + run.file("checkpoint.bin").string() + "'");
  Evaluator<Heldout> ev{heldout, run, a.eval_every, "accuracy", {}, {}, {}, 0, a.collapse_tolerance, {}};
  const auto [before_loss, before_acc] = begin_evaluations(a, run, ev, start);
  Minibatch batches([](std::span<const std::size_t>) { return 0.0; }, trainer.size(), std::min(a.batch, trainer.size()),
                    a.seed);
  ProgressBar bar;
  JsonlLogger log(run.file("metrics.jsonl"), start > 0);
  bar.on_begin({.dimension = store.dimension(), .max_steps = a.steps, .first_step = start, .evaluations_per_step = 1});
  const std::uint64_t every = a.checkpoint_every ? a.checkpoint_every : (a.eval_every ? a.eval_every : 100);
  auto checkpoint = [&](std::uint64_t done) {
    run.save_checkpoint(store, RunState{done, done}, libtorch::ArchivedState::of(rule));
  };
  Result r;
  r.status = Status::max_steps;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t step = start;
  for (; step < a.steps; ++step) {
    batches.next_batch(step);
    const libtorch::FirstOrderStep s = step_of(batches.batch());
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
    if ((step + 1) % every == 0) checkpoint(step + 1);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.ok()) {
    r.message = "reached max_steps = " + std::to_string(a.steps);
    if (run.checkpoint_step() != step) checkpoint(step);
  }
  r.seconds = seconds;
  bar.on_end(r);
  return finish_run(run, a, r, ev, before_loss, before_acc, seconds, step, st, "accuracy", save_model);
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
  if (a.lr_scheduler != "constant" || a.warmup_steps > 0)
    throw std::invalid_argument("--lr-scheduler / --warmup-steps apply to the ZO methods, not --method " + a.method);
  auto closure = [&](std::span<const std::size_t> batch) { return [&trainer, batch] { return trainer.loss_tensor(batch); }; };
  const auto fo = trainer.trainable_parameters();
  if (a.method == "lomo") {
    libtorch::Lomo rule(fo, {.learning_rate = a.lr, .weight_decay = a.weight_decay, .clip_grad_norm = a.clip_grad_norm,
                             .check_finite = a.check_finite},
                       select);
    return run_first_order(rule, [&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator, store,
                           st, save);
  }
  if (a.method == "adalomo") {
    libtorch::AdaLomo rule(fo, {.learning_rate = a.lr, .weight_decay = a.weight_decay, .check_finite = a.check_finite},
                           select);
    return run_first_order(rule, [&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator, store,
                           st, save);
  }
  if (a.method == "fo-sgd") {
    libtorch::FOSGD rule(fo, torch::optim::SGDOptions(a.lr).weight_decay(a.weight_decay), a.clip_grad_norm,
                         select);
    return run_first_order(rule, [&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator, store,
                           st, save);
  }
  if (a.method == "fo-adamw") {
    libtorch::FOAdamW rule(fo, torch::optim::AdamWOptions(a.lr).weight_decay(a.weight_decay), a.clip_grad_norm,
                         select);
    return run_first_order(rule, [&](auto batch) { return rule.step(closure(batch)); }, a, trainer, evaluator, store,
                           st, save);
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
      hybrid,
      [&](auto batch) {
        return hybrid.step(batch).fo;  // a rolled-back ZO part: non_finite_loss, nothing moved
      },
      a, trainer, evaluator, store, st, save);
}
