//! The engine: one target's database and store, and the steps run on them.

use super::observe::Observed;
use super::report::{Report, StepRecord};
use crate::config::{AdminConfig, ConfigError, TargetConfig};
use crate::consumers::Consumers;
use crate::db::Database;
use crate::error::Error;
use crate::progress::{NoProgress, Progress};
use crate::rotation::{self, Action, Plan, Policy, Step};
use crate::secret::{Credential, SecretDocument};
use crate::store::{self, SecretStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How to reach what a target's config does not say (Kubernetes context).
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub kube_context: Option<String>,
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Shared bound on concurrent Kubernetes syncs (the daemon sets it).
    pub sync_permits: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// `follow`: the database is never logged in to, so the admin
    /// credential is not read (a follower has none to read).
    pub follow_only: bool,
    /// Kubernetes clients shared by the engines built with these options
    /// (the daemon's targets); `None`: one client per engine.
    #[cfg(feature = "kubernetes")]
    pub kube_clients: Option<crate::k8s::Clients>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RotateOptions {
    /// Override the gates that `--force` may override; says so in the report.
    pub force: bool,
    /// Observe and plan, change nothing.
    pub dry_run: bool,
    /// Rotate only if the store's current version is at least this old
    /// (re-decided under the lock, so a second run right after a first
    /// one finds it up to date). `None`: rotate whenever asked.
    pub min_interval: Option<Duration>,
    /// "Now" for `min_interval` (the daemon's schedule clock); the wall
    /// clock when `None`.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// The whole run's bound (`rotation_timeout`); none when `None`.
    pub timeout: Option<Duration>,
}

pub struct Engine {
    pub(super) config: TargetConfig,
    pub(super) db: Box<dyn Database>,
    pub(super) store: Box<dyn SecretStore>,
    /// `None` under `admin: self`.
    pub(super) admin: Option<Credential>,
    /// Kubernetes Secrets and workloads, when configured.
    pub(super) consumers: Option<Box<dyn Consumers>>,
    /// See [`Policy::create_standby`].
    pub(super) create_standby: bool,
    /// PgBouncers in front of the database (none by default).
    pub(super) poolers: crate::pooler::Poolers,
}

/// What the steps produce and later steps consume.
pub(super) struct Scratch {
    /// The password to stage, when the caller chose it (the Lambda's
    /// createSecret did); else one is generated.
    pub(super) password: Option<SecretString>,
    /// The pending version: staged by this run, or left by one that did
    /// not finish. Its credential is the only one set_password ever sets.
    pub(super) pending: Option<Staged>,
    /// Idempotency token of this run's stage: a retried call reuses it,
    /// a new run (with a new password) gets a new one.
    pub(super) token: String,
    /// What publish made current, for propagate.
    pub(super) published: Option<(SecretDocument, String)>,
    /// The verifier set_password gave the database, for the poolers'
    /// auth_files.
    pub(super) verifier: Option<SecretString>,
}

pub(super) struct Staged {
    pub(super) credential: Credential,
    pub(super) document: SecretDocument,
    pub(super) version: String,
}

/// Which command observes: a rollback must work when the current
/// credential is broken (that is when it is needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Look only: plan, check, status.
    Look,
    /// Rotate (heals the consumers under the lock first).
    Rotate,
    Rollback,
}

