//! Errors of the Rust API. Each carries a [`Status`] that maps one-to-one to
//! the C API's `dfd_status` codes, plus a human-readable message.

use std::fmt;

/// What went wrong, as a stable code (the C API exposes the same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArg = 1,
    /// An argument is out of its documented range.
    InvalidArg = 2,
    /// Samples contain NaN, infinity or a magnitude above
    /// [`crate::limits::MAX_SAMPLE_MAGNITUDE`]; the chunk was rejected whole.
    BadSamples = 3,
    /// Sample rate outside [`crate::MIN_SAMPLE_RATE`]..=[`crate::MAX_SAMPLE_RATE`].
    SampleRate = 4,
    /// Channel count is 0 or above [`crate::MAX_CHANNELS`].
    Channels = 5,
    /// A push of zero frames.
    EmptyPush = 6,
    /// A file could not be read.
    Io = 7,
    /// The model file is truncated or not a valid ONNX / JSON file.
    ModelCorrupt = 8,
    /// The file is valid but not a libdfd model (no manifest, wrong format,
    /// manifest and graph disagree).
    ModelKind = 9,
    /// The model uses an operator the backend cannot run (the message names it).
    ModelUnsupported = 10,
    /// The requested precision variant is not in the model package.
    PrecisionUnavailable = 11,
    /// No plugin file for the requested backend was found.
    PluginNotFound = 12,
    /// A plugin file was found but is not a libdfd plugin, or has another ABI version.
    PluginIncompatible = 13,
    /// The backend exists but cannot run on this machine (e.g. no GPU).
    BackendUnavailable = 14,
    /// Inference failed at run time.
    Backend = 15,
    /// A caller-supplied buffer is too small.
    BufferTooSmall = 16,
    /// A bug in libdfd (a caught panic); please report it.
    Internal = 17,
    /// This build of libdfd leaves the feature out (e.g. the built-in model).
    NotBuilt = 18,
}

impl Status {
    /// The highest status code defined by this version.
    pub const LAST: Status = Status::NotBuilt;

    /// Every status in code order (index == code).
    pub const ALL: [Status; 19] = [
        Status::Ok,
        Status::NullArg,
        Status::InvalidArg,
        Status::BadSamples,
        Status::SampleRate,
        Status::Channels,
        Status::EmptyPush,
        Status::Io,
        Status::ModelCorrupt,
        Status::ModelKind,
        Status::ModelUnsupported,
        Status::PrecisionUnavailable,
        Status::PluginNotFound,
        Status::PluginIncompatible,
        Status::BackendUnavailable,
        Status::Backend,
        Status::BufferTooSmall,
        Status::Internal,
        Status::NotBuilt,
    ];

    /// A short static description, NUL-terminated for the C API.
    pub fn describe_c(self) -> &'static str {
        match self {
            Status::Ok => "ok\0",
            Status::NullArg => "a required pointer argument is NULL\0",
            Status::InvalidArg => "invalid argument\0",
            Status::BadSamples => "samples contain NaN, infinity or out-of-range values\0",
            Status::SampleRate => "unsupported sample rate\0",
            Status::Channels => "unsupported channel count\0",
            Status::EmptyPush => "push of zero frames\0",
            Status::Io => "I/O error\0",
            Status::ModelCorrupt => "model file is corrupt or truncated\0",
            Status::ModelKind => "not a libdfd model\0",
            Status::ModelUnsupported => "model uses an operator the backend cannot run\0",
            Status::PrecisionUnavailable => "requested precision variant is not available\0",
            Status::PluginNotFound => "backend plugin not found\0",
            Status::PluginIncompatible => "backend plugin is incompatible\0",
            Status::BackendUnavailable => "backend cannot run on this machine\0",
            Status::Backend => "inference failed\0",
            Status::BufferTooSmall => "buffer too small\0",
            Status::Internal => "internal error (a bug in libdfd)\0",
            Status::NotBuilt => "not part of this build of libdfd\0",
        }
    }

    /// The description without the trailing NUL.
    pub fn describe(self) -> &'static str {
        self.describe_c().trim_end_matches('\0')
    }
}

/// An error with its status and a detailed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.describe(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for `Err(Error::new(status, format!(...)))`.
macro_rules! bail {
    ($status:ident, $($fmt:tt)+) => {
        return Err($crate::error::Error::new($crate::error::Status::$status, format!($($fmt)+)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_code_order_and_complete() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert!(s.describe_c().ends_with('\0'));
            assert!(!s.describe().contains('\0'));
        }
        assert_eq!(Status::ALL.last(), Some(&Status::LAST));
    }
}
