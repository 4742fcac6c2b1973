#![cfg(test)]
//! The decisions behind connection poolers: their readiness gate, their
//! clients of the standby, and the verifier their auth_files need.

use super::*;
use crate::rotation::GateName;

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
    let g = plan
        .gates
        .iter()
        .find(|g| g.name == GateName::Poolers)
        .unwrap();
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
        foreign: None,
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
    assert_eq!(b[0].name, GateName::StandbySessions);
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
    assert_eq!(plan.blockers()[0].name, GateName::Poolers);
    assert_eq!(plan.blockers()[0].verdict, Verdict::Impossible);
    assert!(plan.blockers()[0].detail.contains("refused"));
}