impl Engine {
    /// Builds the engine a target's config describes.
    pub async fn from_config(
        config: &TargetConfig,
        options: &EngineOptions,
    ) -> Result<Engine, Error> {
        let db = crate::db::open(&config.database).map_err(|source| Error::Database {
            target: config.name.clone(),
            doing: "prepare the connection".into(),
            source,
            hint: None,
        })?;
        let mut engine = Engine::with_backends(
            config.clone(),
            db,
            store::open(&config.store)
                .await
                .map_err(|source| Error::Store {
                    target: config.name.clone(),
                    doing: "open the store".into(),
                    source,
                    hint: None,
                })?,
            if options.follow_only {
                None
            } else {
                admin_credential(config)?
            },
        );
        if !options.follow_only {
            engine.poolers = crate::pooler::Poolers::from_config(&config.database).map_err(
                |(key, message)| {
                    Error::Config(ConfigError {
                        file: "config".into(),
                        target: Some(config.name.clone()),
                        key,
                        message,
                    })
                },
            )?;
        }
        if let Some(spec) = &config.kubernetes {
            let kubernetes = kubernetes(config, spec, options).await?;
            engine.consumers = Some(match &options.sync_permits {
                Some(permits) => Box::new(crate::consumers::Limited {
                    inner: kubernetes,
                    permits: permits.clone(),
                }),
                None => kubernetes,
            });
        }
        Ok(engine)
    }

    pub fn with_backends(
        config: TargetConfig,
        db: Box<dyn Database>,
        store: Box<dyn SecretStore>,
        admin: Option<Credential>,
    ) -> Engine {
        Engine {
            config,
            db,
            store,
            admin,
            consumers: None,
            create_standby: false,
            poolers: crate::pooler::Poolers::default(),
        }
    }

    /// A missing standby is created like the active user, by the admin
    /// (the Lambda's `<user>_clone` convention).
    pub fn creating_standby(self) -> Engine {
        Engine {
            create_standby: true,
            ..self
        }
    }

    /// When the store's current version was published, if it says.
    pub async fn last_publish(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
        Ok(self.read_store(false).await?.0.published_at)
    }

