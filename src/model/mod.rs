//! Model packages: an ONNX graph plus its [`Manifest`], loaded on a backend.
//!
//! Every form a model comes in is a [`Source`] (`source.rs` holds the one
//! dispatch):
//! - one `.onnx` file whose `metadata_props["dfd.manifest"]` holds the manifest;
//! - a foreign `.onnx` file with a sidecar manifest `<stem>.json` beside it;
//! - a package directory with `manifest.json` listing precision variants;
//! - ONNX bytes in memory (manifest embedded), or the built-in model.

mod builtin;
pub mod manifest;
pub mod onnx;
mod options;
mod source;

use std::path::Path;
use std::sync::Arc;

pub use builtin::{Builtin, BUILTIN_PREFIX};
pub use manifest::{
    Aggregate, Calibration, Gate, GraphOutput, Manifest, Output, Precision, Utterance,
};
pub use options::{BackendChoice, ModelOptions, PrecisionChoice};
use source::Pick;
pub use source::{Source, StoredModel};

use crate::backend::{self, Backend, BackendModel, Origin};
use crate::error::{bail, Error, Result, Status};
use crate::frontend::Frontend;
use crate::log::log;

/// Most windows one stream hands to the backend in one call.
pub const MAX_BATCH: usize = 16;

/// Most windows in one backend call: [`crate::infer_streams`] packs the
/// windows of many streams up to this (a GPU wants large batches).
pub const BACKEND_BATCH: usize = 256;

/// A loaded model: immutable and shared by any number of streams and threads.
#[derive(Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

struct Inner {
    manifest: Manifest,
    precision: Precision,
    backend: Arc<Backend>,
    net: BackendModel,
    frontend: Frontend,
}

impl Model {
    /// Loads a model file or package directory.
    pub fn load(path: impl AsRef<Path>, options: &ModelOptions) -> Result<Model> {
        Model::open(Source::Path(path.as_ref()), options)
    }

    /// Loads a single ONNX file (with its manifest embedded) from memory.
    /// The bytes are only borrowed for the duration of the call.
    pub fn load_from_memory(bytes: &[u8], options: &ModelOptions) -> Result<Model> {
        Model::open(Source::Memory(bytes), options)
    }

    /// Loads a model from any source: the variant asked for, or under auto
    /// the backend's fastest one that the source has. Under auto, a model
    /// the best-ranked backend cannot take (an operator or input it does
    /// not support, an utterance model) is loaded on cpu instead, logged;
    /// where no cpu backend can be found, that backend's refusal is the error.
    pub fn open(source: Source, options: &ModelOptions) -> Result<Model> {
        crate::limits::check_threads(options.threads)?;
        let backend = backend::resolve(&options.backend, options.plugin_dir.as_deref())?;
        if options.backend != BackendChoice::Auto || backend.name() == "cpu" {
            return Model::open_on(source, backend, options);
        }
        match Model::open_on(source, backend.clone(), options) {
            Err(e) if matches!(e.status, Status::ModelUnsupported | Status::Backend) => {
                log!(
                    Info,
                    "backend auto: {} cannot run this model ({e}); using cpu",
                    backend.name()
                );
                match backend::resolve(
                    &BackendChoice::Named("cpu".into()),
                    options.plugin_dir.as_deref(),
                ) {
                    Ok(cpu) => Model::open_on(source, cpu, options),
                    // No cpu to fall back to (a phone with only the rten
                    // plugin): the first backend's reason is the answer.
                    Err(_) => Err(e),
                }
            }
            loaded => loaded,
        }
    }

    fn open_on(source: Source, backend: Arc<Backend>, options: &ModelOptions) -> Result<Model> {
        let stored = source.read(options.precision, Pick::Fastest(backend.precision_order()))?;
        if stored.manifest.utterance.is_some() && !backend.runs_utterances() {
            bail!(
                ModelUnsupported,
                "backend {} cannot run an utterance model (manifest `utterance`); use cpu",
                backend.name()
            );
        }
        Model::build(stored, backend, options)
    }

