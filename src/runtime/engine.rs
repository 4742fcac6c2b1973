//! The engine: one target's database, store, consumers and poolers, how
//! they are built from its config, and the helpers every command shares.
//! The commands are in `run.rs`, observing in `observe.rs`, the steps in
//! `steps.rs`.

use crate::config::{AdminConfig, ConfigError, TargetConfig};
use crate::consumers::Consumers;
use crate::db::Database;
use crate::error::Error;
use crate::rotation::Policy;
use crate::secret::{Credential, SecretDocument};
use crate::store::{self, SecretStore};
use serde_json::Value;
use std::time::Duration;

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
    /// Where `password_env` and the cloud SDKs' variables are read: the
    /// process's environment unless a test or embedder passes values.
    pub environment: crate::environment::Environment,
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

/// What a target's steps act on: its database, the store where its
/// credential is published, and what reads the credential (Kubernetes) or
/// sits in front of the database (PgBouncer). The drivers build it
/// (`Engine::from_config`; the Lambda from its secret), the steps use it.
pub struct Backends {
    pub database: Box<dyn Database>,
    pub store: Box<dyn SecretStore>,
    /// Kubernetes Secrets and workloads, when configured.
    pub consumers: Option<Box<dyn Consumers>>,
    /// PgBouncers in front of the database (none by default).
    pub poolers: crate::pooler::Poolers,
}

impl Backends {
    /// A database and a store; no consumers, no poolers.
    pub fn new(database: Box<dyn Database>, store: Box<dyn SecretStore>) -> Backends {
        Backends {
            database,
            store,
            consumers: None,
            poolers: Default::default(),
        }
    }
}

/// One target: its config, its backends, and who acts on the database.
pub struct Engine {
    pub(super) config: TargetConfig,
    pub(super) backends: Backends,
    /// `None` under `admin: self`.
    pub(super) admin: Option<Credential>,
    /// See [`Policy::create_standby`].
    pub(super) create_standby: bool,
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
        let database = crate::db::open(&config.database).map_err(|source| Error::Database {
            target: config.name.clone(),
            doing: "prepare the connection".into(),
            source,
            hint: None,
        })?;
        let store = store::open(&config.store, &options.environment)
            .await
            .map_err(|source| Error::Store {
                target: config.name.clone(),
                doing: "open the store".into(),
                source,
                hint: None,
            })?;
        let mut backends = Backends::new(database, store);
        let admin = if options.follow_only {
            None
        } else {
            admin_credential(config, &options.environment)?
        };
        if !options.follow_only {
            backends.poolers =
                crate::pooler::Poolers::from_config(&config.database, &options.environment)
                    .map_err(|(key, message)| {
                        Error::Config(ConfigError {
                            file: "config".into(),
                            target: Some(config.name.clone()),
                            key,
                            message,
                        })
                    })?;
        }
        if let Some(spec) = &config.kubernetes {
            let kubernetes = kubernetes(config, spec, options).await?;
            backends.consumers = Some(match &options.sync_permits {
                Some(permits) => Box::new(crate::consumers::Limited {
                    inner: kubernetes,
                    permits: permits.clone(),
                }),
                None => kubernetes,
            });
        }
        Ok(Engine::with_backends(config.clone(), backends, admin))
    }

    pub fn with_backends(
        config: TargetConfig,
        backends: Backends,
        admin: Option<Credential>,
    ) -> Engine {
        Engine {
            config,
            backends,
            admin,
            create_standby: false,
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
        self.backends.consumers.is_some()
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// This target, for the errors about it.
    pub(super) fn on(&self) -> crate::error::On<'_> {
        crate::error::On(self.name())
    }

    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    pub fn store(&self) -> &dyn SecretStore {
        self.backends.store.as_ref()
    }

    pub fn database(&self) -> &dyn Database {
        self.backends.database.as_ref()
    }

    pub(super) fn policy(&self) -> Policy {
        let db = &self.config.database;
        Policy {
            sessions: db.standby_sessions,
            wait_timeout: db.standby_wait_timeout,
            memberships: db.memberships,
            admin_self: self.admin.is_none(),
            create_standby: self.create_standby,
            pooler_files: self.backends.poolers.have_files(),
        }
    }

    pub(super) fn db_error(
        &self,
        doing: String,
        hint: Option<String>,
    ) -> impl FnOnce(crate::db::DbError) -> Error + '_ {
        move |source| self.on().database(doing, source, hint)
    }

    /// What the store holds now and which of its credentials log in, read
    /// fresh: every hint after a failure is computed from this, never
    /// assumed.
    pub async fn probe_state(&self) -> String {
        self.probe_state_since(None).await
    }

    /// [`Engine::probe_state`] for a run that observed current version
    /// `observed`: if another run has published since, the advice says the
    /// rotation is done (or still being done) by that run, not "run again".
    pub(super) async fn probe_state_since(&self, observed: Option<&str>) -> String {
        let state = match self.backends.store.read().await {
            Ok(s) => s,
            Err(e) => return format!("The store could not be read to check the state ({e})"),
        };
        let moved_on = observed.filter(|v| *v != state.current.version).map(|_| {
            let by = state.current.document.username().unwrap_or("?").to_owned();
            (state.current.version.clone(), by)
        });
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
        let advice = match (works, moved_on) {
            ([true, _], Some((version, by))) if state.pending.is_none() => format!(
                "Another run \
                finished a rotation meanwhile (the current version is now {version}, for \
                    {by:?}): nothing to do"
            ),
            ([true, _], Some((version, _))) => format!(
                "Another run published version {version} \
                meanwhile and a rotation is pending: it is probably still running; check `seesaw \
                    status {}` before running again",
                self.name()
            ),
            ([true, _], None) => "No application is locked out; run again to continue".to_owned(),
            ([false, true], _) => format!(
                "The current credential is broken and the previous one \
                works: `seesaw rollback {}` restores it",
                self.name()
            ),
            ([false, false], _) => "Neither stored credential logs in: set the current user's \
                password to the stored one by hand (ALTER ROLE ... PASSWORD), or check that the \
                    database is up"
                .to_owned(),
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
        self.on().inconsistent(format!(
            "no credential for {role:?} to verify or publish (the plan's steps \
                are out of order)"
        ))
    }
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
        message: "this seesaw was built without the `kubernetes` feature; use a build with it \
            (the default), or drop the target's kubernetes section"
            .into(),
    }))
}

/// Reads the admin password from where the config says.
fn admin_credential(
    config: &TargetConfig,
    env: &crate::environment::Environment,
) -> Result<Option<Credential>, Error> {
    let AdminConfig::Login(admin) = &config.database.admin else {
        return Ok(None);
    };
    admin
        .read("the admin password", env)
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
