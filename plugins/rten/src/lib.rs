//! libdfd compact CPU backend on RTen (`libdfd_backend_rten.so`).
//!
//! tract, the default CPU backend, costs 24-31 MB of stripped plugin, most
//! of it tract's operators instantiated for every data type; a phone app
//! cannot ship that. RTen reads the same ONNX files at tract's speed on the
//! detectors from a plugin of about 5 MB (numbers in the README). It has no
//! QOperator int8 kernels (`QLinearConv`), so int8 packages are refused at
//! load with `UnsupportedOp` and `auto` never picks them here. The boundary
//! is the plugin SDK's (`dfd_backend_abi::sdk`); [`model`] is the model code.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod model;

use dfd_backend_abi::sdk::{Backend, ModelSpec, Result};
use dfd_backend_abi::SCORE_CPU_PORTABLE;

use crate::model::RtenModel;

/// The rten version this plugin is built with (pinned in Cargo.toml).
pub const RTEN_VERSION: &str = "0.27.0";

/// Precision variants fastest first: fp16 packages hold f16 weights cast in
/// the graph, so both run the f32 kernels; int8 (QOperator) does not run.
const PRECISION_ORDER: &str = "fp32,fp16";

/// The RTen backend.
pub struct Rten;

impl Backend for Rten {
    type Model = RtenModel;
    const NAME: &'static std::ffi::CStr = c"rten";
    const VERSION: &'static std::ffi::CStr = dfd_backend_abi::plugin_version!();

    fn probe() -> Result<String> {
        Ok(format!(
            "rten {RTEN_VERSION} (ONNX read directly, f32 kernels); order {PRECISION_ORDER}"
        ))
    }

    /// tract's band: a portable CPU runtime. On a tie `auto` takes `cpu`
    /// (ties go by name), which also runs int8 and more operators.
    fn score() -> u32 {
        SCORE_CPU_PORTABLE
    }

    fn precision_order() -> String {
        PRECISION_ORDER.to_string()
    }

    fn create(spec: &ModelSpec) -> Result<RtenModel> {
        RtenModel::load(spec)
    }
}

dfd_backend_abi::export_backend!(Rten);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rten_version_matches_lockfile() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("workspace Cargo.lock");
        let want = format!("name = \"rten\"\nversion = \"{RTEN_VERSION}\"");
        assert!(
            lock.contains(&want),
            "Cargo.lock has another rten than {RTEN_VERSION}"
        );
    }
}
