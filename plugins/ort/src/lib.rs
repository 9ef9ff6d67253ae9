//! libdfd backend on onnxruntime (`libdfd_backend_ort.so`).
//!
//! onnxruntime is what desktop and server users already ship, and its CPU
//! kernels (MLAS) are several times faster than tract's on the detectors.
//! It is loaded at run time ([`runtime`]): libdfd neither links nor ships
//! it, and the probe says plainly when it is missing or too old. The
//! boundary is the plugin SDK's (`dfd_backend_abi::sdk`); [`model`] is the
//! model code. fp32, fp16 (f16 weights cast in the graph, folded at load)
//! and int8 (QOperator / QDQ) models all run.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod model;
pub mod runtime;

use dfd_backend_abi::sdk::{Backend, ModelSpec, Result};
use dfd_backend_abi::SCORE_CPU_TUNED;

use crate::model::OrtModel;

/// The `ort` crate version this plugin is built with.
pub const ORT_CRATE_VERSION: &str = "2.0.0-rc.15";

/// Precision variants fastest first. fp16 packages carry f16 weights cast
/// to f32 in the graph, which onnxruntime folds at load (same kernels as
/// fp32); int8 runs integer kernels that measured slower than fp32 on AVX2
/// without VNNI (see the README).
const PRECISION_ORDER: &str = "fp32,fp16,int8";

/// The onnxruntime backend.
pub struct Ort;

impl Backend for Ort {
    type Model = OrtModel;
    const NAME: &'static std::ffi::CStr = c"ort";
    const VERSION: &'static std::ffi::CStr = dfd_backend_abi::plugin_version!();

    fn probe() -> Result<String> {
        let lib = &runtime::runtime()?.library;
        Ok(format!(
            "onnxruntime {} at {} (found via {}; C API {} through ort {ORT_CRATE_VERSION}); order {PRECISION_ORDER}",
            lib.version,
            lib.path.display(),
            lib.source,
            ort::sys::ORT_API_VERSION
        ))
    }

    fn score() -> u32 {
        SCORE_CPU_TUNED
    }

    fn precision_order() -> String {
        PRECISION_ORDER.to_string()
    }

    fn create(spec: &ModelSpec) -> Result<OrtModel> {
        OrtModel::load(spec)
    }
}

dfd_backend_abi::export_backend!(Ort);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ort_crate_version_matches_lockfile() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("workspace Cargo.lock");
        let want = format!("name = \"ort\"\nversion = \"{ORT_CRATE_VERSION}\"");
        assert!(
            lock.contains(&want),
            "Cargo.lock has another ort than {ORT_CRATE_VERSION}"
        );
    }
}
