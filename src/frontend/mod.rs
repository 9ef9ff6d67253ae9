//! Feature extraction: one analysis window of audio in, the model's input out.
//!
//! Every front end is numerically equal to its Python reference on the same
//! input (librosa, the ASVspoof baseline's LFCC, openai-whisper's log-mel,
//! HF's wav2vec2 normalisation), checked against stored reference outputs in
//! `tests/frontend_parity.rs`. Layout is frequency-major by default,
//! `[n_rows, n_frames]` row-major, like librosa's `(n_mels, t)`.

mod config;
mod filterbank;
mod offload;
mod post;
mod scale;
mod stft;
mod window;

use std::sync::Arc;

pub use config::{
    DbRef, DeltaMethod, Fill, FrontendConfig, Layout, LogKind, MaxRef, MelNorm, MelScale,
    Normalize, PadMode, SpectralConfig, Stat, WindowKind,
};
use filterbank::Filterbank;
pub use offload::OffloadTables;
use post::{Dct, Deltas};
use scale::Scale;
use stft::Stft;

/// A configured front end. Cloning is cheap: tables (window, FFT plan,
/// filterbank, DCT) are shared, and each clone gets its own scratch buffers,
/// so one clone per stream computes without locking or allocating.
#[derive(Clone)]
pub struct Frontend {
    shared: Arc<Shared>,
    scratch: Scratch,
}

struct Shared {
    window_samples: usize,
    shape: Vec<usize>,
    len: usize,
    fill: Fill,
    stage: Stage,
}

enum Stage {
    Raw(Normalize),
    Spectral(Box<Spectral>),
}

/// Everything a spectral front end runs, in order.
struct Spectral {
    stft: Stft,
    bank: Option<Filterbank>,
    scale: Scale,
    /// Samples the STFT sees: the window, zero-padded to `pad_to` (whisper).
    input_len: usize,
    /// Output frames (the STFT's, less the one whisper drops).
    frames: usize,
    /// Rows after the filterbank (or STFT bins).
    base_rows: usize,
    dct: Option<Dct>,
    /// Replace row 0 by the log frame energy `sum |X|^power / n_fft`.
    energy: bool,
    n_fft: usize,
    deltas: Deltas,
    /// Feature rows before the deltas are appended.
    rows: usize,
    layout: Layout,
}

impl Spectral {
    fn out_rows(&self) -> usize {
        self.rows * (1 + self.deltas.order())
    }

    /// Only filterbank, log and normalisation, straight into the output.
    fn direct(&self) -> bool {
        self.dct.is_none()
            && !self.energy
            && self.deltas.order() == 0
            && self.layout == Layout::FreqMajor
    }
}

/// Per-clone buffers, allocated once.
#[derive(Clone, Default)]
struct Scratch {
    stft: stft::Scratch,
    /// The window followed by zeros up to `input_len` (whisper `pad_to`).
    input: Vec<f32>,
    /// Filterbank output, `[base_rows, frames]`.
    base: Vec<f32>,
    energy: Vec<f32>,
    /// Frequency-major output before transposing to time-major.
    transpose: Vec<f32>,
}

