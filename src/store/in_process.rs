//! A pending version kept in this process, for stores that have no place
//! for one a reader of the secret would not see (GCP Secret Manager's
//! `latest` and Azure Key Vault's unversioned GET both name the newest
//! version, so a staged version there would be served to applications
//! before its password is set). The protocol runs the same; what is lost
//! is resuming after a crash between `ALTER ROLE` and promote: the next
//! run then sets a new password on the standby (the store never named the
//! lost one, so no stored credential breaks). docs/protocol.md says so.

use super::{StoreError, Versioned};
use crate::secret::SecretDocument;
use std::sync::Mutex;

#[derive(Default)]
pub struct InProcessPending {
    staged: Mutex<Option<Staged>>,
}

struct Staged {
    version: String,
    replaces: String,
    document: SecretDocument,
}

impl InProcessPending {
    /// Keeps `document` as pending under the id `token`.
    pub fn stage(&self, token: &str, replaces: &str, document: &SecretDocument) -> String {
        let mut staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        *staged = Some(Staged {
            version: token.to_owned(),
            replaces: replaces.to_owned(),
            document: document.clone(),
        });
        token.to_owned()
    }

    /// The document staged as `version`, if this process staged it.
    pub fn take(&self, store: String, version: &str) -> Result<(Versioned, String), StoreError> {
        let staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        match staged.as_ref() {
            Some(s) if s.version == version => Ok((
                Versioned {
                    version: s.version.clone(),
                    document: s.document.clone(),
                },
                s.replaces.clone(),
            )),
            _ => Err(StoreError::Conflict {
                store,
                expected: format!("pending version {version}"),
                found: "no pending version in this process".into(),
            }),
        }
    }

    pub fn clear(&self) {
        *self.staged.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
