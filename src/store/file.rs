//! The file store: one JSON file on local disk,
//! `{"current": {document}, "previous": {document} | null}`.
//!
//! A file holding only `{"current": {...}}` is adopted as is. Writes go to a
//! temporary file in the same directory, are fsynced, renamed over the
//! original and the directory is fsynced, so a crash leaves either the old
//! or the new file, never a torn one. Top-level keys other than `current`
//! and `previous` are kept.
//!
//! Version ids are a digest of the document, so the file needs no extra
//! bookkeeping and a retried publish of the same document is a no-op.
//! Concurrent seesaw processes are serialised by the target's advisory lock
//! in the database; the compare-and-swap here catches a writer outside it
//! (a person editing the file) between read and rename.

use super::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use crate::secret::SecretDocument;
use async_trait::async_trait;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct FileStore {
    path: PathBuf,
}

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
                policy: "the file's owner and mode; seesaw writes it with mode 0600".into(),
            },
            _ => StoreError::Other {
                store: self.name(),
                message: format!("cannot {doing} the file: {e}"),
            },
        }
    }

    fn read_file(&self) -> Result<Map<String, Value>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    store: self.name(),
                    hint: "create it with {\"current\": {\"username\": ..., \"password\": ...}} holding the active user's credential, or check store.file.path".into(),
                })
            }
            Err(e) => return Err(self.io("read", e)),
        };
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

    fn write_atomically(&self, file: &Map<String, Value>) -> Result<(), StoreError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.seesaw-{}.tmp", std::process::id()));
        let mut body = serde_json::to_vec_pretty(&Value::Object(file.clone()))
            .map_err(|e| self.malformed(format!("cannot encode: {e}")))?;
        body.push(b'\n');
        let result = write_and_sync(&tmp, &body)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .and_then(|()| std::fs::File::open(&dir)?.sync_all());
        zeroize::Zeroize::zeroize(&mut body);
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io("write", e)
        })
    }
}

fn write_and_sync(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(body)?;
    f.sync_all()
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
        let file = self.read_file()?;
        let current = self.document(&file, "current")?.ok_or_else(|| {
            self.malformed("has no `current` document; expected {\"current\": {\"username\": ..., \"password\": ...}}")
        })?;
        let previous = self.document(&file, "previous")?;
        // The file is written only by publish, so its mtime is the publish time.
        let published_at = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from);
        Ok(StoreState {
            current,
            previous,
            published_at,
        })
    }

    async fn publish(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let mut file = self.read_file()?;
        let current = self.document(&file, "current")?;
        let new_value = request.document.to_value();
        let new_version = version_of(&new_value);
        let found = current
            .as_ref()
            .map(|c| c.version.clone())
            .unwrap_or_default();
        if found == new_version {
            return Ok(new_version); // a retry of a publish that landed
        }
        if found != request.replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.to_owned(),
                found,
            });
        }
        let old = file.remove("current").unwrap_or(Value::Null);
        file.insert("current".into(), new_value);
        file.insert("previous".into(), old);
        self.write_atomically(&file)?;
        Ok(new_version)
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
}
