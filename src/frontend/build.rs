//! Building a front end from its manifest config: every check and every
//! table, done once per model load. The compute path is in `spectral.rs`.

use std::sync::Arc;

use super::filterbank::Filterbank;
use super::post::{Dct, Deltas};
use super::scale::Scale;
use super::spectral::{Reuse, Scratch, Spectral};
use super::stft::Stft;
use super::{
    DbRef, DeltaMethod, Fill, Frontend, FrontendConfig, FrontendError, Layout, LogKind, MelNorm,
    MelScale, PadMode, Shared, ShortWindows, SpectralConfig, Stage, Stat, WindowKind,
};

/// What `Frontend::new` resolves a spectral config into.
struct Plan<'a> {
    spectral: &'a SpectralConfig,
    bank: Option<Filterbank>,
    dct: Option<Dct>,
    energy: bool,
    /// STFT bins the energy row sums (all, or those below `max_freq`).
    energy_bins: usize,
    db_of_power: bool,
    drop_last_frame: bool,
    input_len: usize,
    window_samples: usize,
}

impl<'a> Plan<'a> {
    fn new(
        spectral: &'a SpectralConfig,
        bank: Option<Filterbank>,
        dct: Option<Dct>,
        energy: bool,
        window_samples: usize,
    ) -> Plan<'a> {
        Plan {
            spectral,
            bank,
            dct,
            energy,
            energy_bins: spectral.n_fft / 2 + 1,
            db_of_power: false,
            drop_last_frame: false,
            input_len: window_samples,
            window_samples,
        }
    }
}

impl Frontend {
    /// Checks `cfg` against the model's rate and window length and builds all
    /// tables. Errors name the offending field.
    pub fn new(
        cfg: &FrontendConfig,
        sample_rate: u32,
        window_samples: usize,
    ) -> Result<Frontend, FrontendError> {
        let mut frontend = Frontend::configure(cfg, sample_rate, window_samples)?;
        if let Some(spectral) = cfg.spectral().filter(|s| s.frame_fill.is_some()) {
            let short = ShortWindows {
                config: cfg.clone(),
                sample_rate,
                spectral: spectral.clone(),
            };
            if let Some(shared) = Arc::get_mut(&mut frontend.shared) {
                shared.short = Some(short);
            }
        }
        Ok(frontend)
    }

