//! The decisions themselves.

use super::{Action, Actor, Gate, Observation, Plan, Policy, Step, Verdict};
use crate::config::{MembershipPolicy, SessionPolicy};

fn gate(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Gate {
    Gate {
        name,
        verdict,
        detail: detail.into(),
    }
}

fn lock_gate(obs: &Observation) -> Gate {
    if obs.lock_acquired {
        gate("lock", Verdict::Pass, "advisory lock taken")
    } else {
        gate(
            "lock",
            Verdict::Impossible,
            format!(
                "another seesaw process holds the advisory lock of target {:?}; wait for it to finish",
                obs.target
            ),
        )
    }
}

/// Plans a rotation: the standby gets a new password and becomes active.
/// With `force`, blocked gates are overridden (and say so); impossible ones
/// still stop the plan.
pub fn rotate(obs: &Observation, policy: &Policy, force: bool) -> Plan {
    let standby = obs.standby().to_owned();
    let mut gates = vec![lock_gate(obs)];
    let mut steps = Vec::new();
    let by = if policy.admin_self {
        Actor::Itself
    } else {
        Actor::Admin
    };

    let creating = !obs.standby_exists && policy.create_standby && !policy.admin_self;
    if creating {
        gates.push(gate(
            "standby_role",
            Verdict::Handled,
            format!(
                "role {standby:?} does not exist; it will be created like {:?}",
                obs.active
            ),
        ));
        steps.push(Step::CreateStandby {
            role: standby.clone(),
            like: obs.active.clone(),
        });
    } else if !obs.standby_exists {
        gates.push(gate(
            "standby_role",
            Verdict::Impossible,
            if policy.create_standby {
                format!("role {standby:?} does not exist, and creating it needs an admin login (the Lambda: \"masterarn\", the ARN of a secret holding a role with CREATEROLE); or create the role yourself")
            } else {
                format!(
                    "role {standby:?} does not exist; create it (see `seesaw setup-sql {}`)",
                    obs.target
                )
            },
        ));
    } else {
        gates.push(gate(
            "standby_role",
            Verdict::Pass,
            format!("role {standby:?} exists"),
        ));
    }

    // A rotation that did not finish is resumed with its own password,
    // never replaced by a new one (that would lose the password the store
    // and perhaps the database already hold).
    let resume = match &obs.pending {
        None => None,
        Some(p) if p.username == standby => {
            gates.push(gate(
                "pending",
                Verdict::Handled,
                format!(
                    "resuming the unfinished rotation of version {} for {standby:?} ({})",
                    p.version,
                    if p.logs_in {
                        "its password is set; publishing it"
                    } else {
                        "its password is not set yet; setting exactly that one"
                    }
                ),
            ));
            Some(p)
        }
        Some(p) => {
            gates.push(gate(
                "pending",
                Verdict::Impossible,
                format!(
                    "the store holds pending version {} for {:?}, which is not the standby {standby:?}: seesaw cannot explain it and changed nothing. {}",
                    p.version, p.username, p.clear_hint
                ),
            ));
            None
        }
    };
    let already_set = resume.is_some_and(|p| p.logs_in);

    if policy.admin_self && !already_set {
        gates.push(self_admin_gate(obs, &standby));
    }
    if let (Some(why), false) = (&obs.admin_cannot, already_set) {
        gates.push(gate("admin", Verdict::Impossible, why.clone()));
    }

    gates.extend(pooler_gate(obs));
    gates.push(sessions_gate(
        obs,
        policy,
        force,
        already_set,
        &standby,
        &mut steps,
        by,
    ));

    let active_effective = effective(
        obs,
        &obs.active_memberships,
        &obs.standby_memberships,
        &standby,
    );
    let standby_effective = effective(
        obs,
        &obs.standby_memberships,
        &obs.active_memberships,
        &obs.active,
    );
    let missing: Vec<_> = active_effective
        .difference(&standby_effective)
        .cloned()
        .collect();
    let extra: Vec<_> = standby_effective
        .difference(&active_effective)
        .cloned()
        .collect();
    if creating {
        gates.push(gate(
            "memberships",
            Verdict::Pass,
            format!("{standby:?} is created with {:?}'s memberships", obs.active),
        ));
    } else if missing.is_empty() && extra.is_empty() {
        gates.push(gate(
            "memberships",
            Verdict::Pass,
            "both users have the same role memberships",
        ));
    } else {
        let drift = describe_drift(&obs.active, &standby, &missing, &extra);
        let g = match policy.memberships {
            MembershipPolicy::Fix if policy.admin_self => gate(
                "memberships",
                Verdict::Impossible,
                format!("{drift}; memberships: fix needs an admin login, not `admin: self`"),
            ),
            MembershipPolicy::Fix => {
                // Revokes first: where one object differs (MariaDB's grant
                // lines: `SELECT` here, `SELECT, INSERT` there; another
                // default role), revoking after granting would take back
                // part of what was just given.
                steps.extend(extra.iter().map(|g| Step::RevokeMembership { role: standby.clone(), group: g.clone() }));
                steps.extend(missing.iter().map(|g| Step::GrantMembership { role: standby.clone(), group: g.clone() }));
                gate("memberships", Verdict::Handled, format!("{drift}; will be repaired"))
            }
            MembershipPolicy::Check if force => gate(
                "memberships",
                Verdict::Overridden,
                format!("{drift}; rotating anyway (--force): the application will lose or gain privileges"),
            ),
            MembershipPolicy::Check => gate(
                "memberships",
                Verdict::Blocked,
                format!("{drift}; set memberships: fix or align them by hand"),
            ),
        };
        gates.push(g);
    }

    if let Some(view) = &obs.consumers {
        gates.extend(consumer_gates(view, &standby, force));
    }

    if resume.is_none() {
        steps.push(Step::Stage {
            username: standby.clone(),
            replaces: obs.current_version.clone(),
        });
    }
    // A resumed rotation whose password is set gives it again when a
    // pooler's auth_file needs the verifier the database holds: seesaw
    // cannot read that one back (only a superuser can), and the same
    // password with a fresh salt changes nothing for anyone else.
    if !already_set || policy.pooler_files {
        steps.push(Step::SetPassword {
            role: standby.clone(),
            by,
        });
    }
    if policy.pooler_files {
        steps.push(Step::UpdatePoolers {
            role: standby.clone(),
        });
    }
    steps.push(Step::Verify {
        role: standby.clone(),
    });
    steps.push(Step::Publish {
        username: standby.clone(),
        replaces: obs.current_version.clone(),
    });
    if obs.consumers.is_some() {
        steps.push(Step::Propagate {
            username: standby.clone(),
        });
    }
    Plan {
        target: obs.target.clone(),
        action: Action::Rotate,
        from: obs.active.clone(),
        to: standby,
        current_version: obs.current_version.clone(),
        gates,
        steps,
    }
}

/// The poolers' readiness: each must answer on its admin console (to
/// count clients and reload) and have a writable auth_file, if it has one.
fn pooler_gate(obs: &Observation) -> Option<Gate> {
    if obs.poolers.is_empty() {
        return None;
    }
    let describe = |p: &super::PoolerView| {
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
            "poolers",
            Verdict::Pass,
            obs.poolers
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else {
        gate(
            "poolers",
            Verdict::Impossible,
            format!(
                "{}; every pooler of the target takes part in each rotation (its clients are counted, it is reloaded and logged in through), so nothing was changed",
                problems.join("; ")
            ),
        )
    })
}

/// Whether anything still uses the standby: its sessions in the database
/// and its clients on every pooler (a pooler client keeps the credential
/// it logged in with, though the database no longer sees it once its
/// server connection is recycled).
fn sessions_gate(
    obs: &Observation,
    policy: &Policy,
    force: bool,
    already_set: bool,
    standby: &str,
    steps: &mut Vec<Step>,
    by: Actor,
) -> Gate {
    let n = obs.standby_in_use();
    if already_set {
        return gate(
            "standby_sessions",
            Verdict::Pass,
            format!("{standby:?} already has the pending password"),
        );
    }
    if n == 0 {
        return gate(
            "standby_sessions",
            Verdict::Pass,
            if obs.poolers.is_empty() {
                format!("{standby:?} has no sessions")
            } else {
                format!("{standby:?} has no sessions and no pooler clients")
            },
        );
    }
    let plural = |k: u64| if k == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if obs.standby_sessions > 0 || obs.poolers.is_empty() {
        let m = obs.standby_sessions;
        parts.push(format!("{m} open session{} in the database", plural(m)));
    }
    let pooled: Vec<&super::PoolerView> = obs.poolers.iter().filter(|p| p.clients > 0).collect();
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
    match policy.sessions {
        SessionPolicy::Fail if force => gate(
            "standby_sessions",
            Verdict::Overridden,
            format!("{what}; rotating anyway (--force): their next login will fail"),
        ),
        SessionPolicy::Fail => gate(
            "standby_sessions",
            Verdict::Blocked,
            format!("{what}; something still uses the standby's credential (standby_sessions: fail). {find}, or set standby_sessions: wait | terminate"),
        ),
        SessionPolicy::Wait => {
            steps.push(Step::WaitForSessions {
                role: standby.to_owned(),
                timeout: policy.wait_timeout,
            });
            gate("standby_sessions", Verdict::Handled, format!("{what}; waiting for them to close"))
        }
        // Ending a database session does not end a pooler's client: it
        // keeps its credential and logs in again with it. PgBouncer ends
        // one client only with KILL_CLIENT (1.24+), which seesaw does not
        // send: it would end the client's transaction mid-flight too.
        SessionPolicy::Terminate if !pooled.is_empty() && force => {
            steps.push(Step::TerminateSessions { role: standby.to_owned(), by });
            gate(
                "standby_sessions",
                Verdict::Overridden,
                format!("{what}; rotating anyway (--force): the database sessions are ended, the pooler clients cannot be and their next login will fail"),
            )
        }
        SessionPolicy::Terminate if !pooled.is_empty() => gate(
            "standby_sessions",
            Verdict::Blocked,
            format!("{what}; standby_sessions: terminate ends database sessions only (pg_terminate_backend); a pooler's clients keep the old credential and would fail at their next server login. Stop those applications, or use standby_sessions: wait. {find}"),
        ),
        SessionPolicy::Terminate => {
            steps.push(Step::TerminateSessions { role: standby.to_owned(), by });
            gate("standby_sessions", Verdict::Handled, format!("{what}; they will be ended"))
        }
    }
}

/// The rollout half of the standby gate: pods started before the last
/// publish may still hold the standby's credential until their workload has
/// rolled out. A heal counts as handled: it ran (or would run) first.
fn consumer_gates(view: &super::ConsumerView, standby: &str, force: bool) -> Vec<Gate> {
    let mut gates = Vec::new();
    if !view.healed.is_empty() {
        gates.push(gate(
            "consumers",
            Verdict::Handled,
            format!(
                "out of date with the store, healed first: {}",
                view.healed.join(", ")
            ),
        ));
    }
    let rollouts = if view.unfinished_rollouts.is_empty() {
        gate(
            "rollouts",
            Verdict::Pass,
            "every workload has finished its rollout",
        )
    } else {
        let pending = view.unfinished_rollouts.join("; ");
        if force {
            gate(
                "rollouts",
                Verdict::Overridden,
                format!("rotating anyway (--force) while rollouts are unfinished: {pending}; pods still using {standby:?} will fail to log in"),
            )
        } else {
            gate(
                "rollouts",
                Verdict::Blocked,
                format!("unfinished rollout: {pending}; pods from before the last publish may still use {standby:?}. Wait for the rollout (kubectl rollout status) and run again"),
            )
        }
    };
    gates.push(rollouts);
    gates
}

fn self_admin_gate(obs: &Observation, standby: &str) -> Gate {
    match &obs.previous {
        Some((user, _)) if user == standby => gate(
            "self_admin",
            Verdict::Pass,
            format!("the store's previous version holds {standby:?}'s password"),
        ),
        Some((user, _)) => gate(
            "self_admin",
            Verdict::Impossible,
            format!("`admin: self` needs {standby:?}'s password in the store's previous version, but that version is for {user:?}; rotate once with an admin login"),
        ),
        None => gate(
            "self_admin",
            Verdict::Impossible,
            format!("`admin: self` needs {standby:?}'s password in the store's previous version, and there is none yet (an adopted secret); rotate once with an admin login, or add {standby:?}'s credential as `previous`"),
        ),
    }
}

/// A user's memberships as parity sees them. A user that is a member of
/// the other user of the pair has that user's privileges and memberships
/// (AWS's alternating-users function creates `<user>_clone` with
/// `GRANT <user> TO <user>_clone`), so it counts as having them; the pair's
/// own names are left out.
fn effective(
    obs: &Observation,
    own: &std::collections::BTreeSet<String>,
    partners: &std::collections::BTreeSet<String>,
    partner: &str,
) -> std::collections::BTreeSet<String> {
    let mut set = own.clone();
    if own.contains(partner) {
        set.extend(partners.iter().cloned());
    }
    set.retain(|g| !obs.users.contains(g));
    set
}

fn describe_drift(active: &str, standby: &str, missing: &[String], extra: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{standby:?} lacks {} that {active:?} has",
            missing.join(", ")
        ));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "{standby:?} has {} that {active:?} has not",
            extra.join(", ")
        ));
    }
    format!("membership drift: {}", parts.join("; "))
}

