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
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// A named file handed to its [`Linked`], which publishes or removes it.
    Handed,
}

/// The hidden name under which a finished file waits to be renamed into place.
struct Linked {
    shown: PathBuf,
    target: PathBuf,
    hidden: PathBuf,
    /// Not renamed yet: dropping removes the hidden name. Once renamed, the name is
    /// never touched again (it is no longer ours).
    pending: bool,
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

    /// Gives the finished file its hidden name next to the target (nothing for a device
    /// written in place). A named file's hidden name passes to the returned [`Linked`].
    fn link(&mut self) -> Result<Option<Linked>, CliError> {
        let fail = |e: io::Error| CliError::output(&self.shown, e);
        let linked = |hidden| Linked {
            shown: self.shown.clone(),
            target: self.target.clone(),
            hidden,
            pending: true,
        };
        match &self.kind {
            Kind::Direct | Kind::Handed => Ok(None),
            Kind::Named { path } => {
                let l = linked(path.clone());
                self.kind = Kind::Handed;
                Ok(Some(l))
            }
            Kind::Unnamed { dir } => {
                let fd = format!("/proc/self/fd/{}", self.file.get_ref().as_raw_fd());
                for attempt in 0u32.. {
                    let hidden = dir.join(hidden_name());
                    match rustix::fs::linkat(CWD, &fd, CWD, &hidden, AtFlags::SYMLINK_FOLLOW) {
                        Ok(()) => return Ok(Some(linked(hidden))),
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
        // A named file never handed to a `Linked` was not published: remove it.
        if let Kind::Named { path } = &self.kind {
            let _ = fs::remove_file(path);
        }
    }
}

impl Linked {
    fn publish(mut self) -> Result<(), CliError> {
        let r = fs::rename(&self.hidden, &self.target);
        // Renamed: the hidden name is free again, and removing it could remove another
        // writer's file. Not renamed: dropping `self` removes it.
        self.pending = r.is_err();
        r.map_err(|e| CliError::output(&self.shown, e))
    }
}

impl Drop for Linked {
    fn drop(&mut self) {
        // A step before this file's rename failed: the target stays as it was.
        if self.pending {
            let _ = fs::remove_file(&self.hidden);
        }
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
    for f in &mut files {
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
    for _ in 0..100 {
        let path = dir.join(hidden_name());
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

/// A hidden name no other writer uses: the process id, and a number this process never
/// gives out twice (threads publish into one directory at once: a batch fleet's workers).
/// A name left by an earlier process of the same id is skipped by the callers' retries.
fn hidden_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".p1sim-{}-{n}", std::process::id())
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

#[cfg(test)]
mod concurrent {
    use super::*;

    /// Threads of one process publishing into one directory at once (a batch fleet's
    /// workers): every file arrives with its own bytes and no hidden name is left.
    #[test]
    fn threads_publishing_into_one_directory_never_lose_a_file() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("temp dir");
        };
        for unnamed in [true, false] {
            let results: Vec<Result<(), String>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..6)
                    .map(|t| {
                        let dir = dir.path();
                        s.spawn(move || -> Result<(), String> {
                            for i in 0..150 {
                                let a = dir.join(format!("{unnamed}-{t}-{i}.p1"));
                                let b = dir.join(format!("{unnamed}-{t}-{i}.jsonl"));
                                let mut fa = StagedFile::create_with(&a, unnamed, BUFFER)
                                    .map_err(|e| e.to_string())?;
                                let mut fb = StagedFile::create_with(&b, unnamed, BUFFER)
                                    .map_err(|e| e.to_string())?;
                                fa.write(a.to_string_lossy().as_bytes())
                                    .map_err(|e| e.to_string())?;
                                fb.write(b.to_string_lossy().as_bytes())
                                    .map_err(|e| e.to_string())?;
                                commit_all(vec![fa, fb]).map_err(|e| e.to_string())?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or_else(|_| Err("panicked".into())))
                    .collect()
            });
            for r in results {
                assert_eq!(r, Ok(()), "unnamed: {unnamed}");
            }
        }
        let names = fs::read_dir(dir.path()).map(|d| {
            d.flatten()
                .map(|e| (e.path(), e.file_name().to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
        });
        let Ok(names) = names else {
            panic!("read dir");
        };
        assert_eq!(names.len(), 2 * 6 * 150 * 2);
        for (path, name) in names {
            assert!(!name.starts_with(".p1sim-"), "{name} left behind");
            assert_eq!(
                fs::read(&path).ok(),
                Some(path.to_string_lossy().into_owned().into_bytes()),
                "{name}"
            );
        }
    }
}
