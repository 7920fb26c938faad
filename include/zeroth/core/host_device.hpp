#pragma once
// ZEROTH_HOST_DEVICE: marks a function nvcc compiles for both host and device; empty for a plain C++ compiler.
#if defined(__CUDACC__)
#define ZEROTH_HOST_DEVICE __host__ __device__
// Templates instantiated with host-only types (xsimd batches) as well as float: no host/device call check.
#define ZEROTH_HD_TEMPLATE _Pragma("nv_exec_check_disable")
#else
#define ZEROTH_HOST_DEVICE
#define ZEROTH_HD_TEMPLATE
#endif
