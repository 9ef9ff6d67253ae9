//! The SIP softphone (examples/softphone, Python on pjsua2 and libdfd's
//! binding): runs its pytest suite of real calls on loopback against the
//! libdfd.so, CPU plugin and `dfd` tool this test run built. Each sample
//! clip is called over PCMU, PCMA, GSM, iLBC, Speex 8 kHz and G.722, one call
//! at a time, then four calls at once; malformed SIP and a refused call must
//! leave the agent serving. The measured per-codec table is printed (run
//! with `--nocapture`) and written to target/softphone-codecs.json.
//!
//! Needs python3 with pjsua2-python, numpy and pytest (.ci/run installs
//! them); without them this test fails, it does not skip. Calls run in real
//! time: about 2 minutes.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn softphone_real_calls() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import pjsua2, numpy, pytest"])
        .output()
        .unwrap_or_else(|e| panic!("{python} not found ({e})"));
    assert!(
        probe.status.success(),
        "{python} lacks pjsua2, numpy or pytest (pip install pjsua2-python numpy pytest):\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let lib = artifact_dir("libdfd.so").join("libdfd.so");
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().and_then(Path::parent).unwrap();
    let cli = target.join("dfd");
    assert!(
        cli.exists(),
        "{} not built: run `cargo test --workspace` (it builds the dfd tool)",
        cli.display()
    );
    let table = target.join("softphone-codecs.json");
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-v",
            "-s",
            "-rxXs",
        ])
        .arg(root().join("examples/softphone/tests"))
        .env("PYTHONPATH", root().join("bindings/python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("DFD_LIBRARY", &lib)
        .env("DFD_PLUGIN_PATH", plugin_dir())
        .env("DFD_CLI", &cli)
        .env("DFD_SOFTPHONE_TABLE", &table)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "softphone tests failed:\n{text}");
    assert!(!text.contains("SKIPPED"), "a test was skipped:\n{text}");
    assert!(table.exists(), "no per-codec table written");
}
