//! Consumers: what reads the published credential (Kubernetes Secrets and
//! the workloads that mount them). The engine calls this trait; `k8s`
//! implements it, so no other module knows about Kubernetes.

use crate::progress::Progress;
use crate::rotation::WriteCheck;
use crate::secret::SecretDocument;
use async_trait::async_trait;
use serde::Serialize;

/// Why a sync runs; it goes into Events and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncReason {
    /// Before rotating: repair consumers that lag the store (step 3).
    Heal,
    /// After publishing a new credential (step 9).
    Rotation,
    /// After republishing the previous credential.
    Rollback,
    /// Follow mode: the store was rotated by something else.
    Follow,
}

/// What a sync did (or, under `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Propagation {
    pub secrets_written: Vec<String>,
    pub workloads_restarted: Vec<String>,
    /// Workloads left alone, with why (a paused Deployment).
    pub skipped: Vec<String>,
    /// True when the rollouts were waited for and completed.
    pub rolled_out: bool,
}

impl Propagation {
    pub fn is_empty(&self) -> bool {
        self.secrets_written.is_empty() && self.workloads_restarted.is_empty()
    }
}

#[async_trait]
pub trait Consumers: Send + Sync {
    fn describe(&self) -> String;

    /// Makes every Secret carry `document` (store version `version`) in one
    /// write per Secret, restarts the workloads that still run an older
    /// credential and, if configured, waits for their rollouts. Idempotent:
    /// a second call with the same version changes nothing.
    async fn sync(
        &self,
        target: &str,
        document: &SecretDocument,
        version: &str,
        reason: SyncReason,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<Propagation, ConsumerError>;

    /// Workloads whose latest rollout has not finished: pods from before the
    /// last publish may still be running, so the standby is not yet free.
    async fn unfinished_rollouts(&self) -> Result<Vec<String>, ConsumerError>;

    /// Tries every write a sync of `document` would make, changing
    /// nothing, so a run stops before its first change when one would be
    /// refused. Errs only when the answer says nothing about the write
    /// (the API server unreachable, busy).
    async fn preflight(
        &self,
        target: &str,
        document: &SecretDocument,
        version: &str,
    ) -> Result<Vec<WriteCheck>, ConsumerError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// `rule` is one Kubernetes can authorize: `resourceNames` only for
    /// verbs that name an object (never `create`).
    #[error(
        "kubernetes: {verb} {resource} {object}: forbidden ({message}). Add to seesaw's \
        Role: {rule}{alternative} (see policies/kubernetes/README.md)"
    )]
    Denied {
        verb: String,
        resource: String,
        object: String,
        message: String,
        rule: String,
        alternative: String,
    },
    #[error(
        "kubernetes: {verb} {resource} {object}: refused by admission control ({message}). \
        RBAC allows it: the policy or webhook named there must allow seesaw's write (or exempt \
            seesaw's ServiceAccount)"
    )]
    Refused {
        verb: String,
        resource: String,
        object: String,
        message: String,
    },
    #[error("kubernetes: {count} write(s) would be refused, so nothing was written: {writes}")]
    WouldBeRefused { count: usize, writes: String },
    #[error("kubernetes: {kind} {object} not found: {hint}")]
    NotFound {
        kind: String,
        object: String,
        hint: String,
    },
    #[error("kubernetes: secret {secret}: data key {key}: {message}")]
    Template {
        secret: String,
        key: String,
        message: String,
    },
    #[error(
        "kubernetes: rollout not finished after {waited}: {pending}. The new credential is \
        published and the previous user still works; check the workloads (kubectl rollout \
            status), then run `seesaw rotate` again only after they finish"
    )]
    RolloutTimeout { waited: String, pending: String },
    #[error(
        "kubernetes: rollout of {workload} failed: {message}. The new credential is \
        published and the previous user still works; fix the workload (kubectl rollout status / \
            kubectl describe), then run `seesaw rotate` again only after it finishes"
    )]
    RolloutFailed { workload: String, message: String },
    #[error(
        "kubernetes: secret {secret} is immutable (`immutable: true`), so Kubernetes refuses \
        any change to its data. Delete it and let seesaw create it (pods restarted after that \
            read the new one), or point `kubernetes.secrets` at a new name"
    )]
    Immutable { secret: String },
    #[error("kubernetes: {doing}: {message}")]
    Api {
        doing: String,
        message: String,
        transient: bool,
    },
}

impl ConsumerError {
    /// The preflight's refusals as one error, if it saw any.
    pub fn refusals(writes: &[WriteCheck]) -> Option<ConsumerError> {
        let denied: Vec<String> = writes
            .iter()
            .filter(|w| w.result == crate::rotation::Proof::Denied)
            .map(WriteCheck::describe)
            .collect();
        (!denied.is_empty()).then(|| ConsumerError::WouldBeRefused {
            count: denied.len(),
            writes: denied.join("; "),
        })
    }

    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConsumerError::Api {
                transient: true,
                ..
            }
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ConsumerError::Denied { .. } => "k8s_denied",
            ConsumerError::Refused { .. } => "k8s_refused",
            ConsumerError::WouldBeRefused { .. } => "k8s_preflight",
            ConsumerError::NotFound { .. } => "k8s_not_found",
            ConsumerError::Template { .. } => "k8s_template",
            ConsumerError::RolloutTimeout { .. } => "k8s_rollout_timeout",
            ConsumerError::RolloutFailed { .. } => "k8s_rollout_failed",
            ConsumerError::Immutable { .. } => "k8s_immutable",
            ConsumerError::Api { .. } => "k8s_api",
        }
    }
}

/// Bounds how many syncs (Secret patches, restarts, rollout waits) run at
/// once across all targets: the daemon's `concurrency.rollouts`.
pub struct Limited {
    pub inner: Box<dyn Consumers>,
    pub permits: std::sync::Arc<tokio::sync::Semaphore>,
}

#[async_trait]
impl Consumers for Limited {
    fn describe(&self) -> String {
        self.inner.describe()
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
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ConsumerError::Api {
                doing: "wait for a rollout slot".into(),
                message: "shutting down".into(),
                transient: true,
            })?;
        self.inner
            .sync(target, document, version, reason, dry_run, progress)
            .await
    }

    async fn unfinished_rollouts(&self) -> Result<Vec<String>, ConsumerError> {
        self.inner.unfinished_rollouts().await
    }

    async fn preflight(
        &self,
        target: &str,
        document: &SecretDocument,
        version: &str,
    ) -> Result<Vec<WriteCheck>, ConsumerError> {
        self.inner.preflight(target, document, version).await
    }
}
