//! Front-end configuration as written in a model manifest.
//!
//! The JSON is flat (`{"type":"logmel","n_fft":512,"hop_length":160,...}`), but
//! the Rust type groups the parameters every spectral front end shares into
//! [`SpectralConfig`]. serde's `flatten` cannot be combined with
//! `deny_unknown_fields`, so (de)serialisation goes through a private flat
//! [`Wire`] struct that rejects unknown names, and the conversion rejects
//! names that exist but do not belong to the given `type`. Defaults are filled
//! in here, so two manifests that differ only by spelling out a default
//! compare equal. Values are checked by [`Frontend::new`](super::Frontend::new),
//! where the sample rate and window length are known.

use serde::{Deserialize, Serialize};

use super::FrontendError;

/// Which features a model consumes, and exactly how they are computed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub enum FrontendConfig {
    /// The waveform itself, shape `[window_samples]`.
    Raw { normalize: Normalize, fill: Fill },
    /// Linear-frequency STFT bins, shape `[n_fft/2 + 1, n_frames]`.
    Spectrogram { spectral: SpectralConfig },
    /// Mel filterbank energies equal to `librosa.feature.melspectrogram`,
    /// shape `[n_mels, n_frames]`.
    Logmel {
        spectral: SpectralConfig,
        n_mels: usize,
        fmin: f32,
        /// `None`: the Nyquist frequency.
        fmax: Option<f32>,
        mel_scale: MelScale,
        mel_norm: MelNorm,
    },
    /// Linear triangular filterbank (ASVspoof LFCC baseline without the DCT),
    /// shape `[n_filters, n_frames]`; the exact formula is on
    /// `Filterbank::linear` in `filterbank.rs`.
    Lfb {
        spectral: SpectralConfig,
        n_filters: usize,
        fmin: f32,
        /// `None`: the Nyquist frequency.
        fmax: Option<f32>,
        /// Replace row 0 by the log frame energy (baseline `with_energy`).
        with_energy: bool,
    },
    /// ASVspoof 2019/2021 baseline LFCC: `lfb`, then DCT-II (orthonormal),
    /// first `n_lfcc` coefficients, shape `[n_lfcc, n_frames]`.
    Lfcc {
        spectral: SpectralConfig,
        n_filters: usize,
        n_lfcc: usize,
        fmin: f32,
        fmax: Option<f32>,
        /// Replace coefficient 0 by `log(sum_k |X_k|^power / n_fft)` with the
        /// same log and offset as the filterbank (baseline `with_energy`).
        with_energy: bool,
    },
    /// `librosa.feature.mfcc`: DCT-II (orthonormal) of the log mel
    /// spectrogram, first `n_mfcc` coefficients, optional liftering.
    Mfcc {
        spectral: SpectralConfig,
        n_mels: usize,
        n_mfcc: usize,
        fmin: f32,
        fmax: Option<f32>,
        mel_scale: MelScale,
        mel_norm: MelNorm,
        /// librosa `lifter` (0: none).
        lifter: f32,
    },
    /// openai-whisper's `log_mel_spectrogram` (= HF `WhisperFeatureExtractor`):
    /// 16 kHz, n_fft 400, hop 160, reflect-centred periodic Hann, power mel
    /// (Slaney), `log10(max(x, 1e-10))`, clamp to `max - 8`, `(x + 4) / 4`,
    /// last STFT frame dropped. Shape `[n_mels, pad_to / 160]`.
    Whisper {
        n_mels: usize,
        /// Zero-pad each window to this many samples first (480000 for the
        /// 30 s input of Whisper's encoder); `None`: the window itself.
        pad_to: Option<usize>,
        layout: Layout,
        fill: Fill,
    },
}

impl FrontendConfig {
    /// How the streaming engine completes a stream shorter than one window.
    pub fn fill(&self) -> Fill {
        match self {
            FrontendConfig::Raw { fill, .. } | FrontendConfig::Whisper { fill, .. } => *fill,
            FrontendConfig::Spectrogram { spectral }
            | FrontendConfig::Logmel { spectral, .. }
            | FrontendConfig::Lfb { spectral, .. }
            | FrontendConfig::Lfcc { spectral, .. }
            | FrontendConfig::Mfcc { spectral, .. } => spectral.fill,
        }
    }

