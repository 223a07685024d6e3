//! Output files that appear whole or not at all: a run's `--out FILE` and `--truth FILE`,
//! `replay --write-scenario FILE` and `plot -o FILE` are written to an unnamed file in the target's directory and published under the
//! user's name only once every output of the run is complete.
//!
//! The unnamed file is opened with `O_TMPFILE`, so no name exists while it is written:
//! SIGINT, SIGTERM, SIGKILL or a crash leave nothing behind (the kernel frees the inode).
//! Publishing links it under a hidden name (`linkat` through `/proc/self/fd`) and renames
//! that over the target; only a crash between those two calls, microseconds apart, can
//! leave a `.p1sim-*` file. On a file system without `O_TMPFILE` a named hidden file is
//! used instead and removed on every exit path Rust unwinds through (a signal's default
//! action or SIGKILL can leave it there).
//!
//! A symlink to a file is followed: the file it points at is replaced, the link stays.
//! A new file gets mode 0666 less the umask; a replaced file keeps its mode. A target we
//! may not write (a read-only file or directory) is an output error (exit 3) naming the
//! user's path. Anything that exists and is not a regular file (`/dev/null`, a FIFO, a
//! terminal) is written in place: renaming over it would replace the device node.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Access, AtFlags, CWD, Mode, OFlags};

use crate::error::CliError;

/// Buffer in front of every output file, and of standard output in a batch run: one
/// `write(2)` per 128 KiB (about 120 telegrams). Into a pipe, writes of 64 KiB and more
/// wake the reader once per pipe-full (8 KiB writes cost 8 times the context switches);
/// 128 KiB measured a little cheaper than 64 KiB, larger ones no better (they leave
/// the cache).
pub(crate) const BUFFER: usize = 128 * 1024;

/// One output file being written.
pub(crate) struct StagedFile {
    /// The path as the user gave it, for messages.
    shown: PathBuf,
    /// Where the file is published: `shown`, or the file a symlink there points at.
    target: PathBuf,
    kind: Kind,
    file: io::BufWriter<fs::File>,
}

enum Kind {
    /// Unnamed (`O_TMPFILE`) in the target's directory.
    Unnamed { dir: PathBuf },
    /// Named hidden file in the target's directory, removed unless published.
    Named { path: PathBuf },
    /// The target itself (a device or FIFO).
    Direct,
}

/// The hidden name under which a finished file waits to be renamed into place.
struct Linked {
    shown: PathBuf,
    target: PathBuf,
    hidden: PathBuf,
}

impl StagedFile {
    /// Opens a staging file for `target`.
    pub(crate) fn create(target: &Path) -> Result<StagedFile, CliError> {
        Self::create_with(target, true, BUFFER)
    }

    /// [`StagedFile::create`] with a buffer of `capacity` bytes (0: every write goes
    /// straight to the file); `unnamed: false` takes the fallback for file systems
    /// without `O_TMPFILE` (for its tests).
    fn create_with(target: &Path, unnamed: bool, capacity: usize) -> Result<StagedFile, CliError> {
        let fail = |e: io::Error| CliError::output(target, e);
        let shown = target;
        let existing = fs::metadata(target).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(fail)?;
            return Ok(Self::new(shown, target, Kind::Direct, file, capacity));
        }
        // A symlink to a file: replace the file it points at, not the link.
        let linked = fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink());
        let real = if linked && existing.is_some() {
            fs::canonicalize(target).map_err(fail)?
        } else {
            target.to_path_buf()
        };
        let target = real.as_path();
        if existing.is_some() {
            // Renaming would replace a file its owner made read-only: refuse, as `cp` does.
            rustix::fs::access(target, Access::WRITE_OK).map_err(|e| fail(e.into()))?;
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mode = existing.map(|m| m.permissions().mode() & 0o7777);
        // Publishing an unnamed file links it through /proc/self/fd: without /proc, use a
        // named one from the start rather than fail at the end of the run.
        let unnamed = if unnamed && Path::new("/proc/self/fd").is_dir() {
            open_unnamed(&dir)
        } else {
            Err(rustix::io::Errno::OPNOTSUPP)
        };
        let (kind, file) = match unnamed {
            Ok(fd) => (Kind::Unnamed { dir: dir.clone() }, fs::File::from(fd)),
            Err(e) if unnamed_unsupported(e) => {
                let (path, file) = open_named(&dir).map_err(fail)?;
                (Kind::Named { path }, file)
            }
            Err(e) => return Err(fail(e.into())),
        };
        // A new file got 0666 less the umask from open(2); a replaced one keeps its mode.
        if let Some(mode) = mode {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(fail)?;
        }
        Ok(Self::new(shown, target, kind, file, capacity))
    }

    fn new(shown: &Path, target: &Path, kind: Kind, file: fs::File, capacity: usize) -> StagedFile {
        StagedFile {
            shown: shown.to_path_buf(),
            target: target.to_path_buf(),
            kind,
            file: io::BufWriter::with_capacity(capacity, file),
        }
    }

    /// Appends `bytes`.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.file
            .write_all(bytes)
            .map_err(|e| CliError::output(&self.shown, e))
    }

    /// Flushes everything written so far to the kernel (the step that can run out of
    /// space), so that publishing afterwards cannot fail for lack of it.
    fn finish(&mut self) -> Result<(), CliError> {
        self.file
            .flush()
            .map_err(|e| CliError::output(&self.shown, e))
    }

    /// Gives the finished file its hidden name next to the target (nothing for a file
    /// that already has one, or a device written in place).
    fn link(&self) -> Result<Option<Linked>, CliError> {
        let fail = |e: io::Error| CliError::output(&self.shown, e);
        match &self.kind {
            Kind::Direct => Ok(None),
            Kind::Named { path } => Ok(Some(Linked {
                shown: self.shown.clone(),
                target: self.target.clone(),
                hidden: path.clone(),
            })),
            Kind::Unnamed { dir } => {
                let fd = format!("/proc/self/fd/{}", self.file.get_ref().as_raw_fd());
                for attempt in 0u32.. {
                    let hidden = dir.join(hidden_name(attempt));
                    match rustix::fs::linkat(CWD, &fd, CWD, &hidden, AtFlags::SYMLINK_FOLLOW) {
                        Ok(()) => {
                            return Ok(Some(Linked {
                                shown: self.shown.clone(),
                                target: self.target.clone(),
                                hidden,
                            }));
                        }
                        Err(rustix::io::Errno::EXIST) if attempt < 100 => {}
                        Err(e) => return Err(fail(e.into())),
                    }
                }
                Err(fail(io::ErrorKind::AlreadyExists.into()))
            }
        }
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        // Published files were renamed away; this only removes an unpublished one.
        if let Kind::Named { path } = &self.kind {
            let _ = fs::remove_file(path);
        }
    }
}

