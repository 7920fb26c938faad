// The LibTorch backend: blocks over a module's own tensors (names, flags, dtypes, errors), every ZO method through
// the host sweeps, LOMO against plain SGD bit for bit (clipping, weight decay, loss scaling, bfloat16), the fused
// backward pass's one-gradient bound, AdaLomo against a direct float64 implementation of its equations, non-finite
// losses and gradients, a TorchScript file, and the torch::nn BERT encoder against the Eigen one on the real model.
// LibTorch first: its logging header defines CHECK(condition), which Catch's CHECK must replace.
#include <zeroth/backends/torch.hpp>
#undef CHECK
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <numeric>

#include <zeroth/backends/bert.hpp>
#include <zeroth/tasks/presets.hpp>
#include <zeroth/tasks/sampling.hpp>
#include <zeroth/zeroth.hpp>

using namespace zeroth;
namespace lt = zeroth::libtorch;
namespace fs = std::filesystem;

namespace {

const fs::path kModel = fs::path(ZEROTH_SHARED_DIR) / "models/all-MiniLM-L6-v2";

// A two-layer classifier on a fixed random data set (128 examples, 8 features, 3 classes).
struct NetImpl : torch::nn::Module {
  explicit NetImpl(torch::ScalarType dtype = torch::kFloat)
      : fc1(register_module("fc1", torch::nn::Linear(8, 16))), fc2(register_module("fc2", torch::nn::Linear(16, 3))) {
    torch::manual_seed(0);
    torch::NoGradGuard g;
    for (auto& p : parameters()) p.uniform_(-0.5, 0.5);
    x = torch::randn({128, 8});
    y = torch::randint(0, 3, {128}, torch::kLong);
    to(dtype);
    x = x.to(dtype);
  }
  torch::Tensor loss(std::span<const std::size_t> batch) {
    std::vector<std::int64_t> idx(batch.begin(), batch.end());
    const auto i = torch::tensor(idx, torch::kLong);
    const auto logits = fc2(torch::tanh(fc1(x.index_select(0, i))));
    const auto wide = logits.scalar_type() == torch::kDouble ? logits : logits.to(torch::kFloat);  // 16-bit: in float
    return torch::nn::functional::cross_entropy(wide, y.index_select(0, i));
  }
  torch::nn::Linear fc1, fc2;
  torch::Tensor x, y;
};
TORCH_MODULE(Net);

// k examples per class of SST-2's training file (seed 5).
std::vector<tasks::Item> sst2_items(std::size_t k) {
  return tasks::sample_k_shot(tasks::load(tasks::preset("sst2", tasks::ModelKind::encoder),
                                          fs::path(ZEROTH_SHARED_DIR) / "data/sst2/train.tsv"),
                              2, k, 5)
      .items;
}

std::vector<std::size_t> range(std::size_t a, std::size_t b) {
  std::vector<std::size_t> v(b - a);
  std::iota(v.begin(), v.end(), a);
  return v;
}

std::vector<torch::Tensor> copies(const std::vector<lt::NamedTensor>& ps) {
  std::vector<torch::Tensor> out;
  for (const auto& p : ps) out.push_back(p.second.detach().clone());
  return out;
}
bool same_bits(const std::vector<lt::NamedTensor>& a, const std::vector<lt::NamedTensor>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i].second, b[i].second)) return false;
  return true;
}
bool unchanged(const std::vector<lt::NamedTensor>& a, const std::vector<torch::Tensor>& before) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i].second, before[i])) return false;
  return true;
}

// fc1.bias frozen (a helper: g++ 12 fails on this designated initializer inside a lambda).
lt::ParameterSelection fc1_bias_frozen() {
  lt::ParameterSelection s;
  s.frozen = {"^fc1\\.bias$"};
  return s;
}

lt::ModuleBackend backend_of(Net net, lt::ParameterSelection s = {}) {
  return lt::ModuleBackend(net.ptr(), [net](std::span<const std::size_t> b) mutable { return net->loss(b); }, s);
}

}  // namespace

TEST_CASE("torch: blocks are the module's own tensors, flagged by name patterns", "[torch]") {
  Net net;
  auto model = backend_of(net, fc1_bias_frozen());
  const auto blocks = model.parameters();
  REQUIRE(blocks.size() == 4);
  CHECK(blocks[0].name == "fc1.weight");
  CHECK(blocks[0].data == net->fc1->weight.data_ptr());
  CHECK(blocks[0].shape == std::vector<std::size_t>{16, 8});
  CHECK(blocks[0].flags.trainable);
  CHECK(blocks[0].flags.decay);
  CHECK(!blocks[1].flags.trainable);  // frozen by pattern
  CHECK(!blocks[3].flags.decay);      // a bias
  CHECK(!net->fc1->bias.requires_grad());
  CHECK(net->fc2->bias.requires_grad());
  CHECK(model.trainable_parameters().size() == 3);
  // bfloat16 and float16 tensors are blocks of their dtype.
  Net b16(torch::kBFloat16);
  CHECK(backend_of(b16).parameters()[0].dtype == DType::bf16);
  Net f16(torch::kHalf);
  CHECK(backend_of(f16).parameters()[0].dtype == DType::f16);
  // What cannot be a block is named.
  CHECK_THROWS_WITH(lt::blocks_of({{"w", torch::zeros({4, 4}).t()}}), Catch::Contains("'w' is not contiguous"));
  CHECK_THROWS_WITH(lt::blocks_of({{"i", torch::zeros({4}, torch::kLong)}}), Catch::Contains("'i' is Long"));
  CHECK_THROWS_WITH(backend_of(net, {.trainable = {"("}}), Catch::Contains("pattern '(' is not a regular expression"));
}

