//! Feature extraction: one analysis window of audio in, the model's input out.
//!
//! Every spectral front end is numerically equal to librosa on the same input
//! (checked against stored librosa outputs in `tests/frontend_parity.rs`).
//! Layout is frequency-major, `[n_bins, n_frames]` row-major, like librosa's
//! `(n_mels, t)`.

mod config;
mod filterbank;
mod scale;
mod stft;
mod window;

use std::sync::Arc;

pub use config::{
    FrontendConfig, LogKind, MelNorm, MelScale, Normalize, PadMode, SpectralConfig, WindowKind,
};
use filterbank::Filterbank;
use scale::Scale;
use stft::Stft;

/// A configured front end. Cloning is cheap: tables (window, FFT plan,
/// filterbank) are shared, and each clone gets its own scratch buffers, so
/// one clone per stream computes without locking or allocating.
#[derive(Clone)]
pub struct Frontend {
    shared: Arc<Shared>,
    scratch: stft::Scratch,
}

struct Shared {
    window_samples: usize,
    shape: Vec<usize>,
    len: usize,
    stage: Stage,
}

enum Stage {
    Raw(Normalize),
    Spectral {
        stft: Stft,
        bank: Option<Filterbank>,
        scale: Scale,
    },
}

impl Frontend {
    /// Checks `cfg` against the model's rate and window length and builds all
    /// tables. Errors name the offending field.
    pub fn new(
        cfg: &FrontendConfig,
        sample_rate: u32,
        window_samples: usize,
    ) -> Result<Frontend, String> {
        if sample_rate == 0 {
            return Err("frontend: sample_rate must be > 0".into());
        }
        if window_samples == 0 {
            return Err("frontend: window must be > 0 samples".into());
        }
        let nyquist = sample_rate as f32 / 2.0;
        let (spectral, bank) = match cfg {
            FrontendConfig::Raw { normalize } => {
                return Ok(Frontend::build(window_samples, Stage::Raw(*normalize)));
            }
            FrontendConfig::Spectrogram { spectral } => {
                check_spectral(spectral, window_samples)?;
                (spectral, None)
            }
            FrontendConfig::Logmel {
                spectral,
                n_mels,
                fmin,
                fmax,
                mel_scale,
                mel_norm,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_mels, "n_mels")?;
                let fmax = band(*fmin, *fmax, nyquist)?;
                let bank = Filterbank::mel(
                    sample_rate,
                    spectral.n_fft,
                    *n_mels,
                    *fmin as f64,
                    fmax,
                    *mel_scale,
                    *mel_norm,
                );
                (spectral, Some(bank))
            }
            FrontendConfig::Lfb {
                spectral,
                n_filters,
                fmin,
                fmax,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_filters, "n_filters")?;
                let fmax = band(*fmin, *fmax, nyquist)?;
                let bank =
                    Filterbank::linear(sample_rate, spectral.n_fft, *n_filters, *fmin as f64, fmax);
                (spectral, Some(bank))
            }
        };
        let stage = Stage::Spectral {
            stft: Stft::new(spectral, window_samples),
            bank,
            scale: Scale::new(spectral),
        };
        Ok(Frontend::build(window_samples, stage))
    }

    fn build(window_samples: usize, stage: Stage) -> Frontend {
        let (shape, scratch) = match &stage {
            Stage::Raw(_) => (vec![window_samples], stft::Scratch::default()),
            Stage::Spectral { stft, bank, .. } => {
                let rows = bank.as_ref().map_or(stft.n_bins(), Filterbank::len);
                (vec![rows, stft.n_frames()], stft.scratch(window_samples))
            }
        };
        let shared = Shared {
            window_samples,
            len: shape.iter().product(),
            shape,
            stage,
        };
        Frontend {
            shared: Arc::new(shared),
            scratch,
        }
    }

    /// Shape of one window's features: `[n_bins, n_frames]` for spectral
    /// front ends, `[window_samples]` for raw.
    pub fn output_shape(&self) -> &[usize] {
        &self.shared.shape
    }

    /// Number of values [`compute`](Self::compute) writes (product of the shape).
    pub fn output_len(&self) -> usize {
        self.shared.len
    }

    /// Features of one window. `window.len()` must be the `window_samples`
    /// given to [`new`](Self::new) and `out.len()` must be
    /// [`output_len`](Self::output_len). Does not allocate.
    pub fn compute(&mut self, window: &[f32], out: &mut [f32]) {
        let shared = &*self.shared;
        assert_eq!(
            window.len(),
            shared.window_samples,
            "frontend: window length"
        );
        assert_eq!(out.len(), shared.len, "frontend: output length");
        match &shared.stage {
            Stage::Raw(normalize) => scale::normalize_raw(*normalize, window, out),
            Stage::Spectral { stft, bank, scale } => {
                let n_frames = stft.n_frames();
                stft.run(window, &mut self.scratch, |t, spectrum| match bank {
                    Some(bank) => bank.apply(spectrum, out, n_frames, t),
                    None => {
                        for (k, &v) in spectrum.iter().enumerate() {
                            out[k * n_frames + t] = v;
                        }
                    }
                });
                scale.apply(out);
            }
        }
    }
}

