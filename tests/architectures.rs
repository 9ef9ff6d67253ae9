//! Detector architectures researchers bring to libdfd, loaded from a foreign
//! ONNX file plus sidecar manifest and streamed on real speech: every
//! window's score must equal what the model's own Python pipeline
//! (transformers / librosa / the ASVspoof baseline front end, then
//! onnxruntime) gives on the same window.
//!
//! Fixtures: `tests/fixtures/arch/<name>/` made by
//! `scripts/make_arch_models.py` (small random-weight models: wav2vec2,
//! WavLM, Whisper encoder, AASIST-style, dB-spectrogram CNN, EfficientNet-B0,
//! raw 1-D CNN, LFCC-LCNN).

mod common;

use common::*;
use dfd::{Model, Stream};
use serde_json::Value;

/// Largest accepted |difference| of a window's p_fake and calibrated logit.
const TOL: f64 = 1e-3;

struct Expected {
    /// (start sample, real samples, raw outputs, calibrated logit, p_fake)
    windows: Vec<(u64, usize, Vec<f64>, f64, f64)>,
    stream_p_fake: f64,
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(fixture(&format!("arch/{name}/expected.json")))
        .expect("expected.json (run scripts/make_arch_models.py)");
    let v: Value = serde_json::from_str(&text).unwrap();
    let windows = v["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["start"].as_u64().unwrap(),
                w["samples"].as_u64().unwrap() as usize,
                w["raw"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect(),
                w["logit"].as_f64().unwrap(),
                w["p_fake"].as_f64().unwrap(),
            )
        })
        .collect();
    Expected {
        windows,
        stream_p_fake: v["stream_p_fake"].as_f64().unwrap(),
    }
}

fn load(name: &str) -> dfd::Result<Model> {
    Model::load(fixture(&format!("arch/{name}/{name}.onnx")), &cpu_options())
}

/// Streams the speech clip through `name` and compares every window with
/// the fixture; returns the largest |p_fake| and |logit| differences.
fn check(name: &str) -> (f64, f64) {
    let model = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(model.backend_name(), "cpu");
    let exp = expected(name);
    let speech = speech();
    let m = model.manifest().clone();

    // 1. The streaming engine, pushed in uneven chunks, then flushed.
    let mut s = Stream::new(&model, 16000, 1).unwrap();
    for chunk in speech.chunks(7919) {
        s.push(chunk).unwrap();
    }
    s.flush().unwrap();
    let mut got = Vec::new();
    while let Some(w) = s.next_window() {
        got.push(w);
    }
    assert_eq!(
        got.len(),
        exp.windows.len(),
        "{name}: windows scored by the stream vs the Python pipeline"
    );
    let mut max_p = 0f64;
    for (g, (start, ..)) in got.iter().zip(&exp.windows) {
        assert_eq!(
            (g.start * 16000.0).round() as u64,
            *start,
            "{name}: window start"
        );
    }
    for (i, (g, e)) in got.iter().zip(&exp.windows).enumerate() {
        let d = (f64::from(g.p_fake) - e.4).abs();
        max_p = max_p.max(d);
        assert!(
            d <= TOL,
            "{name}: window {i} (start {}) p_fake {} vs python/onnxruntime {} (|diff| {d:.2e})",
            e.0,
            g.p_fake,
            e.4
        );
    }
    let score = s.score();
    assert_eq!(score.windows as usize, exp.windows.len());
    assert!(
        (f64::from(score.p_fake) - exp.stream_p_fake).abs() <= TOL,
        "{name}: stream p_fake {} vs {}",
        score.p_fake,
        exp.stream_p_fake
    );

    // 2. The same windows through the front end and Model::infer: the
    //    calibrated logit, which p_fake's sigmoid flattens at the extremes.
    let mut fe = model.frontend().clone();
    let mut feats = vec![0f32; fe.output_len()];
    let mut scratch = Vec::new();
    let mut logit = [0f32; 1];
    let mut max_z = 0f64;
    for (start, have, _raw, z, _) in &exp.windows {
        let start = *start as usize;
        let mut w = vec![0f32; m.window];
        let n = (*have).min(speech.len() - start);
        w[..n].copy_from_slice(&speech[start..start + n]);
        if n < m.window {
            assert!(fe.complete_window(&mut w, n));
        }
        fe.compute(&w, &mut feats);
        model.infer(&feats, 1, &mut scratch, &mut logit).unwrap();
        let d = (f64::from(logit[0]) - z).abs();
        max_z = max_z.max(d);
        assert!(
            d <= TOL * z.abs().max(1.0),
            "{name}: window at {start}: logit {} vs python/onnxruntime {z} (|diff| {d:.2e})",
            logit[0]
        );
    }
    eprintln!(
        "{name}: {} windows, max |p_fake diff| {max_p:.2e}, max |logit diff| {max_z:.2e}",
        exp.windows.len()
    );
    (max_p, max_z)
}

