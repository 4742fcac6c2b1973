//! The protocol as decisions: an [`Observation`] of one target goes in, a
//! [`Plan`] of [`Step`]s and gate verdicts comes out. Nothing here does I/O,
//! so every decision is tested without a database; `runtime` carries the
//! steps out.

mod decide;
mod observation;

pub use decide::{rollback, rotate, set_standby};
pub use observation::{
    standby_of, ConsumerView, Observation, PendingView, PoolerView, Proof, WriteCheck,
};

use crate::config::{MembershipPolicy, SessionPolicy};
use serde::Serialize;
use std::time::Duration;

/// The target's rotation policy, from its config.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub sessions: SessionPolicy,
    pub wait_timeout: Duration,
    pub memberships: MembershipPolicy,
    /// `admin: self`: the standby changes its own password.
    pub admin_self: bool,
    /// A missing standby is created like the active user (its memberships
    /// and settings) instead of stopping the rotation: the Lambda's
    /// `<user>_clone` convention.
    pub create_standby: bool,
    /// Some pooler reads an auth_file seesaw writes: the verifier the
    /// database holds must be written there, so a resumed rotation sets
    /// the pending password again (a fresh verifier, the same password)
    /// rather than trusting one it never saw.
    pub pooler_files: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Rotate,
    Rollback,
}

/// Who runs `ALTER ROLE` on the standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The configured admin login.
    Admin,
    /// The standby itself, logged in with the password of the store's
    /// previous version.
    Itself,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Create `role`, able to log in, with the memberships and settings of
    /// `like`, in one transaction (the admin does).
    CreateStandby {
        role: String,
        like: String,
    },
    /// Poll until `role` has no sessions, up to `timeout`.
    WaitForSessions {
        role: String,
        #[serde(with = "secs")]
        timeout: Duration,
    },
    TerminateSessions {
        role: String,
        by: Actor,
    },
    GrantMembership {
        role: String,
        group: String,
    },
    RevokeMembership {
        role: String,
        group: String,
    },
    /// Write the new credential for `username` to the store as pending,
    /// before the database changes (it is then never lost, and the store
    /// is proven writable).
    Stage {
        username: String,
        replaces: String,
    },
    /// Give `role` the pending password.
    SetPassword {
        role: String,
        by: Actor,
    },
    /// Write `role`'s new verifier into the poolers' auth_files and
    /// reload every pooler.
    UpdatePoolers {
        role: String,
    },
    /// Log in as `role` with the password about to be published, directly
    /// and through every pooler.
    Verify {
        role: String,
    },
    /// Make the pending document for `username` current, replacing
    /// `replaces`, after proving the target's lock is still held.
    Publish {
        username: String,
        replaces: String,
    },
    /// Write the published credential into the consumers (Kubernetes
    /// Secrets) and roll the workloads that read it.
    Propagate {
        username: String,
    },
}

impl Step {
    /// Stable name for logs, metrics and failure injection.
    pub fn name(&self) -> &'static str {
        match self {
            Step::CreateStandby { .. } => "create_standby",
            Step::WaitForSessions { .. } => "wait_for_sessions",
            Step::TerminateSessions { .. } => "terminate_sessions",
            Step::GrantMembership { .. } => "grant_membership",
            Step::RevokeMembership { .. } => "revoke_membership",
            Step::Stage { .. } => "stage",
            Step::SetPassword { .. } => "set_password",
            Step::UpdatePoolers { .. } => "update_poolers",
            Step::Verify { .. } => "verify",
            Step::Publish { .. } => "publish",
            Step::Propagate { .. } => "propagate",
        }
    }

    /// What the step does in a run of `action`: a rollback stages and
    /// verifies the previous credential, not a new one.
    pub fn describe_in(&self, action: Action) -> String {
        match (action, self) {
            (Action::Rollback, Step::Stage { username, .. }) => {
                format!("write {username:?}'s previous credential to the store as pending")
            }
            (Action::Rollback, Step::Verify { role }) => {
                format!("log in as {role:?} with its previous password")
            }
            _ => self.describe(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Step::CreateStandby { role, like } => {
                format!("create {role:?} with the memberships and settings of {like:?}")
            }
            Step::WaitForSessions { role, timeout } => format!(
                "wait up to {} for the sessions of {role:?} to close",
                crate::duration::format(*timeout)
            ),
            Step::TerminateSessions { role, .. } => format!("end the sessions of {role:?}"),
            Step::GrantMembership { role, group } => format!("grant {group:?} to {role:?}"),
            Step::RevokeMembership { role, group } => format!("revoke {group:?} from {role:?}"),
            Step::Stage { username, .. } => {
                format!(
                    "generate a new password for {username:?} and write it to the store as pending"
                )
            }
            Step::SetPassword { role, by } => match by {
                Actor::Admin => format!("set the pending password for {role:?}"),
                Actor::Itself => format!("set the pending password for {role:?} (as itself)"),
            },
            Step::UpdatePoolers { role } => format!(
                "write {role:?}'s new verifier into the poolers' auth_files and reload them"
            ),
            Step::Verify { role } => format!("log in as {role:?} with the new password"),
            Step::Publish { username, replaces } => {
                format!(
                    "publish {username:?} as the current credential (replacing version {replaces})"
                )
            }
            Step::Propagate { username } => format!(
                "write {username:?}'s credential into the Kubernetes Secrets and roll the workloads"
            ),
        }
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

/// Which precondition a gate is. Serialized (and a metrics label) as its
/// snake_case word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateName {
    Lock,
    Admin,
    StandbyRole,
    StandbySessions,
    Memberships,
    SelfAdmin,
    Consumers,
    Rollouts,
    Previous,
    Pending,
    Poolers,
    Writes,
}

impl GateName {
    pub const ALL: [GateName; 12] = [
        GateName::Lock,
        GateName::Admin,
        GateName::StandbyRole,
        GateName::StandbySessions,
        GateName::Memberships,
        GateName::SelfAdmin,
        GateName::Consumers,
        GateName::Rollouts,
        GateName::Previous,
        GateName::Pending,
        GateName::Poolers,
        GateName::Writes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GateName::Lock => "lock",
            GateName::Admin => "admin",
            GateName::StandbyRole => "standby_role",
            GateName::StandbySessions => "standby_sessions",
            GateName::Memberships => "memberships",
            GateName::SelfAdmin => "self_admin",
            GateName::Consumers => "consumers",
            GateName::Rollouts => "rollouts",
            GateName::Previous => "previous",
            GateName::Pending => "pending",
            GateName::Poolers => "poolers",
            GateName::Writes => "writes",
        }
    }
}

impl std::fmt::Display for GateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One precondition of acting on the standby, and how it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub name: GateName,
    pub verdict: Verdict,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Not satisfied, but a step of the plan deals with it.
    Handled,
    /// Not satisfied; `--force` would proceed anyway.
    Blocked,
    /// Not satisfied; nothing can proceed until it is fixed.
    Impossible,
    /// Was blocked; `--force` proceeds anyway.
    Overridden,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub target: String,
    pub action: Action,
    /// The user applications use now, and the one they will use after.
    pub from: String,
    pub to: String,
    pub current_version: String,
    pub gates: Vec<Gate>,
    pub steps: Vec<Step>,
}

impl Plan {
    /// The gates that stop this plan, if any.
    pub fn blockers(&self) -> Vec<&Gate> {
        self.gates
            .iter()
            .filter(|g| matches!(g.verdict, Verdict::Blocked | Verdict::Impossible))
            .collect()
    }

    pub fn is_blocked(&self) -> bool {
        !self.blockers().is_empty()
    }
}
