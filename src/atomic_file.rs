//! Replacing a file that holds secrets, atomically: a temporary file with a
//! random name, created with O_CREAT|O_EXCL (a planted file or symlink makes
//! the create fail instead of being followed) in the file's own directory,
//! fsynced, renamed over the file and the directory fsynced, so a crash
//! leaves either the old or the new file, never a torn one. Temporary files
//! name their writer's pid; the next write removes those of a writer that
//! is gone (a killed seesaw would otherwise leave a secret on disk). A
//! process reads a directory for them once, at its first write there, not
//! at every write: one directory may hold the files of thousands of
//! targets, and reading all of it for each rotation made the cost of a
//! rotation grow with the number of targets.
//!
//! Used by the file store and by PgBouncer's `auth_file`.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The directory a file lives in (`.` for a bare name).
pub fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// How long a writer waits for another to release the directory lock.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// An exclusive `flock` on `path`'s directory, held until the returned file
/// is dropped: writers of files in that directory (seesaw's, for the file
/// store and auth_file) take turns for their read-modify-write. The file is
/// replaced by a rename, so the file itself cannot carry the lock. Waits
/// at most ten seconds for another holder (a stuck writer, a person's
/// `flock`), then fails naming the directory.
pub fn lock_directory_of(path: &Path) -> std::io::Result<File> {
    let dir = parent(path);
    let lock = File::open(&dir)?;
    let started = std::time::Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::other(format!(
                    "another process has held a lock on {} for {}s (seesaw takes it to write \
                        files there one at a time); find it with `fuser {}`",
                    dir.display(),
                    LOCK_PATIENCE.as_secs(),
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// What the new file keeps of the old one.
#[derive(Debug, Clone, Copy)]
pub enum Keep<'a> {
    /// Mode 0600, owned by seesaw's user (the file store's own file).
    Private,
    /// The old file's owner, group and mode (a file another program reads,
    /// such as PgBouncer's `auth_file`).
    OwnerAndMode(&'a Metadata),
}

/// Replaces `path` (already resolved: no symlink) with `body`.
pub fn replace(path: &Path, body: &[u8], keep: Keep<'_>) -> std::io::Result<()> {
    let dir = parent(path);
    let prefix = temp_prefix(path);
    remove_dead_temp_files(&dir, &prefix);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .suffix(".tmp")
        .rand_bytes(8)
        .tempfile_in(&dir)?;
    if let Keep::OwnerAndMode(meta) = keep {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // Owner first: changing it may clear set-id bits the mode restores.
        // Only when it differs: a writer that owns the file needs no right
        // to give files away.
        let made = tmp.as_file().metadata()?;
        if (made.uid(), made.gid()) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()))?;
        }
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    tmp.write_all(body)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(&dir)?.sync_all()
}

/// `.secret.json.seesaw-`: temporary files for `path` start with it,
/// followed by the writer's pid.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.seesaw-")
}

/// The temporary files of writers that were gone when this process first
/// read each directory, by directory and then by prefix (one file's).
static LEFT_BEHIND: Mutex<Option<HashMap<PathBuf, ByPrefix>>> = Mutex::new(None);

type ByPrefix = HashMap<String, Vec<PathBuf>>;

/// Removes the temporary files for the same file whose writer is gone. A
/// file of a running process is left alone, and so are other files'.
fn remove_dead_temp_files(dir: &Path, prefix: &str) {
    let mut cache = LEFT_BEHIND.lock().unwrap_or_else(|e| e.into_inner());
    let by_prefix = cache
        .get_or_insert_with(HashMap::new)
        .entry(dir.to_path_buf())
        .or_insert_with(|| dead_temp_files(dir));
    for path in by_prefix.remove(prefix).unwrap_or_default() {
        if let Ok(meta) = path.symlink_metadata() {
            if meta.file_type().is_file() {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// One reading of `dir`: seesaw's temporary files (`.<file>.seesaw-<pid>…
/// .tmp`) whose writer is not running, or is this process under a reused
/// pid (this process has not written there yet), grouped by prefix.
fn dead_temp_files(dir: &Path) -> ByPrefix {
    let mut found = ByPrefix::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    let mut alive = HashSet::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') || !name.ends_with(".tmp") {
            continue;
        }
        // The random part after the pid is alphanumeric: the last
        // ".seesaw-" ends the prefix, whatever the file's own name holds.
        let Some(at) = name.rfind(".seesaw-") else {
            continue;
        };
        let (prefix, rest) = name.split_at(at + ".seesaw-".len());
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let running = !pid.is_empty()
            && pid != std::process::id().to_string()
            && (alive.contains(&pid) || Path::new("/proc").join(&pid).exists());
        if running {
            alive.insert(pid);
            continue;
        }
        found
            .entry(prefix.to_owned())
            .or_default()
            .push(entry.path());
    }
    found
}
