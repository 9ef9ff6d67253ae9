//! Backends: safe wrappers over a plugin's [`BackendTable`], whether it came
//! from a shared library or was compiled into the core.

mod registry;

use std::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;

use dfd_backend_abi::{
    BackendStatus, BackendTable, FrontendTables, ModelDesc, RunAudioFn, RunFramesFn, NO_TIME_AXIS,
    SCORE_UNSCORED,
};

use crate::error::{Error, Result, Status};
use crate::model::Precision;

pub(crate) use registry::valid_name;
pub use registry::{check_plugin_dir, list, resolve, BackendInfo};

/// Where a backend's code lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into libdfd (feature `builtin-cpu`).
    Builtin,
    /// Loaded from this shared library.
    Plugin(PathBuf),
}

/// A loaded backend. Plugins are never unloaded, so the table is `'static`.
pub struct Backend {
    table: &'static BackendTable,
    name: String,
    origin: Origin,
}

const MSG_LEN: usize = 1024;

/// Reads the NUL-terminated message a plugin wrote into `buf`.
fn message(buf: &[c_char]) -> String {
    // SAFETY: `buf` was zeroed before the call, so a NUL exists even if the
    // plugin wrote nothing; `write_c_str` always terminates.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn status_for(code: BackendStatus) -> Status {
    match code {
        BackendStatus::Ok => Status::Ok,
        BackendStatus::Unavailable => Status::BackendUnavailable,
        BackendStatus::InvalidModel => Status::ModelCorrupt,
        BackendStatus::UnsupportedOp => Status::ModelUnsupported,
        BackendStatus::Runtime => Status::Backend,
        BackendStatus::InvalidArgument => Status::InvalidArg,
        BackendStatus::Internal => Status::Internal,
        BackendStatus::ShapeMismatch => Status::ModelKind,
    }
}