#[test]
fn wav2vec2_classifier() {
    check("wav2vec2");
}

#[test]
fn wavlm_classifier() {
    check("wavlm");
}

#[test]
fn whisper_encoder_classifier() {
    check("whisper");
}

#[test]
fn aasist_raw_waveform() {
    check("aasist");
}

#[test]
fn cnn_on_db_spectrogram() {
    check("spec_cnn");
}

#[test]
fn efficientnet_b0_on_logmel() {
    check("efficientnet_b0");
}

#[test]
fn raw_1d_cnn() {
    check("raw_cnn");
}

#[test]
fn lfcc_lcnn() {
    check("lfcc_lcnn");
}

/// A recurrent model (LSTM: tract turns it into a `Scan` that carries its
/// hidden state from one run to the next) must score a window the same
/// whatever window ran before it: run the windows forwards, then backwards,
/// then again through a freshly loaded model.
#[test]
fn recurrent_state_does_not_leak_between_windows() {
    let exp = expected("lfcc_lcnn");
    let speech = speech();
    let model = load("lfcc_lcnn").unwrap();
    let window = model.manifest().window;
    let mut fe = model.frontend().clone();
    let mut feats = vec![0f32; fe.output_len()];
    let mut scratch = Vec::new();
    let mut run = |model: &Model, start: u64| {
        let s = start as usize;
        fe.compute(&speech[s..s + window], &mut feats);
        let mut z = [0f32; 1];
        model.infer(&feats, 1, &mut scratch, &mut z).unwrap();
        z[0]
    };
    let forward: Vec<f32> = exp.windows.iter().map(|w| run(&model, w.0)).collect();
    let mut backward: Vec<f32> = exp.windows.iter().rev().map(|w| run(&model, w.0)).collect();
    backward.reverse();
    let fresh: Vec<f32> = exp
        .windows
        .iter()
        .map(|w| run(&load("lfcc_lcnn").unwrap(), w.0))
        .collect();
    assert_eq!(forward, backward);
    assert_eq!(forward, fresh);
    // And the same windows as one batch of the streaming engine's size.
    let n = fe.output_len();
    let mut batch = vec![0f32; exp.windows.len() * n];
    for (i, w) in exp.windows.iter().enumerate() {
        let s = w.0 as usize;
        fe.compute(&speech[s..s + window], &mut batch[i * n..(i + 1) * n]);
    }
    let mut z = vec![0f32; exp.windows.len()];
    model
        .infer(&batch, exp.windows.len(), &mut scratch, &mut z)
        .unwrap();
    assert_eq!(forward, z);
}

