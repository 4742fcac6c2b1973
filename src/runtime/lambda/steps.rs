//! The four steps. Each checks before it acts, so Secrets Manager's
//! retries are safe:
//!
//! - `createSecret`: a pending version with the token already holding a
//!   value -> done. Else the standby's document with a new password is put
//!   as `AWSPENDING` under the token (PutSecretValue with the token as
//!   `ClientRequestToken` is idempotent itself).
//! - `setSecret`: the engine observes as a rotation does: lock, the
//!   current credential logs in to the host the secret names (confused
//!   deputy), the pending credential is tried (already logs in -> done),
//!   the gates; then the verifier.
//! - `testSecret`: the pending credential logs in as the user it names
//!   (the verification of the new password: setSecret does not repeat it).
//!
//! Cost per rotation, measured by `benches/lambda_vs_aws.rs` and held by
//! `tests/lambda/`: each step describes the secret once and reads each
//! version it needs once (the store is a snapshot per invocation); logins
//! are the proofs only (current, pending, and the new one in testSecret),
//! the master's session is kept between warm invocations.
//! - `finishSecret`: `AWSCURRENT` already on the token -> done. Else it is
//!   moved there with `RemoveFromVersionId` (AWS moves `AWSPREVIOUS`;
//!   `AWSPENDING` stays on the version, as AWS's own functions leave it).

use super::error::LambdaError;
use super::event::{Rotation, Step};
use super::settings::Settings;
use super::target::Target;
use super::Function;
use crate::db::Database;
use crate::progress::Progress;
use crate::runtime::Engine;
use crate::secret::{Credential, SecretDocument};
use crate::store::{AwsStore, SecretStore};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Instant;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// The handler is the steps' entry: `mod.rs` holds the function's state,
/// this module what it does with an event (so neither imports the other).
impl Function {
    /// Runs one step of `rotation`.
    pub async fn handle(
        &self,
        rotation: &Rotation,
        progress: &dyn Progress,
    ) -> Result<(), LambdaError> {
        handle(rotation, self, progress).await
    }
}

/// Runs one step; logs it as one JSON line with its duration. `progress`
/// sees the engine's steps inside `setSecret` (see [`super::Invocation`]).
pub(super) async fn handle(
    rotation: &Rotation,
    function: &Function,
    progress: &dyn Progress,
) -> Result<(), LambdaError> {
    let started = Instant::now();
    let result = run(rotation, function, progress).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(outcome) => tracing::info!(
            step = %rotation.step,
            secret = %rotation.secret_id,
            version = %rotation.token,
            elapsed_ms,
            "{outcome}"
        ),
        Err(e) => tracing::error!(
            step = %rotation.step,
            secret = %rotation.secret_id,
            version = %rotation.token,
            elapsed_ms,
            retryable = e.retryable,
            kind = %e.kind,
            "{}", e.message
        ),
    }
    result.map(|_| ())
}

