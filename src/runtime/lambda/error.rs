//! A step's failure as the Lambda reports it (the error type CloudWatch
//! and the console show says whether Secrets Manager's retry can succeed).
//! Building one from a rotation's step is `event.rs`'s (`LambdaError::from_*`).

use lambda_runtime::Diagnostic;

/// A step's failure: which step, which secret, what to do, and whether
/// Secrets Manager's retry can succeed. Never holds a secret value.
#[derive(Debug, thiserror::Error)]
#[error("{step} of {secret}: {message}")]
pub struct LambdaError {
    pub step: String,
    pub secret: String,
    /// Short machine-readable class, e.g. `db_login_failed`.
    pub kind: String,
    pub message: String,
    pub retryable: bool,
}

impl LambdaError {
    pub fn fatal(step: &str, secret: &str, kind: &str, message: String) -> LambdaError {
        LambdaError {
            step: step.into(),
            secret: secret.into(),
            kind: kind.into(),
            message,
            retryable: false,
        }
    }
}

/// `Retryable.<kind>` or `Fatal.<kind>`: what the Lambda console and
/// CloudWatch show as the error type.
impl From<LambdaError> for Diagnostic {
    fn from(e: LambdaError) -> Diagnostic {
        Diagnostic {
            error_type: format!(
                "{}.{}",
                if e.retryable { "Retryable" } else { "Fatal" },
                e.kind
            ),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_say_retryable_or_not() {
        let mut e = LambdaError::fatal("setSecret", "s", "db_login_failed", "no".into());
        assert_eq!(
            Diagnostic::from(e.clone_for_test()).error_type,
            "Fatal.db_login_failed"
        );
        e.retryable = true;
        assert_eq!(Diagnostic::from(e).error_type, "Retryable.db_login_failed");
    }

    impl LambdaError {
        fn clone_for_test(&self) -> LambdaError {
            LambdaError {
                step: self.step.clone(),
                secret: self.secret.clone(),
                kind: self.kind.clone(),
                message: self.message.clone(),
                retryable: self.retryable,
            }
        }
    }
}
