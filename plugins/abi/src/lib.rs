//! The C ABI between libdfd and its backend plugins.
//!
//! A backend is a shared library `libdfd_backend_<name>.so` exporting one
//! symbol, [`ENTRY_SYMBOL`] (`dfd_backend_v1`), of type [`EntryFn`]. It returns
//! a pointer to a static [`BackendTable`]. The host reads `abi_version` and
//! `table_size` *before anything else* and refuses the plugin when the version
//! differs or the table ends before [`MIN_TABLE_SIZE`]; a table only ever
//! grows at its end, so newer plugins keep working with older hosts. The
//! fields after `MIN_TABLE_SIZE` are optional: the host keeps those an
//! older plugin's shorter table holds whole (up to its `table_size`), treats
//! the ones past its end as absent, and each as absent when it is NULL.
//!
//! Rules both sides follow:
//! - Nothing allocated on one side is freed on the other: a model handle made
//!   by `create` is released by the same plugin's `destroy`.
//! - Errors come back as a [`BackendStatus`] plus a NUL-terminated message the
//!   plugin writes into a caller-owned buffer (truncated to fit).
//! - A plugin catches its own panics; an unwinding panic must never cross
//!   these functions (it would abort the host).
//! - The same table is used when a backend is compiled into the core (static
//!   builds), so both paths run the same code.
//!
//! C plugin authors include the generated `include/dfd_backend.h` (cbindgen
//! from this crate, checked by `tests/header.rs`). Rust plugins use [`sdk`]:
//! it implements this whole boundary once, so a backend is its model code.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod frontend;
pub mod panic;
pub mod sdk;

use std::ffi::{c_char, c_void};

pub use frontend::FrontendTables;

/// Version of this ABI. Bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

/// The exported entry point every plugin defines (NUL-terminated for dlsym).
pub const ENTRY_SYMBOL: &[u8] = b"dfd_backend_v1\0";

/// Type of the exported entry point.
pub type EntryFn = unsafe extern "C" fn() -> *const BackendTable;

/// Status codes a plugin returns. `Ok` is 0.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendStatus {
    Ok = 0,
    /// The backend cannot run on this machine (no driver, no device, ...).
    Unavailable = 1,
    /// The model bytes are not a valid model for this backend.
    InvalidModel = 2,
    /// The model is valid but uses an operator or type the backend cannot run;
    /// the message names it.
    UnsupportedOp = 3,
    /// Inference failed at run time (shape mismatch, out of memory, ...).
    Runtime = 4,
    /// An argument broke the contract (NULL pointer, wrong length).
    InvalidArgument = 5,
    /// A bug inside the plugin (a caught panic).
    Internal = 6,
    /// The model is valid but disagrees with the host's description
    /// (`input_shape` or `output_len` in [`ModelDesc`]); the message says how.
    ShapeMismatch = 7,
}

impl BackendStatus {
    /// Maps a raw code from a plugin; unknown codes are treated as internal errors.
    pub fn from_raw(code: i32) -> BackendStatus {
        match code {
            0 => BackendStatus::Ok,
            1 => BackendStatus::Unavailable,
            2 => BackendStatus::InvalidModel,
            3 => BackendStatus::UnsupportedOp,
            4 => BackendStatus::Runtime,
            5 => BackendStatus::InvalidArgument,
            7 => BackendStatus::ShapeMismatch,
            _ => BackendStatus::Internal,
        }
    }
}

/// What the host asks a backend to load.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModelDesc {
    /// `size_of::<ModelDesc>()` as the host knows it; lets the struct grow.
    pub struct_size: u32,
    /// Worker threads the backend may use; 0 = backend default.
    pub threads: u32,
    /// The ONNX file bytes (only borrowed for the duration of `create`).
    pub onnx: *const u8,
    pub onnx_len: usize,
    /// Shape of one input item, without the batch axis (e.g. `[1, 60, 201]`).
    pub input_shape: *const u64,
    pub input_rank: usize,
    /// Number of f32 the model outputs per item (1 for a logit, 2 for two classes).
    pub output_len: usize,
    /// Largest batch the host will ever pass to `run`.
    pub max_batch: u32,
    /// The item axis (index into `input_shape`) whose length follows the
    /// audio, for a model run on whole utterances (manifest `utterance`);
    /// [`NO_TIME_AXIS`] (C: `DFD_BACKEND_NO_TIME_AXIS`) for a fixed input. `input_shape` then gives a live
    /// window's length on that axis (what `run` takes) and `run_frames`
    /// runs one item of any length up to `max_frames`. A backend that
    /// cannot returns `UnsupportedOp` from `create`, saying so.
    pub time_axis: u32,
    /// Longest `frames` the host passes to `run_frames`.
    pub max_frames: u64,
}