    /// The shared spectral parameters (`None` for raw and whisper).
    pub fn spectral(&self) -> Option<&SpectralConfig> {
        match self {
            FrontendConfig::Raw { .. } | FrontendConfig::Whisper { .. } => None,
            FrontendConfig::Spectrogram { spectral }
            | FrontendConfig::Logmel { spectral, .. }
            | FrontendConfig::Lfb { spectral, .. }
            | FrontendConfig::Lfcc { spectral, .. }
            | FrontendConfig::Mfcc { spectral, .. } => Some(spectral),
        }
    }
}

/// Parameters shared by all spectral front ends, applied in this order:
/// pre-emphasis, framing + window + FFT, `|X|^power`, filterbank, log,
/// DCT (lfcc, mfcc), energy, deltas, `(x - mean) / std`, layout.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralConfig {
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    pub window: WindowKind,
    /// Periodic (DFT-even, scipy `fftbins=True`, librosa's choice) or symmetric.
    pub periodic: bool,
    /// Pad `n_fft/2` on both sides so frame `t` is centred on sample `t*hop`.
    pub center: bool,
    pub pad_mode: PadMode,
    /// 1.0: magnitude, 2.0: power.
    pub power: f32,
    /// `y[n] = x[n] - a*x[n-1]` within the window, `y[0] = x[0]`.
    pub pre_emphasis: Option<f32>,
    pub log: LogKind,
    /// Added before `ln`/`log10` (not used by `db`).
    pub log_offset: f32,
    /// `ln`/`log10` only: take the log of `max(x, log_floor) + log_offset`
    /// (`torch.clamp(x, min=floor).log10()`).
    pub log_floor: Option<f32>,
    /// `db` only: librosa `amin`, in the units of the values (magnitude for
    /// power 1, as `amplitude_to_db`; power for power 2, as `power_to_db`).
    pub amin: f64,
    /// Reference of the `db` scale (librosa `ref`): a value or the window's max.
    pub db_ref: DbRef,
    /// `db` only: clamp to `max - top_db` over the window (librosa `top_db`).
    pub top_db: Option<f32>,
    /// Appended delta orders: 0, 1 (`[x; dx]`) or 2 (`[x; dx; ddx]`).
    pub deltas: usize,
    pub delta_method: DeltaMethod,
    /// librosa `width` (odd, >= 3); used by `DeltaMethod::Librosa` only.
    pub delta_width: usize,
    /// Scalar, or one value per output row (feature), deltas included.
    pub mean: Stat,
    pub std: Stat,
    pub layout: Layout,
    pub fill: Fill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    #[default]
    None,
    /// Divide by the window's max |x| (an all-zero window stays zero).
    Peak,
    /// `(x - mean) / sqrt(var + 1e-7)`, as HF `Wav2Vec2FeatureExtractor`.
    Zscore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    #[default]
    Hann,
    Hamming,
}

/// Centre padding. librosa >= 0.10 pads with zeros by default (torchaudio
/// reflects), hence the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    Reflect,
    #[default]
    Constant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    None,
    Ln,
    Log10,
    /// librosa `power_to_db` (power 2) or `amplitude_to_db` (power 1).
    #[default]
    Db,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    #[default]
    Slaney,
    Htk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Each filter divided by its width in Hz / 2 (constant energy per band).
    #[default]
    Slaney,
    None,
}

/// librosa's `ref`: a fixed value, or `"max"` (`ref=np.max`: the window's
/// largest value, so the loudest bin is 0 dB).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DbRef {
    Value(f32),
    Max(MaxRef),
}

/// The string `"max"` of [`DbRef::Max`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaxRef {
    Max,
}

/// A global normalisation statistic: one value for all features, or one
/// per output row.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Stat {
    Scalar(f32),
    PerRow(Vec<f32>),
}

impl Stat {
    /// The value for output row `row`.
    pub fn at(&self, row: usize) -> f32 {
        match self {
            Stat::Scalar(v) => *v,
            Stat::PerRow(v) => v[row],
        }
    }

