//! Scoring one model on another backend and on tract (the CPU backend),
//! window by window: what the ort and rten backend tests assert.

use std::path::{Path, PathBuf};

use super::{fixture, plugin_dir, read_wav, root, take_windows};
use dfd::{Model, ModelOptions, Stream};

/// Largest accepted |difference| of a window's p_fake.
pub const P_TOL: f64 = 1e-4;
/// Largest accepted relative difference of a window's logit. Looser than
/// `P_TOL`: both engines sum in fp32 in an order set by the CPU's kernels,
/// and a deep network (EfficientNet-B0, 80 layers) carries the reordering
/// to the logit; CI's CPU gave 1.3e-4 there, the build machine 3.4e-5.
pub const LOGIT_TOL: f64 = 5e-4;

/// Options for `backend` at `precision`, its plugin found in `dir`.
pub fn options(backend: &str, precision: &str, dir: &Path) -> ModelOptions {
    ModelOptions {
        backend: backend.parse().unwrap(),
        precision: precision.parse().unwrap(),
        plugin_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

/// Per-window p_fake of the speech clip streamed in uneven chunks, and
/// the logit of each full window through `Model::infer`.
pub fn scores(model: &Model, speech: &[f32]) -> (Vec<f64>, Vec<f64>) {
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

/// Loads `path` at `precision` on tract and on `backend` (its plugin in
/// `dir`) and compares the speech clip's scores.
pub fn same_scores(path: PathBuf, precision: &str, backend: &str, dir: &Path) {
    let what = format!("{} {precision} on {backend}", path.display());
    let cpu = Model::load(&path, &options("cpu", precision, &plugin_dir()))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let other = Model::load(&path, &options(backend, precision, dir))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!((cpu.backend_name(), other.backend_name()), ("cpu", backend));
    assert_eq!(cpu.precision(), other.precision(), "{what}");
    let rate = cpu.manifest().sample_rate;
    let (r, ch, clip) = read_wav(&fixture("audio/speech_16k.wav"));
    assert_eq!((r, ch), (16000, 1));
    assert_eq!(rate, 16000, "{what}: the fixtures are 16 kHz models");
    let (pc, zc) = scores(&cpu, &clip);
    let (po, zo) = scores(&other, &clip);
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

/// The seed architectures of `tests/fixtures/arch` (window models).
pub const SEED_ARCHITECTURES: [&str; 8] = [
    "wav2vec2",
    "wavlm",
    "whisper",
    "aasist",
    "spec_cnn",
    "efficientnet_b0",
    "raw_cnn",
    "lfcc_lcnn",
];

/// The ONNX file of seed architecture `name`.
pub fn seed_model(name: &str) -> PathBuf {
    fixture(&format!("arch/{name}/{name}.onnx"))
}

/// The default model and every test model score as on tract on `backend`
/// (its plugin in `dir`), the packages at each of `precisions`.
pub fn test_models_score_as_on_tract(backend: &str, dir: &Path, precisions: &[&str]) {
    for precision in precisions {
        same_scores(root().join("models/dfd-lfb-cnn"), precision, backend, dir);
        same_scores(fixture("models/tiny-mel"), precision, backend, dir);
    }
    for file in ["tiny-raw.onnx", "fixed-batch.onnx"] {
        same_scores(fixture(&format!("models/{file}")), "auto", backend, dir);
    }
}
