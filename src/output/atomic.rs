//! Atomic output: nothing half-written is ever visible under the final name,
//! and a folder of outputs changes as one unit.
//!
//! - [`write_file_atomic`]: one file, written to a temporary file in the same
//!   directory, synced, then renamed over the target.
//! - [`StagingDir`]: a whole output directory, built as a hidden sibling
//!   `.NAME.tmp-PID` and switched into place by [`StagingDir::commit`]. On
//!   Linux the switch is one `renameat2(RENAME_EXCHANGE)` of the staging and
//!   the previous folder, so at every instant `NAME` is exactly the previous
//!   folder or exactly the new one; elsewhere (or on a file system without
//!   exchange) the previous folder is renamed aside first, leaving an instant
//!   without `NAME` but never a mixed one. [`StagingDir::update`] starts
//!   from a hard-linked copy of the existing folder, for commands that add
//!   files to a run (`caregap rank`): their new files and the run's old ones
//!   switch together.
//! - A lock file `.NAME.lock` beside the target keeps two writers of one
//!   output apart: the second is refused at once with a message naming the
//!   holder ([`OutputError::Busy`]). The lock is an OS file lock, released
//!   when its process ends however it ends.
//! - [`replace_file`]: one file as its only writer (the lock below, the
//!   leftovers of killed writers removed, then [`write_file_atomic`]).
//! - Dropped without commit (an error, a panic), a staging folder removes
//!   itself. A killed run leaves its `.NAME.tmp-PID` (or `.NAME.old-PID`)
//!   behind; the next writer of the same target, holding the lock, removes
//!   them (restoring a previous folder a killed fallback switch had moved
//!   aside) and lists them in [`StagingDir::removed_stale`].

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::OutputError;