    /// All values (one for a scalar).
    pub fn values(&self) -> &[f32] {
        match self {
            Stat::Scalar(v) => std::slice::from_ref(v),
            Stat::PerRow(v) => v,
        }
    }
}

/// How delta features are computed along time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeltaMethod {
    /// ASVspoof baseline `delta`: `d[t] = x[t+1] - x[t-1]` with the edge
    /// frames replicated; the second order is the delta of the delta.
    Asvspoof,
    /// `librosa.feature.delta(x, width, order, mode="interp")`: Savitzky-Golay
    /// derivative of order 1 or 2 of `x` itself.
    Librosa,
}

/// Output layout of spectral features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `[rows, frames]`, like librosa's `(n, t)`.
    #[default]
    FreqMajor,
    /// `[frames, rows]`, like torchaudio-style `(t, n)` models (the ASVspoof
    /// baseline's `(batch, frames, dim)`).
    TimeMajor,
}

/// How a stream shorter than one window is completed to a whole window
/// before it is scored at the end of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fill {
    /// Zero padding after the audio.
    #[default]
    Zeros,
    /// The audio repeated until the window is full (`np.tile` then crop, as
    /// the AASIST / ASVspoof 2021 data loaders' `pad` does).
    Repeat,
    /// Not completed: a stream shorter than one window is not scored.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Raw,
    Spectrogram,
    Logmel,
    Lfb,
    Lfcc,
    Mfcc,
    Whisper,
}

impl Kind {
    /// Whether a front end of this type takes the field `f`.
    fn takes(self, f: &str) -> bool {
        let own: &[&str] = match self {
            Kind::Raw => &["normalize", "fill"],
            Kind::Spectrogram => &[],
            Kind::Logmel => &["n_mels", "fmin", "fmax", "mel_scale", "mel_norm"],
            Kind::Lfb => &["n_filters", "fmin", "fmax", "with_energy"],
            Kind::Lfcc => &["n_filters", "n_lfcc", "fmin", "fmax", "with_energy"],
            Kind::Mfcc => &[
                "n_mels",
                "n_mfcc",
                "fmin",
                "fmax",
                "mel_scale",
                "mel_norm",
                "lifter",
            ],
            Kind::Whisper => &["n_mels", "pad_to", "layout", "fill"],
        };
        let spectral = !matches!(self, Kind::Raw | Kind::Whisper);
        own.contains(&f) || spectral && SPECTRAL_FIELDS.contains(&f)
    }

    /// The name of the type in the manifest.
    fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Spectrogram => "spectrogram",
            Kind::Logmel => "logmel",
            Kind::Lfb => "lfb",
            Kind::Lfcc => "lfcc",
            Kind::Mfcc => "mfcc",
            Kind::Whisper => "whisper",
        }
    }
}

/// The JSON form: every field of every type, all optional, plus the list of
/// the names that are set (for "does not apply to" checks).
macro_rules! wire {
    ($($name:ident: $ty:ty),* $(,)?) => {
        #[derive(Clone, Default, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            #[serde(rename = "type")]
            kind: Option<Kind>,
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                $name: Option<$ty>,
            )*
        }

        impl Wire {
            /// Names of the fields that are set.
            fn set_fields(&self) -> Vec<&'static str> {
                let mut set = Vec::new();
                $(
                    if self.$name.is_some() {
                        set.push(stringify!($name));
                    }
                )*
                set
            }
        }
    };
}

wire! {
    normalize: Normalize,
    n_fft: usize,
    win_length: usize,
    hop_length: usize,
    window: WindowKind,
    periodic: bool,
    center: bool,
    pad_mode: PadMode,
    power: f32,
    pre_emphasis: f32,
    log: LogKind,
    log_offset: f32,
    log_floor: f32,
    amin: f64,
    db_ref: DbRef,
    top_db: f32,
    deltas: usize,
    delta_method: DeltaMethod,
    delta_width: usize,
    mean: Stat,
    std: Stat,
    layout: Layout,
    fill: Fill,
    n_mels: usize,
    n_filters: usize,
    n_lfcc: usize,
    n_mfcc: usize,
    fmin: f32,
    fmax: f32,
    mel_scale: MelScale,
    mel_norm: MelNorm,
    with_energy: bool,
    lifter: f32,
    pad_to: usize,
}

