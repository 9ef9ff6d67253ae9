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

const MEL: &[u64] = &[1, 40, 101];

/// Item input, batch, item shape, output length and expected outputs of
/// fixture `model`.
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
        let (input, batch, shape, out_len, e) = case(model);
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
            let got = h.run(&input, batch).unwrap();
            let want = json_f32s(&v["output"]);
            let d = max_abs_diff(&got, &want);
            eprintln!("{model} {p}: |rten plugin - ort python| = {d}");
            assert!(d <= 1e-4, "{model} {p}: {got:?} vs {want:?}");
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
fn own_pool_and_concurrent_calls_agree() {
    let (input, batch, shape, out_len, _) = case("tiny-mel");
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
        let f = fails(file, MEL, 1);
        assert_eq!(f.status, BackendStatus::UnsupportedOp, "{}", f.message);
        assert!(f.message.contains(op), "{}", f.message);
    }
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
    // A wrong input length and a batch over max_batch, through the SDK.
    let h = Desc::new(fixture("tiny-mel/model.fp32.onnx"), MEL, 1)
        .create()
        .unwrap();
    let f = h.run(&vec![0.0; 9 * 4040], 9).unwrap_err();
    assert_eq!(f.status, BackendStatus::InvalidArgument);
}
