//! The C ABI: every `extern "C"` function of libdfd, and nothing else.
//!
//! Conventions (see `include/dfd.h`): every fallible function returns a
//! `dfd_status`; out-parameters are written only on success; every pointer
//! is checked; every function catches panics and turns them into
//! `DFD_ERR_INTERNAL` (logged, never printed); the detailed message of the last failure is kept per
//! thread (`dfd_last_error`).
#![allow(non_camel_case_types)]

mod backend;
mod log;
mod model;
mod stream;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

use crate::error::{Error, Result, Status};
use crate::log::log;

pub use backend::*;
pub use log::*;
pub use model::*;
pub use stream::*;

/// Status code returned by every fallible function; `DFD_OK` (0) is success.
pub type dfd_status = i32;

/// Success.
pub const DFD_OK: dfd_status = 0;
/// A required pointer argument was NULL.
pub const DFD_ERR_NULL_ARG: dfd_status = 1;
/// An argument is out of its documented range (the message says which).
pub const DFD_ERR_INVALID_ARG: dfd_status = 2;
/// Samples contain NaN, infinity or a magnitude above
/// `DFD_MAX_SAMPLE_MAGNITUDE`; the chunk was rejected whole.
pub const DFD_ERR_BAD_SAMPLES: dfd_status = 3;
/// Sample rate is below `DFD_MIN_SAMPLE_RATE` or above `DFD_MAX_SAMPLE_RATE`.
pub const DFD_ERR_SAMPLE_RATE: dfd_status = 4;
/// Channel count is 0 or above `DFD_MAX_CHANNELS`.
pub const DFD_ERR_CHANNELS: dfd_status = 5;
/// A push of zero frames.
pub const DFD_ERR_EMPTY_PUSH: dfd_status = 6;
/// A file could not be read.
pub const DFD_ERR_IO: dfd_status = 7;
/// The model is truncated or not a valid ONNX / JSON file.
pub const DFD_ERR_MODEL_CORRUPT: dfd_status = 8;
/// Valid file, but not a libdfd model (no manifest, unknown format, manifest and graph disagree).
pub const DFD_ERR_MODEL_KIND: dfd_status = 9;
/// The model uses an operator the backend cannot run; the message names it.
pub const DFD_ERR_MODEL_UNSUPPORTED: dfd_status = 10;
/// The requested precision variant is not in the model package.
pub const DFD_ERR_PRECISION_UNAVAILABLE: dfd_status = 11;
/// No `libdfd_backend_<name>.so` on the plugin search path.
pub const DFD_ERR_PLUGIN_NOT_FOUND: dfd_status = 12;
/// A plugin file was found but is not a libdfd plugin or has another ABI version.
pub const DFD_ERR_PLUGIN_INCOMPATIBLE: dfd_status = 13;
/// The backend exists but cannot run on this machine (e.g. no GPU).
pub const DFD_ERR_BACKEND_UNAVAILABLE: dfd_status = 14;
/// Inference failed at run time.
pub const DFD_ERR_BACKEND: dfd_status = 15;
/// A caller-supplied buffer is too small.
pub const DFD_ERR_BUFFER_TOO_SMALL: dfd_status = 16;
/// A bug in libdfd (a caught panic); please report it with `dfd_last_error()`.
pub const DFD_ERR_INTERNAL: dfd_status = 17;
/// This build of libdfd leaves the feature out (e.g. `dfd_model_load_builtin`
/// in a build without the `builtin-model` cargo feature).
pub const DFD_ERR_NOT_BUILT: dfd_status = 18;

/// Version of the C ABI; changes only on incompatible changes.
pub const DFD_ABI_VERSION: u32 = 1;
/// Lowest sample rate `dfd_open` accepts (and a model may run at), in Hz.
pub const DFD_MIN_SAMPLE_RATE: u32 = 4_000;
/// Highest sample rate `dfd_open` accepts (and a model may run at), in Hz.
pub const DFD_MAX_SAMPLE_RATE: u32 = 384_000;
/// Highest channel count `dfd_open` accepts.
pub const DFD_MAX_CHANNELS: u32 = 8;
/// Largest |sample| `dfd_push_samples` accepts (full scale is 1.0).
pub const DFD_MAX_SAMPLE_MAGNITUDE: f32 = 1000.0;
/// Most backend threads `dfd_model_options.threads` may ask for.
pub const DFD_MAX_THREADS: u32 = 256;
/// Largest model file `dfd_model_load` reads, in bytes (2 GiB); only
/// regular files are read.
pub const DFD_MAX_MODEL_BYTES: u64 = 2_147_483_648;
/// Largest sidecar or package manifest file, in bytes (16 MiB).
pub const DFD_MAX_MANIFEST_BYTES: u64 = 16_777_216;
/// Longest model analysis window (`window`, whisper `pad_to`), in samples.
pub const DFD_MAX_WINDOW: u32 = 2_097_152;
/// Longest utterance a model scores whole (manifest `utterance.max_audio`),
/// in samples: a stream of such a model keeps that much audio.
pub const DFD_MAX_UTTERANCE: u32 = 8_388_608;
/// Most windows covering one sample (`window / hop`), and most STFT frames
/// covering one sample (`n_fft / hop_length`), of a model.
pub const DFD_MAX_OVERLAP: u32 = 64;
/// Largest `n_fft` of a model's front end.
pub const DFD_MAX_N_FFT: u32 = 16_384;
/// Most filterbank bands (`n_mels`, `n_filters`) of a model's front end.
pub const DFD_MAX_BANDS: u32 = 512;
/// Most values in one window's model input (`input_shape` product).
pub const DFD_MAX_INPUT_VALUES: u32 = 2_097_152;
/// Most windows a stream holds back when deferred (`dfd_set_deferred`).
pub const DFD_MAX_DEFERRED: u32 = 16;
/// Most windows in one backend call of `dfd_infer_streams`.
pub const DFD_BACKEND_BATCH: u32 = 256;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(e: &Error) {
    set_last_message(&format!("{}: {}", e.status.describe(), e.message));
}

