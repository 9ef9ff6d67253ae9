//! The default detector compiled into libdfd (cargo feature `builtin-model`,
//! on by default), so an app or a phone needs no model file. The bytes are
//! the committed package `models/dfd-lfb-cnn`; each variant carries its own
//! manifest, exactly as when loaded from disk.

use super::{Model, ModelOptions, Precision, Source};
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
        Model::open(Source::Builtin, options)
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

/// The ONNX bytes of one built-in variant.
pub(super) fn bytes(precision: Precision) -> Result<&'static [u8]> {
    match VARIANTS.iter().find(|(p, _)| *p == precision) {
        Some((_, bytes)) => Ok(bytes),
        None => bail!(
            PrecisionUnavailable,
            "the built-in model has no {} variant",
            precision.as_str()
        ),
    }
}
