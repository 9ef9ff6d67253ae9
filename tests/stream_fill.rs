//! The manifest's rules for the ends of a stream, through the streaming
//! engine: how a stream shorter than one window is completed when it is
//! flushed (`frontend.fill`, `min_audio`), the window aligned to the end of
//! a longer one (`end_window`), and how windows make the stream's p_fake
//! (`aggregate`).
//!
//! The model is `tiny-mel` (the fixture graph without metadata) with a
//! sidecar manifest that differs from `tiny-mel`'s only in those keys.

mod common;

use common::*;
use dfd::{Model, Stream};
use serde_json::Value;

/// `tiny-mel` with `frontend.fill` set (or left out for `None`).
fn tiny_mel_with_fill(dir: &tempfile::TempDir, fill: Option<&str>) -> Model {
    tiny_mel_with(dir, fill.unwrap_or("default"), |m| {
        if let Some(fill) = fill {
            m["frontend"]
                .as_object_mut()
                .unwrap()
                .insert("fill".into(), fill.into());
        }
    })
}

/// `tiny-mel` with its manifest changed by `edit`, saved as `name`.
fn tiny_mel_with(dir: &tempfile::TempDir, name: &str, edit: impl FnOnce(&mut Value)) -> Model {
    let text = std::fs::read_to_string(fixture("models/tiny-mel/manifest.json")).expect("manifest");
    let mut m: Value = serde_json::from_str(&text).unwrap();
    let obj = m.as_object_mut().unwrap();
    obj.remove("variants");
    obj.insert("precision".into(), "fp32".into());
    edit(&mut m);
    let onnx = dir.path().join(format!("{name}.onnx"));
    std::fs::copy(fixture("models/no-manifest.onnx"), &onnx).unwrap();
    std::fs::write(onnx.with_extension("json"), m.to_string()).unwrap();
    Model::load(&onnx, &cpu_options()).unwrap()
}

/// Pushes `audio`, flushes, and returns (windows scored, last p_fake).
fn score(model: &Model, audio: &[f32]) -> (u64, f32) {
    let mut s = Stream::new(model, 16000, 1).unwrap();
    s.push(audio).unwrap();
    s.flush().unwrap();
    let score = s.score();
    (score.windows, score.last_p_fake)
}

#[test]
fn fill_rule_completes_a_short_stream() {
    let dir = tempfile::tempdir().unwrap();
    let speech = speech();
    let clip = &speech[8000..8000 + 11000];

    // Default: zeros after the audio, exactly like an explicit zero tail.
    let default = tiny_mel_with_fill(&dir, None);
    let zeros = tiny_mel_with_fill(&dir, Some("zeros"));
    let mut padded = clip.to_vec();
    padded.resize(16000, 0.0);
    let (n, p) = score(&default, clip);
    assert_eq!(n, 1);
    assert_eq!(score(&zeros, clip), (1, p));
    assert_eq!(score(&default, &padded), (1, p));

    // repeat: the clip tiled to the window (np.tile then crop), scored as if
    // that whole window had been pushed.
    let repeat = tiny_mel_with_fill(&dir, Some("repeat"));
    let tiled: Vec<f32> = (0..16000).map(|i| clip[i % clip.len()]).collect();
    let (n, p_repeat) = score(&repeat, clip);
    assert_eq!(n, 1);
    assert_eq!(score(&default, &tiled), (1, p_repeat));
    assert_ne!(p_repeat, p);

    // none: a stream shorter than a window is not scored.
    let none = tiny_mel_with_fill(&dir, Some("none"));
    assert_eq!(score(&none, clip).0, 0);
    // Whole windows are unaffected by the rule.
    assert_eq!(
        score(&none, &speech[..16000]),
        score(&default, &speech[..16000])
    );
}

