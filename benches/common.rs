//! Shared by the benches: fixture paths and the built CPU plugin.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The model benched: `DFD_BENCH_MODEL` or the shipped default model.
pub fn model_path() -> PathBuf {
    std::env::var_os("DFD_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models/dfd-lfb-cnn"))
}

/// Directory with libdfd_backend_cpu.so next to the bench binary's target dir.
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    [target.clone(), target.join("deps")]
        .into_iter()
        .find(|d| d.join("libdfd_backend_cpu.so").is_file())
        .expect("build the plugin first: cargo build --release --workspace")
}

pub fn load(precision: &str) -> dfd::Model {
    let opts = dfd::ModelOptions {
        backend: "cpu".into(),
        precision: precision.into(),
        threads: 1,
        plugin_dir: Some(plugin_dir()),
    };
    dfd::Model::load(model_path(), &opts).unwrap()
}

/// 16 kHz real speech from the fixtures (16-bit PCM WAV, 44-byte header).
pub fn speech() -> Vec<f32> {
    let bytes = std::fs::read(root().join("tests/fixtures/audio/speech_16k.wav")).unwrap();
    bytes[44..]
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect()
}
