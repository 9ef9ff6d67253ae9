//! Element-wise output stages: log compression, then global normalisation.

use super::config::{DbRef, LogKind, Normalize, SpectralConfig, Stat};

/// Log compression and `(x - mean) / std` of a whole feature matrix.
pub(crate) struct Scale {
    log: LogKind,
    offset: f32,
    floor: Option<f32>,
    /// `|X|^power` is squared first when it is a magnitude (power 1), as
    /// `amplitude_to_db` does, so one dB formula serves both.
    square_for_db: bool,
    /// librosa `amin` in power units (squared for magnitudes).
    amin_power: f32,
    /// `10 * log10(max(amin, ref))` with `ref` in power units (squared for
    /// magnitudes), subtracted from every dB value; `None`: `ref` is the
    /// window's max.
    ref_db: Option<f32>,
    /// Clamp to `max - top` in the log domain (`top_db`; Whisper's 8.0).
    top: Option<f32>,
    mean: Stat,
    std: Stat,
}

impl Scale {
    /// `db_of_power`: the dB scale treats the values as powers whatever
    /// `cfg.power` is (`librosa.feature.mfcc` takes `power_to_db` of the mel
    /// spectrogram).
    pub(crate) fn new(cfg: &SpectralConfig, db_of_power: bool) -> Scale {
        let square_for_db = cfg.power == 1.0 && !db_of_power;
        // The square is taken in f64 so that the default amin 1e-5 gives
        // exactly power_to_db's 1e-10 in f32.
        let amin_power = if square_for_db {
            (cfg.amin * cfg.amin) as f32
        } else {
            cfg.amin as f32
        };
        let ref_db = match cfg.db_ref {
            DbRef::Value(r) => {
                let ref_power = if square_for_db { r * r } else { r };
                Some(10.0 * ref_power.max(amin_power).log10())
            }
            DbRef::Max(_) => None,
        };
        Scale {
            log: cfg.log,
            offset: cfg.log_offset,
            floor: cfg.log_floor,
            square_for_db,
            amin_power,
            ref_db,
            top: cfg.top_db,
            mean: cfg.mean.clone(),
            std: cfg.std.clone(),
        }
    }

    /// The log stage as `(kind, offset, floor)`, or why it has no such form (dB scales, `top_db`: they
    /// depend on the whole window's maximum).
    pub(crate) fn offload(&self) -> Result<(dfd_backend_abi::LogKind, f32, Option<f32>), String> {
        use dfd_backend_abi::LogKind as Offloaded;
        if self.top.is_some() {
            return Err("top_db".into());
        }
        let kind = match self.log {
            LogKind::None => Offloaded::None,
            LogKind::Ln => Offloaded::Ln,
            LogKind::Log10 => Offloaded::Log10,
            LogKind::Db => return Err("a dB scale".into()),
        };
        Ok((kind, self.offset, self.floor))
    }

    /// Mean and std of each of `rows` rows.
    pub(crate) fn stats(&self, rows: usize) -> (Vec<f32>, Vec<f32>) {
        (0..rows).map(|r| (self.mean.at(r), self.std.at(r))).unzip()
    }

    /// Log compression of a whole matrix, then the `top` clamp.
    pub(crate) fn log(&self, x: &mut [f32]) {
        let floor = self.floor;
        match (self.log, floor) {
            (LogKind::None, _) => {}
            (LogKind::Ln, None) => x.iter_mut().for_each(|v| *v = (*v + self.offset).ln()),
            (LogKind::Log10, None) => x.iter_mut().for_each(|v| *v = (*v + self.offset).log10()),
            (LogKind::Ln, Some(f)) => x
                .iter_mut()
                .for_each(|v| *v = (v.max(f) + self.offset).ln()),
            (LogKind::Log10, Some(f)) => x
                .iter_mut()
                .for_each(|v| *v = (v.max(f) + self.offset).log10()),
            (LogKind::Db, _) => {
                let ref_db = self.ref_db.unwrap_or_else(|| {
                    // librosa's ref=np.max: the largest value (a magnitude
                    // for amplitude_to_db, squared like the values).
                    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let p = if self.square_for_db { m * m } else { m };
                    10.0 * p.max(self.amin_power).log10()
                });
                for v in x.iter_mut() {
                    let p = if self.square_for_db { *v * *v } else { *v };
                    *v = 10.0 * p.max(self.amin_power).log10() - ref_db;
                }
            }
        }
        if let Some(top) = self.top {
            let floor = x.iter().copied().fold(f32::NEG_INFINITY, f32::max) - top;
            x.iter_mut().for_each(|v| *v = v.max(floor));
        }
    }

    /// The log of one value, as [`log`](Self::log) without the `top` clamp
    /// and with a fixed dB reference (the frame energy of `with_energy`).
    pub(crate) fn log_value(&self, v: f32) -> f32 {
        let v = match self.floor {
            Some(f) => v.max(f),
            None => v,
        };
        match self.log {
            LogKind::None => v,
            LogKind::Ln => (v + self.offset).ln(),
            LogKind::Log10 => (v + self.offset).log10(),
            LogKind::Db => {
                let p = if self.square_for_db { v * v } else { v };
                10.0 * p.max(self.amin_power).log10() - self.ref_db.unwrap_or(0.0)
            }
        }
    }

    /// `(x - mean) / std` of a frequency-major matrix of rows of `frames`
    /// values, with per-row statistics where given.
    pub(crate) fn normalize(&self, x: &mut [f32], frames: usize) {
        for (r, row) in x.chunks_exact_mut(frames).enumerate() {
            let (mean, std) = (self.mean.at(r), self.std.at(r));
            row.iter_mut().for_each(|v| *v = (*v - mean) / std);
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

    fn cfg(power: f32, log: LogKind, top_db: Option<f32>) -> SpectralConfig {
        let mut c = SpectralConfig::for_tests(4, 1);
        c.power = power;
        c.amin = if power == 1.0 { 1e-5 } else { 1e-10 };
        c.log = log;
        c.top_db = top_db;
        c
    }

    fn apply(c: &SpectralConfig, x: &mut [f32]) {
        let s = Scale::new(c, false);
        s.log(x);
        s.normalize(x, x.len());
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
        apply(&cfg(2.0, LogKind::Db, None), &mut x);
        close(&x, &[0.0, -10.0, -100.0, 20.0]);
        // amplitude_to_db: 20 log10, floor 1e-5 (-100 dB), here cut at 40 - 80.
        let mut x = [1.0, 0.1, 0.0, 100.0];
        apply(&cfg(1.0, LogKind::Db, Some(80.0)), &mut x);
        close(&x, &[0.0, -20.0, -40.0, 40.0]);
        let mut c = cfg(1.0, LogKind::Db, None);
        c.db_ref = DbRef::Value(10.0);
        let mut x = [10.0, 1.0];
        apply(&c, &mut x);
        close(&x, &[0.0, -20.0]);
    }

    #[test]
    fn log_offset_and_normalisation() {
        let mut c = cfg(2.0, LogKind::Ln, None);
        c.log_offset = 1.0;
        c.mean = Stat::Scalar(1.0);
        c.std = Stat::Scalar(2.0);
        let mut x = [0.0, std::f32::consts::E - 1.0];
        apply(&c, &mut x);
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
