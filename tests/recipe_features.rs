//! The training recipe's numpy front end (`models/recipe/features.py`, what
//! the shipped `lfb` model was trained on) against the crate's Rust front end.
//!
//! Fixture: `tests/fixtures/recipe/`, made by
//! `models/recipe/make_feature_fixture.py` from `audio/speech_16k.wav`.

mod common;

use dfd::frontend::{Frontend, FrontendConfig};
use serde_json::Value;

fn read_f32(rel: &str) -> Vec<f32> {
    let bytes = std::fs::read(common::fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn recipe_features_match_the_rust_front_end() {
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture("recipe/features.json")).unwrap(),
    )
    .unwrap();
    let cfg: FrontendConfig = serde_json::from_value(index["frontend"].clone()).unwrap();
    assert!(matches!(cfg, FrontendConfig::Lfb { .. }));
    let sr = index["sample_rate"].as_u64().unwrap() as u32;
    let n = index["window_samples"].as_u64().unwrap() as usize;
    let tol = index["tolerance"].as_f64().unwrap() as f32;
    assert!(tol <= 1e-4);

    // The stored input is the committed clip itself.
    let input = read_f32("recipe/input.f32le.bin");
    assert_eq!(
        input.len(),
        index["input_samples"].as_u64().unwrap() as usize
    );
    let speech = common::speech();
    assert_eq!(input[..], speech[..input.len()]);

    let mut fe = Frontend::new(&cfg, sr, n).unwrap();
    let shape: Vec<usize> = index["output_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(fe.output_shape(), &shape[..]);
    assert_eq!(shape, [60, 201]);

    let cases = index["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let mut out = vec![0.0f32; fe.output_len()];
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let off = case["offset"].as_u64().unwrap() as usize;
        let gain = case["gain"].as_f64().unwrap() as f32;
        let window: Vec<f32> = input[off..off + n]
            .iter()
            .map(|&v| if gain == 1.0 { v } else { v * gain })
            .collect();
        let expected = read_f32(&format!("recipe/{}", case["expected"].as_str().unwrap()));
        assert_eq!(expected.len(), out.len(), "{name}");
        fe.compute(&window, &mut out);
        let (mut worst, mut at) = (0.0f32, 0);
        for (i, (a, b)) in out.iter().zip(&expected).enumerate() {
            assert!(a.is_finite(), "{name}: non-finite output at {i}");
            let d = (a - b).abs();
            if d > worst {
                worst = d;
                at = i;
            }
        }
        eprintln!(
            "{name}: max |rust - python| = {worst:.3e} at [{}, {}]",
            at / shape[1],
            at % shape[1]
        );
        assert!(
            worst <= tol,
            "{name}: max |diff| {worst} > {tol} at [{}, {}] (rust {}, python {})",
            at / shape[1],
            at % shape[1],
            out[at],
            expected[at]
        );
    }
}