/// The fixtures can tell a right front end from a nearly right one: the same
/// ONNX file with one front-end key changed in its sidecar misses the
/// Python scores by far more than the tolerance.
#[test]
fn fixtures_detect_a_wrong_front_end() {
    let dir = tempfile::tempdir().unwrap();
    let speech = speech();
    for (name, key, value) in [
        ("wav2vec2", "normalize", Value::from("none")),
        ("spec_cnn", "db_ref", Value::from(1.0)),
        ("lfcc_lcnn", "with_energy", Value::from(false)),
        ("whisper", "pad_to", Value::Null),
    ] {
        let text = std::fs::read_to_string(fixture(&format!("arch/{name}/{name}.json"))).unwrap();
        let mut m: Value = serde_json::from_str(&text).unwrap();
        let fe = m["frontend"].as_object_mut().unwrap();
        if value.is_null() {
            // whisper without pad_to, on 2 s windows (same input shape):
            // 0.5 s more audio where the model was given zeros.
            fe.remove(key);
            m["window"] = 32000.into();
        } else {
            fe.insert(key.into(), value);
        }
        let onnx = dir.path().join(format!("{name}.onnx"));
        std::fs::copy(fixture(&format!("arch/{name}/{name}.onnx")), &onnx).unwrap();
        std::fs::write(onnx.with_extension("json"), m.to_string()).unwrap();
        let model = Model::load(&onnx, &cpu_options()).unwrap();
        let window = model.manifest().window;
        let mut fe = model.frontend().clone();
        let mut feats = vec![0f32; fe.output_len()];
        let mut scratch = Vec::new();
        let mut worst = 0f64;
        for (start, _, _, z, _) in &expected(name).windows {
            let s = *start as usize;
            let mut w = vec![0f32; window];
            let n = window.min(speech.len() - s);
            w[..n].copy_from_slice(&speech[s..s + n]);
            fe.compute(&w, &mut feats);
            let mut got = [0f32; 1];
            model.infer(&feats, 1, &mut scratch, &mut got).unwrap();
            worst = worst.max((f64::from(got[0]) - z).abs());
        }
        assert!(
            worst > 20.0 * TOL,
            "{name} with {key} changed still matches the fixture (max |logit diff| {worst:.2e})"
        );
        eprintln!("{name} with {key} changed: max |logit diff| {worst:.2e}");
    }
}

/// AASIST's `forward` returns `(last_hidden, output)`, so its ONNX graph has
/// two outputs; the fixture's manifest picks the scores with `graph_output`.
/// Without it the first output (the 64-value embedding) is refused, and the
/// error says why; a name or index that is not an output is refused too.
#[test]
fn graph_output_picks_the_scores_of_a_two_output_graph() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("arch/aasist/aasist.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(manifest["graph_output"], "output");
    let with = |name: &str, graph_output: Option<Value>| {
        let mut m = manifest.clone();
        let obj = m.as_object_mut().unwrap();
        match graph_output {
            Some(v) => obj.insert("graph_output".into(), v),
            None => obj.remove("graph_output"),
        };
        let onnx = dir.path().join(format!("{name}.onnx"));
        std::fs::copy(fixture("arch/aasist/aasist.onnx"), &onnx).unwrap();
        std::fs::write(onnx.with_extension("json"), m.to_string()).unwrap();
        Model::load(&onnx, &cpu_options())
    };

    let e = with("first", None)
        .err()
        .expect("the embedding is not scores");
    assert_eq!(e.status, dfd::Status::ModelKind);
    assert!(
        e.message.contains("2 outputs") && e.message.contains("1: \"output\""),
        "{}",
        e.message
    );
    for bad in [Value::from(2), Value::from("logits")] {
        let e = with("bad", Some(bad)).err().expect("not an output");
        assert_eq!(e.status, dfd::Status::ModelKind);
        assert!(e.message.contains("0: \"last_hidden\""), "{}", e.message);
    }

    // By index, the same scores as by name (the fixture).
    let by_index = with("index", Some(Value::from(1))).unwrap();
    let by_name = load("aasist").unwrap();
    let speech = speech();
    let mut p = Vec::new();
    for model in [&by_index, &by_name] {
        let mut s = Stream::new(model, 16000, 1).unwrap();
        s.push(&speech).unwrap();
        s.flush().unwrap();
        p.push(s.score().p_fake);
    }
    assert_eq!(p[0], p[1]);
    assert!((f64::from(p[0]) - expected("aasist").stream_p_fake).abs() <= TOL);
}

// --------------------------------------------------------------------------
// Notebook parity: a file scored as the researcher's notebook scores it
// (`librosa.load(path, sr=16000)`, the model's preprocessing of the clip
// from its start, onnxruntime), from 16 kHz mono and 44.1 kHz stereo WAVs.

/// Largest accepted |difference| of a file's p_fake.
const P_TOL: f64 = 1e-4;
/// Largest accepted |difference| of a raw model output.
const RAW_TOL: f64 = 1e-3;

