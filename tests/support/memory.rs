//! An in-memory database and store for the protocol's property test, and a
//! scheduler that interleaves two runs call by call.
//!
//! The database keeps roles with plaintext passwords, session-scoped
//! advisory locks that die with their session, and sessions that can be
//! killed from outside (a restart, `pg_terminate_backend`). The store keeps
//! current, previous and pending with the same compare-and-swap rules as
//! the file store; it passes the same conformance suite as the real ones.

use secrecy::ExposeSecret;
use seesaw::db::{Database, DbError, RoleCopy, Session};
use seesaw::secret::{Credential, SecretDocument};
use seesaw::store::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct World {
    pub passwords: HashMap<String, String>,
    /// lock key -> session id
    locks: HashMap<i64, u64>,
    alive: BTreeSet<u64>,
    next_session: u64,
    /// Sessions by the run that opened them (for killing one run's).
    pub sessions_of_run: HashMap<usize, Vec<u64>>,
    pub promotes: usize,
}

#[derive(Clone)]
pub struct MemoryDb {
    pub world: Arc<Mutex<World>>,
    pub run: usize,
    pub scheduler: Option<Arc<Scheduler>>,
}

const DB: &str = "memory db";

fn gone() -> DbError {
    DbError::Unreachable {
        db: DB.into(),
        reason: "the session was terminated".into(),
    }
}

impl MemoryDb {
    async fn turn(&self) -> Result<(), DbError> {
        match &self.scheduler {
            Some(s) => s
                .turn(self.run)
                .await
                .map_err(|reason| DbError::Unreachable {
                    db: DB.into(),
                    reason,
                }),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Database for MemoryDb {
    fn describe(&self) -> String {
        DB.into()
    }
    async fn login(&self, c: &Credential) -> Result<Box<dyn Session>, DbError> {
        self.turn().await?;
        let mut w = self.world.lock().unwrap();
        if w.passwords.get(&c.username).map(String::as_str) != Some(c.password.expose_secret()) {
            return Err(DbError::LoginFailed {
                db: DB.into(),
                user: c.username.clone(),
                reason: "password authentication failed".into(),
            });
        }
        w.next_session += 1;
        let id = w.next_session;
        w.alive.insert(id);
        w.sessions_of_run.entry(self.run).or_default().push(id);
        Ok(Box::new(MemorySession {
            db: self.clone(),
            id,
            user: c.username.clone(),
        }))
    }
}

impl World {
    /// Ends a session as a server restart would: its locks go with it.
    pub fn kill(&mut self, id: u64) {
        self.alive.remove(&id);
        self.locks.retain(|_, holder| *holder != id);
    }
}

struct MemorySession {
    db: MemoryDb,
    id: u64,
    user: String,
}

impl Drop for MemorySession {
    fn drop(&mut self) {
        self.db.world.lock().unwrap().kill(self.id);
    }
}

impl MemorySession {
    async fn live(&self) -> Result<std::sync::MutexGuard<'_, World>, DbError> {
        self.db.turn().await?;
        let w = self.db.world.lock().unwrap();
        if !w.alive.contains(&self.id) {
            return Err(gone());
        }
        Ok(w)
    }
}

#[async_trait::async_trait]
impl Session for MemorySession {
    async fn probe(&mut self) -> Result<String, DbError> {
        drop(self.live().await?);
        Ok(self.user.clone())
    }
    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let id = self.id;
        let mut w = self.live().await?;
        match w.locks.get(&key) {
            Some(holder) if *holder != id => Ok(false),
            _ => {
                w.locks.insert(key, id);
                Ok(true)
            }
        }
    }
    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        let id = self.id;
        let w = self.live().await?;
        Ok(w.locks.get(&key) == Some(&id))
    }
    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        let id = self.id;
        let mut w = self.live().await?;
        if w.locks.get(&key) == Some(&id) {
            w.locks.remove(&key);
        }
        Ok(())
    }
    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError> {
        Ok(self.live().await?.passwords.contains_key(role))
    }
    async fn sessions_of(&mut self, _: &str) -> Result<BTreeSet<i64>, DbError> {
        drop(self.live().await?);
        Ok(BTreeSet::new())
    }
    async fn terminate_sessions_of(&mut self, _: &str) -> Result<u64, DbError> {
        drop(self.live().await?);
        Ok(0)
    }
    async fn memberships(&mut self, _: &str) -> Result<BTreeSet<String>, DbError> {
        drop(self.live().await?);
        Ok(BTreeSet::new())
    }
    async fn grant_membership(&mut self, _: &str, _: &str) -> Result<(), DbError> {
        drop(self.live().await?);
        Ok(())
    }
    async fn revoke_membership(&mut self, _: &str, _: &str) -> Result<(), DbError> {
        drop(self.live().await?);
        Ok(())
    }
    async fn set_password(
        &mut self,
        role: &str,
        password: &secrecy::SecretString,
    ) -> Result<secrecy::SecretString, DbError> {
        let mut w = self.live().await?;
        w.passwords
            .insert(role.to_owned(), password.expose_secret().to_owned());
        // The model stores the password itself as its "verifier".
        Ok(password.clone())
    }
    async fn create_login_role_like(&mut self, _: &str, _: &str) -> Result<RoleCopy, DbError> {
        Err(DbError::Setup {
            db: DB.into(),
            message: "not modelled".into(),
        })
    }
}

#[derive(Default, Clone)]
pub struct Slots {
    pub current: Option<Versioned>,
    pub previous: Option<Versioned>,
    pub pending: Option<Versioned>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone)]
