//! The compute path of a spectral front end: one window in, features out,
//! without allocating (the tables are built once by `build.rs`).

use std::ops::Range;

use super::filterbank::Filterbank;
use super::post::{Dct, Deltas};
use super::scale::Scale;
use super::stft::{self, Stft};
use super::Layout;

/// Everything a spectral front end runs, in order.
pub(super) struct Spectral {
    pub(super) stft: Stft,
    /// Frames that a window shares with an earlier window of the same
    /// stream when the two overlap ([`Stft::interior`], less a dropped last
    /// frame): only these may be copied from it.
    pub(super) shared: Range<usize>,
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
    /// STFT bins the energy sums (those below the baseline's `max_freq`).
    pub(super) energy_bins: usize,
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
    pub(super) reuse: Reuse,
    /// Frequency-major output before transposing to time-major.
    pub(super) transpose: Vec<f32>,
}

/// The last window's frames before the log: windows of a stream overlap
/// (the default model's by half), and a frame away from the window's edges
/// depends only on the stream's samples under it, so the next window copies
/// the frames it shares instead of recomputing them. A clone starts empty:
/// it serves another stream.
#[derive(Default)]
pub(super) struct Reuse {
    /// Stream position of the window `base` holds; `None`: nothing to reuse.
    start: Option<u64>,
    /// `[base_rows, frames]`, as the filterbank (or the STFT) gave them.
    base: Vec<f32>,
    /// The frame energies (`with_energy`).
    energy: Vec<f32>,
}

impl Reuse {
    /// Room for `base` and `energy` values; none when no frame can be shared.
    pub(super) fn new(base: usize, energy: usize) -> Reuse {
        Reuse {
            start: None,
            base: vec![0.0; base],
            energy: vec![0.0; energy],
        }
    }

    /// Keeps the buffers, forgets the window.
    pub(super) fn clear(&mut self) {
        self.start = None;
    }
}

impl Clone for Reuse {
    fn clone(&self) -> Reuse {
        Reuse::new(self.base.len(), self.energy.len())
    }
}

impl Spectral {
    /// Frames `t` in the returned range equal frames `t + shift` of the
    /// window kept in `reuse`, when the window now at stream position `at`
    /// overlaps it by a whole number of hops.
    fn reusable(&self, at: Option<u64>, reuse: &Reuse) -> (Range<usize>, usize) {
        let (Some(now), Some(before)) = (at, reuse.start) else {
            return (0..0, 0);
        };
        let hop = self.stft.hop() as u64;
        if now <= before || (now - before) % hop != 0 {
            return (0..0, 0);
        }
        let shift = usize::try_from((now - before) / hop).unwrap_or(usize::MAX);
        let (start, end) = (self.shared.start, self.shared.end.saturating_sub(shift));
        (start..end.max(start), shift)
    }

    /// Features of `window`, which starts at stream position `at` (`None`:
    /// not part of a stream, nothing is reused or kept).
    pub(super) fn compute(
        &self,
        window: &[f32],
        at: Option<u64>,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) {
        let Scratch {
            stft: stft_scratch,
            input,
            base,
            energy,
            reuse,
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
        let (copied, shift) = self.reusable(at, reuse);
        if !copied.is_empty() {
            let from = copied.start + shift..copied.end + shift;
            for (dst, src) in target
                .chunks_exact_mut(frames)
                .zip(reuse.base.chunks_exact(frames))
            {
                dst[copied.clone()].copy_from_slice(&src[from.clone()]);
            }
            if self.energy {
                energy[copied.clone()].copy_from_slice(&reuse.energy[from]);
            }
        }
        self.stft.run(x, copied, stft_scratch, |t, spectrum| {
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
                let kept = &spectrum[..self.energy_bins];
                let sum: f64 = kept.iter().map(|&v| v as f64).sum();
                energy[t] = (sum / self.n_fft as f64) as f32;
            }
        });
        reuse.start = None;
        if at.is_some() && !reuse.base.is_empty() {
            let (n, e) = (reuse.base.len(), reuse.energy.len());
            reuse.base.copy_from_slice(&target[..n]);
            reuse.energy.copy_from_slice(&energy[..e]);
            reuse.start = at;
        }
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