TEST_CASE("torch: every ZO method runs on the module through the host sweeps", "[torch][zo]") {
  auto run = [](auto opt) {
    Net net;
    auto model = backend_of(net, fc1_bias_frozen());
    const torch::Tensor frozen = net->fc1->bias.detach().clone();
    const auto all = range(0, 128);
    const double before = model.loss(all);
    BufferStore store = make_store(model);
    BackendObjective objective(model, 128, 32, 0);
    const Result r = opt.minimize(objective, store);
    CHECK(r.ok());
    CHECK(torch::equal(net->fc1->bias, frozen));  // a frozen tensor is never touched
    return std::pair{before, model.loss(all)};
  };
  const auto [b0, sgd] = run(ZOSGD({.learning_rate = 0.01, .epsilon = 1e-3, .max_steps = 300, .seed = 1}));
  const auto [b1, adam] = run(ZOAdam({.learning_rate = 0.01, .epsilon = 1e-3, .max_steps = 300, .seed = 1}));
  const auto [b2, fac] = run(ZOFactored({.learning_rate = 0.01, .epsilon = 1e-3, .max_steps = 300, .seed = 1}));
  INFO("loss " << b0 << " -> ZO-SGD " << sgd << ", ZO-Adam " << adam << ", ZO-Factored " << fac);
  CHECK(sgd < b0 - 0.05);
  CHECK(adam < b1 - 0.05);
  CHECK(fac < b2 - 0.05);
  // The same run twice: the same loss, bit for bit.
  CHECK(run(ZOSGD({.learning_rate = 0.01, .epsilon = 1e-3, .max_steps = 300, .seed = 1})).second == sgd);
}

TEST_CASE("torch: LOMO gives plain SGD's bits, and holds one gradient at a time", "[torch][lomo]") {
  struct Case {
    const char* name;
    lt::LomoOptions options;
  };
  const Case cases[] = {{"plain", {.learning_rate = 0.1}},
                        {"weight decay", {.learning_rate = 0.1, .weight_decay = 0.01}},
                        {"clipped norm", {.learning_rate = 0.1, .clip_grad_norm = 0.5}},
                        {"clipped values", {.learning_rate = 0.1, .clip_grad_value = 0.05}},
                        {"loss scale 1024", {.learning_rate = 0.1, .loss_scale = 1024}}};
  for (const auto& c : cases) {
    INFO(c.name);
    Net a, b;
    auto ma = backend_of(a), mb = backend_of(b);
    lt::Lomo lomo(ma.trainable_parameters(), c.options);
    auto params = mb.trainable_parameters();
    std::vector<torch::Tensor> ps, weights, biases;  // biases exempt from decay, as Lomo's default decay rule
    for (auto& p : params) {
      ps.push_back(p.second);
      (p.first.ends_with("bias") ? biases : weights).push_back(p.second);
    }
    const auto sgd_options = torch::optim::SGDOptions(c.options.learning_rate).weight_decay(c.options.weight_decay);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(weights, std::make_unique<torch::optim::SGDOptions>(sgd_options));
    groups.emplace_back(biases, std::make_unique<torch::optim::SGDOptions>(
                                    torch::optim::SGDOptions(c.options.learning_rate).weight_decay(0)));
    torch::optim::SGD sgd(std::move(groups), sgd_options);
    double norm = 0;
    for (int step = 0; step < 5; ++step) {
      const auto batch = range(static_cast<std::size_t>(step) * 16, static_cast<std::size_t>(step) * 16 + 32);
      const auto s = lomo.step([&] { return ma.loss_tensor(batch); });
      REQUIRE(s.ok());
      sgd.zero_grad();
      mb.loss_tensor(batch).backward();
      if (c.options.clip_grad_value > 0)
        for (auto& p : ps) p.mutable_grad() = p.grad().clamp(-c.options.clip_grad_value, c.options.clip_grad_value);
      if (c.options.clip_grad_norm > 0) {  // torch's clip_grad_norm_, the per-tensor norms summed in order
        double sq = 0;
        for (auto& p : ps) sq += std::pow(p.grad().norm(2).item<double>(), 2);
        norm = std::sqrt(sq);
        CHECK(s.grad_norm == Approx(norm).epsilon(1e-12));
        const double coef = std::min(1.0, c.options.clip_grad_norm / (norm + 1e-6));
        if (coef != 1)
          for (auto& p : ps) p.mutable_grad() = p.grad() * coef;
      }
      sgd.step();
      CHECK(same_bits(ma.trainable_parameters(), mb.trainable_parameters()));
    }
    if (c.options.clip_grad_norm > 0) CHECK(norm > c.options.clip_grad_norm);  // the clipping did act
  }
  SECTION("bfloat16 weights") {
    Net a(torch::kBFloat16), b(torch::kBFloat16);
    auto ma = backend_of(a), mb = backend_of(b);
    lt::Lomo lomo(ma.trainable_parameters(), {.learning_rate = 0.1});
    std::vector<torch::Tensor> ps;
    for (auto& p : mb.trainable_parameters()) ps.push_back(p.second);
    torch::optim::SGD sgd(ps, torch::optim::SGDOptions(0.1));
    const auto before = copies(ma.trainable_parameters());
    for (int step = 0; step < 3; ++step) {
      REQUIRE(lomo.step([&] { return ma.loss_tensor(range(0, 64)); }).ok());
      sgd.zero_grad();
      mb.loss_tensor(range(0, 64)).backward();
      sgd.step();
    }
    CHECK(same_bits(ma.trainable_parameters(), mb.trainable_parameters()));
    CHECK(!unchanged(ma.trainable_parameters(), before));
  }
  SECTION("at most the gradient being consumed exists") {
    Net a;
    auto m = backend_of(a);
    auto params = m.trainable_parameters();
    lt::FusedBackward fused(params);
    std::size_t visits = 0, most = 0;
    fused.run(m.loss_tensor(range(0, 32)), [&](std::size_t, const torch::Tensor& g) {
      ++visits;
      std::size_t alive = 0;
      for (const auto& p : params) alive += p.second.grad().defined();
      most = std::max(most, alive);
      CHECK(g.defined());
    });
    CHECK(visits == params.size());
    CHECK(most == 0);  // the visited gradient was already released from .grad; none other is stored
    for (const auto& p : params) CHECK(!p.second.grad().defined());
  }
}

