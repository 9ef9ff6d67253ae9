//! Shared by the monitor's integration tests (each uses some of it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository's sample clips, and the SSRCs the tests send them as.
pub const BONAFIDE: &str = "samples/bonafide_fr_june.wav";
pub const SYNTHETIC: &str = "samples/synthetic_piper_joe.wav";
pub const SSRC_BONAFIDE: u32 = 0x0B0A_F1DE;
pub const SSRC_SYNTHETIC: u32 = 0x5EE7_0001;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Directory holding a built artifact: the newer of `target/<profile>`
/// and its `deps/` (as tests/common/mod.rs of the core crate does).
pub fn artifact_dir(file: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    [target.clone(), target.join("deps")]
        .into_iter()
        .filter_map(|d| {
            let m = std::fs::metadata(d.join(file)).ok()?;
            Some((m.modified().ok()?, d))
        })
        .max_by_key(|(m, _)| *m)
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("{file} not built: run `cargo test --workspace`"))
}

/// Directory holding the CPU backend plugin.
pub fn plugin_dir() -> PathBuf {
    artifact_dir("libdfd_backend_cpu.so")
}

/// Length of a WAV clip (path relative to the repository) in seconds.
pub fn clip_seconds(rel: &str) -> f64 {
    let r = hound::WavReader::open(root().join(rel)).unwrap();
    r.duration() as f64 / f64::from(r.spec().sample_rate)
}
