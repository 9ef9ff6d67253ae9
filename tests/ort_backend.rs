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
use dfd::{Model, ModelOptions, Stream};

/// Largest accepted |difference| of a window's p_fake.
const P_TOL: f64 = 1e-4;
/// Largest accepted relative difference of a window's logit. Looser than
/// `P_TOL`: both engines sum in fp32 in an order set by the CPU's kernels,
/// and a deep network (EfficientNet-B0, 80 layers) carries the reordering
/// to the logit; CI's CPU gave 1.3e-4 there, the build machine 3.4e-5.
const LOGIT_TOL: f64 = 5e-4;

fn ort_dir() -> PathBuf {
    artifact_dir("libdfd_backend_ort.so")
}

fn options(backend: &str, precision: &str) -> ModelOptions {
    ModelOptions {
        backend: backend.parse().unwrap(),
        precision: precision.parse().unwrap(),
        plugin_dir: Some(if backend == "ort" {
            ort_dir()
        } else {
            plugin_dir()
        }),
        ..Default::default()
    }
}

/// Per-window p_fake of the speech clip streamed in uneven chunks, and
/// the logit of each full window through `Model::infer`.
fn scores(model: &Model, speech: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let rate = model.manifest().sample_rate;
    let mut s = Stream::new(model, rate, 1).unwrap();
    for chunk in speech.chunks(7919) {
        s.push(chunk).unwrap();
    }
    s.flush().unwrap();
    let p = take_windows(&mut s)
        .iter()
        .map(|w| f64::from(w.p_fake))
        .collect();
    let window = model.manifest().window;
    let hop = model.manifest().hop;
    let mut fe = model.frontend().clone();
    let mut feats = vec![0f32; fe.output_len()];
    let (mut scratch, mut out) = (Vec::new(), vec![0f32; 1]);
    let mut logits = Vec::new();
    // A clip shorter than the window (AASIST's 4 s) is zero-padded to one.
    let mut clip = speech.to_vec();
    clip.resize(clip.len().max(window), 0.0);
    for start in (0..=clip.len() - window).step_by(hop) {
        fe.compute(&clip[start..start + window], &mut feats);
        model.infer(&feats, 1, &mut scratch, &mut out).unwrap();
        logits.push(f64::from(out[0]));
    }
    (p, logits)
}

/// Loads `path` at `precision` on tract and on onnxruntime and compares.
fn same_scores(path: PathBuf, precision: &str) {
    let what = format!("{} {precision}", path.display());
    let cpu =
        Model::load(&path, &options("cpu", precision)).unwrap_or_else(|e| panic!("{what}: {e}"));
    let ort =
        Model::load(&path, &options("ort", precision)).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!((cpu.backend_name(), ort.backend_name()), ("cpu", "ort"));
    assert_eq!(cpu.precision(), ort.precision(), "{what}");
    let rate = cpu.manifest().sample_rate;
    let (r, ch, clip) = read_wav(&fixture("audio/speech_16k.wav"));
    assert_eq!((r, ch), (16000, 1));
    assert_eq!(rate, 16000, "{what}: the fixtures are 16 kHz models");
    let (pc, zc) = scores(&cpu, &clip);
    let (po, zo) = scores(&ort, &clip);
    assert!(!pc.is_empty() && pc.len() == po.len(), "{what}");
    let dp = pc
        .iter()
        .zip(&po)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let dz = zc
        .iter()
        .zip(&zo)
        .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
        .fold(0.0, f64::max);
    eprintln!(
        "{what}: {} windows, max |p_fake diff| {dp:.1e}, max |logit diff| {dz:.1e}",
        pc.len()
    );
    assert!(
        dp <= P_TOL && dz <= LOGIT_TOL,
        "{what}: p_fake {dp:.2e}, logit {dz:.2e}"
    );
}

#[test]
fn test_models_score_as_on_tract() {
    if !wheel::use_wheel() {
        return;
    }
    for precision in ["fp32", "fp16", "int8"] {
        same_scores(root().join("models/dfd-lfb-cnn"), precision);
        same_scores(fixture("models/tiny-mel"), precision);
    }
    for file in ["tiny-raw.onnx", "fixed-batch.onnx"] {
        same_scores(fixture(&format!("models/{file}")), "auto");
    }
}

#[test]
fn seed_architectures_score_as_on_tract() {
    if !wheel::use_wheel() {
        return;
    }
    for name in [
        "wav2vec2",
        "wavlm",
        "whisper",
        "aasist",
        "spec_cnn",
        "efficientnet_b0",
        "raw_cnn",
        "lfcc_lcnn",
    ] {
        same_scores(fixture(&format!("arch/{name}/{name}.onnx")), "auto");
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
    let e = Model::load(&path, &options("ort", "auto"))
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