TEST_CASE("torch: a non-finite loss or gradient moves nothing and says so", "[torch][lomo]") {
  Net a;
  auto m = backend_of(a);
  const auto before = copies(m.trainable_parameters());
  lt::Lomo lomo(m.trainable_parameters(), {.learning_rate = 0.1, .check_finite = true});
  auto s = lomo.step([&] { return m.loss_tensor(range(0, 8)) * std::numeric_limits<double>::quiet_NaN(); });
  CHECK(s.status == Status::non_finite_loss);
  // sqrt at 0 has an infinite derivative: a finite loss (0) with an infinite gradient.
  s = lomo.step([&] { return torch::sqrt((a->fc2->weight - a->fc2->weight.detach()).abs()).sum(); });
  CHECK(s.loss == 0);
  CHECK(s.status == Status::non_finite_gradient);
  CHECK(unchanged(m.trainable_parameters(), before));
  lt::AdaLomo ada(m.trainable_parameters(), {.check_finite = true});
  CHECK(ada.step([&] { return torch::sqrt((a->fc2->weight - a->fc2->weight.detach()).abs()).sum(); }).status ==
        Status::non_finite_gradient);
  CHECK(unchanged(m.trainable_parameters(), before));
  CHECK(ada.steps() == 0);
  // Dynamic loss scaling: an overflow halves the scale and skips the step.
  lt::Lomo scaled(m.trainable_parameters(), {.learning_rate = 0.1, .loss_scale = 65536, .dynamic_loss_scale = true});
  s = scaled.step([&] { return torch::sqrt((a->fc2->weight - a->fc2->weight.detach()).abs()).sum(); });
  CHECK(s.ok());
  CHECK(s.skipped);
  CHECK(scaled.loss_scale() == 32768);
  CHECK(unchanged(m.trainable_parameters(), before));
  CHECK_THROWS_WITH(lt::Lomo(m.trainable_parameters(), {.learning_rate = -1}),
                    Catch::Contains("LomoOptions::learning_rate must be finite and >= 0"));
}

