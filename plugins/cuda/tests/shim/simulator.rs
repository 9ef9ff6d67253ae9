//! Builds the CPU simulator of the kernels (`kernels_cpu.so`: the kernel
//! files compiled as C++ with `cuda_shim.h`) for `dfd_backend_cuda::sim`.
//! Shared by the plugin's tests and the workspace's (`#[path]` include).

use std::path::{Path, PathBuf};

/// Compiles the simulator of the plugin at `plugin` (its crate directory)
/// into `dir` with g++ (or `$CXX`), warnings as errors; returns its path.
pub fn build(plugin: &Path, dir: &Path) -> PathBuf {
    let so = dir.join("kernels_cpu.so");
    let status = std::process::Command::new(std::env::var("CXX").unwrap_or_else(|_| "g++".into()))
        .args([
            "-std=c++17",
            "-O2",
            "-shared",
            "-fPIC",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
        ])
        .arg(format!("-I{}", plugin.join("kernels").display()))
        .arg("-o")
        .arg(&so)
        .arg(plugin.join("tests/shim/kernels_cpu.cpp"))
        .status()
        .expect("g++ is needed for the CPU verification of the CUDA kernels");
    assert!(status.success(), "g++ failed on the kernels");
    so
}