    fn build(stored: StoredModel, backend: Arc<Backend>, options: &ModelOptions) -> Result<Model> {
        let StoredModel {
            onnx,
            manifest,
            precision,
            ..
        } = stored;
        let frontend = Frontend::new(&manifest.frontend, manifest.sample_rate, manifest.window)
            .map_err(|e| {
                Error::new(
                    Status::ModelKind,
                    format!("model {:?}: front end: {e}", manifest.name),
                )
            })?;
        let max_frames = match manifest.utterance {
            Some(u) => Some(utterance_frames(&manifest, u, frontend.output_len())?),
            None => None,
        };
        if frontend.fills_frames() || manifest.utterance.is_some() {
            // The shortest window scored must have a front end of its own.
            Frontend::new(
                &manifest.frontend,
                manifest.sample_rate,
                manifest.min_audio(),
            )
            .map_err(|e| {
                Error::new(
                    Status::ModelKind,
                    format!(
                        "model {:?}: min_audio ({} samples) is too short for the front end: {e}",
                        manifest.name,
                        manifest.min_audio()
                    ),
                )
            })?;
        }
        if frontend.output_len() != manifest.input_len() {
            bail!(
                ModelKind,
                "model {:?}: the front end makes {:?} ({} values) per window but input_shape is {:?} ({} values)",
                manifest.name,
                frontend.output_shape(),
                frontend.output_len(),
                manifest.input_shape,
                manifest.input_len()
            );
        }
        // A graph with several outputs: keep the one the manifest names.
        let onnx = match &manifest.graph_output {
            Some(which) => onnx::select_output(&onnx, which).map_err(|e| {
                Error::new(
                    e.status,
                    format!("model {:?}: {}", manifest.name, e.message),
                )
            })?,
            None => onnx,
        };
        let mut net = backend
            .create(
                &onnx,
                &manifest.input_shape,
                manifest.output.len(),
                options.threads,
                BACKEND_BATCH as u32,
                manifest
                    .utterance
                    .zip(max_frames)
                    .map(|(u, m)| (u.time_axis, m)),
            )
            .map_err(|e| several_outputs_hint(e, &onnx, &manifest))?;
        // A backend that can compute this front end gets raw windows; one
        // that cannot (or fails to set it up) gets features, as any backend.
        // An utterance's features are always the host's (any length).
        let why_not = match frontend.offload_tables() {
            Ok(_) if max_frames.is_some() => Some("an utterance model".to_string()),
            Ok(tables) => net.offload_frontend(&tables),
            Err(why) => Some(format!("it has {why}")),
        };
        log!(
            Info,
            "model {:?} ({}) loaded on backend {}, front end on {}",
            manifest.name,
            precision.as_str(),
            backend.name(),
            match &why_not {
                None => format!("backend {}", backend.name()),
                Some(why) => format!("the CPU ({why})"),
            }
        );
        Ok(Model {
            inner: Arc::new(Inner {
                manifest,
                precision,
                backend,
                net,
                frontend,
            }),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The precision variant actually loaded.
    pub fn precision(&self) -> Precision {
        self.inner.precision
    }

    /// The backend the model actually runs on (never a silent fallback).
    pub fn backend_name(&self) -> &str {
        self.inner.backend.name()
    }

    pub fn backend_origin(&self) -> &Origin {
        self.inner.backend.origin()
    }

    /// The front end as configured by the manifest (clone it to compute).
    pub fn frontend(&self) -> &Frontend {
        &self.inner.frontend
    }

    /// Whether the backend computes the front end: streams then hand it raw
    /// windows instead of features.
    pub fn frontend_on_backend(&self) -> bool {
        self.inner.net.takes_audio()
    }

    /// Values per window a stream hands to the backend: `window` samples
    /// when [`frontend_on_backend`](Self::frontend_on_backend), else the
    /// features (`manifest().input_len()`).
    pub fn window_input_len(&self) -> usize {
        if self.frontend_on_backend() {
            self.inner.manifest.window
        } else {
            self.inner.manifest.input_len()
        }
    }

    /// Runs `batch` feature windows (each `manifest().input_len()` values)
    /// through the network and writes one calibrated logit of "synthetic"
    /// per window into `logits`. `scratch` holds the raw outputs; reuse it
    /// across calls to avoid allocating. `batch` is at most
    /// [`BACKEND_BATCH`]. Streams call this; it is public for benchmarks and
    /// for callers with their own features.
    pub fn infer(
        &self,
        features: &[f32],
        batch: usize,
        scratch: &mut Vec<f32>,
        logits: &mut [f32],
    ) -> Result<()> {
        self.run(features, false, batch, scratch, logits)
    }

    /// Runs windows as streams hold them: raw samples when the backend
    /// computes the front end, else features.
    pub(crate) fn run_windows(
        &self,
        input: &[f32],
        batch: usize,
        scratch: &mut Vec<f32>,
        logits: &mut [f32],
    ) -> Result<()> {
        self.run(input, self.frontend_on_backend(), batch, scratch, logits)
    }

    /// Values per frame of an utterance model's input (the item's size
    /// over its time axis); `None` for a fixed-input model.
    pub(crate) fn utterance_frame_len(&self) -> Option<usize> {
        let m = &self.inner.manifest;
        m.utterance
            .map(|u| m.input_len() / m.input_shape[u.time_axis] as usize)
    }

    /// Runs an utterance model on a whole utterance's features
    /// (`frames` frames) and returns its calibrated logit of "synthetic";
    /// `scratch` gets the raw outputs.
    pub(crate) fn run_utterance(
        &self,
        features: &[f32],
        frames: usize,
        scratch: &mut Vec<f32>,
    ) -> Result<f32> {
        scratch.resize(self.inner.manifest.output.len(), 0.0);
        self.inner.net.run_frames(features, frames, scratch)?;
        self.calibrated(scratch)
    }

    /// Whether both are the same loaded model (clones share one).
    pub(crate) fn same(&self, other: &Model) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// One backend call on features, or on raw windows when `audio`.
    fn run(
        &self,
        input: &[f32],
        audio: bool,
        batch: usize,
        scratch: &mut Vec<f32>,
        logits: &mut [f32],
    ) -> Result<()> {
        let m = &self.inner.manifest;
        let per = m.output.len();
        scratch.resize(batch * per, 0.0);
        if audio {
            self.inner.net.run_audio(input, batch, scratch)?;
        } else {
            self.inner.net.run(input, batch, scratch)?;
        }
        for (i, out) in scratch.chunks_exact(per).enumerate() {
            logits[i] = self.calibrated(out)?;
        }
        Ok(())
    }

    /// The calibrated logit of "synthetic" for one item's raw outputs.
    fn calibrated(&self, out: &[f32]) -> Result<f32> {
        let m = &self.inner.manifest;
        let z = m.output.fake_logit(out);
        if !z.is_finite() {
            bail!(
                Backend,
                "model {:?} produced a non-finite output {out:?}",
                m.name
            );
        }
        Ok(m.calibration.scale * z + m.calibration.bias)
    }
}

/// The most frames of an utterance model's input (at `max_audio`), after
/// checking that the front end's output grows along `time_axis`: the item
/// is `input_shape` with that axis's length following the audio.
/// `window_len`: the front end's output for one window.
fn utterance_frames(m: &Manifest, u: Utterance, window_len: usize) -> Result<usize> {
    let invalid = |why: String| {
        Error::new(
            Status::ModelKind,
            format!("model {:?}: utterance: {why}", m.name),
        )
    };
    let per_frame = m.input_len() / m.input_shape[u.time_axis] as usize;
    let longest = Frontend::new(&m.frontend, m.sample_rate, u.max_audio).map_err(|e| {
        invalid(format!(
            "front end at max_audio ({} samples): {e}",
            u.max_audio
        ))
    })?;
    let len = longest.output_len();
    if len <= window_len || len % per_frame != 0 {
        return Err(invalid(format!(
            "the front end makes {:?} for max_audio ({} samples) and {window_len} values for a window: its frames must grow along input_shape {:?} axis {} ({per_frame} values per frame)",
            longest.output_shape(),
            u.max_audio,
            m.input_shape,
            u.time_axis
        )));
    }
    Ok(len / per_frame)
}

/// A load that failed on the model's interface, of a graph with several
/// outputs and no `graph_output` in its manifest: says so, since the first
/// output (often an embedding) was the one checked.
fn several_outputs_hint(e: Error, onnx: &[u8], manifest: &Manifest) -> Error {
    if e.status != Status::ModelKind || manifest.graph_output.is_some() {
        return e;
    }
    let Ok(summary) = onnx::graph_summary(onnx) else {
        return e;
    };
    if summary.outputs.len() < 2 {
        return e;
    }
    let names: Vec<String> = summary
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| format!("{i}: {:?}", o.name))
        .collect();
    Error::new(
        e.status,
        format!(
            "{} (the graph has {} outputs, {}, and the first was used: set the manifest's \"graph_output\" to the index or name of the scores)",
            e.message,
            names.len(),
            names.join(", ")
        ),
    )
}
