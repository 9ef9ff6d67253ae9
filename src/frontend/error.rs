//! Why a front-end configuration was refused, with the field it concerns, so
//! callers can point at the manifest key and tests can match the case.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendError {
    /// A required field is absent.
    Missing(&'static str),
    /// A field is set that the front end's `type` does not take.
    NotApplicable {
        field: &'static str,
        kind: &'static str,
    },
    /// A field's value is out of range; `rule` says what it must be.
    Invalid { field: &'static str, rule: String },
}

impl FrontendError {
    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> FrontendError {
        FrontendError::Invalid {
            field,
            rule: rule.into(),
        }
    }

    /// The manifest key (inside `frontend`) the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            FrontendError::Missing(field)
            | FrontendError::NotApplicable { field, .. }
            | FrontendError::Invalid { field, .. } => field,
        }
    }
}

impl fmt::Display for FrontendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrontendError::Missing(field) => write!(f, "frontend: missing field `{field}`"),
            FrontendError::NotApplicable { field, kind } => {
                write!(
                    f,
                    "frontend: field `{field}` does not apply to type \"{kind}\""
                )
            }
            FrontendError::Invalid { rule, .. } => write!(f, "frontend: {rule}"),
        }
    }
}

impl std::error::Error for FrontendError {}
