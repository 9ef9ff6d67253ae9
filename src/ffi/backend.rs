//! `dfd_list_backends`: what backends this machine has.

use std::ffi::c_char;
use std::path::Path;

use super::{arg_mut, dfd_status, guard, opt_str};
use crate::backend::{self, Origin};

/// One backend seen by libdfd.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct dfd_backend_info {
    /// Backend name, NUL-terminated ("cpu", "cuda", ...).
    pub name: [c_char; 32],
    /// 1 if compiled into libdfd, 0 if a plugin (or not found).
    pub builtin: i32,
    /// 1 if it can run on this machine now.
    pub available: i32,
    /// The plugin's own description, or why it cannot run (NUL-terminated,
    /// truncated to fit).
    pub detail: [c_char; 256],
}

/// Lists the backends libdfd can see, probing each: the shipped ones ("cpu",
/// "rten", "ort", "cuda"), built-in ones and any `libdfd_backend_*.so` on the
/// search path (`plugin_dir` first, may be NULL; one given must be a directory, else
/// `DFD_ERR_PLUGIN_NOT_FOUND`). Writes up to `capacity` entries to
/// `out` and the total number into `*count`; call with `capacity` 0 to
/// size the array.
#[no_mangle]
pub unsafe extern "C" fn dfd_list_backends(
    plugin_dir: *const c_char,
    out: *mut dfd_backend_info,
    capacity: usize,
    count: *mut usize,
) -> dfd_status {
    guard(|| {
        let count = arg_mut(count, "count")?;
        if capacity > 0 && out.is_null() {
            return Err(crate::Error::new(
                crate::Status::NullArg,
                "argument `out` is NULL",
            ));
        }
        let dir = opt_str(plugin_dir, "plugin_dir")?.map(Path::new);
        backend::check_plugin_dir(dir)?;
        let all = backend::list(dir);
        for (i, b) in all.iter().take(capacity).enumerate() {
            let mut info = dfd_backend_info {
                name: [0; 32],
                builtin: i32::from(b.origin() == Some(&Origin::Builtin)),
                available: i32::from(b.available),
                detail: [0; 256],
            };
            // SAFETY: both arrays are valid for their full length.
            unsafe {
                dfd_backend_abi::write_c_str(info.name.as_mut_ptr(), info.name.len(), &b.name);
                dfd_backend_abi::write_c_str(
                    info.detail.as_mut_ptr(),
                    info.detail.len(),
                    &b.detail,
                );
                out.add(i).write(info);
            }
        }
        *count = all.len();
        Ok(())
    })
}