TEST_CASE("torch: AdaLomo follows its equations, written out directly in float64", "[torch][adalomo]") {
  Net a, b;
  auto ma = backend_of(a), mb = backend_of(b);
  const lt::AdaLomoOptions o{.learning_rate = 0.01, .weight_decay = 0.1};
  lt::AdaLomo ada(ma.trainable_parameters(), o);
  // The direct implementation: full gradients by backward(), then the paper's update per tensor.
  auto ps = mb.trainable_parameters();
  std::vector<torch::Tensor> x, r, c;
  for (auto& p : ps) {
    x.push_back(p.second.detach().to(torch::kDouble));
    const auto m = p.second.dim() >= 2 ? p.second.view({-1, p.second.size(-1)}) : p.second.view({1, -1});
    r.push_back(torch::zeros({m.size(0)}, torch::kDouble));
    c.push_back(torch::zeros({m.size(1)}, torch::kDouble));
  }
  for (int t = 1; t <= 6; ++t) {
    const auto batch = range(static_cast<std::size_t>(t) * 8, static_cast<std::size_t>(t) * 8 + 64);
    REQUIRE(ada.step([&] { return ma.loss_tensor(batch); }).ok());
    for (auto& p : ps) p.second.mutable_grad().reset();
    mb.loss_tensor(batch).backward();
    const double beta = 1 - std::pow(double(t), -0.8);
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const auto shape = r[i].size(0), cols = c[i].size(0);
      const auto g = ps[i].second.grad().to(torch::kDouble).view({shape, cols});
      const auto X = x[i].view({shape, cols});
      const auto g2 = g * g + 1e-30;
      r[i] = beta * r[i] + (1 - beta) * g2.mean(1);
      c[i] = beta * c[i] + (1 - beta) * g2.mean(0);
      const auto v = torch::outer(r[i], c[i]) / r[i].mean();
      auto U = g / v.sqrt();
      U = U / std::max(1.0, U.pow(2).mean().sqrt().item<double>());
      const double rms = X.pow(2).mean().sqrt().item<double>();
      const bool decay = ps[i].first.find("bias") == std::string::npos;
      const auto next = (decay ? 1 - o.learning_rate * o.weight_decay : 1.0) * X - o.learning_rate * std::max(1e-3, rms) * U;
      x[i] = next.view_as(x[i]);
      torch::NoGradGuard g_;
      ps[i].second.copy_(x[i]);  // the direct run's parameters, for its next gradient
    }
  }
  const auto got = ma.trainable_parameters();
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO(got[i].first);
    const double err = (got[i].second.to(torch::kDouble) - x[i]).abs().max().item<double>();
    const double scale = x[i].abs().max().item<double>();
    CHECK(err <= 1e-5 * scale);
  }
  CHECK(ada.steps() == 6);
  CHECK(ada.rows(0).size() == 16);
  CHECK(ada.cols(0).size() == 8);
}

TEST_CASE("torch: the torch::nn BERT encoder gives the Eigen encoder's embeddings and losses", "[torch][bert]") {
  bert::Encoder eigen = bert::load_encoder(kModel);
  lt::BertEncoder torch_enc = lt::load_bert(kModel);
  const auto tokenizer = tokenizers::BertTokenizer::from_folder(kModel);
  const auto items = sst2_items(8);
  bert::SentenceClassifier a(eigen, tokenizer, items);
  lt::SentenceClassifier b(torch_enc, tokenizer, items);
  const auto all = range(0, items.size());
  // Embeddings of ragged inputs (the padded torch batch against the packed Eigen one).
  const auto ea = a.embeddings(all);
  torch::NoGradGuard no_grad;
  std::vector<bert::Sequence> seqs;
  for (std::size_t i : all) seqs.push_back(b.task().examples[i].input);
  const torch::Tensor eb = torch_enc->embed(seqs);
  const auto mapped = torch::from_blob(const_cast<float*>(ea.data()), {ea.rows(), ea.cols()}, torch::kFloat);
  const double emb_err = (eb - mapped).abs().max().item<double>();
  INFO("max |embedding difference| " << emb_err);
  CHECK(emb_err < 1e-5);
  const auto la = a.example_losses(all), lb = b.example_losses(all);
  double loss_err = 0;
  for (std::size_t i = 0; i < la.size(); ++i) loss_err = std::max(loss_err, std::abs(la[i].sum - lb[i].sum));
  INFO("max |loss difference| " << loss_err);
  CHECK(loss_err < 1e-5);
  CHECK(a.predict(all) == b.predict(all));
  // The same parameters, under the same names, as blocks.
  const auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pb.size() == pa.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    CHECK(pb[i].name == pa[i].name);
    CHECK(pb[i].size == pa[i].size);
    CHECK(pb[i].flags.trainable == pa[i].flags.trainable);
    CHECK(pb[i].flags.decay == pa[i].flags.decay);
  }
}

