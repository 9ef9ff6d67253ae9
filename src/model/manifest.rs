//! The model manifest: everything libdfd must know to turn audio into the
//! model's input and the model's output into a calibrated p(fake).
//!
//! It travels inside the ONNX file (`metadata_props["dfd.manifest"]`), in a
//! sidecar JSON next to a foreign ONNX file, or as `manifest.json` of a model
//! package directory that lists precision variants. See `docs/model-format.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{bail, Error, Result, Status};
use crate::frontend::FrontendConfig;

/// The only manifest format this version reads.
pub const FORMAT: &str = "dfd-model/1";
/// Key of the manifest in ONNX `metadata_props`.
pub const METADATA_KEY: &str = "dfd.manifest";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    /// Precision of this ONNX file (absent in a package manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Package only: precision -> ONNX file name relative to the package.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<Precision, String>,
    /// Rate the model expects; pushed audio is resampled to it.
    pub sample_rate: u32,
    /// Analysis window and hop, in samples at `sample_rate`.
    pub window: usize,
    pub hop: usize,
    pub frontend: FrontendConfig,
    /// Shape of one input item without the batch axis; its product must
    /// equal the front end's output length.
    pub input_shape: Vec<u64>,
    pub output: Output,
    /// Which output of the graph `output` describes, for graphs with several
    /// (an embedding and the logits); default: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_output: Option<GraphOutput>,
    #[serde(default)]
    pub calibration: Calibration,
    /// Stream p_fake at or above this is judged synthetic (default 0.5).
    #[serde(default = "half")]
    pub threshold: f32,
    #[serde(default)]
    pub gate: Gate,
    /// Least real audio, in samples at `sample_rate`, that a window needs to
    /// be scored (the rest completed by the front end's `fill` rule);
    /// default: half a window. See [`Manifest::min_audio`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_audio: Option<usize>,
    /// At the end of the stream, score one more window aligned to the end of
    /// the audio when the audio after the last window is at least half a
    /// hop (default true), so every second of speech counts.
    #[serde(default = "yes")]
    pub end_window: bool,
    /// How the windows' scores make the stream's p_fake (default `mean`).
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Set for a model run on whole utterances (its input's time axis is
    /// symbolic in the ONNX graph): `window` / `hop` / `input_shape` then
    /// describe a live stream's windows, and at flush the whole stream is
    /// one more window of its own length, which gives the stream's p_fake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utterance: Option<Utterance>,
    /// Free-form: data, training recipe, measured EER.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Fp16,
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }

    pub fn parse(s: &str) -> Option<Precision> {
        match s {
            "fp32" => Some(Precision::Fp32),
            "fp16" => Some(Precision::Fp16),
            "int8" => Some(Precision::Int8),
            _ => None,
        }
    }
}

/// What the model's output means; converted to a logit of "fake" at the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Output {
    /// One value: the logit of "synthetic".
    Logit,
    /// Two-class logits; `fake_index` is the synthetic class.
    Logits { fake_index: usize },
    /// Two-class probabilities; `fake_index` is the synthetic class.
    Probs { fake_index: usize },
    /// ASVspoof convention: one score, higher = bona fide.
    BonafideScore,
}

impl Output {
    /// Values per item the graph must produce.
    pub fn len(self) -> usize {
        match self {
            Output::Logit | Output::BonafideScore => 1,
            Output::Logits { .. } | Output::Probs { .. } => 2,
        }
    }

    /// The raw logit of "synthetic" for one item's output values.
    pub fn fake_logit(self, values: &[f32]) -> f32 {
        match self {
            Output::Logit => values[0],
            Output::BonafideScore => -values[0],
            Output::Logits { fake_index } => values[fake_index] - values[1 - fake_index],
            Output::Probs { fake_index } => {
                let p = values[fake_index].clamp(1e-7, 1.0 - 1e-7);
                (p / (1.0 - p)).ln()
            }
        }
    }
}

/// One output of the ONNX graph: its position among the graph's outputs,
/// or its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GraphOutput {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for GraphOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphOutput::Index(i) => write!(f, "{i}"),
            GraphOutput::Name(n) => write!(f, "{n:?}"),
        }
    }
}

/// Platt scaling: `p = sigmoid(scale * logit + bias)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub scale: f32,
    pub bias: f32,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            scale: 1.0,
            bias: 0.0,
        }
    }
}

/// Energy gate: windows quieter than `min_dbfs` (RMS, dB full scale) are not
/// scored, so silence and line noise never vote. `"min_dbfs": null`
/// switches the gate off (every window is scored).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    #[serde(default = "default_min_dbfs")]
    pub min_dbfs: Option<f32>,
}

fn default_min_dbfs() -> Option<f32> {
    Some(-60.0)
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            min_dbfs: default_min_dbfs(),
        }
    }
}

fn half() -> f32 {
    0.5
}

fn yes() -> bool {
    true
}

/// A model whose input has a dynamic time axis (manifest `utterance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utterance {
    /// Axis of `input_shape` whose length follows the audio (the frames).
    pub time_axis: usize,
    /// Longest utterance scored whole, in samples at `sample_rate` (more
    /// than `window`, at most [`crate::limits::MAX_UTTERANCE`]): a longer
    /// stream is scored on its first `max_audio` samples. The stream keeps
    /// that much audio, so this bounds its memory.
    pub max_audio: usize,
}

/// How a stream's p_fake is made from its windows' calibrated logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Sigmoid of the mean logit of all scored windows (libdfd's models).
    #[default]
    Mean,
    /// The first scored window alone: a notebook that scores a file as one
    /// input from its start (crop, pad or tile).
    First,
    /// The most synthetic window.
    Max,
}

