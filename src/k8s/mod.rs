//! Kubernetes: the Secrets that carry a target's credential and the
//! workloads that read them. The only module that imports kube.
//!
//! One sync (see [`Consumers::sync`]) patches every Secret in one merge
//! patch each (username, password and rendered templates together, so a
//! reader never sees a new username with an old password), annotates the
//! pod template of each workload still on an older credential, as
//! `kubectl rollout restart` does, and waits for the rollouts.

mod errors;
mod events;
pub mod leader;
mod preflight;
mod rollout;
mod secrets;
mod workloads;
mod writes;

use crate::config::KubernetesConfig;
use crate::consumers::{ConsumerError, Consumers, Propagation, SyncReason};
use crate::progress::Progress;
use crate::rotation::WriteCheck;
use crate::secret::SecretDocument;
use async_trait::async_trait;
use kube::config::KubeConfigOptions;
use workloads::Manual;
use writes::Mode;

pub use writes::{FIELD_MANAGER, RESTARTED_AT_ANNOTATION, VERSION_ANNOTATION};

/// A client from the in-cluster service account when running in a pod
/// (and no context is asked for), else from the kubeconfig
/// (`kubeconfig`, else `$KUBECONFIG` or ~/.kube/config) and its current or
/// the given context.
/// Clients by context and kubeconfig, shared by the targets of one daemon
/// generation (one connection pool and one TLS setup, not one per target).
pub type Clients =
    crate::shared::Shared<(Option<String>, Option<std::path::PathBuf>), kube::Client>;

/// [`client`], made once per context and kubeconfig in `clients`.
pub async fn shared_client(
    clients: &Clients,
    context: Option<&str>,
    kubeconfig: Option<&std::path::Path>,
) -> Result<kube::Client, ConsumerError> {
    clients
        .get_or_make(
            (
                context.map(str::to_owned),
                kubeconfig.map(|p| p.to_path_buf()),
            ),
            || client(context, kubeconfig),
        )
        .await
}

pub async fn client(
    context: Option<&str>,
    kubeconfig: Option<&std::path::Path>,
) -> Result<kube::Client, ConsumerError> {
    let err = |message: String| ConsumerError::Api {
        doing: "load the Kubernetes client configuration".into(),
        message,
        transient: false,
    };
    crate::install_crypto_provider();
    let in_cluster = context.is_none()
        && kubeconfig.is_none()
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let config = if in_cluster {
        kube::Config::incluster().map_err(|e| {
            err(format!(
                "in-cluster config: {}",
                crate::reason::headline(&e)
            ))
        })?
    } else {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..Default::default()
        };
        let loaded = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                    err(format!(
                        "kubeconfig {}: {}",
                        path.display(),
                        crate::reason::headline(&e)
                    ))
                })?;
                kube::Config::from_custom_kubeconfig(file, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        };
        loaded.map_err(|e| {
            err(format!(
                "kubeconfig: {}; set --kubeconfig, KUBECONFIG or --kube-context",
                crate::reason::headline(&e)
            ))
        })?
    };
    // Bounded: an API server that accepts and never answers must not hang
    // a rotation. Rollout watches ask the server to end them sooner (see
    // rollout.rs). The read timeout counts from each request, not from when
    // its pooled connection went idle (kube counts that by default).
    let mut config = config;
    config.connect_timeout = Some(std::time::Duration::from_secs(5));
    config.read_timeout = Some(std::time::Duration::from_secs(30));
    config.reset_reader_on_write = true;
    config.write_timeout = Some(std::time::Duration::from_secs(30));
    // The API server names a write's field manager after the user agent
    // when the request gives none (kube's event Recorder does not): every
    // write is then seesaw's.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("seesaw/", env!("CARGO_PKG_VERSION"))),
    ));
    kube::Client::try_from(config).map_err(|e| err(errors::without_body(&e)))
}

pub struct Kubernetes {
    client: kube::Client,
    spec: KubernetesConfig,
    events: kube::runtime::events::Recorder,
}

impl Kubernetes {
    pub fn new(client: kube::Client, spec: KubernetesConfig) -> Self {
        let events = events::recorder(&client);
        Kubernetes {
            client,
            spec,
            events,
        }
    }
}

