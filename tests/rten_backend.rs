//! The compact RTen backend (`plugins/rten`) through libdfd: the default
//! model and every test model score the speech clip as the CPU backend
//! (tract) does, window by window (p_fake within 1e-4, logits within 5e-4
//! relative), at fp32 and fp16; int8 (QOperator) packages and the seed
//! architectures it cannot run are refused by name with
//! `ModelUnsupported`, never mis-scored; and `auto` keeps tract on a tie.

mod common;

use std::path::PathBuf;

use common::*;
use dfd::{Model, ModelOptions, Status};

fn rten_dir() -> PathBuf {
    artifact_dir("libdfd_backend_rten.so")
}

fn same_scores(path: PathBuf, precision: &str) {
    against_tract::same_scores(path, precision, "rten", &rten_dir());
}

/// Loading `path` at `precision` on rten fails with `ModelUnsupported`
/// naming `op`.
fn refused(path: PathBuf, precision: &str, op: &str) {
    let what = format!("{} {precision}", path.display());
    let e = Model::load(
        &path,
        &against_tract::options("rten", precision, &rten_dir()),
    )
    .map(|_| ())
    .expect_err(&what);
    assert_eq!(e.status, Status::ModelUnsupported, "{what}: {}", e.message);
    assert!(e.message.contains(op), "{what}: {}", e.message);
}

#[test]
fn test_models_score_as_on_tract() {
    against_tract::test_models_score_as_on_tract("rten", &rten_dir(), &["fp32", "fp16"]);
}

#[test]
fn int8_packages_are_refused_by_operator_and_auto_skips_them() {
    refused(root().join("models/dfd-lfb-cnn"), "int8", "QLinearConv");
    // Under auto the backend's order (fp32, fp16) picks fp32.
    let m = Model::load(
        root().join("models/dfd-lfb-cnn"),
        &against_tract::options("rten", "auto", &rten_dir()),
    )
    .unwrap();
    assert_eq!(m.precision(), dfd::Precision::Fp32);
}

/// The seed architectures (tests/fixtures/arch) as they stand with rten
/// 0.27: those it lacks an operator for are refused naming it, every other
/// one scores as on tract. A new rten that runs more fails here, to be
/// taken off [`SEEDS_REFUSED`].
#[test]
fn seed_architectures_score_as_on_tract_or_are_refused() {
    for name in against_tract::SEED_ARCHITECTURES {
        let path = against_tract::seed_model(name);
        match SEEDS_REFUSED.iter().find(|(seed, _)| *seed == name) {
            Some((_, op)) => refused(path, "auto", op),
            None => same_scores(path, "auto"),
        }
    }
}

/// Seed architectures rten cannot run, and the operator it lacks.
const SEEDS_REFUSED: &[(&str, &str)] = &[("aasist", "Selu")];

/// tract and rten report the same score band; `auto` takes `cpu` (ties go
/// by name), which also runs int8 and more operators.
#[test]
fn auto_keeps_tract_on_a_tie() {
    let dir = rten_dir();
    assert!(
        dir.join("libdfd_backend_cpu.so").is_file(),
        "both plugins are built into {}",
        dir.display()
    );
    let list = dfd::backend::list(Some(&dir));
    let rten = list.iter().find(|b| b.name == "rten").expect("listed");
    let cpu = list.iter().find(|b| b.name == "cpu").expect("listed");
    assert!(rten.available && cpu.available, "{list:?}");
    assert_eq!(rten.score, dfd_backend_abi::SCORE_CPU_PORTABLE);
    assert_eq!(cpu.score, rten.score);
    assert!(rten.detail.starts_with("rten 0."), "{}", rten.detail);
    let model = Model::load(
        root().join("models/dfd-lfb-cnn"),
        &ModelOptions {
            plugin_dir: Some(dir),
            ..Default::default()
        },
    )
    .unwrap();
    if !list.iter().any(|b| b.available && b.score > rten.score) {
        assert_eq!(model.backend_name(), "cpu");
    }
}
