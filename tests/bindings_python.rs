//! The Python bindings (bindings/python): runs their pytest suite against
//! the libdfd.so this test run built (DFD_LIBRARY), from the source tree,
//! with the Rust API's scores of samples/*.wav handed over in
//! DFD_EXPECTED_SCORES so the bindings must reproduce them, and the C
//! compiler's layout of dfd.h's structs in DFD_C_LAYOUT so the ctypes
//! mirrors must match it (the installed wheel is cli/tests/python_wheel.rs's).
//! Fails, never skips, when python3, numpy or pytest is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn python(modules: &str) -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .unwrap_or_else(|e| panic!("{python} not found ({e}): the Python bindings need it"));
    assert!(
        probe.status.success(),
        "{python} lacks one of {modules} (pip install {}):\n{}",
        modules.replace(',', ""),
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

/// Offsets and sizes of the C structs the bindings mirror, as the C
/// compiler lays them out from include/dfd.h: `struct field offset size`
/// lines, and `struct - 0 sizeof` for each struct.
fn c_layout(dir: &Path) -> PathBuf {
    let fields: [(&str, &[&str]); 6] = [
        (
            "dfd_model_options",
            &[
                "struct_size",
                "threads",
                "backend",
                "precision",
                "plugin_dir",
            ],
        ),
        (
            "dfd_model_info",
            &[
                "sample_rate",
                "window",
                "hop",
                "threshold",
                "name",
                "backend",
                "precision",
            ],
        ),
        (
            "dfd_result",
            &[
                "p_fake",
                "last_p_fake",
                "windows",
                "seconds",
                "speech_seconds",
                "verdict",
                "windows_dropped",
            ],
        ),
        ("dfd_window", &["start", "end", "p_fake"]),
        (
            "dfd_window_output",
            &["start", "end", "p_fake", "logit", "raw", "raw_count"],
        ),
        (
            "dfd_backend_info",
            &["name", "builtin", "available", "detail"],
        ),
    ];
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include \"dfd.h\"\nint main(void) {\n",
    );
    for (s, fs) in fields {
        for f in fs {
            c += &format!(
                "  printf(\"{s} {f} %zu %zu\\n\", offsetof({s}, {f}), sizeof((({s} *)0)->{f}));\n"
            );
        }
        c += &format!("  printf(\"{s} - 0 %zu\\n\", sizeof({s}));\n");
    }
    c += "  return 0;\n}\n";
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, c).unwrap();
    let cc = Command::new("cc")
        .arg("-I")
        .arg(root().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc is needed to lay out dfd.h's structs");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let file = dir.join("layout.txt");
    std::fs::write(&file, out.stdout).unwrap();
    file
}

/// libdfd.so and libdfd_decode.so as built, side by side in one directory
/// as installed (`cargo test` may leave them in different directories);
/// returns libdfd's path. score_file finds libdfd_decode next to libdfd.
fn libs_side_by_side(tmp: &Path) -> PathBuf {
    let dir = tmp.join("lib");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["libdfd.so", "libdfd_decode.so"] {
        std::os::unix::fs::symlink(artifact_dir(file).join(file), dir.join(file)).unwrap();
    }
    dir.join("libdfd.so")
}

/// `dfd scan --json` (the CLI this run built) of the samples and of the
/// CLI's fixtures in every other format, one JSON line per file, for
/// `Model.score_file` to match. The Opus fixture is scanned as a
/// messenger's `voice_note.ogg`: the content decides, not the name.
fn scan_json(tmp: &Path) -> PathBuf {
    let fixtures = root().join("cli/tests/fixtures");
    let note = tmp.join("voice_note.ogg");
    std::fs::copy(fixtures.join("speech_48k_stereo.opus"), &note).unwrap();
    let mut files: Vec<PathBuf> = SAMPLES.iter().map(|s| root().join(s)).collect();
    files.push(note);
    for name in [
        "speech_48k_stereo.webm",
        "speech_48k_stereo.mka",
        "speech_44k1_stereo.m4a",
        "speech_44k1_stereo.flac",
        "speech_44k1_stereo.mp3",
        "speech_44k1_stereo.ogg",
    ] {
        files.push(fixtures.join(name));
    }
    let scan = Command::new(artifact_dir("dfd").join("dfd"))
        .args(["scan", "--json"])
        .args(&files)
        .env("DFD_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("the dfd CLI (built by `cargo test --workspace`)");
    assert!(
        scan.status.success(),
        "dfd scan --json failed:\n{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let out = tmp.join("scan.jsonl");
    std::fs::write(&out, scan.stdout).unwrap();
    out
}

#[test]
fn python_bindings_pytest() {
    let python = python("numpy, pytest");

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
        let score = score_wav_i16(&model, path);
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

    let lib = libs_side_by_side(tmp.path());
    let out = Command::new(&python)
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-v", "-rs"])
        .arg(root().join("bindings/python/tests"))
        .current_dir(root().join("bindings/python"))
        .env("PYTHONPATH", root().join("bindings/python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("DFD_LIBRARY", &lib)
        .env("DFD_PLUGIN_PATH", plugin_dir())
        .env("DFD_EXPECTED_SCORES", &expected_file)
        .env("DFD_C_LAYOUT", c_layout(tmp.path()))
        .env("DFD_SCAN_JSON", scan_json(tmp.path()))
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
    assert!(
        text.contains("test_struct_layouts_match_c_header PASSED"),
        "the struct layout check did not run:\n{text}"
    );
    assert!(
        text.contains("test_score_file_equals_dfd_scan PASSED"),
        "the comparison of score_file with dfd scan did not run:\n{text}"
    );
    assert!(!text.contains("SKIPPED"), "a test was skipped:\n{text}");
    let summary = text.lines().last().unwrap_or("");
    assert!(summary.contains("passed"), "{text}");
}
