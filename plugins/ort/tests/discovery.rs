//! Finding onnxruntime: the wheel's library is accepted with its version;
//! a missing file, a library that is not onnxruntime and one too old are
//! refused with a message saying which; with nothing usable the probe says
//! so (through the table) and names what it tried.

mod wheel;

use std::ffi::c_char;
use std::path::Path;
use std::process::Command;

use dfd_backend_abi::BackendStatus;
use dfd_backend_ort::runtime::{inspect, locate, MIN_MINOR};

#[test]
fn the_wheel_library_is_onnxruntime() {
    let Some(lib) = wheel::library() else {
        return;
    };
    let (version, file) = inspect(&lib).unwrap();
    assert_eq!(file, std::fs::canonicalize(&lib).unwrap());
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    assert!(version.starts_with("1.") && minor >= MIN_MINOR, "{version}");
}

#[test]
fn missing_foreign_and_old_libraries_are_refused() {
    let e = inspect(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
    assert!(e.contains("/nonexistent/libonnxruntime.so"), "{e}");
    let e = inspect(Path::new("libc.so.6")).unwrap_err();
    assert!(e.contains("not onnxruntime"), "{e}");

    // A library that answers like onnxruntime 1.9: too old.
    let dir = std::env::temp_dir().join(format!("dfd-ort-old-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("old.c");
    std::fs::write(
        &src,
        "typedef struct { const void *(*get_api)(unsigned); const char *(*version)(void); } base;\n\
         static const void *get_api(unsigned v) { (void)v; return 0; }\n\
         static const char *version(void) { return \"1.9.0\"; }\n\
         static const base b = { get_api, version };\n\
         const base *OrtGetApiBase(void) { return &b; }\n",
    )
    .unwrap();
    let so = dir.join("libonnxruntime.so");
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .expect("cc (CI installs gcc)");
    assert!(ok.success());
    let e = inspect(&so).unwrap_err();
    assert!(
        e.contains("1.9.0") && e.contains(&format!("1.{MIN_MINOR} or newer")),
        "{e}"
    );

    // Named by ORT_DYLIB_PATH, it is the only candidate: the probe refuses
    // it and says why. (The only test here that touches the environment.)
    std::env::set_var("ORT_DYLIB_PATH", &so);
    let e = locate().unwrap_err();
    assert_eq!(e.status, BackendStatus::Unavailable);
    assert!(
        e.message.contains("ORT_DYLIB_PATH") && e.message.contains("too old"),
        "{}",
        e.message
    );
    let table = unsafe { &*dfd_backend_ort::dfd_backend_v1() };
    let mut buf = [0 as c_char; 1024];
    let rc = unsafe { (table.probe)(buf.as_mut_ptr(), buf.len()) };
    let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
    assert_eq!(BackendStatus::from_raw(rc), BackendStatus::Unavailable);
    assert!(
        msg.contains("pip install onnxruntime") && msg.contains("1.9.0"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