/// Validates the parameters shared by all spectral front ends.
fn check_spectral(c: &SpectralConfig, window_samples: usize) -> Result<(), String> {
    if c.n_fft == 0 || c.n_fft % 2 == 1 {
        return Err(format!(
            "frontend: n_fft must be a positive even number (got {})",
            c.n_fft
        ));
    }
    if c.win_length == 0 || c.win_length > c.n_fft {
        return Err(format!(
            "frontend: win_length must be in 1..=n_fft ({}) (got {})",
            c.n_fft, c.win_length
        ));
    }
    positive(c.hop_length, "hop_length")?;
    if c.power != 1.0 && c.power != 2.0 {
        return Err(format!(
            "frontend: power must be 1.0 or 2.0 (got {})",
            c.power
        ));
    }
    if let Some(a) = c.pre_emphasis {
        if !(0.0..=1.0).contains(&a) {
            return Err(format!(
                "frontend: pre_emphasis must be in [0, 1] (got {a})"
            ));
        }
    }
    if matches!(c.log, LogKind::Ln | LogKind::Log10)
        && !(c.log_offset > 0.0 && c.log_offset.is_finite())
    {
        return Err(format!(
            "frontend: log_offset must be > 0 (got {})",
            c.log_offset
        ));
    }
    if !(c.db_ref > 0.0 && c.db_ref.is_finite()) {
        return Err(format!("frontend: db_ref must be > 0 (got {})", c.db_ref));
    }
    if let Some(top_db) = c.top_db {
        if c.log != LogKind::Db {
            return Err("frontend: top_db requires log = \"db\"".into());
        }
        if !(top_db >= 0.0 && top_db.is_finite()) {
            return Err(format!("frontend: top_db must be >= 0 (got {top_db})"));
        }
    }
    if !c.mean.is_finite() {
        return Err(format!("frontend: mean must be finite (got {})", c.mean));
    }
    if !(c.std > 0.0 && c.std.is_finite()) {
        return Err(format!("frontend: std must be > 0 (got {})", c.std));
    }
    if !c.center && window_samples < c.n_fft {
        return Err(format!(
            "frontend: with center = false the window ({window_samples} samples) must hold at least n_fft ({}) samples",
            c.n_fft
        ));
    }
    if c.center && c.pad_mode == PadMode::Reflect && window_samples <= c.n_fft / 2 {
        return Err(format!(
            "frontend: pad_mode \"reflect\" needs a window longer than n_fft/2 ({}) samples (got {window_samples})",
            c.n_fft / 2
        ));
    }
    Ok(())
}

fn positive(v: usize, name: &str) -> Result<(), String> {
    if v == 0 {
        return Err(format!("frontend: {name} must be > 0"));
    }
    Ok(())
}

