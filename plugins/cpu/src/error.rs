//! The plugin's error: an ABI status plus a message for the host.

use dfd_backend_abi::BackendStatus;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub status: BackendStatus,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(status: BackendStatus, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }
    pub fn invalid_model(message: impl Into<String>) -> Error {
        Error::new(BackendStatus::InvalidModel, message)
    }
    /// The graph disagrees with the host's input shape or output length.
    pub fn mismatch(message: impl Into<String>) -> Error {
        Error::new(BackendStatus::ShapeMismatch, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Error {
        Error::new(BackendStatus::UnsupportedOp, message)
    }
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::new(BackendStatus::Runtime, message)
    }
    pub fn arg(message: impl Into<String>) -> Error {
        Error::new(BackendStatus::InvalidArgument, message)
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(BackendStatus::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

/// A tract error with its whole context chain on one line ("a: b: c").
pub fn chain(e: &tract_onnx::prelude::TractError) -> String {
    format!("{e:#}")
}
