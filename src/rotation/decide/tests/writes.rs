//! The preflight's gate: a refused write stops every plan, a warning none.
#![cfg(test)]

use super::*;
use crate::rotation::GateName;

#[test]
fn a_refused_write_stops_rotations_and_rollbacks_even_forced_and_a_warning_does_not() {
    use crate::rotation::{ConsumerView, Proof, WriteCheck};
    let write = |object: &str, verb: &str, result| WriteCheck {
        object: object.into(),
        verb: verb.into(),
        result,
        detail: format!("{verb} refused: add the rule"),
    };
    let mut o = obs();
    o.consumers = Some(ConsumerView {
        writes: vec![
            write("Secret shop/db", "patch", Proof::Allowed),
            write("Deployment shop/api", "patch", Proof::Denied),
            write("Events in shop", "create", Proof::Warning),
        ],
        ..Default::default()
    });
    for plan in [
        rotate(&o, &policy(), false),
        rotate(&o, &policy(), true),
        rollback(&o),
    ] {
        let g = plan.blockers()[0];
        assert_eq!((g.name, g.verdict), (GateName::Writes, Verdict::Impossible));
        assert!(g.detail.contains("1 of the 3 writes"), "{}", g.detail);
        assert!(
            g.detail
                .contains("patch Deployment shop/api: patch refused"),
            "{}",
            g.detail
        );
        assert!(!g.detail.contains("Secret shop/db"), "{}", g.detail);
    }
    o.consumers.as_mut().unwrap().writes.remove(1);
    let plan = rotate(&o, &policy(), false);
    assert!(!plan.is_blocked());
    let g = plan
        .gates
        .iter()
        .find(|g| g.name == GateName::Writes)
        .unwrap();
    assert!(
        g.detail.contains("warning: create Events in shop"),
        "{}",
        g.detail
    );
}