/// The log stage of an offloaded front end ([`FrontendDesc::log_kind`]).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// No compression.
    None = 0,
    /// `ln(x + log_offset)`.
    Ln = 1,
    /// `log10(x + log_offset)`.
    Log10 = 2,
}

impl LogKind {
    /// The kind a raw value from the other side of the ABI names, if any
    /// (a plugin checks this before reading the struct as Rust).
    pub fn from_raw(raw: u32) -> Option<LogKind> {
        match raw {
            0 => Some(LogKind::None),
            1 => Some(LogKind::Ln),
            2 => Some(LogKind::Log10),
            _ => None,
        }
    }
}

/// [`ModelDesc::time_axis`] of a model whose input shape is fixed.
pub const NO_TIME_AXIS: u32 = u32::MAX;

/// The host's spectral front end, handed to a backend that can compute it
/// (`set_frontend`), so that streams pass raw audio windows and the backend
/// runs front end and network in one go (on a GPU: no feature copy over the
/// bus). Every table is the host's own (built by libdfd's front-end code),
/// so the definitions live in one place. Pointers are borrowed for the call.
///
/// Per window of `window_samples` f32: frames of `n_fft` samples every `hop`
/// after `pad` samples of padding on each side (zeros, or numpy "reflect"),
/// times `window`; `|DFT|^power`; times the dense `filterbank` (or the bins
/// themselves when it is NULL); `log_kind` (see [`LogKind`], with
/// `x = max(x, log_floor)` first when `has_floor`); `(x - mean[r]) / std[r]`. Output `[rows, frames]`
/// frequency-major, exactly the model's input item.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FrontendDesc {
    /// `size_of::<FrontendDesc>()` as the host knows it.
    pub struct_size: u32,
    pub window_samples: u32,
    pub n_fft: u32,
    pub hop: u32,
    pub pad: u32,
    /// 1: reflect padding, 0: zeros.
    pub reflect: u32,
    /// 1 (magnitude) or 2 (power).
    pub power: u32,
    /// Output rows: filters, or `n_fft / 2 + 1` bins without a filterbank.
    pub rows: u32,
    /// The analysis window zero-padded to `n_fft` values (f64, as libdfd's
    /// CPU front end computes in f64).
    pub window: *const f64,
    /// `rows * (n_fft / 2 + 1)` weights, row-major; NULL: no filterbank.
    pub filterbank: *const f32,
    pub log_kind: LogKind,
    pub has_floor: u32,
    pub log_offset: f32,
    pub log_floor: f32,
    /// `rows` values each.
    pub mean: *const f32,
    pub std: *const f32,
}

