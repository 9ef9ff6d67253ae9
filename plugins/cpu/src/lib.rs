//! libdfd CPU backend: runs fp32, fp16 and int8 ONNX detectors with tract.
//!
//! Two ways in, same code:
//! - as a plugin (`libdfd_backend_cpu.so`): the host `dlopen`s it and calls
//!   the exported [`dfd_backend_v1`], which returns the [`BackendTable`];
//! - compiled into the core (static / iOS builds): the core calls [`table()`].
//!
//! Every `extern "C"` function checks its pointers (NULL ->
//! `InvalidArgument`) and runs its body inside [`guard`], which turns a panic
//! into `Internal` with the panic message, so nothing unwinds into the host.
//! See `model` for loading and running, `isa` for the precision order.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod error;
pub mod isa;
pub mod model;

use std::ffi::{c_char, c_void};

use dfd_backend_abi::{
    write_c_str, BackendStatus, BackendTable, ModelDesc, ABI_VERSION, NO_TIME_AXIS,
};

use crate::error::{Error, Result};
use crate::model::{CpuModel, LoadSpec};

/// The tract version this backend is built and measured with (checked
/// against Cargo.lock by a test).
pub const TRACT_VERSION: &str = "0.23.9";

/// Largest item rank accepted in `ModelDesc::input_rank`.
pub const MAX_INPUT_RANK: usize = 8;

static TABLE: BackendTable = BackendTable {
    abi_version: ABI_VERSION,
    table_size: std::mem::size_of::<BackendTable>() as u32,
    name: c"cpu".as_ptr(),
    version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char,
    probe,
    precision_order,
    create,
    run,
    destroy,
    // The front end stays in libdfd: on the CPU a copy gains nothing.
    set_frontend: None,
    run_audio: None,
    run_frames: Some(run_frames),
};

