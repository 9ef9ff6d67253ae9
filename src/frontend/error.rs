//! Why a front-end configuration was refused, with the field it concerns, so
//! callers can point at the manifest key and tests can match the case.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendError {
    /// The JSON does not have the expected form (an unknown key, a value of
    /// the wrong type): serde's message.
    Syntax(String),
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

    /// The manifest key (inside `frontend`) the error is about, when known.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            FrontendError::Syntax(_) => None,
            FrontendError::Missing(field)
            | FrontendError::NotApplicable { field, .. }
            | FrontendError::Invalid { field, .. } => Some(field),
        }
    }
}

impl fmt::Display for FrontendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrontendError::Syntax(message) => write!(f, "frontend: {message}"),
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
