//! The shipped models, `models/dfd-lfb-cnn` (default, 16 kHz) and
//! `models/dfd-lfb-cnn-tel` (telephone, 8 kHz): every variant loads, each
//! built-in copy is its committed package, the smaller variants track fp32
//! on fixed real and synthetic clips, and the sample clips get the right
//! verdicts.

mod common;

use std::path::PathBuf;

use dfd::model::Builtin;
use dfd::{Model, ModelOptions, Stream, Verdict};

/// Each built-in model, its package and its sample rate.
const SHIPPED: [(Builtin, &str, u32); 2] = [
    (Builtin::Default, "models/dfd-lfb-cnn", 16000),
    (Builtin::Telephone, "models/dfd-lfb-cnn-tel", 8000),
];
const PRECISIONS: [&str; 3] = ["fp32", "fp16", "int8"];

fn options(precision: &str) -> ModelOptions {
    ModelOptions {
        precision: precision.parse().unwrap(),
        ..common::cpu_options()
    }
}

/// Real and synthetic clips at several rates: the samples and the test audio.
fn clips() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "samples/bonafide_fr_june.wav",
        "samples/synthetic_piper_joe.wav",
    ]
    .iter()
    .map(|p| common::root().join(p))
    .collect();
    for f in ["speech_16k.wav", "speech_22k05.wav", "telephone_8k.wav"] {
        v.push(common::fixture(&format!("audio/{f}")));
    }
    v
}

/// Per-window p_fake and the stream score of one clip, pushed in 20 ms chunks.
fn score(model: &Model, path: &std::path::Path) -> (Vec<f32>, dfd::Score) {
    let (rate, channels, samples) = common::read_wav(path);
    let mut s = Stream::new(model, rate, channels).unwrap();
    let chunk = (rate / 50 * channels) as usize;
    for c in samples.chunks(chunk) {
        s.push(c).unwrap();
    }
    s.flush().unwrap();
    let mut windows = Vec::new();
    while let Some(w) = s.next_window() {
        windows.push(w.p_fake);
    }
    (windows, s.score())
}

#[test]
fn every_variant_loads_from_the_package() {
    for (which, package, rate) in SHIPPED {
        for p in PRECISIONS {
            let m = Model::load(common::root().join(package), &options(p)).unwrap();
            assert_eq!(m.precision().as_str(), p);
            assert_eq!(m.backend_name(), "cpu");
            let man = m.manifest();
            assert_eq!(man.name, which.model_name());
            // 2 s windows, hop 1 s.
            assert_eq!(
                (man.sample_rate, man.window, man.hop),
                (rate, 2 * rate as usize, rate as usize)
            );
            assert!(man.threshold > 0.0 && man.threshold < 1.0);
        }
    }
}

#[test]
fn builtin_is_the_committed_package() {
    assert!(Model::has_builtin(), "default features embed the models");
    for (which, package, _) in SHIPPED {
        assert_eq!(Builtin::from_name(which.role()).unwrap(), which);
        assert_eq!(Builtin::from_name(which.model_name()).unwrap(), which);
        for p in PRECISIONS {
            let disk = Model::load(common::root().join(package), &options(p)).unwrap();
            let builtin = Model::load_builtin_named(which, &options(p)).unwrap();
            assert_eq!(builtin.precision().as_str(), p);
            assert_eq!(builtin.manifest(), disk.manifest());
            let clip = &clips()[1];
            assert_eq!(
                score(&builtin, clip).0,
                score(&disk, clip).0,
                "{which:?} {p}"
            );
        }
        // "auto" takes the backend's first choice among the three.
        let auto = Model::load_builtin_named(which, &common::cpu_options()).unwrap();
        assert_eq!(auto.precision().as_str(), "fp32");
    }
    let e = Builtin::from_name("wideband").unwrap_err();
    assert_eq!(e.status, dfd::Status::InvalidArg);
    assert_eq!(Builtin::for_rate(8000), Builtin::Telephone);
    assert_eq!(Builtin::for_rate(16000), Builtin::Default);
}

#[test]
fn fp16_and_int8_track_fp32() {
    for (which, _, _) in SHIPPED {
        fp16_and_int8_track_fp32_on(which);
    }
}

fn fp16_and_int8_track_fp32_on(which: Builtin) {
    let models: Vec<Model> = PRECISIONS
        .iter()
        .map(|p| Model::load_builtin_named(which, &options(p)).unwrap())
        .collect();
    for clip in clips() {
        let (ref_windows, ref_score) = score(&models[0], &clip);
        assert!(!ref_windows.is_empty(), "{}", clip.display());
        for (m, tol) in models[1..].iter().zip([0.01f32, 0.1]) {
            let (windows, s) = score(m, &clip);
            assert_eq!(windows.len(), ref_windows.len());
            let worst = windows
                .iter()
                .zip(&ref_windows)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= tol,
                "{} {}: window p_fake differs from fp32 by {worst}",
                clip.display(),
                m.precision().as_str()
            );
            assert!((s.p_fake - ref_score.p_fake).abs() <= tol);
        }
    }
}

#[test]
fn samples_get_the_right_verdicts() {
    let clips = clips();
    for (which, _, _) in SHIPPED {
        let model = Model::load_builtin_named(which, &common::cpu_options()).unwrap();
        assert_eq!(
            score(&model, &clips[0]).1.verdict,
            Verdict::Bonafide,
            "{which:?}"
        );
        assert_eq!(
            score(&model, &clips[1]).1.verdict,
            Verdict::Synthetic,
            "{which:?}"
        );
    }
}