impl Linked {
    fn publish(self) -> Result<(), CliError> {
        let r = fs::rename(&self.hidden, &self.target);
        if r.is_err() {
            let _ = fs::remove_file(&self.hidden);
        }
        r.map_err(|e| CliError::output(&self.shown, e))
    }
}

impl Drop for Linked {
    fn drop(&mut self) {
        // After a successful rename the hidden name no longer exists; this removes it
        // when a later step failed before the rename.
        let _ = fs::remove_file(&self.hidden);
    }
}

/// Publishes every file together: all are flushed first (where writes fail), then all
/// get their hidden names, then all are renamed into place. If any step before the
/// renames fails, no target is touched.
pub(crate) fn commit_all(files: Vec<StagedFile>) -> Result<(), CliError> {
    let mut files = files;
    for f in &mut files {
        f.finish()?;
    }
    let mut linked = Vec::with_capacity(files.len());
    for f in &files {
        if let Some(l) = f.link()? {
            linked.push(l);
        }
    }
    for l in linked {
        l.publish()?;
    }
    Ok(())
}

/// Writes `bytes` as the whole of `target`, staged and published as one file (a
/// scenario from `replay --write-scenario`, a picture from `plot -o`, a telegram of
/// `run --out DIR/`): one write, no buffer.
pub(crate) fn write_whole(target: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut file = StagedFile::create_with(target, true, 0)?;
    file.write(bytes)?;
    commit_all(vec![file])
}

fn open_unnamed(dir: &Path) -> rustix::io::Result<OwnedFd> {
    rustix::fs::open(
        dir,
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    )
}

/// Errors by which a kernel or file system says it has no `O_TMPFILE`.
fn unnamed_unsupported(e: rustix::io::Errno) -> bool {
    matches!(
        e,
        rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL
    )
}

fn open_named(dir: &Path) -> io::Result<(PathBuf, fs::File)> {
    for attempt in 0u32..100 {
        let path = dir.join(hidden_name(attempt));
        let r = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match r {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::ErrorKind::AlreadyExists.into())
}

fn hidden_name(attempt: u32) -> String {
    format!(".p1sim-{}-{attempt}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn both_ways_publish_together_and_leave_nothing_when_dropped() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("temp dir");
        };
        for unnamed in [true, false] {
            let (a, b) = (dir.path().join("a.p1"), dir.path().join("b.jsonl"));
            fs::write(&a, b"old a").ok();
            let staged = |p: &Path| match StagedFile::create_with(p, unnamed, BUFFER) {
                Ok(f) => f,
                Err(e) => panic!("create {}: {e}", p.display()),
            };
            // Dropped unpublished: the targets stay as they were, no hidden file remains.
            let mut fa = staged(&a);
            assert!(fa.write(b"new a").is_ok());
            drop(fa);
            assert_eq!(entries(dir.path()), ["a.p1"], "unnamed: {unnamed}");
            assert_eq!(fs::read(&a).ok(), Some(b"old a".to_vec()));
            // Published: both at once, with their contents.
            let (mut fa, mut fb) = (staged(&a), staged(&b));
            assert!(fa.write(b"new a").is_ok() && fb.write(b"new b").is_ok());
            assert!(commit_all(vec![fa, fb]).is_ok());
            assert_eq!(
                entries(dir.path()),
                ["a.p1", "b.jsonl"],
                "unnamed: {unnamed}"
            );
            assert_eq!(fs::read(&a).ok(), Some(b"new a".to_vec()));
            assert_eq!(fs::read(&b).ok(), Some(b"new b".to_vec()));
            fs::remove_file(&b).ok();
        }
    }
}