TEST_CASE("torch: a TorchScript file is a backend over its own tensors", "[torch][script]") {
  const fs::path file = fs::path(ZEROTH_SOURCE_DIR) / "tests/fixtures/torch/mlp.pt";  // scripts/gen_torchscript_fixture.py
  torch::jit::Module script = lt::load_script(file);
  const torch::Tensor x = torch::arange(8, torch::kFloat).view({2, 4}) / 8;
  {
    torch::NoGradGuard g;
    const torch::Tensor y = script.forward({x}).toTensor();
    // The outputs the script printed when it wrote the file.
    CHECK(y[0][0].item<double>() == Approx(0.3215201795101166).margin(1e-6));
    CHECK(y[1][1].item<double>() == Approx(-0.5853267312049866).margin(1e-6));
  }
  // Regress the outputs onto a target by ZO-SGD through the script's parameters.
  const torch::Tensor target = torch::tensor({{1.0f, -1.0f}, {-1.0f, 1.0f}});
  lt::ModuleBackend model(script, [script, x, target](std::span<const std::size_t>) mutable {
    return (script.forward({x}).toTensor() - target).pow(2).mean();
  });
  const auto blocks = model.parameters();
  REQUIRE(blocks.size() == 4);
  CHECK(blocks[0].name == "fc1.weight");
  CHECK(blocks[0].shape == std::vector<std::size_t>({8, 4}));
  const std::size_t none[] = {0};
  const double before = model.loss(none);
  BufferStore store = make_store(model);
  const Result r = ZOSGD({.learning_rate = 0.05, .epsilon = 1e-3, .max_steps = 200, .seed = 3})
                       .minimize([&] { return model.loss(none); }, store);
  CHECK(r.ok());
  INFO("loss " << before << " -> " << model.loss(none));
  CHECK(model.loss(none) < 0.5 * before);
  CHECK_THROWS_WITH(lt::load_script(file.parent_path() / "missing.pt"), Catch::Contains("no such TorchScript file"));
  CHECK_THROWS_WITH(lt::load_script(fs::path(ZEROTH_SHARED_DIR) / "models/all-MiniLM-L6-v2/config.json"),
                    Catch::Contains("is not a TorchScript file"));
}

TEST_CASE("torch: hybrid ZO/FO splits the step: ZO tensors get no gradient, FO tensors are never perturbed",
          "[torch][hybrid]") {
  Net a, b;
  bool perturbed_fo = false, poison = false;
  torch::Tensor fo_at_start;
  lt::ModuleBackend ma(a.ptr(), [&, a](std::span<const std::size_t> batch) mutable {
    if (!torch::GradMode::is_enabled() && fo_at_start.defined())  // a ZO evaluation
      perturbed_fo = perturbed_fo || !torch::equal(a->fc2->weight, fo_at_start);
    return poison ? a->loss(batch) * std::numeric_limits<double>::quiet_NaN() : a->loss(batch);
  });
  lt::ParameterSelection zo;
  zo.trainable = {"^fc1\\."};
  const Options o{.learning_rate = 0.02, .epsilon = 1e-3, .seed = 4};
  lt::Hybrid hybrid(ma, zo, ZOSGD(o), [](auto fo) { return lt::Lomo(fo, {.learning_rate = 0.1}); });
  REQUIRE(hybrid.fo_parameters().size() == 2);
  CHECK(hybrid.fo_parameters()[0].first == "fc2.weight");
  CHECK(!a->fc1->weight.requires_grad());
  CHECK(a->fc2->weight.requires_grad());
  // The reference: the same ZO run over fc1 alone, then LOMO over fc2 alone, on a twin.
  auto mb = backend_of(b);
  BufferStore zo_store;
  for (Block blk : mb.parameters()) {
    blk.flags.trainable = blk.name.rfind("fc1.", 0) == 0;
    zo_store.add_block(blk);
  }
  ZOSGD ref_opt(o);
  auto ref_run = ref_opt.run(zo_store);
  b->fc1->weight.requires_grad_(false);
  b->fc1->bias.requires_grad_(false);
  lt::Lomo ref_lomo({{"fc2.weight", b->fc2->weight}, {"fc2.bias", b->fc2->bias}}, {.learning_rate = 0.1});
  const double before = ma.loss(range(0, 128));
  for (int step = 0; step < 40; ++step) {
    const auto batch = range(static_cast<std::size_t>(step % 4) * 32, static_cast<std::size_t>(step % 4) * 32 + 32);
    fo_at_start = a->fc2->weight.detach().clone();
    const auto s = hybrid.step(batch);
    REQUIRE(s.ok());
    REQUIRE(s.zo);
    CHECK(!a->fc1->weight.grad().defined());  // ZO tensors never receive a gradient
    std::optional<StepInfo> info;
    while (!info) {
      ref_run.ask();
      info = ref_run.tell(mb.loss(batch));
    }
    REQUIRE(ref_lomo.step([&] { return mb.loss_tensor(batch); }).ok());
  }
  CHECK(!perturbed_fo);
  CHECK(same_bits(lt::named_parameters(*a), lt::named_parameters(*b)));
  // A non-finite loss in the ZO part: the step is rolled back and the FO part not taken.
  const auto kept = copies(lt::named_parameters(*a));
  poison = true;
  const auto bad = hybrid.step(range(0, 32));
  poison = false;
  CHECK(!bad.ok());
  CHECK(bad.fo.status == Status::non_finite_loss);
  CHECK(unchanged(lt::named_parameters(*a), kept));
  const double after = ma.loss(range(0, 128));
  INFO("loss " << before << " -> " << after);
  CHECK(after < before - 0.05);
  lt::ParameterSelection everything;
  CHECK_THROWS_WITH(lt::Hybrid(ma, everything, ZOSGD(o), [](auto fo) { return lt::Lomo(fo); }),
                    Catch::Contains("nothing is left to FO"));
}

