//! Every error case of the C API, called from Rust through the exported
//! `extern "C"` functions exactly as a C caller would (the same cases run
//! from C in tests/c/api_test.c).

mod common;

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use common::c_api::*;
use common::*;
use dfd::ffi::*;

fn load(path: &str, o: &Opts) -> (dfd_status, *mut dfd_model) {
    let p = c(fixture(path).to_str().unwrap());
    let mut m = null_mut();
    let st = unsafe { dfd_model_load(p.as_ptr(), &o.raw, &mut m) };
    (st, m)
}

#[test]
fn model_errors_have_their_own_status_and_message() {
    let o = opts("cpu", "auto", &plugin_dir());
    let cases: [(&str, dfd_status, &str); 6] = [
        ("models/missing.onnx", DFD_ERR_IO, "cannot read"),
        ("models/truncated.onnx", DFD_ERR_MODEL_CORRUPT, "truncated"),
        ("models/not-onnx.onnx", DFD_ERR_MODEL_CORRUPT, "not an ONNX"),
        (
            "models/no-manifest.onnx",
            DFD_ERR_MODEL_KIND,
            "not a libdfd model",
        ),
        (
            "models/wrong-shape.onnx",
            DFD_ERR_MODEL_KIND,
            "but the manifest says",
        ),
        (
            "models/unsupported-op.onnx",
            DFD_ERR_MODEL_UNSUPPORTED,
            "WaveletPool",
        ),
    ];
    for (path, status, text) in cases {
        let (st, m) = load(path, &o);
        assert_eq!(st, status, "{path}: {}", last_error());
        assert!(m.is_null(), "out written on failure");
        assert!(last_error().contains(text), "{path}: {}", last_error());
    }
    let (st, _) = load("models/unsupported-lppool.onnx", &o);
    assert_eq!(st, DFD_ERR_MODEL_UNSUPPORTED, "{}", last_error());
    assert!(last_error().contains("LpPool"), "{}", last_error());
}

#[test]
fn plugin_and_option_errors() {
    let dir = plugin_dir();
    let (st, _) = load("models/tiny-mel", &opts("nosuch", "auto", &dir));
    assert_eq!(st, DFD_ERR_PLUGIN_NOT_FOUND);
    assert!(last_error().contains("libdfd_backend_nosuch.so"));
    let (st, _) = load("models/tiny-mel", &opts("../../etc/x", "auto", &dir));
    assert_eq!(st, DFD_ERR_INVALID_ARG);
    let (st, _) = load("models/tiny-mel", &opts("cpu", "int3", &dir));
    assert_eq!(st, DFD_ERR_INVALID_ARG);
    let (st, _) = load("models/tiny-raw.onnx", &opts("cpu", "fp16", &dir));
    assert_eq!(st, DFD_ERR_PRECISION_UNAVAILABLE);
    // A package lacking the requested variant.
    let tmp = tempfile::tempdir().unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("models/tiny-mel/manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["variants"] = serde_json::json!({"fp32": "model.fp32.onnx"});
    std::fs::write(tmp.path().join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::copy(
        fixture("models/tiny-mel/model.fp32.onnx"),
        tmp.path().join("model.fp32.onnx"),
    )
    .unwrap();
    let p = c(tmp.path().to_str().unwrap());
    let mut m = null_mut();
    let o = opts("cpu", "int8", &dir);
    assert_eq!(
        unsafe { dfd_model_load(p.as_ptr(), &o.raw, &mut m) },
        DFD_ERR_PRECISION_UNAVAILABLE
    );
    assert!(
        last_error().contains("package has fp32"),
        "{}",
        last_error()
    );
    let o = opts("cpu", "auto", &dir);
    assert_eq!(
        unsafe { dfd_model_load(p.as_ptr(), &o.raw, &mut m) },
        DFD_OK
    );
    unsafe { dfd_model_free(m) };
    // Options with a struct_size from an older, smaller struct.
    let mut o = opts("cpu", "auto", &dir);
    o.raw.struct_size = 8;
    assert_eq!(load("models/tiny-mel", &o).0, DFD_ERR_INVALID_ARG);
}

#[test]
fn sidecar_manifest_makes_a_foreign_onnx_loadable() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("foreign.onnx");
    std::fs::copy(fixture("models/no-manifest.onnx"), &onnx).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("models/tiny-mel/manifest.json")).unwrap(),
    )
    .unwrap();
    manifest.as_object_mut().unwrap().remove("variants");
    std::fs::write(tmp.path().join("foreign.json"), manifest.to_string()).unwrap();
    let model = dfd::Model::load(&onnx, &cpu_options()).unwrap();
    assert_eq!(model.manifest().name, "tiny-mel");
    // A broken sidecar is a clear "not a libdfd model".
    std::fs::write(
        tmp.path().join("foreign.json"),
        "{\"format\": \"dfd-model/1\"}",
    )
    .unwrap();
    let e = dfd::Model::load(&onnx, &cpu_options()).err().unwrap();
    assert_eq!(e.status, dfd::Status::ModelKind);
    assert!(e.message.contains("missing field"), "{e}");
}