async fn run(
    rotation: &Rotation,
    function: &Function,
    progress: &dyn Progress,
) -> Result<&'static str, LambdaError> {
    let fail = |kind: &str, message: String| {
        LambdaError::fatal(rotation.step.as_str(), &rotation.secret_id, kind, message)
    };
    let store_err = |e| LambdaError::from_store(rotation, e);
    let settings = &function.settings;
    let store = function.store(&rotation.secret_id);
    // The versions the step reads are fetched while the secret is
    // described: one round trip to Secrets Manager instead of two or three.
    let stages = match rotation.step {
        Step::FinishSecret => store.stages().await,
        Step::TestSecret => store.stages_and_prefetch(&rotation.token, false).await,
        Step::CreateSecret | Step::SetSecret => {
            store.stages_and_prefetch(&rotation.token, true).await
        }
    }
    .map_err(store_err)?;
    let of_token = stages.get(&rotation.token);
    let has = |stage: &str| of_token.is_some_and(|s| s.iter().any(|x| x == stage));
    // RotateSecret registers the token as a version staged AWSPENDING (no
    // value yet) before it invokes the function; createSecret gives it a
    // value. A token Secrets Manager did not register is not ours to act on.
    // A version already current finished its rotation: any step retried
    // after finishSecret has nothing left to do.
    if has(CURRENT) {
        return Ok("already current: nothing to do");
    }
    match of_token {
        None => {
            return Err(fail(
                "unknown_version",
                format!(
                    "{} is not a version of the secret; Secrets Manager's RotateSecret registers it before it calls the function",
                    rotation.token
                ),
            ))
        }
        Some(stages) if !has(PENDING) => {
            return Err(fail(
                "not_pending",
                format!(
                    "version {} is not staged AWSPENDING ({stages:?}); start a new rotation",
                    rotation.token
                ),
            ))
        }
        Some(_) => {}
    }
    match rotation.step {
        Step::CreateSecret => create(rotation, settings, &store, &stages).await,
        Step::SetSecret => set(rotation, function, store, progress).await,
        Step::TestSecret => test(rotation, settings, &store).await,
        Step::FinishSecret => {
            let current = stages
                .iter()
                .find(|(_, s)| s.iter().any(|x| x == CURRENT))
                .map(|(v, _)| v.clone())
                .ok_or_else(|| fail("no_current", "the secret has no AWSCURRENT version".into()))?;
            store
                .make_current(&rotation.token, &current)
                .await
                .map_err(store_err)?;
            Ok("AWSCURRENT moved to the new version")
        }
    }
}

async fn create(
    rotation: &Rotation,
    settings: &Settings,
    store: &AwsStore,
    stages: &HashMap<String, Vec<String>>,
) -> Result<&'static str, LambdaError> {
    let store_err = |e| LambdaError::from_store(rotation, e);
    if store
        .version_by_id(&rotation.token, Some(PENDING))
        .await
        .map_err(store_err)?
        .is_some()
    {
        return Ok("pending version already created");
    }
    store
        .no_stuck_pending(stages, &rotation.token)
        .map_err(store_err)?;
    let (current, _) = store.current().await.map_err(store_err)?;
    let target = Target::from_document(rotation, settings, &current.document)?;
    let password = target.config.targets[0].password.generate();
    let pending = current
        .document
        .with_credential(&Credential::new(target.standby.clone(), password));
    store
        .put_pending(&rotation.token, &pending)
        .await
        .map_err(store_err)?;
    Ok("pending version created for the standby user")
}

async fn pending(rotation: &Rotation, store: &AwsStore) -> Result<SecretDocument, LambdaError> {
    store
        .version_by_id(&rotation.token, Some(PENDING))
        .await
        .map_err(|e| LambdaError::from_store(rotation, e))?
        .map(|v| v.document)
        .ok_or_else(|| {
            LambdaError::fatal(
                rotation.step.as_str(),
                &rotation.secret_id,
                "no_pending",
                format!(
                    "version {} has no value yet; createSecret must run first",
                    rotation.token
                ),
            )
        })
}

