#pragma once
// The AdaLomo-style factored second moment on the device: zeroth::Factored's equations and bits. Its row and column
// statistics are sums that one thread per row, or per column, computes in element order, as the CPU rule sums them;
// the fused update is the generic fused kernel with an element function that reads its row's and column's moments.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <thrust/device_vector.h>

#include "zeroth/cuda/check.cuh"
#include "zeroth/cuda/fused.cuh"
#include "zeroth/preconditioners/factored.hpp"

namespace zeroth::gpu {

namespace detail {

/// One trainable block as the device Factored sees it: device pointers into the rule's buffers, and the per-step
/// scalars the kernels write.
struct FactoredBlock {
  float* r = nullptr;    ///< row moments (state)
  float* c = nullptr;    ///< column moments (state)
  double* x2 = nullptr;  ///< per row: sum of x0^2 (pass 1)
  double* u2 = nullptr;  ///< per row: sum of U^2 (pass 2)
  std::uint64_t rows = 0, cols = 0;
  double mean_r = 0, step = 0;
};

namespace factored = zeroth::detail::factored;

/// Pass 1 for one row: r[row] <- its moment of g^2 + eps1 over the row, and x2[row] = sum of x0^2.
template <class T, bool Rademacher>
ZEROTH_HOST_DEVICE inline void factored_row(const FusedArgs& a, const Segment& s, const T* x, const T* snap,
                                            const FactoredBlock& b, std::uint64_t row, double eps1, double beta) {
  double sum = 0, x2 = 0;
  for (std::uint64_t col = 0; col < b.cols; ++col) {
    float u, x0;
    fused_element<T, Rademacher>(a, s, row * b.cols + col, x, snap, u, x0);
    sum += factored::square(u, eps1);
    x2 = exact::fma(static_cast<double>(x0), static_cast<double>(x0), x2);
  }
  b.x2[row] = x2;
  b.r[row] = factored::moment(beta, b.r[row], sum, static_cast<double>(b.cols));
}

/// Pass 1 for one column: c[col] <- its moment of g^2 + eps1, summed per row part and then over the parts.
template <class T, bool Rademacher>
ZEROTH_HOST_DEVICE inline void factored_col(const FusedArgs& a, const Segment& s, const T* x, const T* snap,
                                            const FactoredBlock& b, std::uint64_t col, double eps1, double beta) {
  const std::size_t parts = factored::parts_of(b.rows);
  double total = 0;
  for (std::size_t p = 0; p < parts; ++p) {
    double part = 0;
    for (std::size_t row = factored::part_row(b.rows, parts, p); row < factored::part_row(b.rows, parts, p + 1);
         ++row) {
      float u, x0;
      fused_element<T, Rademacher>(a, s, row * b.cols + col, x, snap, u, x0);
      part += factored::square(u, eps1);
    }
    total += part;
  }
  b.c[col] = factored::moment(beta, b.c[col], total, static_cast<double>(b.rows));
}

/// Between the passes, for one block: the mean of the new row moments.
ZEROTH_HOST_DEVICE inline void factored_mean(FactoredBlock& b) {
  double sum = 0;
  for (std::uint64_t k = 0; k < b.rows; ++k) sum += static_cast<double>(b.r[k]);
  b.mean_r = exact::div(sum, static_cast<double>(b.rows));
}

/// Pass 2 for one row: u2[row] = sum of U^2 over the row.
template <class T, bool Rademacher>
ZEROTH_HOST_DEVICE inline void factored_row_u2(const FusedArgs& a, const Segment& s, const T* x, const T* snap,
                                               const FactoredBlock& b, std::uint64_t row) {
  double u2 = 0;
  for (std::uint64_t col = 0; col < b.cols; ++col) {
    float u, x0;
    fused_element<T, Rademacher>(a, s, row * b.cols + col, x, snap, u, x0);
    const double U = factored::preconditioned(b.r[row], b.c[col], b.mean_r, u);
    u2 = exact::fma(U, U, u2);
  }
  b.u2[row] = u2;
}

/// After pass 2, for one block: the step lr max(eps2, RMS(x)) / max(1, RMS(U)).
ZEROTH_HOST_DEVICE inline void factored_step(FactoredBlock& b, double lr, double eps2) {
  double x2 = 0, u2 = 0;
  for (std::uint64_t k = 0; k < b.rows; ++k) x2 += b.x2[k];
  for (std::uint64_t k = 0; k < b.rows; ++k) u2 += b.u2[k];
  b.step = factored::step(lr, x2, u2, static_cast<double>(b.rows * b.cols), eps2);
}

/// Pass 3, per element: x <- shrink x0 - step U.
struct FactoredElement {
  static constexpr bool indexed = true;
  static constexpr unsigned per = 0;
  const FactoredBlock* blocks;
  double shrink;
  ZEROTH_HOST_DEVICE float operator()(std::uint32_t block, std::uint64_t i, bool decay, float x0, float u) const {
    const FactoredBlock& b = blocks[block];
    const double U = factored::preconditioned(b.r[i / b.cols], b.c[i % b.cols], b.mean_r, u);
    return static_cast<float>(factored::update(decay, shrink, b.step, x0, U));
  }
};

/// Which per-line body a factored_lines kernel runs.
enum class FactoredPass { rows, cols, rows_u2 };

/// One thread per row (or column) of one segment's block.
template <class T, bool Rademacher, FactoredPass Pass>
__global__ void factored_lines(FusedArgs a, Segment s, const char* snapshot, FactoredBlock* blocks, double eps1,
                               double beta) {
  const FactoredBlock& b = blocks[s.block];
  const std::uint64_t line = std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (line >= (Pass == FactoredPass::cols ? b.cols : b.rows)) return;
  const T* x = static_cast<const T*>(s.data);
  const T* snap = snapshot ? reinterpret_cast<const T*>(snapshot + s.snapshot_offset) : nullptr;
  if constexpr (Pass == FactoredPass::rows)
    factored_row<T, Rademacher>(a, s, x, snap, b, line, eps1, beta);
  else if constexpr (Pass == FactoredPass::cols)
    factored_col<T, Rademacher>(a, s, x, snap, b, line, eps1, beta);
  else
    factored_row_u2<T, Rademacher>(a, s, x, snap, b, line);
}

/// One thread per block of the store (frozen ones have no rows): the mean of r, or the step.
template <class = void>
__global__ void factored_blocks(FactoredBlock* blocks, std::uint32_t n, bool step, double lr, double eps2) {
  const std::uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n || blocks[k].rows == 0) return;
  if (step)
    factored_step(blocks[k], lr, eps2);
  else
    factored_mean(blocks[k]);
}

}  // namespace detail

