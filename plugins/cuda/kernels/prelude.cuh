// Prepended by the plugin to every kernel file before NVRTC compiles it.
// Kept free of CUDA headers so that libnvrtc alone suffices at run time
// (no cuda_fp16.h on disk needed): f16 is stored as its 16 raw bits and
// widened with one PTX instruction.
typedef unsigned short dfd_half;
__device__ __forceinline__ float dfd_h2f(dfd_half h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
#define DFD_GLOBAL_TID (blockIdx.x * blockDim.x + threadIdx.x)
#define DFD_STRIDE (blockDim.x * gridDim.x)
