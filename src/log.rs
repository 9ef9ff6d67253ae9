//! Diagnostics for embedders: silent unless a callback is installed
//! (`dfd_set_log_callback` in C, [`set_logger`] in Rust). libdfd never writes
//! to stdout or stderr itself.

use std::sync::{Arc, RwLock};

/// Severity, lowest number = most severe (matches `DFD_LOG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

pub type Logger = Arc<dyn Fn(Level, &str) + Send + Sync>;

static LOGGER: RwLock<Option<(Level, Logger)>> = RwLock::new(None);

/// Installs (or with `None`, removes) the process-wide log callback; messages
/// above `max_level` are not formatted at all.
pub fn set_logger(logger: Option<(Level, Logger)>) {
    *LOGGER.write().unwrap_or_else(|e| e.into_inner()) = logger;
}

/// Emits a message if a callback wants this level. The message is built lazily.
pub fn emit(level: Level, message: impl FnOnce() -> String) {
    let guard = LOGGER.read().unwrap_or_else(|e| e.into_inner());
    if let Some((max, logger)) = guard.as_ref() {
        if level <= *max {
            let logger = Arc::clone(logger);
            drop(guard);
            logger(level, &message());
        }
    }
}

macro_rules! log {
    ($level:ident, $($fmt:tt)+) => {
        $crate::log::emit($crate::log::Level::$level, || format!($($fmt)+))
    };
}
pub(crate) use log;
