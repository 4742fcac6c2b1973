//! What the fault tests share: the target's config on a given store, an
//! engine with faults injected, and the checks of I1, I2 and I4.

use crate::support;
use crate::support::fault::{Faults, FaultyDatabase, FaultyStore};
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use secrecy::{ExposeSecret, SecretString};
use seesaw::config::{Config, StoreConfig, TargetConfig};
use seesaw::db::Postgres;
use seesaw::runtime::{Backends, Engine};
use seesaw::secret::Credential;
use seesaw::store::{SecretStore, StoreState, Versioned};
use std::sync::Arc;

fn target_config(t: &Target, store: &StoreConfig) -> TargetConfig {
    let mut config = Config::load(&t.config).unwrap().targets[0].clone();
    config.store = store.clone();
    config
}

/// What an in-process seesaw reads for `store`: the admin passwords, and
/// the emulator's credentials for a cloud store.
fn environment(store: &StoreConfig) -> seesaw::environment::Environment {
    match store {
        StoreConfig::Aws(_) => support::moto::environment(),
        StoreConfig::Azure(_) => support::keyvault::environment(),
        _ => support::seesaw::environment(),
    }
}

pub async fn open(store: &StoreConfig) -> Box<dyn SecretStore> {
    seesaw::store::open(store, &environment(store))
        .await
        .unwrap()
}

/// An engine whose every store and database call goes through `faults`.
pub async fn faulty_engine(t: &Target, store: &StoreConfig, faults: &Arc<Faults>) -> Engine {
    let config = target_config(t, store);
    let admin = (!t.admin_self).then(|| Credential::new(ADMIN, SecretString::from(ADMIN_PASSWORD)));
    let db = Postgres::new(&config.database).unwrap();
    let backends = Backends::new(
        Box::new(FaultyDatabase {
            inner: Box::new(db),
            faults: faults.clone(),
        }),
        Box::new(FaultyStore {
            inner: open(store).await,
            faults: faults.clone(),
        }),
    );
    Engine::with_backends(config, backends, admin)
}

pub fn credential(v: &Versioned) -> Credential {
    v.document.credential().unwrap()
}

pub async fn logs_in(t: &Target, c: &Credential) -> bool {
    t.cluster
        .can_login(&c.username, c.password.expose_secret(), DB)
        .await
}

/// I1, I2 and I4 after an interrupted run that started from `before`.
pub async fn check_interrupted(t: &Target, before: &StoreState, now: &StoreState, point: &str) {
    let current = credential(&now.current);
    assert!(
        logs_in(t, &current).await,
        "I1 broken after {point}: the store's current {:?} does not log in",
        current.username
    );
    if now.current.version != before.current.version {
        // Promote completed: the old current is the previous now.
        let previous = now.previous.as_ref().expect("a previous version");
        assert_eq!(
            previous.document, before.current.document,
            "I4 broken after {point}: the current version changed but the previous is not the old current"
        );
        assert!(logs_in(t, &credential(previous)).await, "I2 after {point}");
    } else if let Some(previous) = &before.previous {
        let previous = credential(previous);
        let mut works = logs_in(t, &previous).await;
        if let Some(pending) = &now.pending {
            let pending = credential(pending);
            works |= pending.username == previous.username && logs_in(t, &pending).await;
        }
        assert!(
            works,
            "I2 broken after {point}: {:?} logs in with no password the store holds",
            previous.username
        );
    }
}

pub fn file_store(t: &Target) -> StoreConfig {
    StoreConfig::File(seesaw::config::FileStoreConfig {
        path: t.store.clone(),
    })
}

/// Points the target at a moto secret holding `app_a`'s credential.
pub async fn on_moto(t: &Target, moto: &support::moto::Moto, secret: &str) -> StoreConfig {
    moto.create(
        secret,
        &serde_json::json!({"username": "app_a", "password": "initial-Password-1"}),
    )
    .await;
    t.use_store(
        &format!(
            "aws: {{ secret_id: {secret}, region: us-east-1, endpoint_url: \"{}\" }}",
            moto.url
        ),
        &support::moto::env(),
    );
    StoreConfig::Aws(moto.config(secret))
}
