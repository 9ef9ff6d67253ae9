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
        backend: "cpu".parse().unwrap(),
        precision: precision.parse().unwrap(),
        threads: 1,
        plugin_dir: Some(plugin_dir()),
    };
    dfd::Model::load(model_path(), &opts).unwrap()
}

/// The 16-bit samples of a fixture WAV (path relative to the repository).
pub fn wav_i16(rel: &str) -> Vec<i16> {
    hound::WavReader::open(root().join(rel))
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect()
}

/// 16 kHz real speech from the fixtures.
pub fn speech() -> Vec<f32> {
    wav_i16("tests/fixtures/audio/speech_16k.wav")
        .into_iter()
        .map(|s| f32::from(s) / 32768.0)
        .collect()
}
