#![cfg(test)]
//! The file store's unit tests, on files in a temporary directory: adopt,
//! stage and promote, conflicts, symlinks, non-regular files and the
//! temporary files of dead writers.

use super::*;
use serde_json::json;

fn doc(user: &str, password: &str) -> SecretDocument {
    SecretDocument::from_value(json!({"username": user, "password": password, "extra": 1})).unwrap()
}

#[tokio::test]
async fn adopts_publishes_and_keeps_the_previous() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        r#"{"current": {"username": "a", "password": "p1"}, "owner": "team-x"}"#,
    )
    .unwrap();
    let store = FileStore::new(path.clone());
    let state = store.read().await.unwrap();
    assert!(state.previous.is_none());
    let next = doc("b", "p2");
    let request = PublishRequest {
        document: &next,
        replaces: &state.current.version,
        token: "t",
    };
    let v = store.publish(request).await.unwrap();
    // A retry of the same publish is a no-op returning the same version.
    assert_eq!(store.publish(request).await.unwrap(), v);
    let after = store.read().await.unwrap();
    assert_eq!(after.current.version, v);
    assert_eq!(after.current.document, next);
    assert_eq!(after.previous.unwrap().document.username().unwrap(), "a");
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(raw["owner"], "team-x", "top-level keys are kept");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp file left behind");
}

#[tokio::test]
async fn a_stale_publish_is_a_conflict_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, r#"{"current": {"username": "a", "password": "p1"}}"#).unwrap();
    let store = FileStore::new(path.clone());
    let before = std::fs::read(&path).unwrap();
    let next = doc("b", "p2");
    let err = store
        .publish(PublishRequest {
            document: &next,
            replaces: "0000",
            token: "t",
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "conflict");
    assert!(err.to_string().contains("another writer"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

async fn rotate_once(store: &FileStore, user: &str, password: &str) -> String {
    let state = store.read().await.unwrap();
    let next = doc(user, password);
    store
        .publish(PublishRequest {
            document: &next,
            replaces: &state.current.version,
            token: "t",
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_symlinked_store_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/secret.json");
    write(&real, r#"{"current": {"username": "a", "password": "p1"}}"#);
    let link = dir.path().join("secret.json");
    std::os::unix::fs::symlink("real/secret.json", &link).unwrap();
    let store = FileStore::new(link.clone());
    rotate_once(&store, "b", "p2").await;
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let raw: Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(
        raw["current"]["username"], "b",
        "the link's target has the new credential"
    );
}

#[tokio::test]
async fn a_path_that_is_not_a_regular_file_is_refused_without_opening_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("secret.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let store = FileStore::new(fifo);
    // Opening a FIFO for reading would block forever; this must not.
    let err = tokio::time::timeout(std::time::Duration::from_secs(5), store.read())
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let dir_store = FileStore::new(dir.path().to_path_buf());
    assert!(dir_store
        .read()
        .await
        .unwrap_err()
        .to_string()
        .contains("not a regular file"));
}

#[tokio::test]
async fn temp_files_of_dead_writers_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    write(&path, r#"{"current": {"username": "a", "password": "p1"}}"#);
    // pid 1 is alive; a pid above pid_max never is.
    let live = dir.path().join(".s.json.seesaw-1-abcdefgh.tmp");
    let dead = dir.path().join(".s.json.seesaw-4194305-abcdefgh.tmp");
    let old_style = dir.path().join(".s.json.seesaw-4194306.tmp");
    let other = dir.path().join(".other.json.seesaw-4194305-x.tmp");
    for f in [&live, &dead, &old_style, &other] {
        write(f, "{\"password\": \"left-behind\"}");
    }
    rotate_once(&FileStore::new(path), "b", "p2").await;
    assert!(live.exists(), "a running writer's file is kept");
    assert!(!dead.exists(), "a dead writer's file is removed");
    assert!(!old_style.exists(), "the old naming is cleaned up too");
    assert!(other.exists(), "another store's files are not touched");
}

/// The directory is read once per process, at its first write there: a
/// directory holding thousands of targets' files is not read again for
/// every rotation. A file left behind later is the next process's to
/// remove.
#[tokio::test]
async fn a_directory_is_read_for_dead_writers_once_per_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    write(&path, r#"{"current": {"username": "a", "password": "p1"}}"#);
    let store = FileStore::new(path);
    rotate_once(&store, "b", "p2").await;
    let later = dir.path().join(".s.json.seesaw-4194305-later.tmp");
    write(&later, "{\"password\": \"left-behind\"}");
    rotate_once(&store, "a", "p3").await;
    assert!(later.exists(), "the directory was read again");
}

#[tokio::test]
async fn a_planted_link_at_a_temp_name_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    write(&path, r#"{"current": {"username": "a", "password": "p1"}}"#);
    let attacker = dir.path().join("attacker.txt");
    write(&attacker, "untouched");
    // Links under the names the old code used, for this pid.
    let pid = std::process::id();
    std::os::unix::fs::symlink(
        &attacker,
        dir.path().join(format!(".s.json.seesaw-{pid}.tmp")),
    )
    .unwrap();
    rotate_once(&FileStore::new(path.clone()), "b", "p2").await;
    assert_eq!(std::fs::read_to_string(&attacker).unwrap(), "untouched");
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_file());
}

#[tokio::test]
async fn stage_then_promote_keeps_the_pending_until_it_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    write(&path, r#"{"current": {"username": "a", "password": "p1"}}"#);
    let store = FileStore::new(path.clone());
    let state = store.read().await.unwrap();
    let next = doc("b", "pending-Secret-p2");
    let request = PublishRequest {
        document: &next,
        replaces: &state.current.version,
        token: "t",
    };
    let pending = store.stage(request).await.unwrap();
    assert_eq!(
        store.stage(request).await.unwrap(),
        pending,
        "a retried stage"
    );
    let staged = store.read().await.unwrap();
    assert_eq!(staged.current.version, state.current.version);
    assert_eq!(staged.pending.unwrap().document, next);
    // Another credential may not replace the pending one.
    let other = doc("b", "p3");
    let err = store
        .stage(PublishRequest {
            document: &other,
            replaces: &state.current.version,
            token: "u",
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "pending_exists");
    assert!(
        err.to_string().contains("remove the `pending` key"),
        "{err}"
    );
    // The pending password (a temporary directory's random name could
    // hold any two characters, so the whole password is searched for).
    assert!(!err.to_string().contains("pending-Secret-p2"));
    // A promote against a stale current is refused.
    assert_eq!(
        store.promote(&pending, "0000").await.unwrap_err().kind(),
        "conflict"
    );
    assert_eq!(
        store
            .promote(&pending, &state.current.version)
            .await
            .unwrap(),
        pending
    );
    assert_eq!(
        store
            .promote(&pending, &state.current.version)
            .await
            .unwrap(),
        pending,
        "a retried promote"
    );
    let done = store.read().await.unwrap();
    assert_eq!(done.current.document, next);
    assert!(done.pending.is_none());
    assert!(done.published_at.is_some());
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(raw.get("pending").is_none());
}
