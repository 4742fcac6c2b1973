//! What a statement was doing, as data. The words an error starts with and
//! the fix suggested when the server denies it come from the same value,
//! so a hint never depends on how a message happens to be worded.

#[derive(Clone, Copy)]
pub(super) enum Op<'a> {
    Probe,
    Lock,
    Unlock,
    CheckLock,
    ResetRole,
    Begin,
    LookUpRole(&'a str),
    CountSessions(&'a str),
    EndSessions(&'a str),
    ReadAlterPrivileges(&'a str),
    ReadMemberships(&'a str),
    ReadSettings(&'a str),
    Grant {
        group: &'a str,
        role: &'a str,
    },
    Revoke {
        group: &'a str,
        role: &'a str,
    },
    SetPassword(&'a str),
    CreateRole(&'a str),
    CopySetting {
        name: &'a str,
        from: &'a str,
        to: &'a str,
    },
    CommitCreation(&'a str),
}

impl Op<'_> {
    /// The operation in the words of an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Op::Probe => "run the probe query".into(),
            Op::Lock => "take the advisory lock".into(),
            Op::Unlock => "release the advisory lock".into(),
            Op::CheckLock => "check that the advisory lock is still held".into(),
            Op::ResetRole => "reset the session's role".into(),
            Op::Begin => "begin a transaction".into(),
            Op::LookUpRole(role) => format!("look up role {role:?}"),
            Op::CountSessions(role) => format!("count sessions of {role:?}"),
            Op::EndSessions(role) => format!("end sessions of {role:?}"),
            Op::ReadAlterPrivileges(role) => format!("read the privileges that alter {role:?}"),
            Op::ReadMemberships(role) => format!("read memberships of {role:?}"),
            Op::ReadSettings(role) => format!("read the settings of {role:?}"),
            Op::Grant { group, role } => format!("grant {group:?} to {role:?}"),
            Op::Revoke { group, role } => format!("revoke {group:?} from {role:?}"),
            Op::SetPassword(role) => format!("set the password of {role:?}"),
            Op::CreateRole(role) => format!("create the login role {role:?}"),
            Op::CopySetting { name, from, to } => {
                format!("copy the setting {name} of {from:?} to {to:?}")
            }
            Op::CommitCreation(role) => format!("commit the creation of {role:?}"),
        }
    }

    /// What to grant (or change) when the server answers "permission
    /// denied" to this operation.
    pub(super) fn hint(&self) -> String {
        match self {
            Op::EndSessions(_) => "grant pg_signal_backend to the admin role, or use \
                standby_sessions: fail | wait"
                .into(),
            Op::CopySetting { name, .. } => format!(
                "a superuser can allow it with `GRANT SET ON PARAMETER {name} TO <master role>` \
                (PostgreSQL 15+), or create the clone yourself"
            ),
            Op::SetPassword(_) => "the admin role needs CREATEROLE (PostgreSQL 16+: also ADMIN \
                OPTION on the role), or use `admin: self`"
                .into(),
            _ => "the admin role needs CREATEROLE and ADMIN OPTION on the groups involved (see \
                `seesaw setup-sql`)"
                .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Op;

    #[test]
    fn each_denied_operation_gets_the_fix_for_it() {
        assert!(Op::EndSessions("b").hint().contains("pg_signal_backend"));
        assert!(Op::SetPassword("b").hint().contains("CREATEROLE"));
        assert!(Op::SetPassword("b").hint().contains("admin: self"));
        let copy = Op::CopySetting {
            name: "search_path",
            from: "a",
            to: "a_clone",
        };
        assert!(copy.hint().contains("GRANT SET ON PARAMETER search_path"));
        assert!(Op::Grant {
            group: "g",
            role: "b"
        }
        .hint()
        .contains("ADMIN OPTION on the groups"));
        assert_eq!(
            copy.describe(),
            "copy the setting search_path of \"a\" to \"a_clone\""
        );
    }
}
