#!/usr/bin/env bash
# On an H100/H200 machine with the CUDA toolkit, from the repository root: build and print the device sweep table.
cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DZEROTH_WITH_CUDA=ON -DZEROTH_BUILD_BENCHMARKS=ON -DZEROTH_BUILD_TESTS=OFF -DZEROTH_BUILD_EXAMPLES=OFF -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc && cmake --build build-cuda -j --target cuda_sweep_bench && build-cuda/bench/cuda_sweep_bench "$@"
