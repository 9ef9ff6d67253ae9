//! Model packages: an ONNX graph plus its [`Manifest`], loaded on a backend.
//!
//! Three forms are accepted:
//! - one `.onnx` file whose `metadata_props["dfd.manifest"]` holds the manifest;
//! - a foreign `.onnx` file with a sidecar manifest `<stem>.json` beside it;
//! - a package directory with `manifest.json` listing precision variants.

mod builtin;
pub mod manifest;
pub mod onnx;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use manifest::{Calibration, Gate, GraphOutput, Manifest, Output, Precision};

use crate::backend::{self, Backend, BackendModel, Origin};
use crate::error::{bail, Error, Result, Status};
use crate::frontend::Frontend;
use crate::log::log;

/// Most windows one stream hands to the backend in one call.
pub const MAX_BATCH: usize = 16;

/// Most windows in one backend call: [`crate::infer_streams`] packs the
/// windows of many streams up to this (a GPU wants large batches).
pub const BACKEND_BATCH: usize = 256;

/// How to load a model. `Default` = backend "auto", precision "auto".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// "auto", "cpu", "cuda" or a plugin name.
    pub backend: String,
    /// "auto", "fp32", "fp16" or "int8".
    pub precision: String,
    /// Backend worker threads; 0 = backend default.
    pub threads: u32,
    /// Searched for plugins before `DFD_PLUGIN_PATH` and libdfd's own directory.
    pub plugin_dir: Option<PathBuf>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            backend: "auto".into(),
            precision: "auto".into(),
            threads: 0,
            plugin_dir: None,
        }
    }
}

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

/// Bytes of one ONNX file and the manifest that describes it.
struct Source {
    onnx: Vec<u8>,
    manifest: Manifest,
}

impl Model {
    /// Loads a model file or package directory.
    pub fn load(path: impl AsRef<Path>, options: &ModelOptions) -> Result<Model> {
        let path = path.as_ref();
        let requested = parse_precision(&options.precision)?;
        let backend = backend::resolve(&options.backend, options.plugin_dir.as_deref())?;
        let source = if path.is_dir() {
            read_package(path, requested, &backend)?
        } else {
            let onnx = read(path)?;
            let manifest = match embedded_manifest(&onnx, &path.display().to_string())? {
                Some(m) => m,
                None => sidecar_manifest(path)?,
            };
            Source { onnx, manifest }
        };
        Model::build(source, requested, backend, options)
    }

    /// Loads a single ONNX file (with its manifest embedded) from memory.
    /// The bytes are only borrowed for the duration of the call.
    pub fn load_from_memory(bytes: &[u8], options: &ModelOptions) -> Result<Model> {
        let requested = parse_precision(&options.precision)?;
        let manifest = embedded_manifest(bytes, "model in memory")?.ok_or_else(|| {
            Error::new(
                Status::ModelKind,
                "model in memory: ONNX file has no dfd.manifest metadata (not a libdfd model)",
            )
        })?;
        let backend = backend::resolve(&options.backend, options.plugin_dir.as_deref())?;
        Model::build(
            Source {
                onnx: bytes.to_vec(),
                manifest,
            },
            requested,
            backend,
            options,
        )
    }

    fn build(
        source: Source,
        requested: Option<Precision>,
        backend: Arc<Backend>,
        options: &ModelOptions,
    ) -> Result<Model> {
        let Source { onnx, manifest } = source;
        crate::limits::check_threads(options.threads)?;
        let precision = manifest.precision.unwrap_or(Precision::Fp32);
        if let Some(want) = requested {
            if want != precision {
                bail!(
                    PrecisionUnavailable,
                    "model {:?} is a single {} file; {} was requested (load a package directory for several variants)",
                    manifest.name,
                    precision.as_str(),
                    want.as_str()
                );
            }
        }
        let frontend = Frontend::new(&manifest.frontend, manifest.sample_rate, manifest.window)
            .map_err(|e| {
                Error::new(
                    Status::ModelKind,
                    format!("model {:?}: front end: {e}", manifest.name),
                )
            })?;
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
            )
            .map_err(|e| several_outputs_hint(e, &onnx, &manifest))?;
        // A backend that can compute this front end gets raw windows; one
        // that cannot (or fails to set it up) gets features, as any backend.
        let why_not = match frontend.offload_tables() {
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
            let z = m.output.fake_logit(out);
            if !z.is_finite() {
                bail!(
                    Backend,
                    "model {:?} produced a non-finite output {out:?}",
                    m.name
                );
            }
            logits[i] = m.calibration.scale * z + m.calibration.bias;
        }
        Ok(())
    }
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

fn parse_precision(s: &str) -> Result<Option<Precision>> {
    match s {
        "auto" | "" => Ok(None),
        other => match Precision::parse(other) {
            Some(p) => Ok(Some(p)),
            None => bail!(
                InvalidArg,
                "unknown precision {other:?} (use auto, fp32, fp16 or int8)"
            ),
        },
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    crate::limits::read_file(path, crate::limits::MAX_MODEL_BYTES)
}

/// A sidecar or package manifest file as text.
fn read_manifest_text(path: &Path) -> Result<String> {
    let bytes = crate::limits::read_file(path, crate::limits::MAX_MANIFEST_BYTES)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            Status::ModelKind,
            format!("{}: manifest is not UTF-8", path.display()),
        )
    })
}

/// The manifest inside an ONNX file, if it has one. Fails on bytes that are not ONNX.
fn embedded_manifest(onnx: &[u8], origin: &str) -> Result<Option<Manifest>> {
    let props = onnx::metadata_props(onnx)
        .map_err(|e| Error::new(e.status, format!("{origin}: {}", e.message)))?;
    match props.iter().find(|(k, _)| k == manifest::METADATA_KEY) {
        Some((_, json)) => Manifest::from_json(json, origin).map(Some),
        None => Ok(None),
    }
}

