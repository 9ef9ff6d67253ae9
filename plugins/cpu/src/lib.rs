//! libdfd CPU backend: runs fp32, fp16 and int8 ONNX detectors with tract.
//!
//! Two ways in, same code:
//! - as a plugin (`libdfd_backend_cpu.so`): the host `dlopen`s it and calls
//!   the exported `dfd_backend_v1`, which returns the `BackendTable`;
//! - compiled into the core (static / iOS builds): the core calls [`table()`].
//!
//! The boundary (panic guard, argument checks, handles) is the plugin SDK's
//! (`dfd_backend_abi::sdk`); this crate is its model code: `model` for
//! loading and running, `isa` for the precision order.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod isa;
pub mod model;
mod pool;

use dfd_backend_abi::sdk::{Backend, ModelSpec, Result};
use dfd_backend_abi::SCORE_CPU_PORTABLE;

use crate::model::CpuModel;

/// The tract version this backend is built and measured with (checked
/// against Cargo.lock by a test).
pub const TRACT_VERSION: &str = "0.23.9";

/// The tract backend: always available, the portable reference.
pub struct Cpu;

impl Backend for Cpu {
    type Model = CpuModel;
    const NAME: &'static std::ffi::CStr = c"cpu";
    const VERSION: &'static std::ffi::CStr = dfd_backend_abi::plugin_version!();
    /// The plan keeps an utterance model's time axis symbolic.
    const RUNS_UTTERANCES: bool = true;

    fn probe() -> Result<String> {
        Ok(isa::describe())
    }

    fn score() -> u32 {
        SCORE_CPU_PORTABLE
    }

    fn precision_order() -> String {
        isa::precision_order().to_string()
    }

    fn create(spec: &ModelSpec) -> Result<CpuModel> {
        CpuModel::load(spec)
    }
}

dfd_backend_abi::export_backend!(Cpu);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tract_version_matches_lockfile() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("workspace Cargo.lock");
        let want = format!("name = \"tract-onnx\"\nversion = \"{TRACT_VERSION}\"");
        assert!(
            lock.contains(&want),
            "Cargo.lock has another tract-onnx than {TRACT_VERSION}"
        );
    }
}
