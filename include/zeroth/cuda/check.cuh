#pragma once
// Checked CUDA calls: every runtime call goes through ZEROTH_CUDA_CHECK, and a failure throws zeroth::gpu::Error
// naming the call, the file, the line and CUDA's own description. The namespace is zeroth::gpu, not zeroth::cuda:
// nvcc's generated stubs name CCCL's ::cuda unqualified, which `using namespace zeroth;` would make ambiguous.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace zeroth::gpu {

/// A failed CUDA call; what() names the call, where it was made and cudaGetErrorString of the code.
class Error : public std::runtime_error {
 public:
  Error(cudaError_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

/// The message of a failed call:
/// "zeroth: CUDA call 'cudaMalloc(&p, n)' failed at file.cu:12: cudaErrorMemoryAllocation (out of memory)".
inline std::string error_message(cudaError_t code, const char* call, const char* file, int line) {
  return std::string("zeroth: CUDA call '") + call + "' failed at " + file + ":" + std::to_string(line) + ": " +
         cudaGetErrorName(code) + " (" + cudaGetErrorString(code) + ")";
}

/// Throws Error when `code` is not cudaSuccess. Use the macro, which fills in the call text, file and line.
inline void check(cudaError_t code, const char* call, const char* file, int line) {
  if (code != cudaSuccess) throw Error(code, error_message(code, call, file, line));
}

/// Why CUDA tests and programs cannot run here ("" when a device is usable): no driver, no device, or a device older
/// than sm_90, the oldest architecture zeroth's kernels are built for (as SASS and as PTX).
inline std::string no_device_reason() {
  int n = 0;
  if (cudaError_t e = cudaGetDeviceCount(&n); e != cudaSuccess) {
    (void)cudaGetLastError();  // clear it: nothing else happened
    return std::string("cudaGetDeviceCount returned ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  }
  if (n == 0) return "cudaGetDeviceCount found 0 devices";
  int device = 0, major = 0, minor = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess)
    return "cannot query the compute capability of device 0";
  if (major < 9)
    return "device " + std::to_string(device) + " is sm_" + std::to_string(major) + std::to_string(minor) +
           "; zeroth's CUDA kernels need sm_90 or newer";
  return {};
}

}  // namespace zeroth::gpu

/// Checks a CUDA runtime call: ZEROTH_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice));
#define ZEROTH_CUDA_CHECK(call) ::zeroth::gpu::check((call), #call, __FILE__, __LINE__)

/// Checks the launch just made (configuration errors) without synchronising: ZEROTH_CUDA_CHECK_LAUNCH("sweep_kernel");
#define ZEROTH_CUDA_CHECK_LAUNCH(kernel) \
  ::zeroth::gpu::check(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)
