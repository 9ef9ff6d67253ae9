// The plugin's kernel files compiled for the CPU, plus a launcher with
// cuLaunchKernel's calling convention (params[i] points at argument i).
#include "cuda_shim.h"
#include "ops.cu"
#include "frontend.cu"

template <typename... A, std::size_t... I>
static void call_impl(void (*k)(A...), void** p, std::index_sequence<I...>) {
    k(*static_cast<std::remove_reference_t<A>*>(p[I])...);
}
template <typename... A>
static void call(void (*k)(A...), void** p) {
    call_impl(k, p, std::index_sequence_for<A...>{});
}

extern "C" int dfd_cpu_launch(const char* name, unsigned grid, unsigned block, void** params) {
    void (*run)(void**) = nullptr;
#define K(f) if (!std::strcmp(name, #f)) run = [](void** p) { call(f, p); };
    K(reduce_mean_f32) K(binary_f32) K(binary_f16b) K(relu_f32) K(cast_f16_f32)
    K(conv2d_f32) K(conv2d_f16w) K(maxpool2d_f32) K(global_avg_pool_f32)
    K(matmul_f32) K(matmul_f16w)
    K(stft_power) K(filterbank_apply) K(spec_transpose) K(log_normalize)
#undef K
    if (!run) return 1;
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx.x = b;
        for (unsigned t = 0; t < block; ++t) {
            threadIdx.x = t;
            run(params);
        }
    }
    return 0;
}