    pub(super) fn configure(
        cfg: &FrontendConfig,
        sample_rate: u32,
        window_samples: usize,
    ) -> Result<Frontend, FrontendError> {
        if sample_rate == 0 {
            return Err(FrontendError::invalid(
                "sample_rate",
                "sample_rate must be > 0",
            ));
        }
        if window_samples == 0 {
            return Err(FrontendError::invalid(
                "window",
                "window must be > 0 samples",
            ));
        }
        let nyquist = sample_rate as f32 / 2.0;
        let whisper;
        let plan =
            |spectral, bank, dct, energy| Plan::new(spectral, bank, dct, energy, window_samples);
        let plan = match cfg {
            FrontendConfig::Raw { normalize, fill } => {
                return Ok(Frontend::build(
                    window_samples,
                    *fill,
                    Stage::Raw(*normalize),
                    Scratch::default(),
                ));
            }
            FrontendConfig::Spectrogram { spectral } => {
                check_spectral(spectral, window_samples)?;
                plan(spectral, None, None, false)
            }
            FrontendConfig::Logmel {
                spectral,
                n_mels,
                fmin,
                fmax,
                mel_scale,
                mel_norm,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_mels, "n_mels")?;
                let fmax = band(*fmin, *fmax, nyquist)?;
                let bank = Filterbank::mel(
                    sample_rate,
                    spectral.n_fft,
                    *n_mels,
                    *fmin as f64,
                    fmax,
                    *mel_scale,
                    *mel_norm,
                );
                plan(spectral, Some(bank), None, false)
            }
            FrontendConfig::Lfb {
                spectral,
                n_filters,
                fmin,
                fmax,
                max_freq,
                with_energy,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_filters, "n_filters")?;
                let (bank, kept) =
                    linear_bank(spectral, sample_rate, *n_filters, (*fmin, *fmax, *max_freq))?;
                Plan {
                    energy_bins: kept,
                    ..plan(spectral, Some(bank), None, *with_energy)
                }
            }
            FrontendConfig::Lfcc {
                spectral,
                n_filters,
                n_lfcc,
                fmin,
                fmax,
                max_freq,
                with_energy,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_filters, "n_filters")?;
                coefficients(*n_lfcc, "n_lfcc", *n_filters, "n_filters")?;
                let (bank, kept) =
                    linear_bank(spectral, sample_rate, *n_filters, (*fmin, *fmax, *max_freq))?;
                let dct = Dct::new(*n_filters, *n_lfcc, 0.0);
                Plan {
                    energy_bins: kept,
                    ..plan(spectral, Some(bank), Some(dct), *with_energy)
                }
            }
            FrontendConfig::Mfcc {
                spectral,
                n_mels,
                n_mfcc,
                fmin,
                fmax,
                mel_scale,
                mel_norm,
                lifter,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_mels, "n_mels")?;
                coefficients(*n_mfcc, "n_mfcc", *n_mels, "n_mels")?;
                if !(*lifter >= 0.0 && lifter.is_finite()) {
                    return Err(FrontendError::invalid(
                        "lifter",
                        format!("lifter must be >= 0 (got {lifter})"),
                    ));
                }
                let fmax = band(*fmin, *fmax, nyquist)?;
                let bank = Filterbank::mel(
                    sample_rate,
                    spectral.n_fft,
                    *n_mels,
                    *fmin as f64,
                    fmax,
                    *mel_scale,
                    *mel_norm,
                );
                let dct = Dct::new(*n_mels, *n_mfcc, *lifter);
                Plan {
                    db_of_power: true,
                    ..plan(spectral, Some(bank), Some(dct), false)
                }
            }
            FrontendConfig::Whisper {
                n_mels,
                pad_to,
                layout,
                fill,
            } => {
                if sample_rate != WHISPER_RATE {
                    return Err(FrontendError::invalid(
                        "sample_rate",
                        format!("whisper needs sample_rate {WHISPER_RATE} (got {sample_rate})"),
                    ));
                }
                positive(*n_mels, "n_mels")?;
                let input_len = pad_to.unwrap_or(window_samples);
                if input_len < window_samples {
                    return Err(FrontendError::invalid(
                        "pad_to",
                        format!(
                            "pad_to ({input_len}) must be >= the window ({window_samples} samples)"
                        ),
                    ));
                }
                whisper = whisper_spectral(*layout, *fill);
                // Reflect padding of n_fft/2 needs more samples than that.
                if input_len <= whisper.n_fft / 2 {
                    return Err(FrontendError::invalid(
                        "pad_to",
                        format!(
                            "whisper needs more than {} samples (got {input_len})",
                            whisper.n_fft / 2
                        ),
                    ));
                }
                let bank = Filterbank::mel(
                    sample_rate,
                    whisper.n_fft,
                    *n_mels,
                    0.0,
                    nyquist as f64,
                    MelScale::Slaney,
                    MelNorm::Slaney,
                );
                Plan {
                    drop_last_frame: true,
                    input_len,
                    ..plan(&whisper, Some(bank), None, false)
                }
            }
        };
        Frontend::spectral(plan)
    }

    fn spectral(plan: Plan) -> Result<Frontend, FrontendError> {
        let c = plan.spectral;
        let stft = Stft::new(c, plan.input_len);
        let frames = stft.n_frames() - usize::from(plan.drop_last_frame);
        let base_rows = plan.bank.as_ref().map_or(stft.n_bins(), Filterbank::len);
        let rows = plan.dct.as_ref().map_or(base_rows, Dct::len);
        if c.deltas > 0 && c.delta_method == DeltaMethod::Librosa && frames < c.delta_width {
            return Err(FrontendError::invalid(
                "delta_width",
                format!(
                    "delta_width ({}) must be <= the number of frames ({frames})",
                    c.delta_width
                ),
            ));
        }
        let deltas = Deltas::new(c.deltas, c.delta_method, c.delta_width);
        let out_rows = rows * (1 + c.deltas);
        crate::limits::check_features(out_rows.max(base_rows), frames)
            .map_err(|rule| FrontendError::invalid("hop_length", rule))?;
        for (stat, name) in [(&c.mean, "mean"), (&c.std, "std")] {
            if let Stat::PerRow(v) = stat {
                if v.len() != out_rows {
                    return Err(FrontendError::invalid(
                        name,
                        format!(
                            "{name} has {} values but the front end has {out_rows} rows",
                            v.len()
                        ),
                    ));
                }
            }
        }
        let shared = {
            let inner = stft.interior(plan.window_samples);
            inner.start..inner.end.min(frames)
        };
        let spectral = Spectral {
            stft,
            shared,
            bank: plan.bank,
            scale: Scale::new(c, plan.db_of_power),
            input_len: plan.input_len,
            frames,
            base_rows,
            dct: plan.dct,
            energy: plan.energy,
            energy_bins: plan.energy_bins,
            n_fft: c.n_fft,
            deltas,
            rows,
            layout: c.layout,
        };
        // Frames kept for the next window: none when no frame can be shared.
        let kept = if spectral.shared.is_empty() {
            0
        } else {
            frames
        };
        let scratch = Scratch {
            stft: spectral.stft.scratch(spectral.input_len),
            input: if spectral.input_len > plan.window_samples {
                vec![0.0; spectral.input_len]
            } else {
                Vec::new()
            },
            base: if spectral.direct() {
                Vec::new()
            } else {
                vec![0.0; base_rows * frames]
            },
            energy: vec![0.0; if spectral.energy { frames } else { 0 }],
            reuse: Reuse::new(base_rows * kept, if spectral.energy { kept } else { 0 }),
            transpose: if spectral.layout == Layout::TimeMajor {
                vec![0.0; out_rows * frames]
            } else {
                Vec::new()
            },
        };
        Ok(Frontend::build(
            plan.window_samples,
            c.fill,
            Stage::Spectral(Box::new(spectral)),
            scratch,
        ))
    }

    fn build(window_samples: usize, fill: Fill, stage: Stage, scratch: Scratch) -> Frontend {
        let shape = match &stage {
            Stage::Raw(_) => vec![window_samples],
            Stage::Spectral(s) => match s.layout {
                Layout::FreqMajor => vec![s.out_rows(), s.frames],
                Layout::TimeMajor => vec![s.frames, s.out_rows()],
            },
        };
        let shared = Shared {
            window_samples,
            len: shape.iter().product(),
            shape,
            fill,
            stage,
            short: None,
        };
        Frontend {
            shared: Arc::new(shared),
            scratch,
        }
    }
}

