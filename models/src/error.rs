//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong while building a data set, fitting, saving or
/// loading a model. Messages say what was wrong and what to do.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The inputs do not fit together (lengths, shapes, empty data).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A hyperparameter is out of its range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name as in the parameter struct.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// An iterative fit did not converge or became numerically unusable.
    #[error("{model} did not fit: {reason}")]
    FitFailed {
        /// Which model.
        model: &'static str,
        /// What happened and what to try.
        reason: String,
    },
    /// A saved model was written for other features than the ones given.
    #[error("saved model does not match the features: {0}")]
    FeatureMismatch(String),
    /// A saved model could not be read.
    #[error("saved model cannot be read: {0}")]
    Format(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;

pub(crate) fn invalid_param(name: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}