impl Wire {
    fn spectral(&self, kind: Kind) -> Result<SpectralConfig, FrontendError> {
        let n_fft = required(self.n_fft, "n_fft")?;
        let power = self.power.unwrap_or(2.0);
        let log = self.log.unwrap_or_default();
        // mfcc takes power_to_db of the mel energies whatever `power` is.
        let amin = if power == 1.0 && kind != Kind::Mfcc {
            1e-5
        } else {
            1e-10
        };
        // librosa.feature.mfcc's power_to_db cuts at 80 dB below the max.
        let top_db = match (self.top_db, kind, log) {
            (None, Kind::Mfcc, LogKind::Db) => Some(80.0),
            (top_db, ..) => top_db,
        };
        let delta_method = self.delta_method.unwrap_or(match kind {
            Kind::Lfb | Kind::Lfcc => DeltaMethod::Asvspoof,
            _ => DeltaMethod::Librosa,
        });
        if self.delta_width.is_some() && delta_method != DeltaMethod::Librosa {
            return Err(FrontendError::invalid(
                "delta_width",
                "field `delta_width` applies only to delta_method \"librosa\"",
            ));
        }
        Ok(SpectralConfig {
            n_fft,
            win_length: self.win_length.unwrap_or(n_fft),
            hop_length: required(self.hop_length, "hop_length")?,
            window: self.window.unwrap_or_default(),
            periodic: self.periodic.unwrap_or(true),
            center: self.center.unwrap_or(true),
            pad_mode: self.pad_mode.unwrap_or_default(),
            power,
            pre_emphasis: self.pre_emphasis,
            log,
            log_offset: self.log_offset.unwrap_or(if self.log_floor.is_some() {
                0.0
            } else {
                1e-6
            }),
            log_floor: self.log_floor,
            amin: self.amin.unwrap_or(amin),
            db_ref: self.db_ref.unwrap_or(DbRef::Value(1.0)),
            top_db,
            deltas: self.deltas.unwrap_or(0),
            delta_method,
            delta_width: self.delta_width.unwrap_or(9),
            mean: self.mean.clone().unwrap_or(Stat::Scalar(0.0)),
            std: self.std.clone().unwrap_or(Stat::Scalar(1.0)),
            layout: self.layout.unwrap_or_default(),
            fill: self.fill.unwrap_or_default(),
        })
    }
}

fn required<T>(v: Option<T>, name: &'static str) -> Result<T, FrontendError> {
    v.ok_or(FrontendError::Missing(name))
}

const SPECTRAL_FIELDS: [&str; 22] = [
    "n_fft",
    "win_length",
    "hop_length",
    "window",
    "periodic",
    "center",
    "pad_mode",
    "power",
    "pre_emphasis",
    "log",
    "log_offset",
    "log_floor",
    "amin",
    "db_ref",
    "top_db",
    "deltas",
    "delta_method",
    "delta_width",
    "mean",
    "std",
    "layout",
    "fill",
];

impl TryFrom<Wire> for FrontendConfig {
    type Error = FrontendError;

