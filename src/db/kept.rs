//! One idle session kept between short units of work (the Lambda's warm
//! invocations). A login costs a TCP connect, a SCRAM exchange (4096
//! PBKDF2 rounds on each side) and a backend start; a warm invocation gets
//! the kept session back after a one-round-trip liveness check instead.
//!
//! Safe to keep, by construction:
//! - only the credential it was opened with gets it back (the key is a
//!   digest of the database, the user and the password), so nothing of one
//!   secret's master reaches another's;
//! - only a session whose every call completed without error, and which
//!   holds no advisory lock, is kept: no transaction, no lock and no
//!   half-read reply crosses from one invocation to the next;
//! - proofs that a credential logs in never come from here (the engine
//!   and the Lambda log in afresh for those): only the acting login of one
//!   credential, the master, is wrapped.

use super::{Database, DbError, RoleCopy, Session};
use crate::secret::Credential;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

type Key = [u8; 32];
type Idle = (Key, Box<dyn Session>);

/// Where the idle session waits. Cheap to clone; clones share the slot.
#[derive(Clone, Default)]
pub struct Keeper {
    slot: Arc<Mutex<Option<Idle>>>,
}

impl Keeper {
    /// `db`, whose logins as `credential` reuse the kept session.
    pub fn around(&self, db: Box<dyn Database>, credential: Credential) -> Box<dyn Database> {
        Box::new(Keeping {
            key: key(&db.describe(), &credential),
            inner: db,
            credential,
            keeper: self.clone(),
        })
    }

    fn take(&self, key: &Key) -> Option<Box<dyn Session>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some((k, session)) if &k == key => Some(session),
            // Another credential's session: closed, not handed out.
            _ => None,
        }
    }

    fn put(&self, key: Key, session: Box<dyn Session>) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, session));
    }

    /// True while a session waits (tests).
    pub fn holds_one(&self) -> bool {
        self.slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

fn key(db: &str, credential: &Credential) -> Key {
    let mut h = Sha256::new();
    for part in [
        db,
        &credential.username,
        credential.password.expose_secret(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

struct Keeping {
    inner: Box<dyn Database>,
    credential: Credential,
    key: Key,
    keeper: Keeper,
}

#[async_trait]
impl Database for Keeping {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn login(&self, credential: &Credential) -> Result<Box<dyn Session>, DbError> {
        let same = credential.username == self.credential.username
            && credential.password.expose_secret() == self.credential.password.expose_secret();
        if !same {
            return self.inner.login(credential).await;
        }
        if let Some(mut session) = self.keeper.take(&self.key) {
            // The liveness check: a frozen sandbox may come back to a
            // connection the server or a NAT has long closed.
            if session
                .probe()
                .await
                .is_ok_and(|user| user == credential.username)
            {
                return Ok(self.wrap(session));
            }
        }
        let session = self.inner.login(credential).await?;
        Ok(self.wrap(session))
    }
}

impl Keeping {
    fn wrap(&self, session: Box<dyn Session>) -> Box<dyn Session> {
        Box::new(Kept {
            session: Some(session),
            key: self.key,
            keeper: self.keeper.clone(),
            busy: false,
            failed: false,
            locks: 0,
        })
    }
}

/// A session that goes back to its keeper when dropped, if it is clean.
struct Kept {
    session: Option<Box<dyn Session>>,
    key: Key,
    keeper: Keeper,
    /// A call started and did not finish (its future was dropped).
    busy: bool,
    /// A call failed: the session's state is not known.
    failed: bool,
    /// Advisory locks taken and not released.
    locks: usize,
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            if !self.busy && !self.failed && self.locks == 0 {
                self.keeper.put(self.key, session);
            }
        }
    }
}

/// Runs one call of the inner session, recording whether it completed.
macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        $self.busy = true;
        // never panics: the session is only taken out by Drop.
        let session = $self.session.as_mut().expect("a live session");
        let result = session.$method($($arg),*).await;
        $self.busy = false;
        $self.failed |= result.is_err();
        result
    }};
}

#[async_trait]
impl Session for Kept {
    async fn probe(&mut self) -> Result<String, DbError> {
        forward!(self.probe())
    }
    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let taken = forward!(self.try_lock(key))?;
        self.locks += usize::from(taken);
        Ok(taken)
    }
    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        forward!(self.lock_held(key))
    }
    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        forward!(self.unlock(key))?;
        self.locks = self.locks.saturating_sub(1);
        Ok(())
    }
    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError> {
        forward!(self.role_exists(role))
    }
    async fn sessions_of(&mut self, role: &str) -> Result<BTreeSet<i64>, DbError> {
        forward!(self.sessions_of(role))
    }
    async fn terminate_sessions_of(&mut self, role: &str) -> Result<u64, DbError> {
        forward!(self.terminate_sessions_of(role))
    }
    async fn memberships(&mut self, role: &str) -> Result<BTreeSet<String>, DbError> {
        forward!(self.memberships(role))
    }
    async fn cannot_set_password_of(&mut self, role: &str) -> Result<Option<String>, DbError> {
        forward!(self.cannot_set_password_of(role))
    }
    async fn grant_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        forward!(self.grant_membership(group, role))
    }
    async fn revoke_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        forward!(self.revoke_membership(group, role))
    }
    async fn set_password(
        &mut self,
        role: &str,
        password: &SecretString,
    ) -> Result<SecretString, DbError> {
        forward!(self.set_password(role, password))
    }
    async fn create_login_role_like(
        &mut self,
        role: &str,
        like: &str,
    ) -> Result<RoleCopy, DbError> {
        forward!(self.create_login_role_like(role, like))
    }
}