/// A 2.7 s stream with 1 s windows every 0.5 s: windows at 0 .. 1.5 s end
/// at 2.5 s; the 0.2 s after them is less than half a hop, so no end
/// window. At 2.9 s, 0.4 s follows: one more window, 1.9-2.9 s, scored
/// exactly as that audio pushed alone. `end_window: false` keeps the old
/// windows only.
#[test]
fn end_window_covers_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let speech = speech();
    let with = tiny_mel_with_fill(&dir, None);
    let without = tiny_mel_with(&dir, "no-end", |m| m["end_window"] = false.into());
    let starts = |model: &Model, n: usize| {
        let mut s = Stream::new(model, 16000, 1).unwrap();
        s.push(&speech[..n]).unwrap();
        s.flush().unwrap();
        take_windows(&mut s)
    };
    let short_tail: Vec<f64> = starts(&with, 43200).iter().map(|w| w.start).collect();
    assert_eq!(short_tail, [0.0, 0.5, 1.0, 1.5]);
    let got = starts(&with, 46400);
    let at: Vec<f64> = got.iter().map(|w| w.start).collect();
    assert_eq!(at, [0.0, 0.5, 1.0, 1.5, 1.9]);
    assert_eq!(got[4].end, 2.9);
    let mut s = Stream::new(&with, 16000, 1).unwrap();
    s.push(&speech[30400..46400]).unwrap();
    s.flush().unwrap();
    assert_eq!(take_windows(&mut s)[0].p_fake, got[4].p_fake);
    let old: Vec<f64> = starts(&without, 46400).iter().map(|w| w.start).collect();
    assert_eq!(old, [0.0, 0.5, 1.0, 1.5]);
}

/// `aggregate`: the mean logit (default), the first window, the largest.
#[test]
fn aggregate_rules() {
    let dir = tempfile::tempdir().unwrap();
    let speech = speech();
    let run = |model: &Model| {
        let mut s = Stream::new(model, 16000, 1).unwrap();
        s.push(&speech).unwrap();
        s.flush().unwrap();
        (s.score(), take_windows(&mut s))
    };
    let (mean, windows) = run(&tiny_mel_with_fill(&dir, None));
    assert!(windows.len() > 2);
    let z: Vec<f64> = windows.iter().map(|w| f64::from(w.logit)).collect();
    let sigmoid = |x: f64| (1.0 / (1.0 + (-x).exp())) as f32;
    assert_eq!(mean.p_fake, sigmoid(z.iter().sum::<f64>() / z.len() as f64));
    let (first, _) = run(&tiny_mel_with(&dir, "first", |m| {
        m["aggregate"] = "first".into()
    }));
    assert_eq!(first.p_fake, windows[0].p_fake);
    let (max, _) = run(&tiny_mel_with(&dir, "max", |m| {
        m["aggregate"] = "max".into()
    }));
    let top = windows.iter().map(|w| w.p_fake).fold(0.0, f32::max);
    assert_eq!(max.p_fake, top);
    // Each window's raw output is the model's logit (kind "logit", no
    // calibration), its p_fake the sigmoid.
    for w in &windows {
        assert_eq!(w.raw.as_slice(), [w.logit]);
    }
}

/// `min_audio` sets the least audio a short stream needs; below it nothing
/// is scored and the score says why. The gate switched off scores silence.
#[test]
fn min_audio_and_gate_off() {
    let dir = tempfile::tempdir().unwrap();
    let speech = speech();
    let clip = &speech[8000..8000 + 6400];
    let default = tiny_mel_with_fill(&dir, None);
    let (n, _) = score(&default, clip);
    assert_eq!(n, 0, "0.4 s is under half of the 1 s window");
    let mut s = Stream::new(&default, 16000, 1).unwrap();
    s.push(clip).unwrap();
    s.flush().unwrap();
    let why = s.score().unscored.unwrap().to_string();
    assert!(
        why.contains("needs 0.50 s of audio (manifest min_audio), got 0.40 s"),
        "{why}"
    );
    let lower = tiny_mel_with(&dir, "min-audio", |m| m["min_audio"] = 4000.into());
    assert_eq!(score(&lower, clip).0, 1);

    let silence = vec![0.0f32; 32000];
    let mut s = Stream::new(&default, 16000, 1).unwrap();
    s.push(&silence).unwrap();
    s.flush().unwrap();
    let why = s.score().unscored.unwrap().to_string();
    assert!(
        why.contains("quieter than the energy gate (-50 dBFS)"),
        "{why}"
    );
    let ungated = tiny_mel_with(&dir, "no-gate", |m| m["gate"]["min_dbfs"] = Value::Null);
    assert_eq!(score(&ungated, &silence).0, 3);
}
