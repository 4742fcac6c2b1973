//! One value per key for the whole process, made on first use: the AWS
//! clients all targets with the same settings share (one connection pool
//! and one credential cache, so a daemon with 1000 targets on one account
//! exchanges its IRSA token once, not 1000 times, and holds one pool, not
//! 1000). [`Interned`] is the same for values made synchronously that
//! many targets share (parsed crons, TLS client configs).
//!
//! Only for values that survive a change of tokio runtime (a process has
//! one; tests have many): hyper's pool drops connections whose runtime is
//! gone and opens new ones. kube's client is not one of them (its request
//! buffer's worker dies with the runtime that spawned it): Kubernetes
//! clients are shared within a daemon generation ([`Shared`]) instead.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, LazyLock};
use tokio::sync::Mutex;

pub struct PerProcess<K, V> {
    map: LazyLock<Shared<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Default for PerProcess<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash, V: Clone> PerProcess<K, V> {
    pub const fn new() -> Self {
        PerProcess {
            map: LazyLock::new(Shared::default),
        }
    }

    /// See [`Shared::get_or_make`].
    pub async fn get_or_make<E, Fut>(&self, key: K, make: impl FnOnce() -> Fut) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        self.map.get_or_make(key, make).await
    }
}

/// The same, for one scope that owns it (a daemon generation, which lives
/// on one runtime): clones share the values.
pub struct Shared<K, V>(Arc<Mutex<HashMap<K, V>>>);

impl<K, V> Clone for Shared<K, V> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<K, V> Default for Shared<K, V> {
    fn default() -> Self {
        Shared(Arc::new(Mutex::new(HashMap::new())))
    }
}

impl<K, V> std::fmt::Debug for Shared<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl<K: Eq + Hash, V: Clone> Shared<K, V> {
    /// The value for `key`, made by `make` the first time (a failure is
    /// returned and not kept: the next call tries again).
    pub async fn get_or_make<E, Fut>(&self, key: K, make: impl FnOnce() -> Fut) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        let mut map = self.0.lock().await;
        if let Some(v) = map.get(&key) {
            return Ok(v.clone());
        }
        let v = make().await?;
        map.insert(key, v.clone());
        Ok(v)
    }
}

/// One value per key for the whole process, made on first use by a
/// synchronous `make`: values that hold no connection, which many targets
/// share instead of each holding a copy (a parsed cron, a TLS client
/// config with its session cache).
pub struct Interned<K, V> {
    map: LazyLock<std::sync::Mutex<HashMap<K, V>>>,
}

impl<K: Eq + Hash, V: Clone> Default for Interned<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash, V: Clone> Interned<K, V> {
    pub const fn new() -> Self {
        Interned {
            map: LazyLock::new(Default::default),
        }
    }

    /// The value for `key`, made by `make` the first time (a failure is
    /// returned and not kept).
    pub fn get_or_make<E>(&self, key: K, make: impl FnOnce(&K) -> Result<V, E>) -> Result<V, E> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.get(&key) {
            return Ok(v.clone());
        }
        let v = make(&key)?;
        map.insert(key, v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::{Interned, PerProcess};

    static INTERNED: Interned<&'static str, u32> = Interned::new();

    #[test]
    fn interned_once_per_key_and_failures_are_not_kept() {
        let mut made = 0;
        for _ in 0..3 {
            let v = INTERNED.get_or_make("a", |_| {
                made += 1;
                Ok::<_, ()>(7)
            });
            assert_eq!(v, Ok(7));
        }
        assert_eq!(made, 1);
        assert_eq!(
            INTERNED.get_or_make("b", |_| Err::<u32, _>("no")),
            Err("no")
        );
        assert_eq!(INTERNED.get_or_make("b", |_| Ok::<_, &str>(8)), Ok(8));
    }

    static COUNTED: PerProcess<&'static str, u32> = PerProcess::new();

    #[tokio::test]
    async fn made_once_per_key_and_failures_are_not_kept() {
        let mut made = 0;
        for _ in 0..3 {
            let v = COUNTED
                .get_or_make("a", || {
                    made += 1;
                    async { Ok::<_, ()>(7) }
                })
                .await;
            assert_eq!(v, Ok(7));
        }
        assert_eq!(made, 1);
        let failed = COUNTED
            .get_or_make("b", || async { Err::<u32, _>("no") })
            .await;
        assert_eq!(failed, Err("no"));
        let later = COUNTED
            .get_or_make("b", || async { Ok::<_, &str>(8) })
            .await;
        assert_eq!(later, Ok(8));
    }
}
