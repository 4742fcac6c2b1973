//! The four steps, over [`RotationStages`] (Secrets Manager's own stages
//! on AWS; any other store through its pending version). Each checks
//! before it acts, so Secrets Manager's retries are safe:
//!
//! - `createSecret`: the version already has a value -> done. Else the
//!   standby's document with a new password is written as it (AWS:
//!   PutSecretValue staged `AWSPENDING` with the token as
//!   `ClientRequestToken`, itself idempotent).
//! - `setSecret`: the engine observes as a rotation does: lock, the
//!   current credential logs in to the host the secret names (confused
//!   deputy), the pending credential is tried (already logs in -> done),
//!   the gates; then the verifier.
//! - `testSecret`: the pending credential logs in as the user it names
//!   (the verification of the new password: setSecret does not repeat it).
//! - `finishSecret`: already current -> done. Else it becomes current
//!   (AWS: `AWSCURRENT` moved with `RemoveFromVersionId`; AWS moves
//!   `AWSPREVIOUS`, and `AWSPENDING` stays on the version, as AWS's own
//!   functions leave it).
//!
//! Cost per rotation, measured by `benches/lambda_vs_aws.rs` and held by
//! `tests/lambda/`: each step describes the secret once and reads each
//! version it needs once (the store is a snapshot per invocation); logins
//! are the proofs only (current, pending, and the new one in testSecret),
//! the master's session is kept between warm invocations.

use super::error::LambdaError;
use super::event::{Rotation, Step};
use super::settings::Settings;
use super::target::Target;
use super::Function;
use crate::db::Database;
use crate::progress::Progress;
use crate::runtime::{Backends, Engine};
use crate::secret::{Credential, SecretDocument};
use crate::store::{Reads, RotationStages, VersionState};
use serde_json::Value;
use std::time::Instant;

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
    // What the step reads is read while the version's state is (AWS: one
    // round trip to Secrets Manager instead of two or three).
    let reads = match rotation.step {
        Step::FinishSecret => Reads::Labels,
        Step::TestSecret => Reads::Value,
        Step::CreateSecret | Step::SetSecret => Reads::ValueAndCurrent,
    };
    let pending = match store
        .version_state(&rotation.token, reads)
        .await
        .map_err(store_err)?
    {
        // A version already current finished its rotation: any step
        // retried after finishSecret has nothing left to do.
        VersionState::Current => return Ok("already current: nothing to do"),
        // RotateSecret registers the token before it invokes the
        // function: a token it did not register is not ours to act on.
        VersionState::Unknown => {
            return Err(fail(
                "unknown_version",
                format!(
                    "{} is not a version of the secret; Secrets Manager's RotateSecret registers \
                        it before it calls the function",
                    rotation.token
                ),
            ))
        }
        VersionState::Retired(where_) => {
            return Err(fail(
                "not_pending",
                format!(
                    "version {} is not pending ({where_}); start a new rotation",
                    rotation.token
                ),
            ))
        }
        VersionState::Pending(value) => value.map(|v| v.document),
    };
    let created = || {
        pending.clone().ok_or_else(|| {
            fail(
                "no_pending",
                format!(
                    "version {} has no value yet; createSecret must run first",
                    rotation.token
                ),
            )
        })
    };
    match rotation.step {
        Step::CreateSecret if pending.is_some() => Ok("pending version already created"),
        Step::CreateSecret => create(rotation, settings, store.as_ref()).await,
        Step::SetSecret => set(rotation, function, store, created()?, progress).await,
        Step::TestSecret => test(rotation, settings, &created()?).await,
        Step::FinishSecret => {
            store.finish(&rotation.token).await.map_err(store_err)?;
            Ok("the new version is current")
        }
    }
}

async fn create(
    rotation: &Rotation,
    settings: &Settings,
    store: &dyn RotationStages,
) -> Result<&'static str, LambdaError> {
    let store_err = |e| LambdaError::from_store(rotation, e);
    let current = store.current_version().await.map_err(store_err)?;
    let target = Target::from_document(rotation, settings, &current.document)?;
    let password = target.config.targets[0].password.generate();
    let pending = current
        .document
        .with_credential(&Credential::new(target.standby.clone(), password));
    store
        .create_pending(&rotation.token, &pending, &current.version)
        .await
        .map_err(store_err)?;
    Ok("pending version created for the standby user")
}

async fn set(
    rotation: &Rotation,
    function: &Function,
    store: Box<dyn RotationStages>,
    pending: SecretDocument,
    progress: &dyn Progress,
) -> Result<&'static str, LambdaError> {
    let settings = &function.settings;
    let fail = |kind: &str, message: String| {
        LambdaError::fatal(rotation.step.as_str(), &rotation.secret_id, kind, message)
    };
    let store_err = |e| LambdaError::from_store(rotation, e);
    let new = pending
        .credential()
        .map_err(|e| fail("malformed", format!("the pending version: {e}")))?;
    let current = store.current_version().await.map_err(store_err)?;
    let target = Target::from_document(rotation, settings, &current.document)?;
    if new.username != target.standby {
        return Err(fail(
            "inconsistent",
            format!(
            "the pending version is for {:?}, but the standby of current user {:?} is {:?}; the \
                secret changed since createSecret. Remove the pending version and rotate again",
            new.username, target.active, target.standby
        ),
        ));
    }
    let config = target.config.targets[0].clone();
    let database = crate::db::open(&config.database)
        .map_err(|e| fail("config", format!("the database in the secret: {e}")))?;
    let admin = match current.document.get("masterarn").and_then(Value::as_str) {
        Some(arn) => Some(master_credential(rotation, function, arn).await?),
        None => {
            // Self mode: the standby logs in with its password from the
            // previous version (read only in this mode).
            let state = store.read().await.map_err(store_err)?;
            if state.previous.is_none() {
                return Err(fail(
                    "no_master",
                    format!(
                    "without \"masterarn\", {:?} changes its own password and logs in with the \
                        one in the previous version (AWSPREVIOUS), which this secret does not \
                            have yet (its first rotation). Add \"masterarn\" (the ARN of a \
                                secret holding a role with CREATEROLE) for the first rotation, \
                                    or put {:?}'s credential into the secret as a version before \
                                        the current one",
                    target.standby, target.standby
                ),
                ));
            }
            None
        }
    };
    let db: Box<dyn Database> = match &admin {
        Some(master) => function.master_session.around(database, master.clone()),
        None => database,
    };
    let engine = Engine::with_backends(config, Backends::new(db, store), admin);
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
    pending: &SecretDocument,
) -> Result<&'static str, LambdaError> {
    let fail = |kind: &str, message: String| {
        LambdaError::fatal(rotation.step.as_str(), &rotation.secret_id, kind, message)
    };
    let new = pending
        .credential()
        .map_err(|e| fail("malformed", format!("the pending version: {e}")))?;
    let target = Target::from_document(rotation, settings, pending)?;
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
    let master = function
        .store(arn)
        .current_version()
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