async fn set(
    rotation: &Rotation,
    function: &Function,
    store: AwsStore,
    progress: &dyn Progress,
) -> Result<&'static str, LambdaError> {
    let settings = &function.settings;
    let fail = |kind: &str, message: String| {
        LambdaError::fatal(rotation.step.as_str(), &rotation.secret_id, kind, message)
    };
    let store_err = |e| LambdaError::from_store(rotation, e);
    let pending = pending(rotation, &store).await?;
    let new = pending
        .credential()
        .map_err(|e| fail("malformed", format!("the pending version: {e}")))?;
    let (current, _) = store.current().await.map_err(store_err)?;
    let target = Target::from_document(rotation, settings, &current.document)?;
    if new.username != target.standby {
        return Err(fail("inconsistent", format!(
            "the pending version is for {:?}, but the standby of current user {:?} is {:?}; the secret changed since createSecret. Remove the AWSPENDING stage and rotate again",
            new.username, target.active, target.standby
        )));
    }
    let config = target.config.targets[0].clone();
    let database = crate::db::open(&config.database)
        .map_err(|e| fail("config", format!("the database in the secret: {e}")))?;
    let admin = match current.document.get("masterarn").and_then(Value::as_str) {
        Some(arn) => Some(master_credential(rotation, function, arn).await?),
        None => {
            // Self mode: the standby logs in with its password from
            // AWSPREVIOUS (read only in this mode).
            let state = store.read().await.map_err(store_err)?;
            if state.previous.is_none() {
                return Err(fail("no_master", format!(
                    "without \"masterarn\", {:?} changes its own password and logs in with the one in AWSPREVIOUS, which this secret does not have yet (its first rotation). Add \"masterarn\" (the ARN of a secret holding a role with CREATEROLE) for the first rotation, or put {:?}'s credential into the secret as a version before AWSCURRENT",
                    target.standby, target.standby
                )));
            }
            None
        }
    };
    let db: Box<dyn Database> = match &admin {
        Some(master) => function.master_session.around(database, master.clone()),
        None => database,
    };
    let engine = Engine::with_backends(config, db, Box::new(store), admin);
    // AWS's convention: the clone is created on the first rotation, like
    // the user (memberships and settings), by the master, under the lock
    // and after the current credential has logged in.
    let engine = if target.clone_convention {
        engine.creating_standby()
    } else {
        engine
    };
    let report = engine
        .set_standby(&new.username, new.password.clone(), progress)
        .await
        .map_err(|e| LambdaError::from_error(rotation, e))?;
    let set = report
        .steps
        .iter()
        .any(|s| matches!(s.step, crate::rotation::Step::SetPassword { .. }));
    let created = report
        .steps
        .iter()
        .any(|s| matches!(s.step, crate::rotation::Step::CreateStandby { .. }));
    Ok(match (created, set) {
        (true, _) => "standby created like the user, password set (testSecret verifies it)",
        (false, true) => "standby password set (testSecret verifies it)",
        (false, false) => "the pending password is already set",
    })
}

async fn test(
    rotation: &Rotation,
    settings: &Settings,
    store: &AwsStore,
) -> Result<&'static str, LambdaError> {
    let fail = |kind: &str, message: String| {
        LambdaError::fatal(rotation.step.as_str(), &rotation.secret_id, kind, message)
    };
    let pending = pending(rotation, store).await?;
    let new = pending
        .credential()
        .map_err(|e| fail("malformed", format!("the pending version: {e}")))?;
    let target = Target::from_document(rotation, settings, &pending)?;
    let db = crate::db::open(&target.config.targets[0].database)
        .map_err(|e| fail("config", format!("the database in the secret: {e}")))?;
    let mut session = db.login(&new).await.map_err(|e| {
        LambdaError::from_db(
            rotation,
            "the pending credential does not log in (setSecret must run first)",
            e,
        )
    })?;
    let user = session
        .probe()
        .await
        .map_err(|e| LambdaError::from_db(rotation, "run the probe query", e))?;
    if user != new.username {
        return Err(fail(
            "inconsistent",
            format!(
                "the pending credential logged in as {user:?}, not {:?}",
                new.username
            ),
        ));
    }
    Ok("the pending credential logs in")
}

/// The role named by the secret `masterarn` points at (RDS's convention).
async fn master_credential(
    rotation: &Rotation,
    function: &Function,
    arn: &str,
) -> Result<Credential, LambdaError> {
    let (master, _) = function
        .store(arn)
        .current()
        .await
        .map_err(|e| LambdaError::from_store(rotation, e))?;
    master.document.credential().map_err(|e| {
        LambdaError::fatal(
            rotation.step.as_str(),
            &rotation.secret_id,
            "malformed",
            format!("the master secret {arn}: {e}"),
        )
    })
}
