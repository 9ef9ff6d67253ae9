//! Shared helpers for the integration tests: fixture paths, the built
//! plugin's directory, a WAV reader, running tools, and checking the scores
//! that apps built against libdfd print.
#![allow(dead_code)]

pub mod against_tract;
pub mod c_api;

use std::path::{Path, PathBuf};
use std::process::Command;

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
        backend: "cpu".parse().unwrap(),
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

/// The committed sample clips: a real one and a Piper-synthesised one.
pub const SAMPLES: [&str; 2] = [
    "samples/bonafide_fr_june.wav",
    "samples/synthetic_piper_joe.wav",
];

/// Runs `cmd`, which must succeed; returns its stdout then stderr.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e} (is it installed?)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// Reads a 16-bit WAV as it is stored: (rate, channels, interleaved int16).
pub fn read_wav_i16(path: &Path) -> (u32, u32, Vec<i16>) {
    let reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    let pcm = reader.into_samples::<i16>().map(Result::unwrap).collect();
    (spec.sample_rate, u32::from(spec.channels), pcm)
}

/// Every unread per-window result of `s`, oldest first.
pub fn take_windows(s: &mut dfd::Stream) -> Vec<dfd::WindowScore> {
    std::iter::from_fn(|| s.next_window()).collect()
}

/// The Rust API's score of a 16-bit WAV pushed as the apps and bindings
/// under test push it: 20 ms chunks of int16, then flush.
pub fn score_wav_i16(model: &dfd::Model, path: &Path) -> dfd::Score {
    let (rate, channels, pcm) = read_wav_i16(path);
    let mut s = dfd::Stream::new(model, rate, channels).unwrap();
    for c in pcm.chunks((rate / 50) as usize * channels as usize) {
        s.push_i16(c).unwrap();
    }
    s.flush().unwrap();
    s.score()
}

/// Checks the `FILE p_fake X windows N [verdict V]` lines that `app`
/// printed for `files` against `score_wav_i16`: p_fake within 2e-6, the
/// same window count (at least one), and the same verdict where printed;
/// with `verdict_required` every line must print it.
pub fn check_app_scores(
    app: &str,
    text: &str,
    model: &dfd::Model,
    files: &[PathBuf],
    verdict_required: bool,
) {
    for file in files {
        let want = score_wav_i16(model, file);
        let prefix = format!("{} p_fake ", file.display());
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{app}: no line for {}:\n{text}", file.display()));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let got: f32 = fields[2].parse().unwrap();
        assert!(
            (got - want.p_fake).abs() <= 2e-6,
            "{app} {line}: the Rust API gives p_fake {}\n{text}",
            want.p_fake
        );
        assert_eq!(fields[4], want.windows.to_string(), "{app} {line}: windows");
        assert!(want.windows > 0, "{}: no window scored", file.display());
        let verdict = match want.verdict {
            dfd::Verdict::Synthetic => "synthetic",
            dfd::Verdict::Bonafide => "bonafide",
            dfd::Verdict::Unknown => "unknown",
        };
        match fields.get(6) {
            Some(v) => assert_eq!(*v, verdict, "{app} {line}: verdict"),
            None => assert!(!verdict_required, "{app} {line}: no verdict printed"),
        }
    }
}
