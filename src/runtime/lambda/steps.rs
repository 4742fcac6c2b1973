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
//! `tests/lambda.rs`: each step describes the secret once and reads each
//! version it needs once (the store is a snapshot per invocation); logins
//! are the proofs only (current, pending, and the new one in testSecret),
//! the master's session is kept between warm invocations.
//! - `finishSecret`: `AWSCURRENT` already on the token -> done. Else it is
//!   moved there with `RemoveFromVersionId` (AWS moves `AWSPREVIOUS`;
//!   `AWSPENDING` stays on the version, as AWS's own functions leave it).

use super::event::{Rotation, Step};
use super::settings::Settings;
use super::Function;
use crate::config::{Config, MembershipPolicy, SessionPolicy, TlsMode};
use crate::db::Database;
use crate::error::Error;
use crate::progress::Progress;
use crate::runtime::Engine;
use crate::secret::{Credential, SecretDocument};
use crate::store::{AwsStore, SecretStore, StoreError};
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
/// Characters AWS's own rotation templates exclude for RDS: they break
/// connection strings and shells.
const EXCLUDE: &str = "/@\"'\\`";

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

    fn from_error(rotation: &Rotation, e: Error) -> LambdaError {
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
    fn from_db(rotation: &Rotation, doing: &str, e: crate::db::DbError) -> LambdaError {
        LambdaError {
            step: rotation.step.to_string(),
            secret: rotation.secret_id.clone(),
            kind: format!("db_{}", e.kind()),
            retryable: e.is_transient(),
            message: format!("{doing}: {e}"),
        }
    }

    fn from_store(rotation: &Rotation, e: StoreError) -> LambdaError {
        LambdaError {
            step: rotation.step.to_string(),
            secret: rotation.secret_id.clone(),
            kind: format!("store_{}", e.kind()),
            retryable: e.is_transient(),
            message: e.to_string(),
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

/// A target name (letters, digits, `-`, `_`, `.`; at most 63) for a secret
/// id or ARN: its readable tail and a digest of the whole, so two secrets
/// never share a name (it keys the advisory lock).
fn target_name(secret_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret_id.as_bytes());
    let tail: String = secret_id
        .rsplit(':')
        .next()
        .unwrap_or(secret_id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let tail: String = tail
        .chars()
        .rev()
        .take(50)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "{tail}-{:02x}{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2], digest[3]
    )
}

/// The target a secret describes: the pair, who is active, and a config
/// for the engine built from the secret's fields and the environment (so
/// it goes through the same validation as a config file).
struct Target {
    config: Config,
    active: String,
    standby: String,
    /// The pair is `<user>` / `<user>_clone`, not given explicitly.
    clone_convention: bool,
}

impl Target {
    fn from_document(
        rotation: &Rotation,
        settings: &Settings,
        document: &SecretDocument,
    ) -> Result<Target, LambdaError> {
        let fail = |message: String| {
            LambdaError::fatal(
                rotation.step.as_str(),
                &rotation.secret_id,
                "malformed",
                message,
            )
        };
        let active = document
            .username()
            .map_err(|e| fail(format!("the current version: {e}")))?
            .to_owned();
        let engine = match document
            .get("engine")
            .and_then(Value::as_str)
            .unwrap_or("postgres")
        {
            "postgres" | "postgresql" | "aurora-postgresql" => crate::config::Engine::Postgres,
            "mariadb" => crate::config::Engine::Mariadb,
            "mysql" | "aurora-mysql" => crate::config::Engine::Mysql,
            other => {
                return Err(fail(format!(
                    "engine {other:?} is not supported; seesaw rotates postgres and mariadb"
                )))
            }
        };
        let master = document.get("masterarn").is_some();
        if engine != crate::config::Engine::Postgres && !master {
            return Err(fail(format!(
                "a {} secret needs \"masterarn\" (the ARN of a secret holding an admin with CREATE USER, PROCESS and SELECT on mysql.*): seesaw does not rotate {} accounts as themselves",
                engine.name(),
                engine.name()
            )));
        }
        let host = document
            .get("host")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("the secret has no \"host\"".into()))?;
        let port = match document.get("port") {
            None => u64::from(engine.default_port()),
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(_) => 0,
        };
        if port == 0 || port > 65535 {
            return Err(fail("\"port\" is not a TCP port".into()));
        }
        let dbname = document
            .get("dbname")
            .and_then(Value::as_str)
            .unwrap_or(match engine {
                crate::config::Engine::Postgres => "postgres",
                _ => "mysql",
            });
        let explicit = match document.get("seesaw").and_then(|s| s.get("users")) {
            Some(Value::Array(names)) => {
                let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
                match names.as_slice() {
                    [a, b] if a != b && !a.is_empty() && !b.is_empty() => {
                        Some([a.to_string(), b.to_string()])
                    }
                    _ => {
                        return Err(fail(
                            "\"seesaw\": {\"users\": [...]} must name two different users".into(),
                        ))
                    }
                }
            }
            Some(_) => return Err(fail("\"seesaw\": {\"users\": [...]} must be a list".into())),
            None => settings.users.clone(),
        };
        let clone_convention = explicit.is_none();
        let users = explicit.unwrap_or_else(|| {
            let base = active.strip_suffix("_clone").unwrap_or(&active);
            [base.to_owned(), format!("{base}_clone")]
        });
        if !users.contains(&active) {
            return Err(fail(format!(
                "the current user {active:?} is not one of the pair {users:?}"
            )));
        }
        let standby = if users[0] == active {
            users[1].clone()
        } else {
            users[0].clone()
        };
        let tls = match settings.tls {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        };
        let sessions = match settings.standby_sessions {
            SessionPolicy::Fail => "fail",
            SessionPolicy::Wait => "wait",
            SessionPolicy::Terminate => "terminate",
        };
        let memberships = match settings.memberships {
            MembershipPolicy::Check => "check",
            MembershipPolicy::Fix => "fix",
        };
        // The master credential, when there is one, is handed to the engine
        // directly; the config's admin only shapes messages and validation
        // (which refuses `self` where an engine cannot rotate that way).
        let admin = if master {
            json!({"username": "masterarn", "password_env": "SEESAW_LAMBDA_MASTER_UNUSED"})
        } else {
            json!("self")
        };
        let mut database = json!({
            "engine": engine.name(),
            "host": host,
            "port": port,
            "dbname": dbname,
            "tls": tls,
            "users": users,
            "admin": admin,
            "standby_sessions": sessions,
            "memberships": memberships,
        });
        if let Some(ca) = &settings.ca_file {
            database["ca_file"] = json!(ca);
        }
        let text = json!({
            "targets": [{
                "name": target_name(&rotation.secret_id),
                "database": database,
                "password": {"exclude": EXCLUDE},
                "store": {"aws": {"secret_id": rotation.secret_id}},
            }]
        })
        .to_string();
        let config = Config::parse(&text, "the secret", std::path::Path::new("/"))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Target {
            config,
            active,
            standby,
            clone_convention,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn rotation() -> Rotation {
        Rotation {
            step: Step::CreateSecret,
            secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:app-AbCdEf".into(),
            token: "0".repeat(32),
        }
    }

    fn doc(v: Value) -> SecretDocument {
        SecretDocument::from_value(v).unwrap()
    }

    #[test]
    fn the_clone_convention_and_an_explicit_pair() {
        let s = Settings::default();
        let t = Target::from_document(
            &rotation(),
            &s,
            &doc(json!({"username": "app", "password": "x", "host": "db"})),
        )
        .unwrap();
        assert_eq!(
            (t.active.as_str(), t.standby.as_str(), t.clone_convention),
            ("app", "app_clone", true)
        );
        let t = Target::from_document(
            &rotation(),
            &s,
            &doc(json!({"username": "app_clone", "password": "x", "host": "db"})),
        )
        .unwrap();
        assert_eq!(t.standby, "app");
        let t = Target::from_document(&rotation(), &s, &doc(json!({"username": "b", "password": "x", "host": "db", "seesaw": {"users": ["a", "b"]}}))).unwrap();
        assert_eq!((t.standby.as_str(), t.clone_convention), ("a", false));
        assert_eq!(t.config.targets[0].database.tls, TlsMode::VerifyFull);
    }

    #[test]
    fn bad_secrets_are_named() {
        let s = Settings::default();
        for (v, says) in [
            (
                json!({"username": "c", "password": "x", "host": "db", "seesaw": {"users": ["a", "b"]}}),
                "not one of the pair",
            ),
            (json!({"username": "a", "password": "x"}), "no \"host\""),
            (
                json!({"username": "a", "password": "x", "host": "db", "engine": "oracle"}),
                "not supported",
            ),
            (
                json!({"username": "a", "password": "x", "host": "db", "engine": "mariadb"}),
                "needs \"masterarn\"",
            ),
            (
                json!({"username": "a", "password": "x", "host": "db", "port": "http"}),
                "not a TCP port",
            ),
        ] {
            let e = Target::from_document(&rotation(), &s, &doc(v))
                .err()
                .unwrap();
            assert!(e.to_string().contains(says), "{e}");
            assert!(!e.to_string().contains("\"x\""));
        }
    }

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

    #[test]
    fn the_pending_password_is_generated_without_excluded_characters() {
        let t = Target::from_document(
            &rotation(),
            &Settings::default(),
            &doc(json!({"username": "a", "password": "x", "host": "db"})),
        )
        .unwrap();
        let p = t.config.targets[0].password.generate();
        assert!(!p.expose_secret().chars().any(|c| EXCLUDE.contains(c)));
    }
}
