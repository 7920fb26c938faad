// Prints a hash of the final parameter bits, loss and counts of 21 runs (Eigen and BufferStore paths, float, double and
// bfloat16 with stochastic rounding, q > 1, sphere and Rademacher directions, every update rule, block-wise, sparse,
// forward-grad), using only the API every commit has: compiled against two commits' headers (bits_vs_commit.sh), the
// outputs must match wherever a change claims to leave unbounded runs bit-identical.
#include <cstdio>
#include <cstring>
#include <vector>
#include <zeroth/zeroth.hpp>
using namespace zeroth;
static std::uint64_t fnv(const void* p, std::size_t n, std::uint64_t h = 1469598103934665603ull) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}
template <class Opt, class V>
void eigen_case(const char* name, Opt opt, V x) {
  auto f = [](const auto& v) { return (((v.array() - 0.5).square()) * 1.5).sum(); };
  Result r = opt.minimize(f, x);
  std::printf("%-22s %016llx loss %.17g evals %llu steps %llu\n", name,
              (unsigned long long)fnv(x.data(), sizeof(x[0]) * x.size()), r.loss, (unsigned long long)r.evaluations,
              (unsigned long long)r.steps);
}
struct Model {
  std::vector<float> a, m;
  std::vector<bfloat16> h;
  BufferStore store;
  Model() : a(70000), m(64 * 48), h(5000) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(std::sin(double(i)));
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = float(std::cos(double(i)));
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = from_float<bfloat16>(float(std::sin(0.3 * i)));
    store.add("a", a.data(), a.size());
    store.add("m", m.data(), m.size(), {}, {64, 48});
    store.add("h", h.data(), h.size(), {.decay = false});
  }
  double loss() const {
    double s = 0;
    for (float v : a) s += double(v - 0.3f) * (v - 0.3f);
    for (float v : m) s += 2.0 * v * v;
    for (auto v : h) s += double(to_float(v)) * to_float(v);
    return s;
  }
  std::uint64_t hash() const {
    return fnv(h.data(), h.size() * 2, fnv(m.data(), m.size() * 4, fnv(a.data(), a.size() * 4)));
  }
};
template <class Opt>
void store_case(const char* name, Opt opt) {
  Model md;
  Result r = opt.minimize([&] { return md.loss(); }, md.store);
  std::printf("%-22s %016llx loss %.17g evals %llu steps %llu\n", name, (unsigned long long)md.hash(), r.loss,
              (unsigned long long)r.evaluations, (unsigned long long)r.steps);
}
int main() {
  Options o{.learning_rate = 1e-2, .epsilon = 1e-3, .weight_decay = 0.01, .max_steps = 60, .seed = 17};
  Eigen::VectorXf xf = Eigen::VectorXf::Constant(1000, 0.1f);
  Eigen::VectorXd xd = Eigen::VectorXd::Constant(1000, 0.1);
  eigen_case("sgd f", ZOSGD(o), xf);
  eigen_case("sgd d", ZOSGD(o), xd);
  eigen_case("sgd q3 f", ZOSGD(o, RGE({.directions = 3})), xf);
  eigen_case("sgd sphere f", ZOSGD(o, RGE({.direction = Direction::sphere})), xf);
  eigen_case("sgd rad 1side d", ZOSGD(o, RGE({.directions = 2, .direction = Direction::rademacher, .one_sided = true})),
             xd);
  eigen_case("sign f", ZOSGDSign(o), xf);
  eigen_case("mmt d", ZOSGDMomentum(o), xd);
  eigen_case("adam f", ZOAdam(o, RGE({.directions = 2})), xf);
  eigen_case("cons f", ZOSGDCons(o), xf);
  eigen_case("cons q2 d", ZOSGDCons(o, RGE({.directions = 2})), xd);
  eigen_case("hizoo f", HiZOO(o, {}, DiagonalHessian({.alpha = 1e-3})), xf);
  eigen_case("factored d", ZOFactored(o), xd);
  eigen_case("fwdgrad d", ForwardGradSGD(o), xd);
  Options s = o;
  s.rollback = Rollback::snapshot;
  s.rounding = Rounding::stochastic;
  s.max_steps = 20;
  store_case("store sgd", ZOSGD(s));
  store_case("store adam", ZOAdam(s));
  store_case("store hizoo", HiZOO(s));
  store_case("store factored", ZOFactored(s));
  store_case("store cons", ZOSGDCons(s));
  store_case("store blockwise", ZOSGDBlockwise(s, BlockwiseRGE({.per_step = 2})));
  store_case("store sparse", ZOSGDRandomSparse(s, Sparse<RGE, RandomMask>(RandomMask({.ratio = 0.3}))));
  store_case("store mmt inverse", ZOSGDMomentum(o));
}
