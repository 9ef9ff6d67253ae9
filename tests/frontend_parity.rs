//! The Rust front ends against their Python references on real speech:
//! librosa (spectrogram, log-mel, MFCC, deltas, dB), numpy re-implementations
//! of the ASVspoof 2019/2021 baseline's LFB/LFCC (filterbank, DCT, energy,
//! deltas) and of openai-whisper's log-mel, HF wav2vec2's z-score, and the
//! AASIST loaders' repeat padding.
//!
//! Fixtures: `tests/fixtures/frontend/cases.json` and one little-endian f32
//! `.bin` per case, made by `scripts/make_frontend_fixtures.py` from the WAVs
//! in `tests/fixtures/audio/`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use dfd::frontend::{Frontend, FrontendConfig, LogKind, SpectralConfig};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Largest error allowed for a case, and why. The STFT runs in f64 like
/// librosa's (f64 window), so what differs is f32 rounding of the outputs, of
/// the filterbank sums (other summation order than numpy) and of `ln`/`log10`
/// (another libm): a few f32 ulps, ~1e-6 relative. The bounds leave 10x room.
///
/// * raw: 1e-5 of the largest value (z-score sums in f64 here, f32 in numpy).
/// * linear spectra / filterbank energies: 1e-5 of the largest value.
/// * ln / log10 / dB: 1e-4 absolute in the log domain (1e-4 dB), divided by
///   the smallest `std` when the output is normalised; deltas (differences of
///   two such values) included.
/// * cepstra (lfcc, mfcc): 1e-5 of the largest coefficient: each is a sum of
///   `n_filters` log values, so its rounding scales with their magnitude.
/// * whisper: 1e-5 absolute on `(log10 + 4) / 4` values of order 1.
fn tolerance(cfg: &FrontendConfig, expected: &[f32]) -> f32 {
    let peak = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let spectral: &SpectralConfig = match cfg {
        FrontendConfig::Raw { .. } => return 1e-5 * peak,
        FrontendConfig::Whisper { .. } => return 1e-5,
        FrontendConfig::Lfcc { .. } | FrontendConfig::Mfcc { .. } => return 1e-5 * peak,
        other => other.spectral().expect("spectral"),
    };
    let min_std = spectral
        .std
        .values()
        .iter()
        .fold(f32::INFINITY, |m, &v| m.min(v));
    match spectral.log {
        LogKind::None => 1e-5 * peak,
        LogKind::Ln | LogKind::Log10 | LogKind::Db => 1e-4 / min_std,
    }
}

struct Case {
    name: String,
    cfg: FrontendConfig,
    frontend: Frontend,
    input: Vec<f32>,
    expected: Vec<f32>,
}

fn load_cases() -> Vec<Case> {
    let dir = fixtures();
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("frontend/cases.json")).unwrap())
            .unwrap();
    let cases = index["cases"].as_array().unwrap();
    assert!(cases.len() >= 28);
    cases
        .iter()
        .map(|case| {
            let name = case["name"].as_str().unwrap().to_string();
            let cfg: FrontendConfig = serde_json::from_value(case["config"].clone())
                .unwrap_or_else(|e| panic!("{name}: config: {e}"));
            let sr = case["sample_rate"].as_u64().unwrap() as u32;
            let n = case["window_samples"].as_u64().unwrap() as usize;
            let offset = case["offset"].as_u64().unwrap() as usize;
            let (wav_sr, channels, audio) =
                common::read_wav(&dir.join("audio").join(case["audio"].as_str().unwrap()));
            assert_eq!((wav_sr, channels), (sr, 1), "{name}: rate and channels");
            let frontend = Frontend::new(&cfg, sr, n).unwrap_or_else(|e| panic!("{name}: {e}"));
            let shape: Vec<usize> = case["output_shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(frontend.output_shape(), &shape[..], "{name}: shape");
            let expected = read_f32(
                &dir.join("frontend")
                    .join(case["expected"].as_str().unwrap()),
            );
            assert_eq!(
                expected.len(),
                frontend.output_len(),
                "{name}: fixture length"
            );
            // A short input (`input_samples`) is completed by the `fill`
            // rule, as the streaming engine completes a short stream.
            let have = case["input_samples"].as_u64().map_or(n, |v| v as usize);
            let mut input = audio[offset..offset + n].to_vec();
            if have < n {
                assert!(frontend.complete_window(&mut input, have), "{name}: fill");
            }
            Case {
                name,
                cfg,
                frontend,
                input,
                expected,
            }
        })
        .collect()
}

#[test]
fn frontends_match_reference_outputs() {
    let mut failures = Vec::new();
    for mut case in load_cases() {
        let mut out = vec![f32::NAN; case.frontend.output_len()];
        case.frontend.compute(&case.input, &mut out);
        let (mut max_err, mut at) = (0.0f32, 0);
        for (i, (a, b)) in out.iter().zip(&case.expected).enumerate() {
            let err = (a - b).abs();
            if err > max_err || err.is_nan() {
                (max_err, at) = (err, i);
            }
        }
        let tol = tolerance(&case.cfg, &case.expected);
        let name = &case.name;
        println!(
            "{name:32} max abs err {max_err:.2e} (tolerance {tol:.1e}) at {at}: {} vs {}",
            out[at], case.expected[at]
        );
        if max_err > tol || max_err.is_nan() {
            failures.push(format!("{name}: max abs err {max_err:e} > {tol:e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Counts heap allocations made by the current thread, so the check below is
/// not disturbed by the test harness's other threads.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn compute_does_not_allocate() {
    for mut case in load_cases() {
        let mut out = vec![0.0; case.frontend.output_len()];
        let mut fresh = case.frontend.clone();
        let before = ALLOCATIONS.with(Cell::get);
        case.frontend.compute(&case.input, &mut out);
        fresh.compute(&case.input, &mut out);
        assert_eq!(
            ALLOCATIONS.with(Cell::get),
            before,
            "{}: compute allocated",
            case.name
        );
    }
}

#[test]
fn frontend_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Frontend>();
}

#[test]
fn every_front_end_type_has_a_parity_case() {
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("frontend/cases.json")).unwrap(),
    )
    .unwrap();
    let types: std::collections::BTreeSet<&str> = index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["config"]["type"].as_str().unwrap())
        .collect();
    for t in [
        "raw",
        "spectrogram",
        "logmel",
        "lfb",
        "lfcc",
        "mfcc",
        "whisper",
    ] {
        assert!(types.contains(t), "no parity case for type {t:?}");
    }
}
