//! Times each precision variant of a model on this device, so that what
//! `precision = auto` picks can be checked where the app runs.
//!
//! `auto` follows the backend's fastest-first order, a rule per CPU
//! feature (CPU backend: `plugins/cpu/src/isa.rs`) that was measured on
//! x86-64 only; on a phone (aarch64 with dotprod, where int8 may pay) the
//! rule keeps int8 last for want of a measurement. [`measure`] is that
//! measurement, on the device: `dfd backends --measure` prints it.
//!
//! A variant's time is the median over rounds of the time per window of a
//! stream scoring [`WINDOWS`] windows of a fixed noise signal (front end
//! and network, as an app sees it; the front end is the same for every
//! variant). The variants run interleaved, round by round, so a change of
//! load or clock speed hits them all alike.

use std::time::{Duration, Instant};

use crate::error::{bail, Result, Status};
use crate::model::{Source, StoredModel};
use crate::{Model, ModelOptions, Precision, PrecisionChoice, Stream};

/// Windows per round.
pub const WINDOWS: usize = 8;
/// Rounds at least, whatever the time budget.
pub const MIN_ROUNDS: usize = 3;
/// Rounds at most, whatever the time budget.
pub const MAX_ROUNDS: usize = 50;
/// A variant beats the reference (the most precise one, fp32 when present)
/// only when it takes at most `1 - TIE_MARGIN` of the reference's time:
/// closer timings are noise, and the tie goes to the reference.
pub const TIE_MARGIN: f64 = 0.05;

/// One variant's measured time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VariantTime {
    pub precision: Precision,
    /// Median time per window, milliseconds.
    pub ms_per_window: f64,
}

/// The variants of one model timed on one backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub model: String,
    pub backend: String,
    /// The variant `precision = auto` loads on this backend (its rule).
    pub auto: Precision,
    /// Every variant the backend runs, most precise first.
    pub times: Vec<VariantTime>,
    /// Variants the backend cannot run (`ModelUnsupported`: e.g. int8 on
    /// the rten backend), with why; not timed.
    pub refused: Vec<(Precision, String)>,
    /// Rounds run (each variant scored [`WINDOWS`] windows per round).
    pub rounds: usize,
}

impl Measurement {
    /// The fastest variant measured, ties to the most precise (see [`fastest`]).
    pub fn fastest(&self) -> Precision {
        fastest(&self.times)
    }
}

/// The fastest of `times` (not empty), where a variant beats the most
/// precise one only by more than [`TIE_MARGIN`].
pub fn fastest(times: &[VariantTime]) -> Precision {
    let reference = times
        .iter()
        .min_by_key(|t| t.precision)
        .expect("at least one variant");
    times
        .iter()
        .filter(|t| t.ms_per_window <= reference.ms_per_window * (1.0 - TIE_MARGIN))
        .min_by(|a, b| a.ms_per_window.total_cmp(&b.ms_per_window))
        .unwrap_or(reference)
        .precision
}

/// Loads every variant of `model` with `options` (its precision is
/// ignored) and times those the backend runs for about `budget` in all,
/// within [`MIN_ROUNDS`]..=[`MAX_ROUNDS`] rounds.
pub fn measure(model: Source, options: &ModelOptions, budget: Duration) -> Result<Measurement> {
    let load = |precision: Option<Precision>| {
        let options = ModelOptions {
            precision: precision.map_or(PrecisionChoice::Auto, PrecisionChoice::Exact),
            ..options.clone()
        };
        Model::open(model, &options)
    };
    let auto = load(None)?;
    let mut variants = StoredModel::read(model, PrecisionChoice::Auto)?.variants;
    variants.sort();
    let (mut models, mut refused) = (Vec::new(), Vec::new());
    for &p in &variants {
        match load(Some(p)) {
            Ok(m) => models.push(m),
            Err(e) if e.status == Status::ModelUnsupported => refused.push((p, e.message)),
            Err(e) => return Err(e),
        }
    }

    let m = auto.manifest();
    let audio = noise(m.window + (WINDOWS - 1) * m.hop);
    let mut per_window: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
    for model in &models {
        time_round(model, &audio)?; // warm-up: first-run allocations
    }
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < MIN_ROUNDS || (rounds < MAX_ROUNDS && start.elapsed() < budget) {
        for (model, times) in models.iter().zip(&mut per_window) {
            times.push(time_round(model, &audio)?);
        }
        rounds += 1;
    }
    Ok(Measurement {
        model: m.name.clone(),
        backend: auto.backend_name().to_string(),
        auto: auto.precision(),
        times: models
            .iter()
            .zip(&mut per_window)
            .map(|(model, times)| VariantTime {
                precision: model.precision(),
                ms_per_window: median(times),
            })
            .collect(),
        refused,
        rounds,
    })
}

/// Milliseconds per window of one stream over `audio` (at the model's rate).
fn time_round(model: &Model, audio: &[f32]) -> Result<f64> {
    let mut stream = Stream::new(model, model.manifest().sample_rate, 1)?;
    let t = Instant::now();
    stream.push(audio)?;
    stream.flush()?;
    let elapsed = t.elapsed();
    let windows = stream.score().windows;
    if windows == 0 {
        bail!(Internal, "the timing signal formed no scored window");
    }
    Ok(elapsed.as_secs_f64() * 1e3 / windows as f64)
}

/// Uniform noise at -11 dBFS RMS, far above any gate. A fixed linear
/// congruential sequence (Numerical Recipes constants): the same signal on
/// every run, no random-number crate needed.
fn noise(len: usize) -> Vec<f32> {
    let mut x: u32 = 1;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(precision: Precision, ms_per_window: f64) -> VariantTime {
        VariantTime {
            precision,
            ms_per_window,
        }
    }

    #[test]
    fn ties_go_to_the_most_precise_variant() {
        use Precision::*;
        // Within the margin: fp32 keeps it, whatever the order given.
        assert_eq!(fastest(&[t(Int8, 0.97), t(Fp32, 1.0), t(Fp16, 0.96)]), Fp32);
        // Beyond it: the fastest of those beyond it.
        assert_eq!(fastest(&[t(Fp32, 1.0), t(Fp16, 0.99), t(Int8, 0.5)]), Int8);
        assert_eq!(fastest(&[t(Fp32, 1.0), t(Fp16, 0.9), t(Int8, 0.94)]), Fp16);
        assert_eq!(fastest(&[t(Fp32, 1.0), t(Fp16, 1.0), t(Int8, 11.0)]), Fp32);
        // No fp32: the most precise present is the reference.
        assert_eq!(fastest(&[t(Int8, 0.98), t(Fp16, 1.0)]), Fp16);
        assert_eq!(fastest(&[t(Int8, 2.0)]), Int8);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn noise_is_fixed_and_loud() {
        let a = noise(16000);
        assert_eq!(a, noise(16000));
        let rms = (a.iter().map(|x| x * x).sum::<f32>() / a.len() as f32).sqrt();
        let dbfs = 20.0 * rms.log10();
        assert!((-11.5..-10.0).contains(&dbfs), "{dbfs} dBFS");
    }
}
