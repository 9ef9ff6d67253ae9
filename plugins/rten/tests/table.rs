//! The RTen backend through its table, as libdfd drives it: probe, every
//! fixture against onnxruntime's own outputs (expected.json, from Python),
//! batching, threads, concurrent calls and the load errors.

#[path = "../../cpu/tests/common/mod.rs"]
mod common;

/// The backend under test (see `common`).
const ENTRY: dfd_backend_abi::EntryFn = dfd_backend_rten::dfd_backend_v1;

use std::ffi::c_char;

use common::*;
use dfd_backend_abi::{BackendStatus, SCORE_CPU_PORTABLE};

#[test]
fn probe_names_rten_and_scores_as_tract() {
    let mut buf = [0 as c_char; 512];
    let rc = unsafe { (table().probe)(buf.as_mut_ptr(), buf.len()) };
    let msg = cstr(&buf);
    assert_eq!(rc, 0, "{msg}");
    assert!(
        msg.starts_with(&format!("rten {}", dfd_backend_rten::RTEN_VERSION)),
        "{msg}"
    );
    let score = unsafe { (table().score.expect("the SDK fills score"))() };
    assert_eq!(score, SCORE_CPU_PORTABLE);
    let rc = unsafe { (table().precision_order)(buf.as_mut_ptr(), buf.len()) };
    assert_eq!((rc, cstr(&buf).as_str()), (0, "fp32,fp16"));
    assert!(table().set_frontend.is_none() && table().run_audio.is_none());
}

/// fp32 and fp16 match onnxruntime in Python to 1e-4, item by item as in a
/// batch; int8 (QOperator) is refused by operator name.
#[test]
fn every_fixture_matches_onnxruntime_in_python() {
    for model in ["tiny-mel", "tiny-raw", "fixed-batch"] {
        let (_, _, shape, out_len, e) = fixture_case(model);
        for (p, v) in e["variants"].as_object().unwrap() {
            let file = v["file"].as_str().unwrap();
            let created = Desc::new(fixture(file), &shape, out_len).create();
            if p == "int8" {
                let f = created.err().unwrap_or_else(|| panic!("{file} loaded"));
                assert_eq!(f.status, BackendStatus::UnsupportedOp, "{}", f.message);
                assert!(f.message.contains("QLinear"), "{}", f.message);
                continue;
            }
            let h = created.unwrap_or_else(|f| panic!("{file}: {f:?}"));
            check_against_python(&h, model, p);
        }
    }
}

#[test]
fn own_pool_and_concurrent_calls_agree() {
    let (input, batch, shape, out_len, _) = fixture_case("tiny-mel");
    let shared = Desc::new(fixture("tiny-mel/model.fp32.onnx"), &shape, out_len)
        .create()
        .unwrap();
    let want = shared.run(&input, batch).unwrap();
    for threads in [1, 2] {
        let mut desc = Desc::new(fixture("tiny-mel/model.fp32.onnx"), &shape, out_len);
        desc.threads = threads;
        let own = desc.create().unwrap();
        assert!(max_abs_diff(&own.run(&input, batch).unwrap(), &want) <= 1e-5);
    }
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    let got = shared.run(&input, batch).unwrap();
                    assert!(max_abs_diff(&got, &want) <= 1e-6);
                }
            });
        }
    });
}

#[test]
fn broken_models_get_the_right_status() {
    check_invalid_and_mismatched_models();
    // Dropout is left out of this build of rten (its `random` feature).
    for (file, op) in [
        ("unsupported-op.onnx", "WaveletPool"),
        ("unsupported-lppool.onnx", "LpPool"),
        ("dropout.onnx", "Dropout"),
    ] {
        let f = fails(file, MEL, 1);
        assert_eq!(f.status, BackendStatus::UnsupportedOp, "{}", f.message);
        assert!(f.message.contains(op), "{}", f.message);
    }
}
