//! The front end as plain tables, for a backend that computes it itself
//! (the CUDA plugin's kernels). The window, filterbank and statistics are
//! the ones this module's CPU code uses, so both paths share one definition
//! and the backend only does arithmetic.

use dfd_backend_abi::FrontendTables;

use super::{Frontend, Layout, Stage};

impl Frontend {
    /// This front end as [`FrontendTables`], or in words why it has no such
    /// form (raw-waveform input, pre-emphasis, dB scale, DCT, energy row,
    /// deltas, time-major layout, Whisper's padding): those stay on the CPU.
    pub fn offload_tables(&self) -> Result<FrontendTables, String> {
        let shared = &*self.shared;
        let s = match &shared.stage {
            Stage::Raw(_) => return Err("a raw-waveform input".into()),
            Stage::Spectral(s) => s,
        };
        let refuse = [
            (shared.short.is_some(), "frame_fill"),
            (s.dct.is_some(), "a DCT (cepstra)"),
            (s.energy, "an energy row"),
            (s.deltas.order() > 0, "deltas"),
            (s.layout == Layout::TimeMajor, "a time-major layout"),
            (
                s.input_len != shared.window_samples || s.frames != s.stft.n_frames(),
                "Whisper's padding",
            ),
        ];
        if let Some((_, what)) = refuse.iter().find(|(hit, _)| *hit) {
            return Err((*what).into());
        }
        let f = s.stft.offload()?;
        let (log_kind, log_offset, log_floor) = s.scale.offload()?;
        let (mean, std) = s.scale.stats(s.rows);
        Ok(FrontendTables {
            window_samples: shared.window_samples,
            n_fft: f.n_fft,
            hop: f.hop,
            pad: f.pad,
            reflect: f.reflect,
            power: f.power,
            window: f.window.to_vec(),
            rows: s.rows,
            filterbank: s.bank.as_ref().map(|b| b.dense(s.stft.n_bins())),
            log_kind,
            log_offset,
            log_floor,
            mean,
            std,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::FrontendConfig;
    use super::*;
    use dfd_backend_abi::LogKind;

    fn frontend(json: &str) -> Frontend {
        let cfg: FrontendConfig = serde_json::from_str(json).unwrap();
        Frontend::new(&cfg, 16000, 32000).unwrap()
    }

    #[test]
    fn lfb_offloads_with_its_own_tables() {
        let fe = frontend(
            r#"{"type": "lfb", "n_fft": 512, "hop_length": 160, "n_filters": 60,
                "power": 2.0, "log": "ln", "log_offset": 1e-6, "mean": -5.8, "std": 4.0}"#,
        );
        let t = fe.offload_tables().unwrap();
        assert_eq!(
            (t.n_fft, t.hop, t.pad, t.rows, t.frames(), t.power),
            (512, 160, 256, 60, 201, 2)
        );
        assert_eq!(fe.output_shape(), [t.rows, t.frames()]);
        let fb = t.filterbank.unwrap();
        assert_eq!(fb.len(), 60 * 257);
        // Linear triangles peak at 1 and cover the band.
        assert!(fb.iter().all(|&w| (0.0..=1.0).contains(&w)));
        assert_eq!((t.log_kind, t.log_floor), (LogKind::Ln, None));
        assert_eq!((t.mean[59], t.std[0]), (-5.8, 4.0));
        // Periodic Hann, zero at the first sample.
        assert_eq!(t.window.len(), 512);
        assert!(t.window[0].abs() < 1e-12 && (t.window[256] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn uncovered_front_ends_say_why() {
        for (json, why) in [
            (r#"{"type": "raw"}"#, "raw-waveform"),
            (
                r#"{"type": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 40}"#,
                "dB",
            ),
            (
                r#"{"type": "lfcc", "n_fft": 512, "hop_length": 160, "n_filters": 20, "n_lfcc": 20, "log": "ln"}"#,
                "DCT",
            ),
            (
                r#"{"type": "lfb", "n_fft": 512, "hop_length": 160, "n_filters": 20, "log": "ln", "pre_emphasis": 0.97}"#,
                "pre-emphasis",
            ),
        ] {
            let e = frontend(json).offload_tables().unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
