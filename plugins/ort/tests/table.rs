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
        let (_, _, shape, out_len, e) = fixture_case(model);
        for (p, v) in e["variants"].as_object().unwrap() {
            let file = v["file"].as_str().unwrap();
            let h = Desc::new(fixture(file), &shape, out_len)
                .create()
                .unwrap_or_else(|f| panic!("{file}: {f:?}"));
            check_against_python(&h, model, p);
        }
    }
}

#[test]
fn threads_and_concurrent_calls_agree() {
    if !wheel::use_wheel() {
        return;
    }
    let (input, batch, shape, out_len, _) = fixture_case("tiny-mel");
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
    check_invalid_and_mismatched_models();
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
}
