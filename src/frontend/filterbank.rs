//! Triangular filterbanks over STFT bins: mel (equal to `librosa.filters.mel`)
//! and linear (the ASVspoof LFCC/LFB baseline).
//!
//! Both are built in f64 with librosa's arithmetic and stored as f32, like
//! librosa's default `dtype=np.float32`.

use super::config::{MelNorm, MelScale};

/// Sparse filterbank: each filter keeps only its non-zero run of bins.
pub(crate) struct Filterbank {
    /// `(first bin, offset into weights, number of bins)` per filter.
    filters: Vec<(usize, usize, usize)>,
    weights: Vec<f32>,
}

impl Filterbank {
    /// `librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
    /// fmax=fmax, htk=scale==Htk, norm="slaney"|None)`: edges equally spaced on
    /// the mel scale; Slaney norm scales filter `i` by `2 / (f[i+2] - f[i])` so
    /// each has unit area in Hz, i.e. constant energy per band.
    pub(crate) fn mel(
        sr: u32,
        n_fft: usize,
        n_mels: usize,
        fmin: f64,
        fmax: f64,
        scale: MelScale,
        norm: MelNorm,
    ) -> Filterbank {
        let mels = linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax, scale), n_mels + 2);
        let edges: Vec<f64> = mels.into_iter().map(|m| mel_to_hz(m, scale)).collect();
        let mut tri = triangles(&edges, &fft_frequencies(sr, n_fft));
        if norm == MelNorm::Slaney {
            for (i, row) in tri.iter_mut().enumerate() {
                let enorm = 2.0 / (edges[i + 2] - edges[i]);
                row.iter_mut().for_each(|w| *w *= enorm);
            }
        }
        Filterbank::sparse(&tri)
    }

    /// Linear filterbank of the ASVspoof 2019/2021 LFCC baseline (`linear_fb`
    /// in its PyTorch port): `n_filters + 2` edges
    /// `e_j = fmin + j * (fmax - fmin) / (n_filters + 1)` (numpy `linspace`),
    /// filter `i` a triangle rising from 0 at `e_i` to 1 at `e_{i+1}` and
    /// falling to 0 at `e_{i+2}`, evaluated at bin frequencies `k * sr / n_fft`;
    /// peak 1, no area normalisation. With `fmin = 0, fmax = sr/2` it is the
    /// baseline's matrix (its bin grid `sr/2 * linspace(0, 1, n_fft/2 + 1)`
    /// differs only by rounding).
    pub(crate) fn linear(
        sr: u32,
        n_fft: usize,
        n_filters: usize,
        fmin: f64,
        fmax: f64,
    ) -> Filterbank {
        let edges = linspace(fmin, fmax, n_filters + 2);
        Filterbank::sparse(&triangles(&edges, &fft_frequencies(sr, n_fft)))
    }

    /// The baseline's filterbank with `max_freq` < 1 (`LFCC(..., max_freq)`):
    /// it keeps the first `kept` STFT bins and places them on the grid
    /// `sr/2 * linspace(0, max_freq, kept)` (not their true frequencies), with
    /// edges `linspace(0, sr/2 * max_freq, n_filters + 2)`; the other bins
    /// get weight 0.
    pub(crate) fn baseline(
        sr: u32,
        n_fft: usize,
        n_filters: usize,
        max_freq: f64,
        kept: usize,
    ) -> Filterbank {
        let top = sr as f64 / 2.0 * max_freq;
        let grid = linspace(0.0, top, kept);
        let edges = linspace(0.0, top, n_filters + 2);
        let mut rows = triangles(&edges, &grid);
        for row in &mut rows {
            row.resize(n_fft / 2 + 1, 0.0);
        }
        Filterbank::sparse(&rows)
    }

    fn sparse(dense: &[Vec<f64>]) -> Filterbank {
        let mut filters = Vec::with_capacity(dense.len());
        let mut weights = Vec::new();
        for row in dense {
            let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let end = row
                .iter()
                .rposition(|&w| w != 0.0)
                .map_or(first, |last| last + 1);
            filters.push((first, weights.len(), end - first));
            weights.extend(row[first..end].iter().map(|&w| w as f32));
        }
        Filterbank { filters, weights }
    }

    pub(crate) fn len(&self) -> usize {
        self.filters.len()
    }

    /// The weights as a dense row-major `[len, n_bins]` matrix.
    pub(crate) fn dense(&self, n_bins: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.filters.len() * n_bins];
        for (row, &(first, offset, n)) in out.chunks_exact_mut(n_bins).zip(&self.filters) {
            row[first..first + n].copy_from_slice(&self.weights[offset..offset + n]);
        }
        out
    }

    /// `out[i * stride + t] = sum_k w[i][k] * spectrum[k]` for every filter `i`.
    pub(crate) fn apply(&self, spectrum: &[f32], out: &mut [f32], stride: usize, t: usize) {
        for (i, &(first, offset, n)) in self.filters.iter().enumerate() {
            let w = &self.weights[offset..offset + n];
            out[i * stride + t] = w
                .iter()
                .zip(&spectrum[first..first + n])
                .map(|(a, b)| a * b)
                .sum();
        }
    }
}

