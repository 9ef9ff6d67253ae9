//! Shared helpers for the integration tests: fixture paths, the built
//! plugin's directory, a tiny WAV reader.
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

/// Directory holding a built artifact, looking where cargo puts it.
pub fn artifact_dir(file: &str) -> PathBuf {
    let t = target_dir();
    for dir in [t.clone(), t.join("deps")] {
        if dir.join(file).is_file() {
            return dir;
        }
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

/// Reads a 16-bit PCM WAV: (rate, channels, interleaved samples in [-1, 1]).
pub fn read_wav(path: &Path) -> (u32, u32, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let (mut pos, mut rate, mut channels) = (12, 0, 0);
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "PCM only");
            channels = u16::from_le_bytes([body[2], body[3]]) as u32;
            rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
            assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "16-bit only");
        } else if id == b"data" {
            let samples = body
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
                .collect();
            return (rate, channels, samples);
        }
        pos += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// The committed real-speech clip at 16 kHz, mono.
pub fn speech() -> Vec<f32> {
    let (rate, channels, s) = read_wav(&fixture("audio/speech_16k.wav"));
    assert_eq!((rate, channels), (16000, 1));
    s
}
