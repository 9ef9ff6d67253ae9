//! The CUDA plugin on machines without a usable GPU (this CI has none):
//! with no driver at all, and with a driver whose `cuInit` finds no device
//! (a stub `libcuda.so.1` built from `plugins/cuda/tests/stub/`). In both,
//! `backend = "cuda"` fails with `BackendUnavailable` and a message that
//! says why, and `backend = "auto"` runs on the CPU and says so.
//!
//! The stub case runs in a child process (this test binary, re-executed with
//! the stub first on `LD_LIBRARY_PATH`), because the dynamic loader resolves
//! `libcuda.so.1` once per process.

mod common;

use std::path::PathBuf;
use std::process::Command;

use dfd::{Model, ModelOptions, Status};

const CHILD_ENV: &str = "DFD_CUDA_TEST_CHILD";

fn options(backend: &str) -> ModelOptions {
    ModelOptions {
        backend: backend.parse().unwrap(),
        plugin_dir: Some(common::artifact_dir("libdfd_backend_cuda.so")),
        ..Default::default()
    }
}

/// What the child (or this process) sees: cuda refused with its reason,
/// auto on the CPU. Returns the reason.
fn cuda_refused_and_auto_is_cpu() -> String {
    let err = match Model::load_builtin(&options("cuda")) {
        Err(e) => e,
        Ok(m) => panic!("cuda loaded on {} without a GPU", m.backend_name()),
    };
    assert_eq!(err.status, Status::BackendUnavailable, "{err}");
    let auto = Model::load_builtin(&options("auto")).expect("auto falls back");
    assert_eq!(auto.backend_name(), "cpu");
    err.message
}

#[test]
fn no_driver_at_all() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // the child runs only `child_probe`
    }
    let have_driver = [
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "/usr/lib64/libcuda.so.1",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists());
    if have_driver {
        eprintln!("a CUDA driver is installed: the no-driver case cannot be tested here");
        return;
    }
    let why = cuda_refused_and_auto_is_cpu();
    assert!(why.contains("no CUDA driver"), "{why}");
}

#[test]
fn driver_without_device() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cuda-stub");
    std::fs::create_dir_all(&dir).unwrap();
    let stub = common::root().join("plugins/cuda/tests/stub/libcuda_stub.c");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.join("libcuda.so.1"))
        .arg(&stub)
        .status()
        .expect("runs cc");
    assert!(status.success(), "cc failed on {}", stub.display());
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_probe", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("LD_LIBRARY_PATH", &dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child did not run:\n{stdout}");
    assert!(
        stdout.contains("CUDA driver present but cuInit failed")
            && stdout.contains("CUDA_ERROR_NO_DEVICE"),
        "{stdout}"
    );
}

/// Runs only in the child of `driver_without_device`.
#[test]
fn child_probe() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    println!("reason: {}", cuda_refused_and_auto_is_cpu());
}
