//! The file store: one JSON file on local disk,
//! `{"current": {document}, "previous": {document} | null,
//!   "pending": {document} (only mid-rotation), "published_at": RFC 3339}`.
//!
//! A file holding only `{"current": {...}}` is adopted as is. Top-level keys
//! seesaw does not know are kept.
//!
//! Writes: a temporary file with a random name, created with O_CREAT|O_EXCL
//! (a planted file or symlink makes the create fail instead of being
//! followed) and mode 0600 in the store's own directory, fsynced, renamed
//! over the store and the directory fsynced, so a crash leaves either the
//! old or the new file, never a torn one. A symlinked store path (Kubernetes'
//! `..data` links, a hand-made link) is written through to its resolved
//! target, so the link stays and its readers see the new credential.
//! Temporary files that a killed seesaw left behind (they name their pid)
//! are removed by the next write. A path that is not a regular file (a FIFO,
//! a device) is refused before it is opened.
//!
//! Concurrency: every read-modify-write holds an exclusive `flock` on the
//! store's directory and compares the version it read (a digest of the
//! document) with the one the rotation observed, so a writer outside
//! seesaw's advisory lock (a person, another tool) is detected, never
//! overwritten.
//!
//! Version ids are a digest of the document, so the file needs no extra
//! bookkeeping and a retried stage or promote is a no-op.

use super::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use crate::atomic_file;
use crate::secret::SecretDocument;
use async_trait::async_trait;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub struct FileStore {
    path: PathBuf,
}

const PUBLISHED_AT: &str = "published_at";

impl FileStore {
    pub fn new(path: PathBuf) -> Self {
        FileStore { path }
    }

    fn name(&self) -> String {
        format!("file store {}", self.path.display())
    }

    fn malformed(&self, problem: impl Into<String>) -> StoreError {
        StoreError::Malformed {
            store: self.name(),
            problem: problem.into(),
        }
    }

    fn io(&self, doing: &str, e: std::io::Error) -> StoreError {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => StoreError::Denied {
                store: self.name(),
                permission: format!("permission to {doing} the file"),
                policy: "the file's owner and mode, and its directory's (seesaw writes a temporary file beside it and renames it); seesaw writes it with mode 0600".into(),
            },
            _ => StoreError::Other {
                store: self.name(),
                message: format!("cannot {doing} the file: {e}"),
            },
        }
    }

    /// The file to read and replace: the store path, or where its symlinks
    /// lead. Refuses anything but a regular file, before opening it (a
    /// FIFO would block the open forever).
    fn resolved(&self) -> Result<PathBuf, StoreError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    store: self.name(),
                    hint: "create it with {\"current\": {\"username\": ..., \"password\": ...}} holding the active user's credential, or check store.file.path".into(),
                })
            }
            Err(e) => return Err(self.io("read", e)),
        };
        if !meta.file_type().is_file() {
            return Err(self.malformed(
                "is not a regular file (a directory, FIFO, socket or device); point store.file.path at the JSON file",
            ));
        }
        std::fs::canonicalize(&self.path).map_err(|e| self.io("resolve", e))
    }

    fn read_file(&self, path: &Path) -> Result<Map<String, Value>, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| self.io("read", e))?;
        // serde_json's messages carry a position, never the content.
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.malformed(format!(
                "is not valid JSON ({e}); expected {{\"current\": {{...}}, \"previous\": {{...}} | null}}"
            ))
        })?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(self.malformed(
                "expected a JSON object {\"current\": {...}, \"previous\": {...} | null}",
            )),
        }
    }

    fn document(
        &self,
        file: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<Versioned>, StoreError> {
        match file.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(Versioned {
                version: version_of(v),
                document: SecretDocument::from_value(v.clone())
                    .map_err(|e| self.malformed(format!("`{key}`: {e}")))?,
            })),
            Some(_) => Err(self.malformed(format!(
                "`{key}` must be a JSON object (the secret document) or null"
            ))),
        }
    }

    fn current(&self, file: &Map<String, Value>) -> Result<Versioned, StoreError> {
        self.document(file, "current")?.ok_or_else(|| {
            self.malformed("has no `current` document; expected {\"current\": {\"username\": ..., \"password\": ...}}")
        })
    }

    /// Runs `change` on the file's content under the directory lock and
    /// writes the result, unless `change` returns `None` (nothing to do).
    fn modify(
        &self,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<Option<String>, StoreError>,
        done: impl FnOnce(&Map<String, Value>) -> Result<String, StoreError>,
    ) -> Result<String, StoreError> {
        let path = self.resolved()?;
        let _lock = atomic_file::lock_directory_of(&path)
            .map_err(|e| self.io("lock the directory of", e))?;
        let mut file = self.read_file(&path)?;
        match change(&mut file)? {
            None => done(&file),
            Some(version) => {
                self.write_atomically(&path, &file)?;
                Ok(version)
            }
        }
        // The lock is released when `_lock` is dropped.
    }

    fn write_atomically(&self, path: &Path, file: &Map<String, Value>) -> Result<(), StoreError> {
        let mut body = serde_json::to_vec_pretty(&Value::Object(file.clone()))
            .map_err(|e| self.malformed(format!("cannot encode: {e}")))?;
        body.push(b'\n');
        let result = atomic_file::replace(path, &body, atomic_file::Keep::Private);
        zeroize::Zeroize::zeroize(&mut body);
        result.map_err(|e| self.io("write", e))
    }
}

