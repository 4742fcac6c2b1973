//! How seesaw marks what it writes to Kubernetes: the annotations it
//! reads back, and the field manager every write names.

/// Annotation on Secrets and pod templates: the store version they carry.
pub const VERSION_ANNOTATION: &str = "seesaw.io/credential-version";
/// Annotation on pod templates: when seesaw last restarted the workload.
pub const RESTARTED_AT_ANNOTATION: &str = "seesaw.io/restarted-at";
/// The field manager of every write, so `kubectl get -o yaml
/// --show-managed-fields` says which fields are seesaw's.
pub const FIELD_MANAGER: &str = "seesaw";

fn patch_params() -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn post_params() -> kube::api::PostParams {
    kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// How a sync sends its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Write,
    /// Reads only, and tells what it would write (`--dry-run`, plans).
    Preview,
    /// Sends each write as a server-side dry run (`dryRun=All`): the API
    /// server authenticates, authorizes, admits and validates it and
    /// stores nothing. Sent even when the object already holds the values,
    /// since the run it proves will change them.
    Prove,
}

impl Mode {
    pub fn patch_params(self) -> kube::api::PatchParams {
        kube::api::PatchParams {
            dry_run: self == Mode::Prove,
            ..patch_params()
        }
    }

    pub fn post_params(self) -> kube::api::PostParams {
        kube::api::PostParams {
            dry_run: self == Mode::Prove,
            ..post_params()
        }
    }
}
