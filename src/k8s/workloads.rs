//! Restarting workloads and following their rollouts.

use super::errors::Call;
use super::{RESTARTED_AT_ANNOTATION, VERSION_ANNOTATION};
use crate::config::{WorkloadKind, WorkloadRef};
use crate::consumers::ConsumerError;
use crate::progress::Progress;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(super) struct Rollout {
    pub done: bool,
    pub detail: String,
}

pub(super) struct State {
    /// The credential version on the pod template, if seesaw set one.
    pub version: Option<String>,
    pub paused: bool,
    pub rollout: Rollout,
}

fn resource(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
    }
}

fn call<'a>(w: &'a WorkloadRef, verb: &'a str) -> Call<'a> {
    Call {
        verb,
        group: "apps",
        resource: resource(w.kind),
        namespace: &w.namespace,
        name: &w.name,
    }
}

fn template_version(annotations: Option<&BTreeMap<String, String>>) -> Option<String> {
    annotations.and_then(|a| a.get(VERSION_ANNOTATION)).cloned()
}

/// Has the controller seen the latest spec?
fn observed(meta: &ObjectMeta, observed_generation: Option<i64>) -> bool {
    observed_generation.unwrap_or(0) >= meta.generation.unwrap_or(0)
}

pub(super) async fn state(client: &kube::Client, w: &WorkloadRef) -> Result<State, ConsumerError> {
    let c = client.clone();
    let ns = &w.namespace;
    let not_found = |e: ConsumerError| {
        match e {
        ConsumerError::NotFound { kind, object, .. } => ConsumerError::NotFound {
            kind,
            object,
            hint: format!("{w} is listed under kubernetes.workloads but does not exist; fix the config or create it"),
        },
        other => other,
    }
    };
    let get_err = |e| not_found(call(w, "get").error(e));
    Ok(match w.kind {
        WorkloadKind::Deployment => {
            let d = Api::<Deployment>::namespaced(c, ns)
                .get(&w.name)
                .await
                .map_err(get_err)?;
            let spec = d.spec.unwrap_or_default();
            let status = d.status.unwrap_or_default();
            let want = spec.replicas.unwrap_or(1);
            let updated = status.updated_replicas.unwrap_or(0);
            let total = status.replicas.unwrap_or(0);
            let available = status.available_replicas.unwrap_or(0);
            State {
                version: template_version(
                    spec.template
                        .metadata
                        .as_ref()
                        .and_then(|m| m.annotations.as_ref()),
                ),
                paused: spec.paused.unwrap_or(false),
                rollout: Rollout {
                    // No pod of an older ReplicaSet left: total == updated.
                    done: observed(&d.metadata, status.observed_generation)
                        && updated == want
                        && total == want
                        && available == want,
                    detail: format!(
                        "{updated}/{want} updated, {available} available, {} old",
                        (total - updated).max(0)
                    ),
                },
            }
        }
        WorkloadKind::StatefulSet => {
            let s = Api::<StatefulSet>::namespaced(c, ns)
                .get(&w.name)
                .await
                .map_err(get_err)?;
            let spec = s.spec.unwrap_or_default();
            let status = s.status.unwrap_or_default();
            let want = spec.replicas.unwrap_or(1);
            let updated = status.updated_replicas.unwrap_or(0);
            let ready = status.ready_replicas.unwrap_or(0);
            State {
                version: template_version(
                    spec.template
                        .metadata
                        .as_ref()
                        .and_then(|m| m.annotations.as_ref()),
                ),
                paused: false,
                rollout: Rollout {
                    done: observed(&s.metadata, status.observed_generation)
                        && updated == want
                        && ready == want
                        && status.current_revision == status.update_revision,
                    detail: format!("{updated}/{want} updated, {ready} ready"),
                },
            }
        }
        WorkloadKind::DaemonSet => {
            let d = Api::<DaemonSet>::namespaced(c, ns)
                .get(&w.name)
                .await
                .map_err(get_err)?;
            let spec = d.spec.unwrap_or_default();
            let status = d.status.unwrap_or_default();
            let want = status.desired_number_scheduled;
            let updated = status.updated_number_scheduled.unwrap_or(0);
            let available = status.number_available.unwrap_or(0);
            State {
                version: template_version(
                    spec.template
                        .metadata
                        .as_ref()
                        .and_then(|m| m.annotations.as_ref()),
                ),
                paused: false,
                rollout: Rollout {
                    done: observed(&d.metadata, status.observed_generation)
                        && updated == want
                        && available == want,
                    detail: format!("{updated}/{want} updated, {available} available"),
                },
            }
        }
    })
}

/// Annotates the pod template, which makes the controller roll the pods
/// (what `kubectl rollout restart` does, plus the credential version).
pub(super) async fn restart(
    client: &kube::Client,
    w: &WorkloadRef,
    version: &str,
) -> Result<(), ConsumerError> {
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT_ANNOTATION: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        VERSION_ANNOTATION: version,
    }}}}});
    let params = PatchParams::default();
    let patch = Patch::Merge(&patch);
    let c = client.clone();
    let ns = &w.namespace;
    let result = match w.kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(c, ns)
            .patch(&w.name, &params, &patch)
            .await
            .map(drop),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(c, ns)
            .patch(&w.name, &params, &patch)
            .await
            .map(drop),
        WorkloadKind::DaemonSet => Api::<DaemonSet>::namespaced(c, ns)
            .patch(&w.name, &params, &patch)
            .await
            .map(drop),
    };
    result.map_err(|e| call(w, "patch").error(e))?;
    tracing::info!(workload = %w, version, "restarted");
    Ok(())
}

/// Polls until every workload has rolled out, reporting progress as it
/// changes, up to `timeout`.
pub(super) async fn wait(
    client: &kube::Client,
    workloads: &[WorkloadRef],
    timeout: Duration,
    target: &str,
    progress: &dyn Progress,
) -> Result<(), ConsumerError> {
    let started = Instant::now();
    let mut last: BTreeMap<&WorkloadRef, String> = BTreeMap::new();
    let mut poll = Duration::from_millis(20);
    loop {
        let mut pending = Vec::new();
        for w in workloads {
            let state = state(client, w).await?;
            if last.get(w) != Some(&state.rollout.detail) {
                progress.waiting(target, &format!("{w}: {}", state.rollout.detail));
                last.insert(w, state.rollout.detail.clone());
            }
            if !state.rollout.done {
                pending.push(format!("{w} ({})", state.rollout.detail));
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if progress.cancelled() {
            return Err(ConsumerError::Api {
                doing: "wait for the rollouts".into(),
                message: format!(
                    "stopped for shutdown with rollouts unfinished: {}; the next start resumes",
                    pending.join(", ")
                ),
                transient: true,
            });
        }
        if started.elapsed() >= timeout {
            return Err(ConsumerError::RolloutTimeout {
                waited: crate::duration::format(timeout),
                pending: pending.join(", "),
            });
        }
        // Fast rollouts are noticed quickly, slow ones polled gently.
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(Duration::from_secs(1));
    }
}