pub struct MemoryStore {
    pub slots: Arc<Mutex<Slots>>,
    pub world: Arc<Mutex<World>>,
    pub run: usize,
    pub scheduler: Option<Arc<Scheduler>>,
}

fn version_of(d: &SecretDocument) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(d.to_value().to_string().as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

impl MemoryStore {
    pub fn new(current: SecretDocument, world: Arc<Mutex<World>>) -> MemoryStore {
        MemoryStore {
            slots: Arc::new(Mutex::new(Slots {
                current: Some(Versioned {
                    version: version_of(&current),
                    document: current,
                }),
                ..Default::default()
            })),
            world,
            run: 0,
            scheduler: None,
        }
    }

    /// The same store, seen by run `run` under `scheduler`.
    pub fn for_run(&self, run: usize, scheduler: Option<Arc<Scheduler>>) -> MemoryStore {
        MemoryStore {
            run,
            scheduler,
            ..self.clone()
        }
    }

    async fn turn(&self) -> Result<(), StoreError> {
        match &self.scheduler {
            Some(s) => s.turn(self.run).await.map_err(|message| StoreError::Other {
                store: "memory store".into(),
                message,
            }),
            None => Ok(()),
        }
    }

    fn conflict(expected: &str, found: &str) -> StoreError {
        StoreError::Conflict {
            store: "memory store".into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

#[async_trait::async_trait]
impl SecretStore for MemoryStore {
    fn describe(&self) -> String {
        "memory store".into()
    }
    async fn read(&self) -> Result<StoreState, StoreError> {
        self.turn().await?;
        let s = self.slots.lock().unwrap().clone();
        Ok(StoreState {
            current: s.current.clone().expect("a current version"),
            previous: s.previous,
            pending: s.pending,
            published_at: s.published_at,
        })
    }
    async fn stage(&self, r: PublishRequest<'_>) -> Result<String, StoreError> {
        self.turn().await?;
        let mut s = self.slots.lock().unwrap();
        let version = version_of(r.document);
        let current = s.current.clone().expect("a current version");
        if current.version == version {
            return Ok(version);
        }
        match &s.pending {
            Some(p) if p.version == version => return Ok(version),
            Some(p) => {
                return Err(StoreError::PendingExists {
                    store: "memory store".into(),
                    pending: p.version.clone(),
                    hint: self.clear_pending_hint(&p.version),
                })
            }
            None => {}
        }
        if current.version != r.replaces {
            return Err(Self::conflict(r.replaces, &current.version));
        }
        s.pending = Some(Versioned {
            version: version.clone(),
            document: r.document.clone(),
        });
        Ok(version)
    }
    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        self.turn().await?;
        let mut s = self.slots.lock().unwrap();
        let current = s.current.clone().expect("a current version");
        if current.version == pending {
            return Ok(current.version);
        }
        let Some(p) = s.pending.clone().filter(|p| p.version == pending) else {
            return Err(Self::conflict(pending, "no such pending version"));
        };
        if current.version != replaces {
            return Err(Self::conflict(replaces, &current.version));
        }
        s.previous = s.current.take();
        s.current = Some(p);
        s.pending = None;
        s.published_at = Some(chrono::Utc::now());
        self.world.lock().unwrap().promotes += 1;
        Ok(pending.to_owned())
    }
    fn clear_pending_hint(&self, version: &str) -> String {
        format!("clear pending version {version} of the memory store")
    }
}

/// Interleaves runs: before each backend call a run waits until the
/// script names it (a run that finished no longer takes turns). A run may
/// be made to fail at one of its calls (a crash), or to lose its sessions
/// there (a lost lock).
pub struct Scheduler {
    state: Mutex<Sched>,
    notify: tokio::sync::Notify,
    pub world: Arc<Mutex<World>>,
}

#[derive(Default)]
struct Sched {
    script: Vec<usize>,
    at: usize,
    finished: BTreeSet<usize>,
    calls: HashMap<usize, usize>,
    /// (run, call number, what): what = "crash" | "lose_lock"
    fault: Option<(usize, usize, &'static str)>,
}

impl Scheduler {
    pub fn new(
        script: Vec<usize>,
        fault: Option<(usize, usize, &'static str)>,
        world: Arc<Mutex<World>>,
    ) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            state: Mutex::new(Sched {
                script,
                fault,
                ..Default::default()
            }),
            notify: tokio::sync::Notify::new(),
            world,
        })
    }

    pub fn finish(&self, run: usize) {
        self.state.lock().unwrap().finished.insert(run);
        self.notify.notify_waiters();
    }

    async fn turn(&self, run: usize) -> Result<(), String> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().unwrap();
                // Whose turn: the script's next entry, skipping runs that
                // finished; past the end of the script, anyone's.
                while s.at < s.script.len() && s.finished.contains(&s.script[s.at]) {
                    s.at += 1;
                }
                let mine = s.at >= s.script.len() || s.script[s.at] == run;
                if mine {
                    s.at += 1;
                    let n = {
                        let c = s.calls.entry(run).or_default();
                        *c += 1;
                        *c
                    };
                    let fault = s.fault.filter(|(r, k, _)| *r == run && *k == n);
                    drop(s);
                    self.notify.notify_waiters();
                    match fault.map(|f| f.2) {
                        Some("crash") => return Err(format!("crash injected at call {n}")),
                        Some(_) => {
                            let mut w = self.world.lock().unwrap();
                            for id in w.sessions_of_run.get(&run).cloned().unwrap_or_default() {
                                w.kill(id);
                            }
                        }
                        None => {}
                    }
                    return Ok(());
                }
            }
            notified.await;
        }
    }
}
