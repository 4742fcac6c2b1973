//! Failure injection through the engine's [`Progress`] hook.

use seesaw::db::{Database, DbError, Session};
use seesaw::rotation::Step;
use seesaw::runtime::Progress;
use seesaw::secret::Credential;
use seesaw::store::{PublishRequest, SecretStore, StoreError, StoreState};
use std::time::Duration;

/// Stops the run after the named step, as a crash (or a Lambda's timeout)
/// there would.
pub struct FailAfter(pub &'static str);

impl Progress for FailAfter {
    fn finished(&self, _: &str, step: &Step, _: Duration) -> Result<(), String> {
        if step.name() == self.0 {
            Err(format!("fault injected after {}", self.0))
        } else {
            Ok(())
        }
    }
}

/// Crash points at the calls the engine makes: every store call and every
/// database login and statement is counted, and the run fails at call `n`
/// either before it is made or after it took effect (its answer lost), as
/// a crash or a dropped connection there would.
#[derive(Default)]
pub struct Faults {
    calls: std::sync::atomic::AtomicUsize,
    at: std::sync::Mutex<Option<(usize, When)>>,
    /// The armed fault was injected (a run shorter than the one counted
    /// would never reach it, and pass as a clean rotation).
    fired: std::sync::atomic::AtomicBool,
    /// What each call was, in order (for messages).
    pub trace: std::sync::Mutex<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Before,
    After,
}

impl Faults {
    pub fn arm(&self, n: usize, when: When) {
        self.calls.store(0, std::sync::atomic::Ordering::SeqCst);
        self.fired.store(false, std::sync::atomic::Ordering::SeqCst);
        self.trace.lock().unwrap().clear();
        *self.at.lock().unwrap() = Some((n, when));
    }

    pub fn disarm(&self) {
        self.calls.store(0, std::sync::atomic::Ordering::SeqCst);
        self.trace.lock().unwrap().clear();
        *self.at.lock().unwrap() = None;
    }

    /// Whether the armed fault was injected since it was armed.
    pub fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn count(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The name of call `n` in the last run.
    pub fn call(&self, n: usize) -> String {
        self.trace
            .lock()
            .unwrap()
            .get(n)
            .cloned()
            .unwrap_or_default()
    }

    async fn around<T, E>(
        &self,
        what: &str,
        op: impl std::future::Future<Output = Result<T, E>>,
        fail: impl Fn(String) -> E,
    ) -> Result<T, E> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.trace.lock().unwrap().push(what.to_owned());
        let at = *self.at.lock().unwrap();
        if at == Some((n, When::Before)) {
            self.fired.store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(fail(format!("fault injected before call {n} ({what})")));
        }
        let result = op.await;
        if at == Some((n, When::After)) {
            self.fired.store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(fail(format!("fault injected after call {n} ({what})")));
        }
        result
    }
}

pub struct FaultyStore {
    pub inner: Box<dyn SecretStore>,
    pub faults: std::sync::Arc<Faults>,
}

fn store_fault(store: String) -> impl Fn(String) -> StoreError {
    move |message| StoreError::Other {
        store: store.clone(),
        message,
    }
}

#[async_trait::async_trait]
impl SecretStore for FaultyStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self) -> Result<StoreState, StoreError> {
        self.faults
            .around(
                "store.read",
                self.inner.read(),
                store_fault(self.describe()),
            )
            .await
    }
    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        self.faults
            .around(
                "store.stage",
                self.inner.stage(request),
                store_fault(self.describe()),
            )
            .await
    }
    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        self.faults
            .around(
                "store.promote",
                self.inner.promote(pending, replaces),
                store_fault(self.describe()),
            )
            .await
    }
    fn clear_pending_hint(&self, version: &str) -> String {
        self.inner.clear_pending_hint(version)
    }
}

pub struct FaultyDatabase {
    pub inner: Box<dyn Database>,
    pub faults: std::sync::Arc<Faults>,
}

fn db_fault(db: String) -> impl Fn(String) -> DbError {
    move |reason| DbError::Unreachable {
        db: db.clone(),
        reason,
    }
}

#[async_trait::async_trait]
impl Database for FaultyDatabase {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn login(&self, credential: &Credential) -> Result<Box<dyn Session>, DbError> {
        let session = self
            .faults
            .around(
                &format!("db.login {}", credential.username),
                self.inner.login(credential),
                db_fault(self.describe()),
            )
            .await?;
        Ok(Box::new(FaultySession {
            inner: session,
            faults: self.faults.clone(),
            db: self.describe(),
        }))
    }
}

struct FaultySession {
    inner: Box<dyn Session>,
    faults: std::sync::Arc<Faults>,
    db: String,
}

#[async_trait::async_trait]
impl Session for FaultySession {
    async fn probe(&mut self) -> Result<String, DbError> {
        let f = self.faults.clone();
        f.around("db.probe", self.inner.probe(), db_fault(self.db.clone()))
            .await
    }
    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.try_lock",
            self.inner.try_lock(key),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.lock_held",
            self.inner.lock_held(key),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        // A crash point too: a run whose release fails (or whose answer is
        // lost) leaves the lock to its session, which ends with the run.
        let f = self.faults.clone();
        f.around(
            "db.unlock",
            self.inner.unlock(key),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.role_exists",
            self.inner.role_exists(role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn sessions_of(
        &mut self,
        role: &str,
    ) -> Result<std::collections::BTreeSet<i64>, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.sessions_of",
            self.inner.sessions_of(role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn terminate_sessions_of(&mut self, role: &str) -> Result<u64, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.terminate_sessions_of",
            self.inner.terminate_sessions_of(role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn cannot_set_password_of(&mut self, role: &str) -> Result<Option<String>, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.cannot_set_password_of",
            self.inner.cannot_set_password_of(role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn memberships(
        &mut self,
        role: &str,
    ) -> Result<std::collections::BTreeSet<String>, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.memberships",
            self.inner.memberships(role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn grant_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let f = self.faults.clone();
        f.around(
            "db.grant_membership",
            self.inner.grant_membership(group, role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn revoke_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let f = self.faults.clone();
        f.around(
            "db.revoke_membership",
            self.inner.revoke_membership(group, role),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn set_password(
        &mut self,
        role: &str,
        password: &secrecy::SecretString,
    ) -> Result<secrecy::SecretString, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.set_password",
            self.inner.set_password(role, password),
            db_fault(self.db.clone()),
        )
        .await
    }
    async fn create_login_role_like(
        &mut self,
        role: &str,
        like: &str,
    ) -> Result<seesaw::db::RoleCopy, DbError> {
        let f = self.faults.clone();
        f.around(
            "db.create_login_role_like",
            self.inner.create_login_role_like(role, like),
            db_fault(self.db.clone()),
        )
        .await
    }
}