    fn try_from(w: Wire) -> Result<Self, FrontendError> {
        let kind = required(w.kind, "type")?;
        if let Some(f) = w.set_fields().into_iter().find(|f| !kind.takes(f)) {
            return Err(FrontendError::NotApplicable {
                field: f,
                kind: kind.name(),
            });
        }
        Ok(match kind {
            Kind::Raw => FrontendConfig::Raw {
                normalize: w.normalize.unwrap_or_default(),
                fill: w.fill.unwrap_or_default(),
            },
            Kind::Spectrogram => FrontendConfig::Spectrogram {
                spectral: w.spectral(kind)?,
            },
            Kind::Logmel => FrontendConfig::Logmel {
                spectral: w.spectral(kind)?,
                n_mels: required(w.n_mels, "n_mels")?,
                fmin: w.fmin.unwrap_or(0.0),
                fmax: w.fmax,
                mel_scale: w.mel_scale.unwrap_or_default(),
                mel_norm: w.mel_norm.unwrap_or_default(),
            },
            Kind::Lfb => FrontendConfig::Lfb {
                spectral: w.spectral(kind)?,
                n_filters: required(w.n_filters, "n_filters")?,
                fmin: w.fmin.unwrap_or(0.0),
                fmax: w.fmax,
                with_energy: w.with_energy.unwrap_or(false),
            },
            Kind::Lfcc => {
                let n_filters = required(w.n_filters, "n_filters")?;
                FrontendConfig::Lfcc {
                    spectral: w.spectral(kind)?,
                    n_filters,
                    n_lfcc: w.n_lfcc.unwrap_or(n_filters),
                    fmin: w.fmin.unwrap_or(0.0),
                    fmax: w.fmax,
                    with_energy: w.with_energy.unwrap_or(false),
                }
            }
            Kind::Mfcc => FrontendConfig::Mfcc {
                spectral: w.spectral(kind)?,
                n_mels: required(w.n_mels, "n_mels")?,
                n_mfcc: w.n_mfcc.unwrap_or(20),
                fmin: w.fmin.unwrap_or(0.0),
                fmax: w.fmax,
                mel_scale: w.mel_scale.unwrap_or_default(),
                mel_norm: w.mel_norm.unwrap_or_default(),
                lifter: w.lifter.unwrap_or(0.0),
            },
            Kind::Whisper => FrontendConfig::Whisper {
                n_mels: w.n_mels.unwrap_or(80),
                pad_to: w.pad_to,
                layout: w.layout.unwrap_or_default(),
                fill: w.fill.unwrap_or_default(),
            },
        })
    }
}