/// Plans a rollback: the previous document becomes current again. Its user
/// kept its password, so nothing in the database changes; it is verified
/// before it is published.
pub fn rollback(obs: &Observation) -> Plan {
    let mut gates = vec![lock_gate(obs)];
    let (to, previous_ok) = match &obs.previous {
        None => {
            gates.push(gate(
                "previous",
                Verdict::Impossible,
                "the store has no previous version to return to",
            ));
            (obs.standby().to_owned(), false)
        }
        Some((user, _)) if user == &obs.active => {
            gates.push(gate(
                "previous",
                Verdict::Impossible,
                format!("the previous version is for {user:?}, the user already active; nothing to roll back to"),
            ));
            (user.clone(), false)
        }
        Some((user, version)) => {
            gates.push(gate(
                "previous",
                Verdict::Pass,
                format!("version {version} for {user:?}"),
            ));
            (user.clone(), true)
        }
    };
    if let Some(p) = &obs.pending {
        gates.push(gate(
            "pending",
            Verdict::Impossible,
            if p.logs_in {
                format!("a rotation to {:?} (version {}) did not finish and its password is set: run `seesaw rotate {}` to finish it, then roll back", p.username, p.version, obs.target)
            } else {
                format!("a rotation to {:?} (version {}) did not finish: run `seesaw rotate {}` to finish it, or clear it first. {}", p.username, p.version, obs.target, p.clear_hint)
            },
        ));
    }
    let mut steps = Vec::new();
    if previous_ok {
        steps.push(Step::Verify { role: to.clone() });
        steps.push(Step::Stage {
            username: to.clone(),
            replaces: obs.current_version.clone(),
        });
        steps.push(Step::Publish {
            username: to.clone(),
            replaces: obs.current_version.clone(),
        });
        if obs.consumers.is_some() {
            steps.push(Step::Propagate {
                username: to.clone(),
            });
        }
    }
    Plan {
        target: obs.target.clone(),
        action: Action::Rollback,
        from: obs.active.clone(),
        to,
        current_version: obs.current_version.clone(),
        gates,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    fn obs() -> Observation {
        Observation {
            target: "demo".into(),
            users: ["a".into(), "b".into()],
            active: "a".into(),
            current_version: "v1".into(),
            previous: Some(("b".into(), "v0".into())),
            lock_acquired: true,
            standby_exists: true,
            standby_sessions: 0,
            active_memberships: BTreeSet::from(["owner".to_string()]),
            standby_memberships: BTreeSet::from(["owner".to_string()]),
            admin_cannot: None,
            consumers: None,
            pending: None,
            poolers: vec![],
        }
    }

    fn policy() -> Policy {
        Policy {
            sessions: SessionPolicy::Fail,
            wait_timeout: Duration::from_secs(60),
            memberships: MembershipPolicy::Check,
            admin_self: false,
            create_standby: false,
            pooler_files: false,
        }
    }

    fn pooler(clients: u64) -> crate::rotation::PoolerView {
        crate::rotation::PoolerView {
            name: "pgbouncer 10.0.0.1:6432".into(),
            mode: "auth_file /etc/pgbouncer/userlist.txt".into(),
            version: "1.18.0".into(),
            clients,
            file: "writable".into(),
            problem: None,
        }
    }

    #[test]
    fn behind_a_pooler_with_a_file_the_verifier_is_written_between_set_and_verify() {
        let mut o = obs();
        o.poolers = vec![pooler(0)];
        let files = Policy {
            pooler_files: true,
            ..policy()
        };
        let plan = rotate(&o, &files, false);
        assert!(!plan.is_blocked(), "{:?}", plan.gates);
        assert_eq!(
            names(&plan),
            [
                "stage",
                "set_password",
                "update_poolers",
                "verify",
                "publish"
            ]
        );
        let g = plan.gates.iter().find(|g| g.name == "poolers").unwrap();
        assert!(
            g.detail.contains("auth_file /etc/pgbouncer/userlist.txt"),
            "{}",
            g.detail
        );
        assert!(g.detail.contains("1.18.0"), "{}", g.detail);
        // auth_query: nothing to write, the verify step still logs in through it.
        let plan = rotate(&o, &policy(), false);
        assert_eq!(names(&plan), ["stage", "set_password", "verify", "publish"]);
    }

    #[test]
    fn a_resumed_rotation_sets_the_password_again_when_a_file_needs_its_verifier() {
        let mut o = obs();
        o.poolers = vec![pooler(0)];
        o.pending = Some(crate::rotation::PendingView {
            username: "b".into(),
            version: "p1".into(),
            logs_in: true,
            clear_hint: String::new(),
        });
        let files = Policy {
            pooler_files: true,
            ..policy()
        };
        assert_eq!(
            names(&rotate(&o, &files, false)),
            ["set_password", "update_poolers", "verify", "publish"]
        );
        assert_eq!(names(&rotate(&o, &policy(), false)), ["verify", "publish"]);
    }

    #[test]
    fn pooler_clients_of_the_standby_hold_the_rotation_and_terminate_cannot_end_them() {
        let mut o = obs();
        o.poolers = vec![pooler(2)];
        let plan = rotate(&o, &policy(), false);
        let b = plan.blockers();
        assert_eq!(b[0].name, "standby_sessions");
        assert!(
            b[0].detail.contains("2 clients of pgbouncer 10.0.0.1:6432"),
            "{}",
            b[0].detail
        );
        assert!(b[0].detail.contains("SHOW CLIENTS"), "{}", b[0].detail);
        let term = Policy {
            sessions: SessionPolicy::Terminate,
            ..policy()
        };
        let plan = rotate(&o, &term, false);
        assert!(plan.is_blocked());
        assert!(plan.blockers()[0].detail.contains("pg_terminate_backend"));
        assert!(!names(&plan).contains(&"terminate_sessions"));
        // --force: the database sessions are still ended, as it says.
        let forced = rotate(&o, &term, true);
        assert!(!forced.is_blocked());
        assert_eq!(names(&forced)[0], "terminate_sessions");
        let wait = Policy {
            sessions: SessionPolicy::Wait,
            ..policy()
        };
        assert_eq!(names(&rotate(&o, &wait, false))[0], "wait_for_sessions");
        // Database sessions alone: terminate still ends them.
        o.poolers = vec![pooler(0)];
        o.standby_sessions = 1;
        let plan = rotate(&o, &term, false);
        assert!(!plan.is_blocked());
        assert_eq!(names(&plan)[0], "terminate_sessions");
    }

    #[test]
    fn a_pooler_seesaw_cannot_use_makes_the_rotation_impossible() {
        let mut o = obs();
        let mut p = pooler(0);
        p.problem = Some("cannot use its admin console: refused".into());
        o.poolers = vec![p];
        let plan = rotate(&o, &policy(), true);
        assert_eq!(plan.blockers()[0].name, "poolers");
        assert_eq!(plan.blockers()[0].verdict, Verdict::Impossible);
        assert!(plan.blockers()[0].detail.contains("refused"));
    }

    fn names(plan: &Plan) -> Vec<&'static str> {
        plan.steps.iter().map(Step::name).collect()
    }

    #[test]
    fn a_clear_rotation_sets_verifies_and_publishes_the_standby() {
        let plan = rotate(&obs(), &policy(), false);
        assert!(!plan.is_blocked());
        assert_eq!((plan.from.as_str(), plan.to.as_str()), ("a", "b"));
        assert_eq!(names(&plan), ["stage", "set_password", "verify", "publish"]);
        assert_eq!(
            plan.steps[3],
            Step::Publish {
                username: "b".into(),
                replaces: "v1".into()
            }
        );
    }

    #[test]
    fn the_standby_alternates() {
        let mut o = obs();
        o.active = "b".into();
        assert_eq!(rotate(&o, &policy(), false).to, "a");
    }

    #[test]
    fn standby_sessions_follow_the_policy() {
        let mut o = obs();
        o.standby_sessions = 2;
        let plan = rotate(&o, &policy(), false);
        let g = plan.blockers()[0];
        assert_eq!(g.name, "standby_sessions");
        assert!(
            g.detail.contains("\"b\" has 2 open sessions"),
            "{}",
            g.detail
        );

        let forced = rotate(&o, &policy(), true);
        assert!(!forced.is_blocked());
        assert!(forced
            .gates
            .iter()
            .any(|g| g.verdict == Verdict::Overridden));

        let wait = rotate(
            &o,
            &Policy {
                sessions: SessionPolicy::Wait,
                ..policy()
            },
            false,
        );
        assert_eq!(names(&wait)[0], "wait_for_sessions");
        let term = rotate(
            &o,
            &Policy {
                sessions: SessionPolicy::Terminate,
                ..policy()
            },
            false,
        );
        assert_eq!(names(&term)[0], "terminate_sessions");
    }

    #[test]
    fn membership_drift_blocks_under_check_and_is_repaired_under_fix() {
        let mut o = obs();
        o.standby_memberships = BTreeSet::from(["stale".to_string()]);
        let plan = rotate(&o, &policy(), false);
        assert_eq!(plan.blockers()[0].name, "memberships");
        assert!(plan.blockers()[0].detail.contains("lacks owner"));

        let fix = rotate(
            &o,
            &Policy {
                memberships: MembershipPolicy::Fix,
                ..policy()
            },
            false,
        );
        assert!(!fix.is_blocked());
        assert_eq!(
            &fix.steps[..2],
            &[
                Step::RevokeMembership {
                    role: "b".into(),
                    group: "stale".into()
                },
                Step::GrantMembership {
                    role: "b".into(),
                    group: "owner".into()
                },
            ]
        );
    }

    #[test]
    fn force_does_not_override_what_is_impossible() {
        let mut o = obs();
        o.lock_acquired = false;
        assert_eq!(rotate(&o, &policy(), true).blockers()[0].name, "lock");
        let mut o = obs();
        o.standby_exists = false;
        assert_eq!(
            rotate(&o, &policy(), true).blockers()[0].name,
            "standby_role"
        );
    }

    #[test]
    fn a_missing_standby_is_created_like_the_active_user_when_the_policy_says_so() {
        let mut o = obs();
        o.standby_exists = false;
        o.standby_memberships.clear();
        let create = Policy {
            create_standby: true,
            ..policy()
        };
        let plan = rotate(&o, &create, false);
        assert!(!plan.is_blocked(), "{:?}", plan.gates);
        assert_eq!(
            plan.steps[0],
            Step::CreateStandby {
                role: "b".into(),
                like: "a".into()
            }
        );
        assert!(!names(&plan).contains(&"grant_membership"));
        // Created by the admin only; under `admin: self` nobody can.
        let itself = rotate(
            &o,
            &Policy {
                admin_self: true,
                ..create
            },
            false,
        );
        assert_eq!(itself.blockers()[0].name, "standby_role");
        assert!(itself.blockers()[0].detail.contains("admin login"));
    }

    #[test]
    fn an_admin_that_cannot_set_the_password_stops_the_plan_with_the_grant() {
        let mut o = obs();
        o.admin_cannot = Some("GRANT \"b\" TO admin WITH ADMIN OPTION".into());
        let plan = rotate(&o, &policy(), true);
        assert_eq!(plan.blockers()[0].name, "admin");
        assert!(plan.blockers()[0].detail.contains("WITH ADMIN OPTION"));
    }

    #[test]
    fn self_admin_needs_the_standbys_previous_password() {
        let p = Policy {
            admin_self: true,
            ..policy()
        };
        let plan = rotate(&obs(), &p, false);
        assert!(!plan.is_blocked());
        assert_eq!(
            plan.steps[1],
            Step::SetPassword {
                role: "b".into(),
                by: Actor::Itself
            }
        );

        let mut adopted = obs();
        adopted.previous = None;
        let plan = rotate(&adopted, &p, true);
        assert_eq!(plan.blockers()[0].name, "self_admin");
        assert!(plan.blockers()[0].detail.contains("none yet"));
    }

    #[test]
    fn unfinished_rollouts_block_and_consumers_get_a_propagate_step() {
        let mut o = obs();
        o.consumers = Some(super::super::ConsumerView {
            healed: vec![],
            unfinished_rollouts: vec!["Deployment shop/api: 1/3 updated".into()],
        });
        let plan = rotate(&o, &policy(), false);
        let g = plan.blockers()[0];
        assert_eq!(g.name, "rollouts");
        assert!(g.detail.contains("shop/api"), "{}", g.detail);
        let forced = rotate(&o, &policy(), true);
        assert!(!forced.is_blocked());
        assert_eq!(
            names(&forced),
            ["stage", "set_password", "verify", "publish", "propagate"]
        );
        o.consumers = Some(Default::default());
        assert!(!rotate(&o, &policy(), false).is_blocked());
        assert_eq!(
            names(&rollback(&o)),
            ["verify", "stage", "publish", "propagate"]
        );
    }

    #[test]
    fn rollback_returns_to_the_previous_user() {
        let plan = rollback(&obs());
        assert!(!plan.is_blocked());
        assert_eq!(plan.to, "b");
        assert_eq!(names(&plan), ["verify", "stage", "publish"]);

        let mut o = obs();
        o.previous = None;
        assert_eq!(rollback(&o).blockers()[0].name, "previous");
        let mut o = obs();
        o.previous = Some(("a".into(), "v0".into()));
        assert!(rollback(&o).is_blocked());
    }

    fn pending(username: &str, logs_in: bool) -> Option<super::super::PendingView> {
        Some(super::super::PendingView {
            username: username.into(),
            version: "p1".into(),
            logs_in,
            clear_hint: "remove it by hand".into(),
        })
    }

    #[test]
    fn a_pending_version_for_the_standby_is_resumed_never_replaced() {
        let mut o = obs();
        o.pending = pending("b", false);
        let plan = rotate(&o, &policy(), false);
        assert!(!plan.is_blocked());
        // Not staged again: its own password is set, verified, published.
        assert_eq!(names(&plan), ["set_password", "verify", "publish"]);
        assert!(plan
            .gates
            .iter()
            .any(|g| g.name == "pending" && g.verdict == Verdict::Handled));

        // Its password is already set: the standby's sessions no longer
        // matter (the change happened), only publishing is left.
        o.pending = pending("b", true);
        o.standby_sessions = 3;
        let plan = rotate(&o, &policy(), false);
        assert!(!plan.is_blocked());
        assert_eq!(names(&plan), ["verify", "publish"]);
    }

    #[test]
    fn a_pending_version_seesaw_cannot_explain_stops_everything() {
        let mut o = obs();
        o.pending = pending("a", false); // the active user: never ours
        let plan = rotate(&o, &policy(), true);
        let g = plan.blockers()[0];
        assert_eq!((g.name, g.verdict), ("pending", Verdict::Impossible));
        assert!(g.detail.contains("remove it by hand"), "{}", g.detail);
        // A rollback does not step over an unfinished rotation either.
        o.pending = pending("b", true);
        let g = rollback(&o).blockers()[0].clone();
        assert_eq!(g.name, "pending");
        assert!(g.detail.contains("seesaw rotate demo"), "{}", g.detail);
    }

    #[test]
    fn a_clone_that_is_a_member_of_the_user_has_parity_both_ways() {
        // AWS's pattern: `GRANT a TO b`, a's own memberships on a only.
        let mut o = obs();
        o.active_memberships = BTreeSet::from(["owner".to_string(), "reporting".to_string()]);
        o.standby_memberships = BTreeSet::from(["a".to_string()]);
        let plan = rotate(&o, &policy(), false);
        assert!(!plan.is_blocked(), "{:?}", plan.blockers());
        // And when the clone is the active one.
        let mut o = obs();
        o.active = "b".into();
        o.users = ["a".into(), "b".into()];
        o.active_memberships = BTreeSet::from(["a".to_string()]);
        o.standby_memberships = BTreeSet::from(["owner".to_string(), "reporting".to_string()]);
        assert!(!rotate(&o, &policy(), false).is_blocked());
        // Being a member of the other user does not hide a real difference.
        let mut o = obs();
        o.active_memberships = BTreeSet::from(["owner".to_string()]);
        o.standby_memberships = BTreeSet::from(["a".to_string(), "superpowers".to_string()]);
        let plan = rotate(&o, &policy(), false);
        assert!(
            plan.blockers()[0].detail.contains("superpowers"),
            "{:?}",
            plan.blockers()
        );
    }
}
