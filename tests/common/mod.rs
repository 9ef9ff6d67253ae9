//! Shared helpers for the integration tests: fixture paths, the built
//! plugin's directory, a WAV reader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// `target/<profile>`, derived from the running test binary (`.../deps/x`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Directory holding a built artifact, looking where cargo puts it: the
/// newer of `target/<profile>` (where `cargo build` copies it) and
/// `target/<profile>/deps` (all `cargo test` refreshes), so a test never
/// runs against a stale copy of a plugin.
pub fn artifact_dir(file: &str) -> PathBuf {
    let t = target_dir();
    let newest = [t.clone(), t.join("deps")]
        .into_iter()
        .filter_map(|dir| {
            let modified = std::fs::metadata(dir.join(file)).ok()?.modified().ok()?;
            Some((modified, dir))
        })
        .max_by_key(|(modified, _)| *modified);
    if let Some((_, dir)) = newest {
        return dir;
    }
    panic!(
        "{file} not found under {}: run the tests with `cargo test --workspace`",
        t.display()
    );
}

/// Directory with the CPU backend plugin built by this workspace.
pub fn plugin_dir() -> PathBuf {
    artifact_dir("libdfd_backend_cpu.so")
}

/// Options that find the workspace's CPU plugin (the shared-library path).
pub fn cpu_options() -> dfd::ModelOptions {
    dfd::ModelOptions {
        backend: "cpu".into(),
        plugin_dir: Some(plugin_dir()),
        ..Default::default()
    }
}

/// Reads a 16-bit PCM WAV: (rate, channels, interleaved samples in [-1, 1],
/// scaled by 1/32768 as soundfile and librosa do).
pub fn read_wav(path: &Path) -> (u32, u32, Vec<f32>) {
    let reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_format, spec.bits_per_sample),
        (hound::SampleFormat::Int, 16),
        "{}: 16-bit PCM only",
        path.display()
    );
    let samples = reader
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    (spec.sample_rate, u32::from(spec.channels), samples)
}

/// The committed real-speech clip at 16 kHz, mono.
pub fn speech() -> Vec<f32> {
    let (rate, channels, s) = read_wav(&fixture("audio/speech_16k.wav"));
    assert_eq!((rate, channels), (16000, 1));
    s
}
