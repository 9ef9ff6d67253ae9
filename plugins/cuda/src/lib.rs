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
//! Every `extern "C"` function runs inside [`guard`] (panics become
//! `Internal`, never unwind into the host).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod error;
pub mod exec;
pub mod frontend;
pub mod gpu;
pub mod kernels;
pub mod onnx;
pub mod probe;
pub mod sim;

use std::ffi::{c_char, c_void};
use std::sync::Mutex;

use dfd_backend_abi::{
    write_c_str, BackendStatus, BackendTable, FrontendDesc, ModelDesc, ABI_VERSION,
};

use crate::error::{Error, Result};
use crate::exec::Device;
use crate::frontend::{FrontendTables, GpuFrontend};

/// Largest item rank accepted in `ModelDesc::input_rank`.
pub const MAX_INPUT_RANK: usize = 8;

static TABLE: BackendTable = BackendTable {
    abi_version: ABI_VERSION,
    table_size: std::mem::size_of::<BackendTable>() as u32,
    name: c"cuda".as_ptr(),
    version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char,
    probe: probe_fn,
    precision_order,
    create,
    run,
    destroy,
    set_frontend: Some(set_frontend),
    run_audio: Some(run_audio),
    // Kernels and buffers are planned for one input shape.
    run_frames: None,
};

/// The backend table (for tests and a core that compiles the backend in).
pub fn table() -> &'static BackendTable {
    &TABLE
}

/// The plugin entry point (`dfd_backend_v1`).
///
/// # Safety
/// Always safe to call; `unsafe` only because the ABI type says so.
#[no_mangle]
pub unsafe extern "C" fn dfd_backend_v1() -> *const BackendTable {
    &TABLE
}

/// The panic boundary: runs `f`, maps its error (or a caught panic) to a
/// status and writes the message into the caller's buffer.
///
/// # Safety
/// `err` must be NULL or valid for `err_len` bytes.
pub unsafe fn guard(err: *mut c_char, err_len: usize, f: impl FnOnce() -> Result<()>) -> i32 {
    let result = dfd_backend_abi::panic::catch(f).unwrap_or_else(|panic| {
        Err(Error::internal(format!(
            "panic in the CUDA backend: {panic}"
        )))
    });
    match result {
        Ok(()) => BackendStatus::Ok as i32,
        Err(e) => {
            // SAFETY: forwarded from the caller.
            unsafe { write_c_str(err, err_len, &e.message) };
            e.status as i32
        }
    }
}

unsafe extern "C" fn probe_fn(msg: *mut c_char, msg_len: usize) -> i32 {
    // SAFETY: the host passes a buffer valid for msg_len bytes (or NULL).
    unsafe {
        guard(msg, msg_len, || {
            let text = match sim::configured() {
                Some(path) => format!(
                    "cuda: CPU simulator {} ({}; for testing, not a GPU)",
                    path.display(),
                    sim::ENV
                ),
                None => probe::probe()?.describe(),
            };
            write_c_str(msg, msg_len, &text);
            Ok(())
        })
    }
}

/// fp16 keeps weights as f16 in device memory (half the bytes, the same f32
/// arithmetic), so it comes first; int8 graphs are not supported.
const PRECISION_ORDER: &str = "fp16,fp32";

unsafe extern "C" fn precision_order(buf: *mut c_char, buf_len: usize) -> i32 {
    // SAFETY: as in `probe_fn`.
    unsafe {
        guard(buf, buf_len, || {
            if buf.is_null() || buf_len <= PRECISION_ORDER.len() {
                return Err(Error::arg(format!(
                    "precision_order: need a buffer of {} bytes",
                    PRECISION_ORDER.len() + 1
                )));
            }
            write_c_str(buf, buf_len, PRECISION_ORDER);
            Ok(())
        })
    }
}

