//! The plugin side of the ABI, written once for every Rust backend.
//!
//! A backend implements [`Backend`] (probe, score, precision order, create)
//! and [`Model`] (run, and optionally the front end), then calls
//! [`export_backend!`](crate::export_backend): that defines the static
//! [`BackendTable`], the `dfd_backend_v1` entry point and a `table()`
//! function for cores that compile the backend in. Everything at the
//! boundary is here: the panic guard (panics become `Internal` with their
//! message and location, and stay silent), NULL / size / batch checks, the
//! [`ModelDesc`] and [`FrontendDesc`] readers, handle ownership, and writing
//! outputs only on success.

use std::ffi::{c_char, c_void, CStr};

use crate::{
    write_c_str, BackendStatus, BackendTable, FrontendDesc, FrontendTables, ModelDesc, ABI_VERSION,
    NO_TIME_AXIS,
};

/// A plugin error: the status the host sees plus its message.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub status: BackendStatus,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(status: BackendStatus, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }
    pub fn unavailable(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::Unavailable, m)
    }
    pub fn invalid_model(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::InvalidModel, m)
    }
    pub fn unsupported(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::UnsupportedOp, m)
    }
    pub fn runtime(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::Runtime, m)
    }
    pub fn arg(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::InvalidArgument, m)
    }
    /// The graph disagrees with the host's input shape or output length.
    pub fn mismatch(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::ShapeMismatch, m)
    }
    pub fn internal(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::Internal, m)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

/// Largest item rank a backend accepts in [`ModelDesc::input_rank`].
pub const MAX_INPUT_RANK: usize = 8;
/// Largest number of values in one input item.
pub const MAX_ITEM_LEN: usize = 1 << 31;
/// Largest [`ModelDesc::max_frames`] of an utterance model.
pub const MAX_FRAMES: usize = 1 << 31;

/// How a graph's batch axis takes the host's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// The batch axis is symbolic: a host batch runs in one call.
    Symbolic,
    /// The graph has a fixed batch: items run in chunks of this size.
    Fixed(usize),
}

/// A checked [`ModelDesc`]: what `create` hands to [`Backend::create`].
#[derive(Debug, Clone)]
pub struct ModelSpec<'a> {
    /// The ONNX bytes (borrowed for the duration of `create`).
    pub onnx: &'a [u8],
    /// One item's shape, without the batch axis; every dim > 0.
    pub item_shape: Vec<usize>,
    pub output_len: usize,
    pub max_batch: usize,
    /// 0: the backend's default.
    pub threads: usize,
    /// (item axis, most frames) of an utterance model, whose input length
    /// on that axis follows the audio (`run_frames`); `None`: fixed input.
    pub time_axis: Option<(usize, usize)>,
}

impl ModelSpec<'_> {
    pub fn item_len(&self) -> usize {
        self.item_shape.iter().product()
    }

    /// Values per frame of the time axis and the most frames of a
    /// `run_frames` item (`None` without a time axis).
    pub fn frames(&self) -> Option<(usize, usize)> {
        self.time_axis
            .map(|(axis, max)| (self.item_len() / self.item_shape[axis], max))
    }
}

