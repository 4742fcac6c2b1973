//! Restarting workloads and following their rollouts.

use super::errors::Call;
use super::writes::{Mode, RESTARTED_AT_ANNOTATION, VERSION_ANNOTATION};
use crate::config::{WorkloadKind, WorkloadRef};
use crate::consumers::ConsumerError;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Patch;
use kube::Api;
use serde_json::json;

/// Where a workload's latest rollout stands, judged the way
/// `kubectl rollout status` judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Phase {
    Done,
    Waiting,
    /// The controller gave up (a Deployment past its progress deadline):
    /// waiting longer cannot help.
    Failed(String),
}

#[derive(Clone)]
pub(super) struct Rollout {
    pub phase: Phase,
    pub detail: String,
}

impl Rollout {
    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }
}

/// A workload whose pods Kubernetes does not replace on a template change.
/// Reported, never waited for.
pub(super) enum Manual {
    /// A paused Deployment: not annotated either (it rolls when resumed).
    Paused(String),
    /// An OnDelete StatefulSet or DaemonSet: annotated, so its status
    /// counts the pods still on the old template, and the next rotation's
    /// rollout gate holds until someone deletes them.
    OnDelete(String),
}

pub(super) struct State {
    /// The credential version on the pod template, if seesaw set one.
    pub version: Option<String>,
    /// Why Kubernetes will not roll this workload's pods by itself.
    pub manual: Option<Manual>,
    /// What a restart leaves on the old credential even when it completes
    /// (a StatefulSet partition), reported after the restart.
    pub partial: Option<String>,
    pub rollout: Rollout,
}

fn resource(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
    }
}

pub(super) fn call<'a>(w: &'a WorkloadRef, verb: &'a str) -> Call<'a> {
    Call {
        verb,
        group: "apps",
        resource: resource(w.kind),
        namespace: &w.namespace,
        name: &w.name,
    }
}

fn template_version(template: &PodTemplateSpec) -> Option<String> {
    template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(VERSION_ANNOTATION))
        .cloned()
}

/// Has the controller seen the latest spec?
fn observed(meta: &ObjectMeta, observed_generation: Option<i64>) -> bool {
    observed_generation.unwrap_or(0) >= meta.generation.unwrap_or(0)
}

fn phase(done: bool) -> Phase {
    if done {
        Phase::Done
    } else {
        Phase::Waiting
    }
}

fn on_delete_manual() -> Manual {
    Manual::OnDelete(
        "updateStrategy OnDelete: Kubernetes does not replace its pods; they keep \
        the previous credential until they are deleted (`kubectl delete pod`), and the next \
            rotation waits until they are"
            .into(),
    )
}

pub(super) fn deployment(d: Deployment) -> State {
    let spec = d.spec.unwrap_or_default();
    let status = d.status.unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let seen = observed(&d.metadata, status.observed_generation);
    let deadline = status.conditions.unwrap_or_default().into_iter().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    let rollout = match deadline {
        Some(c) if seen => Rollout {
            phase: Phase::Failed(format!(
                "ProgressDeadlineExceeded: {}",
                c.message.unwrap_or_default()
            )),
            detail: format!(
                "{updated}/{want} updated, {available} available, past its progress deadline"
            ),
        },
        // No pod of an older ReplicaSet left: total == updated.
        _ => Rollout {
            phase: phase(seen && updated == want && total == want && available == want),
            detail: format!(
                "{updated}/{want} updated, {available} available, {} old",
                (total - updated).max(0)
            ),
        },
    };
    State {
        version: template_version(&spec.template),
        manual: spec.paused.unwrap_or(false).then(|| {
            Manual::Paused(
                "paused, not restarted; `kubectl rollout resume` it to pick up the new credential"
                    .to_owned(),
            )
        }),
        partial: None,
        rollout,
    }
}

pub(super) fn stateful_set(s: StatefulSet) -> State {
    let spec = s.spec.unwrap_or_default();
    let status = s.status.unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let strategy = spec.update_strategy.unwrap_or_default();
    let seen = observed(&s.metadata, status.observed_generation);
    let on_delete = strategy.type_.as_deref() == Some("OnDelete");
    let partition = strategy
        .rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .clamp(0, want);
    // kubectl: with a partition, done once the pods at ordinals >=
    // partition are updated (the revisions never converge); otherwise
    // done when the current revision is the update revision.
    let done = if partition > 0 {
        seen && ready >= want && updated >= want - partition
    } else {
        // The controller never advances currentRevision under OnDelete
        // (seen on the real control plane): there the updated count is
        // the whole answer.
        seen && updated == want
            && ready == want
            && (on_delete || status.current_revision == status.update_revision)
    };
    State {
        version: template_version(&spec.template),
        manual: on_delete.then(on_delete_manual),
        partial: (partition > 0 && !on_delete).then(|| {
            format!(
                "rollingUpdate.partition {partition}: pods with an ordinal below {partition} \
                are not replaced; they keep the previous credential until they are deleted (the \
                    next rotation waits for their sessions on the standby user to end)"
            )
        }),
        rollout: Rollout {
            phase: phase(done),
            detail: if partition > 0 {
                format!(
                    "{updated}/{} updated (partition {partition}), {ready} \
                    ready",
                    want - partition
                )
            } else {
                format!("{updated}/{want} updated, {ready} ready")
            },
        },
    }
}

