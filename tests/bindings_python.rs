//! The Python bindings (bindings/python): runs their pytest suite against
//! the libdfd.so this test run built (DFD_LIBRARY), from the source tree
//! (no pip install), with the Rust API's scores of samples/*.wav handed over
//! in DFD_EXPECTED_SCORES so the bindings must reproduce them. Fails, never
//! skips, when python3, numpy or pytest is missing.

mod common;

use std::process::Command;

use common::*;

#[test]
fn python_bindings_pytest() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import numpy, pytest"])
        .output()
        .unwrap_or_else(|e| panic!("{python} not found ({e}): the Python bindings need it"));
    assert!(
        probe.status.success(),
        "{python} lacks numpy or pytest (pip install numpy pytest):\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    // What the Rust API gives for each sample, pushed as the tests push it.
    let model = dfd::Model::load_builtin(&cpu_options()).unwrap();
    let mut expected = serde_json::Map::new();
    let mut samples: Vec<_> = std::fs::read_dir(root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    samples.sort();
    assert!(samples.len() >= 2);
    for path in &samples {
        let reader = hound::WavReader::open(path).unwrap();
        let spec = reader.spec();
        let pcm: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
        let mut s = dfd::Stream::new(&model, spec.sample_rate, u32::from(spec.channels)).unwrap();
        for c in pcm.chunks((spec.sample_rate / 50) as usize * usize::from(spec.channels)) {
            s.push_i16(c).unwrap();
        }
        s.flush().unwrap();
        let score = s.score();
        expected.insert(
            path.file_name().unwrap().to_string_lossy().into_owned(),
            serde_json::json!({ "p_fake": score.p_fake, "windows": score.windows }),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let expected_file = tmp.path().join("expected.json");
    std::fs::write(
        &expected_file,
        serde_json::Value::Object(expected).to_string(),
    )
    .unwrap();

    let lib = artifact_dir("libdfd.so").join("libdfd.so");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-v", "-rs"])
        .arg(root().join("bindings/python/tests"))
        .current_dir(root().join("bindings/python"))
        .env("PYTHONPATH", root().join("bindings/python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("DFD_LIBRARY", &lib)
        .env("DFD_PLUGIN_PATH", plugin_dir())
        .env("DFD_EXPECTED_SCORES", &expected_file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pytest failed:\n{text}");
    assert!(
        text.contains("test_scores_match_rust_api PASSED"),
        "the Rust-API comparison did not run:\n{text}"
    );
    assert!(!text.contains("SKIPPED"), "a test was skipped:\n{text}");
    let summary = text.lines().last().unwrap_or("");
    assert!(summary.contains("passed"), "{text}");
}
