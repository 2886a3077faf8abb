//! Result folders that appear whole or not at all, and one writer per
//! output folder at a time.
//!
//! A command that writes into `OUT` first takes [`OutLock`]: an advisory
//! lock on `OUT/.backlog-risk.lock` (the operating system's file lock, held
//! until the process ends, even by kill -9), which records the holder's
//! process id so that a second command into the same folder is refused with
//! a message naming it.
//!
//! A scenario's results are written into a staging folder beside the target
//! ([`Staging`]), every file flushed to disk, then moved into place in one
//! step: on Linux an atomic exchange of the two folders (`renameat2` with
//! `RENAME_EXCHANGE`), elsewhere a rename of the old folder aside and of the
//! new one into place. Until that step the previous result stays untouched;
//! after it the new one is complete. Entries of the target that the command
//! does not own (a stress test's `portfolio-*` folder inside a run's folder,
//! shard files, a sweep's files) are hard-linked into the staging folder
//! first, so they survive the exchange. Leftover staging folders of a killed
//! process are removed by the next writer.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Name of the lock file inside an output folder.
pub const LOCK_FILE: &str = ".backlog-risk.lock";

/// The exclusive right to write into one output folder, for as long as it
/// lives.
#[derive(Debug)]
pub struct OutLock {
    _file: File,
}

impl OutLock {
    /// Take the lock of output folder `out` (created when missing), or an
    /// error naming the process that holds it.
    pub fn acquire(out: &Path) -> Result<OutLock> {
        fs::create_dir_all(out).map_err(|e| unwritable(out, e))?;
        writable(out).map_err(|e| unwritable(out, e))?;
        let path = out.join(LOCK_FILE);
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| {
                if is_denied(&e) {
                    unwritable(out, e)
                } else {
                    anyhow::anyhow!("cannot open the lock file {}: {e}", path.display())
                }
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                bail!(
                    "{} is being written by {who}; wait for it to finish or give another --out folder",
                    out.display()
                );
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        let me = format!("backlog-risk (process {})\n", std::process::id());
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(me.as_bytes())?;
        file.flush()?;
        Ok(OutLock { _file: file })
    }
}

/// Whether `e` says the folder may not be written (permissions or a
/// read-only file system).
fn is_denied(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS)
}

/// The error of an output folder that cannot be created or written, with
/// the fix.
fn unwritable(dir: &Path, e: std::io::Error) -> anyhow::Error {
    if is_denied(&e) {
        anyhow::anyhow!(
            "cannot write into {} ({e}): make it writable (chmod u+w) or give another --out folder",
            dir.display()
        )
    } else {
        anyhow::anyhow!("cannot create the folder {}: {e}", dir.display())
    }
}

/// Refuse a target folder that this process may not change (a read-only
/// results folder is a user's way to keep it): replacing it would leave the
/// old results in a staging folder that cannot be removed.
fn check_writable(target: &Path) -> Result<()> {
    match writable(target) {
        Err(e) if target.is_dir() => bail!(
            "cannot replace {} ({e}): it is read-only; make it writable (chmod -R u+w {}) or give another --out folder",
            target.display(),
            target.display()
        ),
        _ => Ok(()),
    }
}

/// Whether this process may create and remove entries in folder `dir`.
fn writable(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
        // SAFETY: a valid NUL-terminated path that outlives the call.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A staging folder for the results that will replace `target`; removed on
/// drop unless committed.
#[derive(Debug)]
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    done: bool,
}

/// `.NAME.staging-PID` beside `target`.
fn staging_name(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.staging-{}", std::process::id()))
}

impl Staging {
    /// A fresh, empty staging folder for `target`; stale ones of `target`
    /// left by a killed process are removed first (the caller holds the
    /// folder's [`OutLock`], so no other writer owns them).
    pub fn new(target: &Path) -> Result<Staging> {
        let parent = target.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| unwritable(parent, e))?;
        check_writable(target)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.staging-");
        for e in fs::read_dir(parent)?.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let dir = staging_name(target);
        fs::create_dir(&dir).map_err(|e| unwritable(parent, e))?;
        Ok(Staging { dir, target: target.to_path_buf(), done: false })
    }

    /// Move the staged folder into place of the target. Entries of the old
    /// target for which `own` is false (and that the staging folder does
    /// not hold) are kept: hard-linked into the new folder first.
    pub fn commit(mut self, own: impl Fn(&str) -> bool) -> Result<()> {
        if self.target.is_dir() {
            for e in fs::read_dir(&self.target)?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if own(&name) || name.ends_with(".tmp") || self.dir.join(&name).exists() {
                    continue;
                }
                link_tree(&e.path(), &self.dir.join(&name))
                    .with_context(|| format!("cannot carry {} over into the new results", e.path().display()))?;
            }
            sync_dir(&self.dir)?;
            swap(&self.dir, &self.target)?;
            // The old results now lie at the staging name.
            self.done = true;
            remove_old(&self.dir, &self.target)?;
        } else {
            sync_dir(&self.dir)?;
            fs::rename(&self.dir, &self.target)
                .with_context(|| format!("cannot move the results into {}", self.target.display()))?;
        }
        if let Some(parent) = self.target.parent() {
            let _ = sync_dir(parent);
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Hard-link file `from` to `to`, or every file of folder `from` into a new
/// folder `to`.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.is_dir() {
        fs::create_dir(to)?;
        for e in fs::read_dir(from)?.flatten() {
            link_tree(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(())
    } else if fs::hard_link(from, to).is_ok() {
        Ok(())
    } else {
        fs::copy(from, to).map(|_| ()).map_err(Into::into)
    }
}

/// Flush a folder's entries to disk.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).with_context(|| format!("cannot flush {}", dir.display()))
}

