//! The onnxruntime backend (`plugins/ort`) through libdfd, on the
//! `libonnxruntime.so` of the `onnxruntime` PyPI wheel (CI installs it):
//! every test model, each precision variant, and every seed architecture
//! scores the speech clip as the CPU backend (tract) does, window by
//! window (p_fake within 1e-4, logits within 5e-4 relative); and `auto`
//! picks it over tract, saying why.

mod common;
#[path = "../plugins/ort/tests/wheel/mod.rs"]
mod wheel;

use std::path::PathBuf;

use common::*;
use dfd::{Model, ModelOptions};

fn ort_dir() -> PathBuf {
    artifact_dir("libdfd_backend_ort.so")
}

/// Loads `path` at `precision` on tract and on onnxruntime and compares.
fn same_scores(path: PathBuf, precision: &str) {
    against_tract::same_scores(path, precision, "ort", &ort_dir());
}

#[test]
fn test_models_score_as_on_tract() {
    if !wheel::use_wheel() {
        return;
    }
    against_tract::test_models_score_as_on_tract("ort", &ort_dir(), &["fp32", "fp16", "int8"]);
}

#[test]
fn seed_architectures_score_as_on_tract() {
    if !wheel::use_wheel() {
        return;
    }
    for name in against_tract::SEED_ARCHITECTURES {
        same_scores(against_tract::seed_model(name), "auto");
    }
}

#[test]
fn auto_ranks_onnxruntime_first_and_says_why() {
    if !wheel::use_wheel() {
        return;
    }
    let dir = ort_dir();
    assert!(
        dir.join("libdfd_backend_cpu.so").is_file(),
        "both plugins are built into {}",
        dir.display()
    );
    let list = dfd::backend::list(Some(&dir));
    let ranked: Vec<(&str, u32)> = list
        .iter()
        .filter(|b| b.available)
        .map(|b| (b.name.as_str(), b.score))
        .collect();
    let pos = |n: &str| ranked.iter().position(|(name, _)| *name == n).unwrap();
    assert!(pos("ort") < pos("cpu"), "{ranked:?}");
    assert_eq!(ranked[pos("ort")].1, dfd_backend_abi::SCORE_CPU_TUNED);
    assert_eq!(ranked[pos("cpu")].1, dfd_backend_abi::SCORE_CPU_PORTABLE);
    let ort = &list[list.iter().position(|b| b.name == "ort").unwrap()];
    assert!(ort.detail.contains("onnxruntime 1."), "{}", ort.detail);
    let model = Model::load(
        root().join("models/dfd-lfb-cnn"),
        &ModelOptions {
            plugin_dir: Some(dir),
            ..Default::default()
        },
    )
    .unwrap();
    // No GPU here: onnxruntime is the best backend this machine has.
    if !ranked.iter().any(|(n, _)| *n == "cuda") {
        assert_eq!(model.backend_name(), "ort");
    }
}

/// An utterance model (time axis following the audio): the ort backend
/// refuses it by name with the reason, and `auto`, with ort installed and
/// ranked first, loads it on cpu instead.
#[test]
fn utterance_models_run_on_cpu_not_ort() {
    if !wheel::use_wheel() {
        return;
    }
    let path = fixture("arch/nb_lfcc_lcnn_utterance/nb_lfcc_lcnn_utterance.onnx");
    let e = Model::load(&path, &against_tract::options("ort", "auto", &ort_dir()))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.status, dfd::Status::ModelUnsupported, "{}", e.message);
    assert!(
        e.message.contains("backend ort") && e.message.contains("utterance"),
        "{}",
        e.message
    );
    let auto = ModelOptions {
        plugin_dir: Some(ort_dir()),
        ..Default::default()
    };
    let model = Model::load(&path, &auto).unwrap();
    assert_eq!(model.backend_name(), "cpu");
}
