//! The rotation event, parsed at the boundary: an unknown step or a token
//! that cannot be a Secrets Manager version id is refused before anything
//! is read. The errors of one rotation's step (`LambdaError::from_*`) are
//! built here too, from the `Rotation` they name.

use super::error::LambdaError;
use crate::error::Error;
use crate::store::StoreError;
use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Step, String> {
        match s {
            "createSecret" => Ok(Step::CreateSecret),
            "setSecret" => Ok(Step::SetSecret),
            "testSecret" => Ok(Step::TestSecret),
            "finishSecret" => Ok(Step::FinishSecret),
            other => Err(format!(
                "unknown step {other:?}; Secrets Manager sends createSecret, setSecret, \
                    testSecret or finishSecret"
            )),
        }
    }
}

/// One invocation: which step, of which secret, for which version.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub step: Step,
    pub secret_id: String,
    pub token: String,
}

impl TryFrom<SecretsManagerSecretRotationEvent> for Rotation {
    type Error = LambdaError;
    fn try_from(event: SecretsManagerSecretRotationEvent) -> Result<Rotation, LambdaError> {
        let bad =
            |message: String| LambdaError::fatal(&event.step, &event.secret_id, "event", message);
        let step = event.step.parse::<Step>().map_err(bad)?;
        if event.secret_id.is_empty() || event.secret_id.len() > 2048 {
            return Err(bad(
                "SecretId is empty or longer than 2048 characters".into()
            ));
        }
        // ClientRequestToken: 32 to 64 characters (version ids are UUIDs).
        let token = &event.client_request_token;
        let plausible = (32..=64).contains(&token.len())
            && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !plausible {
            return Err(bad(format!(
                "ClientRequestToken {:?} is not a version id (32 to 64 letters, digits or '-')",
                token.chars().take(80).collect::<String>()
            )));
        }
        Ok(Rotation {
            step,
            secret_id: event.secret_id.clone(),
            token: token.clone(),
        })
    }
}

// The failures of one rotation's step: they name its step and secret. They
// live here, beside `Rotation`, so that error.rs does not depend on the
// event while the event's parsing reports a `LambdaError`.
impl LambdaError {
    pub(super) fn from_error(rotation: &Rotation, e: Error) -> LambdaError {
        LambdaError {
            step: rotation.step.to_string(),
            secret: rotation.secret_id.clone(),
            kind: e.kind().into(),
            retryable: e.is_transient(),
            message: e.to_string(),
        }
    }

    /// A database failure outside the engine, kinds named as the engine
    /// names them (`db_<kind>`); `doing` says what was being done.
    pub(super) fn from_db(rotation: &Rotation, doing: &str, e: crate::db::DbError) -> LambdaError {
        LambdaError {
            step: rotation.step.to_string(),
            secret: rotation.secret_id.clone(),
            kind: format!("db_{}", e.kind()),
            retryable: e.is_transient(),
            message: format!("{doing}: {e}"),
        }
    }

    pub(super) fn from_store(rotation: &Rotation, e: StoreError) -> LambdaError {
        LambdaError {
            step: rotation.step.to_string(),
            secret: rotation.secret_id.clone(),
            kind: format!("store_{}", e.kind()),
            retryable: e.is_transient(),
            message: e.to_string(),
        }
    }
}
