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

/// Which features a model consumes, and exactly how they are computed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub enum FrontendConfig {
    /// The waveform itself, shape `[window_samples]`.
    Raw { normalize: Normalize },
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
    },
}

/// Parameters shared by all spectral front ends, applied in this order:
/// pre-emphasis, framing + window + FFT, `|X|^power`, filterbank, log, then
/// `(x - mean) / std`.
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
    /// Reference of the `db` scale (librosa `ref`).
    pub db_ref: f32,
    /// `db` only: clamp to `max - top_db` over the window (librosa `top_db`).
    pub top_db: Option<f32>,
    pub mean: f32,
    pub std: f32,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Raw,
    Spectrogram,
    Logmel,
    Lfb,
}

/// The JSON form: every field of every type, all optional.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "type")]
    kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    normalize: Option<Normalize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n_fft: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    win_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hop_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<WindowKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    periodic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    center: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pad_mode: Option<PadMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    power: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pre_emphasis: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log: Option<LogKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_offset: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    db_ref: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top_db: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mean: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    std: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n_mels: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n_filters: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fmin: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fmax: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mel_scale: Option<MelScale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mel_norm: Option<MelNorm>,
}

impl Wire {
    /// Names of the fields that are set, for "does not belong to" checks.
    fn set_fields(&self) -> Vec<&'static str> {
        let fields: [(&'static str, bool); 22] = [
            ("normalize", self.normalize.is_some()),
            ("n_fft", self.n_fft.is_some()),
            ("win_length", self.win_length.is_some()),
            ("hop_length", self.hop_length.is_some()),
            ("window", self.window.is_some()),
            ("periodic", self.periodic.is_some()),
            ("center", self.center.is_some()),
            ("pad_mode", self.pad_mode.is_some()),
            ("power", self.power.is_some()),
            ("pre_emphasis", self.pre_emphasis.is_some()),
            ("log", self.log.is_some()),
            ("log_offset", self.log_offset.is_some()),
            ("db_ref", self.db_ref.is_some()),
            ("top_db", self.top_db.is_some()),
            ("mean", self.mean.is_some()),
            ("std", self.std.is_some()),
            ("n_mels", self.n_mels.is_some()),
            ("n_filters", self.n_filters.is_some()),
            ("fmin", self.fmin.is_some()),
            ("fmax", self.fmax.is_some()),
            ("mel_scale", self.mel_scale.is_some()),
            ("mel_norm", self.mel_norm.is_some()),
        ];
        fields.iter().filter(|f| f.1).map(|f| f.0).collect()
    }

    fn spectral(&self) -> Result<SpectralConfig, String> {
        let n_fft = required(self.n_fft, "n_fft")?;
        Ok(SpectralConfig {
            n_fft,
            win_length: self.win_length.unwrap_or(n_fft),
            hop_length: required(self.hop_length, "hop_length")?,
            window: self.window.unwrap_or_default(),
            periodic: self.periodic.unwrap_or(true),
            center: self.center.unwrap_or(true),
            pad_mode: self.pad_mode.unwrap_or_default(),
            power: self.power.unwrap_or(2.0),
            pre_emphasis: self.pre_emphasis,
            log: self.log.unwrap_or_default(),
            log_offset: self.log_offset.unwrap_or(1e-6),
            db_ref: self.db_ref.unwrap_or(1.0),
            top_db: self.top_db,
            mean: self.mean.unwrap_or(0.0),
            std: self.std.unwrap_or(1.0),
        })
    }
}

fn required<T>(v: Option<T>, name: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("frontend: missing field `{name}`"))
}

const SPECTRAL_FIELDS: [&str; 15] = [
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
    "db_ref",
    "top_db",
    "mean",
    "std",
];

impl TryFrom<Wire> for FrontendConfig {
    type Error = String;

    fn try_from(w: Wire) -> Result<Self, String> {
        let kind = required(w.kind, "type")?;
        let own: &[&str] = match kind {
            Kind::Raw => &["normalize"],
            Kind::Spectrogram => &[],
            Kind::Logmel => &["n_mels", "fmin", "fmax", "mel_scale", "mel_norm"],
            Kind::Lfb => &["n_filters", "fmin", "fmax"],
        };
        let spectral = kind != Kind::Raw;
        if let Some(f) = w
            .set_fields()
            .into_iter()
            .find(|f| !(own.contains(f) || spectral && SPECTRAL_FIELDS.contains(f)))
        {
            let name = serde_json::to_value(kind).unwrap_or_default();
            return Err(format!(
                "frontend: field `{f}` does not apply to type {name}"
            ));
        }
        Ok(match kind {
            Kind::Raw => FrontendConfig::Raw {
                normalize: w.normalize.unwrap_or_default(),
            },
            Kind::Spectrogram => FrontendConfig::Spectrogram {
                spectral: w.spectral()?,
            },
            Kind::Logmel => FrontendConfig::Logmel {
                spectral: w.spectral()?,
                n_mels: required(w.n_mels, "n_mels")?,
                fmin: w.fmin.unwrap_or(0.0),
                fmax: w.fmax,
                mel_scale: w.mel_scale.unwrap_or_default(),
                mel_norm: w.mel_norm.unwrap_or_default(),
            },
            Kind::Lfb => FrontendConfig::Lfb {
                spectral: w.spectral()?,
                n_filters: required(w.n_filters, "n_filters")?,
                fmin: w.fmin.unwrap_or(0.0),
                fmax: w.fmax,
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
            db_ref: Some(s.db_ref),
            top_db: s.top_db,
            mean: Some(s.mean),
            std: Some(s.std),
            ..Wire::default()
        };
        match c {
            FrontendConfig::Raw { normalize } => Wire {
                kind: Some(Kind::Raw),
                normalize: Some(normalize),
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
            } => Wire {
                n_filters: Some(n_filters),
                fmin: Some(fmin),
                fmax,
                ..spectral(Kind::Lfb, s)
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
            (s.log_offset, s.db_ref, s.top_db, s.mean, s.std),
            (1e-6, 1.0, None, 0.0, 1.0)
        );
        assert_eq!(
            parse(r#"{"type":"raw"}"#).unwrap(),
            FrontendConfig::Raw {
                normalize: Normalize::None
            }
        );
    }

    #[test]
    fn round_trips_through_json() {
        for s in [
            r#"{"type":"raw","normalize":"zscore"}"#,
            r#"{"type":"spectrogram","n_fft":2048,"hop_length":512,"power":1.0,"top_db":80.0}"#,
            r#"{"type":"logmel","n_fft":400,"win_length":320,"hop_length":160,"n_mels":40,"fmax":7600,"mel_scale":"htk","mel_norm":"none","window":"hamming","periodic":false,"pre_emphasis":0.97}"#,
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":20,"log":"log10","pad_mode":"reflect","mean":-3,"std":2}"#,
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
        let e = parse(r#"{"type":"mfcc"}"#).unwrap_err();
        assert!(e.contains("unknown variant `mfcc`"), "{e}");
    }
}