    pub fn has_consumers(&self) -> bool {
        self.consumers.is_some()
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    pub fn store(&self) -> &dyn SecretStore {
        self.store.as_ref()
    }

    pub fn database(&self) -> &dyn Database {
        self.db.as_ref()
    }

    pub(super) fn policy(&self) -> Policy {
        let db = &self.config.database;
        Policy {
            sessions: db.standby_sessions,
            wait_timeout: db.standby_wait_timeout,
            memberships: db.memberships,
            admin_self: self.admin.is_none(),
            create_standby: self.create_standby,
            pooler_files: self.poolers.have_files(),
        }
    }

    /// Observes and decides; changes nothing (the lock is released again).
    pub async fn plan(&self, action: Action, force: bool) -> Result<Plan, Error> {
        let purpose = match action {
            Action::Rotate => Purpose::Look,
            Action::Rollback => Purpose::Rollback,
        };
        let seen = self.observe(purpose, &NoProgress).await?;
        let plan = match action {
            Action::Rotate => rotation::rotate(&seen.observation, &self.policy(), force),
            Action::Rollback => rotation::rollback(&seen.observation),
        };
        seen.release().await;
        Ok(plan)
    }

    /// Rotates the target: the standby gets a new password and becomes the
    /// active credential. With `min_interval`, a target rotated more
    /// recently than that is reported up to date and left alone.
    pub async fn rotate(
        &self,
        options: RotateOptions,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let Some(limit) = options.timeout else {
            return self.rotate_now(options, progress).await;
        };
        // Dropping the run at the deadline is what a crash there would do,
        // and the protocol resumes from any point.
        tokio::time::timeout(limit, self.rotate_now(options, progress))
            .await
            .unwrap_or_else(|_| {
                Err(Error::Interrupted {
                    target: self.name().into(),
                    step: "rotation_timeout",
                    reason: format!(
                        "the rotation ran longer than rotation_timeout ({}) and was stopped",
                        crate::duration::format(limit)
                    ),
                })
            })
    }

    async fn rotate_now(
        &self,
        options: RotateOptions,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let purpose = if options.dry_run {
            Purpose::Look
        } else {
            Purpose::Rotate
        };
        let mut seen = self.observe(purpose, progress).await?;
        let plan = rotation::rotate(&seen.observation, &self.policy(), options.force);
        let result = match self.recently_rotated(&seen, &options) {
            Some(since) => {
                let mut report = Report::new(&plan, options.dry_run);
                report.planned.clear();
                report.up_to_date = Some(since);
                Ok(report)
            }
            None => {
                self.run(plan, &mut seen, options.dry_run, None, progress)
                    .await
            }
        };
        seen.release().await;
        result
    }

    /// "rotated 5s ago (min_interval 1h)" when the store's current version
    /// is younger than `min_interval` and no rotation is pending. Decided
    /// on what was read under the lock.
    fn recently_rotated(&self, seen: &Observed, options: &RotateOptions) -> Option<String> {
        let min = options.min_interval.filter(|m| !m.is_zero())?;
        if seen.state.pending.is_some() || !seen.observation.lock_acquired {
            return None;
        }
        let published = seen.state.published_at?;
        let now = options.now.unwrap_or_else(chrono::Utc::now);
        let age = (now - published).to_std().unwrap_or_default();
        (age < min).then(|| {
            format!(
                "rotated {} ago (min_interval {})",
                crate::duration::format(Duration::from_secs(age.as_secs())),
                crate::duration::format(min)
            )
        })
    }

    /// The Lambda's `setSecret`: observe and decide exactly as a rotation
    /// does (lock, the current credential logs in, every gate), then give
    /// the standby the pending password (staged by `createSecret`).
    /// Proving it logs in is `testSecret`'s, the next invocation, and
    /// publishing `finishSecret`'s.
    pub async fn set_standby(
        &self,
        username: &str,
        password: SecretString,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let mut seen = self.observe(Purpose::Rotate, progress).await?;
        let result = self
            .set_standby_locked(&mut seen, username, password, progress)
            .await;
        seen.release().await;
        result
    }

    async fn set_standby_locked(
        &self,
        seen: &mut Observed,
        username: &str,
        password: SecretString,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let mut plan = rotation::rotate(&seen.observation, &self.policy(), false);
        if plan.to != username && !plan.is_blocked() {
            return Err(Error::Inconsistent {
                target: self.name().into(),
                message: format!(
                    "the pending version is for {username:?}, but the standby is {:?}; the secret's current version changed since createSecret. Remove the AWSPENDING stage and rotate again",
                    plan.to
                ),
            });
        }
        plan.steps.retain(|s| {
            !matches!(
                s,
                Step::Stage { .. }
                    | Step::Verify { .. }
                    | Step::Publish { .. }
                    | Step::Propagate { .. }
            )
        });
        self.run(plan, seen, false, Some(password), progress).await
    }

    /// Republishes the previous version after proving it still logs in.
    /// Needs only the previous credential: the current one may be broken.
    pub async fn rollback(&self, dry_run: bool, progress: &dyn Progress) -> Result<Report, Error> {
        let mut seen = self.observe(Purpose::Rollback, progress).await?;
        let plan = rotation::rollback(&seen.observation);
        let result = self.run(plan, &mut seen, dry_run, None, progress).await;
        seen.release().await;
        result
    }

    async fn run(
        &self,
        plan: Plan,
        seen: &mut Observed,
        dry_run: bool,
        password: Option<SecretString>,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        if plan.is_blocked() {
            return Err(Error::Blocked {
                target: self.name().into(),
                action: match plan.action {
                    Action::Rotate => "rotation",
                    Action::Rollback => "rollback",
                },
                gates: plan.blockers().into_iter().cloned().collect(),
                standby_sessions: seen.observation.standby_in_use(),
            });
        }
        let mut report = Report::new(&plan, dry_run);
        report.standby_sessions = seen.observation.standby_in_use();
        if dry_run {
            return Ok(report);
        }
        let started = Instant::now();
        let mut scratch = Scratch {
            pending: match plan.action {
                Action::Rotate => self
                    .resumed(seen, &plan, password.as_ref())
                    .or_else(|| self.chosen(seen, &plan, password.as_ref())),
                Action::Rollback => None,
            },
            password,
            token: run_token(),
            published: None,
            verifier: None,
        };
        for step in &plan.steps {
            progress.started(self.name(), step);
            let t = Instant::now();
            let detail = self.step(step, &plan, seen, &mut scratch, progress).await?;
            let elapsed = t.elapsed();
            if let Step::Publish { .. } = step {
                report.new_version = Some(detail.clone());
            }
            tracing::info!(
                target_name = %self.name(),
                step = step.name(),
                from = %plan.from,
                to = %plan.to,
                version = %plan.current_version,
                elapsed_ms = elapsed.as_millis() as u64,
                "{}", step.describe()
            );
            report.steps.push(StepRecord::new(step, detail, elapsed));
            progress
                .finished(self.name(), step, elapsed)
                .map_err(|reason| Error::Interrupted {
                    target: self.name().into(),
                    step: step.name(),
                    reason,
                })?;
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            target_name = %self.name(),
            action = ?plan.action,
            from = %plan.from,
            to = %plan.to,
            old_version = %plan.current_version,
            new_version = report.new_version.as_deref().unwrap_or(""),
            elapsed_ms = report.elapsed_ms,
            "done"
        );
        Ok(report)
    }

    /// The Lambda's password when the store holds no readable pending
    /// version for it (setSecret then sets what createSecret chose).
    fn chosen(
        &self,
        seen: &Observed,
        plan: &Plan,
        password: Option<&SecretString>,
    ) -> Option<Staged> {
        let credential = Credential::new(plan.to.clone(), password?.clone());
        Some(Staged {
            document: self.complete(&seen.state.current.document.with_credential(&credential)),
            credential,
            version: String::new(),
        })
    }

    /// The pending version a rotation resumes: the store's, when it is for
    /// the standby the plan rotates to.
    fn resumed(
        &self,
        seen: &Observed,
        plan: &Plan,
        password: Option<&SecretString>,
    ) -> Option<Staged> {
        let pending = seen.state.pending.as_ref()?;
        let credential = pending.document.credential().ok()?;
        if credential.username != plan.to {
            return None;
        }
        if let Some(p) = password {
            // The Lambda's createSecret chose it; the store must agree.
            if p.expose_secret() != credential.password.expose_secret() {
                return None;
            }
        }
        Some(Staged {
            credential,
            document: pending.document.clone(),
            version: pending.version.clone(),
        })
    }

    pub(super) fn db_error(
        &self,
        doing: String,
        hint: Option<String>,
    ) -> impl FnOnce(crate::db::DbError) -> Error + '_ {
        move |source| Error::Database {
            target: self.name().into(),
            doing,
            source,
            hint,
        }
    }

