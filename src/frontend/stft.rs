//! Short-time Fourier transform with librosa's framing (`librosa.stft`).

use std::ops::Range;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::config::{PadMode, SpectralConfig};
use super::window::{pad_center, window};

/// Frames of one analysis window and the `|X|^power` of each frame.
/// Immutable after construction; per-call buffers live in [`Scratch`].
///
/// Windowing and FFT run in f64, as librosa does (its window is f64, so
/// numpy promotes the frames): in f32, bins 70-95 dB below the window's peak
/// drift by up to 2.5e-3 dB from librosa; in f64 every output is within one
/// f32 ulp. The FFT is a small part of the cost (about 15% of the
/// instructions at n_fft 512), so f64 costs little.
pub(crate) struct Stft {
    n_fft: usize,
    hop: usize,
    /// Samples added on each side (`n_fft / 2` when centred, else 0).
    pad: usize,
    pad_mode: PadMode,
    pre_emphasis: Option<f32>,
    power: f32,
    n_frames: usize,
    /// The analysis window zero-padded to `n_fft` (scipy's f64 values).
    window: Vec<f64>,
    /// Half-length complex FFT: a real frame of `n_fft` samples is packed as
    /// `n_fft/2` complex values (even samples real, odd imaginary), which
    /// halves the work compared with a complex FFT of the full frame.
    fft: Arc<dyn Fft<f64>>,
    /// `exp(-2*pi*i*k/n_fft)` for `k` in `0..=n_fft/2`, to unpack that FFT.
    twiddles: Vec<Complex<f64>>,
}

/// What [`Stft::offload`] hands out.
pub(crate) struct Framing<'a> {
    pub n_fft: usize,
    pub hop: usize,
    pub pad: usize,
    pub reflect: bool,
    /// Zero-padded to `n_fft`.
    pub window: &'a [f64],
    pub power: u32,
}

/// Per-stream buffers of one [`Stft`], allocated once.
#[derive(Clone, Default)]
pub(crate) struct Scratch {
    padded: Vec<f32>,
    packed: Vec<Complex<f64>>,
    fft: Vec<Complex<f64>>,
    spectrum: Vec<f32>,
}

impl Stft {
    /// Frames for `window_samples` input samples: centred framing gives
    /// `1 + window_samples / hop` frames (librosa); otherwise only whole frames
    /// inside the window. `cfg` must have passed `Frontend::new`'s checks.
    pub(crate) fn new(cfg: &SpectralConfig, window_samples: usize) -> Stft {
        let n_fft = cfg.n_fft;
        let pad = if cfg.center { n_fft / 2 } else { 0 };
        let n_frames = 1 + (window_samples + 2 * pad - n_fft) / cfg.hop_length;
        let win = window(cfg.window, cfg.win_length, cfg.periodic);
        let twiddles = (0..=n_fft / 2)
            .map(|k| {
                let phase = -2.0 * std::f64::consts::PI * k as f64 / n_fft as f64;
                Complex::new(phase.cos(), phase.sin())
            })
            .collect();
        Stft {
            n_fft,
            hop: cfg.hop_length,
            pad,
            pad_mode: cfg.pad_mode,
            pre_emphasis: cfg.pre_emphasis,
            power: cfg.power,
            n_frames,
            window: pad_center(&win, n_fft),
            fft: FftPlanner::new().plan_fft_forward(n_fft / 2),
            twiddles,
        }
    }

    pub(crate) fn hop(&self) -> usize {
        self.hop
    }

    pub(crate) fn n_frames(&self) -> usize {
        self.n_frames
    }

