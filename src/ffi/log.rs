//! `dfd_set_log_callback`: optional diagnostics (libdfd is silent by default).

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::{dfd_status, guard};
use crate::error::bail;
use crate::log::{set_logger, Level};

/// Log levels for `dfd_set_log_callback`; lower is more severe.
pub const DFD_LOG_ERROR: i32 = 0;
pub const DFD_LOG_WARN: i32 = 1;
pub const DFD_LOG_INFO: i32 = 2;
pub const DFD_LOG_DEBUG: i32 = 3;

/// Receives one log message (NUL-terminated, valid only during the call).
/// May be called from any thread that calls into libdfd.
pub type dfd_log_fn =
    Option<unsafe extern "C" fn(level: i32, message: *const c_char, user_data: *mut c_void)>;

/// The caller's user data, passed back untouched.
struct UserData(*mut c_void);
// SAFETY: libdfd never dereferences it; thread-safety of what it points to
// is the caller's contract, stated in the header.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// Installs a process-wide log callback receiving messages of `max_level`
/// (`DFD_LOG_*`) and more severe; `callback` NULL removes it.
#[no_mangle]
pub unsafe extern "C" fn dfd_set_log_callback(
    callback: dfd_log_fn,
    max_level: i32,
    user_data: *mut c_void,
) -> dfd_status {
    guard(|| {
        let Some(cb) = callback else {
            set_logger(None);
            return Ok(());
        };
        let level = match max_level {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            3 => Level::Debug,
            _ => bail!(InvalidArg, "log level {max_level} is not a DFD_LOG_* value"),
        };
        let data = UserData(user_data);
        set_logger(Some((
            level,
            Arc::new(move |lvl: Level, msg: &str| {
                let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
                let data = &data;
                // SAFETY: calling the caller's function as documented.
                unsafe { cb(lvl as i32, text.as_ptr(), data.0) };
            }),
        )));
        Ok(())
    })
}
