//! Which model a command runs: a file or package directory, or one of the
//! models compiled into libdfd (`builtin:default`, `builtin:telephone`),
//! parsed once from `--model` or `$DFD_MODEL`.

use std::path::PathBuf;

use dfd::model::{Builtin, Source};

/// A model named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelRef {
    Path(PathBuf),
    Builtin(Builtin),
}

impl ModelRef {
    /// clap's parser: `builtin:ROLE` or `builtin:MODEL-NAME`, else a path.
    pub fn parse(s: &str) -> Result<ModelRef, String> {
        match Builtin::from_ref(s) {
            Some(b) => b.map(ModelRef::Builtin).map_err(|e| e.to_string()),
            None => Ok(ModelRef::Path(PathBuf::from(s))),
        }
    }

    /// `arg`, else `$DFD_MODEL`, else the built-in default model.
    pub fn resolve(arg: Option<&ModelRef>) -> Result<ModelRef, String> {
        if let Some(m) = arg {
            return Ok(m.clone());
        }
        match std::env::var_os("DFD_MODEL") {
            Some(v) if v.is_empty() => Ok(ModelRef::Builtin(Builtin::Default)),
            // Not UTF-8: a path, never a built-in name.
            Some(v) => match v.to_str() {
                Some(s) => ModelRef::parse(s).map_err(|e| format!("$DFD_MODEL: {e}")),
                None => Ok(ModelRef::Path(PathBuf::from(v))),
            },
            None => Ok(ModelRef::Builtin(Builtin::Default)),
        }
    }

    pub fn source(&self) -> Source<'_> {
        match self {
            ModelRef::Path(p) => Source::Path(p),
            ModelRef::Builtin(b) => Source::Builtin(*b),
        }
    }

    /// For messages: the path, or "the built-in telephone model".
    pub fn describe(&self) -> String {
        match self {
            ModelRef::Path(p) => p.display().to_string(),
            ModelRef::Builtin(b) => format!("the built-in {} model", b.role()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_builtin_names_and_paths() {
        assert_eq!(
            ModelRef::parse("builtin:telephone"),
            Ok(ModelRef::Builtin(Builtin::Telephone))
        );
        assert_eq!(
            ModelRef::parse("builtin:dfd-lfb-cnn-v2"),
            Ok(ModelRef::Builtin(Builtin::Default))
        );
        assert_eq!(
            ModelRef::parse("models/x"),
            Ok(ModelRef::Path("models/x".into()))
        );
        let e = ModelRef::parse("builtin:nope").unwrap_err();
        assert!(e.contains("telephone") && e.contains("\"nope\""), "{e}");
    }
}
