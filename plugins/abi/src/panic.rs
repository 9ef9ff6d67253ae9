//! The silent panic boundary, for libdfd and for plugins: a panic caught
//! here never reaches stderr (a library must not print) and comes back as
//! its message and where it happened. Panics outside [`catch`] go to the
//! hook that was installed before, so a Rust host keeps its behaviour.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs inside [`catch`].
    static IN_CATCH: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic caught on this thread happened.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per copy of std (each cdylib has its own), the hook that
/// keeps panics inside [`catch`] silent and notes their location.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CATCH.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic becomes `Err("<message> (at <file>:<line>)")`.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let outer = IN_CATCH.with(|g| g.replace(true));
    let caught = catch_unwind(AssertUnwindSafe(f));
    IN_CATCH.with(|g| g.set(outer));
    caught.map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        match PANIC_AT.with(|at| at.borrow_mut().take()) {
            Some(at) => format!("{msg} (at {at})"),
            None => msg,
        }
    })
}
