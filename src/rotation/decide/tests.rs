#![cfg(test)]
//! The decisions' unit tests, on observations built by hand (no database):
//! the fixtures and the rotation and rollback plans; the poolers' gates are
//! in `tests/poolers.rs`.

use super::*;
use crate::config::SessionPolicy;
use crate::rotation::GateName;
use std::collections::BTreeSet;
use std::time::Duration;

mod poolers;
mod writes;

fn obs() -> Observation {
    Observation {
        previous_logs_in: None,
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
    assert_eq!(g.name, GateName::StandbySessions);
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
    assert_eq!(plan.blockers()[0].name, GateName::Memberships);
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
    assert_eq!(
        rotate(&o, &policy(), true).blockers()[0].name,
        GateName::Lock
    );
    let mut o = obs();
    o.standby_exists = false;
    assert_eq!(
        rotate(&o, &policy(), true).blockers()[0].name,
        GateName::StandbyRole
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
    assert_eq!(itself.blockers()[0].name, GateName::StandbyRole);
    assert!(itself.blockers()[0].detail.contains("admin login"));
}

#[test]
fn an_admin_that_cannot_set_the_password_stops_the_plan_with_the_grant() {
    let mut o = obs();
    o.admin_cannot = Some("GRANT \"b\" TO admin WITH ADMIN OPTION".into());
    let plan = rotate(&o, &policy(), true);
    assert_eq!(plan.blockers()[0].name, GateName::Admin);
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
    assert_eq!(plan.blockers()[0].name, GateName::SelfAdmin);
    assert!(plan.blockers()[0].detail.contains("none yet"));
}

#[test]
fn unfinished_rollouts_block_and_consumers_get_a_propagate_step() {
    let mut o = obs();
    o.consumers = Some(super::super::ConsumerView {
        healed: vec![],
        unfinished_rollouts: vec!["Deployment shop/api: 1/3 updated".into()],
        writes: vec![],
    });
    let plan = rotate(&o, &policy(), false);
    let g = plan.blockers()[0];
    assert_eq!(g.name, GateName::Rollouts);
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
    assert_eq!(rollback(&o).blockers()[0].name, GateName::Previous);
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
        foreign: None,
    })
}

#[test]
fn a_pending_version_seesaw_would_not_have_written_is_refused_with_the_way_to_clear_it() {
    for logs_in in [false, true] {
        let mut o = obs();
        o.pending = pending("b", logs_in);
        if let Some(p) = o.pending.as_mut() {
            p.foreign = Some("it has 10 characters and password.length is 32".into());
        }
        let plan = rotate(&o, &policy(), true);
        let blockers = plan.blockers();
        assert_eq!(blockers[0].name, GateName::Pending, "{plan:?}");
        assert!(blockers[0].detail.contains("10 characters"), "{plan:?}");
        assert!(blockers[0].detail.contains("remove it by hand"), "{plan:?}");
        assert!(plan.is_blocked(), "{plan:?}");
    }
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
        .any(|g| g.name == GateName::Pending && g.verdict == Verdict::Handled));

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
    assert_eq!(
        (g.name, g.verdict),
        (GateName::Pending, Verdict::Impossible)
    );
    assert!(g.detail.contains("remove it by hand"), "{}", g.detail);
    // A rollback does not step over an unfinished rotation either.
    o.pending = pending("b", true);
    let g = rollback(&o).blockers()[0].clone();
    assert_eq!(g.name, GateName::Pending);
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
