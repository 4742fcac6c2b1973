//! Who rotates: leader election (a Kubernetes Lease, or this process
//! alone), and the heal a replica runs when it starts to lead or reloads
//! its config.

use super::shared::Shared;
use crate::config::{Config, LeaderMode};
use crate::error::Error;
use crate::progress::Progress;
use crate::runtime::{Engine, EngineOptions};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

struct Logged;
impl Progress for Logged {
    fn waiting(&self, target: &str, message: &str) {
        tracing::info!(target_name = %target, "{message}");
    }
}

/// Whether this process leads, and how it gives the lead up.
pub(super) struct Leadership {
    pub leader: watch::Receiver<bool>,
    #[cfg(feature = "kubernetes")]
    lease: Option<crate::k8s::leader::Resign>,
}

impl Leadership {
    /// At shutdown: the Lease (if any) is released, so another replica
    /// takes over at once rather than when it expires.
    pub async fn resign(self, limit: Duration) {
        #[cfg(feature = "kubernetes")]
        if let Some(lease) = self.lease {
            lease.resign(limit).await;
        }
        let _ = limit;
    }
}

/// Leader when the Lease says so (in a cluster, or when asked), else always.
pub(super) async fn elect(config: &Config, options: &EngineOptions) -> Result<Leadership, Error> {
    let le = &config.daemon.leader_election;
    let lease = match le.enabled {
        LeaderMode::Never => false,
        LeaderMode::Always => true,
        LeaderMode::Auto => std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
    };
    if !lease {
        let (tx, rx) = watch::channel(true);
        tokio::spawn(async move { tx.closed().await });
        return Ok(Leadership {
            leader: rx,
            #[cfg(feature = "kubernetes")]
            lease: None,
        });
    }
    lease_election(config, options).await
}

#[cfg(feature = "kubernetes")]
async fn lease_election(config: &Config, options: &EngineOptions) -> Result<Leadership, Error> {
    let le = &config.daemon.leader_election;
    let wrap = |source| Error::Consumers {
        target: "-".into(),
        doing: "leader election".into(),
        source,
    };
    let client = crate::k8s::client(
        options.kube_context.as_deref(),
        options.kubeconfig.as_deref(),
    )
    .await
    .map_err(wrap)?;
    let settings = crate::k8s::leader::LeaseSettings {
        name: le.lease.clone().unwrap_or_else(|| "seesaw".into()),
        namespace: le
            .namespace
            .clone()
            .or_else(crate::k8s::leader::own_namespace)
            .unwrap_or_else(|| "default".into()),
        identity: format!(
            "{}-{:08x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "seesaw".into()),
            rand::random::<u32>()
        ),
        duration: le.duration.unwrap_or(Duration::from_secs(15)),
    };
    tracing::info!(lease = %settings.name, namespace = %settings.namespace,
        identity = %settings.identity, "joining leader election");
    let (leader, lease) = crate::k8s::leader::elect(client, settings)
        .await
        .map_err(wrap)?;
    Ok(Leadership {
        leader,
        lease: Some(lease),
    })
}

#[cfg(not(feature = "kubernetes"))]
async fn lease_election(config: &Config, _: &EngineOptions) -> Result<Leadership, Error> {
    Err(Error::Config(crate::config::ConfigError {
        file: config.path.display().to_string(),
        target: None,
        key: "leader_election.enabled".into(),
        message: "leader election takes a Kubernetes Lease, and this seesaw was built without \
            the `kubernetes` feature; set `enabled: false` (one replica) or use a build with \
                it"
        .into(),
    }))
}

pub(super) async fn follow_leadership(
    shared: Arc<Shared>,
    mut leader: watch::Receiver<bool>,
    engines: Arc<Vec<Arc<Engine>>>,
    stop: CancellationToken,
) {
    let mut was = false;
    loop {
        let is = *leader.borrow_and_update();
        shared.metrics.leader(is);
        shared
            .readiness
            .write()
            .map(|mut r| r.leader = Some(is))
            .ok();
        if is != was {
            tracing::info!(
                leader = is,
                "{}",
                if is {
                    "this replica leads and rotates"
                } else {
                    "another replica leads"
                }
            );
        }
        if is && !was {
            heal(&engines).await;
        }
        was = is;
        tokio::select! {
            changed = leader.changed() => if changed.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

pub(super) async fn heal_if_leader(shared: Arc<Shared>, engines: Arc<Vec<Arc<Engine>>>) {
    if *shared.leader.borrow() {
        heal(&engines).await;
    }
}

/// Step 3 at start: Secrets that lag their store are patched at once.
async fn heal(engines: &[Arc<Engine>]) {
    for engine in engines.iter().filter(|e| e.has_consumers()) {
        match engine
            .follow(Duration::ZERO, true, &Logged, std::future::pending())
            .await
        {
            Ok(passes) => {
                for p in passes.iter().filter(|p| !p.propagation.is_empty()) {
                    tracing::info!(target_name = %p.target, version = %p.version,
                        secrets = ?p.propagation.secrets_written,
                            workloads = ?p.propagation.workloads_restarted, "healed at start");
                }
            }
            Err(e) => {
                tracing::error!(target_name = %engine.name(), kind = e.kind(), "heal at start \
                    failed: {e}")
            }
        }
    }
}
