//! The plugin's error: a [`BackendStatus`] plus a message for the host.

use dfd_backend_abi::BackendStatus;

#[derive(Debug, Clone)]
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
    pub fn unavailable(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::Unavailable, m)
    }
    pub fn invalid_model(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::InvalidModel, m)
    }
    pub fn unsupported(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::UnsupportedOp, m)
    }
    pub fn runtime(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::Runtime, m)
    }
    pub fn arg(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::InvalidArgument, m)
    }
    pub fn shape(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::ShapeMismatch, m)
    }
    pub fn internal(m: impl Into<String>) -> Error {
        Error::new(BackendStatus::Internal, m)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}
