//! Broken fixtures, contract violations and NULL arguments: each gives the
//! right status and a message that names the problem, and nothing is written
//! to out-parameters on failure.

mod common;

/// The backend under test (see `common`).
const ENTRY: dfd_backend_abi::EntryFn = dfd_backend_cpu::dfd_backend_v1;

use common::*;
use dfd_backend_abi::{BackendStatus, ModelDesc};
use std::ffi::{c_char, c_void};

#[test]
fn truncated_and_garbage_are_invalid_models() {
    for file in ["truncated.onnx", "not-onnx.onnx"] {
        let f = fails(file, MEL, 1);
        assert_eq!(
            f.status,
            BackendStatus::InvalidModel,
            "{file}: {}",
            f.message
        );
        assert!(f.message.contains("ONNX"), "{file}: {}", f.message);
    }
    // A single zero byte decodes as an empty protobuf: no graph.
    let f = Desc::new(vec![0u8; 1], MEL, 1).create().err().unwrap();
    assert_eq!(f.status, BackendStatus::InvalidModel, "{}", f.message);
}

#[test]
fn made_up_op_is_named() {
    let f = fails("unsupported-op.onnx", MEL, 1);
    assert_eq!(f.status, BackendStatus::UnsupportedOp);
    for word in [
        "WaveletPool",
        "com.example",
        "\"wavelet_pool\"",
        "tract 0.23.9",
    ] {
        assert!(f.message.contains(word), "missing {word}: {}", f.message);
    }
}

#[test]
fn real_onnx_op_tract_lacks_is_named() {
    let f = fails("unsupported-lppool.onnx", MEL, 1);
    assert_eq!(f.status, BackendStatus::UnsupportedOp);
    for word in ["LpPool", "\"lp_pool\""] {
        assert!(f.message.contains(word), "missing {word}: {}", f.message);
    }
}

#[test]
fn manifest_shape_disagreeing_with_graph() {
    let f = fails("wrong-shape.onnx", &[1, 40, 100], 1);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(
        f.message
            .contains("model input is [1,40,101] but the manifest says [1,40,100]"),
        "{}",
        f.message
    );
    // Wrong rank.
    let f = fails("tiny-mel/model.fp32.onnx", &[40, 101], 1);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(f.message.contains("[40,101]"), "{}", f.message);
    // Fixed-batch graphs are checked the same way.
    let f = fails("fixed-batch.onnx", &[1, 40, 99], 1);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(
        f.message.contains("[1,40,101]") && f.message.contains("[1,40,99]"),
        "{}",
        f.message
    );
}

#[test]
fn output_len_disagreeing_with_graph() {
    let f = fails("tiny-mel/model.fp32.onnx", MEL, 2);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(
        f.message.contains("model output is") && f.message.contains("says 2"),
        "{}",
        f.message
    );
    let f = fails("tiny-raw.onnx", &[16000], 1);
    assert_eq!(f.status, BackendStatus::ShapeMismatch);
    assert!(f.message.contains("2 value(s) per item"), "{}", f.message);
}

fn create_status(desc: *const ModelDesc) -> (BackendStatus, String) {
    let mut sentinel = 0u8;
    let sentinel: *mut c_void = (&mut sentinel as *mut u8).cast();
    let mut out = sentinel; // must stay untouched
    let mut err = [0 as c_char; 256];
    let rc = unsafe { (table().create)(desc, &mut out, err.as_mut_ptr(), err.len()) };
    assert_eq!(out, sentinel, "out written on failure");
    (BackendStatus::from_raw(rc), cstr(&err))
}

