// Lets the CUDA C kernels of plugins/cuda/kernels compile as plain C++ for
// the CPU verification: a launch runs every (block, thread) of the grid in
// turn on one CPU thread. Valid because no kernel uses shared memory,
// __syncthreads, warp intrinsics or atomics (the compile fails if one does:
// those names are left undefined here). f16 -> f32 is done in software.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <type_traits>

struct dfd_dim3 { unsigned x = 1, y = 1, z = 1; };
// Per thread: two streams may launch kernels on the simulator at once.
static thread_local dfd_dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline

using std::sqrt;
typedef unsigned short dfd_half;
inline float dfd_h2f(dfd_half h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do { mant <<= 1; ++e; } while (!(mant & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | ((mant & 0x3ff) << 13);
        }
    } else {
        bits = sign | (uint32_t)(exp - 15 + 127) << 23 | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
#define DFD_GLOBAL_TID (blockIdx.x * blockDim.x + threadIdx.x)
#define DFD_STRIDE (blockDim.x * gridDim.x)
