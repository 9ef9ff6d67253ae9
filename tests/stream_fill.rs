//! The manifest's `frontend.fill` rule through the streaming engine: how a
//! stream shorter than one window is completed when it is flushed.
//!
//! The model is `tiny-mel` (the fixture graph without metadata) with a
//! sidecar manifest that differs from `tiny-mel`'s only in `fill`.

mod common;

use common::*;
use dfd::{Model, Stream};
use serde_json::Value;

/// `tiny-mel` with `frontend.fill` set (or left out for `None`).
fn tiny_mel_with_fill(dir: &tempfile::TempDir, fill: Option<&str>) -> Model {
    let text = std::fs::read_to_string(fixture("models/tiny-mel/manifest.json")).expect("manifest");
    let mut m: Value = serde_json::from_str(&text).unwrap();
    let obj = m.as_object_mut().unwrap();
    obj.remove("variants");
    obj.insert("precision".into(), "fp32".into());
    if let Some(fill) = fill {
        obj["frontend"]
            .as_object_mut()
            .unwrap()
            .insert("fill".into(), fill.into());
    }
    let name = fill.unwrap_or("default");
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