    /// What the store holds now and which of its credentials log in, read
    /// fresh: every hint after a failure is computed from this, never
    /// assumed.
    pub async fn probe_state(&self) -> String {
        let state = match self.store.read().await {
            Ok(s) => s,
            Err(e) => return format!("The store could not be read to check the state ({e})"),
        };
        let mut parts = Vec::new();
        let mut works = [false; 2];
        let versions = [
            ("current", Some(&state.current)),
            ("previous", state.previous.as_ref()),
            ("pending", state.pending.as_ref()),
        ];
        for (i, (what, version)) in versions.into_iter().enumerate() {
            let Some(v) = version else {
                if what == "pending" {
                    parts.push("no pending version".to_owned());
                }
                continue;
            };
            let status = match v.document.credential() {
                Err(_) => "holds no credential".to_owned(),
                Ok(c) => match self.prove_login(&c, String::new(), None).await {
                    Ok(()) => {
                        if i < 2 {
                            works[i] = true;
                        }
                        format!("{:?} logs in", c.username)
                    }
                    Err(e) => format!("{:?} does NOT log in ({})", c.username, e.kind()),
                },
            };
            parts.push(format!("{what} (version {}): {status}", v.version));
        }
        let advice = match works {
            [true, _] => "No application is locked out; run again to continue".to_owned(),
            [false, true] => format!("The current credential is broken and the previous one works: `seesaw rollback {}` restores it", self.name()),
            [false, false] => "Neither stored credential logs in: set the current user's password to the stored one by hand (ALTER ROLE ... PASSWORD), or check that the database is up".to_owned(),
        };
        format!("Checked just now: {}. {advice}", parts.join("; "))
    }

