//! How seesaw marks what it writes to Kubernetes: the annotations it
//! reads back, and the field manager every write names.

/// Annotation on Secrets and pod templates: the store version they carry.
pub const VERSION_ANNOTATION: &str = "seesaw.io/credential-version";
/// Annotation on pod templates: when seesaw last restarted the workload.
pub const RESTARTED_AT_ANNOTATION: &str = "seesaw.io/restarted-at";
/// The field manager of every write, so `kubectl get -o yaml
/// --show-managed-fields` says which fields are seesaw's.
pub const FIELD_MANAGER: &str = "seesaw";

pub(super) fn patch_params() -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

pub(super) fn post_params() -> kube::api::PostParams {
    kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}
