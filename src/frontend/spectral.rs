//! The compute path of a spectral front end: one window in, features out,
//! without allocating (the tables are built once by `build.rs`).

use super::filterbank::Filterbank;
use super::post::{Dct, Deltas};
use super::scale::Scale;
use super::stft::{self, Stft};
use super::Layout;

/// Everything a spectral front end runs, in order.
pub(super) struct Spectral {
    pub(super) stft: Stft,
    pub(super) bank: Option<Filterbank>,
    pub(super) scale: Scale,
    /// Samples the STFT sees: the window, zero-padded to `pad_to` (whisper).
    pub(super) input_len: usize,
    /// Output frames (the STFT's, less the one whisper drops).
    pub(super) frames: usize,
    /// Rows after the filterbank (or STFT bins).
    pub(super) base_rows: usize,
    pub(super) dct: Option<Dct>,
    /// Replace row 0 by the log frame energy `sum |X|^power / n_fft`.
    pub(super) energy: bool,
    pub(super) n_fft: usize,
    pub(super) deltas: Deltas,
    /// Feature rows before the deltas are appended.
    pub(super) rows: usize,
    pub(super) layout: Layout,
}

impl Spectral {
    pub(super) fn out_rows(&self) -> usize {
        self.rows * (1 + self.deltas.order())
    }

    /// Only filterbank, log and normalisation, straight into the output.
    pub(super) fn direct(&self) -> bool {
        self.dct.is_none()
            && !self.energy
            && self.deltas.order() == 0
            && self.layout == Layout::FreqMajor
    }
}

/// Per-clone buffers, allocated once.
#[derive(Clone, Default)]
pub(super) struct Scratch {
    pub(super) stft: stft::Scratch,
    /// The window followed by zeros up to `input_len` (whisper `pad_to`).
    pub(super) input: Vec<f32>,
    /// Filterbank output, `[base_rows, frames]`.
    pub(super) base: Vec<f32>,
    pub(super) energy: Vec<f32>,
    /// Frequency-major output before transposing to time-major.
    pub(super) transpose: Vec<f32>,
}

impl Spectral {
    pub(super) fn compute(&self, window: &[f32], scratch: &mut Scratch, out: &mut [f32]) {
        let Scratch {
            stft: stft_scratch,
            input,
            base,
            energy,
            transpose,
        } = scratch;
        let x: &[f32] = if self.input_len > window.len() {
            // The tail stays zero: only this prefix is ever written.
            input[..window.len()].copy_from_slice(window);
            &input[..]
        } else {
            window
        };
        let direct = self.direct();
        let target: &mut [f32] = if direct { &mut *out } else { &mut base[..] };
        let frames = self.frames;
        self.stft.run(x, stft_scratch, |t, spectrum| {
            if t >= frames {
                return;
            }
            match &self.bank {
                Some(bank) => bank.apply(spectrum, target, frames, t),
                None => {
                    for (k, &v) in spectrum.iter().enumerate() {
                        target[k * frames + t] = v;
                    }
                }
            }
            if self.energy {
                let sum: f64 = spectrum.iter().map(|&v| v as f64).sum();
                energy[t] = (sum / self.n_fft as f64) as f32;
            }
        });
        if direct {
            self.scale.log(out);
            self.scale.normalize(out, frames);
            return;
        }
        self.scale.log(base);
        let dst: &mut [f32] = match self.layout {
            Layout::FreqMajor => &mut *out,
            Layout::TimeMajor => &mut transpose[..],
        };
        match &self.dct {
            Some(dct) => dct.apply(base, dst, frames),
            None => dst[..self.base_rows * frames].copy_from_slice(base),
        }
        if self.energy {
            for (d, &e) in dst[..frames].iter_mut().zip(energy.iter()) {
                *d = self.scale.log_value(e);
            }
        }
        self.deltas.apply(dst, self.rows, frames);
        self.scale.normalize(dst, frames);
        if self.layout == Layout::TimeMajor {
            let rows = self.out_rows();
            for (r, row) in transpose.chunks_exact(frames).enumerate() {
                for (t, &v) in row.iter().enumerate() {
                    out[t * rows + r] = v;
                }
            }
        }
    }
}