/// Reads and checks a host's [`ModelDesc`].
///
/// # Safety
/// `desc` must be NULL or point to at least `struct_size` readable bytes
/// whose pointers are valid for the lengths the fields give.
pub unsafe fn read_model_desc<'a>(desc: *const ModelDesc) -> Result<ModelSpec<'a>> {
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
    let time_axis =
        (d.time_axis != NO_TIME_AXIS).then_some((d.time_axis as usize, d.max_frames as usize));
    if let Some((axis, max_frames)) = time_axis {
        if axis >= d.input_rank || max_frames == 0 || max_frames > MAX_FRAMES {
            return Err(Error::arg(format!(
                "create: time_axis {axis} is not an axis of a rank-{} item, or max_frames {} is not in 1..=2^31",
                d.input_rank, d.max_frames
            )));
        }
    }
    // SAFETY: checked non-NULL; the host passes input_rank values.
    let shape = unsafe { std::slice::from_raw_parts(d.input_shape, d.input_rank) };
    let mut item_shape = Vec::with_capacity(shape.len());
    let mut len: usize = 1;
    for &s in shape {
        let dim = usize::try_from(s).ok().filter(|&s| s > 0);
        match dim.and_then(|s| len.checked_mul(s).map(|l| (s, l))) {
            Some((s, l)) if l <= MAX_ITEM_LEN => {
                item_shape.push(s);
                len = l;
            }
            _ => {
                return Err(Error::arg(format!(
                    "create: input_shape {shape:?} has a zero or absurd dimension"
                )))
            }
        }
    }
    Ok(ModelSpec {
        // SAFETY: checked non-NULL; valid for onnx_len bytes during `create`.
        onnx: unsafe { std::slice::from_raw_parts(d.onnx, d.onnx_len) },
        item_shape,
        output_len: d.output_len,
        max_batch: d.max_batch as usize,
        threads: d.threads as usize,
        time_axis,
    })
}

/// A backend: what it says about this machine and how it loads a model.
pub trait Backend: 'static {
    type Model: Model;
    /// The backend's name (`libdfd_backend_<name>.so`).
    const NAME: &'static CStr;
    /// The plugin's version.
    const VERSION: &'static CStr;
    /// Whether models implement [`Model::set_frontend`] / [`Model::run_audio`]
    /// (fills the table's optional front-end fields).
    const COMPUTES_FRONTEND: bool = false;
    /// Whether models implement [`Model::run_frames`] (utterance models,
    /// [`ModelSpec::time_axis`]); fills the table's `run_frames`. Without
    /// it `create` refuses such a model with `UnsupportedOp`, saying so.
    const RUNS_UTTERANCES: bool = false;
    /// A one-line description when the backend can run here, else an
    /// `Unavailable` error saying why.
    fn probe() -> Result<String>;
    /// How strongly `auto` should prefer this backend (`SCORE_*` bands).
    fn score() -> u32;
    /// Precision variants fastest first here, comma-separated.
    fn precision_order() -> String;
    fn create(spec: &ModelSpec) -> Result<Self::Model>;
}

/// A loaded model. `run` is called from several threads at once. The SDK
/// keeps the [`ModelSpec`]'s sizes and checks every call against them.
pub trait Model: Send + Sync + Sized + 'static {
    /// Runs `batch` items (`input.len() == batch * item_len`, batch checked
    /// against `max_batch`); returns `batch * output_len` values.
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>>;
    /// Takes over the host's front end (only with
    /// [`Backend::COMPUTES_FRONTEND`]); `UnsupportedOp` when it cannot.
    fn set_frontend(&self, tables: FrontendTables) -> Result<()> {
        let _ = tables;
        Err(Error::unsupported("the backend computes no front end"))
    }
    /// Samples per window `run_audio` takes, once `set_frontend` succeeded.
    fn audio_window(&self) -> Option<usize> {
        None
    }
    /// Runs `batch` raw windows through the front end and the network.
    fn run_audio(&self, audio: &[f32], batch: usize) -> Result<Vec<f32>> {
        let _ = (audio, batch);
        Err(Error::arg("run_audio before an accepted set_frontend"))
    }
    /// Runs one item of an utterance model (only with
    /// [`Backend::RUNS_UTTERANCES`]) whose time axis has `frames` entries
    /// (checked against `max_frames`; `input` holds that many frames);
    /// returns `output_len` values.
    fn run_frames(&self, input: &[f32], frames: usize) -> Result<Vec<f32>> {
        let _ = (input, frames);
        Err(Error::unsupported("the backend runs no utterance model"))
    }
}