/// Whisper's fixed rate, and its STFT and log-mel recipe as a spectral config.
const WHISPER_RATE: u32 = 16000;

fn whisper_spectral(layout: Layout, fill: Fill) -> SpectralConfig {
    SpectralConfig {
        n_fft: 400,
        win_length: 400,
        hop_length: 160,
        window: WindowKind::Hann,
        periodic: true,
        center: true,
        pad_mode: PadMode::Reflect,
        power: 2.0,
        pre_emphasis: None,
        log: LogKind::Log10,
        log_offset: 0.0,
        log_floor: Some(1e-10),
        amin: 1e-10,
        db_ref: DbRef::Value(1.0),
        // In log10 units here: max(x, x.max() - 8), then (x + 4) / 4.
        top_db: Some(8.0),
        deltas: 0,
        delta_method: DeltaMethod::Librosa,
        delta_width: 9,
        mean: Stat::Scalar(-4.0),
        std: Stat::Scalar(4.0),
        layout,
        fill,
        frame_fill: None,
    }
}

/// Validates the parameters shared by all spectral front ends.
fn check_spectral(c: &SpectralConfig, window_samples: usize) -> Result<(), FrontendError> {
    if c.n_fft == 0 || c.n_fft % 2 == 1 {
        return Err(FrontendError::invalid(
            "n_fft",
            format!("n_fft must be a positive even number (got {})", c.n_fft),
        ));
    }
    if c.win_length == 0 || c.win_length > c.n_fft {
        return Err(FrontendError::invalid(
            "win_length",
            format!(
                "win_length must be in 1..=n_fft ({}) (got {})",
                c.n_fft, c.win_length
            ),
        ));
    }
    positive(c.hop_length, "hop_length")?;
    if c.power != 1.0 && c.power != 2.0 {
        return Err(FrontendError::invalid(
            "power",
            format!("power must be 1.0 or 2.0 (got {})", c.power),
        ));
    }
    if let Some(a) = c.pre_emphasis {
        if !(0.0..=1.0).contains(&a) {
            return Err(FrontendError::invalid(
                "pre_emphasis",
                format!("pre_emphasis must be in [0, 1] (got {a})"),
            ));
        }
    }
    let ln_or_log10 = matches!(c.log, LogKind::Ln | LogKind::Log10);
    if let Some(floor) = c.log_floor {
        if !ln_or_log10 {
            return Err(FrontendError::invalid(
                "log_floor",
                "log_floor requires log = \"ln\" or \"log10\"",
            ));
        }
        if !(floor > 0.0 && floor.is_finite()) {
            return Err(FrontendError::invalid(
                "log_floor",
                format!("log_floor must be > 0 (got {floor})"),
            ));
        }
        if !(c.log_offset >= 0.0 && c.log_offset.is_finite()) {
            return Err(FrontendError::invalid(
                "log_offset",
                format!("log_offset must be >= 0 (got {})", c.log_offset),
            ));
        }
    } else if ln_or_log10 && !(c.log_offset > 0.0 && c.log_offset.is_finite()) {
        return Err(FrontendError::invalid(
            "log_offset",
            format!("log_offset must be > 0 (got {})", c.log_offset),
        ));
    }
    if !(c.amin > 0.0 && c.amin.is_finite()) {
        return Err(FrontendError::invalid(
            "amin",
            format!("amin must be > 0 (got {})", c.amin),
        ));
    }
    if let DbRef::Value(r) = c.db_ref {
        if !(r > 0.0 && r.is_finite()) {
            return Err(FrontendError::invalid(
                "db_ref",
                format!("db_ref must be > 0 (got {r})"),
            ));
        }
    }
    if let Some(top_db) = c.top_db {
        if c.log != LogKind::Db {
            return Err(FrontendError::invalid(
                "top_db",
                "top_db requires log = \"db\"",
            ));
        }
        if !(top_db >= 0.0 && top_db.is_finite()) {
            return Err(FrontendError::invalid(
                "top_db",
                format!("top_db must be >= 0 (got {top_db})"),
            ));
        }
    }
    if c.deltas > 2 {
        return Err(FrontendError::invalid(
            "deltas",
            format!("deltas must be 0, 1 or 2 (got {})", c.deltas),
        ));
    }
    if c.delta_width < 3 || c.delta_width % 2 == 0 {
        return Err(FrontendError::invalid(
            "delta_width",
            format!("delta_width must be odd and >= 3 (got {})", c.delta_width),
        ));
    }
    if let Some(v) = c.mean.values().iter().find(|v| !v.is_finite()) {
        return Err(FrontendError::invalid(
            "mean",
            format!("mean must be finite (got {v})"),
        ));
    }
    if let Some(v) = c
        .std
        .values()
        .iter()
        .find(|v| !(**v > 0.0 && v.is_finite()))
    {
        return Err(FrontendError::invalid(
            "std",
            format!("std must be > 0 (got {v})"),
        ));
    }
    if !c.center && window_samples < c.n_fft {
        return Err(FrontendError::invalid("center", format!(
            "with center = false the window ({window_samples} samples) must hold at least n_fft ({}) samples",
            c.n_fft
        )));
    }
    if c.center && c.pad_mode == PadMode::Reflect && window_samples <= c.n_fft / 2 {
        return Err(FrontendError::invalid("pad_mode", format!(
            "pad_mode \"reflect\" needs a window longer than n_fft/2 ({}) samples (got {window_samples})",
            c.n_fft / 2
        )));
    }
    Ok(())
}