    /// The framing and window as plain values, for a backend that computes
    /// the same STFT itself, or why it cannot (pre-emphasis, a power other
    /// than 1 or 2).
    pub(crate) fn offload(&self) -> Result<Framing<'_>, String> {
        if self.pre_emphasis.is_some() {
            return Err("pre-emphasis".into());
        }
        let power = if self.power == 1.0 {
            1
        } else if self.power == 2.0 {
            2
        } else {
            return Err(format!("power {}", self.power));
        };
        Ok(Framing {
            n_fft: self.n_fft,
            hop: self.hop,
            pad: self.pad,
            reflect: self.pad_mode == PadMode::Reflect && self.pad > 0,
            window: &self.window,
            power,
        })
    }

    /// Frequency bins per frame: `n_fft / 2 + 1` (0 Hz to Nyquist).
    pub(crate) fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub(crate) fn scratch(&self, window_samples: usize) -> Scratch {
        Scratch {
            padded: vec![0.0; window_samples + 2 * self.pad],
            packed: vec![Complex::default(); self.n_fft / 2],
            fft: vec![Complex::default(); self.fft.get_inplace_scratch_len()],
            spectrum: vec![0.0; self.n_bins()],
        }
    }

    /// Frames that see only samples `0..len` of the input as they are:
    /// neither the padding nor the pre-emphasis of the first sample, which
    /// depend on where the input starts. Such a frame is the same whatever
    /// window around it was cut from one stream.
    pub(crate) fn interior(&self, len: usize) -> Range<usize> {
        let first = self.pad + usize::from(self.pre_emphasis.is_some());
        let start = first.div_ceil(self.hop);
        let end = (self.pad + len)
            .checked_sub(self.n_fft)
            .map_or(0, |last| last / self.hop + 1)
            .min(self.n_frames);
        start..end.max(start)
    }

    /// Calls `frame(t, spectrum)` for every frame `t` in order but those in
    /// `skip`, where `spectrum[k] = |X_t[k]|^power`. Does not allocate.
    pub(crate) fn run(
        &self,
        x: &[f32],
        skip: Range<usize>,
        s: &mut Scratch,
        mut frame: impl FnMut(usize, &[f32]),
    ) {
        self.fill_padded(x, &mut s.padded);
        let half = self.n_fft / 2;
        for t in (0..self.n_frames).filter(|t| !skip.contains(t)) {
            let start = t * self.hop;
            let samples = &s.padded[start..start + self.n_fft];
            let pairs = samples.chunks_exact(2).zip(self.window.chunks_exact(2));
            for (z, (x, w)) in s.packed.iter_mut().zip(pairs) {
                *z = Complex::new(x[0] as f64 * w[0], x[1] as f64 * w[1]);
            }
            self.fft.process_with_scratch(&mut s.packed, &mut s.fft);
            // With Z = FFT(packed) and M = n_fft/2, the spectra of the even and
            // odd samples are E[k] = (Z[k] + conj Z[M-k]) / 2 and
            // O[k] = (Z[k] - conj Z[M-k]) / 2i, and X[k] = E[k] + W^k O[k].
            // At k = 0 and k = M (Z[M] = Z[0]) this reduces to Re Z0 +- Im Z0.
            let z = &s.packed;
            let magnitude = |p: f64| (if self.power == 2.0 { p } else { p.sqrt() }) as f32;
            s.spectrum[0] = magnitude((z[0].re + z[0].im).powi(2));
            s.spectrum[half] = magnitude((z[0].re - z[0].im).powi(2));
            let mirrored = z[1..half].iter().zip(z[1..half].iter().rev());
            let bins = s.spectrum[1..half].iter_mut().zip(&self.twiddles[1..half]);
            for ((out, w), (&a, b)) in bins.zip(mirrored) {
                let b = b.conj();
                let even = (a + b) * 0.5;
                let odd = (a - b) * Complex::new(0.0, -0.5);
                *out = magnitude((even + w * odd).norm_sqr());
            }
            frame(t, &s.spectrum);
        }
    }

    /// `padded = [pad | pre-emphasised x | pad]`.
    fn fill_padded(&self, x: &[f32], padded: &mut [f32]) {
        let (pad, len) = (self.pad, x.len());
        let body = &mut padded[pad..pad + len];
        match self.pre_emphasis {
            Some(a) => {
                body[0] = x[0];
                for n in 1..len {
                    body[n] = x[n] - a * x[n - 1];
                }
            }
            None => body.copy_from_slice(x),
        }
        for j in 1..=pad {
            let (head, tail) = match self.pad_mode {
                // numpy "reflect": mirror about the edge sample, not repeating it.
                PadMode::Reflect => (padded[pad + j], padded[pad + len - 1 - j]),
                PadMode::Constant => (0.0, 0.0),
            };
            padded[pad - j] = head;
            padded[pad + len - 1 + j] = tail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::config::{LogKind, WindowKind};

    fn cfg(n_fft: usize, hop: usize, center: bool) -> SpectralConfig {
        SpectralConfig {
            center,
            log: LogKind::None,
            ..SpectralConfig::for_tests(n_fft, hop)
        }
    }

    /// Direct O(n^2) DFT power of one windowed frame, in f64.
    fn dft_power(frame: &[f32], win: &[f64]) -> Vec<f64> {
        let n = frame.len();
        (0..=n / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (j, (&x, &w)) in frame.iter().zip(win).enumerate() {
                    let ph = -2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
                    re += x as f64 * w * ph.cos();
                    im += x as f64 * w * ph.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    #[test]
    fn packed_real_fft_matches_direct_dft() {
        let c = cfg(64, 16, false);
        let x: Vec<f32> = (0..200)
            .map(|i| ((i * 7919 % 113) as f32 / 56.0 - 1.0) * 0.5)
            .collect();
        let stft = Stft::new(&c, x.len());
        assert_eq!(stft.n_frames(), 1 + (200 - 64) / 16);
        let mut s = stft.scratch(x.len());
        let win = window(WindowKind::Hann, 64, true);
        stft.run(&x, 0..0, &mut s, |t, spec| {
            let want = dft_power(&x[t * 16..t * 16 + 64], &win);
            for (k, (&got, want)) in spec.iter().zip(want).enumerate() {
                assert!(
                    (got as f64 - want).abs() < 1e-5 * (1.0 + want),
                    "t={t} k={k}"
                );
            }
        });
    }

    #[test]
    fn interior_frames_see_only_the_window() {
        // The default model: 201 centred frames, the first two and the last
        // two reach into the padding.
        let stft = Stft::new(&cfg(512, 160, true), 32000);
        assert_eq!((stft.n_frames(), stft.interior(32000)), (201, 2..199));
        // Uncentred, every frame is inside; pre-emphasis changes the first
        // sample, so the frame that starts on it is not.
        assert_eq!(Stft::new(&cfg(8, 4, false), 40).interior(40), 0..9);
        let mut c = cfg(8, 4, false);
        c.pre_emphasis = Some(0.97);
        assert_eq!(Stft::new(&c, 40).interior(40), 1..9);
        // A window shorter than a frame has none.
        assert_eq!(Stft::new(&cfg(64, 16, true), 40).interior(40), 2..2);
    }

    #[test]
    fn centred_frame_count_and_padding() {
        let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let mut c = cfg(8, 3, true);
        let stft = Stft::new(&c, 10);
        assert_eq!(stft.n_frames(), 1 + 10 / 3);
        let mut p = vec![f32::NAN; 18];
        stft.fill_padded(&x, &mut p);
        assert_eq!(p[..5], [0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(p[14..], [0.0; 4]);
        c.pad_mode = PadMode::Reflect;
        c.pre_emphasis = Some(0.5);
        Stft::new(&c, 10).fill_padded(&x, &mut p);
        // pre-emphasised body: 0, 1, 1.5, 2, 2.5, ..., 4.5, 5
        assert_eq!(p[..6], [2.5, 2.0, 1.5, 1.0, 0.0, 1.0]);
        assert_eq!(p[13..], [5.0, 4.5, 4.0, 3.5, 3.0]);
    }
}
