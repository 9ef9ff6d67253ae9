//! Calling the C API from Rust as a C caller would: strings, options and
//! the calling thread's last error.

use std::ffi::{CStr, CString};
use std::path::Path;

use dfd::ffi::*;

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(dfd_last_error()) }
        .to_string_lossy()
        .into_owned()
}

pub fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// `dfd_model_options` with its strings kept alive beside it.
pub struct Opts {
    pub raw: dfd_model_options,
    _keep: Vec<CString>,
}

/// Options naming a backend, a precision and a plugin directory.
pub fn opts(backend: &str, precision: &str, plugin_dir: &Path) -> Opts {
    let keep = vec![c(backend), c(precision), c(plugin_dir.to_str().unwrap())];
    let mut raw: dfd_model_options = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { dfd_model_options_init(&mut raw) }, DFD_OK);
    raw.backend = keep[0].as_ptr();
    raw.precision = keep[1].as_ptr();
    raw.plugin_dir = keep[2].as_ptr();
    Opts { raw, _keep: keep }
}
