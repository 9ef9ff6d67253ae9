//! Where a model comes from, and the one dispatch that turns any source
//! (file with embedded manifest, file with sidecar, package directory,
//! bytes in memory, the built-in model) into ONNX bytes plus the manifest of
//! the chosen precision variant.

use std::path::Path;

use super::manifest::{self, Manifest, Precision};
use super::{onnx, Builtin, PrecisionChoice};
use crate::error::{bail, Error, Result, Status};
use crate::log::log;

/// A model as stored.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// An `.onnx` file (manifest embedded, or a sidecar `<stem>.json`) or a
    /// package directory with `manifest.json` listing precision variants.
    Path(&'a Path),
    /// One ONNX file's bytes, manifest embedded; only borrowed while loading.
    Memory(&'a [u8]),
    /// A model compiled into libdfd (cargo feature `builtin-model`).
    Builtin(Builtin),
}

/// How to choose a variant when the caller asked for none.
pub(crate) enum Pick {
    /// The first of this fastest-first order (a backend's) that is there.
    Fastest(Vec<Precision>),
    /// fp32 when there, else the first variant (describing, not running).
    Reference,
}

/// A model as stored, read without loading it on a backend, so that tools
/// (`dfd inspect`) can describe a model that does not load.
pub struct StoredModel {
    /// The manifest of the chosen variant.
    pub manifest: Manifest,
    /// The ONNX bytes of the chosen variant.
    pub onnx: Vec<u8>,
    /// The precision of the chosen variant.
    pub precision: Precision,
    /// Every variant the package or built-in model has (one for a file).
    pub variants: Vec<Precision>,
}

impl StoredModel {
    /// Reads a stored model without loading it. `precision` picks a
    /// variant; under auto, fp32 when present.
    pub fn read(source: Source, precision: PrecisionChoice) -> Result<StoredModel> {
        source.read(precision, Pick::Reference)
    }
}

impl Source<'_> {
    /// Where the model came from, for messages.
    pub fn origin(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Memory(_) => "model in memory".into(),
            Source::Builtin(b) => format!("built-in {} model", b.role()),
        }
    }

    /// Reads the bytes and manifest of the variant `requested`, or under
    /// auto the one `pick` prefers.
    pub(crate) fn read(&self, requested: PrecisionChoice, pick: Pick) -> Result<StoredModel> {
        let origin = self.origin();
        match *self {
            Source::Path(dir) if dir.is_dir() => {
                let package = package_manifest(dir)?;
                let have: Vec<Precision> = package.variants.keys().copied().collect();
                let chosen = choose(requested, &have, &pick, &origin)?;
                let (onnx, manifest) = package_variant(dir, package, chosen)?;
                Ok(stored(onnx, manifest, chosen, have))
            }
            Source::Path(file) => {
                let onnx = read(file)?;
                let manifest = match embedded_manifest(&onnx, &origin)? {
                    Some(m) => m,
                    None => sidecar_manifest(file)?,
                };
                single(onnx, manifest, requested)
            }
            Source::Memory(bytes) => {
                let manifest = embedded_manifest(bytes, &origin)?.ok_or_else(|| {
                    Error::new(
                        Status::ModelKind,
                        format!(
                            "{origin}: ONNX file has no dfd.manifest metadata (not a libdfd model)"
                        ),
                    )
                })?;
                single(bytes.to_vec(), manifest, requested)
            }
            Source::Builtin(which) => {
                let have = which.variants();
                if have.is_empty() {
                    bail!(
                        NotBuilt,
                        "this libdfd was built without the built-in models (cargo feature `builtin-model`); load a model file instead"
                    );
                }
                let chosen = choose(requested, &have, &pick, &origin)?;
                let bytes = which.bytes(chosen)?;
                let Some(manifest) = embedded_manifest(bytes, &origin)? else {
                    bail!(
                        Internal,
                        "built-in {} variant has no manifest",
                        chosen.as_str()
                    )
                };
                Ok(stored(bytes.to_vec(), manifest, chosen, have))
            }
        }
    }
}

fn stored(
    onnx: Vec<u8>,
    manifest: Manifest,
    precision: Precision,
    variants: Vec<Precision>,
) -> StoredModel {
    StoredModel {
        manifest,
        onnx,
        precision,
        variants,
    }
}

/// A single ONNX file holds one variant: the one its manifest names (fp32
/// when it names none).
fn single(onnx: Vec<u8>, manifest: Manifest, requested: PrecisionChoice) -> Result<StoredModel> {
    let precision = manifest.precision.unwrap_or(Precision::Fp32);
    if let Some(want) = requested.exact() {
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
    Ok(stored(onnx, manifest, precision, vec![precision]))
}

/// The requested variant, or under auto the one `pick` prefers among
/// `have` (which is not empty).
fn choose(
    requested: PrecisionChoice,
    have: &[Precision],
    pick: &Pick,
    origin: &str,
) -> Result<Precision> {
    match requested {
        PrecisionChoice::Exact(p) if have.contains(&p) => Ok(p),
        PrecisionChoice::Exact(p) => {
            let have: Vec<&str> = have.iter().map(|p| p.as_str()).collect();
            bail!(
                PrecisionUnavailable,
                "{origin}: no {} variant (package has {})",
                p.as_str(),
                have.join(", ")
            )
        }
        PrecisionChoice::Auto => {
            let order = match pick {
                Pick::Fastest(order) => order.as_slice(),
                Pick::Reference => &[Precision::Fp32],
            };
            Ok(order
                .iter()
                .copied()
                .find(|p| have.contains(p))
                .unwrap_or(have[0]))
        }
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
fn package_variant(
    dir: &Path,
    package: Manifest,
    precision: Precision,
) -> Result<(Vec<u8>, Manifest)> {
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
    Ok((onnx, manifest))
}