/// A short, stable id for a document: its digest. Not reversible, and the
/// password inside is random, so the id reveals nothing about it.
fn version_of(document: &Value) -> String {
    let bytes = serde_json::to_vec(document).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl SecretStore for FileStore {
    fn describe(&self) -> String {
        self.name()
    }

    async fn read(&self) -> Result<StoreState, StoreError> {
        let path = self.resolved()?;
        let file = self.read_file(&path)?;
        let current = self.current(&file)?;
        let previous = self.document(&file, "previous")?;
        let pending = self
            .document(&file, "pending")?
            .filter(|p| p.version != current.version);
        // Written at each promote. A file seesaw never promoted has none:
        // its mtime says when someone wrote it, not when it was rotated.
        let published_at = file
            .get(PUBLISHED_AT)
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        Ok(StoreState {
            current,
            previous,
            pending,
            published_at,
        })
    }

    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let new_value = request.document.to_value();
        let new_version = version_of(&new_value);
        let retry = new_version.clone();
        self.modify(
            |file| {
                let current = self.current(file)?;
                if current.version == new_version {
                    return Ok(None); // a retry of a publish that landed
                }
                let pending = self.document(file, "pending")?;
                match pending {
                    Some(p) if p.version == new_version => return Ok(None),
                    Some(p) if p.version != current.version => {
                        return Err(StoreError::PendingExists {
                            store: self.name(),
                            pending: p.version.clone(),
                            hint: self.clear_pending_hint(&p.version),
                        })
                    }
                    _ => {}
                }
                if current.version != request.replaces {
                    return Err(StoreError::Conflict {
                        store: self.name(),
                        expected: request.replaces.to_owned(),
                        found: current.version,
                    });
                }
                file.insert("pending".into(), new_value);
                Ok(Some(new_version))
            },
            |_| Ok(retry),
        )
    }

    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        self.modify(
            |file| {
                let current = self.current(file)?;
                if current.version == pending {
                    // A retry of a promote that landed: drop a leftover.
                    return Ok(file.remove("pending").map(|_| pending.to_owned()));
                }
                let staged = self.document(file, "pending")?;
                if staged.as_ref().map(|p| p.version.as_str()) != Some(pending) {
                    return Err(StoreError::Conflict {
                        store: self.name(),
                        expected: format!("pending version {pending}"),
                        found: staged
                            .map(|p| format!("pending version {}", p.version))
                            .unwrap_or_else(|| "no pending version".into()),
                    });
                }
                if current.version != replaces {
                    return Err(StoreError::Conflict {
                        store: self.name(),
                        expected: replaces.to_owned(),
                        found: current.version,
                    });
                }
                let new = file.remove("pending").unwrap_or(Value::Null);
                let old = file.remove("current").unwrap_or(Value::Null);
                file.insert("current".into(), new);
                file.insert("previous".into(), old);
                file.insert(
                    PUBLISHED_AT.into(),
                    Value::from(chrono::Utc::now().to_rfc3339()),
                );
                Ok(Some(pending.to_owned()))
            },
            |_| Ok(pending.to_owned()),
        )
    }

    fn clear_pending_hint(&self, version: &str) -> String {
        format!(
            "If no rotation is running, remove the `pending` key (version {version}) from {}",
            self.path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(user: &str, password: &str) -> SecretDocument {
        SecretDocument::from_value(json!({"username": user, "password": password, "extra": 1}))
            .unwrap()
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
        let next = doc("b", "p2");
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
        assert!(!err.to_string().contains("p2"));
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
}