namespace {
// The Net's loss written over any scalar (zeroth's dual numbers), from its float parameters and a tangent.
template <class S>
S generic_loss(Net& net, const std::vector<torch::Tensor>& tangent, std::span<const std::size_t> batch) {
  auto at = [&](int p, std::int64_t i) {
    const auto& t = lt::named_parameters(*net)[static_cast<std::size_t>(p)].second;
    return S(t.view(-1)[i].item<double>(), tangent[static_cast<std::size_t>(p)].view(-1)[i].item<double>());
  };
  S total(0.0);
  for (std::size_t n : batch) {
    std::vector<S> h(16, S(0.0)), z(3, S(0.0));
    for (std::int64_t j = 0; j < 16; ++j) {
      h[j] = at(1, j);
      for (std::int64_t i = 0; i < 8; ++i)
        h[j] = h[j] + at(0, j * 8 + i) * S(net->x[static_cast<std::int64_t>(n)][i].item<double>(), 0.0);
      h[j] = tanh(h[j]);
    }
    for (std::int64_t c = 0; c < 3; ++c) {
      z[c] = at(3, c);
      for (std::int64_t j = 0; j < 16; ++j) z[c] = z[c] + at(2, c * 16 + j) * h[j];
    }
    S sum(0.0);
    for (const S& v : z) sum = sum + exp(v);
    total = total + log(sum) - z[static_cast<std::size_t>(net->y[static_cast<std::int64_t>(n)].item<std::int64_t>())];
  }
  return total / S(double(batch.size()), 0.0);
}
}  // namespace

TEST_CASE("torch: forward-AD JVPs match finite differences and zeroth's dual numbers", "[torch][jvp]") {
  Net f32;
  Net f64(torch::kDouble);
  auto m32 = backend_of(f32), m64 = backend_of(f64);
  torch::manual_seed(7);
  std::vector<torch::Tensor> tangent;
  for (const auto& p : m32.named_parameters()) tangent.push_back(torch::randn(p.second.sizes()));
  const auto batch = range(0, 32);
  const auto d32 = lt::jvp(m32.named_parameters(), tangent, [&] { return m32.loss_tensor(batch); });
  const auto d64 = lt::jvp(m64.named_parameters(), tangent, [&] { return m64.loss_tensor(batch); });
  CHECK(d32.loss == Approx(m32.loss(batch)).epsilon(1e-12));
  // The tangents are gone afterwards: a plain forward pass again.
  CHECK(!f32->fc1->weight._fw_grad(0).defined());
  // Central differences in float64.
  const double h = 1e-5;
  auto shifted = [&](double s) {
    torch::NoGradGuard g;
    const auto ps = m64.named_parameters();
    std::vector<torch::Tensor> keep;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      keep.push_back(ps[i].second.clone());
      ps[i].second.add_(tangent[i].to(torch::kDouble), s);
    }
    const double v = m64.loss(batch);
    for (std::size_t i = 0; i < ps.size(); ++i) ps[i].second.copy_(keep[i]);
    return v;
  };
  const double fd = (shifted(h) - shifted(-h)) / (2 * h);
  const Dual<double> dual = generic_loss<Dual<double>>(f32, tangent, batch);
  INFO("jvp float32 " << d32.jvp << ", float64 " << d64.jvp << ", finite differences " << fd << ", duals "
                      << dual.d);
  CHECK(d64.jvp == Approx(fd).epsilon(1e-7));
  CHECK(d32.jvp == Approx(dual.d).epsilon(1e-5));
  CHECK(dual.v == Approx(d32.loss).epsilon(1e-6));
  // BackendWithJvp: the same through one pointer per block.
  static_assert(BackendWithJvp<lt::ModuleBackend>);
  std::vector<const float*> ptrs;
  for (const auto& t : tangent) ptrs.push_back(t.data_ptr<float>());
  CHECK(m32.jvp(batch, ptrs) == d32.jvp);
  // ForwardGrad steps on the module lower the loss.
  BufferStore store = make_store(m32);
  ForwardGradSGD opt({.learning_rate = 0.05, .seed = 2});
  auto run = opt.run(store);
  const double before = m32.loss(range(0, 128));
  for (int s = 0; s < 150; ++s) {
    const auto b = range(static_cast<std::size_t>(s % 4) * 32, static_cast<std::size_t>(s % 4) * 32 + 32);
    REQUIRE(!lt::forward_grad_step(run, m32.named_parameters(), [&] { return m32.loss_tensor(b); }).rolled_back);
  }
  INFO("ForwardGrad: loss " << before << " -> " << m32.loss(range(0, 128)));
  CHECK(m32.loss(range(0, 128)) < before - 0.05);
}