/// Runs `f` with panics caught and silent (through [`crate::panic::catch`],
/// the one panic boundary); a panic becomes an `Internal` error naming `who`.
pub fn catch<T>(who: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::panic::catch(f).unwrap_or_else(|panic| {
        Err(Error::internal(format!(
            "panic in the {who} backend: {panic}"
        )))
    })
}

/// The status boundary: runs `f` under [`catch`], writes an error's message
/// into the caller's buffer and returns its status (0 on success).
///
/// # Safety
/// `err` must be NULL or valid for `err_len` bytes.
pub unsafe fn guard(
    who: &str,
    err: *mut c_char,
    err_len: usize,
    f: impl FnOnce() -> Result<()>,
) -> i32 {
    match catch(who, f) {
        Ok(()) => BackendStatus::Ok as i32,
        Err(e) => {
            // SAFETY: forwarded from the caller.
            unsafe { write_c_str(err, err_len, &e.message) };
            e.status as i32
        }
    }
}

/// What a handle points to: the model and the sizes it was created for,
/// behind a tag naming its backend, so a foreign or freed handle is
/// refused in most cases.
struct Handle<M> {
    tag: u64,
    item_len: usize,
    output_len: usize,
    max_batch: usize,
    /// [`ModelSpec::frames`].
    frames: Option<(usize, usize)>,
    model: M,
}

/// Runs `input` (items of `item_len` values) in calls of exactly `chunk`
/// items, the last one zero-padded, keeping `output_len` values per real
/// item: how a graph with a fixed batch axis runs any host batch.
pub fn run_padded(
    input: &[f32],
    item_len: usize,
    output_len: usize,
    chunk: usize,
    mut f: impl FnMut(&[f32]) -> Result<Vec<f32>>,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(input.len() / item_len.max(1) * output_len);
    let mut padded = Vec::new();
    for items in input.chunks(chunk * item_len) {
        let n = items.len() / item_len;
        let values = if n < chunk {
            padded.clear();
            padded.extend_from_slice(items);
            padded.resize(chunk * item_len, 0.0);
            f(&padded)?
        } else {
            f(items)?
        };
        if values.len() < n * output_len {
            return Err(Error::runtime(format!(
                "a call on {chunk} items returned {} values, expected at least {}",
                values.len(),
                n * output_len
            )));
        }
        out.extend_from_slice(&values[..n * output_len]);
    }
    Ok(out)
}

/// FNV-1a of the backend name: each backend's handles carry their own tag.
const fn tag_of(name: &CStr) -> u64 {
    let bytes = name.to_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

fn name<B: Backend>() -> &'static str {
    B::NAME.to_str().unwrap_or("plugin")
}

/// The live model behind `handle`.
///
/// # Safety
/// `handle` must be NULL or a pointer from this backend's `create` not yet destroyed.
unsafe fn model<'a, B: Backend>(handle: *mut c_void, what: &str) -> Result<&'a Handle<B::Model>> {
    // SAFETY: per the contract, a non-NULL handle points to a Handle.
    let h = unsafe { handle.cast::<Handle<B::Model>>().as_ref() }
        .ok_or_else(|| Error::arg(format!("{what}: handle is NULL")))?;
    if h.tag != tag_of(B::NAME) {
        return Err(Error::arg(format!(
            "{what}: not a live {} backend handle",
            name::<B>()
        )));
    }
    Ok(h)
}

unsafe extern "C" fn probe<B: Backend>(msg: *mut c_char, msg_len: usize) -> i32 {
    // SAFETY: the host passes a buffer valid for msg_len bytes (or NULL).
    unsafe {
        guard(name::<B>(), msg, msg_len, || {
            let text = B::probe()?;
            write_c_str(msg, msg_len, &text);
            Ok(())
        })
    }
}

unsafe extern "C" fn score<B: Backend>() -> u32 {
    catch(name::<B>(), || Ok(B::score())).unwrap_or(0)
}