/// Remove the previous results `old` once the new ones are in `target`: a
/// folder whose entries may not be removed is made writable first (its
/// owner may), and one that still cannot be removed is an error that names
/// it, so that nothing is left behind unsaid.
fn remove_old(old: &Path, target: &Path) -> Result<()> {
    if fs::remove_dir_all(old).is_ok() {
        return Ok(());
    }
    make_writable(old);
    fs::remove_dir_all(old).with_context(|| {
        format!(
            "the new results are in {}, but the previous ones, moved to {}, cannot be removed: remove that folder by hand",
            target.display(),
            old.display()
        )
    })
}

/// Give the owner write permission on folder `dir` and every folder in it.
fn make_writable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::symlink_metadata(dir)
            && meta.is_dir()
        {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(meta.permissions().mode() | 0o700));
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                make_writable(&e.path());
            }
        }
    }
}

/// Exchange folders `a` and `b` atomically.
#[cfg(target_os = "linux")]
fn swap(a: &Path, b: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (ca, cb) = (CString::new(a.as_os_str().as_bytes())?, CString::new(b.as_os_str().as_bytes())?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc =
        unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    // A file system without the exchange (some network file systems):
    // the two-step move.
    if matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
        return swap_in_two_steps(a, b);
    }
    Err(err).with_context(|| format!("cannot move the results into {}", b.display()))
}

#[cfg(not(target_os = "linux"))]
fn swap(a: &Path, b: &Path) -> Result<()> {
    swap_in_two_steps(a, b)
}

/// `b` aside, `a` into its place, the old `b` to `a`'s name. A process
/// killed between the two renames leaves no folder at `b`, the old results
/// at `.NAME.old-PID` and the new ones at the staging name.
fn swap_in_two_steps(a: &Path, b: &Path) -> Result<()> {
    let name = b.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let aside = b.with_file_name(format!(".{name}.old-{}", std::process::id()));
    fs::rename(b, &aside).with_context(|| format!("cannot move {} aside", b.display()))?;
    fs::rename(a, b).with_context(|| format!("cannot move the results into {}", b.display()))?;
    fs::rename(&aside, a).with_context(|| format!("cannot remove the old {}", b.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_own_files_and_keeps_the_others() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("s");
        fs::create_dir_all(target.join("portfolio-p")).unwrap();
        fs::write(target.join("summary.csv"), "old").unwrap();
        fs::write(target.join("loss-aws.png"), "old chart").unwrap();
        fs::write(target.join("portfolio-p").join("risk.csv"), "kept").unwrap();
        fs::write(target.join("shard-0-of-2.bin"), "kept too").unwrap();
        let st = Staging::new(&target).unwrap();
        fs::write(st.dir.join("summary.csv"), "new").unwrap();
        let staged = st.dir.clone();
        st.commit(|n| n == "summary.csv" || n.starts_with("loss-")).unwrap();
        assert_eq!(fs::read_to_string(target.join("summary.csv")).unwrap(), "new");
        assert!(!target.join("loss-aws.png").exists(), "a file of the old run is not carried over");
        assert_eq!(fs::read_to_string(target.join("portfolio-p").join("risk.csv")).unwrap(), "kept");
        assert_eq!(fs::read_to_string(target.join("shard-0-of-2.bin")).unwrap(), "kept too");
        assert!(!staged.exists(), "the old folder is gone");
    }

    #[test]
    fn a_dropped_staging_folder_leaves_the_target_alone() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("s");
        fs::create_dir_all(&target).unwrap();
        fs::write(target.join("summary.csv"), "old").unwrap();
        let st = Staging::new(&target).unwrap();
        fs::write(st.dir.join("summary.csv"), "half").unwrap();
        let staged = st.dir.clone();
        drop(st);
        assert!(!staged.exists());
        assert_eq!(fs::read_to_string(target.join("summary.csv")).unwrap(), "old");
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let root = tempfile::tempdir().unwrap();
        let _held = OutLock::acquire(root.path()).unwrap();
        // A second open file description of the same lock file conflicts.
        let e = OutLock::acquire(root.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("process {}", std::process::id())) && e.contains("another --out"), "{e}");
    }
}
