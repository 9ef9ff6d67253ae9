//! `dfd scan` on hostile files (issue 15): each is reported as a failed
//! file with its reason, promptly, and the files after it are still scanned.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The directory holding libdfd_backend_cpu.so (a dev-dependency, built by
/// `cargo test -p dfd-cli` next to this test binary).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let profile = deps.parent().unwrap().to_path_buf();
    [profile, deps]
        .into_iter()
        .find(|d| d.join("libdfd_backend_cpu.so").is_file())
        .expect("libdfd_backend_cpu.so next to the test binary")
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dfd-cli-hostile")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scan(files: &[&Path]) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_dfd"))
        .env_remove("DFD_MODEL")
        .env_remove("DFD_PLUGIN_PATH")
        .arg("scan")
        .arg("--model")
        .arg(repo().join("tests/fixtures/models/tiny-mel"))
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .args(files)
        .output()
        .expect("runs dfd");
    (out, started.elapsed())
}

/// A WAV file: `format` 1 (PCM) or 3 (IEEE float), mono, `bits` per sample.
fn wav(path: &Path, format: u16, rate: u32, bits: u16, data: &[u8]) {
    let block = bits / 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

fn assert_reported(out: &Output, file: &Path, reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("dfd: {}: ", file.display())) && stderr.contains(reason),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The good file after it was scanned.
    assert!(stdout.contains("speech_16k.wav: p_fake"), "{stdout}");
}

/// Defect 1 in the tool: a 22.05 kHz float WAV of values near FLT_MAX made
/// `dfd scan` panic (exit 101). Now it is a failed file like any other.
#[test]
fn scan_reports_huge_float_samples() {
    let huge = scratch("huge").join("huge.wav");
    let data: Vec<u8> = (0..22050)
        .flat_map(|i| (if i % 2 == 0 { 3.0e38f32 } else { -3.0e38 }).to_le_bytes())
        .collect();
    wav(&huge, 3, 22050, 32, &data);
    let good = repo().join("tests/fixtures/audio/speech_16k.wav");
    let (out, _) = scan(&[&huge, &good]);
    assert_reported(&out, &huge, "beyond the largest accepted magnitude 1000");
}

/// Defect 4 in the tool: a WAV whose header says 1 Hz ran for minutes.
#[test]
fn scan_reports_an_absurd_sample_rate_at_once() {
    let slow = scratch("rate").join("one-hertz.wav");
    let data: Vec<u8> = (0..36_000i32)
        .flat_map(|i| (((i * 37) % 2000 - 1000) as i16).to_le_bytes())
        .collect();
    wav(&slow, 1, 1, 16, &data);
    let good = repo().join("tests/fixtures/audio/speech_16k.wav");
    let (out, took) = scan(&[&slow, &good]);
    assert_reported(
        &out,
        &slow,
        "sample rate 1 Hz is out of range (4000..=384000)",
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
}

/// Defect 5 in the tool: a device has no end; it is refused, not read.
#[test]
fn scan_refuses_devices() {
    let good = repo().join("tests/fixtures/audio/speech_16k.wav");
    let (out, took) = scan(&[Path::new("/dev/zero"), &good]);
    assert_reported(&out, Path::new("/dev/zero"), "not a regular file");
    assert!(took < Duration::from_secs(60), "{took:?}");
}
