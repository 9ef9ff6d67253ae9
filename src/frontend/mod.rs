//! Feature extraction: one analysis window of audio in, the model's input out.
//!
//! Every front end is numerically equal to its Python reference on the same
//! input (librosa, the ASVspoof baseline's LFCC, openai-whisper's log-mel,
//! HF's wav2vec2 normalisation), checked against stored reference outputs in
//! `tests/frontend_parity.rs`. Layout is frequency-major by default,
//! `[n_rows, n_frames]` row-major, like librosa's `(n_mels, t)`.

mod build;
mod config;
mod error;
mod filterbank;
mod offload;
mod post;
mod scale;
mod spectral;
mod stft;
mod window;

use std::sync::Arc;

pub use config::{
    DbRef, DeltaMethod, EdgeFill, Fill, FrameFill, FrontendConfig, Layout, LogKind, MaxRef,
    MelNorm, MelScale, Normalize, PadMode, SpectralConfig, Stat, WindowKind,
};
pub use error::FrontendError;
use spectral::{Scratch, Spectral};

/// A configured front end. Cloning is cheap: tables (window, FFT plan,
/// filterbank, DCT) are shared, and each clone gets its own scratch buffers,
/// so one clone per stream computes without locking or allocating.
#[derive(Clone)]
pub struct Frontend {
    shared: Arc<Shared>,
    scratch: Scratch,
}

struct Shared {
    window_samples: usize,
    shape: Vec<usize>,
    len: usize,
    fill: Fill,
    stage: Stage,
    /// Set with `frame_fill`: how a short window's features are made.
    short: Option<ShortWindows>,
}

/// A spectral front end with `frame_fill`: a window shorter than the
/// model's gets the features of its real samples alone (a front end built
/// for that length), and the missing frames are filled.
struct ShortWindows {
    config: FrontendConfig,
    sample_rate: u32,
    spectral: SpectralConfig,
}

enum Stage {
    Raw(Normalize),
    Spectral(Box<Spectral>),
}

impl Frontend {
    /// Shape of one window's features: `[rows, frames]` (or `[frames, rows]`
    /// with `layout: time_major`) for spectral front ends, `[window_samples]`
    /// for raw.
    pub fn output_shape(&self) -> &[usize] {
        &self.shared.shape
    }

    /// Number of values [`compute`](Self::compute) writes (product of the shape).
    pub fn output_len(&self) -> usize {
        self.shared.len
    }

    /// How a stream shorter than one window is completed (manifest `fill`).
    pub fn fill(&self) -> Fill {
        self.shared.fill
    }

    /// Completes a short window in place by the `fill` rule: `window[..have]`
    /// is audio, the rest is overwritten (zeros, or the audio repeated).
    /// Returns false, leaving `window` alone, for `Fill::None` or `have == 0`.
    pub fn complete_window(&self, window: &mut [f32], have: usize) -> bool {
        if have == 0 || self.shared.fill == Fill::None {
            return false;
        }
        for i in have..window.len() {
            window[i] = match self.shared.fill {
                Fill::Repeat => window[i - have],
                _ => 0.0,
            };
        }
        true
    }

    /// Whether a short window is completed in the feature domain
    /// (`frame_fill`, see [`compute_short`](Self::compute_short)) rather
    /// than by [`complete_window`](Self::complete_window).
    pub fn fills_frames(&self) -> bool {
        self.shared.short.is_some()
    }

    /// Features of a window with only `real.len()` samples (fewer than the
    /// model's window), as a notebook computes them: the front end of the
    /// real samples alone (their own frames, and `db_ref: "max"` and
    /// `top_db` over those frames), then the frames up to the model's count
    /// filled by `frame_fill`: a constant in the units of the log stage
    /// (normalised by `mean` / `std` like every value), or the last real
    /// frame repeated. Allocates (it runs once, at the end of a stream).
    pub fn compute_short(&self, real: &[f32], out: &mut [f32]) -> Result<(), FrontendError> {
        let (Some(short), Stage::Spectral(s)) = (&self.shared.short, &self.shared.stage) else {
            return Err(FrontendError::invalid(
                "frame_fill",
                "compute_short needs a spectral front end with frame_fill",
            ));
        };
        let mut part = Frontend::configure(&short.config, short.sample_rate, real.len())?;
        let mut feats = vec![0.0; part.output_len()];
        part.compute(real, &mut feats);
        let (rows, frames) = (s.out_rows(), s.frames);
        let have = part.shared.len / rows;
        let at = |r: usize, t: usize, frames: usize| match s.layout {
            Layout::FreqMajor => r * frames + t,
            Layout::TimeMajor => t * rows + r,
        };
        for r in 0..rows {
            for t in 0..frames {
                out[at(r, t, frames)] = match short.spectral.frame_fill {
                    _ if t < have => feats[at(r, t, have)],
                    Some(FrameFill::Value(v)) => {
                        (v - short.spectral.mean.at(r)) / short.spectral.std.at(r)
                    }
                    _ => feats[at(r, have - 1, have)],
                };
            }
        }
        Ok(())
    }

