//! The Rust front ends against librosa (and, for `lfb`, an independent numpy
//! implementation of the ASVspoof baseline filterbank) on real speech.
//!
//! Fixtures: `tests/fixtures/frontend/cases.json` and one little-endian f32
//! `.bin` per case, made by `scripts/make_frontend_fixtures.py` from the WAVs
//! in `tests/fixtures/audio/`.

use std::path::{Path, PathBuf};

use dfd::frontend::{Frontend, FrontendConfig, LogKind, SpectralConfig};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Minimal reader for 16-bit PCM mono WAV: walks the RIFF chunks for `fmt `
/// and `data`. Returns the rate and samples scaled by 1/32768 (as soundfile
/// and librosa do).
fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE", "not a WAV file");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let (mut pos, mut rate, mut data) = (12, None, None);
    while pos + 8 <= bytes.len() {
        let (id, size) = (&bytes[pos..pos + 4], u32_at(pos + 4) as usize);
        let body = pos + 8;
        match id {
            b"fmt " => {
                assert_eq!((u16_at(body), u16_at(body + 2), u16_at(body + 14)), (1, 1, 16), "want PCM mono 16-bit");
                rate = Some(u32_at(body + 4));
            }
            b"data" => data = Some(&bytes[body..body + size]),
            _ => {}
        }
        pos = body + size + (size & 1);
    }
    let samples = data.expect("no data chunk").chunks_exact(2);
    (rate.expect("no fmt chunk"), samples.map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect())
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// Largest error allowed for a case, and why.
///
/// * raw: the same f32 arithmetic as numpy (z-score sums in f64 here, in f32
///   pairwise in numpy): 1e-5 relative to the largest value.
/// * linear spectra / filterbank energies: f32 FFT rounding is relative to the
///   frame's energy, not to each bin, so 1e-4 of the largest value.
/// * ln / log10 / dB: 1e-3 absolute in the log domain (dB: 1e-3 dB); then
///   divided by `std` when the output is normalised.
fn tolerance(cfg: &FrontendConfig, expected: &[f32]) -> f32 {
    let peak = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let spectral: &SpectralConfig = match cfg {
        FrontendConfig::Raw { .. } => return 1e-5 * peak,
        FrontendConfig::Spectrogram { spectral } => spectral,
        FrontendConfig::Logmel { spectral, .. } => spectral,
        FrontendConfig::Lfb { spectral, .. } => spectral,
    };
    match spectral.log {
        LogKind::None => 1e-4 * peak,
        LogKind::Ln | LogKind::Log10 | LogKind::Db => 1e-3 / spectral.std,
    }
}

#[test]
fn frontends_match_reference_outputs() {
    let dir = fixtures();
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("frontend/cases.json")).unwrap()).unwrap();
    let cases = index["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cfg: FrontendConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: config: {e}"));
        let sr = case["sample_rate"].as_u64().unwrap() as u32;
        let n = case["window_samples"].as_u64().unwrap() as usize;
        let offset = case["offset"].as_u64().unwrap() as usize;
        let (wav_sr, audio) = read_wav(&dir.join("audio").join(case["audio"].as_str().unwrap()));
        assert_eq!(wav_sr, sr, "{name}: sample rate");

        let mut fe = Frontend::new(&cfg, sr, n).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape: Vec<usize> =
            case["output_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(fe.output_shape(), &shape[..], "{name}: shape");
        let expected = read_f32(&dir.join("frontend").join(case["expected"].as_str().unwrap()));
        assert_eq!(expected.len(), fe.output_len(), "{name}: fixture length");

        let mut out = vec![f32::NAN; fe.output_len()];
        fe.compute(&audio[offset..offset + n], &mut out);
        let (mut max_err, mut at) = (0.0f32, 0);
        for (i, (a, b)) in out.iter().zip(&expected).enumerate() {
            let err = (a - b).abs();
            if !(err <= max_err) {
                (max_err, at) = (err, i);
            }
        }
        let tol = tolerance(&cfg, &expected);
        println!("{name:32} max abs err {max_err:.3e} (tolerance {tol:.1e}) at {at}: {} vs {}", out[at], expected[at]);
        if !(max_err <= tol) {
            failures.push(format!("{name}: max abs err {max_err:e} > {tol:e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
