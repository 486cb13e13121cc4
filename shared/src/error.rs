//! Error types of the functions and how they appear as Lambda errors.
//!
//! Every handler returns [`LakeopsError`]; it becomes a Lambda `Diagnostic` whose `error_type`
//! says what kind of failure it was, so the console, the on-failure destination and alarms can
//! tell bad input (do not retry) from a dependency failure (retry).

use lambda_runtime::Diagnostic;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum LakeopsError {
    /// The event could not be understood. Retrying it would fail the same way.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Start-up configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An AWS call failed after the SDK's retries; a Lambda retry may succeed.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    /// Something could not be delivered (alert, record). The invocation fails so that Lambda's
    /// retry and the on-failure destination keep the event.
    #[error("not delivered: {0}")]
    Undelivered(String),
}

impl LakeopsError {
    /// Wraps an SDK error with the operation's name and the full error chain (the SDK's
    /// `Display` alone says only "service error").
    pub fn aws<E: std::error::Error>(operation: &'static str, err: E) -> Self {
        LakeopsError::Aws {
            operation,
            message: error_chain(&err),
        }
    }

    /// Stable name of the kind of error, used as the Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            LakeopsError::InvalidInput(_) => "InvalidInput",
            LakeopsError::Config(_) => "InvalidConfiguration",
            LakeopsError::Aws { .. } => "Retryable.AwsCall",
            LakeopsError::Undelivered(_) => "Retryable.Undelivered",
        }
    }
}

impl From<LakeopsError> for Diagnostic {
    fn from(e: LakeopsError) -> Self {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// A memory adapter's fault (unit tests, the simulated day) reads as the AWS failure it stands
/// for: a retryable call failure, or bad input for a request AWS would refuse.
impl From<lakeops_core::memory::MemoryError> for LakeopsError {
    fn from(e: lakeops_core::memory::MemoryError) -> Self {
        match e {
            lakeops_core::memory::MemoryError::Invalid(why) => LakeopsError::InvalidInput(why),
            other => LakeopsError::Aws {
                operation: "memory adapter",
                message: other.to_string(),
            },
        }
    }
}

/// `err: cause: cause's cause` — SDK errors keep the useful part (code, message) in the chain.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Sets up tracing: JSON lines when Lambda's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`), level
/// from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO). Call once, first thing in `main`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_name_the_kind_of_failure() {
        let d: Diagnostic = LakeopsError::InvalidInput("no detail".into()).into();
        assert_eq!(d.error_type, "InvalidInput");
        assert_eq!(d.error_message, "invalid input: no detail");
        let d: Diagnostic = LakeopsError::Undelivered("3 alerts".into()).into();
        assert_eq!(d.error_type, "Retryable.Undelivered");
    }
}