TEST_CASE("torch: the FO baselines: FO-SGD is LOMO's update with all gradients held; FO-AdamW trains",
          "[torch][backprop]") {
  Net a, b, c;
  auto ma = backend_of(a), mb = backend_of(b), mc = backend_of(c);
  // Both with weight decay on the weights only (their default decay rule exempts biases: two parameter groups).
  lt::FOSGD sgd(ma.trainable_parameters(), torch::optim::SGDOptions(0.1).weight_decay(0.05), /*clip_grad_norm=*/0.5);
  lt::Lomo lomo(mb.trainable_parameters(), {.learning_rate = 0.1, .weight_decay = 0.05, .clip_grad_norm = 0.5});
  lt::FOAdamW adamw(mc.trainable_parameters(), torch::optim::AdamWOptions(0.01));
  const double before = mc.loss(range(0, 128));
  for (int step = 0; step < 20; ++step) {
    const auto batch = range(static_cast<std::size_t>(step % 4) * 32, static_cast<std::size_t>(step % 4) * 32 + 32);
    const auto s1 = sgd.step([&] { return ma.loss_tensor(batch); });
    const auto s2 = lomo.step([&] { return mb.loss_tensor(batch); });
    REQUIRE(s1.ok());
    REQUIRE(s2.ok());
    CHECK(s1.grad_norm == Approx(s2.grad_norm).epsilon(1e-12));
    REQUIRE(adamw.step([&] { return mc.loss_tensor(batch); }).ok());
  }
  CHECK(same_bits(ma.trainable_parameters(), mb.trainable_parameters()));
  CHECK(mc.loss(range(0, 128)) < before - 0.05);
  const auto kept = copies(mc.trainable_parameters());
  CHECK(adamw.step([&] { return torch::sqrt((c->fc2->weight - c->fc2->weight.detach()).abs()).sum(); }).status ==
        Status::non_finite_gradient);
  CHECK(unchanged(mc.trainable_parameters(), kept));
}

TEST_CASE("torch: the first-order rules save and load their state: a resumed run continues bit for bit",
          "[torch][checkpoint]") {
  // Three steps, the state archived, the parameters and the archive moved to a second model and rule; three more
  // steps on both must give the same bits.
  auto check = [](const char* name, auto make) {
    INFO(name);
    Net a, b;
    auto ma = backend_of(a), mb = backend_of(b);
    auto ra = make(ma.trainable_parameters());
    auto batch_of = [](int s) { return range(static_cast<std::size_t>(s % 4) * 32, static_cast<std::size_t>(s % 4) * 32 + 32); };
    for (int s = 0; s < 3; ++s) REQUIRE(ra.step([&] { return ma.loss_tensor(batch_of(s)); }).ok());
    const std::string bytes = lt::archive_bytes(ra);
    {
      torch::NoGradGuard g;
      auto pa = ma.trainable_parameters(), pb = mb.trainable_parameters();
      for (std::size_t i = 0; i < pa.size(); ++i) pb[i].second.copy_(pa[i].second);
    }
    auto rb = make(mb.trainable_parameters());
    lt::load_archive_bytes(rb, bytes, "the test's archive");
    if constexpr (requires { ra.loss_scale(); }) CHECK(rb.loss_scale() == ra.loss_scale());
    if constexpr (requires { ra.steps(); }) CHECK(rb.steps() == 3);
    for (int s = 3; s < 6; ++s) {
      REQUIRE(ra.step([&] { return ma.loss_tensor(batch_of(s)); }).ok());
      REQUIRE(rb.step([&] { return mb.loss_tensor(batch_of(s)); }).ok());
    }
    CHECK(same_bits(ma.trainable_parameters(), mb.trainable_parameters()));
    CHECK_THROWS_WITH(lt::load_archive_bytes(rb, "not an archive", "the test's archive"),
                      Catch::Contains("the test's archive: not a LibTorch archive"));
  };
  check("FO-AdamW", [](auto ps) { return lt::FOAdamW(ps, torch::optim::AdamWOptions(0.01)); });
  check("AdaLomo", [](auto ps) { return lt::AdaLomo(ps, {.learning_rate = 0.01}); });
  check("LOMO, dynamic loss scale", [](auto ps) {
    return lt::Lomo(ps, {.learning_rate = 0.1, .loss_scale = 1024, .dynamic_loss_scale = true, .scale_window = 2});
  });
  SECTION("in a zeroth checkpoint: read back whole, a truncated file refused") {
    Net a;
    auto ma = backend_of(a);
    BufferStore store = make_store(ma);
    lt::FOAdamW adamw(ma.trainable_parameters(), torch::optim::AdamWOptions(0.01));
    REQUIRE(adamw.step([&] { return ma.loss_tensor(range(0, 32)); }).ok());
    const auto path = std::filesystem::temp_directory_path() / "zeroth_torch_checkpoint.bin";
    save_checkpoint(path, store, RunState{1, 1}, lt::ArchivedState::of(adamw));
    lt::ArchivedState loaded;
    CHECK(load_checkpoint(path, store, loaded).step == 1);
    CHECK(loaded.bytes == lt::archive_bytes(adamw));
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
    lt::ArchivedState none;
    CHECK_THROWS_WITH(load_checkpoint(path, store, none), Catch::Contains("zeroth_torch_checkpoint.bin"));
    CHECK(none.bytes.empty());
    std::filesystem::remove(path);
  }
  SECTION("a state of other shapes is refused, changing nothing") {
    Net a;
    auto ma = backend_of(a);
    auto ps = ma.trainable_parameters();
    lt::AdaLomo full(ps, {.learning_rate = 0.01});
    REQUIRE(full.step([&] { return ma.loss_tensor(range(0, 32)); }).ok());
    lt::AdaLomo part({ps[0], ps[1], ps[3], ps[2]}, {.learning_rate = 0.01});  // fc2's weight and bias swapped
    CHECK_THROWS_WITH(lt::load_archive_bytes(part, lt::archive_bytes(full), "x"),
                      Catch::Contains("'adalomo.r.2' has 3 Float elements, the rule needs 1 Float"));
    CHECK(part.steps() == 0);
  }
  SECTION("hybrid: the ZO part's step count and rule state travel with the FO rule's state") {
    const Options o{.learning_rate = 0.01, .epsilon = 1e-3, .seed = 3};
    auto check_hybrid = [&](const char* name, auto zo_optimizer) {
      INFO(name);
      Net a, b;
      auto ma = backend_of(a), mb = backend_of(b);
      const lt::ParameterSelection zo{.trainable = {"^fc1\\."}};
      auto lomo = [](auto fo) { return lt::Lomo(fo, {.learning_rate = 0.1}); };
      lt::Hybrid ha(ma, zo, zo_optimizer, lomo);
      for (int s = 0; s < 3; ++s) REQUIRE(ha.step(range(0, 32)).fo.ok());
      const std::string bytes = lt::archive_bytes(ha);
      {
        torch::NoGradGuard g;
        auto pa = ma.trainable_parameters(), pb = mb.trainable_parameters();
        for (std::size_t i = 0; i < pa.size(); ++i) pb[i].second.copy_(pa[i].second);
      }
      lt::Hybrid hb(mb, zo, zo_optimizer, lomo);
      lt::load_archive_bytes(hb, bytes, "x");
      CHECK(hb.zo_optimizer().state().step == 3);
      for (int s = 3; s < 6; ++s) {
        REQUIRE(ha.step(range(32, 64)).fo.ok());
        REQUIRE(hb.step(range(32, 64)).fo.ok());
      }
      CHECK(same_bits(ma.trainable_parameters(), mb.trainable_parameters()));
    };
    check_hybrid("ZO-SGD", ZOSGD(o));
    check_hybrid("ZO-Adam (its moments in the archive)", ZOAdam(o));
  }
}

