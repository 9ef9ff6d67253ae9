//! The `libonnxruntime.so` inside the `onnxruntime` PyPI wheel, which CI
//! installs (`.ci/run`): the library the ort backend is tested with.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The wheel's library, found through `python3 -c "import onnxruntime"`.
/// `None` (the test is skipped, with a note) only outside CI: under
/// `CI=true` a missing wheel fails the test.
pub fn library() -> Option<PathBuf> {
    let script = "import glob, os, onnxruntime; \
                  d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'); \
                  print(sorted(glob.glob(os.path.join(d, 'libonnxruntime.so*')))[0])";
    let found = Command::new("python3")
        .args(["-c", script])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    if found.is_none() {
        let why = "the onnxruntime wheel is not installed (pip install onnxruntime)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipping: {why}");
    }
    found
}

/// Points the plugin at the wheel's library (before its first probe);
/// `false` when the test should be skipped (see [`library`]).
pub fn use_wheel() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| match library() {
        Some(path) => {
            std::env::set_var("ORT_DYLIB_PATH", path);
            true
        }
        None => false,
    })
}
