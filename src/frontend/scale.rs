//! Element-wise output stages: log compression, then global normalisation.

use super::config::{LogKind, Normalize, SpectralConfig};

/// Smallest power librosa's `power_to_db` takes the log of (`amin`);
/// `amplitude_to_db`'s 1e-5 is the same floor after squaring.
const AMIN_POWER: f32 = 1e-10;

/// Log compression and `(x - mean) / std` of a whole feature matrix.
pub(crate) struct Scale {
    log: LogKind,
    offset: f32,
    /// `|X|^power` is squared first when it is a magnitude (power 1), as
    /// `amplitude_to_db` does, so one dB formula serves both.
    square_for_db: bool,
    /// `10 * log10(max(amin, ref))` with `ref` in power units (squared for
    /// magnitudes), subtracted from every dB value.
    ref_db: f32,
    top_db: Option<f32>,
    mean: f32,
    std: f32,
}

impl Scale {
    pub(crate) fn new(cfg: &SpectralConfig) -> Scale {
        let square_for_db = cfg.power == 1.0;
        let ref_power = if square_for_db {
            cfg.db_ref * cfg.db_ref
        } else {
            cfg.db_ref
        };
        Scale {
            log: cfg.log,
            offset: cfg.log_offset,
            square_for_db,
            ref_db: 10.0 * ref_power.max(AMIN_POWER).log10(),
            top_db: cfg.top_db,
            mean: cfg.mean,
            std: cfg.std,
        }
    }

    pub(crate) fn apply(&self, x: &mut [f32]) {
        match self.log {
            LogKind::None => {}
            LogKind::Ln => x.iter_mut().for_each(|v| *v = (*v + self.offset).ln()),
            LogKind::Log10 => x.iter_mut().for_each(|v| *v = (*v + self.offset).log10()),
            LogKind::Db => {
                for v in x.iter_mut() {
                    let p = if self.square_for_db { *v * *v } else { *v };
                    *v = 10.0 * p.max(AMIN_POWER).log10() - self.ref_db;
                }
                if let Some(top_db) = self.top_db {
                    let floor = x.iter().copied().fold(f32::NEG_INFINITY, f32::max) - top_db;
                    x.iter_mut().for_each(|v| *v = v.max(floor));
                }
            }
        }
        for v in x.iter_mut() {
            *v = (*v - self.mean) / self.std;
        }
    }
}

/// Raw-waveform normalisation of one window into `out`.
pub(crate) fn normalize_raw(mode: Normalize, x: &[f32], out: &mut [f32]) {
    match mode {
        Normalize::None => out.copy_from_slice(x),
        Normalize::Peak => {
            let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = if peak > 0.0 { peak } else { 1.0 };
            out.iter_mut().zip(x).for_each(|(o, v)| *o = v / scale);
        }
        Normalize::Zscore => {
            // HF's zero_mean_unit_var_norm: population variance, 1e-7 inside
            // the root. Sums in f64 so long windows keep full f32 accuracy.
            let n = x.len() as f64;
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            let denom = (var + 1e-7).sqrt();
            out.iter_mut()
                .zip(x)
                .for_each(|(o, &v)| *o = ((v as f64 - mean) / denom) as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::config::{PadMode, WindowKind};

    fn cfg(power: f32, log: LogKind, top_db: Option<f32>) -> SpectralConfig {
        SpectralConfig {
            n_fft: 4,
            win_length: 4,
            hop_length: 1,
            window: WindowKind::Hann,
            periodic: true,
            center: true,
            pad_mode: PadMode::Constant,
            power,
            pre_emphasis: None,
            log,
            log_offset: 1e-6,
            db_ref: 1.0,
            top_db,
            mean: 0.0,
            std: 1.0,
        }
    }

    #[test]
    fn db_follows_librosa() {
        let close = |got: &[f32], want: &[f32]| {
            assert!(
                got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5),
                "{got:?}"
            );
        };
        let mut x = [1.0, 0.1, 0.0, 100.0];
        Scale::new(&cfg(2.0, LogKind::Db, None)).apply(&mut x);
        close(&x, &[0.0, -10.0, -100.0, 20.0]);
        // amplitude_to_db: 20 log10, floor 1e-5 (-100 dB), here cut at 40 - 80.
        let mut x = [1.0, 0.1, 0.0, 100.0];
        Scale::new(&cfg(1.0, LogKind::Db, Some(80.0))).apply(&mut x);
        close(&x, &[0.0, -20.0, -40.0, 40.0]);
        let mut c = cfg(1.0, LogKind::Db, None);
        c.db_ref = 10.0;
        let mut x = [10.0, 1.0];
        Scale::new(&c).apply(&mut x);
        close(&x, &[0.0, -20.0]);
    }

    #[test]
    fn log_offset_and_normalisation() {
        let mut c = cfg(2.0, LogKind::Ln, None);
        c.log_offset = 1.0;
        c.mean = 1.0;
        c.std = 2.0;
        let mut x = [0.0, std::f32::consts::E - 1.0];
        Scale::new(&c).apply(&mut x);
        assert!((x[0] + 0.5).abs() < 1e-7 && x[1].abs() < 1e-7, "{x:?}");
    }

    #[test]
    fn raw_normalisation() {
        let x = [1.0, -4.0, 2.0, 1.0];
        let mut out = [0.0; 4];
        normalize_raw(Normalize::Peak, &x, &mut out);
        assert_eq!(out, [0.25, -1.0, 0.5, 0.25]);
        normalize_raw(Normalize::Peak, &[0.0; 4], &mut out);
        assert_eq!(out, [0.0; 4]);
        normalize_raw(Normalize::Zscore, &x, &mut out);
        let mean: f32 = out.iter().sum::<f32>() / 4.0;
        let var: f32 = out.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{mean} {var}"
        );
        normalize_raw(Normalize::Zscore, &[0.5; 4], &mut out);
        assert_eq!(out, [0.0; 4]);
    }
}