/// Sets the text `dfd_last_error` returns without a failure: why a flushed
/// stream has no score.
pub(crate) fn set_last_message(text: &str) {
    let text = CString::new(text.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = text);
}

/// Runs `f` catching panics silently; a caught panic is logged at error
/// level and becomes a `DFD_ERR_INTERNAL` error.
fn catch<T>(f: impl FnOnce() -> T) -> std::result::Result<T, Error> {
    dfd_backend_abi::panic::catch(f).map_err(|panic| {
        log!(
            Error,
            "caught a panic inside libdfd (please report it): {panic}"
        );
        Error::new(Status::Internal, format!("panic: {panic}"))
    })
}

/// The panic boundary: runs `f`, records its error, maps it to a status.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> dfd_status {
    let err = match catch(f) {
        Ok(Ok(())) => return DFD_OK,
        Ok(Err(e)) | Err(e) => e,
    };
    set_last_error(&err);
    err.status as dfd_status
}

/// Runs `f` behind the panic boundary for functions that return a value
/// rather than a status; a panic yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch(f).unwrap_or_else(|e| {
        set_last_error(&e);
        fallback
    })
}

/// Borrows a pointer argument or fails with `DFD_ERR_NULL_ARG` naming it.
pub(crate) fn arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: non-NULL pointers from the caller are valid per the header's contract.
    unsafe { ptr.as_ref() }
        .ok_or_else(|| Error::new(Status::NullArg, format!("argument `{name}` is NULL")))
}

pub(crate) fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: as for `arg`.
    unsafe { ptr.as_mut() }
        .ok_or_else(|| Error::new(Status::NullArg, format!("argument `{name}` is NULL")))
}

/// Reads an optional C string (`NULL` = `None`), which must be UTF-8.
pub(crate) fn opt_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL strings from the caller are NUL-terminated per the header.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map(Some).map_err(|_| {
        Error::new(
            Status::InvalidArg,
            format!("argument `{name}` is not UTF-8"),
        )
    })
}

/// The library version, e.g. "0.1.0". Static string.
#[no_mangle]
pub extern "C" fn dfd_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The C ABI version (`DFD_ABI_VERSION` of the library actually loaded).
#[no_mangle]
pub extern "C" fn dfd_abi_version() -> u32 {
    DFD_ABI_VERSION
}

/// A short static description of a status code ("unknown status" for codes
/// this version does not define). Never NULL.
#[no_mangle]
pub extern "C" fn dfd_status_str(status: dfd_status) -> *const c_char {
    let s = usize::try_from(status)
        .ok()
        .and_then(|i| Status::ALL.get(i))
        .map_or("unknown status\0", |s| s.describe_c());
    s.as_ptr().cast()
}

/// The detailed message of the calling thread's last failed call ("" if
/// none). Valid until the next libdfd call on this thread. Never NULL.
#[no_mangle]
pub extern "C" fn dfd_last_error() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}

