//! What the runtime saw of one target before deciding: the input of
//! every decision.

use serde::Serialize;
use std::collections::BTreeSet;

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