unsafe extern "C" fn precision_order<B: Backend>(buf: *mut c_char, buf_len: usize) -> i32 {
    // SAFETY: as in `probe`.
    unsafe {
        guard(name::<B>(), buf, buf_len, || {
            let order = B::precision_order();
            if buf.is_null() || buf_len <= order.len() {
                return Err(Error::arg(format!(
                    "precision_order: buffer of {buf_len} bytes, need {}",
                    order.len() + 1
                )));
            }
            write_c_str(buf, buf_len, &order);
            Ok(())
        })
    }
}

unsafe extern "C" fn create<B: Backend>(
    desc: *const ModelDesc,
    out: *mut *mut c_void,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes valid pointers or NULL; NULLs are checked.
    unsafe {
        guard(name::<B>(), err, err_len, || {
            let spec = read_model_desc(desc)?;
            if out.is_null() {
                return Err(Error::arg("create: out is NULL"));
            }
            if let (Some((axis, _)), false) = (spec.time_axis, B::RUNS_UTTERANCES) {
                return Err(Error::unsupported(format!(
                    "the {} backend runs fixed input shapes only, and this model's input axis {axis} follows the audio (an utterance model, manifest \"utterance\"); run it on the cpu backend",
                    name::<B>()
                )));
            }
            let model = B::create(&spec)?;
            let handle = Handle {
                tag: tag_of(B::NAME),
                item_len: spec.item_len(),
                output_len: spec.output_len,
                max_batch: spec.max_batch,
                frames: spec.frames(),
                model,
            };
            *out = Box::into_raw(Box::new(handle)).cast::<c_void>();
            Ok(())
        })
    }
}

/// What `run` and `run_audio` share: the handle, NULL and batch checks,
/// `item` values per input item, and copying `f`'s values out on success.
///
/// # Safety
/// `handle` from `create` (or NULL); `input` valid for `batch * item` reads
/// and `output` for `batch * output_len` writes when non-NULL.
unsafe fn run_checked<B: Backend>(
    handle: *mut c_void,
    input: *const f32,
    batch: usize,
    output: *mut f32,
    what: &str,
    item: impl FnOnce(&Handle<B::Model>) -> Result<usize>,
    f: impl FnOnce(&B::Model, &[f32]) -> Result<Vec<f32>>,
) -> Result<()> {
    // SAFETY: forwarded from the caller.
    let h = unsafe { model::<B>(handle, what) }?;
    if input.is_null() {
        return Err(Error::arg(format!("{what}: input is NULL")));
    }
    if output.is_null() {
        return Err(Error::arg(format!("{what}: output is NULL")));
    }
    let max = h.max_batch;
    if batch == 0 || batch > max {
        return Err(Error::arg(format!(
            "{what}: batch is {batch}, expected 1..={max} (max_batch at create)"
        )));
    }
    let n = batch * item(h)?;
    // SAFETY: the host passes `batch` items of `item` values.
    let values = f(&h.model, unsafe { std::slice::from_raw_parts(input, n) })?;
    let want = batch * h.output_len;
    if values.len() != want {
        return Err(Error::internal(format!(
            "{what}: the backend made {} values, expected {want}",
            values.len()
        )));
    }
    // Written only on success. SAFETY: room for batch * output_len values.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), output, want) };
    Ok(())
}

unsafe extern "C" fn run<B: Backend>(
    handle: *mut c_void,
    input: *const f32,
    batch: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host's contract for `run`, forwarded.
    unsafe {
        guard(name::<B>(), err, err_len, || {
            run_checked::<B>(
                handle,
                input,
                batch,
                output,
                "run",
                |h| Ok(h.item_len),
                |m, x| m.run(x, batch),
            )
        })
    }
}

