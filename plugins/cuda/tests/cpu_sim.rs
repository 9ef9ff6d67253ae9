//! CPU verification of the CUDA path, with no GPU: the kernel files are
//! compiled as C++ with g++ and `tests/shim/cuda_shim.h` (every block and
//! thread of a launch run in turn), and the plugin's own executor and front
//! end schedule their launches on that simulated device, exactly the launch
//! lists (kernels, grids, argument marshalling) the CUDA device gets.
//! Compared on real audio (samples/*.wav, linearly resampled to 16 kHz,
//! 2 s windows, one batch) with libdfd's CPU front end and the tract CPU
//! backend on the default model, fp32 and fp16.
//!
//! What this does not verify: the cudarc driver calls in `gpu.rs`
//! (allocation, copies, cuLaunchKernel), PTX codegen and GPU float
//! behaviour (FMA contraction, logf/log10f ulps), concurrency between
//! threads of a real launch (the kernels have none by construction).

use std::path::{Path, PathBuf};

use dfd_backend_abi::{FrontendTables, LogKind};
use dfd_backend_cuda::exec::{checked_graph, f32_bytes, Device, Model};
use dfd_backend_cuda::frontend::GpuFrontend;
use dfd_backend_cuda::sim::CpuSim;

#[path = "shim/simulator.rs"]
mod simulator;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The simulated device (`dfd_backend_cuda::sim`) on a fresh g++ build.
fn sim(dir: &Path) -> CpuSim {
    CpuSim::open(&simulator::build(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        dir,
    ))
    .unwrap()
}

/// 2-s windows (hop 1 s) of both sample clips at 16 kHz.
fn windows() -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    for f in [
        "samples/bonafide_fr_june.wav",
        "samples/synthetic_piper_joe.wav",
    ] {
        let mut r = hound::WavReader::open(root().join(f)).unwrap();
        let spec = r.spec();
        assert_eq!(spec.channels, 1);
        let x: Vec<f32> = r
            .samples::<i16>()
            .map(|s| s.unwrap() as f32 / 32768.0)
            .collect();
        let ratio = spec.sample_rate as f64 / 16000.0;
        let n = (x.len() as f64 / ratio) as usize;
        let y: Vec<f32> = (0..n)
            .map(|i| {
                let p = i as f64 * ratio;
                let j = p as usize;
                let a = (p - j as f64) as f32;
                x[j] * (1.0 - a) + x.get(j + 1).copied().unwrap_or(0.0) * a
            })
            .collect();
        let mut s = 0;
        while s + 32000 <= y.len() {
            out.push(y[s..s + 32000].to_vec());
            s += 16000;
        }
    }
    out
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("models/dfd-lfb-cnn/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The lfb tables for the GPU front end, built here independently from the
/// manifest (librosa/scipy definitions: periodic Hann, the ASVspoof linear
/// triangles), so a mismatch with libdfd's front end shows up below.
fn lfb_tables() -> FrontendTables {
    let m = manifest();
    let fe = &m["frontend"];
    assert_eq!(fe["type"], "lfb");
    let n_fft = fe["n_fft"].as_u64().unwrap() as usize;
    assert_eq!(fe["win_length"].as_u64().unwrap() as usize, n_fft);
    assert_eq!(fe["pad_mode"], "constant");
    assert_eq!(fe["log"], "ln");
    let sr = m["sample_rate"].as_f64().unwrap();
    let rows = fe["n_filters"].as_u64().unwrap() as usize;
    let (fmin, fmax) = (fe["fmin"].as_f64().unwrap(), fe["fmax"].as_f64().unwrap());
    let window: Vec<f64> = (0..n_fft)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / n_fft as f64).cos())
        .collect();
    let step = (fmax - fmin) / (rows + 1) as f64;
    let mut edges: Vec<f64> = (0..rows + 2).map(|i| i as f64 * step + fmin).collect();
    edges[rows + 1] = fmax;
    let bins = n_fft / 2 + 1;
    let mut fb = Vec::with_capacity(rows * bins);
    for e in edges.windows(3) {
        for k in 0..bins {
            let f = k as f64 * (sr / n_fft as f64);
            let w = (-(e[0] - f) / (e[1] - e[0]))
                .min((e[2] - f) / (e[2] - e[1]))
                .max(0.0);
            fb.push(w as f32);
        }
    }
    let mean = fe["mean"].as_f64().unwrap() as f32;
    let std = fe["std"].as_f64().unwrap() as f32;
    FrontendTables {
        window_samples: m["window"].as_u64().unwrap() as usize,
        n_fft,
        hop: fe["hop_length"].as_u64().unwrap() as usize,
        pad: n_fft / 2,
        reflect: false,
        power: fe["power"].as_f64().unwrap() as u32,
        window,
        rows,
        filterbank: Some(fb),
        log_kind: LogKind::Ln,
        log_offset: fe["log_offset"].as_f64().unwrap() as f32,
        log_floor: None,
        mean: vec![mean; rows],
        std: vec![std; rows],
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn cpu_features(w: &[Vec<f32>]) -> Vec<f32> {
    let text = std::fs::read_to_string(root().join("models/dfd-lfb-cnn/manifest.json")).unwrap();
    let m = dfd::Manifest::from_json(&text, "manifest.json").unwrap();
    let mut fe = dfd::frontend::Frontend::new(&m.frontend, m.sample_rate, m.window).unwrap();
    let mut out = vec![0.0; w.len() * fe.output_len()];
    for (x, o) in w.iter().zip(out.chunks_exact_mut(fe.output_len())) {
        fe.compute(x, o);
    }
    out
}

/// Directory of the built CPU plugin (tract), newest of target/<profile>
/// and its deps/ (as the workspace tests pick it), or `DFD_CPU_PLUGIN_DIR`.
fn cpu_plugin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DFD_CPU_PLUGIN_DIR") {
        return d.into();
    }
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = "libdfd_backend_cpu.so";
    [deps.to_path_buf(), deps.parent().unwrap().to_path_buf()]
        .into_iter()
        .filter_map(|d| Some((std::fs::metadata(d.join(name)).ok()?.modified().ok()?, d)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, d)| d)
        .expect("libdfd_backend_cpu.so not built: run `cargo build --workspace` first")
}

