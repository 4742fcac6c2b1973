//! The protocol as decisions: an [`Observation`] of one target goes in, a
//! [`Plan`] of [`Step`]s and gate verdicts comes out. Nothing here does I/O,
//! so every decision is tested without a database; `runtime` carries the
//! steps out.

mod decide;

pub use decide::{rollback, rotate};

use crate::config::{MembershipPolicy, SessionPolicy};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// What the runtime saw, under the target's lock, before deciding.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    pub target: String,
    pub users: [String; 2],
    /// The user named by the store's current document.
    pub active: String,
    pub current_version: String,
    /// The user and version of the store's previous document, if any.
    pub previous: Option<(String, String)>,
    /// Whether the previous credential logs in, where the run asked (a
    /// rollback and its previews do: it is what they would publish).
    pub previous_logs_in: Option<bool>,
    /// False when another process holds the target's lock.
    pub lock_acquired: bool,
    pub standby_exists: bool,
    pub standby_sessions: u64,
    pub active_memberships: BTreeSet<String>,
    pub standby_memberships: BTreeSet<String>,
    /// Why the admin cannot set the standby's password (the missing
    /// grant), when it cannot.
    pub admin_cannot: Option<String>,
    /// What reads the credential, when the target has consumers.
    pub consumers: Option<ConsumerView>,
    /// A version staged by a rotation that did not finish.
    pub pending: Option<PendingView>,
    /// The connection poolers in front of the database (empty: none).
    pub poolers: Vec<PoolerView>,
}

/// One connection pooler (PgBouncer) as seen before deciding.
#[derive(Debug, Clone, Serialize)]
pub struct PoolerView {
    /// "pgbouncer 127.0.0.1:6432".
    pub name: String,
    /// "auth_file /etc/pgbouncer/userlist.txt" or "auth_query".
    pub mode: String,
    pub version: String,
    /// Its clients logged in as the standby.
    pub clients: u64,
    /// How its auth_file stands ("writable"), empty under auth_query.
    pub file: String,
    /// Why seesaw cannot use it (console unreachable, file not writable).
    pub problem: Option<String>,
}

/// The store's pending version, as seen under the lock.
#[derive(Debug, Clone, Serialize)]
pub struct PendingView {
    pub username: String,
    pub version: String,
    /// The pending credential logs in now: the run that staged it got as
    /// far as `ALTER ROLE`.
    pub logs_in: bool,
    /// What a person does to remove it (store-specific).
    pub clear_hint: String,
    /// Why seesaw would not have written this version (a password its
    /// policy would not generate, fields of the current document missing
    /// or changed): then it is not resumed.
    pub foreign: Option<String>,
}

/// The consumers as seen before deciding.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConsumerView {
    /// Secrets and workloads healed to the store's current version (under
    /// `plan`, those that would be).
    pub healed: Vec<String>,
    /// Workloads whose latest rollout has not finished.
    pub unfinished_rollouts: Vec<String>,
    /// Every write the run will make to the consumers, proven possible (or
    /// not) before anything changes: the preflight.
    pub writes: Vec<WriteCheck>,
}

/// One write a run will make, tried without effect before the first
/// change: a server-side dry run of the exact request, or an access review
/// where no dry run exists (a watch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteCheck {
    /// What is written: "Secret shop/app-db", "Deployment shop/api",
    /// "Events in shop".
    pub object: String,
    /// The request: "patch", "create", "watch".
    pub verb: String,
    pub result: Proof,
    /// How it was proven, or what refused it and the fix.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    Allowed,
    /// The run would fail at this write: nothing may change.
    Denied,
    /// Best effort (Events): the run goes on without it, and says so.
    Warning,
}

impl WriteCheck {
    pub fn describe(&self) -> String {
        format!("{} {}: {}", self.verb, self.object, self.detail)
    }
}

impl Observation {
    /// Sessions in the database plus clients of the poolers: everything
    /// that may still hold the standby's credential.
    pub fn standby_in_use(&self) -> u64 {
        self.standby_sessions + self.poolers.iter().map(|p| p.clients).sum::<u64>()
    }

    /// The preflight's writes (none without consumers).
    pub fn writes(&self) -> Vec<WriteCheck> {
        self.consumers
            .as_ref()
            .map(|c| c.writes.clone())
            .unwrap_or_default()
    }

    pub fn standby(&self) -> &str {
        standby_of(&self.users, &self.active)
    }
}

/// The user of the pair that is not `active`: the one a rotation changes.
/// The one place the pair is told apart.
pub fn standby_of<'a>(users: &'a [String; 2], active: &str) -> &'a str {
    if users[0] == active {
        &users[1]
    } else {
        &users[0]
    }
}

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

/// One precondition of acting on the standby, and how it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    /// A fixed word (metrics label): lock, standby_role, standby_sessions,
    /// memberships, self_admin.
    pub name: &'static str,
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
