//! The in-memory database: roles with plaintext passwords, advisory locks
//! that die with their session, and sessions killed from outside.

use super::scheduler::Scheduler;
use super::World;
use secrecy::ExposeSecret;
use seesaw::db::{Database, DbError, RoleCopy, Session};
use seesaw::secret::Credential;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

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