impl Manifest {
    pub fn from_json(text: &str, origin: &str) -> Result<Manifest> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| {
            Error::new(
                Status::ModelKind,
                format!("{origin}: invalid manifest: {e}"),
            )
        })?;
        m.validate(origin)?;
        Ok(m)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        if self.format != FORMAT {
            bail!(
                ModelKind,
                "{origin}: manifest format is {:?}, this libdfd reads {FORMAT:?}",
                self.format
            );
        }
        if self.window == 0 || self.hop == 0 || self.hop > self.window {
            bail!(
                ModelKind,
                "{origin}: manifest needs 0 < hop <= window (window {}, hop {})",
                self.window,
                self.hop
            );
        }
        if self.input_shape.is_empty() || self.input_shape.contains(&0) {
            bail!(
                ModelKind,
                "{origin}: manifest input_shape {:?} must be non-empty and positive",
                self.input_shape
            );
        }
        if let Output::Logits { fake_index } | Output::Probs { fake_index } = self.output {
            if fake_index > 1 {
                bail!(
                    ModelKind,
                    "{origin}: output fake_index {fake_index} must be 0 or 1"
                );
            }
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            bail!(
                ModelKind,
                "{origin}: threshold {} must be in [0, 1]",
                self.threshold
            );
        }
        if !self.calibration.scale.is_finite() || !self.calibration.bias.is_finite() {
            bail!(ModelKind, "{origin}: calibration must be finite");
        }
        if self.gate.min_dbfs.is_some_and(|g| !g.is_finite()) {
            bail!(ModelKind, "{origin}: gate.min_dbfs must be finite or null");
        }
        if let Some(n) = self.min_audio {
            if n == 0 || n > self.window {
                bail!(
                    ModelKind,
                    "{origin}: min_audio {n} must be in 1..=window ({})",
                    self.window
                );
            }
        }
        if let Some(u) = self.utterance {
            if u.time_axis >= self.input_shape.len() {
                bail!(
                    ModelKind,
                    "{origin}: utterance.time_axis {} is not an axis of input_shape {:?}",
                    u.time_axis,
                    self.input_shape
                );
            }
            if u.max_audio <= self.window {
                bail!(
                    ModelKind,
                    "{origin}: utterance.max_audio {} must be longer than the window ({})",
                    u.max_audio,
                    self.window
                );
            }
        }
        crate::limits::check_manifest(self, origin)
    }

    /// Least real audio (samples) a window needs to be scored.
    pub fn min_audio(&self) -> usize {
        self.min_audio.unwrap_or(self.window.div_ceil(2))
    }

    /// Number of f32 values in one input item (saturating: a validated
    /// manifest has at most [`crate::limits::MAX_INPUT_VALUES`]).
    pub fn input_len(&self) -> usize {
        self.input_shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{"format":"dfd-model/1","name":"t","precision":"fp32","sample_rate":16000,
        "window":16000,"hop":8000,"frontend":{"type":"raw"},"input_shape":[16000],
        "output":{"kind":"logits","fake_index":1},"threshold":0.5}"#;

    #[test]
    fn parses_with_defaults() {
        let m = Manifest::from_json(TINY, "t").unwrap();
        assert_eq!(m.calibration, Calibration::default());
        assert_eq!(m.output, Output::Logits { fake_index: 1 });
        assert_eq!(m.input_len(), 16000);
    }

    #[test]
    fn rejects_wrong_format_and_bad_fields() {
        let bad = TINY.replace("dfd-model/1", "dfd-model/9");
        assert_eq!(
            Manifest::from_json(&bad, "t").unwrap_err().status,
            Status::ModelKind
        );
        let bad = TINY.replace("\"hop\":8000", "\"hop\":32000");
        assert!(Manifest::from_json(&bad, "t")
            .unwrap_err()
            .message
            .contains("hop"));
        let bad = TINY.replace("\"threshold\"", "\"thresold\"");
        assert!(Manifest::from_json(&bad, "t")
            .unwrap_err()
            .message
            .contains("thresold"));
    }

    #[test]
    fn graph_output_by_index_or_name() {
        assert_eq!(Manifest::from_json(TINY, "t").unwrap().graph_output, None);
        let with = |v: &str| {
            TINY.replace(
                "\"threshold\"",
                &format!("\"graph_output\":{v},\"threshold\""),
            )
        };
        let m = Manifest::from_json(&with("1"), "t").unwrap();
        assert_eq!(m.graph_output, Some(GraphOutput::Index(1)));
        let m = Manifest::from_json(&with("\"logits\""), "t").unwrap();
        assert_eq!(m.graph_output, Some(GraphOutput::Name("logits".into())));
        // It survives a round trip (the manifest is embedded as JSON).
        let back = Manifest::from_json(&serde_json::to_string(&m).unwrap(), "t").unwrap();
        assert_eq!(back, m);
        for bad in ["-1", "1.5", "[0]", "{\"index\":0}"] {
            assert!(Manifest::from_json(&with(bad), "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn output_conventions_give_the_fake_logit() {
        assert_eq!(Output::Logit.fake_logit(&[1.5]), 1.5);
        assert_eq!(Output::BonafideScore.fake_logit(&[1.5]), -1.5);
        assert_eq!(
            Output::Logits { fake_index: 0 }.fake_logit(&[2.0, 0.5]),
            1.5
        );
        let z = Output::Probs { fake_index: 1 }.fake_logit(&[0.25, 0.75]);
        assert!((z - 3f32.ln()).abs() < 1e-6);
    }
}