fn io_err(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> OutputError {
    let path = path.to_path_buf();
    move |source| OutputError::Io { what, path, source }
}

/// A sibling path of `target`: `.NAME.SUFFIX-PID` in the same directory.
fn sibling(target: &Path, suffix: &str) -> Result<PathBuf, OutputError> {
    let name = target
        .file_name()
        .ok_or_else(|| OutputError::BadTarget(target.to_path_buf()))?
        .to_string_lossy();
    let parent = parent_dir(target);
    Ok(parent.join(format!(".{name}.{suffix}-{}", std::process::id())))
}

/// A sibling path of `target` that is the same for every process: `.NAME.SUFFIX`.
fn sibling_named(target: &Path, suffix: &str) -> Result<PathBuf, OutputError> {
    let name = target
        .file_name()
        .ok_or_else(|| OutputError::BadTarget(target.to_path_buf()))?
        .to_string_lossy();
    Ok(parent_dir(target).join(format!(".{name}.{suffix}")))
}

fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory,
/// fsync, rename).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let tmp = sibling(path, "tmp")?;
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp, "create"))?;
        f.write_all(bytes).map_err(io_err(&tmp, "write"))?;
        f.sync_all().map_err(io_err(&tmp, "sync"))?;
        fs::rename(&tmp, path).map_err(io_err(path, "rename into place"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replaces the file `path` as its only writer: takes its lock (a second
/// writer meanwhile is refused, [`OutputError::Busy`]), removes what killed
/// writers of it left (`.NAME.tmp-PID`), then writes it atomically
/// ([`write_file_atomic`]). Returns the leftovers removed, for the caller to
/// report.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<Vec<PathBuf>, OutputError> {
    let _lock = OutputLock::acquire(path)?;
    let removed = clear_stale(path)?;
    write_file_atomic(path, bytes)?;
    Ok(removed)
}

/// Removes what killed writers of `target` left beside it (see module
/// docs) and returns it. Only for a caller that holds `target`'s lock, or a
/// lock that keeps every writer of `target` apart (the outreach log's).
pub fn remove_leftovers(target: &Path) -> Result<Vec<PathBuf>, OutputError> {
    clear_stale(target)
}

/// An output directory being built; see module docs.
#[derive(Debug)]
pub struct StagingDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
    removed_stale: Vec<PathBuf>,
    /// Held until the staging directory is committed or dropped.
    _lock: OutputLock,
}

impl StagingDir {
    /// Starts building `target` from nothing. The parent directory must
    /// exist; another process writing `target` is an [`OutputError::Busy`].
    pub fn new(target: &Path) -> Result<StagingDir, OutputError> {
        let mut s = StagingDir::start(target)?;
        fs::create_dir(&s.staging).map_err(io_err(&s.staging, "create staging dir"))?;
        s.committed = false;
        Ok(s)
    }

    /// Starts a new version of the existing folder `target`: the staging
    /// directory begins as a copy of it (hard links where the file system
    /// allows, so nothing is copied). [`StagingDir::path`] unlinks a copied
    /// file before it is written, so the previous version is never changed.
    pub fn update(target: &Path) -> Result<StagingDir, OutputError> {
        let mut s = StagingDir::start(target)?;
        if !target.is_dir() {
            return Err(OutputError::NotARun(target.to_path_buf()));
        }
        link_tree(target, &s.staging)?;
        s.committed = false;
        Ok(s)
    }

    /// Takes the lock and clears what killed runs left behind. The returned
    /// value is marked committed so that dropping it before the staging
    /// directory exists removes nothing.
    fn start(target: &Path) -> Result<StagingDir, OutputError> {
        let parent = parent_dir(target);
        if !parent.is_dir() {
            return Err(OutputError::NoParent(parent));
        }
        let lock = OutputLock::acquire(target)?;
        let removed_stale = clear_stale(target)?;
        Ok(StagingDir {
            target: target.to_path_buf(),
            staging: sibling(target, "tmp")?,
            committed: true,
            removed_stale,
            _lock: lock,
        })
    }

    /// Where to write a file that will appear as `target/name`. A hard link
    /// to the previous version's file (see [`StagingDir::update`]) is removed
    /// first, so that writing it creates a new file; a file this staging
    /// directory wrote itself is left alone.
    pub fn path(&self, name: &str) -> PathBuf {
        let p = self.staging.join(name);
        if shared_link(&p) {
            let _ = fs::remove_file(&p);
        }
        p
    }

    /// The staging directory itself (where [`StagingDir::path`]s are).
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// Folders and files left by killed runs of the same target that were
    /// removed (or put back, for a previous version moved aside) when this
    /// staging directory started.
    pub fn removed_stale(&self) -> &[PathBuf] {
        &self.removed_stale
    }

    /// Switches the staging directory into place as one unit (see module
    /// docs) and removes the previous version.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        sync_dir(&self.staging);
        if self.target.exists() {
            match exchange(&self.staging, &self.target) {
                Ok(true) => {
                    // The staging path now holds the previous version.
                    self.committed = true;
                    sync_dir(&parent_dir(&self.target));
                    fs::remove_dir_all(&self.staging)
                        .map_err(io_err(&self.staging, "remove previous output"))?;
                    return Ok(self.target.clone());
                }
                Ok(false) => {}
                Err(e) => return Err(io_err(&self.target, "switch output into place")(e)),
            }
        }
        let old = sibling(&self.target, "old")?;
        let had_old = self.target.exists();
        if had_old {
            fs::rename(&self.target, &old)
                .map_err(io_err(&self.target, "move previous output aside"))?;
        }
        if let Err(e) = fs::rename(&self.staging, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(io_err(&self.target, "rename output into place")(e));
        }
        self.committed = true;
        sync_dir(&parent_dir(&self.target));
        if had_old {
            fs::remove_dir_all(&old).map_err(io_err(&old, "remove previous output"))?;
        }
        Ok(self.target.clone())
    }
}

/// Exchanges two paths atomically. `Ok(false)` when this system or file
/// system cannot (the caller falls back to two renames).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the
    // call; renameat2 reads them and touches no other memory of ours.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// Best effort: makes a rename or a directory's entries durable.
fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Recreates the tree `from` under the new directory `to` with hard links
/// (a copy where linking is refused).
fn link_tree(from: &Path, to: &Path) -> Result<(), OutputError> {
    fs::create_dir(to).map_err(io_err(to, "create staging dir"))?;
    for entry in fs::read_dir(from).map_err(io_err(from, "read"))? {
        let entry = entry.map_err(io_err(from, "read"))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type().map_err(io_err(&src, "read"))?;
        if ty.is_dir() {
            link_tree(&src, &dst)?;
        } else if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(io_err(&src, "copy"))?;
        }
    }
    Ok(())
}

