//! CI compile check: every kernel compiles with NVRTC (no GPU needed), and a
//! kernel with a syntax error fails with NVRTC's log, proving the check
//! catches broken kernels.
//!
//! NVRTC comes from the pip wheel `nvidia-cuda-nvrtc-cu12==12.8.93` (CUDA
//! 12.8, matching cudarc's `cuda-12080` feature). Its lib directory is taken
//! from `DFD_NVRTC_LIB`, else asked of `python3`; the library is then loaded
//! by full path, so cudarc's own `dlopen("libnvrtc.so.12")` finds it already
//! loaded (same soname) without LD_LIBRARY_PATH.

use dfd_backend_cuda::{gpu, kernels};

fn nvrtc_lib_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("DFD_NVRTC_LIB") {
        return d.into();
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import nvidia.cuda_nvrtc, os; print(os.path.join(list(nvidia.cuda_nvrtc.__path__)[0], 'lib'))",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "NVRTC not found: `pip install nvidia-cuda-nvrtc-cu12==12.8.93` or set DFD_NVRTC_LIB\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().into()
}

fn load_nvrtc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let lib = nvrtc_lib_dir().join("libnvrtc.so.12");
        // SAFETY: NVRTC's initialisers; kept loaded for the process.
        let l = unsafe { libloading::Library::new(&lib) }
            .unwrap_or_else(|e| panic!("{}: {e}", lib.display()));
        std::mem::forget(l);
    });
}

#[test]
fn every_kernel_compiles() {
    load_nvrtc();
    let t = std::time::Instant::now();
    let ptx = gpu::compile().unwrap_or_else(|e| panic!("{}", e.message));
    let text = ptx.to_src();
    for k in kernels::all_kernels() {
        assert!(
            text.contains(&format!(".entry {k}(")),
            "kernel {k} missing from the PTX"
        );
    }
    eprintln!(
        "NVRTC compiled {} kernels in {:?}",
        kernels::all_kernels().count(),
        t.elapsed()
    );
}

#[test]
fn a_broken_kernel_fails_the_check() {
    load_nvrtc();
    let broken = kernels::source().replace(
        "y[i] = v > 0.0f ? v : 0.0f;",
        "y[i] = v > 0.0f ? v : 0.0f  // missing semicolon",
    );
    assert_ne!(broken, kernels::source(), "the edit must hit relu_f32");
    let e = gpu::compile_source(&broken).unwrap_err();
    assert!(
        e.message.contains("NVRTC") && e.message.contains("error"),
        "{}",
        e.message
    );
}