/// Type of [`BackendTable::run_audio`] (and of `run`), for the host. The
/// table spells its optional fields' types out, as cbindgen cannot see
/// through an alias inside `Option`; the host's use checks they agree.
pub type RunAudioFn = unsafe extern "C" fn(
    handle: *mut c_void,
    audio: *const f32,
    batch: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32;

/// Score band of a GPU or other accelerator (see [`BackendTable::score`]).
pub const SCORE_ACCELERATOR: u32 = 300;
/// Score band of a CPU runtime with hand-tuned kernels (onnxruntime's MLAS).
pub const SCORE_CPU_TUNED: u32 = 200;
/// Score band of the portable CPU reference (tract).
pub const SCORE_CPU_PORTABLE: u32 = 100;
/// What the host assumes for a plugin whose table has no `score`.
pub const SCORE_UNSCORED: u32 = 50;

/// Type of [`BackendTable::run_frames`].
pub type RunFramesFn = unsafe extern "C" fn(
    handle: *mut c_void,
    input: *const f32,
    frames: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32;

/// The backend function table. Fields are only ever appended.
#[repr(C)]
pub struct BackendTable {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<BackendTable>()` as the plugin was built.
    pub table_size: u32,
    /// Backend name, static and NUL-terminated (e.g. `"cpu"`).
    pub name: *const c_char,
    /// Plugin version, static and NUL-terminated.
    pub version: *const c_char,
    /// Can this backend run here? Writes the reason into `msg` either way
    /// (e.g. "tract 0.23.9, 2 threads, avx512f" or "no CUDA driver").
    pub probe: unsafe extern "C" fn(msg: *mut c_char, msg_len: usize) -> i32,
    /// Precision variants in the order this backend runs them fastest on
    /// this machine, comma-separated (e.g. `"fp32,fp16,int8"`). The host's
    /// `auto` precision picks the first variant a model package has.
    pub precision_order: unsafe extern "C" fn(buf: *mut c_char, buf_len: usize) -> i32,
    /// Loads a model. On success writes an opaque handle to `*out`.
    pub create: unsafe extern "C" fn(
        desc: *const ModelDesc,
        out: *mut *mut c_void,
        err: *mut c_char,
        err_len: usize,
    ) -> i32,
    /// Runs `batch` items. `input` holds `batch * prod(input_shape)` f32,
    /// `output` has room for `batch * output_len` f32. Must be callable from
    /// several threads at once on the same handle.
    pub run: unsafe extern "C" fn(
        handle: *mut c_void,
        input: *const f32,
        batch: usize,
        output: *mut f32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32,
    /// Releases a handle from `create`. NULL is a no-op.
    pub destroy: unsafe extern "C" fn(handle: *mut c_void),
    // ---- optional from here on (see MIN_TABLE_SIZE) ----
    /// Optional. Asks the model `handle` to compute the front end `desc`
    /// itself, for `run_audio`. Any status but `Ok` (with the reason;
    /// `UnsupportedOp` when the backend cannot compute this front end)
    /// makes the host keep computing features and calling `run`. Called at
    /// most once per handle, before any run.
    pub set_frontend: Option<
        unsafe extern "C" fn(
            handle: *mut c_void,
            desc: *const FrontendDesc,
            err: *mut c_char,
            err_len: usize,
        ) -> i32,
    >,
    /// Optional (present when `set_frontend` is). Runs `batch` raw windows
    /// (`batch * window_samples` f32) through the front end and the network;
    /// `output` as for `run`. Callable from several threads at once.
    pub run_audio: Option<
        unsafe extern "C" fn(
            handle: *mut c_void,
            audio: *const f32,
            batch: usize,
            output: *mut f32,
            err: *mut c_char,
            err_len: usize,
        ) -> i32,
    >,
    /// Optional. For a model created with a `time_axis`: runs one item
    /// whose time axis has `frames` entries (1..=`max_frames`), i.e.
    /// `prod(input_shape) / input_shape[time_axis] * frames` f32; writes
    /// `output_len` values. Callable from several threads at once.
    pub run_frames: Option<
        unsafe extern "C" fn(
            handle: *mut c_void,
            input: *const f32,
            frames: usize,
            output: *mut f32,
            err: *mut c_char,
            err_len: usize,
        ) -> i32,
    >,
    /// Optional. How strongly `auto` should prefer this backend once its
    /// probe succeeded: `auto` ranks available backends by score, higher
    /// first, ties by name, as ggml's backend registry ranks devices by
    /// kind. A plugin returns the `SCORE_*` band of its kind and may add up
    /// to 99 for what it found on this machine. Absent: [`SCORE_UNSCORED`].
    pub score: Option<unsafe extern "C" fn() -> u32>,
}

/// Size of the table up to `destroy`: the smallest table a host accepts.
/// A table of this size has none of the optional fields.
pub const MIN_TABLE_SIZE: usize = std::mem::offset_of!(BackendTable, set_frontend);

// The table holds only static data and function pointers.
unsafe impl Sync for BackendTable {}
unsafe impl Send for BackendTable {}

/// Writes `msg` into a caller-owned C buffer, truncating on a UTF-8 boundary
/// and always NUL-terminating (when `len > 0`). Shared by plugins and host.
///
/// # Safety
/// `buf` must be NULL or valid for `len` bytes of writes.
pub unsafe fn write_c_str(buf: *mut c_char, len: usize, msg: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let mut n = msg.len().min(len - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: the caller guarantees `buf` is valid for `len` bytes, n < len.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_c_str_truncates_on_char_boundary() {
        let mut buf = [1 as c_char; 5];
        unsafe { write_c_str(buf.as_mut_ptr(), buf.len(), "abé€x") };
        let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(s.to_str().unwrap(), "abé");
    }

    #[test]
    fn unknown_status_is_internal() {
        assert_eq!(BackendStatus::from_raw(42), BackendStatus::Internal);
        assert_eq!(BackendStatus::from_raw(3), BackendStatus::UnsupportedOp);
    }
}
