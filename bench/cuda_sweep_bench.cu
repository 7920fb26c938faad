// Device sweep bandwidth: each fused sweep kernel, and the generic fused update kernel with Adam, as a percentage of
// a measured device-to-device cudaMemcpy at 10^7..10^9 parameters; and a full ZO-SGD step (2 forwards of
// sum (x - 1)^2 by Thrust + 3 sweeps) on device.
//   build-cuda/bench/cuda_sweep_bench [n ...]      (default 1e7 1e8 1e9; sizes that do not fit are skipped)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include <thrust/execution_policy.h>
#include <thrust/transform_reduce.h>

#include <zeroth/cuda/fused.cuh>
#include <zeroth/cuda/run.cuh>
#include <zeroth/estimators/rge.hpp>
#include <zeroth/preconditioners/adam.hpp>

using namespace zeroth;

namespace {

struct Timer {
  cudaEvent_t a, b;
  Timer() {
    ZEROTH_CUDA_CHECK(cudaEventCreate(&a));
    ZEROTH_CUDA_CHECK(cudaEventCreate(&b));
  }
  ~Timer() {
    (void)cudaEventDestroy(a);
    (void)cudaEventDestroy(b);
  }
  /// Median-free simple timing: one warm-up call, then the mean of `reps` calls, in milliseconds.
  template <class F>
  double ms(F&& f, int reps) {
    f();
    ZEROTH_CUDA_CHECK(cudaDeviceSynchronize());
    ZEROTH_CUDA_CHECK(cudaEventRecord(a));
    for (int r = 0; r < reps; ++r) f();
    ZEROTH_CUDA_CHECK(cudaEventRecord(b));
    ZEROTH_CUDA_CHECK(cudaEventSynchronize(b));
    float t = 0;
    ZEROTH_CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    return double(t) / reps;
  }
};

template <class T>
T* device_array(std::size_t n) {
  T* p = nullptr;
  ZEROTH_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
  ZEROTH_CUDA_CHECK(cudaMemset(p, 0, n * sizeof(T)));
  return p;
}

void row(const char* kernel, std::size_t n, double ms, double bytes, double copy_gbs) {
  const double gbs = bytes / ms / 1e6;
  std::printf("| %-34s | %6.0e | %9.3f | %8.1f | %5.1f%% |\n", kernel, double(n), ms, gbs, 100.0 * gbs / copy_gbs);
}

template <class T>
void bench_type(const char* type, std::size_t n, Timer& timer, int reps) {
  T* x = device_array<T>(n);
  T* y = device_array<T>(n);
  const double es = sizeof(T);
  const double copy_ms = timer.ms([&] { ZEROTH_CUDA_CHECK(cudaMemcpy(y, x, n * sizeof(T), cudaMemcpyDeviceToDevice)); },
                                  reps);
  const double copy_gbs = 2 * es * n / copy_ms / 1e6;
  std::printf("| %-34s | %6.0e | %9.3f | %8.1f | 100.0%% |\n", (std::string("cudaMemcpy D2D ") + type).c_str(),
              double(n), copy_ms, copy_gbs);
  ZEROTH_CUDA_CHECK(cudaFree(y));
  gpu::DeviceStore store;
  store.add("x", x, n);
  gpu::DeviceSnapshot snap(store);
  const std::uint64_t seeds[2] = {1, 2};
  const double c1[2] = {1e-3, -1e-3};
  for (Direction kind : {Direction::rademacher, Direction::gaussian}) {
    for (Rounding rounding : {Rounding::nearest, Rounding::stochastic}) {
      if (rounding == Rounding::stochastic && sizeof(T) == 4) continue;
      const std::string tag = std::string(" ") + type + " " + std::string(to_string(kind)) +
                              (rounding == Rounding::stochastic ? " SR" : "");
      SweepPlan p{.kind = kind, .seeds = std::span(seeds).first(1), .coeff = c1, .rounding = rounding,
                  .rounding_seed = 5};
      row(("perturb" + tag).c_str(), n, timer.ms([&] { gpu::sweep_async(store, &snap, p); }, reps), 2 * es * n,
          copy_gbs);
      p.save_snapshot = true;
      row(("perturb+save" + tag).c_str(), n, timer.ms([&] { gpu::sweep_async(store, &snap, p); }, reps),
          3 * es * n, copy_gbs);
      p.save_snapshot = false;
      p.from_snapshot = true;
      p.seeds = seeds;  // two directions: the update of q = 2 from the snapshot
      const double rd = sizeof(T) == 4 ? 2 : 3;  // 16-bit updates also read x (the vanished count)
      row(("update q=2 from snap" + tag).c_str(), n, timer.ms([&] { gpu::sweep_async(store, &snap, p); }, reps),
          rd * es * n, copy_gbs);
    }
  }
  {
    // The fused Adam update (the generic fused kernel): reads and writes x, m and v.
    gpu::DeviceState mv;
    mv.prepare(store, 2);
    const FusedPlan fp{.kind = Direction::gaussian, .seeds = std::span(seeds).first(1), .coeff = c1};
    const auto adam = Adam::element<float>({}, 1e-3, 0.0, 1);
    row((std::string("fused Adam update ") + type + " gaussian").c_str(), n,
        timer.ms([&] { gpu::fused_sweep(store, nullptr, fp, mv, adam); }, reps), (2 * es + 16) * n, copy_gbs);
  }
  if constexpr (std::is_same_v<T, float>) {
    // A full ZO-SGD step with the default inverse rollback: 2 evaluations of a device objective, 3 sweeps.
    gpu::Run<RGE> run(store, {.learning_rate = 1e-6, .epsilon = 1e-3}, RGE());
    auto objective = [&] {
      return thrust::transform_reduce(
          thrust::cuda::par.on(run.stream()), x, x + n,
          [] __device__(float v) -> double { return double(v - 1.0f) * double(v - 1.0f); }, 0.0, thrust::plus<double>());
    };
    const double step_ms = timer.ms([&] { run.take_step(objective); }, reps);
    const double obj_ms = timer.ms([&] { objective(); }, reps);
    std::printf("| %-34s | %6.0e | %9.3f | sweeps %.3f ms = %.2fx one copy's time |\n", "ZO-SGD step f32 gaussian",
                double(n), step_ms, step_ms - 2 * obj_ms, (step_ms - 2 * obj_ms) / copy_ms);
  }
  ZEROTH_CUDA_CHECK(cudaFree(x));
}

}  // namespace

