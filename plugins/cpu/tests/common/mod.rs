//! Test helpers: drive a backend only through its table, as a host would.
//! Shared by the plugins' tests (`#[path]`-included); each test crate names
//! the backend under test in a root `const ENTRY: EntryFn`.
#![allow(dead_code)]

use std::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;

use dfd_backend_abi::{BackendStatus, BackendTable, ModelDesc};

pub fn table() -> &'static BackendTable {
    // The plugin entry, exactly what a host gets from dlsym.
    let t = unsafe { crate::ENTRY() };
    assert!(!t.is_null());
    unsafe { &*t }
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/models"
    ))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixtures().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn expected() -> serde_json::Value {
    serde_json::from_slice(&fixture("expected.json")).unwrap()
}

/// Reads a little-endian f32 file.
pub fn read_f32(name: &str) -> Vec<f32> {
    fixture(name)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub fn cstr(buf: &[c_char]) -> String {
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// A failed call: status and message.
#[derive(Debug)]
pub struct Failure {
    pub status: BackendStatus,
    pub message: String,
}

/// A model handle, destroyed on drop through the table.
pub struct Handle {
    pub ptr: *mut c_void,
    pub item_len: usize,
    pub output_len: usize,
}

unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { (table().destroy)(self.ptr) }
    }
}

pub struct Desc {
    pub onnx: Vec<u8>,
    pub shape: Vec<u64>,
    pub output_len: usize,
    pub max_batch: u32,
    pub time_axis: u32,
    pub max_frames: u64,
    pub threads: u32,
}

impl Desc {
    pub fn new(onnx: Vec<u8>, shape: &[u64], output_len: usize) -> Desc {
        Desc {
            onnx,
            shape: shape.to_vec(),
            output_len,
            max_batch: 8,
            time_axis: dfd_backend_abi::NO_TIME_AXIS,
            max_frames: 0,
            threads: 0,
        }
    }

    pub fn raw(&self) -> ModelDesc {
        ModelDesc {
            struct_size: std::mem::size_of::<ModelDesc>() as u32,
            threads: self.threads,
            onnx: self.onnx.as_ptr(),
            onnx_len: self.onnx.len(),
            input_shape: self.shape.as_ptr(),
            input_rank: self.shape.len(),
            output_len: self.output_len,
            max_batch: self.max_batch,
            time_axis: self.time_axis,
            max_frames: self.max_frames,
        }
    }

    pub fn create(&self) -> Result<Handle, Failure> {
        create_raw(&self.raw()).map(|ptr| Handle {
            ptr,
            item_len: self.shape.iter().product::<u64>() as usize,
            output_len: self.output_len,
        })
    }
}

pub fn create_raw(desc: &ModelDesc) -> Result<*mut c_void, Failure> {
    let mut out: *mut c_void = std::ptr::null_mut();
    let mut err = [0 as c_char; 512];
    let rc = unsafe { (table().create)(desc, &mut out, err.as_mut_ptr(), err.len()) };
    if rc == 0 {
        assert!(!out.is_null());
        Ok(out)
    } else {
        assert!(out.is_null(), "out written on failure");
        Err(Failure {
            status: BackendStatus::from_raw(rc),
            message: cstr(&err),
        })
    }
}

pub fn mel(file: &str) -> Handle {
    Desc::new(fixture(file), &[1, 40, 101], 1)
        .create()
        .unwrap_or_else(|f| panic!("{file}: {f:?}"))
}

impl Handle {
    pub fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>, Failure> {
        assert_eq!(input.len(), batch * self.item_len);
        let mut out = vec![f32::NAN; batch * self.output_len];
        let mut err = [0 as c_char; 512];
        let rc = unsafe {
            (table().run)(
                self.ptr,
                input.as_ptr(),
                batch,
                out.as_mut_ptr(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc == 0 {
            Ok(out)
        } else {
            assert!(out.iter().all(|v| v.is_nan()), "output written on failure");
            Err(Failure {
                status: BackendStatus::from_raw(rc),
                message: cstr(&err),
            })
        }
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn json_f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The item shape of the log-mel fixtures (`tiny-mel`, `wrong-shape`).
pub const MEL: &[u64] = &[1, 40, 101];

/// Creating `file` with this shape must fail; the failure, printed.
pub fn fails(file: &str, shape: &[u64], output_len: usize) -> Failure {
    match Desc::new(fixture(file), shape, output_len).create() {
        Ok(_) => panic!("{file} loaded"),
        Err(f) => {
            eprintln!("{file}: {:?}: {}", f.status, f.message);
            f
        }
    }
}

/// Item input, batch, item shape, output length and expected outputs
/// (onnxruntime's, from Python) of fixture `model` in expected.json.
pub fn fixture_case(model: &str) -> (Vec<f32>, usize, Vec<u64>, usize, serde_json::Value) {
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

/// What every backend must say about unreadable bytes and about a graph
/// that disagrees with the host's shapes, and a batch over `max_batch`.
pub fn check_invalid_and_mismatched_models() {
    for file in ["truncated.onnx", "not-onnx.onnx"] {
        assert_eq!(fails(file, MEL, 1).status, BackendStatus::InvalidModel);
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
    let h = Desc::new(fixture("tiny-mel/model.fp32.onnx"), MEL, 1)
        .create()
        .unwrap();
    let f = h.run(&vec![0.0; 9 * 4040], 9).unwrap_err();
    assert_eq!(f.status, BackendStatus::InvalidArgument);
}

/// `h` (fixture `model`'s variant `variant` of expected.json) gives
/// onnxruntime's outputs from Python to 1e-4, and item by item what it
/// gives for the whole batch (a fixed-batch graph pads the last chunk).
pub fn check_against_python(h: &Handle, model: &str, variant: &str) {
    let (input, batch, _, out_len, e) = fixture_case(model);
    let got = h.run(&input, batch).unwrap();
    let want = json_f32s(&e["variants"][variant]["output"]);
    let d = max_abs_diff(&got, &want);
    eprintln!("{model} {variant}: |plugin - onnxruntime in Python| = {d}");
    assert!(d <= 1e-4, "{model} {variant}: {got:?} vs {want:?}");
    let item = input.len() / batch;
    for (i, x) in input.chunks(item).enumerate() {
        let one = h.run(x, 1).unwrap();
        let d = max_abs_diff(&one, &got[i * out_len..(i + 1) * out_len]);
        assert!(d <= 1e-5, "{model} {variant} item {i}: {d}");
    }
}