TEST_CASE("torch: forward AD through the real encoder agrees with finite differences", "[torch][jvp][bert]") {
  lt::BertEncoder enc = lt::load_bert(kModel);
  const auto tokenizer = tokenizers::BertTokenizer::from_folder(kModel);
  const auto items = sst2_items(4);
  lt::SentenceClassifier clf(enc, tokenizer, items);
  const auto batch = range(0, items.size());
  // A tangent on the last layer's tensors (embeddings, attention, GELU, LayerNorm and the pooling all carry it).
  torch::manual_seed(3);
  const auto& params = clf.named_parameters();
  std::vector<torch::Tensor> tangent(params.size());
  std::size_t on = 0;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].first.rfind("encoder.layer.5.", 0) == 0 || params[i].first.rfind("embeddings.LayerNorm", 0) == 0) {
      tangent[i] = torch::randn(params[i].second.sizes()) * 1e-2;
      ++on;
    }
  REQUIRE(on == 18);
  const auto d = lt::jvp(params, tangent, [&] { return clf.loss_tensor(batch); });
  auto shifted = [&](double s) {
    torch::NoGradGuard g;
    std::vector<torch::Tensor> keep(params.size());
    for (std::size_t i = 0; i < params.size(); ++i)
      if (tangent[i].defined()) {
        keep[i] = params[i].second.clone();
        params[i].second.add_(tangent[i], s);
      }
    const double v = clf.loss(batch);
    for (std::size_t i = 0; i < params.size(); ++i)
      if (tangent[i].defined()) params[i].second.copy_(keep[i]);
    return v;
  };
  const double fd = (shifted(0.05) - shifted(-0.05)) / 0.1, fd2 = (shifted(0.2) - shifted(-0.2)) / 0.4;
  INFO("loss " << d.loss << ", jvp " << d.jvp << ", central differences " << fd << " (h 0.05), " << fd2 << " (h 0.2)");
  CHECK(d.loss == Approx(clf.loss(batch)).epsilon(1e-6));
  CHECK(d.jvp == Approx(fd).epsilon(5e-3));
  CHECK(std::abs(d.jvp) > 1e-4);
}