int main(int argc, char** argv) {
  if (const std::string why = gpu::no_device_reason(); !why.empty()) {
    std::printf("no CUDA device: %s\n", why.c_str());
    return 0;
  }
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(static_cast<std::size_t>(std::atof(argv[i])));
  if (sizes.empty()) sizes = {10000000, 100000000, 1000000000};
  cudaDeviceProp prop{};
  ZEROTH_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d, %.0f GiB)\n\n", prop.name, prop.major, prop.minor,
              prop.totalGlobalMem / 1073741824.0);
  std::printf("| %-34s | %6s | %9s | %8s | %6s |\n|---|---|---|---|---|\n", "kernel", "n", "ms", "GB/s", "% copy");
  Timer timer;
  for (std::size_t n : sizes) {
    std::size_t free_b = 0, total_b = 0;
    ZEROTH_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (3 * 4 * n + (std::size_t{1} << 30) > free_b) {
      std::printf("| skipped n = %.0e: needs %.1f GiB |\n", double(n), 3.0 * 4 * n / 1073741824.0);
      continue;
    }
    const int reps = n >= 1000000000 ? 5 : n >= 100000000 ? 10 : 50;
    bench_type<float>("f32", n, timer, reps);
    bench_type<bfloat16>("bf16", n, timer, reps);
  }
}
