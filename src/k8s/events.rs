//! Kubernetes Events on what seesaw touched, through kube's event
//! `Recorder` (events.k8s.io/v1). Best effort: a failed Event is logged,
//! never fails a rotation. Messages name users and versions, never a
//! secret value.
//!
//! The Recorder folds a repeat of the same Event (same object, reason and
//! action) within 6 minutes into a series on the first one, which keeps the
//! first note: rotations are hours apart, so in practice each has its own
//! Event; the version is also on the Secret and the pod template.

use crate::config::{SecretSpec, WorkloadKind, WorkloadRef};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

pub const REASON: &str = "CredentialRotated";
/// On a workload seesaw could not roll (paused, OnDelete).
pub const NOT_ROLLED: &str = "CredentialNotRolledOut";

/// The recorder of one Kubernetes consumer: controller `seesaw`, instance
/// the pod's name (HOSTNAME) when there is one.
pub(super) fn recorder(client: &kube::Client) -> Recorder {
    Recorder::new(
        client.clone(),
        Reporter {
            controller: "seesaw".into(),
            instance: std::env::var("HOSTNAME").ok(),
        },
    )
}

/// What an Event says.
pub(super) struct Note<'a> {
    reason: &'static str,
    kind: EventType,
    message: &'a str,
}

impl<'a> Note<'a> {
    pub fn rotated(message: &'a str) -> Self {
        Note {
            reason: REASON,
            kind: EventType::Normal,
            message,
        }
    }

    pub fn warning(message: &'a str) -> Self {
        Note {
            reason: NOT_ROLLED,
            kind: EventType::Warning,
            message,
        }
    }
}

/// The object an Event is about.
pub(super) fn secret(spec: &SecretSpec) -> ObjectReference {
    reference("v1", "Secret", &spec.namespace, &spec.name)
}

pub(super) fn workload(w: &WorkloadRef) -> ObjectReference {
    let kind = match w.kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::DaemonSet => "DaemonSet",
    };
    reference("apps/v1", kind, &w.namespace, &w.name)
}

fn reference(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..Default::default()
    }
}

pub(super) async fn record(recorder: &Recorder, subject: ObjectReference, note: &Note<'_>) {
    let event = Event {
        type_: note.kind,
        reason: note.reason.into(),
        note: Some(note.message.into()),
        action: "Rotate".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &subject).await {
        tracing::warn!(kind = ?subject.kind, name = ?subject.name, namespace = ?subject.namespace,
            error = %e, "could not record a Kubernetes Event");
    }
}