fn positive(v: usize, name: &'static str) -> Result<(), FrontendError> {
    if v == 0 {
        return Err(FrontendError::invalid(name, format!("{name} must be > 0")));
    }
    Ok(())
}

/// Checks `1 <= n <= of` for a number of cepstral coefficients.
fn coefficients(
    n: usize,
    name: &'static str,
    of: usize,
    of_name: &str,
) -> Result<(), FrontendError> {
    if n == 0 || n > of {
        return Err(FrontendError::invalid(
            name,
            format!("{name} must be in 1..={of_name} ({of}) (got {n})"),
        ));
    }
    Ok(())
}

/// The ASVspoof baseline's linear filterbank and the STFT bins it keeps:
/// from `fmin` to `fmax` in Hz on the bin grid, or with `max_freq` (a share
/// of Nyquist, the baseline's argument) only the first
/// `floor(max_freq * (n_fft/2 + 1))` bins, on the baseline's grid for them.
fn linear_bank(
    c: &SpectralConfig,
    sample_rate: u32,
    n_filters: usize,
    (fmin, fmax, max_freq): (f32, Option<f32>, Option<f32>),
) -> Result<(Filterbank, usize), FrontendError> {
    let n_bins = c.n_fft / 2 + 1;
    let Some(share) = max_freq else {
        let fmax = band(fmin, fmax, sample_rate as f32 / 2.0)?;
        let bank = Filterbank::linear(sample_rate, c.n_fft, n_filters, fmin as f64, fmax);
        return Ok((bank, n_bins));
    };
    if fmin != 0.0 || fmax.is_some() {
        return Err(FrontendError::invalid(
            "max_freq",
            "max_freq replaces fmin and fmax (leave them out)",
        ));
    }
    let kept = (f64::from(share) * n_bins as f64) as usize;
    if !(share > 0.0 && share <= 1.0) || kept < 2 {
        return Err(FrontendError::invalid(
            "max_freq",
            format!("max_freq must be in (0, 1] and keep at least 2 bins (got {share})"),
        ));
    }
    let bank = Filterbank::baseline(sample_rate, c.n_fft, n_filters, f64::from(share), kept);
    Ok((bank, kept))
}

/// Checks `0 <= fmin < fmax <= nyquist` and resolves the default `fmax`.
fn band(fmin: f32, fmax: Option<f32>, nyquist: f32) -> Result<f64, FrontendError> {
    let fmax = fmax.unwrap_or(nyquist);
    if !(fmin >= 0.0 && fmin.is_finite()) {
        return Err(FrontendError::invalid(
            "fmin",
            format!("fmin must be >= 0 (got {fmin})"),
        ));
    }
    if fmax.is_nan() || fmax > nyquist {
        return Err(FrontendError::invalid(
            "fmax",
            format!("fmax ({fmax}) must be <= sample_rate/2 ({nyquist})"),
        ));
    }
    if fmin >= fmax {
        return Err(FrontendError::invalid(
            "fmin",
            format!("fmin ({fmin}) must be < fmax ({fmax})"),
        ));
    }
    Ok(fmax as f64)
}
