//! Leader election through a coordination.k8s.io Lease (kube-lease-manager):
//! several replicas run, one holds the Lease and rotates; if it dies, the
//! Lease expires and another takes over within its duration.

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

/// Starts competing for the Lease; the receiver says whether this process
/// is the leader now. Dropping the receiver ends the competition and
/// releases the Lease.
pub async fn elect(
    client: kube::Client,
    settings: LeaseSettings,
) -> Result<watch::Receiver<bool>, ConsumerError> {
    let seconds = settings.duration.as_secs().max(2);
    let manager = LeaseManagerBuilder::new(client, &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(seconds)
        .with_grace((seconds / 3).max(1))
        .build()
        .await
        .map_err(|e| ConsumerError::Api {
            doing: format!("set up leader election on Lease {}/{}", settings.namespace, settings.name),
            message: format!("{}; seesaw's Role needs get, create and patch on leases (see policies/kubernetes/README.md)", crate::reason::headline(&e)),
            transient: true,
        })?;
    let (channel, task) = manager.watch().await;
    let lease = format!("{}/{}", settings.namespace, settings.name);
    tokio::spawn(async move {
        match task.await {
            Ok(Ok(_)) => tracing::info!(lease = %lease, "left leader election"),
            Ok(Err(e)) => tracing::error!(lease = %lease, error = %e, "leader election stopped"),
            Err(e) => tracing::error!(lease = %lease, error = %e, "leader election task failed"),
        }
    });
    Ok(channel)
}

/// The pod's namespace from its service account, when running in one.
pub fn own_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
