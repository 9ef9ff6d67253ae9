//! What scoring produces, shared one way by everything that shows it: `scan`
//! makes a [`FileScore`], `report` prints it, `serve` returns it, `plot`
//! draws it and an [`Evaluation`]; none of them imports another for its types.

use dfd::{Model, Score, Verdict, WindowScore};
use serde::Serialize;

use crate::metrics::{Confusion, Eer};

/// What one file (or one live stream) scored.
pub struct FileScore {
    pub score: Score,
    /// Per-window results, in order (kept only when asked for).
    pub timeline: Vec<WindowScore>,
    /// Min/max of the mono signal per [`Envelope::step`] (kept only for `--plot`).
    pub envelope: Option<Envelope>,
    /// Windows whose own p_fake reached the model threshold.
    pub synthetic_windows: u64,
    /// Windows read from the stream (equals `score.windows`: none are dropped).
    pub read_windows: u64,
    /// Corrupt packets the decoder skipped.
    pub skipped_packets: u64,
    /// The file ended mid-packet.
    pub truncated: bool,
}

impl FileScore {
    /// Shares of windows judged synthetic and bona fide; `None` with no window scored.
    pub fn shares(&self) -> Option<(f64, f64)> {
        (self.read_windows > 0).then(|| {
            let syn = self.synthetic_windows as f64 / self.read_windows as f64;
            (syn, 1.0 - syn)
        })
    }

    /// The `dfd scan --json` object (also the body `dfd serve` answers with).
    pub fn json(&self, file: &str, model: &Model) -> ScanJson {
        let s = &self.score;
        let scored = s.verdict != Verdict::Unknown;
        let shares = self.shares();
        ScanJson {
            file: file.to_string(),
            model: model.manifest().name.clone(),
            backend: model.backend_name().to_string(),
            precision: model.precision().as_str().to_string(),
            threshold: model.manifest().threshold,
            p_fake: scored.then_some(s.p_fake),
            verdict: verdict_key(s.verdict),
            windows: s.windows,
            synthetic_share: shares.map(|(syn, _)| syn),
            bonafide_share: shares.map(|(_, bon)| bon),
            seconds: s.seconds,
            speech_seconds: s.speech_seconds,
            unscored: s.unscored.map(|u| u.to_string()),
            timeline: self.timeline.iter().map(WindowJson::from).collect(),
        }
    }
}

/// One `--json` line. Scores are null when no window was scored (verdict
/// "unknown"), rather than a p_fake of 0 that would read as "surely real".
#[derive(Serialize)]
pub struct ScanJson {
    pub file: String,
    pub model: String,
    pub backend: String,
    pub precision: String,
    /// The model's calibrated threshold the verdict is taken against.
    pub threshold: f32,
    pub p_fake: Option<f32>,
    pub verdict: &'static str,
    pub windows: u64,
    pub synthetic_share: Option<f64>,
    pub bonafide_share: Option<f64>,
    pub seconds: f64,
    pub speech_seconds: f64,
    /// Why nothing was scored, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unscored: Option<String>,
    pub timeline: Vec<WindowJson>,
}

/// One scored window, times in seconds.
#[derive(Serialize)]
pub struct WindowJson {
    pub start: f64,
    pub end: f64,
    pub p_fake: f32,
    /// The calibrated logit of "synthetic".
    pub logit: f32,
    /// The model's raw output values, before calibration.
    pub raw: Vec<f32>,
}

impl From<&WindowScore> for WindowJson {
    fn from(w: &WindowScore) -> Self {
        WindowJson {
            start: w.start,
            end: w.end,
            p_fake: w.p_fake,
            logit: w.logit,
            raw: w.raw.as_slice().to_vec(),
        }
    }
}

/// The verdict as the JSON outputs spell it.
pub fn verdict_key(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Synthetic => "synthetic",
        Verdict::Bonafide => "bonafide",
        Verdict::Unknown => "unknown",
    }
}

/// The waveform in fixed time steps: enough to draw it at any width without
/// keeping the samples (an hour is 360 000 pairs at 10 ms).
pub struct Envelope {
    /// Seconds per (min, max) pair.
    pub step: f64,
    pub min_max: Vec<(f32, f32)>,
}

/// What `dfd eval` measured, for the text, the JSON and the plot.
pub struct Evaluation {
    pub bonafide: Vec<f64>,
    pub synthetic: Vec<f64>,
    pub threshold: f64,
    pub eer: Eer,
    pub auc: f64,
    pub confusion: Confusion,
    pub model: String,
}