/// Scores each clip of the notebook fixture `name` through the stream as an
/// app pushes a file (int16, its own rate and channels, uneven chunks, then
/// flush); returns the largest |p_fake| and |raw| differences.
fn notebook(name: &str) -> (f64, f64) {
    let model = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = std::fs::read_to_string(fixture(&format!("arch/{name}/expected.json")))
        .expect("expected.json (run scripts/make_arch_models.py)");
    let v: Value = serde_json::from_str(&text).unwrap();
    let clips = v["clips"].as_object().unwrap();
    assert!(clips.len() >= 2, "{name}: 16 kHz mono and 44.1 kHz stereo");
    let (mut max_p, mut max_raw) = (0f64, 0f64);
    for (clip, want) in clips {
        let (rate, channels, pcm) = read_wav_i16(&root().join(clip));
        let mut s = Stream::new(&model, rate, channels).unwrap();
        for chunk in pcm.chunks(3331 * channels as usize) {
            s.push_i16(chunk).unwrap();
        }
        s.flush().unwrap();
        let score = s.score();
        let windows = take_windows(&mut s);
        // An utterance model's file score is its last window, the whole
        // clip; other notebook models score a file by its first window.
        let utterance = model.manifest().utterance.is_some();
        let first = if utterance {
            windows.last()
        } else {
            windows.first()
        }
        .copied()
        .unwrap_or_else(|| panic!("{name} {clip}: nothing scored: {:?}", score.unscored));
        if utterance {
            let seconds = want["samples_16k"].as_f64().unwrap() / 16000.0;
            assert_eq!((first.start, first.end), (0.0, seconds), "{name} {clip}");
        }
        let dp = (f64::from(score.p_fake) - want["p_fake"].as_f64().unwrap()).abs();
        let raw: Vec<f64> = want["raw"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(first.raw.as_slice().len(), raw.len(), "{name} {clip}");
        let draw = first
            .raw
            .as_slice()
            .iter()
            .zip(&raw)
            .map(|(g, w)| (f64::from(*g) - w).abs())
            .fold(0f64, f64::max);
        eprintln!(
            "{name} {clip} ({rate} Hz, {channels} ch): |dp_fake| {dp:.2e}, |draw| {draw:.2e}"
        );
        assert!(
            dp <= P_TOL,
            "{name} {clip}: p_fake {} vs notebook {} (|diff| {dp:.2e})",
            score.p_fake,
            want["p_fake"]
        );
        assert!(
            draw <= RAW_TOL,
            "{name} {clip}: raw {:?} vs notebook {raw:?}",
            first.raw.as_slice()
        );
        (max_p, max_raw) = (max_p.max(dp), max_raw.max(draw));
    }
    (max_p, max_raw)
}

/// Ai-SPY's CNN: `power_to_db(ref=np.max, top_db=80)` of the first 3 s; a
/// 1.55 s clip gets the features of its own frames, padded with -80 dB
/// (`frame_fill`, `min_audio` 0.5 s).
#[test]
fn notebook_aispy_cnn_with_frame_fill() {
    notebook("nb_aispy_cnn");
}

/// Ai-SPY's Vision Transformer on the same spectrogram.
#[test]
fn notebook_vit_on_db_spectrogram() {
    notebook("nb_vit");
}

/// The same CNN with the frame axis padded by `np.pad(mode="edge")`
/// (`"frame_fill": "edge"`): the 1.55 s clip's last frame repeated.
#[test]
fn notebook_aispy_cnn_with_edge_frame_fill() {
    notebook("nb_aispy_edge");
}

/// EfficientNet-B0 on an 8 s 128-band log-mel: a 3.9 s clip (less than half
/// the window) is scored because the manifest's `min_audio` is 1 s.
#[test]
fn notebook_efficientnet_clip_shorter_than_half_a_window() {
    notebook("nb_efficientnet");
}

#[test]
fn notebook_raw_1d_cnn() {
    notebook("nb_raw_cnn");
}

#[test]
fn notebook_wav2vec2() {
    notebook("nb_wav2vec2");
}

/// A Whisper encoder on its full 30 s input, from a 3.9 s clip.
#[test]
fn notebook_whisper_30s_on_a_short_clip() {
    notebook("nb_whisper30");
}

/// The ASVspoof 2021 DF baseline's LFCC, `max_freq=0.5` (n_fft 1024: the
/// first 256 bins on the baseline's grid, their energy), then an LCNN.
#[test]
fn notebook_lfcc_lcnn_with_max_freq() {
    notebook("nb_lfcc_lcnn");
}

/// The ASVspoof LFCC-LCNN on the whole clip (`utterance`: a symbolic
/// frame axis, `1 + N / 160` frames, mean over time): a file's score is one
/// window of its own length (3.88 s and 1.55 s clips); while audio is
/// pushed, a live stream is scored on 2 s windows, each equal to
/// onnxruntime on the same window.
#[test]
fn notebook_lfcc_lcnn_utterance() {
    let name = "nb_lfcc_lcnn_utterance";
    notebook(name);
    let model = load(name).unwrap();
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("arch/{name}/expected.json"))).unwrap(),
    )
    .unwrap();
    let live = v["live_windows"].as_array().unwrap();
    let mut s = Stream::new(&model, 16000, 1).unwrap();
    s.push(&speech()).unwrap();
    let got = take_windows(&mut s);
    assert_eq!(got.len(), live.len(), "live windows before the flush");
    for (g, w) in got.iter().zip(live) {
        assert_eq!(g.start * 16000.0, w["start"].as_f64().unwrap());
        for (a, b) in g.raw.as_slice().iter().zip(w["raw"].as_array().unwrap()) {
            let d = (f64::from(*a) - b.as_f64().unwrap()).abs();
            assert!(d <= RAW_TOL, "live window at {}: {a} vs {b}", g.start);
        }
    }
    // The flush adds the utterance, whose score replaces the live mean.
    let before = s.score().p_fake;
    s.flush().unwrap();
    let after = take_windows(&mut s);
    assert_eq!(after.len(), 1);
    assert_eq!(s.score().p_fake, after[0].p_fake);
    assert_ne!(s.score().p_fake, before);
}