/// zeroth::Factored on the device: the same options, equations and bits. State: r and c in float32 (4 (rows + cols)
/// bytes per block) and 16 bytes per row of scratch. Its row and column passes regenerate each element's direction
/// alone (a counter's other three elements are dropped) and take one thread per row or column: a block without a
/// matrix shape is one row, summed by one thread. Faster passes would change the order of the sums and the bits.
class Factored {
 public:
  static constexpr const char* name = zeroth::Factored::name;
  using Options = zeroth::Factored::Options;

  Factored() = default;
  explicit Factored(Options o) : o_(zeroth::Factored(o).options()) {}

  void prepare(const DeviceStore& store) {
    std::vector<detail::FactoredBlock> blocks(store.blocks().size());
    std::size_t floats = 0, rows = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const Block& b = store.blocks()[i];
      if (!b.flags.trainable || b.size == 0) continue;
      const bool matrix = b.shape.size() >= 2 && b.shape.back() > 0 && b.size % b.shape.back() == 0;
      blocks[i].cols = matrix ? b.shape.back() : b.size;
      blocks[i].rows = b.size / blocks[i].cols;
      floats += blocks[i].rows + blocks[i].cols;
      rows += blocks[i].rows;
    }
    if (same_layout(blocks)) return;
    t_ = 0;
    moments_.assign(floats, 0.0f);
    scratch_.assign(2 * rows, 0.0);
    float* f = thrust::raw_pointer_cast(moments_.data());
    double* d = thrust::raw_pointer_cast(scratch_.data());
    for (auto& b : blocks) {
      if (b.rows == 0) continue;
      b.r = f;
      b.c = f + b.rows;
      f += b.rows + b.cols;
      b.x2 = d;
      b.u2 = d + b.rows;
      d += 2 * b.rows;
    }
    host_ = blocks;
    device_ = host_;
  }

  SweepStats update(UpdateContext& c) {
    const FusedPlan p = gradient_plan(c);
    const detail::FusedArgs a = detail::make_fused_args(c.store, p);
    detail::check_snapshot(c.store, c.snapshot, p.from_snapshot);
    ++t_;
    const double beta = 1.0 - std::pow(static_cast<double>(t_), -o_.decay);
    const char* snap = c.snapshot && !c.snapshot->empty() ? c.snapshot->data() : nullptr;
    detail::FactoredBlock* blocks = thrust::raw_pointer_cast(device_.data());
    const bool rademacher = p.kind == Direction::rademacher;
    auto lines = [&]<detail::FactoredPass Pass>() {
      for (const auto& s : c.store.segments()) {
        const std::uint64_t n = Pass == detail::FactoredPass::cols ? host_[s.block].cols : host_[s.block].rows;
        launch_lines<Pass>(c.store.blocks()[s.block].dtype, rademacher, n, c.stream, a, s, snap, blocks, o_.eps1,
                           beta);
      }
    };
    lines.template operator()<detail::FactoredPass::rows>();
    lines.template operator()<detail::FactoredPass::cols>();
    launch_blocks(blocks, false, c.learning_rate, c.stream);
    lines.template operator()<detail::FactoredPass::rows_u2>();
    launch_blocks(blocks, true, c.learning_rate, c.stream);
    return fused_sweep(c.store, c.snapshot, p, nullptr,
                       detail::FactoredElement{blocks, 1.0 - c.learning_rate * c.weight_decay}, c.stream);
  }

  /// Host copies of block b's row and column moments (empty for a frozen block), once `stream`'s work is done.
  std::vector<float> rows(std::size_t b, cudaStream_t stream = nullptr) const {
    return copy(host_.at(b).r, host_.at(b).rows, stream);
  }
  std::vector<float> cols(std::size_t b, cudaStream_t stream = nullptr) const {
    return copy(host_.at(b).c, host_.at(b).cols, stream);
  }
  std::uint64_t updates() const noexcept { return t_; }
  std::size_t state_bytes() const noexcept { return moments_.size() * sizeof(float); }

 private:
  bool same_layout(const std::vector<detail::FactoredBlock>& blocks) const {
    if (blocks.size() != host_.size() || (moments_.empty() && !blocks.empty())) return false;
    for (std::size_t i = 0; i < blocks.size(); ++i)
      if (blocks[i].rows != host_[i].rows || blocks[i].cols != host_[i].cols) return false;
    return true;
  }

  template <detail::FactoredPass Pass, class... A>
  static void launch_lines(DType t, bool rademacher, std::uint64_t n, cudaStream_t stream, A... args) {
    if (n == 0) return;
    const dim3 grid(static_cast<unsigned>((n + 127) / 128)), block(128);
    auto go = [&]<class T>(T*) {
      if (rademacher)
        detail::factored_lines<T, true, Pass><<<grid, block, 0, stream>>>(args...);
      else
        detail::factored_lines<T, false, Pass><<<grid, block, 0, stream>>>(args...);
    };
    if (t == DType::f32)
      go(static_cast<float*>(nullptr));
    else if (t == DType::bf16)
      go(static_cast<bfloat16*>(nullptr));
    else
      go(static_cast<float16*>(nullptr));
    check(cudaGetLastError(), "launch of zeroth::gpu::detail::factored_lines", __FILE__, __LINE__);
  }

  void launch_blocks(detail::FactoredBlock* blocks, bool step, double lr, cudaStream_t stream) const {
    const auto n = static_cast<std::uint32_t>(host_.size());
    if (n == 0) return;
    detail::factored_blocks<><<<(n + 31) / 32, 32, 0, stream>>>(blocks, n, step, lr, o_.eps2);
    check(cudaGetLastError(), "launch of zeroth::gpu::detail::factored_blocks", __FILE__, __LINE__);
  }

  static std::vector<float> copy(const float* p, std::uint64_t n, cudaStream_t stream) {
    std::vector<float> h(n);
    if (n) {
      ZEROTH_CUDA_CHECK(cudaMemcpyAsync(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
      ZEROTH_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return h;
  }

  Options o_{};
  thrust::device_vector<float> moments_;   // r then c of each trainable block
  thrust::device_vector<double> scratch_;  // x2 then u2 of each trainable block
  std::vector<detail::FactoredBlock> host_;
  thrust::device_vector<detail::FactoredBlock> device_;
  std::uint64_t t_ = 0;
};

}  // namespace zeroth::gpu