    /// The document with the connection fields applications expect filled
    /// in from the config where it lacks them (an adopted document may hold
    /// only the login). Fields it has are never changed.
    pub(super) fn complete(&self, document: &SecretDocument) -> SecretDocument {
        let db = &self.config.database;
        let mut doc = document.clone();
        doc.fill_missing("engine", Value::from(db.engine.name()));
        doc.fill_missing("host", Value::from(db.host.clone()));
        doc.fill_missing("port", Value::from(db.port));
        doc.fill_missing("dbname", Value::from(db.dbname.clone()));
        doc
    }

    pub(super) fn no_credential_for(&self, role: &str) -> Error {
        Error::Inconsistent {
            target: self.name().into(),
            message: format!("no credential for {role:?} to verify or publish (the plan's steps are out of order)"),
        }
    }
}

pub(super) fn describe_propagation(p: &crate::consumers::Propagation) -> String {
    let mut parts = vec![
        format!("{} secret(s) written", p.secrets_written.len()),
        format!("{} workload(s) restarted", p.workloads_restarted.len()),
    ];
    if p.rolled_out {
        parts.push("rolled out".into());
    }
    if !p.skipped.is_empty() {
        parts.push(format!("skipped: {}", p.skipped.join("; ")));
    }
    parts.join(", ")
}

/// 32 hex characters, as AWS's ClientRequestToken needs (32-64).
fn run_token() -> String {
    let bytes: [u8; 16] = crate::password::os_random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The target's Kubernetes consumers (its Secrets and workloads).
#[cfg(feature = "kubernetes")]
async fn kubernetes(
    config: &TargetConfig,
    spec: &crate::config::KubernetesConfig,
    options: &EngineOptions,
) -> Result<Box<dyn Consumers>, Error> {
    let (context, kubeconfig) = (
        options.kube_context.as_deref(),
        options.kubeconfig.as_deref(),
    );
    let client = match &options.kube_clients {
        Some(clients) => crate::k8s::shared_client(clients, context, kubeconfig).await,
        None => crate::k8s::client(context, kubeconfig).await,
    }
    .map_err(|source| Error::Consumers {
        target: config.name.clone(),
        doing: "connect to Kubernetes".into(),
        source,
    })?;
    Ok(Box::new(crate::k8s::Kubernetes::new(client, spec.clone())))
}

#[cfg(not(feature = "kubernetes"))]
async fn kubernetes(
    config: &TargetConfig,
    _: &crate::config::KubernetesConfig,
    _: &EngineOptions,
) -> Result<Box<dyn Consumers>, Error> {
    Err(Error::Config(ConfigError {
        file: "config".into(),
        target: Some(config.name.clone()),
        key: "kubernetes".into(),
        message: "this seesaw was built without the `kubernetes` feature; use a build with it (the default), or drop the target's kubernetes section".into(),
    }))
}

/// Reads the admin password from where the config says.
fn admin_credential(config: &TargetConfig) -> Result<Option<Credential>, Error> {
    let AdminConfig::Login(admin) = &config.database.admin else {
        return Ok(None);
    };
    admin
        .read("the admin password")
        .map(Some)
        .map_err(|(key, message)| {
            Error::Config(ConfigError {
                file: "config".into(),
                target: Some(config.name.clone()),
                key: if key.is_empty() {
                    "database.admin".into()
                } else {
                    format!("database.admin.{key}")
                },
                message,
            })
        })
}
