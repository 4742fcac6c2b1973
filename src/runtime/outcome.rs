//! What each step did, as data. A step returns its [`Outcome`]; the
//! driver (`run.rs`) records it in the run's [`RunState`], where later steps
//! read what they need (the staged credential, the verifier, the published
//! version), and the report's line for the step is [`Outcome::detail`].
//! Each fact is kept once: in the outcome of the step that produced it.

use crate::consumers::Propagation;
use crate::secret::{Credential, SecretDocument};
use secrecy::SecretString;
use std::time::Duration;

/// A credential written as the store's pending version (by this run, or
/// by one that did not finish): the only one set_password ever sets.
pub(super) struct Staged {
    pub(super) credential: Credential,
    pub(super) document: SecretDocument,
    pub(super) version: String,
}

/// One run so far: the pending version it resumes, if any, and what its
/// steps did, in order.
pub(super) struct RunState {
    /// Idempotency token of this run's stage: a retried call reuses it, a
    /// new run (with a new password) gets a new one.
    pub(super) token: String,
    /// A pending version for the plan's standby left by a run that did not
    /// finish (or staged by the Lambda's createSecret).
    resumed: Option<Staged>,
    outcomes: Vec<Outcome>,
}

impl RunState {
    pub(super) fn new(token: String, resumed: Option<Staged>) -> Self {
        RunState {
            token,
            resumed,
            outcomes: Vec::new(),
        }
    }

    pub(super) fn record(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }

    /// The pending version: the one this run staged, else the one it
    /// resumes. Its credential is the only one set_password ever sets.
    pub(super) fn staged(&self) -> Option<&Staged> {
        self.outcomes
            .iter()
            .rev()
            .find_map(|o| match o {
                Outcome::Staged(staged) => Some(staged),
                _ => None,
            })
            .or(self.resumed.as_ref())
    }

    /// The verifier set_password gave the database, for the poolers'
    /// auth_files.
    pub(super) fn verifier(&self) -> Option<&SecretString> {
        self.outcomes.iter().rev().find_map(|o| match o {
            Outcome::PasswordSet { verifier, .. } => Some(verifier),
            _ => None,
        })
    }

    /// What publish made current, and its version, for propagate.
    pub(super) fn published(&self) -> Option<(&SecretDocument, &str)> {
        self.outcomes.iter().rev().find_map(|o| match o {
            Outcome::Published { document, version } => Some((document, version.as_str())),
            _ => None,
        })
    }
}

pub(super) enum Outcome {
    /// Nothing holds the standby's credential any more.
    SessionsClosed {
        waited: Duration,
    },
    SessionsEnded {
        count: u64,
    },
    StandbyCreated {
        memberships: usize,
        settings: usize,
    },
    MembershipGranted {
        group: String,
    },
    MembershipRevoked {
        group: String,
    },
    /// The new credential, durable in the store as its pending version.
    Staged(Staged),
    /// The database holds the staged password, given as `verifier` (the
    /// poolers' auth_files take the same one).
    PasswordSet {
        verifier: SecretString,
        postgres: bool,
    },
    /// What was written to each auth_file, and the reloads.
    PoolersUpdated {
        written: Vec<String>,
        reloaded: usize,
    },
    /// The new credential logged in, directly and through `poolers`.
    Verified {
        poolers: usize,
    },
    /// `document` is current in the store, as `version`.
    Published {
        document: SecretDocument,
        version: String,
    },
    Propagated(Propagation),
}

impl Outcome {
    /// The report's line for the step.
    pub(super) fn detail(&self) -> String {
        match self {
            Outcome::SessionsClosed { waited } => {
                format!("sessions closed after {}s", waited.as_secs())
            }
            Outcome::SessionsEnded { count } => format!("ended {count} session(s)"),
            Outcome::StandbyCreated {
                memberships,
                settings,
            } => format!("created with {memberships} membership(s) and {settings} setting(s)"),
            Outcome::MembershipGranted { group } => format!("granted {group:?}"),
            Outcome::MembershipRevoked { group } => format!("revoked {group:?}"),
            Outcome::Staged(staged) => format!("pending version {}", staged.version),
            Outcome::PasswordSet { postgres: true, .. } => {
                "password set (SCRAM-SHA-256 verifier)".into()
            }
            Outcome::PasswordSet {
                postgres: false, ..
            } => "password set (sent as the account plugin's hash)".into(),
            Outcome::PoolersUpdated { written, reloaded } => {
                let mut parts = written.clone();
                parts.push(format!("reloaded {reloaded} pooler(s)"));
                parts.join("; ")
            }
            Outcome::Verified { poolers: 0 } => "login verified".into(),
            Outcome::Verified { poolers } => {
                format!("login verified, directly and through {poolers} pooler(s)")
            }
            Outcome::Published { version, .. } => version.clone(),
            Outcome::Propagated(p) => describe_propagation(p),
        }
    }
}

fn describe_propagation(p: &Propagation) -> String {
    let mut parts = vec![
        format!("{} secret(s) written", p.secrets_written.len()),
        format!("{} workload(s) restarted", p.workloads_restarted.len()),
    ];
    if p.rolled_out {
        parts.push("rolled out".into());
    }
    if !p.skipped.is_empty() {
        parts.push(format!("skipped: {}", p.skipped.join("; ")));
    }
    parts.join(", ")
}