impl Backend {
    fn new(table: &'static BackendTable, origin: Origin) -> Result<Backend> {
        let name = if table.name.is_null() {
            String::new()
        } else {
            // SAFETY: the ABI requires a static NUL-terminated name.
            unsafe { CStr::from_ptr(table.name) }
                .to_string_lossy()
                .into_owned()
        };
        if name.is_empty() {
            return Err(Error::new(
                Status::PluginIncompatible,
                format!("{origin:?}: backend table has no name"),
            ));
        }
        Ok(Backend {
            table,
            name,
            origin,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether the backend can run here, with the plugin's explanation.
    pub fn probe(&self) -> (bool, String) {
        let mut buf = [0 as c_char; MSG_LEN];
        // SAFETY: buffer valid for MSG_LEN bytes; the plugin catches its own panics.
        let code = unsafe { (self.table.probe)(buf.as_mut_ptr(), buf.len()) };
        (code == 0, message(&buf))
    }

    /// How strongly `auto` prefers this backend when its probe succeeds:
    /// the plugin's own score, or [`SCORE_UNSCORED`] for a table without one.
    pub fn score(&self) -> u32 {
        match self.table.score {
            // SAFETY: the plugin catches its own panics; no arguments.
            Some(f) => unsafe { f() },
            None => SCORE_UNSCORED,
        }
    }

    /// Precision variants in the order this backend runs them fastest here.
    pub fn precision_order(&self) -> Vec<Precision> {
        let mut buf = [0 as c_char; 256];
        // SAFETY: as for `probe`.
        let code = unsafe { (self.table.precision_order)(buf.as_mut_ptr(), buf.len()) };
        let mut order: Vec<Precision> = if code == 0 {
            message(&buf)
                .split(',')
                .filter_map(|p| Precision::parse(p.trim()))
                .collect()
        } else {
            Vec::new()
        };
        // fp32 is the reference every backend runs; never leave it out.
        if !order.contains(&Precision::Fp32) {
            order.push(Precision::Fp32);
        }
        order
    }

    /// Whether the backend runs utterance models (`run_frames`).
    pub fn runs_utterances(&self) -> bool {
        self.table.run_frames.is_some()
    }

    /// Loads ONNX bytes on this backend. `time_axis`: (item axis, most
    /// frames) of an utterance model, whose input length on that axis
    /// follows the audio ([`BackendModel::run_frames`]).
    pub fn create(
        &self,
        onnx: &[u8],
        input_shape: &[u64],
        output_len: usize,
        threads: u32,
        max_batch: u32,
        time_axis: Option<(usize, usize)>,
    ) -> Result<BackendModel> {
        let frames = match (time_axis, self.table.run_frames) {
            (None, _) => None,
            (Some((axis, _)), Some(f)) => {
                let per_frame = input_shape.iter().product::<u64>() / input_shape[axis].max(1);
                Some((f, per_frame as usize))
            }
            (Some(_), None) => {
                return Err(Error::new(
                    Status::ModelUnsupported,
                    format!(
                        "backend {} cannot run a model whose time axis follows the audio (manifest \"utterance\"): it has no run_frames; use the cpu backend",
                        self.name
                    ),
                ))
            }
        };
        let desc = ModelDesc {
            struct_size: std::mem::size_of::<ModelDesc>() as u32,
            threads,
            onnx: onnx.as_ptr(),
            onnx_len: onnx.len(),
            input_shape: input_shape.as_ptr(),
            input_rank: input_shape.len(),
            output_len,
            max_batch,
            time_axis: time_axis.map_or(NO_TIME_AXIS, |(a, _)| a as u32),
            max_frames: time_axis.map_or(0, |(_, m)| m as u64),
        };
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut buf = [0 as c_char; MSG_LEN];
        // SAFETY: all pointers are valid for the duration of the call.
        let code = unsafe { (self.table.create)(&desc, &mut handle, buf.as_mut_ptr(), buf.len()) };
        let code = BackendStatus::from_raw(code);
        if code != BackendStatus::Ok || handle.is_null() {
            let status = if code == BackendStatus::Ok {
                Status::Internal
            } else {
                status_for(code)
            };
            return Err(Error::new(
                status,
                format!("backend {}: {}", self.name, message(&buf)),
            ));
        }
        Ok(BackendModel {
            table: self.table,
            handle,
            input_len: input_shape.iter().product::<u64>() as usize,
            output_len,
            audio: None,
            frames,
        })
    }
}

/// A model loaded on a backend; freed with the plugin's own `destroy`.
pub struct BackendModel {
    table: &'static BackendTable,
    handle: *mut c_void,
    input_len: usize,
    output_len: usize,
    /// Set when the backend computes the front end: `run_audio` and the
    /// samples per window it takes.
    audio: Option<(RunAudioFn, usize)>,
    /// An utterance model's `run_frames` and the values per frame.
    frames: Option<(RunFramesFn, usize)>,
}

// SAFETY: the plugin ABI requires `run` to be callable concurrently on one
// handle, and the handle is only destroyed once, on drop.
unsafe impl Send for BackendModel {}
unsafe impl Sync for BackendModel {}

impl BackendModel {
    /// Runs `batch` items; `input` and `output` must match the lengths given at creation.
    pub fn run(&self, input: &[f32], batch: usize, output: &mut [f32]) -> Result<()> {
        let lens = (batch * self.input_len, batch * self.output_len);
        self.call(self.table.run, input, batch, lens, output)
    }

    /// Offers the front end to the backend. `None`: accepted, call
    /// [`run_audio`](Self::run_audio) from now on; `Some(why)`: the backend
    /// has no front end, not this one, or failed to set it up (the message
    /// says which); keep calling `run`.
    pub fn offload_frontend(&mut self, t: &FrontendTables) -> Option<String> {
        let (Some(set), Some(run_audio)) = (self.table.set_frontend, self.table.run_audio) else {
            return Some("the backend computes no front end".into());
        };
        let desc = t.desc();
        let mut buf = [0 as c_char; MSG_LEN];
        // SAFETY: `desc` and the tables it points to outlive the call.
        let code = unsafe { set(self.handle, &desc, buf.as_mut_ptr(), buf.len()) };
        match BackendStatus::from_raw(code) {
            BackendStatus::Ok => {
                self.audio = Some((run_audio, t.window_samples));
                None
            }
            BackendStatus::UnsupportedOp => Some(message(&buf)),
            other => Some(format!(
                "setting it up failed: {} ({:?})",
                message(&buf),
                status_for(other)
            )),
        }
    }

    /// Runs one item of an utterance model whose time axis has `frames`
    /// entries (`frames` values per frame each), writing `output_len` values.
    pub fn run_frames(&self, input: &[f32], frames: usize, output: &mut [f32]) -> Result<()> {
        let Some((run_frames, per_frame)) = self.frames else {
            return Err(Error::new(
                Status::Internal,
                "run_frames on a backend model without a time axis",
            ));
        };
        let lens = (per_frame * frames, self.output_len);
        self.call(run_frames, input, frames, lens, output)
    }

    /// Whether [`offload_frontend`](Self::offload_frontend) was accepted.
    pub fn takes_audio(&self) -> bool {
        self.audio.is_some()
    }

    /// Runs `batch` raw windows through the backend's front end and the
    /// network (only after an accepted `offload_frontend`).
    pub fn run_audio(&self, audio: &[f32], batch: usize, output: &mut [f32]) -> Result<()> {
        let Some((run_audio, window)) = self.audio else {
            return Err(Error::new(
                Status::Internal,
                "run_audio on a backend model without its front end",
            ));
        };
        let lens = (batch * window, batch * self.output_len);
        self.call(run_audio, audio, batch, lens, output)
    }

    /// Calls `run`, `run_audio` or `run_frames` (one signature) with
    /// `count` (the batch, or the frames), checking the buffers' `lens`
    /// (input, output).
    fn call(
        &self,
        f: RunAudioFn,
        input: &[f32],
        count: usize,
        lens: (usize, usize),
        output: &mut [f32],
    ) -> Result<()> {
        if (input.len(), output.len()) != lens {
            return Err(Error::new(
                Status::Internal,
                "backend run with mismatched buffer lengths",
            ));
        }
        let mut buf = [0 as c_char; MSG_LEN];
        // SAFETY: lengths checked above; handle alive until drop.
        let code = unsafe {
            f(
                self.handle,
                input.as_ptr(),
                count,
                output.as_mut_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        match BackendStatus::from_raw(code) {
            BackendStatus::Ok => Ok(()),
            other => Err(Error::new(status_for(other), message(&buf))),
        }
    }
}

impl Drop for BackendModel {
    fn drop(&mut self) {
        // SAFETY: handle came from this table's `create` and is dropped once.
        unsafe { (self.table.destroy)(self.handle) }
    }
}