#[test]
fn create_rejects_null_and_absurd_arguments() {
    let d = Desc::new(fixture("tiny-mel/model.fp32.onnx"), MEL, 1);
    let ok = d.raw();
    let arg = BackendStatus::InvalidArgument;

    let (s, m) = create_status(std::ptr::null());
    assert_eq!(s, arg);
    assert!(m.contains("desc is NULL"), "{m}");

    let mut out: *mut c_void = std::ptr::null_mut();
    let mut err = [0 as c_char; 256];
    let rc = unsafe { (table().create)(&ok, std::ptr::null_mut(), err.as_mut_ptr(), err.len()) };
    assert_eq!(BackendStatus::from_raw(rc), arg);
    assert!(cstr(&err).contains("out is NULL"));
    // NULL error buffer: status only, no crash.
    let rc = unsafe { (table().create)(std::ptr::null(), &mut out, std::ptr::null_mut(), 100) };
    assert_eq!(BackendStatus::from_raw(rc), arg);

    let cases: Vec<(ModelDesc, &str)> = vec![
        (
            ModelDesc {
                struct_size: 8,
                ..ok
            },
            "struct_size",
        ),
        (
            ModelDesc {
                onnx: std::ptr::null(),
                ..ok
            },
            "ONNX bytes",
        ),
        (ModelDesc { onnx_len: 0, ..ok }, "ONNX bytes"),
        (
            ModelDesc {
                input_shape: std::ptr::null(),
                ..ok
            },
            "input_shape is NULL",
        ),
        (
            ModelDesc {
                input_rank: 0,
                ..ok
            },
            "input_rank",
        ),
        (
            ModelDesc {
                input_rank: 1000,
                ..ok
            },
            "input_rank",
        ),
        (
            ModelDesc {
                output_len: 0,
                ..ok
            },
            "output_len",
        ),
        (ModelDesc { max_batch: 0, ..ok }, "max_batch"),
    ];
    for (desc, word) in cases {
        let (s, m) = create_status(&desc);
        assert_eq!(s, arg, "{word}: {m}");
        assert!(m.contains(word), "{word}: {m}");
    }
    let zero = [1u64, 0, 101];
    let (s, m) = create_status(&ModelDesc {
        input_shape: zero.as_ptr(),
        ..ok
    });
    assert_eq!(s, arg);
    assert!(m.contains("dimension"), "{m}");
    let huge = [u64::MAX, 2, 2];
    let (s, _) = create_status(&ModelDesc {
        input_shape: huge.as_ptr(),
        ..ok
    });
    assert_eq!(s, arg);

    // A larger struct (a newer host) is fine.
    #[repr(C)]
    struct Newer {
        d: ModelDesc,
        extra: u64,
    }
    let newer = Newer {
        d: ModelDesc {
            struct_size: std::mem::size_of::<Newer>() as u32,
            ..ok
        },
        extra: 7,
    };
    let h = create_raw(&newer.d).unwrap();
    unsafe { (table().destroy)(h) };
}

#[test]
fn run_rejects_null_and_wrong_batch() {
    let h = mel("tiny-mel/model.fp32.onnx");
    let input = vec![0f32; 8 * 40 * 101];
    let mut out = vec![f32::NAN; 8];
    let mut err = [0 as c_char; 256];
    let run = table().run;
    let mut check =
        |handle: *mut c_void, inp: *const f32, batch: usize, o: *mut f32, word: &str| {
            let rc = unsafe { run(handle, inp, batch, o, err.as_mut_ptr(), err.len()) };
            assert_eq!(
                BackendStatus::from_raw(rc),
                BackendStatus::InvalidArgument,
                "{word}"
            );
            assert!(cstr(&err).contains(word), "{word}: {}", cstr(&err));
        };
    check(
        std::ptr::null_mut(),
        input.as_ptr(),
        1,
        out.as_mut_ptr(),
        "handle is NULL",
    );
    check(
        h.ptr,
        std::ptr::null(),
        1,
        out.as_mut_ptr(),
        "input is NULL",
    );
    check(
        h.ptr,
        input.as_ptr(),
        1,
        std::ptr::null_mut(),
        "output is NULL",
    );
    check(h.ptr, input.as_ptr(), 0, out.as_mut_ptr(), "batch is 0");
    check(h.ptr, input.as_ptr(), 9, out.as_mut_ptr(), "batch is 9");
    // Not a handle of this backend.
    let mut fake = [0u64; 64];
    check(
        fake.as_mut_ptr().cast(),
        input.as_ptr(),
        1,
        out.as_mut_ptr(),
        "not a live",
    );
    assert!(out.iter().all(|v| v.is_nan()), "output written on failure");
    // And the handle still works afterwards.
    assert_eq!(h.run(&input[..40 * 101], 1).unwrap().len(), 1);
}

#[test]
fn destroy_null_is_a_noop() {
    unsafe { (table().destroy)(std::ptr::null_mut()) };
}

#[test]
fn error_messages_truncate_safely() {
    let d = Desc::new(fixture("unsupported-op.onnx"), MEL, 1);
    let mut out: *mut c_void = std::ptr::null_mut();
    let mut err = [1 as c_char; 16];
    let rc = unsafe { (table().create)(&d.raw(), &mut out, err.as_mut_ptr(), err.len()) };
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::UnsupportedOp);
    assert_eq!(cstr(&err).len(), 15);
    // err_len 0: nothing written at all.
    let mut one = [1 as c_char; 1];
    let rc = unsafe { (table().create)(&d.raw(), &mut out, one.as_mut_ptr(), 0) };
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::UnsupportedOp);
    assert_eq!(one[0], 1);
}

#[test]
fn inconsistent_graph_names_the_node() {
    // Every op is known to tract, but conv2's weights do not fit conv1's output.
    let f = fails("inconsistent.onnx", MEL, 1);
    assert_eq!(f.status, BackendStatus::InvalidModel);
    for word in ["Conv", "\"conv2\"", "inconsistent"] {
        assert!(f.message.contains(word), "missing {word}: {}", f.message);
    }
}
