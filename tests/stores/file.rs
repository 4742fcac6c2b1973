//! The file store.

use crate::support::conformance;
use seesaw::store::FileStore;
use serde_json::json;

#[tokio::test]
async fn file_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        json!({"current": conformance::adopted()}).to_string(),
    )
    .unwrap();
    conformance::run(&FileStore::new(path)).await;
    conformance::not_found(&FileStore::new(dir.path().join("missing.json"))).await;
    let pending = dir.path().join("p.json");
    std::fs::write(
        &pending,
        json!({"current": conformance::adopted()}).to_string(),
    )
    .unwrap();
    conformance::pending(&FileStore::new(pending.clone()), &FileStore::new(pending)).await;
}