#[test]
fn null_arguments_everywhere() {
    let mut m = null_mut();
    let mut s = null_mut();
    let mut r: dfd_result = unsafe { std::mem::zeroed() };
    let mut n = 0usize;
    unsafe {
        assert_eq!(dfd_model_load(null(), null(), &mut m), DFD_ERR_NULL_ARG);
        assert_eq!(
            dfd_model_load(c("x").as_ptr(), null(), null_mut()),
            DFD_ERR_NULL_ARG
        );
        assert_eq!(
            dfd_model_load_from_memory(null(), 10, null(), &mut m),
            DFD_ERR_NULL_ARG
        );
        assert_eq!(dfd_model_get_info(null(), null_mut()), DFD_ERR_NULL_ARG);
        assert_eq!(dfd_model_options_init(null_mut()), DFD_ERR_NULL_ARG);
        assert_eq!(dfd_open(null(), 16000, 1, &mut s), DFD_ERR_NULL_ARG);
        assert_eq!(
            dfd_push_samples(null_mut(), [0.0f32].as_ptr(), 1),
            DFD_ERR_NULL_ARG
        );
        assert_eq!(
            dfd_push_samples_i16(null_mut(), [0i16].as_ptr(), 1),
            DFD_ERR_NULL_ARG
        );
        assert_eq!(dfd_score(null_mut(), &mut r), DFD_ERR_NULL_ARG);
        assert_eq!(
            dfd_read_windows(null_mut(), null_mut(), 0, &mut n),
            DFD_ERR_NULL_ARG
        );
        assert_eq!(dfd_flush(null_mut()), DFD_ERR_NULL_ARG);
        assert_eq!(dfd_reset(null_mut()), DFD_ERR_NULL_ARG);
        assert_eq!(
            dfd_list_backends(null(), null_mut(), 0, null_mut()),
            DFD_ERR_NULL_ARG
        );
        dfd_close(null_mut());
        dfd_model_free(null_mut());
    }
    assert!(last_error().contains("NULL"));
}

#[test]
fn streams_reject_bad_input_and_stay_usable() {
    let o = opts("cpu", "fp32", &plugin_dir());
    let (st, m) = load("models/tiny-mel", &o);
    assert_eq!(st, DFD_OK, "{}", last_error());
    let mut s = null_mut();
    unsafe {
        for (rate, ch, want) in [
            (0, 1, DFD_ERR_SAMPLE_RATE),
            (384_001, 1, DFD_ERR_SAMPLE_RATE),
            (8000, 0, DFD_ERR_CHANNELS),
            (8000, 9, DFD_ERR_CHANNELS),
        ] {
            assert_eq!(dfd_open(m, rate, ch, &mut s), want);
            assert!(s.is_null());
        }
        assert_eq!(dfd_open(m, 16000, 1, &mut s), DFD_OK);
        let speech = speech();
        let mut bad = speech[..4000].to_vec();
        bad[7] = f32::NAN;
        assert_eq!(
            dfd_push_samples(s, bad.as_ptr(), bad.len()),
            DFD_ERR_BAD_SAMPLES
        );
        assert_eq!(dfd_push_samples(s, speech.as_ptr(), 0), DFD_ERR_EMPTY_PUSH);
        assert_eq!(dfd_push_samples(s, null(), 5), DFD_ERR_NULL_ARG);
        let mut r: dfd_result = std::mem::zeroed();
        assert_eq!(dfd_score(s, &mut r), DFD_OK);
        assert_eq!((r.seconds, r.windows), (0.0, 0));
        assert_eq!(dfd_push_samples(s, speech.as_ptr(), speech.len()), DFD_OK);
        assert_eq!(dfd_score(s, &mut r), DFD_OK);
        assert_eq!(r.windows, 6);
        let mut w: [dfd_window; 8] = std::mem::zeroed();
        let mut n = 0;
        assert_eq!(dfd_read_windows(s, w.as_mut_ptr(), 8, &mut n), DFD_OK);
        assert_eq!(n, 6);
        assert_eq!(w[5].p_fake, r.last_p_fake);
        dfd_close(s);
        dfd_model_free(m);
    }
}

#[test]
fn status_strings_and_versions() {
    for code in DFD_OK..=DFD_ERR_NOT_BUILT {
        let s = unsafe { CStr::from_ptr(dfd_status_str(code)) }
            .to_str()
            .unwrap();
        assert!(!s.is_empty() && s != "unknown status", "{code}");
    }
    let unknown = unsafe { CStr::from_ptr(dfd_status_str(DFD_ERR_NOT_BUILT + 1)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown status");
    assert_eq!(dfd_abi_version(), DFD_ABI_VERSION);
    let v = unsafe { CStr::from_ptr(dfd_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn log_callback_receives_loader_messages() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn on_log(_level: i32, msg: *const c_char, _user: *mut std::ffi::c_void) {
        let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
        if text.contains("model \"tiny-mel\"") {
            CALLS.fetch_add(1, Ordering::SeqCst);
        }
    }
    unsafe {
        assert_eq!(
            dfd_set_log_callback(Some(on_log), DFD_LOG_INFO, null_mut()),
            DFD_OK
        );
        let (st, m) = load("models/tiny-mel", &opts("cpu", "fp32", &plugin_dir()));
        assert_eq!(st, DFD_OK);
        dfd_model_free(m);
        assert_eq!(dfd_set_log_callback(None, 0, null_mut()), DFD_OK);
    }
    assert!(CALLS.load(Ordering::SeqCst) >= 1);
}