/// Removes the staging and backup siblings of `target` that killed runs left
/// (the caller holds the lock, so none of them is in use). A backup whose
/// target is missing is the previous version a killed fallback switch moved
/// aside: it is put back instead.
fn clear_stale(target: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(OutputError::BadTarget(target.to_path_buf()));
    };
    let parent = parent_dir(target);
    let mut stale = Vec::new();
    for entry in fs::read_dir(&parent).map_err(io_err(&parent, "read"))? {
        let entry = entry.map_err(io_err(&parent, "read"))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&format!(".{name}.")) else {
            continue;
        };
        let is_pid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let kind = match rest.split_once('-') {
            Some((k @ ("tmp" | "old"), pid)) if is_pid(pid) => k,
            _ => continue,
        };
        stale.push((kind == "old", entry.path()));
    }
    // Backups first, so that a previous version is put back before anything else.
    stale.sort_by(|a, b| (!a.0, &a.1).cmp(&(!b.0, &b.1)));
    let mut removed = Vec::new();
    for (is_backup, path) in stale {
        if is_backup && !target.exists() {
            fs::rename(&path, target).map_err(io_err(&path, "restore previous output"))?;
        } else if path.is_dir() {
            fs::remove_dir_all(&path).map_err(io_err(&path, "remove stale staging dir"))?;
        } else {
            fs::remove_file(&path).map_err(io_err(&path, "remove stale temporary file"))?;
        }
        removed.push(path);
    }
    Ok(removed)
}

/// The lock of one output target: an OS lock on `.NAME.lock` beside it,
/// which also records who holds it (for the message a second writer gets).
/// The holder removes the file when it lets go (a killed holder leaves it,
/// unlocked, for the next one to reuse); a process that locked a file
/// removed meanwhile notices that the path no longer names it and tries again.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    file: fs::File,
}

impl OutputLock {
    /// Takes the lock of `target`, waiting while another process holds it
    /// (for short writes such as appending to the outreach log).
    pub fn wait(target: &Path) -> Result<OutputLock, OutputError> {
        loop {
            let (path, file) = OutputLock::open(target)?;
            file.lock().map_err(io_err(&path, "lock"))?;
            if let Some(lock) = OutputLock::held(path, file) {
                return Ok(lock);
            }
        }
    }

    /// Takes the lock of `target` or refuses at once if another process
    /// holds it.
    pub fn acquire(target: &Path) -> Result<OutputLock, OutputError> {
        loop {
            let (path, file) = OutputLock::open(target)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let holder = match holder.trim() {
                        "" => "another process".to_string(),
                        h => h.to_string(),
                    };
                    return Err(OutputError::Busy {
                        target: target.to_path_buf(),
                        holder,
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err(&path, "lock")(e)),
            }
            if let Some(lock) = OutputLock::held(path, file) {
                return Ok(lock);
            }
        }
    }

