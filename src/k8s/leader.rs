//! Leader election through a coordination.k8s.io Lease (kube-lease-manager):
//! several replicas run, one holds the Lease and rotates; if it dies, the
//! Lease expires and another takes over within its duration. A replica
//! that stops gives the Lease up first ([`Resign`]), so its successor
//! takes over at once.

use crate::consumers::ConsumerError;
use kube_lease_manager::LeaseManagerBuilder;
use std::time::Duration;
use tokio::sync::watch;

pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration: Duration,
}

/// Gives the Lease up when the process stops.
pub struct Resign {
    now: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

impl Resign {
    /// Leaves the election and waits, at most `limit`, until the Lease is
    /// released (the API server has it free for the others).
    pub async fn resign(self, limit: Duration) {
        let _ = self.now.send(());
        if tokio::time::timeout(limit, self.done).await.is_err() {
            tracing::warn!(
                "the Lease was not released within {}; the others take over when it expires",
                crate::duration::format(limit)
            );
        }
    }
}

/// Starts competing for the Lease; the receiver says whether this process
/// is the leader now. [`Resign::resign`] ends the competition and releases
/// the Lease.
pub async fn elect(
    client: kube::Client,
    settings: LeaseSettings,
) -> Result<(watch::Receiver<bool>, Resign), ConsumerError> {
    let seconds = settings.duration.as_secs().max(2);
    let manager = LeaseManagerBuilder::new(client, &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(seconds)
        .with_grace((seconds / 3).max(1))
        .build()
        .await
        .map_err(|e| ConsumerError::Api {
            doing: format!(
                "set up leader election on Lease \
                {}/{}",
                settings.namespace, settings.name
            ),
            message: format!(
                "{}; seesaw's Role needs get, create and patch on leases (see \
                policies/kubernetes/README.md)",
                crate::reason::headline(&e)
            ),
            transient: true,
        })?;
    let (mut channel, task) = manager.watch().await;
    let lease = format!("{}/{}", settings.namespace, settings.name);
    // The manager releases the Lease once every receiver of its channel
    // is gone; the daemon's copies live as long as its tasks do, so they
    // get a relay, and this task holds the manager's only receiver.
    let (relay, leader) = watch::channel(*channel.borrow_and_update());
    let (now, resign) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        tokio::pin!(resign);
        loop {
            tokio::select! {
                changed = channel.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    relay.send_replace(*channel.borrow_and_update());
                }
                _ = &mut resign => break,
            }
        }
        relay.send_replace(false);
        drop(channel);
        match task.await {
            Ok(Ok(_)) => {
                tracing::info!(lease = %lease, "left leader election; the Lease is released")
            }
            Ok(Err(e)) => tracing::error!(lease = %lease, error = %e, "leader election stopped"),
            Err(e) => tracing::error!(lease = %lease, error = %e, "leader election task failed"),
        }
    });
    Ok((leader, Resign { now, done }))
}

/// The pod's namespace from its service account, when running in one.
pub fn own_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
