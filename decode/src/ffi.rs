//! The C ABI of libdfd_decode: open an audio file, read its PCM in blocks.
//!
//! Same conventions as libdfd's (`include/dfd.h`): every fallible function
//! returns a status, out-parameters are written only on success, pointers
//! are checked, panics are caught, and the calling thread's last message is
//! kept (`dfd_decode_last_error`).
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::path::Path;

use dfd_backend_abi::panic::catch;

use crate::Decoder;

/// Status of every fallible function; `DFD_DECODE_OK` (0) is success.
pub type dfd_decode_status = i32;

/// Success.
pub const DFD_DECODE_OK: dfd_decode_status = 0;
/// A required pointer argument was NULL, the path is not UTF-8 (outside
/// Unix), or `capacity` holds no frame.
pub const DFD_DECODE_ERR_INVALID_ARG: dfd_decode_status = 1;
/// The file cannot be opened, is not audio of a supported format, or is
/// damaged beyond what the decoder skips; the message says which.
pub const DFD_DECODE_ERR_FILE: dfd_decode_status = 2;
/// A bug in libdfd_decode (a caught panic).
pub const DFD_DECODE_ERR_INTERNAL: dfd_decode_status = 3;

/// An open audio file: its default audio track, decoded on demand.
pub struct dfd_decoder {
    decoder: Decoder,
    /// Decoded frames not yet read, interleaved, and their format.
    pending: Vec<f32>,
    taken: usize,
    rate: u32,
    channels: u32,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn fail(status: dfd_decode_status, message: &str) -> dfd_decode_status {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
    status
}

/// The panic boundary of every entry point: silent, the panic becomes
/// `DFD_DECODE_ERR_INTERNAL` with its message.
fn guarded(f: impl FnOnce() -> dfd_decode_status) -> dfd_decode_status {
    catch(f).unwrap_or_else(|why| fail(DFD_DECODE_ERR_INTERNAL, &format!("internal error: {why}")))
}

/// A C path as the OS takes it: any bytes on Unix, UTF-8 elsewhere.
fn path_of(c: &CStr) -> Option<&Path> {
    #[cfg(unix)]
    return Some(Path::new(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(c.to_bytes()),
    ));
    #[cfg(not(unix))]
    return c.to_str().ok().map(Path::new);
}

/// The calling thread's message of its last failed call ("" if none).
/// Valid until that thread's next call into libdfd_decode.
#[no_mangle]
pub extern "C" fn dfd_decode_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Opens and probes `path` (any bytes on Unix, UTF-8 elsewhere); the
/// container is recognised by its content, not its extension.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dfd_decoder_open(
    path: *const c_char,
    out: *mut *mut dfd_decoder,
) -> dfd_decode_status {
    guarded(|| {
        if path.is_null() || out.is_null() {
            return fail(DFD_DECODE_ERR_INVALID_ARG, "path and out must not be NULL");
        }
        // SAFETY: non-NULL and NUL-terminated by the caller's contract.
        let Some(path) = path_of(unsafe { CStr::from_ptr(path) }) else {
            return fail(DFD_DECODE_ERR_INVALID_ARG, "the path is not UTF-8");
        };
        match Decoder::open(path) {
            Ok(decoder) => {
                let handle = Box::new(dfd_decoder {
                    decoder,
                    pending: Vec::new(),
                    taken: 0,
                    rate: 0,
                    channels: 0,
                });
                // SAFETY: checked non-NULL, writable by contract.
                unsafe { *out = Box::into_raw(handle) };
                DFD_DECODE_OK
            }
            Err(msg) => fail(DFD_DECODE_ERR_FILE, &format!("{}: {msg}", path.display())),
        }
    })
}

/// Reads up to `capacity` samples (interleaved frames: a multiple of the
/// channel count is read) into `out`. `*samples` is set to the number
/// written, 0 at the end of the file; `*sample_rate` and `*channels` to
/// their format, which may differ from one call to the next only where the
/// file's format changes. `capacity` must hold at least one frame, else
/// `DFD_DECODE_ERR_INVALID_ARG`; 16384 holds any file libdfd scores.
///
/// # Safety
/// `decoder` is NULL or from `dfd_decoder_open`; `out` holds `capacity`
/// floats; the other pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn dfd_decoder_read(
    decoder: *mut dfd_decoder,
    out: *mut f32,
    capacity: usize,
    samples: *mut usize,
    sample_rate: *mut u32,
    channels: *mut u32,
) -> dfd_decode_status {
    guarded(|| {
        if decoder.is_null() || out.is_null() || samples.is_null() {
            return fail(
                DFD_DECODE_ERR_INVALID_ARG,
                "decoder, out and samples must not be NULL",
            );
        }
        // SAFETY: a live handle from dfd_decoder_open, used by one thread.
        let d = unsafe { &mut *decoder };
        if d.taken == d.pending.len() {
            match d.decoder.next_chunk() {
                Ok(Some(chunk)) => {
                    d.pending.clear();
                    d.pending.extend_from_slice(chunk.samples);
                    (d.taken, d.rate, d.channels) = (0, chunk.rate, chunk.channels);
                }
                Ok(None) => {
                    // SAFETY: checked non-NULL.
                    unsafe { *samples = 0 };
                    return DFD_DECODE_OK;
                }
                Err(msg) => return fail(DFD_DECODE_ERR_FILE, &msg),
            }
        }
        let frame = d.channels.max(1) as usize;
        let n = (capacity / frame * frame).min(d.pending.len() - d.taken);
        if n == 0 {
            return fail(
                DFD_DECODE_ERR_INVALID_ARG,
                &format!("capacity {capacity} holds no frame of {frame} channels"),
            );
        }
        // SAFETY: `out` holds `capacity` >= n floats by contract.
        unsafe { std::ptr::copy_nonoverlapping(d.pending[d.taken..].as_ptr(), out, n) };
        d.taken += n;
        // SAFETY: checked non-NULL / writable when non-NULL by contract.
        unsafe {
            *samples = n;
            if !sample_rate.is_null() {
                *sample_rate = d.rate;
            }
            if !channels.is_null() {
                *channels = d.channels;
            }
        }
        DFD_DECODE_OK
    })
}

/// Closes a decoder; NULL is a no-op.
///
/// # Safety
/// `decoder` is NULL or from `dfd_decoder_open`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn dfd_decoder_close(decoder: *mut dfd_decoder) {
    if !decoder.is_null() {
        // SAFETY: from Box::into_raw in dfd_decoder_open, closed once.
        let _ = catch(|| drop(unsafe { Box::from_raw(decoder) }));
    }
}