#[async_trait]
impl Consumers for Kubernetes {
    fn describe(&self) -> String {
        format!(
            "kubernetes ({} secret(s), {} workload(s))",
            self.spec.secrets.len(),
            self.spec.workloads.len()
        )
    }

    async fn sync(
        &self,
        target: &str,
        document: &SecretDocument,
        version: &str,
        reason: SyncReason,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<Propagation, ConsumerError> {
        let mut done = Propagation::default();
        let user = document.username().unwrap_or("?").to_owned();
        let message = format!(
            "seesaw target {target}: credential version {version} for user {user} ({reason:?})"
        );
        let mode = if dry_run { Mode::Preview } else { Mode::Write };
        for spec in &self.spec.secrets {
            let written = secrets::sync(&self.client, spec, document, version, target, mode)
                .await?
                .is_some();
            if written {
                done.secrets_written
                    .push(format!("{}/{}", spec.namespace, spec.name));
                if !dry_run {
                    events::record(
                        &self.events,
                        events::secret(spec),
                        &events::Note::rotated(&message),
                    )
                    .await;
                }
            }
        }
        let any_written = !done.secrets_written.is_empty();
        let mut restarted = Vec::new();
        for w in &self.spec.workloads {
            let state = workloads::state(&self.client, w).await?;
            // A workload already annotated with an older version missed its
            // restart (a crash after the Secret patch); an unannotated one is
            // restarted only when a Secret changed now.
            let stale = match &state.version {
                Some(v) => v != version,
                None => any_written,
            };
            if !stale {
                continue;
            }
            // A workload Kubernetes will not roll by itself is reported
            // instead of restarted; an OnDelete one is still annotated so
            // its status counts the pods left on the old template.
            let manual = state.manual.as_ref().map(|m| match m {
                Manual::Paused(why) => (format!("{w}: {why}"), false),
                Manual::OnDelete(why) => (format!("{w}: {why}"), true),
            });
            if let Some((why, _)) = &manual {
                tracing::warn!(target_name = %target, workload = %w, "not rolled: {why}");
                progress.waiting(target, why);
            }
            if !dry_run {
                if manual.as_ref().is_none_or(|(_, annotate)| *annotate) {
                    workloads::restart(&self.client, w, version, Mode::Write).await?;
                }
                let note = match &manual {
                    Some((why, _)) => events::Note::warning(why),
                    None => events::Note::rotated(&message),
                };
                events::record(&self.events, events::workload(w), &note).await;
            }
            if let Some((why, _)) = manual {
                done.skipped.push(why);
                continue;
            }
            if let Some(why) = state.partial {
                let why = format!("{w}: {why}");
                tracing::warn!(target_name = %target, workload = %w, "{why}");
                done.skipped.push(why);
            }
            done.workloads_restarted.push(w.to_string());
            restarted.push(w.clone());
        }
        if !dry_run && self.spec.rollout.wait && !restarted.is_empty() {
            rollout::wait(
                &self.client,
                &restarted,
                self.spec.rollout.timeout,
                target,
                progress,
            )
            .await?;
            done.rolled_out = true;
        }
        Ok(done)
    }

    async fn unfinished_rollouts(&self) -> Result<Vec<String>, ConsumerError> {
        let mut pending = Vec::new();
        for w in &self.spec.workloads {
            let state = workloads::state(&self.client, w).await?;
            // A paused Deployment rolls when resumed: nothing to wait for
            // (the standby-sessions gate protects its pods). An OnDelete
            // workload counts until its old pods are deleted.
            let counts = !matches!(state.manual, Some(Manual::Paused(_)));
            if counts && !state.rollout.done() {
                let how = match state.manual {
                    Some(Manual::OnDelete(_)) => " (OnDelete: delete its old pods to roll them)",
                    _ => "",
                };
                pending.push(format!("{w}: {}{how}", state.rollout.detail));
            }
        }
        Ok(pending)
    }

    async fn preflight(
        &self,
        target: &str,
        document: &SecretDocument,
        version: &str,
    ) -> Result<Vec<WriteCheck>, ConsumerError> {
        preflight::check(&self.client, &self.spec, document, version, target).await
    }
}
