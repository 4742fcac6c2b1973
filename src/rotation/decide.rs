//! The decisions themselves: a rotation's plan and a rollback's, from one
//! observation. The gates they weigh are in `gates.rs`.

mod gates;
mod memberships;

use super::{Action, Actor, GateName, Observation, Plan, Policy, Step, Verdict};
use crate::config::MembershipPolicy;
use gates::{
    consumer_gates, gate, lock_gate, pooler_gate, self_admin_gate, sessions_gate, writes_gate,
};
use memberships::{describe_drift, effective};

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
            GateName::StandbyRole,
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
            GateName::StandbyRole,
            Verdict::Impossible,
            if policy.create_standby {
                format!(
                    "role {standby:?} does not exist, and creating it needs an admin login \
                    (the Lambda: \"masterarn\", the ARN of a secret holding a role with \
                        CREATEROLE); or create the role yourself"
                )
            } else {
                format!(
                    "role {standby:?} does not exist; create it (see `seesaw setup-sql {}`)",
                    obs.target
                )
            },
        ));
    } else {
        gates.push(gate(
            GateName::StandbyRole,
            Verdict::Pass,
            format!("role {standby:?} exists"),
        ));
    }

    // A rotation that did not finish is resumed with its own password,
    // never replaced by a new one (that would lose the password the store
    // and perhaps the database already hold).
    let resume = match &obs.pending {
        None => None,
        Some(p) if p.username == standby && p.foreign.is_some() => {
            gates.push(gate(
                GateName::Pending,
                Verdict::Impossible,
                format!(
                    "the store holds pending version {} for {standby:?} that seesaw would not \
                        have written ({}): seesaw will neither set nor publish it, and changed \
                            nothing. Clear it and run again. {}",
                    p.version,
                    p.foreign.as_deref().unwrap_or_default(),
                    p.clear_hint
                ),
            ));
            None
        }
        Some(p) if p.username == standby => {
            gates.push(gate(
                GateName::Pending,
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
                GateName::Pending,
                Verdict::Impossible,
                format!(
                    "the store holds pending version {} for {:?}, which is not the standby \
                        {standby:?}: seesaw cannot explain it and changed nothing. {}",
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
        gates.push(gate(GateName::Admin, Verdict::Impossible, why.clone()));
    }

    gates.extend(pooler_gate(obs));
    let (sessions, remedy) = sessions_gate(obs, policy, force, already_set, &standby, by);
    gates.push(sessions);
    steps.extend(remedy);

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
            GateName::Memberships,
            Verdict::Pass,
            format!("{standby:?} is created with {:?}'s memberships", obs.active),
        ));
    } else if missing.is_empty() && extra.is_empty() {
        gates.push(gate(
            GateName::Memberships,
            Verdict::Pass,
            "both users have the same role memberships",
        ));
    } else {
        let drift = describe_drift(&obs.active, &standby, &missing, &extra);
        let g = match policy.memberships {
            MembershipPolicy::Fix if policy.admin_self => gate(
                GateName::Memberships,
                Verdict::Impossible,
                format!("{drift}; memberships: fix needs an admin login, not `admin: self`"),
            ),
            MembershipPolicy::Fix => {
                // Revokes first: where one object differs (MariaDB's grant
                // lines: `SELECT` here, `SELECT, INSERT` there; another
                // default role), revoking after granting would take back
                // part of what was just given.
                steps.extend(extra.iter().map(|g| Step::RevokeMembership {
                    role: standby.clone(),
                    group: g.clone(),
                }));
                steps.extend(missing.iter().map(|g| Step::GrantMembership {
                    role: standby.clone(),
                    group: g.clone(),
                }));
                gate(
                    GateName::Memberships,
                    Verdict::Handled,
                    format!("{drift}; will be repaired"),
                )
            }
            MembershipPolicy::Check if force => gate(
                GateName::Memberships,
                Verdict::Overridden,
                format!(
                    "{drift}; rotating anyway (--force): the application will lose or gain \
                    privileges"
                ),
            ),
            MembershipPolicy::Check => gate(
                GateName::Memberships,
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

/// The Lambda's `setSecret`: a rotation's plan without the steps the other
/// invocations make (`createSecret` staged the password, `testSecret`
/// verifies it, `finishSecret` publishes), decided on the same gates.
pub fn set_standby(obs: &Observation, policy: &Policy) -> Plan {
    let mut plan = rotate(obs, policy, false);
    plan.steps.retain(|s| {
        !matches!(
            s,
            Step::Stage { .. }
                | Step::Verify { .. }
                | Step::Publish { .. }
                | Step::Propagate { .. }
        )
    });
    plan
}

/// Plans a rollback: the previous document becomes current again. Its user
/// kept its password, so nothing in the database changes; it is verified
/// before it is published.
pub fn rollback(obs: &Observation) -> Plan {
    let mut gates = vec![lock_gate(obs)];
    let (to, previous_ok) = match &obs.previous {
        None => {
            gates.push(gate(
                GateName::Previous,
                Verdict::Impossible,
                "the store has no previous version to return to",
            ));
            (obs.standby().to_owned(), false)
        }
        Some((user, _)) if user == &obs.active => {
            gates.push(gate(
                GateName::Previous,
                Verdict::Impossible,
                format!(
                    "the previous version is for {user:?}, the user already active; nothing \
                    to roll back to"
                ),
            ));
            (user.clone(), false)
        }
        Some((user, version)) if obs.previous_logs_in == Some(false) => {
            gates.push(gate(
                GateName::Previous,
                Verdict::Impossible,
                format!(
                    "version {version} for {user:?} does not log in (its password changed \
                    since it was published?): publishing it would lock applications out"
                ),
            ));
            (user.clone(), false)
        }
        Some((user, version)) => {
            gates.push(gate(
                GateName::Previous,
                Verdict::Pass,
                match obs.previous_logs_in {
                    Some(true) => format!("version {version} for {user:?}, which logs in"),
                    _ => format!("version {version} for {user:?}"),
                },
            ));
            (user.clone(), true)
        }
    };
    if let Some(p) = &obs.pending {
        gates.push(gate(
            GateName::Pending,
            Verdict::Impossible,
            if p.logs_in {
                format!(
                    "a rotation to {:?} (version {}) did not finish and its password is set: \
                    run `seesaw rotate {}` to finish it, then roll \
                        back",
                    p.username, p.version, obs.target
                )
            } else {
                format!(
                    "a rotation to {:?} (version {}) did not finish: run `seesaw rotate {}` \
                    to finish it, or clear it first. \
                        {}",
                    p.username, p.version, obs.target, p.clear_hint
                )
            },
        ));
    }
    if let Some(view) = &obs.consumers {
        gates.push(writes_gate(view));
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
mod tests;
