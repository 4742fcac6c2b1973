//! The in-memory store: current, previous and pending with the file
//! store's compare-and-swap rules.

use super::scheduler::Scheduler;
use super::World;
use seesaw::secret::SecretDocument;
use seesaw::store::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use std::sync::{Arc, Mutex};

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
