//! Utterance models (`ModelDesc::time_axis`): one symbolic plan runs items
//! of any length through `run_frames`, and the fixed-length `run` on the
//! same handle; lengths and graphs that cannot follow the audio are refused.

mod common;

/// The backend under test (see `common`).
const ENTRY: dfd_backend_abi::EntryFn = dfd_backend_cpu::dfd_backend_v1;

use std::ffi::c_char;

use common::*;
use dfd_backend_abi::BackendStatus;

/// The LFCC-LCNN with a dynamic frame axis (`[1, frames, 60]`).
fn lcnn() -> Vec<u8> {
    let p = fixtures().join("../arch/nb_lfcc_lcnn_utterance/nb_lfcc_lcnn_utterance.onnx");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn utterance_desc(onnx: Vec<u8>, shape: &[u64], axis: u32, max_frames: u64) -> Desc {
    let mut d = Desc::new(onnx, shape, 2);
    d.time_axis = axis;
    d.max_frames = max_frames;
    d
}

fn run_frames(h: &Handle, input: &[f32], frames: usize) -> Result<Vec<f32>, Failure> {
    let mut out = vec![f32::NAN; h.output_len];
    let mut err = [0 as c_char; 512];
    let f = table().run_frames.expect("the CPU backend has run_frames");
    let rc = unsafe {
        f(
            h.ptr,
            input.as_ptr(),
            frames,
            out.as_mut_ptr(),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if rc == 0 {
        Ok(out)
    } else {
        Err(Failure {
            status: BackendStatus::from_raw(rc),
            message: cstr(&err),
        })
    }
}

/// Deterministic LFCC-like values.
fn features(frames: usize) -> Vec<f32> {
    (0..frames * 60)
        .map(|i| ((i as f32 * 0.37).sin() * 3.0) - 1.0)
        .collect()
}

#[test]
fn one_plan_runs_every_length() {
    let h = utterance_desc(lcnn(), &[201, 60], 0, 3001)
        .create()
        .unwrap();
    // The window length through `run` and through `run_frames` agree.
    let x = features(201);
    let fixed = h.run(&x, 1).unwrap();
    let dynamic = run_frames(&h, &x, 201).unwrap();
    assert!(
        max_abs_diff(&fixed, &dynamic) < 1e-6,
        "{fixed:?} {dynamic:?}"
    );
    // Other lengths give other (valid) probabilities. The random-weight
    // model saturates (p near 1e-30 against 1), so they are compared as
    // log-probabilities.
    let log = |p: &[f32]| -> Vec<f32> { p.iter().map(|v| v.max(f32::MIN_POSITIVE).ln()).collect() };
    for frames in [16, 388, 3001] {
        let out = run_frames(&h, &features(frames), frames).unwrap();
        assert!((out[0] + out[1] - 1.0).abs() < 1e-5, "{frames}: {out:?}");
        assert!(
            max_abs_diff(&log(&out), &log(&fixed)) > 1e-3,
            "{frames}: same as 201: {out:?} {fixed:?}"
        );
    }
    let e = run_frames(&h, &features(3002), 3002).unwrap_err();
    assert_eq!(e.status, BackendStatus::InvalidArgument);
    assert!(e.message.contains("1..=3001"), "{}", e.message);
}

#[test]
fn run_frames_needs_a_time_axis() {
    let h = mel("tiny-mel/model.fp32.onnx");
    let e = run_frames(&h, &[0.0; 4040], 101).unwrap_err();
    assert_eq!(e.status, BackendStatus::InvalidArgument);
    assert!(e.message.contains("without a time_axis"), "{}", e.message);
}

#[test]
fn a_fixed_axis_cannot_be_the_time_axis() {
    let e = utterance_desc(fixture("tiny-mel/model.fp32.onnx"), &[1, 40, 101], 2, 1000)
        .create()
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.status, BackendStatus::ShapeMismatch);
    assert!(e.message.contains("fixed at 101"), "{}", e.message);
    let e = utterance_desc(lcnn(), &[201, 60], 2, 1000)
        .create()
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.status, BackendStatus::InvalidArgument);
    assert!(e.message.contains("time_axis 2"), "{}", e.message);
}