/// The tract CPU backend, loaded through libdfd as a plugin.
fn tract_logits(precision: &str, feats: &[f32], batch: usize) -> Vec<f32> {
    let onnx =
        std::fs::read(root().join(format!("models/dfd-lfb-cnn/model.{precision}.onnx"))).unwrap();
    let dir = cpu_plugin_dir();
    let b = dfd::backend::resolve(&dfd::BackendChoice::Named("cpu".into()), Some(&dir)).unwrap();
    let m = b
        .create(&onnx, &[1, 60, 201], 1, 1, batch as u32, None)
        .unwrap();
    let mut out = vec![0f32; batch];
    m.run(feats, batch, &mut out).unwrap();
    out
}

#[test]
fn kernels_on_the_cpu_match_libdfd_and_tract() {
    let tmp = tempfile_dir();
    let mut dev = sim(&tmp);
    let w = windows();
    let batch = w.len();
    assert!(batch >= 8, "{batch} windows");
    let audio: Vec<f32> = w.concat();

    // Front end: simulated kernels vs libdfd's CPU front end.
    let cpu_feats = cpu_features(&w);
    let fe = GpuFrontend::load(&mut dev, lfb_tables(), batch).unwrap();
    assert_eq!(fe.output_len() * batch, cpu_feats.len());
    dev.upload(fe.audio_buf(), &f32_bytes(&audio)).unwrap();
    let feat_buf = dev.alloc(cpu_feats.len() * 4).unwrap();
    for l in fe.launches(batch, feat_buf).unwrap() {
        dev.launch(l.kernel, l.n, &l.args).unwrap();
    }
    let mut raw = vec![0u8; cpu_feats.len() * 4];
    dev.download(feat_buf, &mut raw).unwrap();
    let sim_feats: Vec<f32> = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let d_fe = max_abs_diff(&sim_feats, &cpu_feats);
    eprintln!(
        "front end: {batch} windows x {} values, max |kernel - libdfd CPU| = {d_fe:.3e}",
        fe.output_len()
    );
    assert!(d_fe < 1e-5, "front end differs by {d_fe}");

    for precision in ["fp32", "fp16"] {
        let onnx = std::fs::read(root().join(format!("models/dfd-lfb-cnn/model.{precision}.onnx")))
            .unwrap();
        let model = Model::load(
            &mut dev,
            checked_graph(&onnx).unwrap(),
            &[1, 60, 201],
            1,
            batch,
        )
        .unwrap();
        let want = tract_logits(precision, &cpu_feats, batch);
        // fp16 runs on f16 weight storage (the widening kernels), fp32 not.
        let (launches, _) = model.launches(batch).unwrap();
        let f16_kernels = launches
            .iter()
            .filter(|l| l.kernel.ends_with("_f16w") || l.kernel == "binary_f16b")
            .count();
        assert_eq!(
            f16_kernels > 0,
            precision == "fp16",
            "{precision}: {f16_kernels} f16-weight launches"
        );
        // Model alone, on libdfd's features.
        let got = model.run(&mut dev, &cpu_feats, batch).unwrap();
        let d_model = max_abs_diff(&got, &want);
        // Odd batch sizes reuse the max-batch buffers.
        let got3 = model.run(&mut dev, &cpu_feats[..3 * 60 * 201], 3).unwrap();
        assert_eq!(&got3[..], &got[..3], "batch 3 vs batch {batch}");
        // End to end on the device: kernel front end straight into the model.
        for l in fe.launches(batch, model.input_buf()).unwrap() {
            dev.launch(l.kernel, l.n, &l.args).unwrap();
        }
        let e2e = model.run_on_device(&mut dev, batch).unwrap();
        let d_e2e = max_abs_diff(&e2e, &want);
        let spread = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!(
            "{precision}: logits (|max| {spread:.2}) max |kernel - tract| = {d_model:.3e} on libdfd features, {d_e2e:.3e} end to end"
        );
        assert!(
            d_model < 1e-4 && d_e2e < 1e-4,
            "{precision}: {d_model} / {d_e2e}"
        );
    }
    eprintln!("{} simulated launches", dev.launches);

    // Device memory of the default model at the batch libdfd asks for.
    for precision in ["fp32", "fp16"] {
        let onnx = std::fs::read(root().join(format!("models/dfd-lfb-cnn/model.{precision}.onnx")))
            .unwrap();
        let mut fresh = sim(&tmp);
        Model::load(
            &mut fresh,
            checked_graph(&onnx).unwrap(),
            &[1, 60, 201],
            1,
            256,
        )
        .unwrap();
        let model_bytes = fresh.allocated;
        GpuFrontend::load(&mut fresh, lfb_tables(), 256).unwrap();
        eprintln!(
            "{precision}, max_batch 256: network {:.1} MB, front end {:.1} MB of device memory",
            model_bytes as f64 / 1e6,
            (fresh.allocated - model_bytes) as f64 / 1e6
        );
    }
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dfd-cuda-sim-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn unsupported_graph_names_the_op() {
    let onnx = std::fs::read(root().join("models/dfd-lfb-cnn/model.int8.onnx")).unwrap();
    // Refused by the check, before any device is opened.
    let e = match checked_graph(&onnx) {
        Err(e) => e,
        Ok(_) => panic!("int8 graph loaded"),
    };
    assert_eq!(e.status, dfd_backend_abi::BackendStatus::UnsupportedOp);
    assert!(
        e.message.contains("is not supported by the CUDA backend"),
        "{}",
        e.message
    );
}

/// A model whose time axis follows the audio (manifest `utterance`) is
/// refused by `create` with a reason, before any device is touched, and the
/// table offers no `run_frames`.
#[test]
fn utterance_models_are_refused_with_a_reason() {
    let t = dfd_backend_cuda::table();
    assert!(t.run_frames.is_none());
    let onnx = std::fs::read(root().join("models/dfd-lfb-cnn/model.fp32.onnx")).unwrap();
    let shape = [1u64, 60, 201];
    let desc = dfd_backend_abi::ModelDesc {
        struct_size: std::mem::size_of::<dfd_backend_abi::ModelDesc>() as u32,
        threads: 0,
        onnx: onnx.as_ptr(),
        onnx_len: onnx.len(),
        input_shape: shape.as_ptr(),
        input_rank: shape.len(),
        output_len: 1,
        max_batch: 1,
        time_axis: 2,
        max_frames: 3001,
    };
    let mut handle = std::ptr::null_mut();
    let mut err = [0 as std::ffi::c_char; 512];
    let rc = unsafe { (t.create)(&desc, &mut handle, err.as_mut_ptr(), err.len()) };
    let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
    assert_eq!(
        dfd_backend_abi::BackendStatus::from_raw(rc),
        dfd_backend_abi::BackendStatus::UnsupportedOp,
        "{msg}"
    );
    assert!(handle.is_null());
    assert!(
        msg.contains("input axis 2 follows the audio") && msg.contains("cpu backend"),
        "{msg}"
    );
}

/// The host's tables (libdfd's `offload_tables`, in the very `FrontendDesc`
/// that `set_frontend` hands over) read back by the plugin equal the
/// independent reference definitions above (`lfb_tables`, which the kernel
/// test runs against libdfd's CPU features).
#[test]
fn host_frontend_desc_round_trips() {
    let text = std::fs::read_to_string(root().join("models/dfd-lfb-cnn/manifest.json")).unwrap();
    let m = dfd::Manifest::from_json(&text, "manifest.json").unwrap();
    let fe = dfd::frontend::Frontend::new(&m.frontend, m.sample_rate, m.window).unwrap();
    let t = fe.offload_tables().unwrap();
    let desc = t.desc();
    let got = unsafe { FrontendTables::from_desc(&desc) }.unwrap();
    let want = lfb_tables();
    assert_eq!(
        (
            got.window_samples,
            got.n_fft,
            got.hop,
            got.pad,
            got.reflect,
            got.power
        ),
        (
            want.window_samples,
            want.n_fft,
            want.hop,
            want.pad,
            want.reflect,
            want.power
        )
    );
    assert_eq!(
        (got.log_kind, got.log_floor),
        (want.log_kind, want.log_floor)
    );
    let dw = got
        .window
        .iter()
        .zip(&want.window)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(dw < 1e-12, "window differs by {dw}");
    let (gfb, wfb) = (
        got.filterbank.as_ref().unwrap(),
        want.filterbank.as_ref().unwrap(),
    );
    assert_eq!(got.rows, want.rows);
    let dfb = max_abs_diff(gfb, wfb);
    assert!(dfb < 1e-6, "filterbank differs by {dfb}");
    assert_eq!((&got.mean, &got.std), (&want.mean, &want.std));
}
