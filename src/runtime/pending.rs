//! How a run sees the store's pending version: whose it is, whether its
//! password is already set, and whether seesaw would have written it (a
//! version it would not have written is never resumed).

use super::engine::Engine;
use crate::rotation::PendingView;
use crate::secret::SecretDocument;
use crate::store::Versioned;

impl Engine {
    /// The store's pending version as the decision needs it: whose, and
    /// whether its password is already set (it logs in).
    pub(super) async fn view_pending(
        &self,
        pending: &Versioned,
        current: &SecretDocument,
        active: &str,
        standby_exists: bool,
    ) -> PendingView {
        let username = pending
            .document
            .username()
            .map(str::to_owned)
            .unwrap_or_else(|_| "<no username>".into());
        let ours = self.config.database.users.contains(&username) && username != active;
        // A role that does not exist yet cannot log in: no attempt.
        let logs_in = match pending.document.credential() {
            Ok(c) if ours && standby_exists => {
                self.prove_login(&c, String::new(), None).await.is_ok()
            }
            _ => false,
        };
        PendingView {
            username,
            version: pending.version.clone(),
            logs_in,
            clear_hint: self.backends.store.clear_pending_hint(&pending.version),
            foreign: self.not_ours(pending, current),
        }
    }

    /// Why `pending` is not a version seesaw writes for this target: a
    /// run stages the current document with a new login whose password
    /// the policy generated. Anything else (a hand-written pending, one
    /// another tool staged) would be published as it is, so it is refused.
    fn not_ours(&self, pending: &Versioned, current: &SecretDocument) -> Option<String> {
        use secrecy::ExposeSecret;
        let password = match pending.document.password() {
            Ok(p) => p,
            Err(problem) => return Some(problem.to_string()),
        };
        if let Err(why) = self.config.password.admits(password.expose_secret()) {
            return Some(format!(
                "its password is not one the policy generates: {why}"
            ));
        }
        let differs = pending.document.differs_from_besides_login(current);
        if !differs.is_empty() {
            return Some(format!(
                "it lacks or changes fields of the current document ({}), which would be lost on \
                    publish",
                differs.join(", ")
            ));
        }
        None
    }
}