impl From<FrontendConfig> for Wire {
    fn from(c: FrontendConfig) -> Wire {
        let spectral = |kind, s: SpectralConfig| Wire {
            kind: Some(kind),
            n_fft: Some(s.n_fft),
            win_length: Some(s.win_length),
            hop_length: Some(s.hop_length),
            window: Some(s.window),
            periodic: Some(s.periodic),
            center: Some(s.center),
            pad_mode: Some(s.pad_mode),
            power: Some(s.power),
            pre_emphasis: s.pre_emphasis,
            log: Some(s.log),
            log_offset: Some(s.log_offset),
            log_floor: s.log_floor,
            amin: Some(s.amin),
            db_ref: Some(s.db_ref),
            top_db: s.top_db,
            deltas: Some(s.deltas),
            delta_method: Some(s.delta_method),
            delta_width: (s.delta_method == DeltaMethod::Librosa).then_some(s.delta_width),
            mean: Some(s.mean),
            std: Some(s.std),
            layout: Some(s.layout),
            fill: Some(s.fill),
            ..Wire::default()
        };
        match c {
            FrontendConfig::Raw { normalize, fill } => Wire {
                kind: Some(Kind::Raw),
                normalize: Some(normalize),
                fill: Some(fill),
                ..Wire::default()
            },
            FrontendConfig::Spectrogram { spectral: s } => spectral(Kind::Spectrogram, s),
            FrontendConfig::Logmel {
                spectral: s,
                n_mels,
                fmin,
                fmax,
                mel_scale,
                mel_norm,
            } => Wire {
                n_mels: Some(n_mels),
                fmin: Some(fmin),
                fmax,
                mel_scale: Some(mel_scale),
                mel_norm: Some(mel_norm),
                ..spectral(Kind::Logmel, s)
            },
            FrontendConfig::Lfb {
                spectral: s,
                n_filters,
                fmin,
                fmax,
                with_energy,
            } => Wire {
                n_filters: Some(n_filters),
                fmin: Some(fmin),
                fmax,
                with_energy: Some(with_energy),
                ..spectral(Kind::Lfb, s)
            },
            FrontendConfig::Lfcc {
                spectral: s,
                n_filters,
                n_lfcc,
                fmin,
                fmax,
                with_energy,
            } => Wire {
                n_filters: Some(n_filters),
                n_lfcc: Some(n_lfcc),
                fmin: Some(fmin),
                fmax,
                with_energy: Some(with_energy),
                ..spectral(Kind::Lfcc, s)
            },
            FrontendConfig::Mfcc {
                spectral: s,
                n_mels,
                n_mfcc,
                fmin,
                fmax,
                mel_scale,
                mel_norm,
                lifter,
            } => Wire {
                n_mels: Some(n_mels),
                n_mfcc: Some(n_mfcc),
                fmin: Some(fmin),
                fmax,
                mel_scale: Some(mel_scale),
                mel_norm: Some(mel_norm),
                lifter: Some(lifter),
                ..spectral(Kind::Mfcc, s)
            },
            FrontendConfig::Whisper {
                n_mels,
                pad_to,
                layout,
                fill,
            } => Wire {
                kind: Some(Kind::Whisper),
                n_mels: Some(n_mels),
                pad_to,
                layout: Some(layout),
                fill: Some(fill),
                ..Wire::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FrontendConfig, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_filled_in() {
        let c = parse(r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":80}"#).unwrap();
        let FrontendConfig::Logmel {
            spectral: s,
            n_mels,
            fmin,
            fmax,
            mel_scale,
            mel_norm,
        } = c
        else {
            panic!("wrong variant")
        };
        assert_eq!((n_mels, fmin, fmax), (80, 0.0, None));
        assert_eq!((mel_scale, mel_norm), (MelScale::Slaney, MelNorm::Slaney));
        assert_eq!(
            (s.win_length, s.window, s.periodic, s.center),
            (512, WindowKind::Hann, true, true)
        );
        assert_eq!(
            (s.pad_mode, s.power, s.log, s.pre_emphasis),
            (PadMode::Constant, 2.0, LogKind::Db, None)
        );
        assert_eq!(
            (s.log_offset, s.log_floor, s.amin, s.db_ref, s.top_db),
            (1e-6, None, 1e-10, DbRef::Value(1.0), None)
        );
        assert_eq!((s.mean, s.std), (Stat::Scalar(0.0), Stat::Scalar(1.0)));
        assert_eq!(
            (s.deltas, s.delta_method, s.delta_width, s.layout, s.fill),
            (0, DeltaMethod::Librosa, 9, Layout::FreqMajor, Fill::Zeros)
        );
        assert_eq!(
            parse(r#"{"type":"raw"}"#).unwrap(),
            FrontendConfig::Raw {
                normalize: Normalize::None,
                fill: Fill::Zeros,
            }
        );
        // Type-dependent defaults.
        let s = |j: &str| parse(j).unwrap().spectral().unwrap().clone();
        let mag = s(r#"{"type":"spectrogram","n_fft":512,"hop_length":160,"power":1.0}"#);
        assert_eq!(mag.amin, 1e-5);
        let floor = s(
            r#"{"type":"spectrogram","n_fft":512,"hop_length":160,"log":"ln","log_floor":1e-10}"#,
        );
        assert_eq!(floor.log_offset, 0.0);
        let mfcc = parse(r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"power":1.0}"#)
            .unwrap();
        let FrontendConfig::Mfcc {
            spectral: m,
            n_mfcc,
            lifter,
            ..
        } = &mfcc
        else {
            panic!("wrong variant")
        };
        assert_eq!(
            (m.amin, m.top_db, *n_mfcc, *lifter),
            (1e-10, Some(80.0), 20, 0.0)
        );
        let lfcc = parse(r#"{"type":"lfcc","n_fft":512,"hop_length":160,"n_filters":20}"#).unwrap();
        let FrontendConfig::Lfcc {
            spectral: l,
            n_lfcc,
            with_energy,
            ..
        } = &lfcc
        else {
            panic!("wrong variant")
        };
        assert_eq!(
            (l.delta_method, *n_lfcc, *with_energy),
            (DeltaMethod::Asvspoof, 20, false)
        );
        assert_eq!(
            parse(r#"{"type":"whisper"}"#).unwrap(),
            FrontendConfig::Whisper {
                n_mels: 80,
                pad_to: None,
                layout: Layout::FreqMajor,
                fill: Fill::Zeros,
            }
        );
    }

    #[test]
    fn round_trips_through_json() {
        for s in [
            r#"{"type":"raw","normalize":"zscore"}"#,
            r#"{"type":"raw","fill":"repeat"}"#,
            r#"{"type":"spectrogram","n_fft":2048,"hop_length":512,"power":1.0,"top_db":80.0}"#,
            r#"{"type":"spectrogram","n_fft":2048,"hop_length":512,"db_ref":"max","amin":1e-4,"layout":"time_major","fill":"none"}"#,
            r#"{"type":"logmel","n_fft":400,"win_length":320,"hop_length":160,"n_mels":40,"fmax":7600,"mel_scale":"htk","mel_norm":"none","window":"hamming","periodic":false,"pre_emphasis":0.97}"#,
            r#"{"type":"logmel","n_fft":400,"hop_length":160,"n_mels":2,"log":"log10","log_floor":1e-10,"mean":[1,2],"std":[3,4],"deltas":2,"delta_width":5}"#,
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":20,"log":"log10","pad_mode":"reflect","mean":-3,"std":2}"#,
            r#"{"type":"lfcc","n_fft":512,"win_length":320,"hop_length":160,"n_filters":20,"n_lfcc":19,"with_energy":true,"deltas":2}"#,
            r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"n_mfcc":13,"lifter":22,"deltas":1}"#,
            r#"{"type":"whisper","n_mels":128,"pad_to":480000}"#,
        ] {
            let c = parse(s).unwrap();
            let again = parse(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(c, again, "{s}");
        }
    }

    #[test]
    fn rejects_unknown_misplaced_and_missing_fields() {
        let e = parse(r#"{"type":"raw","n_ftt":512}"#).unwrap_err();
        assert!(e.contains("unknown field `n_ftt`"), "{e}");
        let e = parse(r#"{"type":"spectrogram","n_fft":512,"hop_length":128,"n_mels":40}"#)
            .unwrap_err();
        assert!(
            e.contains("`n_mels` does not apply to type \"spectrogram\""),
            "{e}"
        );
        let e = parse(r#"{"type":"raw","n_fft":512}"#).unwrap_err();
        assert!(e.contains("`n_fft` does not apply to type \"raw\""), "{e}");
        let e = parse(r#"{"type":"logmel","n_fft":512,"hop_length":128}"#).unwrap_err();
        assert!(e.contains("missing field `n_mels`"), "{e}");
        let e = parse(r#"{"type":"lfb","n_fft":512,"n_filters":20}"#).unwrap_err();
        assert!(e.contains("missing field `hop_length`"), "{e}");
        let e = parse(r#"{"n_fft":512}"#).unwrap_err();
        assert!(e.contains("missing field `type`"), "{e}");
        let e = parse(r#"{"type":"cqcc"}"#).unwrap_err();
        assert!(e.contains("unknown variant `cqcc`"), "{e}");
        for (json, field, kind) in [
            (r#"{"type":"whisper","n_fft":400}"#, "n_fft", "whisper"),
            (r#"{"type":"whisper","mean":1}"#, "mean", "whisper"),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":128,"n_mels":40,"with_energy":true}"#,
                "with_energy",
                "logmel",
            ),
            (
                r#"{"type":"lfb","n_fft":512,"hop_length":128,"n_filters":20,"n_lfcc":20}"#,
                "n_lfcc",
                "lfb",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":128,"n_mels":40,"lifter":22}"#,
                "lifter",
                "logmel",
            ),
            (r#"{"type":"raw","layout":"time_major"}"#, "layout", "raw"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(
                e.contains(&format!("`{field}` does not apply to type \"{kind}\"")),
                "{json}: {e}"
            );
        }
        let e =
            parse(r#"{"type":"lfcc","n_fft":512,"hop_length":128,"n_filters":20,"delta_width":5}"#)
                .unwrap_err();
        assert!(e.contains("`delta_width` applies only to"), "{e}");
        let e = parse(r#"{"type":"spectrogram","n_fft":512,"hop_length":128,"db_ref":"min"}"#)
            .unwrap_err();
        assert!(e.contains("db_ref") || e.contains("DbRef"), "{e}");
    }
}

#[cfg(test)]
impl SpectralConfig {
    /// Defaults as the JSON fills them in, for unit tests of the stages.
    pub(crate) fn for_tests(n_fft: usize, hop_length: usize) -> SpectralConfig {
        let json = format!(r#"{{"type":"spectrogram","n_fft":{n_fft},"hop_length":{hop_length}}}"#);
        let cfg: FrontendConfig = serde_json::from_str(&json).unwrap();
        cfg.spectral().unwrap().clone()
    }
}
