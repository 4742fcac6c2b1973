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
                policy: "the file's owner and mode, and its directory's (seesaw writes a \
                    temporary file beside it and renames it); seesaw writes it with mode \
                        0600"
                    .into(),
            },
            _ => StoreError::Other {
                store: self.name(),
                message: format!(
                    "cannot {doing} the file: {}",
                    crate::reason::cause(&e).unwrap_or_else(|| format!("{:?}", e.kind()))
                ),
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
                    hint: "create it with {\"current\": {\"username\": ..., \"password\": ...}} \
                        holding the active user's credential, or check store.file.path"
                        .into(),
                })
            }
            Err(e) => return Err(self.io("read", e)),
        };
        if !meta.file_type().is_file() {
            return Err(self.malformed(
                "is not a regular file (a directory, FIFO, socket or device); point \
                    store.file.path at the JSON file",
            ));
        }
        std::fs::canonicalize(&self.path).map_err(|e| self.io("resolve", e))
    }

    fn read_file(&self, path: &Path) -> Result<Map<String, Value>, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| self.io("read", e))?;
        // A position, never serde's text (it can quote the content).
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.malformed(format!(
                "{}; expected {{\"current\": {{...}}, \"previous\": {{...}} | null}}",
                crate::reason::json(&e)
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
        // An unreadable pending entry blocks every rotation: say how to
        // clear it.
        let clear = |v: &Value| match key {
            "pending" => format!(". {}", self.clear_pending_hint(&version_of(v))),
            _ => String::new(),
        };
        match file.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(Versioned {
                version: version_of(v),
                document: SecretDocument::from_value(v.clone())
                    .map_err(|problem| self.malformed(format!("`{key}`: {problem}{}", clear(v))))?,
            })),
            Some(v) => Err(self.malformed(format!(
                "`{key}` must be a JSON object (the secret document) or null{}",
                clear(v)
            ))),
        }
    }

    fn current(&self, file: &Map<String, Value>) -> Result<Versioned, StoreError> {
        self.document(file, "current")?.ok_or_else(|| {
            self.malformed(
                "has no `current` document; expected \
                {\"current\": {\"username\": ..., \"password\": ...}}",
            )
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
        let mut body = serde_json::to_vec_pretty(&Value::Object(file.clone())).map_err(|e| {
            self.malformed(format!("cannot encode: it {}", crate::reason::json(&e)))
        })?;
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
mod tests;
