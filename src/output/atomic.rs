//! Atomic output: nothing half-written is ever visible under the final name.
//!
//! - [`write_file_atomic`]: one file, written to a temporary file in the same
//!   directory, synced, then renamed over the target.
//! - [`StagingDir`]: a whole output directory, built as a hidden sibling
//!   directory and renamed into place by [`StagingDir::commit`]. Dropped without
//!   commit (an error, a panic), it removes itself; a killed run leaves only a
//!   hidden `.NAME.tmp-PID` sibling, never a partial `NAME`.

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

/// An output directory being built; see module docs.
#[derive(Debug)]
pub struct StagingDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl StagingDir {
    /// Starts building `target`. The parent directory must exist.
    pub fn new(target: &Path) -> Result<StagingDir, OutputError> {
        let parent = parent_dir(target);
        if !parent.is_dir() {
            return Err(OutputError::NoParent(parent));
        }
        let staging = sibling(target, "tmp")?;
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err(&staging, "remove stale staging dir"))?;
        }
        fs::create_dir(&staging).map_err(io_err(&staging, "create staging dir"))?;
        Ok(StagingDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// Where to write a file that will appear as `target/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// The staging directory itself (where [`StagingDir::path`]s are).
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// Renames the staging directory into place. An existing `target` is moved
    /// aside first and removed after the rename; if the rename fails it is put
    /// back.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let old = sibling(&self.target, "old")?;
        let had_old = self.target.exists();
        if had_old {
            if old.exists() {
                fs::remove_dir_all(&old).map_err(io_err(&old, "remove stale backup"))?;
            }
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
        if had_old {
            fs::remove_dir_all(&old).map_err(io_err(&old, "remove previous output"))?;
        }
        Ok(self.target.clone())
    }
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
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
        let s = StagingDir::new(&target).unwrap();
        fs::write(s.path("new.txt"), "new").unwrap();
        s.commit().unwrap();
        assert!(!target.join("old.txt").exists());
        assert_eq!(fs::read_to_string(target.join("new.txt")).unwrap(), "new");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
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
