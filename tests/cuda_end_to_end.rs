//! The whole CUDA path through libdfd: libdfd hands the plugin its front
//! end (`set_frontend`), streams pass raw windows (`run_audio`), deferred
//! streams are scored together in one launch list, and every score matches
//! the CPU backend's on libdfd's own features.
//!
//! By default the device is the plugin's CPU simulator (`DFD_CUDA_SIMULATOR`,
//! the kernel files compiled as C++ by g++, `plugins/cuda/src/sim.rs`), so
//! this runs on any machine. On a machine with an NVIDIA GPU,
//! `DFD_CUDA_REAL=1 cargo test --test cuda_end_to_end` runs the same checks
//! on the GPU.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Once;

use common::*;
use dfd::{infer_streams, Model, ModelOptions, Stream, WindowScore};

#[path = "../plugins/cuda/tests/shim/simulator.rs"]
mod simulator;

/// Whether the tests run on a real GPU (`DFD_CUDA_REAL=1`).
fn real_gpu() -> bool {
    std::env::var_os("DFD_CUDA_REAL").is_some_and(|v| v == "1")
}

/// Unless on a real GPU: builds the simulator once and points the plugin at
/// it. Every test calls this first, so the environment is set (under the
/// Once) before any test of this binary reads it.
fn simulate() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if real_gpu() {
            std::env::remove_var("DFD_CUDA_SIMULATOR");
            return;
        }
        let dir = std::env::temp_dir().join(format!("dfd-cuda-simulator-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let so = simulator::build(&root().join("plugins/cuda"), &dir);
        std::env::set_var("DFD_CUDA_SIMULATOR", so);
    });
}

fn cuda_dir() -> PathBuf {
    artifact_dir("libdfd_backend_cuda.so")
}

fn cuda_options(precision: &str) -> ModelOptions {
    simulate();
    ModelOptions {
        backend: "cuda".parse().unwrap(),
        precision: precision.parse().unwrap(),
        plugin_dir: Some(cuda_dir()),
        ..Default::default()
    }
}

/// A mono 16-bit WAV as (rate, samples).
fn pcm(path: &Path) -> (u32, Vec<i16>) {
    let (rate, channels, pcm) = read_wav_i16(path);
    assert_eq!(channels, 1, "{}", path.display());
    (rate, pcm)
}

/// Per-window scores of `inputs`, each its own deferred stream, all scored
/// in one `infer_streams` call after every clip is pushed.
fn scored_together(model: &Model, inputs: &[(u32, Vec<i16>)]) -> (Vec<Vec<WindowScore>>, usize) {
    let mut streams: Vec<Stream> = inputs
        .iter()
        .map(|(rate, pcm)| {
            let mut s = Stream::new(model, *rate, 1).unwrap();
            s.set_deferred(true).unwrap();
            for c in pcm.chunks(*rate as usize / 50) {
                s.push_i16(c).unwrap();
            }
            s
        })
        .collect();
    let mut refs: Vec<&mut Stream> = streams.iter_mut().collect();
    let report = infer_streams(&mut refs).unwrap();
    assert_eq!(report.calls, 1, "{report:?}");
    let windows = streams
        .iter_mut()
        .map(|s| {
            s.flush().unwrap();
            take_windows(s)
        })
        .collect();
    (windows, report.windows)
}

#[test]
fn the_probe_says_which_device() {
    simulate();
    let cuda = dfd::backend::list(Some(&cuda_dir()))
        .into_iter()
        .find(|b| b.name == "cuda")
        .unwrap();
    assert!(cuda.available, "{}", cuda.detail);
    let simulated = cuda.detail.contains("CPU simulator") && cuda.detail.contains("not a GPU");
    assert_eq!(simulated, !real_gpu(), "{}", cuda.detail);
}

/// Both sample clips, each at three offsets: six streams, one launch list
/// with every window, front end on the (simulated) device; the scores
/// equal the tract CPU backend's on libdfd's CPU features.
#[test]
fn default_model_on_the_cuda_plugin_matches_the_cpu_backend() {
    simulate();
    let mut inputs = Vec::new();
    for f in SAMPLES {
        let (rate, clip) = pcm(&root().join(f));
        for k in 0..3 {
            inputs.push((rate, clip[k * rate as usize / 3..].to_vec()));
        }
    }
    for precision in ["fp32", "fp16"] {
        let gpu = Model::load_builtin(&cuda_options(precision)).unwrap();
        assert_eq!(gpu.backend_name(), "cuda");
        assert_eq!(gpu.precision().as_str(), precision);
        assert!(gpu.frontend_on_backend(), "lfb runs on the device");
        assert_eq!(gpu.window_input_len(), gpu.manifest().window);
        let cpu = Model::load_builtin(&ModelOptions {
            precision: precision.parse().unwrap(),
            ..cpu_options()
        })
        .unwrap();
        assert!(!cpu.frontend_on_backend());
        let (got, n) = scored_together(&gpu, &inputs);
        let (want, _) = scored_together(&cpu, &inputs);
        assert!(
            n > 16,
            "{n} windows: more than one stream's batch in one call"
        );
        let mut worst = 0f32;
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.len(), w.len());
            for (a, b) in g.iter().zip(w) {
                assert_eq!((a.start, a.end), (b.start, b.end));
                worst = worst.max((a.p_fake - b.p_fake).abs());
            }
        }
        let device = if real_gpu() { "gpu" } else { "simulator" };
        eprintln!("{precision}: {n} windows, max |p_fake cuda ({device}) - cpu| = {worst:.2e}");
        assert!(worst < 1e-4, "{precision}: {worst}");
        // Windows also agree with a stream scored alone on the CPU backend.
        let alone = score_wav_i16(&cpu, &root().join(SAMPLES[1]));
        let mut s = Stream::new(&gpu, inputs[3].0, 1).unwrap();
        s.push_i16(&inputs[3].1).unwrap();
        s.flush().unwrap();
        assert_eq!(s.score().windows, alone.windows);
        assert!((s.score().p_fake - alone.p_fake).abs() < 1e-4);
    }
}

/// A second front end through the device: tiny-mel's log-mel (40 mels,
/// a 400-sample window zero-padded to n_fft 512), on the speech fixture.
#[test]
fn a_log_mel_model_runs_its_front_end_on_the_device() {
    simulate();
    let path = fixture("models/tiny-mel");
    let gpu = Model::load(&path, &cuda_options("fp32")).unwrap();
    assert!(
        gpu.frontend_on_backend(),
        "log-mel with ln runs on the device"
    );
    let cpu = Model::load(&path, &cpu_options()).unwrap();
    let input = vec![pcm(&fixture("audio/speech_16k.wav"))];
    let (got, n) = scored_together(&gpu, &input);
    let (want, _) = scored_together(&cpu, &input);
    assert!(n >= 4, "{n} windows");
    for (a, b) in got[0].iter().zip(&want[0]) {
        assert_eq!((a.start, a.end), (b.start, b.end));
        assert!((a.p_fake - b.p_fake).abs() < 1e-4, "{a:?} {b:?}");
    }
}
