//! The gates a plan is decided by, one function each: the target's lock,
//! the poolers, the standby's sessions, the consumers' rollouts and
//! `admin: self`'s previous password. Each returns the gate with its
//! verdict and the detail a person acts on; `rotate` adds the steps.

use crate::config::SessionPolicy;
use crate::rotation::{
    Actor, ConsumerView, Gate, GateName, Observation, Policy, PoolerView, Proof, Step, Verdict,
};

pub(super) fn gate(name: GateName, verdict: Verdict, detail: impl Into<String>) -> Gate {
    Gate {
        name,
        verdict,
        detail: detail.into(),
    }
}

pub(super) fn lock_gate(obs: &Observation) -> Gate {
    if obs.lock_acquired {
        gate(GateName::Lock, Verdict::Pass, "advisory lock taken")
    } else {
        gate(
            GateName::Lock,
            Verdict::Impossible,
            format!(
                "another seesaw process holds the advisory lock of target {:?}; wait for it to \
                    finish",
                obs.target
            ),
        )
    }
}

/// The poolers' readiness: each must answer on its admin console (to
/// count clients and reload) and have a writable auth_file, if it has one.
pub(super) fn pooler_gate(obs: &Observation) -> Option<Gate> {
    if obs.poolers.is_empty() {
        return None;
    }
    let describe = |p: &PoolerView| {
        let mut parts = vec![p.mode.clone()];
        if !p.version.is_empty() {
            parts.push(format!("PgBouncer {}", p.version));
        }
        if !p.file.is_empty() {
            parts.push(format!("auth_file {}", p.file));
        }
        format!("{} ({})", p.name, parts.join(", "))
    };
    let problems: Vec<String> = obs
        .poolers
        .iter()
        .filter_map(|p| p.problem.as_ref().map(|why| format!("{}: {why}", p.name)))
        .collect();
    Some(if problems.is_empty() {
        gate(
            GateName::Poolers,
            Verdict::Pass,
            obs.poolers
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else {
        gate(
            GateName::Poolers,
            Verdict::Impossible,
            format!(
                "{}; every pooler of the target takes part in each rotation (its clients are \
                    counted, it is reloaded and logged in through), so nothing was changed",
                problems.join("; ")
            ),
        )
    })
}

/// Whether anything still uses the standby: its sessions in the database
/// and its clients on every pooler (a pooler client keeps the credential
/// it logged in with, though the database no longer sees it once its
/// server connection is recycled).
pub(super) fn sessions_gate(
    obs: &Observation,
    policy: &Policy,
    force: bool,
    already_set: bool,
    standby: &str,
    by: Actor,
) -> (Gate, Option<Step>) {
    let n = obs.standby_in_use();
    if already_set {
        return only(gate(
            GateName::StandbySessions,
            Verdict::Pass,
            format!("{standby:?} already has the pending password"),
        ));
    }
    if n == 0 {
        return only(gate(
            GateName::StandbySessions,
            Verdict::Pass,
            if obs.poolers.is_empty() {
                format!("{standby:?} has no sessions")
            } else {
                format!("{standby:?} has no sessions and no pooler clients")
            },
        ));
    }
    let plural = |k: u64| if k == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if obs.standby_sessions > 0 || obs.poolers.is_empty() {
        let m = obs.standby_sessions;
        parts.push(format!("{m} open session{} in the database", plural(m)));
    }
    let pooled: Vec<&PoolerView> = obs.poolers.iter().filter(|p| p.clients > 0).collect();
    for p in &pooled {
        parts.push(format!(
            "{} client{} of {}",
            p.clients,
            plural(p.clients),
            p.name
        ));
    }
    let what = format!("{standby:?} has {}", parts.join(" and "));
    let find = if pooled.is_empty() {
        "Find them in pg_stat_activity".to_owned()
    } else {
        format!(
            "Find them in pg_stat_activity and with SHOW CLIENTS on {}",
            pooled
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let g = |verdict, detail: String| gate(GateName::StandbySessions, verdict, detail);
    let wait = || Step::WaitForSessions {
        role: standby.to_owned(),
        timeout: policy.wait_timeout,
    };
    let terminate = || Step::TerminateSessions {
        role: standby.to_owned(),
        by,
    };
    match policy.sessions {
        SessionPolicy::Fail if force => only(g(
            Verdict::Overridden,
            format!("{what}; rotating anyway (--force): their next login will fail"),
        )),
        SessionPolicy::Fail => only(g(
            Verdict::Blocked,
            format!(
                "{what}; something still uses the standby's credential (standby_sessions: \
                fail). {find}, or set standby_sessions: wait | terminate"
            ),
        )),
        SessionPolicy::Wait => (
            g(
                Verdict::Handled,
                format!("{what}; waiting for them to close"),
            ),
            Some(wait()),
        ),
        // Ending a database session does not end a pooler's client: it
        // keeps its credential and logs in again with it. PgBouncer ends
        // one client only with KILL_CLIENT (1.24+), which seesaw does not
        // send: it would end the client's transaction mid-flight too.
        SessionPolicy::Terminate if !pooled.is_empty() && force => (
            g(
                Verdict::Overridden,
                format!(
                    "{what}; rotating anyway (--force): the database sessions are ended, the \
                    pooler clients cannot be and their next login will fail"
                ),
            ),
            Some(terminate()),
        ),
        SessionPolicy::Terminate if !pooled.is_empty() => only(g(
            Verdict::Blocked,
            format!(
                "{what}; standby_sessions: terminate ends database sessions only \
                (pg_terminate_backend); a pooler's clients keep the old credential and would \
                    fail at their next server login. Stop those applications, or use \
                        standby_sessions: wait. {find}"
            ),
        )),
        SessionPolicy::Terminate => (
            g(Verdict::Handled, format!("{what}; they will be ended")),
            Some(terminate()),
        ),
    }
}

/// A gate no step deals with.
fn only(g: Gate) -> (Gate, Option<Step>) {
    (g, None)
}

/// The rollout half of the standby gate: pods started before the last
/// publish may still hold the standby's credential until their workload has
/// rolled out. A heal counts as handled: it ran (or would run) first.
pub(super) fn consumer_gates(view: &ConsumerView, standby: &str, force: bool) -> Vec<Gate> {
    let mut gates = vec![writes_gate(view)];
    if !view.healed.is_empty() {
        gates.push(gate(
            GateName::Consumers,
            Verdict::Handled,
            format!(
                "out of date with the store, healed first: {}",
                view.healed.join(", ")
            ),
        ));
    }
    let rollouts = if view.unfinished_rollouts.is_empty() {
        gate(
            GateName::Rollouts,
            Verdict::Pass,
            "every workload has finished its rollout",
        )
    } else {
        let pending = view.unfinished_rollouts.join("; ");
        if force {
            gate(
                GateName::Rollouts,
                Verdict::Overridden,
                format!(
                    "rotating anyway (--force) while rollouts are unfinished: {pending}; \
                    pods still using {standby:?} will fail to log in"
                ),
            )
        } else {
            gate(
                GateName::Rollouts,
                Verdict::Blocked,
                format!(
                    "unfinished rollout: {pending}; pods from before the last publish may \
                    still use {standby:?}. Wait for the rollout (kubectl rollout status) and run \
                        again"
                ),
            )
        }
    };
    gates.push(rollouts);
    gates
}

pub(super) fn self_admin_gate(obs: &Observation, standby: &str) -> Gate {
    match &obs.previous {
        Some((user, _)) if user == standby => gate(
            GateName::SelfAdmin,
            Verdict::Pass,
            format!("the store's previous version holds {standby:?}'s password"),
        ),
        Some((user, _)) => gate(
            GateName::SelfAdmin,
            Verdict::Impossible,
            format!(
                "`admin: self` needs {standby:?}'s password in the store's previous version, \
                but that version is for {user:?}; rotate once with an admin login"
            ),
        ),
        None => gate(
            GateName::SelfAdmin,
            Verdict::Impossible,
            format!(
                "`admin: self` needs {standby:?}'s password in the store's previous version, \
                and there is none yet (an adopted secret); rotate once with an admin login, or \
                    add {standby:?}'s credential as `previous`"
            ),
        ),
    }
}

/// The preflight: every write to the consumers was tried without effect
/// (server-side dry runs, access reviews). One refused write stops the run
/// before anything changes; `--force` cannot help (the write would fail
/// after the database changed). A refused Event is only a warning.
pub(super) fn writes_gate(view: &ConsumerView) -> Gate {
    let of = |proof: Proof| {
        view.writes
            .iter()
            .filter(move |w| w.result == proof)
            .map(|w| w.describe())
            .collect::<Vec<_>>()
    };
    let (denied, warnings) = (of(Proof::Denied), of(Proof::Warning));
    if !denied.is_empty() {
        return gate(
            GateName::Writes,
            Verdict::Impossible,
            format!(
                "{} of the {} writes to the consumers would be refused, so nothing was changed: {}",
                denied.len(),
                view.writes.len(),
                denied.join("; ")
            ),
        );
    }
    let mut detail = format!(
        "{} writes to the consumers proven possible without effect (server-side dry runs and \
            access reviews)",
        view.writes.len()
    );
    if !warnings.is_empty() {
        detail += &format!("; warning: {}", warnings.join("; "));
    }
    gate(GateName::Writes, Verdict::Pass, detail)
}