    /// Features of one window. `window.len()` must be the `window_samples`
    /// given to [`new`](Self::new) and `out.len()` must be
    /// [`output_len`](Self::output_len). Does not allocate.
    pub fn compute(&mut self, window: &[f32], out: &mut [f32]) {
        self.run(window, None, out);
    }

    /// [`compute`](Self::compute) for the window that starts `start` samples
    /// into a stream: the frames it shares with the previous window given
    /// this way (a whole number of hops earlier, away from both windows'
    /// edges) are copied rather than recomputed, with the same values. The
    /// default model's windows overlap by half, so its front end does half
    /// the work. The audio at a position must not change between calls:
    /// call [`forget`](Self::forget) when a stream starts over.
    pub fn compute_at(&mut self, window: &[f32], start: u64, out: &mut [f32]) {
        self.run(window, Some(start), out);
    }

    /// Drops what [`compute_at`](Self::compute_at) keeps of the last window.
    pub fn forget(&mut self) {
        self.scratch.reuse.clear();
    }

    fn run(&mut self, window: &[f32], start: Option<u64>, out: &mut [f32]) {
        let shared = &*self.shared;
        assert_eq!(
            window.len(),
            shared.window_samples,
            "frontend: window length"
        );
        assert_eq!(out.len(), shared.len, "frontend: output length");
        match &shared.stage {
            Stage::Raw(normalize) => scale::normalize_raw(*normalize, window, out),
            Stage::Spectral(s) => s.compute(window, start, &mut self.scratch, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(json: &str, sr: u32, n: usize) -> Result<Frontend, String> {
        let cfg: FrontendConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Frontend::new(&cfg, sr, n).map_err(|e| e.to_string())
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

    /// `compute_at` along a stream gives exactly what `compute` gives each
    /// window alone: overlapping by half and by a few hops, after a gap, at
    /// a position off the hop grid, moving back, and after `forget` with
    /// other audio at the same positions.
    #[test]
    fn reused_frames_equal_recomputed_ones() {
        let stream: Vec<f32> = (0..40000)
            .map(|i| ((i as f32 * 0.013).sin() + (i as f32 * 0.41).cos() * 0.3) * 0.2)
            .collect();
        let other: Vec<f32> = stream.iter().map(|v| v * -0.5 + 0.01).collect();
        for cfg in [
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":60,"log":"ln","mean":-5.8,"std":4.0}"#,
            r#"{"type":"logmel","n_fft":400,"hop_length":100,"n_mels":40,"pad_mode":"reflect","pre_emphasis":0.97,"top_db":80}"#,
            r#"{"type":"lfcc","n_fft":256,"hop_length":100,"n_filters":12,"with_energy":true,"deltas":2,"log":"ln","layout":"time_major"}"#,
            r#"{"type":"spectrogram","n_fft":256,"hop_length":128,"center":false}"#,
            r#"{"type":"whisper","pad_to":16000}"#,
        ] {
            let mut streamed = make(cfg, 16000, 8000).unwrap();
            let mut alone = streamed.clone();
            let (mut a, mut b) = (vec![0.0; alone.output_len()], vec![0.0; alone.output_len()]);
            let moves = [0, 4000, 8000, 8800, 9600, 20000, 20001, 24001, 1000, 5000];
            for (audio, starts) in [(&stream, &moves[..]), (&other, &[0, 4000][..])] {
                for &at in starts {
                    let w = &audio[at..at + 8000];
                    alone.compute(w, &mut a);
                    streamed.compute_at(w, at as u64, &mut b);
                    assert_eq!(a, b, "{cfg} at {at}");
                }
                streamed.forget();
            }
        }
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

    #[test]
    fn shapes_of_the_new_front_ends() {
        let f = make(
            r#"{"type":"lfcc","n_fft":512,"win_length":320,"hop_length":160,"n_filters":20,"deltas":2}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [60, 101]);
        let f = make(
            r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"n_mfcc":13,"deltas":1,"layout":"time_major"}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [101, 26]);
        // 30 s: 3000 frames of 80 or 128 mel bins, from a 4 s window.
        let f = make(r#"{"type":"whisper","pad_to":480000}"#, 16000, 64000).unwrap();
        assert_eq!(f.output_shape(), [80, 3000]);
        let f = make(r#"{"type":"whisper","n_mels":128}"#, 16000, 16000).unwrap();
        assert_eq!(f.output_shape(), [128, 100]);
    }

    #[test]
    fn bad_new_configs_name_the_field() {
        for (json, sr, n, needle) in [
            (
                r#"{"type":"whisper"}"#,
                8000,
                16000,
                "whisper needs sample_rate 16000",
            ),
            (
                r#"{"type":"whisper","pad_to":100}"#,
                16000,
                16000,
                "pad_to (100) must be >=",
            ),
            (
                r#"{"type":"whisper","n_mels":0}"#,
                16000,
                16000,
                "n_mels must be > 0",
            ),
            (
                r#"{"type":"lfcc","n_fft":512,"hop_length":160,"n_filters":20,"n_lfcc":21}"#,
                16000,
                16000,
                "n_lfcc must be in 1..=n_filters (20)",
            ),
            (
                r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"n_mfcc":0}"#,
                16000,
                16000,
                "n_mfcc must be in 1..=n_mels (40)",
            ),
            (
                r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"lifter":-1}"#,
                16000,
                16000,
                "lifter must be >= 0",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"deltas":3}"#,
                16000,
                16000,
                "deltas must be 0, 1 or 2",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"deltas":1,"delta_width":4}"#,
                16000,
                16000,
                "delta_width must be odd and >= 3",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"deltas":1}"#,
                16000,
                800,
                "delta_width (9) must be <= the number of frames (6)",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"mean":[1,2,3]}"#,
                16000,
                16000,
                "mean has 3 values but the front end has 4 rows",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":2,"std":[1,0]}"#,
                16000,
                16000,
                "std must be > 0 (got 0)",
            ),
            (
                r#"{"type":"spectrogram","n_fft":512,"hop_length":160,"amin":0}"#,
                16000,
                16000,
                "amin must be > 0",
            ),
            (
                r#"{"type":"spectrogram","n_fft":512,"hop_length":160,"log_floor":1e-10}"#,
                16000,
                16000,
                "log_floor requires log",
            ),
        ] {
            let e = err(json, sr, n);
            assert!(e.contains(needle), "{json}: got {e:?}, want {needle:?}");
        }
    }

    #[test]
    fn time_major_is_the_transpose() {
        let base = r#""type":"lfcc","n_fft":256,"hop_length":100,"n_filters":12,"with_energy":true,"deltas":2,"log":"ln""#;
        let mut a = make(&format!("{{{base}}}"), 8000, 3000).unwrap();
        let mut b = make(&format!(r#"{{{base},"layout":"time_major"}}"#), 8000, 3000).unwrap();
        let x: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.031).sin() * 0.2).collect();
        let (mut ya, mut yb) = (vec![0.0; a.output_len()], vec![0.0; b.output_len()]);
        a.compute(&x, &mut ya);
        b.compute(&x, &mut yb);
        let [rows, frames] = a.output_shape() else {
            panic!()
        };
        assert_eq!(b.output_shape(), [*frames, *rows]);
        for r in 0..*rows {
            for t in 0..*frames {
                assert_eq!(ya[r * frames + t], yb[t * rows + r]);
            }
        }
    }

    #[test]
    fn short_windows_are_completed_by_the_fill_rule() {
        let mut w = [1.0, 2.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        let f = make(r#"{"type":"raw","fill":"repeat"}"#, 16000, 8).unwrap();
        assert!(f.complete_window(&mut w, 3));
        assert_eq!(w, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0]);
        let f = make(r#"{"type":"whisper"}"#, 16000, 8000).unwrap();
        assert_eq!(f.fill(), Fill::Zeros);
        assert!(f.complete_window(&mut w, 2));
        assert_eq!(w, [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let f = make(
            r#"{"type":"spectrogram","n_fft":4,"hop_length":2,"fill":"none"}"#,
            16000,
            8,
        )
        .unwrap();
        assert!(!f.complete_window(&mut w, 2));
        assert_eq!(w[1], 2.0);
    }
}
