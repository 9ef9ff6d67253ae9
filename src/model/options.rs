//! How to load a model, as typed values: names from a command line, the C
//! API or a config file are parsed once, where they enter, so a misspelt
//! backend or precision fails there with `InvalidArg`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::Precision;
use crate::backend;
use crate::error::{Error, Status};

/// How to load a model. `Default` = backend auto, precision auto.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelOptions {
    pub backend: BackendChoice,
    pub precision: PrecisionChoice,
    /// Backend worker threads; 0 = backend default.
    pub threads: u32,
    /// Searched for plugins before `DFD_PLUGIN_PATH` and libdfd's own directory.
    pub plugin_dir: Option<PathBuf>,
}

/// Which backend runs the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// The backend whose probe scores highest among those that can run here.
    #[default]
    Auto,
    /// A named backend ("cpu", "cuda" or a plugin's name); one that cannot
    /// run here is an error, never a silent fallback.
    Named(String),
}

/// Which precision variant of a package (or the built-in model) to load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrecisionChoice {
    /// The backend's fastest variant that the package has.
    #[default]
    Auto,
    Exact(Precision),
}

impl PrecisionChoice {
    /// The requested variant, `None` under auto.
    pub fn exact(self) -> Option<Precision> {
        match self {
            PrecisionChoice::Auto => None,
            PrecisionChoice::Exact(p) => Some(p),
        }
    }
}

impl From<Precision> for PrecisionChoice {
    fn from(p: Precision) -> Self {
        PrecisionChoice::Exact(p)
    }
}

impl FromStr for BackendChoice {
    type Err = Error;

    /// `"auto"` (or empty) or a backend name.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" | "" => Ok(BackendChoice::Auto),
            name if backend::valid_name(name) => Ok(BackendChoice::Named(name.to_string())),
            other => Err(Error::new(
                Status::InvalidArg,
                format!(
                    "invalid backend name {other:?} (use auto or lowercase letters, digits, '_')"
                ),
            )),
        }
    }
}

impl FromStr for PrecisionChoice {
    type Err = Error;

    /// `"auto"` (or empty), `"fp32"`, `"fp16"` or `"int8"`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" | "" => Ok(PrecisionChoice::Auto),
            other => Precision::parse(other)
                .map(PrecisionChoice::Exact)
                .ok_or_else(|| {
                    Error::new(
                        Status::InvalidArg,
                        format!("unknown precision {other:?} (use auto, fp32, fp16 or int8)"),
                    )
                }),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendChoice::Auto => f.write_str("auto"),
            BackendChoice::Named(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for PrecisionChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrecisionChoice::Auto => f.write_str("auto"),
            PrecisionChoice::Exact(p) => f.write_str(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_at_the_boundary() {
        assert_eq!(
            "auto".parse::<BackendChoice>().unwrap(),
            BackendChoice::Auto
        );
        assert_eq!(
            "cpu".parse::<BackendChoice>().unwrap(),
            BackendChoice::Named("cpu".into())
        );
        let e = "../evil".parse::<BackendChoice>().unwrap_err();
        assert_eq!(e.status, Status::InvalidArg);
        assert_eq!(
            "fp16".parse::<PrecisionChoice>().unwrap(),
            PrecisionChoice::Exact(Precision::Fp16)
        );
        assert_eq!(
            "".parse::<PrecisionChoice>().unwrap(),
            PrecisionChoice::Auto
        );
        let e = "fp8".parse::<PrecisionChoice>().unwrap_err();
        assert!(e.message.contains("unknown precision \"fp8\""), "{e}");
        for s in ["auto", "int8"] {
            assert_eq!(s.parse::<PrecisionChoice>().unwrap().to_string(), s);
        }
    }
}
