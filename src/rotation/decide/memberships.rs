//! Membership parity: what each user of the pair can do, compared.

use crate::rotation::Observation;

/// A user's memberships as parity sees them. A user that is a member of
/// the other user of the pair has that user's privileges and memberships
/// (AWS's alternating-users function creates `<user>_clone` with
/// `GRANT <user> TO <user>_clone`), so it counts as having them; the pair's
/// own names are left out.
pub(super) fn effective(
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

pub(super) fn describe_drift(
    active: &str,
    standby: &str,
    missing: &[String],
    extra: &[String],
) -> String {
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