/// Triangles on `edges` (filter `i` spans `edges[i]..edges[i+2]`, peak at
/// `edges[i+1]`), sampled at `freqs`: librosa's
/// `max(0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid)))`.
fn triangles(edges: &[f64], freqs: &[f64]) -> Vec<Vec<f64>> {
    edges
        .windows(3)
        .map(|e| {
            let (lo, mid, hi) = (e[0], e[1], e[2]);
            freqs
                .iter()
                .map(|&f| {
                    let rising = -(lo - f) / (mid - lo);
                    let falling = (hi - f) / (hi - mid);
                    rising.min(falling).max(0.0)
                })
                .collect()
        })
        .collect()
}

/// Centre frequency of each STFT bin: numpy `rfftfreq(n_fft, 1 / sr)`.
fn fft_frequencies(sr: u32, n_fft: usize) -> Vec<f64> {
    let step = 1.0 / (n_fft as f64 * (1.0 / sr as f64));
    (0..=n_fft / 2).map(|k| k as f64 * step).collect()
}

/// numpy `linspace(start, stop, n)`: `start + i * step`, last point exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

/// Slaney's Auditory Toolbox mel scale is linear below 1 kHz (200/3 Hz per
/// mel) and logarithmic above (27 mels per factor 6.4); HTK's is
/// `2595 * log10(1 + f / 700)` everywhere. Same constants as librosa.
const SLANEY_F_SP: f64 = 200.0 / 3.0;
const SLANEY_MIN_LOG_HZ: f64 = 1000.0;
const SLANEY_MIN_LOG_MEL: f64 = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;

fn slaney_logstep() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney if hz >= SLANEY_MIN_LOG_HZ => {
            SLANEY_MIN_LOG_MEL + (hz / SLANEY_MIN_LOG_HZ).ln() / slaney_logstep()
        }
        MelScale::Slaney => hz / SLANEY_F_SP,
    }
}

fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney if mel >= SLANEY_MIN_LOG_MEL => {
            SLANEY_MIN_LOG_HZ * (slaney_logstep() * (mel - SLANEY_MIN_LOG_MEL)).exp()
        }
        MelScale::Slaney => SLANEY_F_SP * mel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(fb: &Filterbank, n_bins: usize) -> Vec<Vec<f32>> {
        fb.dense(n_bins)
            .chunks(n_bins)
            .map(<[f32]>::to_vec)
            .collect()
    }

    #[test]
    fn mel_scales_round_trip_and_known_points() {
        for scale in [MelScale::Slaney, MelScale::Htk] {
            for hz in [
                0.0, 20.0, 440.0, 999.9, 1000.0, 1000.1, 4000.0, 8000.0, 22050.0,
            ] {
                let back = mel_to_hz(hz_to_mel(hz, scale), scale);
                assert!((back - hz).abs() < 1e-9 * (1.0 + hz), "{scale:?} {hz}");
            }
        }
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0, MelScale::Slaney) - 42.0).abs() < 1e-12);
        assert!((hz_to_mel(700.0, MelScale::Htk) - 2595.0 * 2f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn slaney_norm_gives_unit_area_in_hz() {
        let (sr, n_fft) = (16000, 4096);
        let fb = Filterbank::mel(
            sr,
            n_fft,
            40,
            0.0,
            8000.0,
            MelScale::Slaney,
            MelNorm::Slaney,
        );
        let df = sr as f64 / n_fft as f64;
        for (i, row) in dense(&fb, n_fft / 2 + 1).iter().enumerate() {
            let area: f64 = row.iter().map(|&w| w as f64 * df).sum();
            assert!((area - 1.0).abs() < 0.02, "filter {i}: area {area}");
        }
    }

    #[test]
    fn unnormalised_triangles_peak_at_one_and_overlap_to_one() {
        let fb = Filterbank::linear(16000, 512, 20, 0.0, 8000.0);
        let rows = dense(&fb, 257);
        assert_eq!(rows.len(), 20);
        // Adjacent triangles sum to 1 between the first and the last centre.
        let first_centre = 8000.0 / 21.0;
        for k in 0..257 {
            let f = k as f64 * 31.25;
            let s: f32 = rows.iter().map(|r| r[k]).sum();
            if f >= first_centre && f <= 20.0 * first_centre {
                assert!((s - 1.0).abs() < 1e-6, "bin {k}: {s}");
            }
            assert!(rows.iter().all(|r| r[k] <= 1.0));
        }
    }

    #[test]
    fn linspace_is_numpy_exact_at_the_ends() {
        let v = linspace(0.1, 0.7, 4);
        assert_eq!(v[0], 0.1);
        assert_eq!(v[3], 0.7);
        assert!((v[1] - 0.3).abs() < 1e-15);
    }

    #[test]
    fn apply_is_a_sparse_matrix_product() {
        let fb = Filterbank::mel(8000, 64, 5, 100.0, 3500.0, MelScale::Htk, MelNorm::None);
        let rows = dense(&fb, 33);
        let spec: Vec<f32> = (0..33).map(|k| (k as f32 * 0.37).sin().abs()).collect();
        let mut out = vec![0.0; 5 * 3];
        fb.apply(&spec, &mut out, 3, 1);
        for (i, row) in rows.iter().enumerate() {
            let want: f32 = row.iter().zip(&spec).map(|(a, b)| a * b).sum();
            assert!((out[i * 3 + 1] - want).abs() < 1e-6);
        }
    }
}