/// An utterance model's clip shorter than `min_audio` is not scored, and
/// the stream says why.
#[test]
fn utterance_shorter_than_min_audio_says_why() {
    let model = load("nb_lfcc_lcnn_utterance").unwrap();
    let mut s = Stream::new(&model, 16000, 1).unwrap();
    s.push(&speech()[..12000]).unwrap();
    s.flush().unwrap();
    let why = s.score().unscored.expect("a reason").to_string();
    assert!(
        why.contains("needs 1.00 s of audio (manifest min_audio), got 0.75 s"),
        "{why}"
    );
}

/// RawNet2 (sinc filters, FMS residual blocks, GRU), the clip tiled to 64600.
#[test]
fn notebook_rawnet2() {
    notebook("nb_rawnet2");
}

/// Without `min_audio` the EfficientNet's 3.9 s clip (under half of 8 s) is
/// not scored, and the stream says why.
#[test]
fn too_short_clips_say_why_nothing_was_scored() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(fixture("arch/nb_efficientnet/nb_efficientnet.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m.as_object_mut().unwrap().remove("min_audio");
    let onnx = dir.path().join("effnet.onnx");
    std::fs::copy(fixture("arch/nb_efficientnet/nb_efficientnet.onnx"), &onnx).unwrap();
    std::fs::write(onnx.with_extension("json"), m.to_string()).unwrap();
    let model = Model::load(&onnx, &cpu_options()).unwrap();
    let mut s = Stream::new(&model, 16000, 1).unwrap();
    s.push(&speech()).unwrap();
    let waiting = s.score().unscored.expect("nothing scored yet").to_string();
    assert!(waiting.contains("needs 8.00 s"), "{waiting}");
    s.flush().unwrap();
    let score = s.score();
    assert_eq!(score.windows, 0);
    let why = score.unscored.expect("a reason").to_string();
    assert!(
        why.contains("needs 4.00 s of audio (manifest min_audio), got 3.88 s"),
        "{why}"
    );
}