/// The backend table, for a core that compiles this backend in.
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
/// status and writes the message into the caller's buffer. Returns 0 on success.
///
/// # Safety
/// `err` must be NULL or valid for `err_len` bytes.
pub unsafe fn guard(err: *mut c_char, err_len: usize, f: impl FnOnce() -> Result<()>) -> i32 {
    let result = dfd_backend_abi::panic::catch(f).unwrap_or_else(|panic| {
        Err(Error::internal(format!(
            "panic in the CPU backend: {panic}"
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

unsafe extern "C" fn probe(msg: *mut c_char, msg_len: usize) -> i32 {
    // SAFETY: the host passes a buffer valid for msg_len bytes (or NULL).
    unsafe {
        guard(msg, msg_len, || {
            write_c_str(msg, msg_len, &isa::describe());
            Ok(())
        })
    }
}

unsafe extern "C" fn precision_order(buf: *mut c_char, buf_len: usize) -> i32 {
    // SAFETY: as in `probe`.
    unsafe {
        guard(buf, buf_len, || {
            let order = isa::precision_order();
            if buf.is_null() {
                return Err(Error::arg("precision_order: buf is NULL"));
            }
            if buf_len <= order.len() {
                return Err(Error::arg(format!(
                    "precision_order: buffer of {buf_len} bytes, need {}",
                    order.len() + 1
                )));
            }
            write_c_str(buf, buf_len, order);
            Ok(())
        })
    }
}

/// Reads and checks a `ModelDesc`.
///
/// # Safety
/// `desc` must be NULL or point to at least `struct_size` readable bytes.
unsafe fn read_desc(desc: *const ModelDesc) -> Result<ModelDesc> {
    if desc.is_null() {
        return Err(Error::arg("create: desc is NULL"));
    }
    // The first field says how much of the struct the host has.
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
    if d.input_rank == 0 || d.input_rank > MAX_INPUT_RANK {
        return Err(Error::arg(format!(
            "create: input_rank is {}, expected 1..={MAX_INPUT_RANK}",
            d.input_rank
        )));
    }
    if d.input_shape.is_null() {
        return Err(Error::arg("create: input_shape is NULL"));
    }
    if d.output_len == 0 {
        return Err(Error::arg("create: output_len is 0"));
    }
    if d.max_batch == 0 {
        return Err(Error::arg("create: max_batch is 0"));
    }
    if d.time_axis != NO_TIME_AXIS
        && (d.time_axis as usize >= d.input_rank || d.max_frames == 0 || d.max_frames > 1 << 31)
    {
        return Err(Error::arg(format!(
            "create: time_axis {} is not an axis of a rank-{} item, or max_frames {} is not in 1..=2^31",
            d.time_axis, d.input_rank, d.max_frames
        )));
    }
    Ok(d)
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
            let d = read_desc(desc)?;
            if out.is_null() {
                return Err(Error::arg("create: out is NULL"));
            }
            let shape = std::slice::from_raw_parts(d.input_shape, d.input_rank);
            let mut item_shape = Vec::with_capacity(shape.len());
            let mut item_len: usize = 1;
            for &s in shape {
                let s = usize::try_from(s).ok().filter(|&s| s > 0);
                match s.and_then(|s| item_len.checked_mul(s).map(|l| (s, l))) {
                    Some((s, l)) if l <= (1 << 31) => {
                        item_shape.push(s);
                        item_len = l;
                    }
                    _ => {
                        return Err(Error::arg(format!(
                            "create: input_shape {shape:?} has a zero or absurd dimension"
                        )))
                    }
                }
            }
            let spec = LoadSpec {
                onnx: std::slice::from_raw_parts(d.onnx, d.onnx_len),
                item_shape: &item_shape,
                output_len: d.output_len,
                max_batch: d.max_batch as usize,
                threads: d.threads as usize,
                time_axis: (d.time_axis != NO_TIME_AXIS)
                    .then_some((d.time_axis as usize, d.max_frames as usize)),
            };
            let model = CpuModel::load(&spec)?;
            *out = Box::into_raw(Box::new(model)).cast::<c_void>();
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
            if handle.is_null() {
                return Err(Error::arg("run: handle is NULL"));
            }
            if input.is_null() {
                return Err(Error::arg("run: input is NULL"));
            }
            if output.is_null() {
                return Err(Error::arg("run: output is NULL"));
            }
            let m = &*handle.cast::<CpuModel>();
            if !m.is_valid() {
                return Err(Error::arg("run: not a live CPU-backend handle"));
            }
            if batch == 0 || batch > m.max_batch() {
                return Err(Error::arg(format!(
                    "run: batch is {batch}, expected 1..={} (max_batch at create)",
                    m.max_batch()
                )));
            }
            let input = std::slice::from_raw_parts(input, batch * m.item_len());
            let values = m.run(input, batch)?;
            // Written only on success.
            std::ptr::copy_nonoverlapping(values.as_ptr(), output, batch * m.output_len());
            Ok(())
        })
    }
}

unsafe extern "C" fn run_frames(
    handle: *mut c_void,
    input: *const f32,
    frames: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes a handle from `create` with a time axis, an
    // input of one item of `frames` frames and an output of output_len floats.
    unsafe {
        guard(err, err_len, || {
            if handle.is_null() || input.is_null() || output.is_null() {
                return Err(Error::arg("run_frames: handle, input or output is NULL"));
            }
            let m = &*handle.cast::<CpuModel>();
            if !m.is_valid() {
                return Err(Error::arg("run_frames: not a live CPU-backend handle"));
            }
            let (per_frame, max_frames) = m.frames().ok_or_else(|| {
                Error::arg("run_frames: the model was created without a time_axis")
            })?;
            if frames == 0 || frames > max_frames {
                return Err(Error::arg(format!(
                    "run_frames: frames is {frames}, expected 1..={max_frames} (max_frames at create)"
                )));
            }
            let len = per_frame * frames;
            let values = m.run_frames(std::slice::from_raw_parts(input, len), frames)?;
            std::ptr::copy_nonoverlapping(values.as_ptr(), output, m.output_len());
            Ok(())
        })
    }
}

unsafe extern "C" fn destroy(handle: *mut c_void) {
    if handle.is_null() {
        return;
    }
    // A panic in a destructor is swallowed: there is nowhere to report it.
    let _ = dfd_backend_abi::panic::catch(|| {
        // SAFETY: `handle` came from `create` and is released once.
        drop(unsafe { Box::from_raw(handle.cast::<CpuModel>()) });
    });
}

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

    #[test]
    fn guard_turns_panics_into_internal() {
        let mut buf = [0 as c_char; 128];
        let rc = unsafe {
            table();
            guard(buf.as_mut_ptr(), buf.len(), || panic!("boom {}", 42))
        };
        assert_eq!(rc, BackendStatus::Internal as i32);
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap();
        assert!(msg.contains("boom 42") && msg.contains("lib.rs"), "{msg}");
    }
}
