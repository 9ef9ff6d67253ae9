//! The CUDA C sources, embedded in the plugin and compiled by NVRTC when a
//! model is loaded.

/// Prepended to every file: the f16 helper and launch-index macros.
pub const PRELUDE: &str = include_str!("../kernels/prelude.cuh");
/// Inference ops.
pub const OPS: &str = include_str!("../kernels/ops.cu");
/// Spectral front end.
pub const FRONTEND: &str = include_str!("../kernels/frontend.cu");

/// Every kernel the executors launch, by file.
pub const OPS_KERNELS: &[&str] = &[
    "reduce_mean_f32",
    "binary_f32",
    "binary_f16b",
    "relu_f32",
    "cast_f16_f32",
    "conv2d_f32",
    "conv2d_f16w",
    "maxpool2d_f32",
    "global_avg_pool_f32",
    "matmul_f32",
    "matmul_f16w",
];
pub const FRONTEND_KERNELS: &[&str] = &[
    "stft_power",
    "filterbank_apply",
    "spec_transpose",
    "log_normalize",
];

/// The one translation unit NVRTC compiles: prelude, ops, front end.
pub fn source() -> String {
    format!("{PRELUDE}\n{OPS}\n{FRONTEND}\n")
}

/// Every kernel name in [`source`].
pub fn all_kernels() -> impl Iterator<Item = &'static str> {
    OPS_KERNELS.iter().chain(FRONTEND_KERNELS).copied()
}

/// Block size of every launch; the grid is capped, kernels grid-stride.
pub const BLOCK: u32 = 256;
pub const MAX_GRID: u32 = 65535;

/// `(grid, block)` for `n` work items.
pub fn launch_dims(n: usize) -> (u32, u32) {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_GRID as usize) as u32;
    (blocks, BLOCK)
}