pub(super) fn daemon_set(d: DaemonSet) -> State {
    let spec = d.spec.unwrap_or_default();
    let status = d.status.unwrap_or_default();
    let want = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    let on_delete = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete");
    State {
        version: template_version(&spec.template),
        manual: on_delete.then(on_delete_manual),
        partial: None,
        rollout: Rollout {
            phase: phase(
                observed(&d.metadata, status.observed_generation)
                    && updated == want
                    && available == want,
            ),
            detail: format!("{updated}/{want} updated, {available} available"),
        },
    }
}

/// A workload kind seesaw restarts: its typed API and how its rollout is
/// judged.
pub(super) trait Workload:
    kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    fn judge(self) -> State;
}

impl Workload for Deployment {
    fn judge(self) -> State {
        deployment(self)
    }
}

impl Workload for StatefulSet {
    fn judge(self) -> State {
        stateful_set(self)
    }
}

impl Workload for DaemonSet {
    fn judge(self) -> State {
        daemon_set(self)
    }
}

/// Something done with a workload through its typed API, whatever its kind.
pub(super) trait OnWorkload {
    type Output;
    fn on<K: Workload>(self, api: Api<K>)
        -> impl std::future::Future<Output = Self::Output> + Send;
}

/// Runs `f` on `w`'s API: the one place the kinds are told apart.
pub(super) async fn with_api<F: OnWorkload>(
    client: &kube::Client,
    w: &WorkloadRef,
    f: F,
) -> F::Output {
    let (c, ns) = (client.clone(), w.namespace.as_str());
    match w.kind {
        WorkloadKind::Deployment => f.on(Api::<Deployment>::namespaced(c, ns)).await,
        WorkloadKind::StatefulSet => f.on(Api::<StatefulSet>::namespaced(c, ns)).await,
        WorkloadKind::DaemonSet => f.on(Api::<DaemonSet>::namespaced(c, ns)).await,
    }
}

pub(super) async fn state(client: &kube::Client, w: &WorkloadRef) -> Result<State, ConsumerError> {
    struct Read<'a>(&'a WorkloadRef);
    impl OnWorkload for Read<'_> {
        type Output = Result<State, ConsumerError>;
        async fn on<K: Workload>(self, api: Api<K>) -> Self::Output {
            let object = api
                .get(&self.0.name)
                .await
                .map_err(|e| get_error(self.0, e))?;
            Ok(object.judge())
        }
    }
    with_api(client, w, Read(w)).await
}

/// A failed GET of a configured workload: a missing one is the config's.
pub(super) fn get_error(w: &WorkloadRef, e: kube::Error) -> ConsumerError {
    failed(w, "get", e)
}

/// A failed request on a configured workload: a missing one is the
/// config's.
fn failed(w: &WorkloadRef, verb: &str, e: kube::Error) -> ConsumerError {
    match call(w, verb).error(e) {
        ConsumerError::NotFound { kind, object, .. } => ConsumerError::NotFound {
            kind,
            object,
            hint: format!(
                "{w} is listed under kubernetes.workloads but does not exist; fix the \
                config or create it"
            ),
        },
        other => other,
    }
}

/// Annotates the pod template, which makes the controller roll the pods
/// (what `kubectl rollout restart` does, plus the credential version).
/// Under `Mode::Prove` the same patch is a server-side dry run.
pub(super) async fn restart(
    client: &kube::Client,
    w: &WorkloadRef,
    version: &str,
    mode: Mode,
) -> Result<(), ConsumerError> {
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT_ANNOTATION: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs,
            true),
        VERSION_ANNOTATION: version,
    }}}}});
    struct Annotate {
        name: String,
        patch: serde_json::Value,
        params: kube::api::PatchParams,
    }
    impl OnWorkload for Annotate {
        type Output = Result<(), kube::Error>;
        async fn on<K: Workload>(self, api: Api<K>) -> Self::Output {
            api.patch(&self.name, &self.params, &Patch::Merge(&self.patch))
                .await
                .map(drop)
        }
    }
    let annotate = Annotate {
        name: w.name.clone(),
        patch,
        params: mode.patch_params(),
    };
    let result = with_api(client, w, annotate).await;
    result.map_err(|e| failed(w, "patch", e))?;
    if mode == Mode::Write {
        tracing::info!(workload = %w, version, "restarted");
    }
    Ok(())
}