/// A model on the GPU. `run` may be called from several threads: launches
/// on the one stream are serialised by the mutex.
pub struct CudaModel {
    model: exec::Model,
    dev: Mutex<Dev>,
    magic: u64,
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

/// The live model behind a handle from `create`.
///
/// # Safety
/// `handle` must be NULL or a pointer from `create` not yet destroyed.
unsafe fn model<'a>(handle: *mut c_void, what: &str) -> Result<&'a CudaModel> {
    // SAFETY: per the contract, a non-NULL handle points to a CudaModel.
    let m = unsafe { handle.cast::<CudaModel>().as_ref() }
        .ok_or_else(|| Error::arg(format!("{what}: handle is NULL")))?;
    if m.magic != MAGIC {
        return Err(Error::arg(format!(
            "{what}: not a live CUDA-backend handle"
        )));
    }
    Ok(m)
}

/// Copies `values` to the host's output buffer.
///
/// # Safety
/// `output` must be valid for `values.len()` f32 writes.
unsafe fn write_output(values: &[f32], output: *mut f32) {
    // SAFETY: forwarded from the caller.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), output, values.len()) };
}

const MAGIC: u64 = 0x6466_645f_6375_6461; // "dfd_cuda"

/// Reads and checks a `ModelDesc`; returns it and the item shape.
///
/// # Safety
/// `desc` must be NULL or point to at least `struct_size` readable bytes.
unsafe fn read_desc(desc: *const ModelDesc) -> Result<(ModelDesc, Vec<usize>)> {
    if desc.is_null() {
        return Err(Error::arg("create: desc is NULL"));
    }
    // SAFETY: every ModelDesc starts with its u32 size.
    let size = unsafe { std::ptr::addr_of!((*desc).struct_size).read_unaligned() } as usize;
    if size < std::mem::size_of::<ModelDesc>() {
        return Err(Error::arg(format!(
            "create: ModelDesc.struct_size is {size}, expected at least {}",
            std::mem::size_of::<ModelDesc>()
        )));
    }
    // SAFETY: the host says the struct is at least this large.
    let d = unsafe { desc.read_unaligned() };
    if d.onnx.is_null() || d.onnx_len == 0 {
        return Err(Error::arg("create: the ONNX bytes are NULL or empty"));
    }
    if d.input_rank == 0 || d.input_rank > MAX_INPUT_RANK || d.input_shape.is_null() {
        return Err(Error::arg(format!(
            "create: input_rank is {} (expected 1..={MAX_INPUT_RANK}) or input_shape is NULL",
            d.input_rank
        )));
    }
    if d.output_len == 0 || d.max_batch == 0 {
        return Err(Error::arg("create: output_len and max_batch must be > 0"));
    }
    // SAFETY: checked non-NULL; the host passes input_rank values.
    let shape = unsafe { std::slice::from_raw_parts(d.input_shape, d.input_rank) };
    let mut item = Vec::with_capacity(shape.len());
    let mut len: usize = 1;
    for &s in shape {
        match usize::try_from(s)
            .ok()
            .filter(|&s| s > 0)
            .and_then(|s| len.checked_mul(s).map(|l| (s, l)))
        {
            Some((s, l)) if l <= (1 << 31) => {
                item.push(s);
                len = l;
            }
            _ => {
                return Err(Error::arg(format!(
                    "create: input_shape {shape:?} has a zero or absurd dimension"
                )))
            }
        }
    }
    Ok((d, item))
}

unsafe extern "C" fn create(
    desc: *const ModelDesc,
    out: *mut *mut c_void,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes valid pointers or NULL; NULLs are checked.
    unsafe {
        guard(err, err_len, || {
            let (d, item) = read_desc(desc)?;
            if out.is_null() {
                return Err(Error::arg("create: out is NULL"));
            }
            if d.time_axis != dfd_backend_abi::NO_TIME_AXIS {
                return Err(Error::unsupported(format!(
                    "the CUDA backend plans kernels and buffers for one input shape, and this model's input axis {} follows the audio (an utterance model, manifest \"utterance\"); run it on the cpu backend",
                    d.time_axis
                )));
            }
            let onnx_bytes = std::slice::from_raw_parts(d.onnx, d.onnx_len);
            // Refuse unsupported graphs before touching the driver, so the
            // message is the same on every machine.
            exec::check_ops(&onnx::parse(onnx_bytes)?)?;
            let mut device = open_device()?;
            let model = exec::Model::load(
                &mut *device,
                onnx_bytes,
                &item,
                d.output_len,
                d.max_batch as usize,
            )?;
            let m = CudaModel {
                model,
                dev: Mutex::new(Dev {
                    device,
                    frontend: None,
                }),
                magic: MAGIC,
            };
            *out = Box::into_raw(Box::new(m)).cast::<c_void>();
            Ok(())
        })
    }
}

unsafe extern "C" fn run(
    handle: *mut c_void,
    input: *const f32,
    batch: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes a handle from `create`, an input of
    // batch * item_len floats and an output of batch * output_len floats.
    unsafe {
        guard(err, err_len, || {
            run_checked(handle, input, batch, output, "run", |m, dev| {
                let input = std::slice::from_raw_parts(input, batch * m.model.item_len());
                m.model.run(&mut *dev.device, input, batch)
            })
        })
    }
}

/// What `run` and `run_audio` share: the handle, NULL and batch checks, the
/// device lock, and copying `f`'s `batch * output_len` values out.
///
/// # Safety
/// `handle` from `create` (or NULL); `output` valid for `batch * output_len`
/// f32 writes when non-NULL.
unsafe fn run_checked(
    handle: *mut c_void,
    input: *const f32,
    batch: usize,
    output: *mut f32,
    what: &str,
    f: impl FnOnce(&CudaModel, &mut Dev) -> Result<Vec<f32>>,
) -> Result<()> {
    // SAFETY: forwarded from the caller.
    let m = unsafe { model(handle, what) }?;
    if input.is_null() || output.is_null() {
        return Err(Error::arg(format!("{what}: input or output is NULL")));
    }
    check_batch(m, batch, what)?;
    let mut dev = m.dev.lock().unwrap_or_else(|e| e.into_inner());
    let values = f(m, &mut dev)?;
    // SAFETY: the caller provides room for batch * output_len values.
    unsafe { write_output(&values[..batch * m.model.output_len()], output) };
    Ok(())
}

fn check_batch(m: &CudaModel, batch: usize, what: &str) -> Result<()> {
    let max = m.model.max_batch();
    if batch == 0 || batch > max {
        return Err(Error::arg(format!(
            "{what}: batch is {batch}, expected 1..={max}"
        )));
    }
    Ok(())
}

unsafe extern "C" fn set_frontend(
    handle: *mut c_void,
    desc: *const FrontendDesc,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes a handle from `create` and a valid desc.
    unsafe {
        guard(err, err_len, || {
            let m = model(handle, "set_frontend")?;
            let tables = FrontendTables::from_desc(desc)?;
            let item = m.model.item_len();
            if tables.rows() * tables.frames() != item {
                return Err(Error::unsupported(format!(
                    "the front end makes {} x {} values per window, the model takes {item}",
                    tables.rows(),
                    tables.frames()
                )));
            }
            let mut dev = m.dev.lock().unwrap_or_else(|e| e.into_inner());
            let fe = GpuFrontend::load(&mut *dev.device, tables, m.model.max_batch())?;
            dev.frontend = Some(fe);
            Ok(())
        })
    }
}

unsafe extern "C" fn run_audio(
    handle: *mut c_void,
    audio: *const f32,
    batch: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes a handle from `create`, `batch` windows of
    // audio and room for `batch * output_len` floats.
    unsafe {
        guard(err, err_len, || {
            run_checked(handle, audio, batch, output, "run_audio", |m, dev| {
                let Dev { device, frontend } = dev;
                let fe = frontend
                    .as_ref()
                    .ok_or_else(|| Error::arg("run_audio before an accepted set_frontend"))?;
                let audio = std::slice::from_raw_parts(audio, batch * fe.window_samples());
                device.upload(fe.audio_buf(), &exec::f32_bytes(audio))?;
                for l in fe.launches(batch, m.model.input_buf())? {
                    device.launch(l.kernel, l.n, &l.args)?;
                }
                m.model.run_on_device(&mut **device, batch)
            })
        })
    }
}

unsafe extern "C" fn destroy(handle: *mut c_void) {
    if handle.is_null() {
        return;
    }
    let _ = dfd_backend_abi::panic::catch(|| {
        // SAFETY: `handle` came from `create` and is released once.
        drop(unsafe { Box::from_raw(handle.cast::<CudaModel>()) });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_panics_into_internal() {
        let mut buf = [0 as c_char; 128];
        let rc = unsafe { guard(buf.as_mut_ptr(), buf.len(), || panic!("boom {}", 42)) };
        assert_eq!(rc, BackendStatus::Internal as i32);
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap();
        assert!(msg.contains("boom 42"), "{msg}");
    }

    #[test]
    fn unsupported_op_is_named() {
        // The int8 variant of the default model uses QLinearConv & co.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/dfd-lfb-cnn/model.int8.onnx"
        ))
        .unwrap();
        let e = exec::check_ops(&onnx::parse(&bytes).unwrap()).unwrap_err();
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
        exec::check_ops(&onnx::parse(&fp32).unwrap()).unwrap();
    }
}