fn sidecar_manifest(onnx_path: &Path) -> Result<Manifest> {
    let sidecar = onnx_path.with_extension("json");
    if !sidecar.is_file() {
        bail!(
            ModelKind,
            "{}: no dfd.manifest metadata and no sidecar manifest {} (not a libdfd model)",
            onnx_path.display(),
            sidecar.display()
        );
    }
    let text = read_manifest_text(&sidecar)?;
    Manifest::from_json(&text, &sidecar.display().to_string())
}

/// Picks a variant of a package: the requested one, or under `auto` the
/// first of the backend's fastest-first order that the package has.
fn read_package(dir: &Path, requested: Option<Precision>, backend: &Backend) -> Result<Source> {
    let package = package_manifest(dir)?;
    let have: Vec<Precision> = package.variants.keys().copied().collect();
    let precision = choose_variant(requested, &have, backend, &dir.display().to_string())?;
    package_variant(dir, package, precision)
}

fn package_manifest(dir: &Path) -> Result<Manifest> {
    let manifest_path = dir.join("manifest.json");
    let text = read_manifest_text(&manifest_path).map_err(|e| {
        Error::new(
            Status::ModelKind,
            format!(
                "{}: not a model package: {}",
                manifest_path.display(),
                e.message
            ),
        )
    })?;
    let package = Manifest::from_json(&text, &manifest_path.display().to_string())?;
    if package.variants.is_empty() {
        bail!(
            ModelKind,
            "{}: a package manifest must list \"variants\"",
            manifest_path.display()
        );
    }
    Ok(package)
}

/// Reads one listed variant of a package.
fn package_variant(dir: &Path, package: Manifest, precision: Precision) -> Result<Source> {
    let file = package.variants[&precision].clone();
    let onnx_path = dir.join(&file);
    let onnx = read(&onnx_path)?;
    // The variant's own embedded manifest wins (it may carry its own
    // calibration); otherwise the package manifest describes it.
    let mut manifest = match embedded_manifest(&onnx, &onnx_path.display().to_string())? {
        Some(m) if m.precision.is_some_and(|p| p != precision) => bail!(
            ModelKind,
            "{}: listed as the {} variant but its manifest says {}",
            onnx_path.display(),
            precision.as_str(),
            m.precision.map_or("", Precision::as_str)
        ),
        Some(m) => m,
        None => package,
    };
    manifest.variants.clear();
    manifest.precision = Some(precision);
    log!(
        Info,
        "package {}: chose {} variant {}",
        dir.display(),
        precision.as_str(),
        file
    );
    Ok(Source { onnx, manifest })
}

/// A model as stored, read without loading it on a backend, so that tools
/// (`dfd inspect`) can describe a model that does not load.
pub struct StoredModel {
    /// The manifest of the chosen variant.
    pub manifest: Manifest,
    /// The ONNX bytes of the chosen variant.
    pub onnx: Vec<u8>,
    /// Every variant the package or built-in model has (one for a file).
    pub variants: Vec<Precision>,
}

impl StoredModel {
    /// Reads a model file or package directory (`None`: the built-in model).
    /// `precision` picks a package variant; `None` picks fp32 when present.
    pub fn read(path: Option<&Path>, precision: Option<Precision>) -> Result<StoredModel> {
        let pick = |have: &[Precision], origin: &str| match precision {
            Some(p) if !have.contains(&p) => {
                bail!(PrecisionUnavailable, "{origin}: no {} variant", p.as_str())
            }
            Some(p) => Ok(p),
            None => Ok(if have.contains(&Precision::Fp32) {
                Precision::Fp32
            } else {
                have[0]
            }),
        };
        let (source, variants) = match path {
            None => {
                let have = builtin::variants();
                if have.is_empty() {
                    bail!(NotBuilt, "this libdfd was built without the built-in model");
                }
                (builtin::source(pick(&have, "built-in model")?)?, have)
            }
            Some(dir) if dir.is_dir() => {
                let package = package_manifest(dir)?;
                let have: Vec<Precision> = package.variants.keys().copied().collect();
                let chosen = pick(&have, &dir.display().to_string())?;
                (package_variant(dir, package, chosen)?, have)
            }
            Some(file) => {
                let onnx = read(file)?;
                let manifest = match embedded_manifest(&onnx, &file.display().to_string())? {
                    Some(m) => m,
                    None => sidecar_manifest(file)?,
                };
                let have = vec![manifest.precision.unwrap_or(Precision::Fp32)];
                pick(&have, &file.display().to_string())?;
                (Source { onnx, manifest }, have)
            }
        };
        Ok(StoredModel {
            manifest: source.manifest,
            onnx: source.onnx,
            variants,
        })
    }
}

/// The requested variant, or under `auto` the first of the backend's
/// fastest-first order among `have` (which is not empty).
fn choose_variant(
    requested: Option<Precision>,
    have: &[Precision],
    backend: &Backend,
    origin: &str,
) -> Result<Precision> {
    match requested {
        Some(p) if have.contains(&p) => Ok(p),
        Some(p) => {
            let have: Vec<&str> = have.iter().map(|p| p.as_str()).collect();
            bail!(
                PrecisionUnavailable,
                "{origin}: no {} variant (package has {})",
                p.as_str(),
                have.join(", ")
            )
        }
        None => Ok(backend
            .precision_order()
            .into_iter()
            .find(|p| have.contains(p))
            .unwrap_or(have[0])),
    }
}
