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