/// Checks `0 <= fmin < fmax <= nyquist` and resolves the default `fmax`.
fn band(fmin: f32, fmax: Option<f32>, nyquist: f32) -> Result<f64, String> {
    let fmax = fmax.unwrap_or(nyquist);
    if !(fmin >= 0.0 && fmin.is_finite()) {
        return Err(format!("frontend: fmin must be >= 0 (got {fmin})"));
    }
    if fmax.is_nan() || fmax > nyquist {
        return Err(format!(
            "frontend: fmax ({fmax}) must be <= sample_rate/2 ({nyquist})"
        ));
    }
    if fmin >= fmax {
        return Err(format!("frontend: fmin ({fmin}) must be < fmax ({fmax})"));
    }
    Ok(fmax as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(json: &str, sr: u32, n: usize) -> Result<Frontend, String> {
        let cfg: FrontendConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Frontend::new(&cfg, sr, n)
    }

    fn err(json: &str, sr: u32, n: usize) -> String {
        make(json, sr, n).err().expect("config should be rejected")
    }

    #[test]
    fn shapes() {
        let f = make(r#"{"type":"raw"}"#, 16000, 16000).unwrap();
        assert_eq!((f.output_shape(), f.output_len()), (&[16000][..], 16000));
        let f = make(
            r#"{"type":"spectrogram","n_fft":2048,"hop_length":512}"#,
            16000,
            48000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [1025, 1 + 48000 / 512]);
        let f = make(
            r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":80}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [80, 101]);
        let f = make(
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":20,"center":false}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(
            (f.output_shape(), f.output_len()),
            (&[20, 1 + (16000 - 512) / 160][..], 20 * 97)
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        // The base config with the fields of `extra` replaced or added.
        let spec = |extra: &str| {
            let mut v: serde_json::Value = serde_json::from_str(
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":40}"#,
            )
            .unwrap();
            let extra: serde_json::Value = serde_json::from_str(&format!("{{{extra}}}")).unwrap();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v.to_string()
        };
        for (extra, sr, n, needle) in [
            (
                r#""n_fft":511"#,
                16000,
                16000,
                "n_fft must be a positive even number",
            ),
            (r#""n_fft":0"#, 16000, 16000, "n_fft must be"),
            (
                r#""win_length":1024"#,
                16000,
                16000,
                "win_length must be in 1..=n_fft",
            ),
            (r#""win_length":0"#, 16000, 16000, "win_length"),
            (r#""hop_length":0"#, 16000, 16000, "hop_length must be > 0"),
            (r#""n_mels":0"#, 16000, 16000, "n_mels must be > 0"),
            (
                r#""fmax":9000"#,
                16000,
                16000,
                "fmax (9000) must be <= sample_rate/2 (8000)",
            ),
            (
                r#""fmin":4000,"fmax":3000"#,
                16000,
                16000,
                "fmin (4000) must be < fmax (3000)",
            ),
            (r#""fmin":-1"#, 16000, 16000, "fmin must be >= 0"),
            (r#""power":1.5"#, 16000, 16000, "power must be 1.0 or 2.0"),
            (r#""pre_emphasis":1.5"#, 16000, 16000, "pre_emphasis"),
            (
                r#""log":"ln","log_offset":0"#,
                16000,
                16000,
                "log_offset must be > 0",
            ),
            (r#""db_ref":0"#, 16000, 16000, "db_ref must be > 0"),
            (
                r#""log":"ln","top_db":80"#,
                16000,
                16000,
                "top_db requires log = \"db\"",
            ),
            (r#""top_db":-1"#, 16000, 16000, "top_db must be >= 0"),
            (r#""std":0"#, 16000, 16000, "std must be > 0"),
            (
                r#""center":false"#,
                16000,
                100,
                "must hold at least n_fft (512)",
            ),
            (
                r#""pad_mode":"reflect""#,
                16000,
                256,
                "pad_mode \"reflect\"",
            ),
            ("", 0, 16000, "sample_rate must be > 0"),
            ("", 16000, 0, "window must be > 0"),
        ] {
            let e = err(&spec(extra), sr, n);
            assert!(e.contains(needle), "{extra}: got {e:?}, want {needle:?}");
        }
        let e = err(
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":0}"#,
            16000,
            16000,
        );
        assert!(e.contains("n_filters must be > 0"), "{e}");
    }

    #[test]
    fn clones_share_tables_and_agree() {
        let cfg = r#"{"type":"logmel","n_fft":400,"win_length":320,"hop_length":160,"n_mels":40,"log":"ln"}"#;
        let mut a = make(cfg, 16000, 4000).unwrap();
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.shared, &b.shared));
        let x: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let (mut ya, mut yb) = (vec![0.0; a.output_len()], vec![1.0; b.output_len()]);
        a.compute(&x, &mut ya);
        b.compute(&x, &mut yb);
        assert_eq!(ya, yb);
        // Reusing scratch gives the same result again.
        a.compute(&x, &mut yb);
        assert_eq!(ya, yb);
    }

    #[test]
    fn sine_peaks_in_its_bin() {
        let (sr, n_fft) = (8000u32, 256usize);
        let mut f = make(
            r#"{"type":"spectrogram","n_fft":256,"hop_length":128,"log":"none","power":1.0}"#,
            sr,
            2048,
        )
        .unwrap();
        let bin = 20;
        let hz = bin as f32 * sr as f32 / n_fft as f32;
        let x: Vec<f32> = (0..2048)
            .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / sr as f32).sin())
            .collect();
        let mut y = vec![0.0; f.output_len()];
        f.compute(&x, &mut y);
        let n_frames = f.output_shape()[1];
        let t = n_frames / 2;
        let col: Vec<f32> = (0..=n_fft / 2).map(|k| y[k * n_frames + t]).collect();
        let argmax = col
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(argmax, bin);
        // Hann-windowed unit sine: |X| = sum(w) / 2 = n_fft / 4.
        assert!(
            (col[bin] - n_fft as f32 / 4.0).abs() < 1e-3 * n_fft as f32,
            "{}",
            col[bin]
        );
    }
}
