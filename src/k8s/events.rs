//! Kubernetes Events on what seesaw touched. Best effort: a failed Event is
//! logged, never fails a rotation. Messages name users and versions, never
//! a secret value.

use crate::config::{SecretSpec, WorkloadKind, WorkloadRef};
use k8s_openapi::api::core::v1::Event;
use kube::Api;

pub const REASON: &str = "CredentialRotated";
/// On a workload seesaw could not roll (paused, OnDelete).
pub const NOT_ROLLED: &str = "CredentialNotRolledOut";

/// What an Event says.
pub(super) struct Note<'a> {
    reason: &'static str,
    kind: &'static str,
    message: &'a str,
}

impl<'a> Note<'a> {
    pub fn rotated(message: &'a str) -> Self {
        Note {
            reason: REASON,
            kind: "Normal",
            message,
        }
    }

    pub fn warning(message: &'a str) -> Self {
        Note {
            reason: NOT_ROLLED,
            kind: "Warning",
            message,
        }
    }
}

pub(super) struct Subject {
    kind: &'static str,
    api_version: &'static str,
    namespace: String,
    name: String,
}

impl Subject {
    pub fn secret(spec: &SecretSpec) -> Self {
        Subject {
            kind: "Secret",
            api_version: "v1",
            namespace: spec.namespace.clone(),
            name: spec.name.clone(),
        }
    }

    pub fn workload(w: &WorkloadRef) -> Self {
        let kind = match w.kind {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        };
        Subject {
            kind,
            api_version: "apps/v1",
            namespace: w.namespace.clone(),
            name: w.name.clone(),
        }
    }
}

pub(super) async fn record(client: &kube::Client, subject: Subject, note: &Note<'_>) {
    let now = chrono::Utc::now();
    let micro = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let secs = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": format!("{}.", subject.name), "namespace": subject.namespace},
        "involvedObject": {
            "apiVersion": subject.api_version,
            "kind": subject.kind,
            "name": subject.name,
            "namespace": subject.namespace,
        },
        "reason": note.reason,
        "message": note.message,
        "type": note.kind,
        "action": "Rotate",
        "source": {"component": "seesaw"},
        "reportingComponent": "seesaw",
        "reportingInstance": std::env::var("HOSTNAME").unwrap_or_else(|_| "seesaw".into()),
        "firstTimestamp": secs,
        "lastTimestamp": secs,
        "eventTime": micro,
        "count": 1,
    });
    let event: Event = match serde_json::from_value(event) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "could not build a Kubernetes Event");
            return;
        }
    };
    let api: Api<Event> = Api::namespaced(client.clone(), &subject.namespace);
    let params = super::post_params();
    if let Err(e) = api.create(&params, &event).await {
        tracing::warn!(kind = subject.kind, name = %subject.name, namespace = %subject.namespace, error = %e, "could not record a Kubernetes Event");
    }
}