    fn open(target: &Path) -> Result<(PathBuf, fs::File), OutputError> {
        let path = sibling_named(target, "lock")?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path, "open lock file"))?;
        Ok((path, file))
    }

    /// The lock, once `file` is locked, if `path` still names `file` (the
    /// previous holder may have removed it between our open and our lock);
    /// `None`: try again. Notes the holder in the file.
    fn held(path: PathBuf, mut file: fs::File) -> Option<OutputLock> {
        if !same_file(&path, &file) {
            return None;
        }
        let holder = format!(
            "process {} since {}",
            std::process::id(),
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
        );
        // Only the holder writes the file; a failure here loses the note, not the lock.
        let _ = file.set_len(0);
        let _ = file.write_all(holder.as_bytes());
        Some(OutputLock { path, file })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked, so nobody can lock this file and
        // believe it is the current one (`held` checks).
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether `p` is a file with another hard link (the previous version's).
#[cfg(unix)]
fn shared_link(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.nlink() > 1)
}

#[cfg(not(unix))]
fn shared_link(_: &Path) -> bool {
    // `update` copies where it cannot link: the copy is the staging's own.
    false
}

#[cfg(unix)]
fn same_file(path: &Path, file: &fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(path: &Path, _: &fs::File) -> bool {
    path.exists()
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_dir_replaces_target_only_on_commit() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("old.txt"), "old").unwrap();
        {
            let s = StagingDir::new(&target).unwrap();
            fs::write(s.path("new.txt"), "new").unwrap();
            // dropped: nothing changes
        }
        assert!(target.join("old.txt").exists());
        assert_eq!(names(root.path()), ["out"]);
        let s = StagingDir::new(&target).unwrap();
        fs::write(s.path("new.txt"), "new").unwrap();
        s.commit().unwrap();
        assert!(!target.join("old.txt").exists());
        assert_eq!(fs::read_to_string(target.join("new.txt")).unwrap(), "new");
        assert_eq!(names(root.path()), ["out"]);
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_second_writer_of_the_same_target_is_refused_until_the_first_is_done() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("run");
        let first = StagingDir::new(&target).unwrap();
        let err = StagingDir::new(&target).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OutputError::Busy { .. }), "{msg}");
        assert!(
            msg.contains("another caregap run is writing")
                && msg.contains(&format!("process {}", std::process::id())),
            "{msg}"
        );
        // Another target is independent.
        StagingDir::new(&root.path().join("other")).unwrap();
        first.commit().unwrap();
        StagingDir::new(&target).unwrap().commit().unwrap();
    }

    #[test]
    fn what_killed_runs_left_is_removed_and_a_moved_aside_version_restored() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("run");
        // A killed run's staging folder and temporary file.
        fs::create_dir(root.path().join(".run.tmp-999999")).unwrap();
        fs::write(root.path().join(".run.tmp-999999/firings.parquet"), "x").unwrap();
        // A fallback switch killed between its two renames: no `run`, the
        // previous version aside.
        fs::create_dir(root.path().join(".run.old-999998")).unwrap();
        fs::write(root.path().join(".run.old-999998/run.json"), "previous").unwrap();
        // Not ours: another target's staging and a user's file.
        fs::create_dir(root.path().join(".runs.tmp-1")).unwrap();
        fs::write(root.path().join(".run.tmp-notes"), "keep").unwrap();
        let s = StagingDir::new(&target).unwrap();
        let removed: Vec<String> = s
            .removed_stale()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(removed, [".run.old-999998", ".run.tmp-999999"]);
        // The previous version is back in place until the commit replaces it.
        assert_eq!(
            fs::read_to_string(target.join("run.json")).unwrap(),
            "previous"
        );
        fs::write(s.path("run.json"), "new").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read_to_string(target.join("run.json")).unwrap(), "new");
        assert_eq!(names(root.path()), [".run.tmp-notes", ".runs.tmp-1", "run"]);
    }

    #[test]
    fn an_update_starts_from_the_previous_version_and_never_changes_it() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("run");
        let s = StagingDir::new(&target).unwrap();
        fs::write(s.path("firings.parquet"), "firings").unwrap();
        fs::write(s.path("risk.parquet"), "risk v1").unwrap();
        fs::create_dir(s.dir().join("calllists")).unwrap();
        fs::write(s.dir().join("calllists/HC01.csv"), "list v1").unwrap();
        s.commit().unwrap();
        // A reader holding the previous version's file keeps reading it.
        let before = fs::File::open(target.join("risk.parquet")).unwrap();

        let u = StagingDir::update(&target).unwrap();
        assert_eq!(
            names(u.dir()),
            ["calllists", "firings.parquet", "risk.parquet"]
        );
        fs::write(u.path("risk.parquet"), "risk v2").unwrap();
        fs::write(u.path("calllists/HC01.csv"), "list v2").unwrap();
        // Until the commit, the run is the previous version, whole.
        assert_eq!(
            fs::read_to_string(target.join("risk.parquet")).unwrap(),
            "risk v1"
        );
        assert_eq!(
            fs::read_to_string(target.join("calllists/HC01.csv")).unwrap(),
            "list v1"
        );
        u.commit().unwrap();
        assert_eq!(
            fs::read_to_string(target.join("risk.parquet")).unwrap(),
            "risk v2"
        );
        assert_eq!(
            fs::read_to_string(target.join("calllists/HC01.csv")).unwrap(),
            "list v2"
        );
        assert_eq!(
            fs::read_to_string(target.join("firings.parquet")).unwrap(),
            "firings"
        );
        let mut old = String::new();
        std::io::Read::read_to_string(&mut &before, &mut old).unwrap();
        assert_eq!(old, "risk v1");
        assert_eq!(names(root.path()), ["run"]);
        // An update needs a run to update.
        let err = StagingDir::update(&root.path().join("none")).unwrap_err();
        assert!(err.to_string().contains("is not a run folder"), "{err}");
    }

    #[test]
    fn file_write_is_atomic_and_leaves_no_temp() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path().join("x.json");
        write_file_atomic(&p, b"{}").unwrap();
        write_file_atomic(&p, b"{\"a\":1}").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "{\"a\":1}");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