/// Copies the calling thread's last error message into `buf` (truncated
/// and NUL-terminated when `len > 0`); returns the full message length in
/// bytes, without the NUL, so a caller can size the buffer.
#[no_mangle]
pub unsafe extern "C" fn dfd_last_error_copy(buf: *mut c_char, len: usize) -> usize {
    guard_value(0, || {
        LAST_ERROR.with(|l| {
            let msg = l.borrow();
            let text = msg.to_str().unwrap_or("");
            // SAFETY: the caller provides `len` writable bytes at `buf` (or NULL).
            unsafe { dfd_backend_abi::write_c_str(buf, len, text) };
            text.len()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C constants are literals (so the header shows numbers); they must
    /// stay equal to the Rust codes they stand for.
    #[test]
    fn c_constants_match_rust() {
        let c = [
            DFD_OK,
            DFD_ERR_NULL_ARG,
            DFD_ERR_INVALID_ARG,
            DFD_ERR_BAD_SAMPLES,
            DFD_ERR_SAMPLE_RATE,
            DFD_ERR_CHANNELS,
            DFD_ERR_EMPTY_PUSH,
            DFD_ERR_IO,
            DFD_ERR_MODEL_CORRUPT,
            DFD_ERR_MODEL_KIND,
            DFD_ERR_MODEL_UNSUPPORTED,
            DFD_ERR_PRECISION_UNAVAILABLE,
            DFD_ERR_PLUGIN_NOT_FOUND,
            DFD_ERR_PLUGIN_INCOMPATIBLE,
            DFD_ERR_BACKEND_UNAVAILABLE,
            DFD_ERR_BACKEND,
            DFD_ERR_BUFFER_TOO_SMALL,
            DFD_ERR_INTERNAL,
            DFD_ERR_NOT_BUILT,
        ];
        assert_eq!(c.len(), Status::ALL.len());
        for (code, status) in c.iter().zip(Status::ALL) {
            assert_eq!(*code, status as i32);
        }
        use crate::limits;
        assert_eq!(DFD_MIN_SAMPLE_RATE, limits::MIN_SAMPLE_RATE);
        assert_eq!(DFD_MAX_SAMPLE_RATE, limits::MAX_SAMPLE_RATE);
        assert_eq!(DFD_MAX_CHANNELS, limits::MAX_CHANNELS);
        assert_eq!(DFD_MAX_SAMPLE_MAGNITUDE, limits::MAX_SAMPLE_MAGNITUDE);
        assert_eq!(DFD_MAX_THREADS, limits::MAX_THREADS);
        assert_eq!(DFD_MAX_MODEL_BYTES, limits::MAX_MODEL_BYTES);
        assert_eq!(DFD_MAX_MANIFEST_BYTES, limits::MAX_MANIFEST_BYTES);
        assert_eq!(DFD_MAX_WINDOW as usize, limits::MAX_WINDOW);
        assert_eq!(DFD_MAX_UTTERANCE as usize, limits::MAX_UTTERANCE);
        assert_eq!(DFD_MAX_OVERLAP as usize, limits::MAX_OVERLAP);
        assert_eq!(DFD_MAX_N_FFT as usize, limits::MAX_N_FFT);
        assert_eq!(DFD_MAX_BANDS as usize, limits::MAX_BANDS);
        assert_eq!(DFD_MAX_INPUT_VALUES as usize, limits::MAX_INPUT_VALUES);
        assert_eq!(DFD_MAX_DEFERRED as usize, crate::model::MAX_BATCH);
        assert_eq!(DFD_BACKEND_BATCH as usize, crate::model::BACKEND_BATCH);
        assert_eq!(DFD_VERDICT_UNKNOWN, crate::Verdict::Unknown as i32);
        assert_eq!(DFD_VERDICT_BONAFIDE, crate::Verdict::Bonafide as i32);
        assert_eq!(DFD_VERDICT_SYNTHETIC, crate::Verdict::Synthetic as i32);
        assert_eq!(DFD_LOG_DEBUG, crate::log::Level::Debug as i32);
        assert_eq!(DFD_LOG_ERROR, crate::log::Level::Error as i32);
    }

    #[test]
    fn panics_become_internal_errors() {
        assert_eq!(guard(|| panic!("boom")), DFD_ERR_INTERNAL);
        let msg = unsafe { CStr::from_ptr(dfd_last_error()) }
            .to_str()
            .unwrap()
            .to_string();
        assert!(msg.contains("panic: boom"), "{msg}");
        assert_eq!(guard_value(7, || panic!("again")), 7);
    }

    /// A caught panic is logged with where it happened and never reaches
    /// stderr: checked in a child run of this test binary, whose stderr is
    /// the real one (`--nocapture`).
    #[test]
    fn caught_panics_go_to_the_log_not_stderr() {
        use std::sync::{Arc, Mutex};
        if std::env::var_os("DFD_PANIC_CHILD").is_some() {
            assert_eq!(guard(|| panic!("silent boom")), DFD_ERR_INTERNAL);
            return;
        }
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        crate::log::set_logger(Some((
            crate::log::Level::Error,
            Arc::new(move |_, m: &str| {
                if m.contains("logged boom") {
                    sink.lock().unwrap().push(m.to_string());
                }
            }),
        )));
        assert_eq!(guard(|| panic!("logged boom")), DFD_ERR_INTERNAL);
        crate::log::set_logger(None);
        let logged = seen.lock().unwrap().clone();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("(at src/ffi/mod.rs:"), "{logged:?}");
        let msg = unsafe { CStr::from_ptr(dfd_last_error()) }
            .to_string_lossy()
            .into_owned();
        assert!(
            msg.contains("panic: logged boom (at src/ffi/mod.rs:"),
            "{msg}"
        );

        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "ffi::tests::caught_panics_go_to_the_log_not_stderr",
                "--nocapture",
            ])
            .env("DFD_PANIC_CHILD", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "the child ran no test"
        );
        assert!(!stderr.contains("silent boom"), "{stderr}");
    }
}