/// What `Frontend::new` resolves a spectral config into.
struct Plan<'a> {
    spectral: &'a SpectralConfig,
    bank: Option<Filterbank>,
    dct: Option<Dct>,
    energy: bool,
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
    ) -> Result<Frontend, String> {
        if sample_rate == 0 {
            return Err("frontend: sample_rate must be > 0".into());
        }
        if window_samples == 0 {
            return Err("frontend: window must be > 0 samples".into());
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
                with_energy,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_filters, "n_filters")?;
                let fmax = band(*fmin, *fmax, nyquist)?;
                let bank =
                    Filterbank::linear(sample_rate, spectral.n_fft, *n_filters, *fmin as f64, fmax);
                plan(spectral, Some(bank), None, *with_energy)
            }
            FrontendConfig::Lfcc {
                spectral,
                n_filters,
                n_lfcc,
                fmin,
                fmax,
                with_energy,
            } => {
                check_spectral(spectral, window_samples)?;
                positive(*n_filters, "n_filters")?;
                coefficients(*n_lfcc, "n_lfcc", *n_filters, "n_filters")?;
                let fmax = band(*fmin, *fmax, nyquist)?;
                let bank =
                    Filterbank::linear(sample_rate, spectral.n_fft, *n_filters, *fmin as f64, fmax);
                let dct = Dct::new(*n_filters, *n_lfcc, 0.0);
                plan(spectral, Some(bank), Some(dct), *with_energy)
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
                    return Err(format!("frontend: lifter must be >= 0 (got {lifter})"));
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
                    return Err(format!(
                        "frontend: whisper needs sample_rate {WHISPER_RATE} (got {sample_rate})"
                    ));
                }
                positive(*n_mels, "n_mels")?;
                let input_len = pad_to.unwrap_or(window_samples);
                if input_len < window_samples {
                    return Err(format!(
                        "frontend: pad_to ({input_len}) must be >= the window ({window_samples} samples)"
                    ));
                }
                whisper = whisper_spectral(*layout, *fill);
                // Reflect padding of n_fft/2 needs more samples than that.
                if input_len <= whisper.n_fft / 2 {
                    return Err(format!(
                        "frontend: whisper needs more than {} samples (got {input_len})",
                        whisper.n_fft / 2
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

    fn spectral(plan: Plan) -> Result<Frontend, String> {
        let c = plan.spectral;
        let stft = Stft::new(c, plan.input_len);
        let frames = stft.n_frames() - usize::from(plan.drop_last_frame);
        let base_rows = plan.bank.as_ref().map_or(stft.n_bins(), Filterbank::len);
        let rows = plan.dct.as_ref().map_or(base_rows, Dct::len);
        if c.deltas > 0 && c.delta_method == DeltaMethod::Librosa && frames < c.delta_width {
            return Err(format!(
                "frontend: delta_width ({}) must be <= the number of frames ({frames})",
                c.delta_width
            ));
        }
        let deltas = Deltas::new(c.deltas, c.delta_method, c.delta_width);
        let out_rows = rows * (1 + c.deltas);
        crate::limits::check_features(out_rows.max(base_rows), frames)?;
        for (stat, name) in [(&c.mean, "mean"), (&c.std, "std")] {
            if let Stat::PerRow(v) = stat {
                if v.len() != out_rows {
                    return Err(format!(
                        "frontend: {name} has {} values but the front end has {out_rows} rows",
                        v.len()
                    ));
                }
            }
        }
        let spectral = Spectral {
            stft,
            bank: plan.bank,
            scale: Scale::new(c, plan.db_of_power),
            input_len: plan.input_len,
            frames,
            base_rows,
            dct: plan.dct,
            energy: plan.energy,
            n_fft: c.n_fft,
            deltas,
            rows,
            layout: c.layout,
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
        };
        Frontend {
            shared: Arc::new(shared),
            scratch,
        }
    }

    /// Shape of one window's features: `[rows, frames]` (or `[frames, rows]`
    /// with `layout: time_major`) for spectral front ends, `[window_samples]`
    /// for raw.
    pub fn output_shape(&self) -> &[usize] {
        &self.shared.shape
    }

    /// Number of values [`compute`](Self::compute) writes (product of the shape).
    pub fn output_len(&self) -> usize {
        self.shared.len
    }

    /// How a stream shorter than one window is completed (manifest `fill`).
    pub fn fill(&self) -> Fill {
        self.shared.fill
    }

    /// Completes a short window in place by the `fill` rule: `window[..have]`
    /// is audio, the rest is overwritten (zeros, or the audio repeated).
    /// Returns false, leaving `window` alone, for `Fill::None` or `have == 0`.
    pub fn complete_window(&self, window: &mut [f32], have: usize) -> bool {
        if have == 0 || self.shared.fill == Fill::None {
            return false;
        }
        for i in have..window.len() {
            window[i] = match self.shared.fill {
                Fill::Repeat => window[i - have],
                _ => 0.0,
            };
        }
        true
    }

    /// Features of one window. `window.len()` must be the `window_samples`
    /// given to [`new`](Self::new) and `out.len()` must be
    /// [`output_len`](Self::output_len). Does not allocate.
    pub fn compute(&mut self, window: &[f32], out: &mut [f32]) {
        let shared = &*self.shared;
        assert_eq!(
            window.len(),
            shared.window_samples,
            "frontend: window length"
        );
        assert_eq!(out.len(), shared.len, "frontend: output length");
        match &shared.stage {
            Stage::Raw(normalize) => scale::normalize_raw(*normalize, window, out),
            Stage::Spectral(s) => s.compute(window, &mut self.scratch, out),
        }
    }
}

impl Spectral {
    fn compute(&self, window: &[f32], scratch: &mut Scratch, out: &mut [f32]) {
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
    }
}

/// Validates the parameters shared by all spectral front ends.
fn check_spectral(c: &SpectralConfig, window_samples: usize) -> Result<(), String> {
    if c.n_fft == 0 || c.n_fft % 2 == 1 {
        return Err(format!(
            "frontend: n_fft must be a positive even number (got {})",
            c.n_fft
        ));
    }
    if c.win_length == 0 || c.win_length > c.n_fft {
        return Err(format!(
            "frontend: win_length must be in 1..=n_fft ({}) (got {})",
            c.n_fft, c.win_length
        ));
    }
    positive(c.hop_length, "hop_length")?;
    if c.power != 1.0 && c.power != 2.0 {
        return Err(format!(
            "frontend: power must be 1.0 or 2.0 (got {})",
            c.power
        ));
    }
    if let Some(a) = c.pre_emphasis {
        if !(0.0..=1.0).contains(&a) {
            return Err(format!(
                "frontend: pre_emphasis must be in [0, 1] (got {a})"
            ));
        }
    }
    let ln_or_log10 = matches!(c.log, LogKind::Ln | LogKind::Log10);
    if let Some(floor) = c.log_floor {
        if !ln_or_log10 {
            return Err("frontend: log_floor requires log = \"ln\" or \"log10\"".into());
        }
        if !(floor > 0.0 && floor.is_finite()) {
            return Err(format!("frontend: log_floor must be > 0 (got {floor})"));
        }
        if !(c.log_offset >= 0.0 && c.log_offset.is_finite()) {
            return Err(format!(
                "frontend: log_offset must be >= 0 (got {})",
                c.log_offset
            ));
        }
    } else if ln_or_log10 && !(c.log_offset > 0.0 && c.log_offset.is_finite()) {
        return Err(format!(
            "frontend: log_offset must be > 0 (got {})",
            c.log_offset
        ));
    }
    if !(c.amin > 0.0 && c.amin.is_finite()) {
        return Err(format!("frontend: amin must be > 0 (got {})", c.amin));
    }
    if let DbRef::Value(r) = c.db_ref {
        if !(r > 0.0 && r.is_finite()) {
            return Err(format!("frontend: db_ref must be > 0 (got {r})"));
        }
    }
    if let Some(top_db) = c.top_db {
        if c.log != LogKind::Db {
            return Err("frontend: top_db requires log = \"db\"".into());
        }
        if !(top_db >= 0.0 && top_db.is_finite()) {
            return Err(format!("frontend: top_db must be >= 0 (got {top_db})"));
        }
    }
    if c.deltas > 2 {
        return Err(format!(
            "frontend: deltas must be 0, 1 or 2 (got {})",
            c.deltas
        ));
    }
    if c.delta_width < 3 || c.delta_width % 2 == 0 {
        return Err(format!(
            "frontend: delta_width must be odd and >= 3 (got {})",
            c.delta_width
        ));
    }
    if let Some(v) = c.mean.values().iter().find(|v| !v.is_finite()) {
        return Err(format!("frontend: mean must be finite (got {v})"));
    }
    if let Some(v) = c
        .std
        .values()
        .iter()
        .find(|v| !(**v > 0.0 && v.is_finite()))
    {
        return Err(format!("frontend: std must be > 0 (got {v})"));
    }
    if !c.center && window_samples < c.n_fft {
        return Err(format!(
            "frontend: with center = false the window ({window_samples} samples) must hold at least n_fft ({}) samples",
            c.n_fft
        ));
    }
    if c.center && c.pad_mode == PadMode::Reflect && window_samples <= c.n_fft / 2 {
        return Err(format!(
            "frontend: pad_mode \"reflect\" needs a window longer than n_fft/2 ({}) samples (got {window_samples})",
            c.n_fft / 2
        ));
    }
    Ok(())
}

fn positive(v: usize, name: &str) -> Result<(), String> {
    if v == 0 {
        return Err(format!("frontend: {name} must be > 0"));
    }
    Ok(())
}

/// Checks `1 <= n <= of` for a number of cepstral coefficients.
fn coefficients(n: usize, name: &str, of: usize, of_name: &str) -> Result<(), String> {
    if n == 0 || n > of {
        return Err(format!(
            "frontend: {name} must be in 1..={of_name} ({of}) (got {n})"
        ));
    }
    Ok(())
}

/// Checks `0 <= fmin < fmax <= nyquist` and resolves the default `fmax`.
fn band(fmin: f32, fmax: Option<f32>, nyquist: f32) -> Result<f64, String> {
    let fmax = fmax.unwrap_or(nyquist);
    if !(fmin >= 0.0 && fmin.is_finite()) {
        return Err(format!("frontend: fmin must be >= 0 (got {fmin})"));
    }
    if fmax.is_nan() || fmax > nyquist {
        return Err(format!(
            "frontend: fmax ({fmax}) must be <= sample_rate/2 ({nyquist})"
        ));
    }
    if fmin >= fmax {
        return Err(format!("frontend: fmin ({fmin}) must be < fmax ({fmax})"));
    }
    Ok(fmax as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(json: &str, sr: u32, n: usize) -> Result<Frontend, String> {
        let cfg: FrontendConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Frontend::new(&cfg, sr, n)
    }

    fn err(json: &str, sr: u32, n: usize) -> String {
        make(json, sr, n).err().expect("config should be rejected")
    }

    #[test]
    fn shapes() {
        let f = make(r#"{"type":"raw"}"#, 16000, 16000).unwrap();
        assert_eq!((f.output_shape(), f.output_len()), (&[16000][..], 16000));
        let f = make(
            r#"{"type":"spectrogram","n_fft":2048,"hop_length":512}"#,
            16000,
            48000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [1025, 1 + 48000 / 512]);
        let f = make(
            r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":80}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [80, 101]);
        let f = make(
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":20,"center":false}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(
            (f.output_shape(), f.output_len()),
            (&[20, 1 + (16000 - 512) / 160][..], 20 * 97)
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        // The base config with the fields of `extra` replaced or added.
        let spec = |extra: &str| {
            let mut v: serde_json::Value = serde_json::from_str(
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":40}"#,
            )
            .unwrap();
            let extra: serde_json::Value = serde_json::from_str(&format!("{{{extra}}}")).unwrap();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v.to_string()
        };
        for (extra, sr, n, needle) in [
            (
                r#""n_fft":511"#,
                16000,
                16000,
                "n_fft must be a positive even number",
            ),
            (r#""n_fft":0"#, 16000, 16000, "n_fft must be"),
            (
                r#""win_length":1024"#,
                16000,
                16000,
                "win_length must be in 1..=n_fft",
            ),
            (r#""win_length":0"#, 16000, 16000, "win_length"),
            (r#""hop_length":0"#, 16000, 16000, "hop_length must be > 0"),
            (r#""n_mels":0"#, 16000, 16000, "n_mels must be > 0"),
            (
                r#""fmax":9000"#,
                16000,
                16000,
                "fmax (9000) must be <= sample_rate/2 (8000)",
            ),
            (
                r#""fmin":4000,"fmax":3000"#,
                16000,
                16000,
                "fmin (4000) must be < fmax (3000)",
            ),
            (r#""fmin":-1"#, 16000, 16000, "fmin must be >= 0"),
            (r#""power":1.5"#, 16000, 16000, "power must be 1.0 or 2.0"),
            (r#""pre_emphasis":1.5"#, 16000, 16000, "pre_emphasis"),
            (
                r#""log":"ln","log_offset":0"#,
                16000,
                16000,
                "log_offset must be > 0",
            ),
            (r#""db_ref":0"#, 16000, 16000, "db_ref must be > 0"),
            (
                r#""log":"ln","top_db":80"#,
                16000,
                16000,
                "top_db requires log = \"db\"",
            ),
            (r#""top_db":-1"#, 16000, 16000, "top_db must be >= 0"),
            (r#""std":0"#, 16000, 16000, "std must be > 0"),
            (
                r#""center":false"#,
                16000,
                100,
                "must hold at least n_fft (512)",
            ),
            (
                r#""pad_mode":"reflect""#,
                16000,
                256,
                "pad_mode \"reflect\"",
            ),
            ("", 0, 16000, "sample_rate must be > 0"),
            ("", 16000, 0, "window must be > 0"),
        ] {
            let e = err(&spec(extra), sr, n);
            assert!(e.contains(needle), "{extra}: got {e:?}, want {needle:?}");
        }
        let e = err(
            r#"{"type":"lfb","n_fft":512,"hop_length":160,"n_filters":0}"#,
            16000,
            16000,
        );
        assert!(e.contains("n_filters must be > 0"), "{e}");
    }

    #[test]
    fn clones_share_tables_and_agree() {
        let cfg = r#"{"type":"logmel","n_fft":400,"win_length":320,"hop_length":160,"n_mels":40,"log":"ln"}"#;
        let mut a = make(cfg, 16000, 4000).unwrap();
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.shared, &b.shared));
        let x: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
        let (mut ya, mut yb) = (vec![0.0; a.output_len()], vec![1.0; b.output_len()]);
        a.compute(&x, &mut ya);
        b.compute(&x, &mut yb);
        assert_eq!(ya, yb);
        // Reusing scratch gives the same result again.
        a.compute(&x, &mut yb);
        assert_eq!(ya, yb);
    }

    #[test]
    fn sine_peaks_in_its_bin() {
        let (sr, n_fft) = (8000u32, 256usize);
        let mut f = make(
            r#"{"type":"spectrogram","n_fft":256,"hop_length":128,"log":"none","power":1.0}"#,
            sr,
            2048,
        )
        .unwrap();
        let bin = 20;
        let hz = bin as f32 * sr as f32 / n_fft as f32;
        let x: Vec<f32> = (0..2048)
            .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / sr as f32).sin())
            .collect();
        let mut y = vec![0.0; f.output_len()];
        f.compute(&x, &mut y);
        let n_frames = f.output_shape()[1];
        let t = n_frames / 2;
        let col: Vec<f32> = (0..=n_fft / 2).map(|k| y[k * n_frames + t]).collect();
        let argmax = col
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(argmax, bin);
        // Hann-windowed unit sine: |X| = sum(w) / 2 = n_fft / 4.
        assert!(
            (col[bin] - n_fft as f32 / 4.0).abs() < 1e-3 * n_fft as f32,
            "{}",
            col[bin]
        );
    }

    #[test]
    fn shapes_of_the_new_front_ends() {
        let f = make(
            r#"{"type":"lfcc","n_fft":512,"win_length":320,"hop_length":160,"n_filters":20,"deltas":2}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [60, 101]);
        let f = make(
            r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"n_mfcc":13,"deltas":1,"layout":"time_major"}"#,
            16000,
            16000,
        )
        .unwrap();
        assert_eq!(f.output_shape(), [101, 26]);
        // 30 s: 3000 frames of 80 or 128 mel bins, from a 4 s window.
        let f = make(r#"{"type":"whisper","pad_to":480000}"#, 16000, 64000).unwrap();
        assert_eq!(f.output_shape(), [80, 3000]);
        let f = make(r#"{"type":"whisper","n_mels":128}"#, 16000, 16000).unwrap();
        assert_eq!(f.output_shape(), [128, 100]);
    }

    #[test]
    fn bad_new_configs_name_the_field() {
        for (json, sr, n, needle) in [
            (
                r#"{"type":"whisper"}"#,
                8000,
                16000,
                "whisper needs sample_rate 16000",
            ),
            (
                r#"{"type":"whisper","pad_to":100}"#,
                16000,
                16000,
                "pad_to (100) must be >=",
            ),
            (
                r#"{"type":"whisper","n_mels":0}"#,
                16000,
                16000,
                "n_mels must be > 0",
            ),
            (
                r#"{"type":"lfcc","n_fft":512,"hop_length":160,"n_filters":20,"n_lfcc":21}"#,
                16000,
                16000,
                "n_lfcc must be in 1..=n_filters (20)",
            ),
            (
                r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"n_mfcc":0}"#,
                16000,
                16000,
                "n_mfcc must be in 1..=n_mels (40)",
            ),
            (
                r#"{"type":"mfcc","n_fft":512,"hop_length":160,"n_mels":40,"lifter":-1}"#,
                16000,
                16000,
                "lifter must be >= 0",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"deltas":3}"#,
                16000,
                16000,
                "deltas must be 0, 1 or 2",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"deltas":1,"delta_width":4}"#,
                16000,
                16000,
                "delta_width must be odd and >= 3",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"deltas":1}"#,
                16000,
                800,
                "delta_width (9) must be <= the number of frames (6)",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":4,"mean":[1,2,3]}"#,
                16000,
                16000,
                "mean has 3 values but the front end has 4 rows",
            ),
            (
                r#"{"type":"logmel","n_fft":512,"hop_length":160,"n_mels":2,"std":[1,0]}"#,
                16000,
                16000,
                "std must be > 0 (got 0)",
            ),
            (
                r#"{"type":"spectrogram","n_fft":512,"hop_length":160,"amin":0}"#,
                16000,
                16000,
                "amin must be > 0",
            ),
            (
                r#"{"type":"spectrogram","n_fft":512,"hop_length":160,"log_floor":1e-10}"#,
                16000,
                16000,
                "log_floor requires log",
            ),
        ] {
            let e = err(json, sr, n);
            assert!(e.contains(needle), "{json}: got {e:?}, want {needle:?}");
        }
    }

    #[test]
    fn time_major_is_the_transpose() {
        let base = r#""type":"lfcc","n_fft":256,"hop_length":100,"n_filters":12,"with_energy":true,"deltas":2,"log":"ln""#;
        let mut a = make(&format!("{{{base}}}"), 8000, 3000).unwrap();
        let mut b = make(&format!(r#"{{{base},"layout":"time_major"}}"#), 8000, 3000).unwrap();
        let x: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.031).sin() * 0.2).collect();
        let (mut ya, mut yb) = (vec![0.0; a.output_len()], vec![0.0; b.output_len()]);
        a.compute(&x, &mut ya);
        b.compute(&x, &mut yb);
        let [rows, frames] = a.output_shape() else {
            panic!()
        };
        assert_eq!(b.output_shape(), [*frames, *rows]);
        for r in 0..*rows {
            for t in 0..*frames {
                assert_eq!(ya[r * frames + t], yb[t * rows + r]);
            }
        }
    }

    #[test]
    fn short_windows_are_completed_by_the_fill_rule() {
        let mut w = [1.0, 2.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0];
        let f = make(r#"{"type":"raw","fill":"repeat"}"#, 16000, 8).unwrap();
        assert!(f.complete_window(&mut w, 3));
        assert_eq!(w, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0]);
        let f = make(r#"{"type":"whisper"}"#, 16000, 8000).unwrap();
        assert_eq!(f.fill(), Fill::Zeros);
        assert!(f.complete_window(&mut w, 2));
        assert_eq!(w, [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let f = make(
            r#"{"type":"spectrogram","n_fft":4,"hop_length":2,"fill":"none"}"#,
            16000,
            8,
        )
        .unwrap();
        assert!(!f.complete_window(&mut w, 2));
        assert_eq!(w[1], 2.0);
    }
}
