//! Every request a cloud store sends is a crash point: a store method made
//! of several requests (AWS's promote: describe, move the stage, drop the
//! pending one; GCP's and Azure's: read the companion, add the version,
//! clear the companion) is interrupted between them, before each request
//! and after it took effect with its answer lost. The request counts are
//! pinned per store.

use crate::common::{faulty_engine, open};
use crate::crash_points::{converges_at_every_point, CrashPoints};
use crate::support;
use crate::support::crash::CrashProxy;
use crate::support::fault::{Faults, When};
use crate::support::keyvault::Vault;
use crate::support::seesaw::Target;
use seesaw::config::StoreConfig;
use std::sync::Arc;

impl CrashPoints for CrashProxy {
    fn arm(&self, n: usize, when: When) {
        CrashProxy::arm(self, n, when)
    }
    fn disarm(&self) {
        CrashProxy::disarm(self)
    }
    fn count(&self) -> usize {
        CrashProxy::count(self)
    }
    fn fired(&self) -> bool {
        CrashProxy::fired(self)
    }
    fn trace(&self) -> Vec<String> {
        CrashProxy::trace(self)
    }
}

impl CrashPoints for Vault {
    fn arm(&self, n: usize, when: When) {
        self.arm_crash(n, when)
    }
    fn disarm(&self) {
        self.disarm_crash()
    }
    fn count(&self) -> usize {
        self.crash_state().0
    }
    fn fired(&self) -> bool {
        self.crash_state().1
    }
    fn trace(&self) -> Vec<String> {
        (0..self.count()).map(|n| format!("request {n}")).collect()
    }
}

fn initial() -> serde_json::Value {
    serde_json::json!({"username": "app_a", "password": "initial-Password-1"})
}

#[tokio::test]
async fn aws_every_request_is_a_crash_point() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    moto.create("requests/app", &initial()).await;
    let proxy = CrashProxy::start(&moto.url).await;
    let mut through = moto.config("requests/app");
    through.endpoint_url = Some(proxy.url.clone());
    let engine = faulty_engine(&t, &StoreConfig::Aws(through), &Arc::new(Faults::default())).await;
    let checker = open(&StoreConfig::Aws(moto.config("requests/app"))).await;
    converges_at_every_point(&t, &engine, checker.as_ref(), &proxy, "aws requests", 8).await;
}

#[tokio::test]
async fn gcp_every_request_is_a_crash_point() {
    let Some(drongo) = support::drongo::Drongo::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    drongo.create("requests-app", &initial()).await;
    let proxy = CrashProxy::start(&drongo.url).await;
    let mut through = drongo.config("requests-app");
    through.endpoint = Some(proxy.url.clone());
    let engine = faulty_engine(&t, &StoreConfig::Gcp(through), &Arc::new(Faults::default())).await;
    let checker = open(&StoreConfig::Gcp(drongo.config("requests-app"))).await;
    converges_at_every_point(&t, &engine, checker.as_ref(), &proxy, "gcp requests", 12).await;
}

#[tokio::test]
async fn azure_every_request_is_a_crash_point() {
    let vault = Vault::start();
    let t = Target::new(["app_a", "app_b"]).await;
    vault.set("requests-app", &initial());
    let store = StoreConfig::Azure(vault.config("requests-app"));
    let engine = faulty_engine(&t, &store, &Arc::new(Faults::default())).await;
    let checker = open(&store).await;
    converges_at_every_point(&t, &engine, checker.as_ref(), &vault, "azure requests", 12).await;
}
