//! libdfd: embeddable deepfake-speech detection.
//!
//! Rust users work with [`Model`] (immutable, shared) and [`Stream`] (one per
//! audio source). C users get the same through the `dfd_*` functions of
//! `include/dfd.h`, implemented in [`ffi`].
//!
//! Where things live: [`ffi`] is the C ABI, [`stream`] the streaming engine,
//! [`frontend`] the feature extractors, [`backend`] plugin discovery and the
//! backend ABI wrapper, [`model`] the model package and its manifest.

pub mod backend;
pub mod error;
pub mod ffi;
pub mod frontend;
pub mod limits;
pub mod log;
pub mod measure;
pub mod model;
mod resample;
pub mod stream;

pub use error::{Error, Result, Status};
pub use limits::{MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
pub use model::{
    BackendChoice, Manifest, Model, ModelOptions, Precision, PrecisionChoice, Source, StoredModel,
};
pub use stream::{
    infer_streams, Batch, InferReport, RawOutput, Score, Stream, Unscored, Verdict, WindowScore,
};

/// libdfd's version (the crate version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
