//! The onnxruntime backend through its table, as libdfd drives it, on the
//! wheel's `libonnxruntime.so`: probe, every fixture against onnxruntime's
//! own outputs (expected.json, from Python), batching, threads, concurrent
//! calls and the load errors.

#[path = "../../cpu/tests/common/mod.rs"]
mod common;
mod wheel;

/// The backend under test (see `common`).
const ENTRY: dfd_backend_abi::EntryFn = dfd_backend_ort::dfd_backend_v1;

use std::ffi::c_char;

use common::*;
use dfd_backend_abi::{BackendStatus, SCORE_CPU_TUNED};

const MEL: &[u64] = &[1, 40, 101];

/// Item input, batch and expected outputs of fixture `model`.
fn case(model: &str) -> (Vec<f32>, usize, Vec<u64>, usize, serde_json::Value) {
    let e = expected()["models"][model].clone();
    let input = read_f32(e["input"].as_str().unwrap());
    let shape: Vec<u64> = e["item_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    let batch = e["batch"].as_u64().unwrap() as usize;
    let out = e["output_len"].as_u64().unwrap() as usize;
    (input, batch, shape, out, e)
}

#[test]
fn probe_names_the_library_and_scores_above_tract() {
    if !wheel::use_wheel() {
        return;
    }
    let mut buf = [0 as c_char; 512];
    let rc = unsafe { (table().probe)(buf.as_mut_ptr(), buf.len()) };
    let msg = cstr(&buf);
    assert_eq!(rc, 0, "{msg}");
    assert!(
        msg.starts_with("onnxruntime 1.") && msg.contains("ORT_DYLIB_PATH"),
        "{msg}"
    );
    let score = unsafe { (table().score.expect("the SDK fills score"))() };
    assert_eq!(score, SCORE_CPU_TUNED);
    let rc = unsafe { (table().precision_order)(buf.as_mut_ptr(), buf.len()) };
    assert_eq!((rc, cstr(&buf).as_str()), (0, "fp32,fp16,int8"));
    assert!(table().set_frontend.is_none() && table().run_audio.is_none());
}

#[test]
fn every_fixture_matches_onnxruntime_in_python() {
    if !wheel::use_wheel() {
        return;
    }
    for model in ["tiny-mel", "tiny-raw", "fixed-batch"] {
        let (input, batch, shape, out_len, e) = case(model);
        for (p, v) in e["variants"].as_object().unwrap() {
            let file = v["file"].as_str().unwrap();
            let h = Desc::new(fixture(file), &shape, out_len)
                .create()
                .unwrap_or_else(|f| panic!("{file}: {f:?}"));
            let got = h.run(&input, batch).unwrap();
            let want = json_f32s(&v["output"]);
            let d = max_abs_diff(&got, &want);
            eprintln!("{model} {p}: |ort plugin - ort python| = {d}");
            assert!(d <= 1e-4, "{model} {p}: {got:?} vs {want:?}");
            // Item by item equals the batch (fixed-batch pads the last chunk).
            let item = input.len() / batch;
            for (i, x) in input.chunks(item).enumerate() {
                let one = h.run(x, 1).unwrap();
                let d = max_abs_diff(&one, &got[i * out_len..(i + 1) * out_len]);
                assert!(d <= 1e-5, "{model} {p} item {i}: {d}");
            }
        }
    }
}

#[test]
fn threads_and_concurrent_calls_agree() {
    if !wheel::use_wheel() {
        return;
    }
    let (input, batch, shape, out_len, _) = case("tiny-mel");
    let one = Desc::new(fixture("tiny-mel/model.fp32.onnx"), &shape, out_len)
        .create()
        .unwrap();
    let want = one.run(&input, batch).unwrap();
    let mut desc = Desc::new(fixture("tiny-mel/model.fp32.onnx"), &shape, out_len);
    desc.threads = 2;
    let two = desc.create().unwrap();
    assert!(max_abs_diff(&two.run(&input, batch).unwrap(), &want) <= 1e-5);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    let got = one.run(&input, batch).unwrap();
                    assert!(max_abs_diff(&got, &want) <= 1e-6);
                }
            });
        }
    });
}

#[test]
fn broken_models_get_the_right_status() {
    if !wheel::use_wheel() {
        return;
    }
    let fails = |file: &str, shape: &[u64], out: usize| match Desc::new(fixture(file), shape, out)
        .create()
    {
        Ok(_) => panic!("{file} loaded"),
        Err(f) => {
            eprintln!("{file}: {:?}: {}", f.status, f.message);
            f
        }
    };
    for file in ["truncated.onnx", "not-onnx.onnx"] {
        assert_eq!(fails(file, MEL, 1).status, BackendStatus::InvalidModel);
    }
    for (file, op) in [
        ("unsupported-op.onnx", "WaveletPool"),
        ("unsupported-lppool.onnx", "LpPool"),
    ] {
        match Desc::new(fixture(file), MEL, 1).create() {
            // onnxruntime has LpPool: then it must run.
            Ok(h) => assert!(h.run(&vec![0.5; 4040], 1).is_ok(), "{file}"),
            Err(f) => {
                assert_eq!(f.status, BackendStatus::UnsupportedOp, "{}", f.message);
                assert!(f.message.contains(op), "{}", f.message);
            }
        }
    }
    assert_eq!(
        fails("unsupported-op.onnx", MEL, 1).status,
        BackendStatus::UnsupportedOp
    );
    let f = fails("wrong-shape.onnx", &[1, 40, 100], 1);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(
        f.message
            .contains("model input is [1,40,101] but the manifest says [1,40,100]"),
        "{}",
        f.message
    );
    let f = fails("tiny-mel/model.fp32.onnx", MEL, 2);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(f.message.contains("says 2"), "{}", f.message);
    // Over max_batch, through the SDK's checks.
    let h = Desc::new(fixture("tiny-mel/model.fp32.onnx"), MEL, 1)
        .create()
        .unwrap();
    let input = vec![0.0; 9 * 4040];
    let f = h.run(&input, 9).unwrap_err();
    assert_eq!(f.status, BackendStatus::InvalidArgument);
}
