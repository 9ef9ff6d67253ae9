//! The detectors compiled into libdfd (cargo feature `builtin-model`, on by
//! default), so an app or a phone needs no model file: the default 16 kHz
//! model and the 8 kHz telephone model. The bytes are the committed
//! packages `models/dfd-lfb-cnn` and `models/dfd-lfb-cnn-tel`; each variant
//! carries its own manifest, exactly as when loaded from disk.

use super::{Model, ModelOptions, Precision, Source};
use crate::error::{bail, Result};

/// A model compiled into libdfd, named by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Builtin {
    /// `dfd-lfb-cnn-v2`: 16 kHz, for wideband audio (files, G.722, Opus
    /// wideband calls); what `dfd_model_load_builtin` loads.
    #[default]
    Default,
    /// `dfd-lfb-cnn-tel-v2`: 8 kHz, for telephone-band audio (G.711, GSM,
    /// iLBC, AMR-NB, narrowband Opus calls).
    Telephone,
}

type Variants = &'static [(Precision, &'static [u8])];

/// How tools name a built-in model where a path goes: `builtin:telephone`
/// (`dfd --model`, the GStreamer element's `model` property).
pub const BUILTIN_PREFIX: &str = "builtin:";

#[cfg(feature = "builtin-model")]
const DEFAULT: Variants = &[
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

#[cfg(feature = "builtin-model")]
const TELEPHONE: Variants = &[
    (
        Precision::Fp32,
        include_bytes!("../../models/dfd-lfb-cnn-tel/model.fp32.onnx"),
    ),
    (
        Precision::Fp16,
        include_bytes!("../../models/dfd-lfb-cnn-tel/model.fp16.onnx"),
    ),
    (
        Precision::Int8,
        include_bytes!("../../models/dfd-lfb-cnn-tel/model.int8.onnx"),
    ),
];

#[cfg(not(feature = "builtin-model"))]
const DEFAULT: Variants = &[];
#[cfg(not(feature = "builtin-model"))]
const TELEPHONE: Variants = &[];

impl Builtin {
    /// Every built-in model, default first.
    pub const ALL: [Builtin; 2] = [Builtin::Default, Builtin::Telephone];

    /// The role name: `default` or `telephone`.
    pub fn role(self) -> &'static str {
        match self {
            Builtin::Default => "default",
            Builtin::Telephone => "telephone",
        }
    }

    /// The model's name (its manifest's `name`).
    pub fn model_name(self) -> &'static str {
        match self {
            Builtin::Default => "dfd-lfb-cnn-v2",
            Builtin::Telephone => "dfd-lfb-cnn-tel-v2",
        }
    }

    /// A built-in model by role (`default`, `telephone`) or model name
    /// (`dfd-lfb-cnn-tel-v2`); an unknown name is an `InvalidArg` listing
    /// them.
    pub fn from_name(name: &str) -> Result<Builtin> {
        match Builtin::ALL
            .into_iter()
            .find(|b| b.role() == name || b.model_name() == name)
        {
            Some(b) => Ok(b),
            None => {
                let names: Vec<String> = Builtin::ALL
                    .iter()
                    .map(|b| format!("{} ({})", b.role(), b.model_name()))
                    .collect();
                bail!(
                    InvalidArg,
                    "no built-in model {name:?}; the built-in models are {}",
                    names.join(", ")
                )
            }
        }
    }

    /// `builtin:NAME` as a built-in model (`None`: not of that form, a path).
    pub fn from_ref(s: &str) -> Option<Result<Builtin>> {
        s.strip_prefix(BUILTIN_PREFIX).map(Builtin::from_name)
    }

    /// The built-in model for audio at `sample_rate`: the telephone model
    /// at 8 kHz and below, the default one above.
    pub fn for_rate(sample_rate: u32) -> Builtin {
        if sample_rate <= 8000 {
            Builtin::Telephone
        } else {
            Builtin::Default
        }
    }

    fn all_variants(self) -> Variants {
        match self {
            Builtin::Default => DEFAULT,
            Builtin::Telephone => TELEPHONE,
        }
    }

    /// The precision variants built in (none without the feature).
    pub(super) fn variants(self) -> Vec<Precision> {
        self.all_variants().iter().map(|(p, _)| *p).collect()
    }

    /// The ONNX bytes of one built-in variant.
    pub(super) fn bytes(self, precision: Precision) -> Result<&'static [u8]> {
        match self.all_variants().iter().find(|(p, _)| *p == precision) {
            Some((_, bytes)) => Ok(bytes),
            None => bail!(
                PrecisionUnavailable,
                "the built-in {} model has no {} variant",
                self.role(),
                precision.as_str()
            ),
        }
    }
}

impl Model {
    /// Loads the built-in default model. `options.precision` picks a variant
    /// the same way as for a package directory.
    pub fn load_builtin(options: &ModelOptions) -> Result<Model> {
        Model::load_builtin_named(Builtin::Default, options)
    }

    /// Loads one of the built-in models.
    pub fn load_builtin_named(which: Builtin, options: &ModelOptions) -> Result<Model> {
        Model::open(Source::Builtin(which), options)
    }

    /// Whether this build carries the built-in models.
    pub fn has_builtin() -> bool {
        !DEFAULT.is_empty()
    }
}