unsafe extern "C" fn set_frontend<B: Backend>(
    handle: *mut c_void,
    desc: *const FrontendDesc,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host passes a handle from `create` and a valid desc.
    unsafe {
        guard(name::<B>(), err, err_len, || {
            let h = model::<B>(handle, "set_frontend")?;
            h.model.set_frontend(FrontendTables::from_desc(desc)?)
        })
    }
}

unsafe extern "C" fn run_audio<B: Backend>(
    handle: *mut c_void,
    audio: *const f32,
    batch: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host's contract for `run_audio`, forwarded.
    unsafe {
        guard(name::<B>(), err, err_len, || {
            run_checked::<B>(
                handle,
                audio,
                batch,
                output,
                "run_audio",
                |h| {
                    h.model
                        .audio_window()
                        .ok_or_else(|| Error::arg("run_audio before an accepted set_frontend"))
                },
                |m, x| m.run_audio(x, batch),
            )
        })
    }
}

unsafe extern "C" fn run_frames<B: Backend>(
    handle: *mut c_void,
    input: *const f32,
    frames: usize,
    output: *mut f32,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: the host's contract for `run_frames`: one item of `frames`
    // frames in, `output_len` values out.
    unsafe {
        guard(name::<B>(), err, err_len, || {
            let h = model::<B>(handle, "run_frames")?;
            if input.is_null() || output.is_null() {
                return Err(Error::arg("run_frames: input or output is NULL"));
            }
            let (per_frame, max_frames) = h.frames.ok_or_else(|| {
                Error::arg("run_frames: the model was created without a time_axis")
            })?;
            if frames == 0 || frames > max_frames {
                return Err(Error::arg(format!(
                    "run_frames: frames is {frames}, expected 1..={max_frames} (max_frames at create)"
                )));
            }
            let x = std::slice::from_raw_parts(input, per_frame * frames);
            let values = h.model.run_frames(x, frames)?;
            if values.len() != h.output_len {
                return Err(Error::internal(format!(
                    "run_frames: the backend made {} values, expected {}",
                    values.len(),
                    h.output_len
                )));
            }
            // Written only on success.
            std::ptr::copy_nonoverlapping(values.as_ptr(), output, h.output_len);
            Ok(())
        })
    }
}

unsafe extern "C" fn destroy<B: Backend>(handle: *mut c_void) {
    if handle.is_null() {
        return;
    }
    // A panic in a destructor is swallowed: there is nowhere to report it.
    let _ = catch(name::<B>(), || {
        // SAFETY: `handle` came from `create` and is released once.
        let mut h = unsafe { Box::from_raw(handle.cast::<Handle<B::Model>>()) };
        h.tag = 0;
        drop(h);
        Ok(())
    });
}

/// The table of backend `B` (use [`export_backend!`](crate::export_backend)).
pub const fn table<B: Backend>() -> BackendTable {
    BackendTable {
        abi_version: ABI_VERSION,
        table_size: std::mem::size_of::<BackendTable>() as u32,
        name: B::NAME.as_ptr(),
        version: B::VERSION.as_ptr(),
        probe: probe::<B>,
        precision_order: precision_order::<B>,
        create: create::<B>,
        run: run::<B>,
        destroy: destroy::<B>,
        set_frontend: if B::COMPUTES_FRONTEND {
            Some(set_frontend::<B>)
        } else {
            None
        },
        run_audio: if B::COMPUTES_FRONTEND {
            Some(run_audio::<B>)
        } else {
            None
        },
        run_frames: if B::RUNS_UTTERANCES {
            Some(run_frames::<B>)
        } else {
            None
        },
        score: Some(score::<B>),
    }
}

/// The calling crate's `CARGO_PKG_VERSION` as a `&'static CStr`, for
/// [`Backend::VERSION`].
#[macro_export]
macro_rules! plugin_version {
    () => {
        match ::std::ffi::CStr::from_bytes_with_nul(
            concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
        ) {
            Ok(v) => v,
            Err(_) => panic!("CARGO_PKG_VERSION holds a NUL"),
        }
    };
}

