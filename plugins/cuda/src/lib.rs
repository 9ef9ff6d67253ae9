//! libdfd CUDA backend (`libdfd_backend_cuda.so`).
//!
//! Built with cudarc's `dynamic-loading`: the plugin links only libc, and
//! libcuda (the driver) and libnvrtc (the runtime compiler) are dlopen'ed
//! when first needed, so it builds with no CUDA toolkit and loads on any
//! machine. `probe` says plainly why it cannot run (no driver, no device,
//! no NVRTC); see [`probe`].
//!
//! Inference: the ONNX graph is read by [`onnx`] (a minimal protobuf reader),
//! checked against the supported op set and scheduled by [`exec`] into
//! launches of the CUDA C kernels in `kernels/` (embedded with include_str!
//! and compiled by NVRTC at load). [`gpu`] is the CUDA device; [`sim`] the
//! same kernels compiled for the CPU, selected by `DFD_CUDA_SIMULATOR` for
//! tests on machines without a GPU.
//!
//! Front end: the host offers its front end (`set_frontend`); when it is of
//! the covered kind, `run_audio` takes raw windows and runs [`frontend`]'s
//! kernels straight into the network's input buffer.
//!
//! The boundary (panic guard, argument checks, handles, the front-end
//! description) is the plugin SDK's (`dfd_backend_abi::sdk`).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod exec;
pub mod frontend;
pub mod gpu;
pub mod kernels;
pub mod onnx;
pub mod ops;
pub mod probe;
pub mod sim;

use std::sync::Mutex;

use dfd_backend_abi::sdk::{self, Backend, Error, ModelSpec, Result};
use dfd_backend_abi::{FrontendTables, SCORE_ACCELERATOR};

use crate::exec::Device;
use crate::frontend::GpuFrontend;

/// The CUDA backend (or its CPU simulator, for tests).
pub struct Cuda;

/// fp16 keeps weights as f16 in device memory (half the bytes, the same f32
/// arithmetic), so it comes first; int8 graphs are not supported.
const PRECISION_ORDER: &str = "fp16,fp32";

impl Backend for Cuda {
    type Model = CudaModel;
    const NAME: &'static std::ffi::CStr = c"cuda";
    const VERSION: &'static std::ffi::CStr = dfd_backend_abi::plugin_version!();
    const COMPUTES_FRONTEND: bool = true;

    fn probe() -> Result<String> {
        Ok(match sim::configured() {
            Some(path) => format!(
                "cuda: CPU simulator {} ({}; for testing, not a GPU)",
                path.display(),
                sim::ENV
            ),
            None => probe::probe()?.describe(),
        })
    }

    fn score() -> u32 {
        SCORE_ACCELERATOR
    }

    fn precision_order() -> String {
        PRECISION_ORDER.to_string()
    }

    fn create(spec: &ModelSpec) -> Result<CudaModel> {
        // Refuse unsupported graphs before touching the driver, so the
        // message is the same on every machine.
        let graph = exec::checked_graph(spec.onnx)?;
        let mut device = open_device()?;
        let model = exec::Model::load(
            &mut *device,
            graph,
            &spec.item_shape,
            spec.output_len,
            spec.max_batch,
        )?;
        Ok(CudaModel {
            model,
            dev: Mutex::new(Dev {
                device,
                frontend: None,
            }),
        })
    }
}

dfd_backend_abi::export_backend!(Cuda);

/// A model on the GPU. `run` may be called from several threads: launches
/// on the one stream are serialised by the mutex.
pub struct CudaModel {
    model: exec::Model,
    dev: Mutex<Dev>,
}

/// The device and what lives on it besides the network.
struct Dev {
    device: Box<dyn Device + Send>,
    /// Set by `set_frontend`.
    frontend: Option<GpuFrontend>,
}

/// The CUDA device, or the CPU simulator when `DFD_CUDA_SIMULATOR` is set.
fn open_device() -> Result<Box<dyn Device + Send>> {
    Ok(match sim::configured() {
        Some(path) => Box::new(sim::CpuSim::open(&path)?),
        None => Box::new(gpu::Gpu::new()?),
    })
}

impl CudaModel {
    fn dev(&self) -> std::sync::MutexGuard<'_, Dev> {
        self.dev.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl sdk::Model for CudaModel {
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        self.model.run(&mut *self.dev().device, input, batch)
    }

    fn set_frontend(&self, tables: FrontendTables) -> Result<()> {
        let item = self.model.item_len();
        if tables.rows * tables.frames() != item {
            return Err(Error::unsupported(format!(
                "the front end makes {} x {} values per window, the model takes {item}",
                tables.rows,
                tables.frames()
            )));
        }
        let mut dev = self.dev();
        let fe = GpuFrontend::load(&mut *dev.device, tables, self.model.max_batch())?;
        dev.frontend = Some(fe);
        Ok(())
    }

    fn audio_window(&self) -> Option<usize> {
        self.dev()
            .frontend
            .as_ref()
            .map(GpuFrontend::window_samples)
    }

    fn run_audio(&self, audio: &[f32], batch: usize) -> Result<Vec<f32>> {
        let mut dev = self.dev();
        let Dev { device, frontend } = &mut *dev;
        let fe = frontend
            .as_ref()
            .ok_or_else(|| Error::arg("run_audio before an accepted set_frontend"))?;
        device.upload(fe.audio_buf(), &exec::f32_bytes(audio))?;
        for l in fe.launches(batch, self.model.input_buf())? {
            device.launch(l.kernel, l.n, &l.args)?;
        }
        self.model.run_on_device(&mut **device, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfd_backend_abi::BackendStatus;

    #[test]
    fn unsupported_op_is_named() {
        // The int8 variant of the default model uses QLinearConv & co.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/dfd-lfb-cnn/model.int8.onnx"
        ))
        .unwrap();
        let e = ops::check(&onnx::parse(&bytes).unwrap()).unwrap_err();
        assert_eq!(e.status, BackendStatus::UnsupportedOp);
        assert!(
            e.message.contains("operator ") && e.message.contains("not supported"),
            "{}",
            e.message
        );
        let fp32 = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/dfd-lfb-cnn/model.fp32.onnx"
        ))
        .unwrap();
        ops::check(&onnx::parse(&fp32).unwrap()).unwrap();
    }
}
