//! The default detector compiled into libdfd (cargo feature `builtin-model`,
//! on by default), so an app or a phone needs no model file. The bytes are
//! the committed package `models/dfd-lfb-cnn`; each variant carries its own
//! manifest, exactly as when loaded from disk.

use super::{
    choose_variant, embedded_manifest, parse_precision, Model, ModelOptions, Precision, Source,
};
use crate::backend;
use crate::error::{bail, Result};

#[cfg(feature = "builtin-model")]
const VARIANTS: &[(Precision, &[u8])] = &[
    (
        Precision::Fp32,
        include_bytes!("../../models/dfd-lfb-cnn/model.fp32.onnx"),
    ),
    (
        Precision::Fp16,
        include_bytes!("../../models/dfd-lfb-cnn/model.fp16.onnx"),
    ),
    (
        Precision::Int8,
        include_bytes!("../../models/dfd-lfb-cnn/model.int8.onnx"),
    ),
];

#[cfg(not(feature = "builtin-model"))]
const VARIANTS: &[(Precision, &[u8])] = &[];

impl Model {
    /// Loads the built-in default model. `options.precision` picks a variant
    /// the same way as for a package directory.
    pub fn load_builtin(options: &ModelOptions) -> Result<Model> {
        if VARIANTS.is_empty() {
            bail!(
                NotBuilt,
                "this libdfd was built without the built-in model (cargo feature `builtin-model`); load a model file instead"
            );
        }
        let requested = parse_precision(&options.precision)?;
        let backend = backend::resolve(&options.backend, options.plugin_dir.as_deref())?;
        let precision = choose_variant(requested, &variants(), &backend, "built-in model")?;
        Model::build(source(precision)?, Some(precision), backend, options)
    }

    /// Whether this build carries the built-in model.
    pub fn has_builtin() -> bool {
        !VARIANTS.is_empty()
    }
}

/// The precision variants built in (none without the feature).
pub(super) fn variants() -> Vec<Precision> {
    VARIANTS.iter().map(|(p, _)| *p).collect()
}

/// The bytes and manifest of one built-in variant.
pub(super) fn source(precision: Precision) -> Result<Source> {
    let Some((_, bytes)) = VARIANTS.iter().find(|(p, _)| *p == precision) else {
        bail!(
            PrecisionUnavailable,
            "the built-in model has no {} variant",
            precision.as_str()
        )
    };
    let Some(manifest) = embedded_manifest(bytes, "built-in model")? else {
        bail!(
            Internal,
            "built-in {} variant has no manifest",
            precision.as_str()
        )
    };
    Ok(Source {
        onnx: bytes.to_vec(),
        manifest,
    })
}
