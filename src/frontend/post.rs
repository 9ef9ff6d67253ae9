//! Stages after the log: DCT (cepstra), and delta features along time.

use super::config::DeltaMethod;

/// The first `n_out` rows of the orthonormal DCT-II of `n_in` points
/// (`scipy.fft.dct(type=2, norm="ortho")`), as a dense f64 matrix built once.
/// A direct matrix product rather than an FFT-based DCT: `n_in` is a
/// filterbank size (at most a few hundred), so `n_out * n_in` multiply-adds
/// per frame cost less than the FFT that produced the frame, no dependency
/// is added, and each coefficient is a plain f64 dot product.
pub(crate) struct Dct {
    n_in: usize,
    n_out: usize,
    matrix: Vec<f64>,
}

impl Dct {
    /// Row `k` is multiplied by librosa's lifter `1 + lifter/2 * sin(pi (k+1) / lifter)`
    /// when `lifter > 0`.
    pub(crate) fn new(n_in: usize, n_out: usize, lifter: f32) -> Dct {
        let n = n_in as f64;
        let mut matrix = Vec::with_capacity(n_out * n_in);
        for k in 0..n_out {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            let lift = if lifter > 0.0 {
                let l = lifter as f64;
                1.0 + l / 2.0 * (std::f64::consts::PI * (k + 1) as f64 / l).sin()
            } else {
                1.0
            };
            for m in 0..n_in {
                let phase = std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2.0 * n);
                matrix.push(scale * lift * phase.cos());
            }
        }
        Dct {
            n_in,
            n_out,
            matrix,
        }
    }

    /// Coefficients per frame.
    pub(crate) fn len(&self) -> usize {
        self.n_out
    }

    /// `out[k, t] = sum_m D[k, m] * x[m, t]` for frequency-major matrices of
    /// `frames` columns.
    pub(crate) fn apply(&self, x: &[f32], out: &mut [f32], frames: usize) {
        for t in 0..frames {
            for (k, row) in self.matrix.chunks_exact(self.n_in).enumerate() {
                let acc: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(m, &d)| d * x[m * frames + t] as f64)
                    .sum();
                out[k * frames + t] = acc as f32;
            }
        }
        debug_assert!(self.n_out * frames <= out.len());
    }
}

/// Delta features appended below the features.
pub(crate) struct Deltas {
    order: usize,
    method: DeltaMethod,
    /// Savitzky-Golay coefficients over offsets `-h..=h` for orders 1 and 2.
    first: Vec<f64>,
    second: Vec<f64>,
}

impl Deltas {
    pub(crate) fn new(order: usize, method: DeltaMethod, width: usize) -> Deltas {
        let h = (width / 2) as i64;
        let offsets: Vec<f64> = (-h..=h).map(|j| j as f64).collect();
        // Least-squares derivative of the fitted polynomial of degree `order`
        // at the centre: for symmetric offsets, 1, j and j^2 - mean(j^2) are
        // orthogonal, so the slope is sum(j x)/sum(j^2) and the second
        // derivative 2 sum((j^2 - m) x) / sum((j^2 - m)^2).
        let s2: f64 = offsets.iter().map(|j| j * j).sum();
        let first = offsets.iter().map(|j| j / s2).collect();
        let m = s2 / offsets.len() as f64;
        let s4: f64 = offsets.iter().map(|j| (j * j - m).powi(2)).sum();
        let second = offsets.iter().map(|j| 2.0 * (j * j - m) / s4).collect();
        Deltas {
            order,
            method,
            first,
            second,
        }
    }

    pub(crate) fn order(&self) -> usize {
        self.order
    }

    /// `x` holds `(1 + order) * rows` rows of `frames` values, the first
    /// `rows` of them the features; fills the others with the deltas.
    pub(crate) fn apply(&self, x: &mut [f32], rows: usize, frames: usize) {
        let block = rows * frames;
        for o in 1..=self.order {
            let (done, rest) = x.split_at_mut(o * block);
            let out = &mut rest[..block];
            match self.method {
                DeltaMethod::Asvspoof => {
                    // Delta of the previous block (delta of delta for order 2).
                    let src = &done[(o - 1) * block..];
                    for r in 0..rows {
                        let s = &src[r * frames..(r + 1) * frames];
                        let d = &mut out[r * frames..(r + 1) * frames];
                        for t in 0..frames {
                            d[t] = s[(t + 1).min(frames - 1)] - s[t.saturating_sub(1)];
                        }
                    }
                }
                DeltaMethod::Librosa => {
                    let c = if o == 1 { &self.first } else { &self.second };
                    let h = c.len() / 2;
                    for r in 0..rows {
                        let s = &done[r * frames..(r + 1) * frames];
                        let d = &mut out[r * frames..(r + 1) * frames];
                        for t in h..frames - h {
                            let acc: f64 = c
                                .iter()
                                .zip(&s[t - h..=t + h])
                                .map(|(&c, &v)| c * v as f64)
                                .sum();
                            d[t] = acc as f32;
                        }
                        // mode="interp" fits one polynomial of degree `order`
                        // to the first (last) `width` frames: its `order`-th
                        // derivative is constant, the value at the centre.
                        let (head, tail) = (d[h], d[frames - h - 1]);
                        d[..h].iter_mut().for_each(|v| *v = head);
                        d[frames - h..].iter_mut().for_each(|v| *v = tail);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_is_orthonormal() {
        let d = Dct::new(16, 16, 0.0);
        for a in 0..16 {
            for b in 0..16 {
                let dot: f64 = (0..16)
                    .map(|m| d.matrix[a * 16 + m] * d.matrix[b * 16 + m])
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "{a} {b} {dot}");
            }
        }
        // A constant input has only the DC coefficient, sqrt(n) * value.
        let x = vec![2.0f32; 16];
        let mut out = vec![0.0; 4];
        Dct::new(16, 4, 0.0).apply(&x, &mut out, 1);
        assert!((out[0] - 8.0).abs() < 1e-6 && out[1..].iter().all(|v| v.abs() < 1e-6));
    }

    #[test]
    fn asvspoof_deltas_replicate_the_edges() {
        let mut x = vec![1.0, 2.0, 4.0, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        Deltas::new(2, DeltaMethod::Asvspoof, 9).apply(&mut x, 1, 4);
        assert_eq!(x[4..8], [1.0, 3.0, 5.0, 3.0]);
        assert_eq!(x[8..], [2.0, 4.0, 0.0, -2.0]);
    }

    #[test]
    fn savgol_deltas_of_polynomials_are_exact() {
        // x = t^2: first derivative 2t (interior), second 2 everywhere.
        let frames = 12;
        let mut x = vec![0.0f32; 3 * frames];
        for t in 0..frames {
            x[t] = (t * t) as f32;
        }
        Deltas::new(2, DeltaMethod::Librosa, 5).apply(&mut x, 1, frames);
        for t in 2..frames - 2 {
            assert!((x[frames + t] - 2.0 * t as f32).abs() < 1e-4, "{t}");
        }
        assert!(x[2 * frames..].iter().all(|v| (v - 2.0).abs() < 1e-4));
        // Edges take the nearest interior value (mode="interp").
        assert_eq!(x[frames], x[frames + 2]);
        assert_eq!(x[2 * frames - 1], x[2 * frames - 3]);
    }
}