/// Defines, for backend type `$b`, the static table, the exported
/// `dfd_backend_v1` entry point and `pub fn table()` (for a core that
/// compiles the backend in). Use once, at the crate root.
#[macro_export]
macro_rules! export_backend {
    ($b:ty) => {
        static TABLE: $crate::BackendTable = $crate::sdk::table::<$b>();

        /// The backend table, for a core that compiles this backend in.
        pub fn table() -> &'static $crate::BackendTable {
            &TABLE
        }

        /// The plugin entry point (`dfd_backend_v1`).
        ///
        /// # Safety
        /// Always safe to call; `unsafe` only because the ABI type says so.
        #[no_mangle]
        pub unsafe extern "C" fn dfd_backend_v1() -> *const $crate::BackendTable {
            &TABLE
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_panics_into_internal() {
        let mut buf = [0 as c_char; 128];
        let rc = unsafe {
            guard("test", buf.as_mut_ptr(), buf.len(), || {
                panic!("boom {}", 42)
            })
        };
        assert_eq!(rc, BackendStatus::Internal as i32);
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert!(
            msg.contains("test backend") && msg.contains("boom 42") && msg.contains("sdk.rs"),
            "{msg}"
        );
    }

    #[test]
    fn model_desc_checks_every_field() {
        let onnx = [1u8, 2, 3];
        let shape = [1u64, 40, 101];
        let good = ModelDesc {
            struct_size: std::mem::size_of::<ModelDesc>() as u32,
            threads: 2,
            onnx: onnx.as_ptr(),
            onnx_len: onnx.len(),
            input_shape: shape.as_ptr(),
            input_rank: shape.len(),
            output_len: 1,
            max_batch: 8,
            time_axis: NO_TIME_AXIS,
            max_frames: 0,
        };
        let spec = unsafe { read_model_desc(&good) }.unwrap();
        assert_eq!(
            (spec.item_shape.clone(), spec.item_len(), spec.frames()),
            (vec![1, 40, 101], 4040, None)
        );
        let utterance = ModelDesc {
            time_axis: 2,
            max_frames: 3001,
            ..good
        };
        let spec = unsafe { read_model_desc(&utterance) }.unwrap();
        assert_eq!(
            (spec.time_axis, spec.frames()),
            (Some((2, 3001)), Some((40, 3001)))
        );
        let zero = [1u64, 0, 3];
        let huge = [u64::MAX, 2];
        for (bad, why) in [
            (
                ModelDesc {
                    struct_size: 4,
                    ..good
                },
                "struct_size",
            ),
            (
                ModelDesc {
                    onnx_len: 0,
                    ..good
                },
                "ONNX bytes",
            ),
            (
                ModelDesc {
                    input_rank: 9,
                    ..good
                },
                "input_rank",
            ),
            (
                ModelDesc {
                    output_len: 0,
                    ..good
                },
                "output_len",
            ),
            (
                ModelDesc {
                    max_batch: 0,
                    ..good
                },
                "max_batch",
            ),
            (
                ModelDesc {
                    time_axis: 3,
                    max_frames: 10,
                    ..good
                },
                "time_axis 3",
            ),
            (
                ModelDesc {
                    time_axis: 2,
                    max_frames: 0,
                    ..good
                },
                "max_frames 0",
            ),
            (
                ModelDesc {
                    input_shape: zero.as_ptr(),
                    ..good
                },
                "absurd",
            ),
            (
                ModelDesc {
                    input_shape: huge.as_ptr(),
                    input_rank: 2,
                    ..good
                },
                "absurd",
            ),
        ] {
            let e = unsafe { read_model_desc(&bad) }.unwrap_err();
            assert_eq!(e.status, BackendStatus::InvalidArgument);
            assert!(e.message.contains(why), "{why}: {}", e.message);
        }
        assert!(unsafe { read_model_desc(std::ptr::null()) }.is_err());
    }
}
