//! Loads the built cdylib the way libdfd does (RTLD_NOW | RTLD_LOCAL, look up
//! `dfd_backend_v1`, check the ABI header first) and runs a model through it:
//! this is the plugin's own copy of std and tract, separate from the test's.

mod common;

/// The backend under test (see `common`).
const ENTRY: dfd_backend_abi::EntryFn = dfd_backend_cpu::dfd_backend_v1;

use std::ffi::{c_char, c_void, CStr};

use dfd_backend_abi::{BackendTable, EntryFn, ModelDesc, ABI_VERSION, ENTRY_SYMBOL};

/// `<target>/<profile>/deps/<test exe>` -> `<target>/<profile>/libdfd_backend_cpu.so`.
fn plugin_path() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let name = format!(
        "{}dfd_backend_cpu{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [deps.join(&name), deps.parent()?.join(&name)]
        .into_iter()
        .find(|p| p.exists())
}

#[cfg(unix)]
#[test]
fn dlopen_the_plugin_and_run() {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    let Some(path) = plugin_path() else {
        eprintln!("libdfd_backend_cpu not built next to the test binary; skipping");
        return;
    };
    // Never unloaded, as in the host.
    let lib = Box::leak(Box::new(
        unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }.unwrap(),
    ));
    let entry: EntryFn = unsafe { *lib.get::<EntryFn>(ENTRY_SYMBOL).unwrap() };
    let t: &BackendTable = unsafe { &*entry() };
    assert_eq!(t.abi_version, ABI_VERSION);
    assert!(t.table_size as usize >= std::mem::size_of::<BackendTable>());
    assert_eq!(unsafe { CStr::from_ptr(t.name) }.to_str().unwrap(), "cpu");
    // A distinct copy from the one linked into this test.
    assert!(!std::ptr::eq(t, dfd_backend_cpu::table()));

    let mut msg = [0 as c_char; 256];
    assert_eq!(unsafe { (t.probe)(msg.as_mut_ptr(), msg.len()) }, 0);

    let onnx = common::fixture("tiny-mel/model.int8.onnx");
    let shape = [1u64, 40, 101];
    let desc = ModelDesc {
        struct_size: std::mem::size_of::<ModelDesc>() as u32,
        threads: 0,
        onnx: onnx.as_ptr(),
        onnx_len: onnx.len(),
        input_shape: shape.as_ptr(),
        input_rank: 3,
        output_len: 1,
        max_batch: 4,
        time_axis: dfd_backend_abi::NO_TIME_AXIS,
        max_frames: 0,
    };
    let mut h: *mut c_void = std::ptr::null_mut();
    let mut err = [0 as c_char; 256];
    let rc = unsafe { (t.create)(&desc, &mut h, err.as_mut_ptr(), err.len()) };
    assert_eq!(rc, 0, "{}", common::cstr(&err));
    let input = common::read_f32("inputs/tiny-mel.batch4.f32le.bin");
    let mut out = [0f32; 4];
    let rc = unsafe {
        (t.run)(
            h,
            input.as_ptr(),
            4,
            out.as_mut_ptr(),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    assert_eq!(rc, 0, "{}", common::cstr(&err));
    let want =
        common::json_f32s(&common::expected()["models"]["tiny-mel"]["variants"]["int8"]["output"]);
    assert!(
        common::max_abs_diff(&out, &want) <= 1e-4,
        "{out:?} vs {want:?}"
    );
    // Errors cross the boundary as status + message, never as an unwind.
    let bad = common::fixture("unsupported-op.onnx");
    let desc = ModelDesc {
        onnx: bad.as_ptr(),
        onnx_len: bad.len(),
        ..desc
    };
    let rc = unsafe { (t.create)(&desc, &mut h, err.as_mut_ptr(), err.len()) };
    assert_eq!(rc, dfd_backend_abi::BackendStatus::UnsupportedOp as i32);
    assert!(common::cstr(&err).contains("WaveletPool"));
    unsafe { (t.destroy)(h) };
}
