//! A whole backend written with the SDK (a model that sums each item, or
//! panics on request), driven through its exported table as a host would:
//! the SDK's checks, panic guard, handle tags and output rule hold without
//! any boundary code in the backend.

use std::ffi::{c_char, c_void, CStr};

use dfd_backend_abi::sdk::{Backend, Error, Model, ModelSpec, Result};
use dfd_backend_abi::{BackendStatus, BackendTable, ModelDesc, ABI_VERSION};

struct Sum;

struct SumModel {
    item: usize,
}

impl Backend for Sum {
    type Model = SumModel;
    const NAME: &'static CStr = c"sum";
    const VERSION: &'static CStr = dfd_backend_abi::plugin_version!();
    fn probe() -> Result<String> {
        Ok("sums its input".into())
    }
    fn score() -> u32 {
        7
    }
    fn precision_order() -> String {
        "fp32".into()
    }
    fn create(spec: &ModelSpec) -> Result<SumModel> {
        if spec.onnx == b"refuse" {
            return Err(Error::unsupported("refused on request"));
        }
        Ok(SumModel {
            item: spec.item_len(),
        })
    }
}

impl Model for SumModel {
    fn run(&self, input: &[f32], _batch: usize) -> Result<Vec<f32>> {
        if input[0].is_nan() {
            panic!("NaN on request");
        }
        if input[0] < 0.0 {
            // Too few values: the SDK must refuse to copy them out.
            return Ok(vec![]);
        }
        Ok(input.chunks(self.item).map(|c| c.iter().sum()).collect())
    }
}

dfd_backend_abi::export_backend!(Sum);

fn t() -> &'static BackendTable {
    unsafe { &*dfd_backend_v1() }
}

fn msg(buf: &[c_char]) -> String {
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn create(onnx: &[u8]) -> (i32, *mut c_void, String) {
    create_with(onnx, 4, dfd_backend_abi::NO_TIME_AXIS, 0)
}

/// `create` on an item of shape [2, 3] with one output value.
fn create_with(
    onnx: &[u8],
    max_batch: u32,
    time_axis: u32,
    max_frames: u64,
) -> (i32, *mut c_void, String) {
    let shape = [2u64, 3];
    let desc = ModelDesc {
        struct_size: std::mem::size_of::<ModelDesc>() as u32,
        threads: 0,
        onnx: onnx.as_ptr(),
        onnx_len: onnx.len(),
        input_shape: shape.as_ptr(),
        input_rank: 2,
        output_len: 1,
        max_batch,
        time_axis,
        max_frames,
    };
    let mut out = std::ptr::null_mut();
    let mut err = [0 as c_char; 512];
    let rc = unsafe { (t().create)(&desc, &mut out, err.as_mut_ptr(), err.len()) };
    (rc, out, msg(&err))
}

fn run(h: *mut c_void, input: &[f32], batch: usize) -> (i32, Vec<f32>, String) {
    let mut out = vec![-1.0; batch];
    let mut err = [0 as c_char; 256];
    let rc = unsafe {
        (t().run)(
            h,
            input.as_ptr(),
            batch,
            out.as_mut_ptr(),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    (rc, out, msg(&err))
}

#[test]
fn the_table_describes_the_backend() {
    let t = t();
    assert_eq!(t.abi_version, ABI_VERSION);
    assert_eq!(t.table_size as usize, std::mem::size_of::<BackendTable>());
    assert_eq!(unsafe { CStr::from_ptr(t.name) }, c"sum");
    assert!(t.set_frontend.is_none() && t.run_audio.is_none());
    assert_eq!(unsafe { (t.score.unwrap())() }, 7);
    let mut buf = [0 as c_char; 64];
    assert_eq!(unsafe { (t.probe)(buf.as_mut_ptr(), buf.len()) }, 0);
    assert_eq!(msg(&buf), "sums its input");
    let mut small = [0 as c_char; 4];
    let rc = unsafe { (t.precision_order)(small.as_mut_ptr(), small.len()) };
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::InvalidArgument);
}

#[test]
fn runs_are_checked_and_outputs_written_only_on_success() {
    let (rc, h, _) = create(b"model");
    assert_eq!(rc, 0);
    let input: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let (rc, out, _) = run(h, &input, 2);
    assert_eq!((rc, out), (0, vec![15.0, 51.0]));
    // Batch beyond max_batch, NULL handle, a panic, a short result.
    let (rc, out, m) = run(h, &[0.0; 30], 5);
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::InvalidArgument);
    assert!(
        m.contains("batch is 5") && out.iter().all(|&v| v == -1.0),
        "{m}"
    );
    let (rc, _, m) = run(std::ptr::null_mut(), &input, 1);
    assert_eq!(
        BackendStatus::from_raw(rc),
        BackendStatus::InvalidArgument,
        "{m}"
    );
    let mut nan = input.clone();
    nan[0] = f32::NAN;
    let (rc, out, m) = run(h, &nan, 1);
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::Internal);
    assert!(m.contains("NaN on request") && out == [-1.0], "{m}");
    let (rc, out, m) = run(h, &[-1.0; 6], 1);
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::Internal);
    assert!(m.contains("made 0 values") && out == [-1.0], "{m}");
    // A handle of another backend is refused by its tag.
    let mut foreign = [0u64; 8];
    let (rc, _, m) = run(foreign.as_mut_ptr().cast(), &input, 1);
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::InvalidArgument);
    assert!(m.contains("not a live sum backend handle"), "{m}");
    unsafe { (t().destroy)(h) };
    unsafe { (t().destroy)(std::ptr::null_mut()) };
}

#[test]
fn create_errors_keep_out_untouched() {
    let (rc, h, m) = create(b"refuse");
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::UnsupportedOp);
    assert!(h.is_null() && m == "refused on request", "{m}");
}

/// A backend without `RUNS_UTTERANCES` offers no `run_frames` and refuses
/// a model whose time axis follows the audio, saying which axis and where
/// to run it, before its own `create` sees the model.
#[test]
fn utterance_models_need_runs_utterances() {
    assert!(t().run_frames.is_none());
    let (rc, out, m) = create_with(b"model", 1, 1, 100);
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::UnsupportedOp);
    assert!(out.is_null());
    assert!(
        m.contains("sum backend")
            && m.contains("input axis 1 follows the audio")
            && m.contains("cpu backend"),
        "{m}"
    );
}
