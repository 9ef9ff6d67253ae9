//! `dfd inspect`: what it shows and warns about, on fixture and seed models.

mod common;

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use common::*;

/// `dfd inspect <model> --plugin-dir …`.
fn inspect(model: &Path) -> Output {
    let args: Vec<OsString> = vec![
        "inspect".into(),
        model.into(),
        "--plugin-dir".into(),
        plugin_dir().into(),
    ];
    dfd(args)
}

#[test]
fn inspect_describes_a_consistent_model_without_warnings() {
    let out = inspect(&model());
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    for want in [
        "model        tiny-mel",
        "variants     fp32, fp16, int8 (showing fp32)",
        "window 16000 samples (1.000 s), hop 8000 samples (0.500 s)",
        "\"type\":\"logmel\"",
        "features     [40, 101] = 4040 values per window",
        "input      features: float32 [N, 1, 40, 101]",
        "output       logit: one value",
        "runs on      backend cpu",
        "precision fp32",
    ] {
        assert!(s.contains(want), "{want:?} not in\n{s}");
    }
    assert!(!s.contains("warning"), "{s}");

    // A precision variant other than the default is shown when asked for.
    let out = dfd([
        OsStr::new("inspect"),
        model().as_os_str(),
        OsStr::new("--precision"),
        OsStr::new("int8"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
    ]);
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    assert!(s.contains("(showing int8)"), "{s}");
    assert!(
        s.contains("QLinearConv") || s.contains("DequantizeLinear"),
        "{s}"
    );
}

#[test]
fn inspect_without_a_model_describes_the_built_in_one() {
    let out = dfd([
        OsStr::new("inspect"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
    ]);
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    assert!(s.contains("(the built-in default model)"), "{s}");
    assert!(
        s.contains("input      features: float32 [N, 1, 60, 201]"),
        "{s}"
    );
    // The telephone model by name.
    let out = dfd([
        OsStr::new("inspect"),
        OsStr::new("builtin:telephone"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
    ]);
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    assert!(
        s.contains("dfd-lfb-cnn-tel-v2 (the built-in telephone model)"),
        "{s}"
    );
    assert!(s.contains("audio        8000 Hz"), "{s}");
}

#[test]
fn inspect_warns_on_a_manifest_that_contradicts_the_graph() {
    let fixtures = repo().join("tests/fixtures/models");
    // Loads and runs, but the outputs are probabilities, not logits.
    let out = inspect(&fixtures.join("softmax-as-logits.onnx"));
    assert_exit(&out, 1);
    let s = text(&out.stdout);
    assert!(s.contains("(from Softmax)"), "{s}");
    assert!(
        s.contains("warning: the graph ends in Softmax") && s.contains("\"kind\": \"probs\""),
        "{s}"
    );

    // The manifest's input_shape disagrees with the graph: named, and no load.
    let out = inspect(&fixtures.join("wrong-shape.onnx"));
    assert_exit(&out, 2);
    let s = text(&out.stdout);
    assert!(
        s.contains("warning: input \"features\" axis 3 is 101 in the graph but 100 in input_shape"),
        "{s}"
    );
    assert!(s.contains("runs on      nothing"), "{s}");

    // Not a model at all.
    let out = inspect(&fixtures.join("not-onnx.onnx"));
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("cannot read model"),
        "{}",
        text(&out.stderr)
    );
}

/// The walkthrough of docs/bring-your-own-model.md: the model and reference
/// scores that `examples/byo-model/export.py` made with PyTorch, librosa and
/// onnxruntime; `dfd` must accept the model without warnings and reproduce
/// every window's p_fake from the WAV file.
#[test]
fn bring_your_own_model_walkthrough_matches_python() {
    let dir = repo().join("examples/byo-model");
    let model = dir.join("detector.onnx");
    let out = inspect(&model);
    assert_exit(&out, 0);
    assert!(
        !text(&out.stdout).contains("warning"),
        "{}",
        text(&out.stdout)
    );

    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let wav = repo().join(reference["wav"].as_str().unwrap());
    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--json"),
        OsStr::new("--model"),
        model.as_os_str(),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
        wav.as_os_str(),
    ]);
    assert_exit(&out, 0);
    let got = &json_lines(&out)[0]["timeline"];
    let want = reference["windows"].as_array().unwrap();
    assert_eq!(got.as_array().unwrap().len(), want.len(), "{got}");
    for (g, w) in got.as_array().unwrap().iter().zip(want) {
        assert_eq!(g["start"], w["start"]);
        let (pg, pw) = (p(g), p(w));
        assert!(
            (pg - pw).abs() < 1e-3,
            "window at {}: dfd {pg}, Python {pw}",
            w["start"]
        );
        // The raw outputs are the model's two logits (class 1 = fake).
        let raw: Vec<f64> = g["raw"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(raw.len(), 2, "{g}");
        assert!(
            (g["logit"].as_f64().unwrap() - (raw[1] - raw[0])).abs() < 1e-5,
            "{g}"
        );
        assert!(
            (pg - 1.0 / (1.0 + (raw[0] - raw[1]).exp())).abs() < 1e-6,
            "{g}"
        );
    }
}

/// Every seed architecture of `tests/fixtures/arch` (wav2vec2, WavLM,
/// Whisper, AASIST, ...) has a manifest that agrees with its graph: inspect
/// loads each without a warning, and names AASIST's chosen graph output.
#[test]
fn inspect_accepts_every_seed_architecture() {
    let arch = repo().join("tests/fixtures/arch");
    let mut names: Vec<String> = std::fs::read_dir(&arch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let out = inspect(&arch.join(&name).join(format!("{name}.onnx")));
        assert_exit(&out, 0);
        let s = text(&out.stdout);
        assert!(!s.contains("warning"), "{name}:\n{s}");
        if name == "aasist" {
            assert!(s.contains("graph_output \"output\""), "{s}");
            assert!(s.contains("output     last_hidden"), "{s}");
        }
    }
}
