//! Analysis windows, equal to `scipy.signal.get_window` (what librosa uses).

use super::config::WindowKind;

/// `len` window coefficients. Periodic (`fftbins=True`, librosa's default) is
/// the symmetric window of `len + 1` points without its last point, which makes
/// overlapping frames sum to a constant; symmetric ends on the same value it
/// starts with. Kept in f64 like scipy's, so windowing adds no rounding.
pub(crate) fn window(kind: WindowKind, len: usize, periodic: bool) -> Vec<f64> {
    // scipy returns [1.0] for a 1-point window of either kind.
    if len <= 1 {
        return vec![1.0; len];
    }
    let denom = if periodic { len } else { len - 1 };
    let a0 = match kind {
        WindowKind::Hann => 0.5,
        WindowKind::Hamming => 0.54,
    };
    (0..len)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * n as f64 / denom as f64;
            a0 - (1.0 - a0) * phase.cos()
        })
        .collect()
}

/// `win` zero-padded on both sides to `n` points, centred like librosa's
/// `util.pad_center` (the left pad is `(n - len) / 2`, rounded down).
pub(crate) fn pad_center(win: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    let left = (n - win.len()) / 2;
    out[left..left + win.len()].copy_from_slice(win);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_windows_are_symmetric() {
        for kind in [WindowKind::Hann, WindowKind::Hamming] {
            for len in [2, 7, 400, 401] {
                let w = window(kind, len, false);
                for n in 0..len {
                    assert!((w[n] - w[len - 1 - n]).abs() < 1e-15, "{kind:?} {len} {n}");
                }
            }
        }
    }

    #[test]
    fn periodic_is_symmetric_window_one_longer_truncated() {
        for kind in [WindowKind::Hann, WindowKind::Hamming] {
            let p = window(kind, 512, true);
            let s = window(kind, 513, false);
            assert_eq!(p[..], s[..512]);
        }
    }

    #[test]
    fn known_values() {
        let close = |got: Vec<f64>, want: &[f64]| {
            assert_eq!(got.len(), want.len());
            assert!(
                got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15),
                "{got:?}"
            );
        };
        close(window(WindowKind::Hann, 4, true), &[0.0, 0.5, 1.0, 0.5]);
        close(
            window(WindowKind::Hamming, 5, false),
            &[0.08, 0.54, 1.0, 0.54, 0.08],
        );
        assert_eq!(window(WindowKind::Hann, 1, false), [1.0]);
        assert_eq!(window(WindowKind::Hann, 1, true), [1.0]);
    }

    #[test]
    fn periodic_hann_overlap_adds_to_constant() {
        let w = window(WindowKind::Hann, 8, true);
        for n in 0..4 {
            assert!((w[n] + w[n + 4] - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn pad_center_matches_librosa() {
        assert_eq!(
            pad_center(&[1.0, 2.0, 3.0], 6),
            [0.0, 1.0, 2.0, 3.0, 0.0, 0.0]
        );
        assert_eq!(pad_center(&[1.0, 2.0], 2), [1.0, 2.0]);
    }
}
