//! The pseudo-terminal destination: a raw 115200 8N1 pty pair, telegrams written to the
//! non-blocking master, the optional stable symlink to the slave.
//!
//! We keep our own descriptor on the slave for the whole run. That keeps the terminal
//! settings and the input queue alive between readers (no EIO on the master when a reader
//! closes), and lets us ask the kernel how many bytes a reader has not consumed yet
//! (`FIONREAD` on the slave). When the next telegram is due and bytes are still unread, the
//! reader is absent or stalled: the slave's input queue is flushed (`tcflush(TCIFLUSH)`)
//! and the unconsumed telegrams are counted as dropped. A reader that opens the slave later
//! therefore finds either nothing or exactly one whole telegram starting at `/`.
//!
//! Accounting: before asking `FIONREAD` we poll the slave for input, which makes the kernel
//! finish moving just-written bytes from its flip buffer into the line discipline. The line
//! discipline holds 4 KiB; a backlog beyond that is not seen, so with telegrams (or
//! unconsumed runs of telegrams) over 4 KiB the written/dropped split is approximate.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, ControlModes, OptionalActions, QueueSelector};

use super::outbox::{Outbox, Release};
use super::{LiveError, LiveSummary, ReadyInfo, Sink};

/// The line rate the slave advertises (e-MUCS P1 table 2).
const BAUD: u32 = 115_200;

/// The open pty pair and its accounting.
pub(crate) struct PtySink {
    master: File,
    slave: OwnedFd,
    path: PathBuf,
    link: Option<LinkGuard>,
    out: Outbox,
    rel: Release,
    /// Lengths of telegrams fully written to the master and not yet known to be consumed.
    in_flight: VecDeque<usize>,
    delivered: u64,
    dropped: u64,
    scratch: Vec<u8>,
}

fn step(what: &'static str) -> impl FnOnce(rustix::io::Errno) -> LiveError {
    move |e| LiveError::Pty {
        what,
        source: e.into(),
    }
}

impl PtySink {
    /// Creates the pair, configures it raw 115200 8N1, and makes `link` point at the slave.
    pub(crate) fn open(link: Option<&Path>) -> Result<Self, LiveError> {
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .map_err(step("posix_openpt"))?;
        rustix::pty::grantpt(&master).map_err(step("grantpt"))?;
        rustix::pty::unlockpt(&master).map_err(step("unlockpt"))?;
        let name = rustix::pty::ptsname(&master, Vec::new()).map_err(step("ptsname"))?;
        let path = PathBuf::from(OsString::from_vec(name.into_bytes()));
        let slave = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(step("open slave"))?;
        configure_raw_8n1(&slave).map_err(step("termios"))?;
        rustix::io::ioctl_fionbio(&master, true).map_err(step("non-blocking master"))?;
        let link = match link {
            Some(l) => Some(LinkGuard::create(l, &path)?),
            None => None,
        };
        Ok(Self {
            master: File::from(master),
            slave,
            path,
            link,
            out: Outbox::new(1),
            rel: Release::default(),
            in_flight: VecDeque::new(),
            delivered: 0,
            dropped: 0,
            scratch: vec![0; 4096],
        })
    }

    pub(crate) fn ready(&self) -> ReadyInfo {
        ReadyInfo::Pty {
            path: self.path.clone(),
            link: self.link.as_ref().map(|l| l.link.clone()),
        }
    }

    /// Decides the fate of everything written so far: consumed telegrams count as written,
    /// unconsumed ones are flushed from the slave's input queue and count as dropped.
    fn settle(&mut self) -> Result<(), LiveError> {
        let unread = self.unread()?;
        let partial = self.out.head_sent();
        if unread == 0 && self.out.is_empty() {
            self.delivered += self.in_flight.len() as u64;
            self.in_flight.clear();
            return Ok(());
        }
        // Bytes in the kernel, oldest first: the in-flight telegrams, then the written
        // prefix of a telegram the master did not take whole. The reader consumed a prefix.
        let in_kernel: usize = self.in_flight.iter().sum::<usize>() + partial;
        let mut consumed = in_kernel.saturating_sub(unread);
        for len in self.in_flight.drain(..) {
            if consumed >= len {
                consumed -= len;
                self.delivered += 1;
            } else {
                consumed = 0;
                self.dropped += 1;
            }
        }
        self.dropped += self.out.discard_all();
        if unread > 0 || partial > 0 {
            termios::tcflush(&self.slave, QueueSelector::IFlush).map_err(step("tcflush"))?;
        }
        Ok(())
    }

    /// Bytes written to the master that no reader has consumed yet.
    fn unread(&self) -> Result<usize, LiveError> {
        // poll() on a tty waits for the pending flip-buffer work, so FIONREAD is current.
        let mut fds = [PollFd::new(&self.slave, PollFlags::IN)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(step("poll slave")(e)),
        }
        if !fds[0].revents().contains(PollFlags::IN) {
            return Ok(0);
        }
        let n = rustix::io::ioctl_fionread(&self.slave).map_err(step("FIONREAD"))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn flush_out(&mut self) -> Result<(), LiveError> {
        let in_flight = &mut self.in_flight;
        self.out
            .flush(&mut self.master, self.rel, |len| in_flight.push_back(len))
            .map_err(|source| LiveError::Pty {
                what: "write master",
                source,
            })
    }

    /// Reads and discards whatever a reader wrote to the slave, so its writes never block.
    fn discard_input(&mut self) {
        loop {
            match self.master.read(&mut self.scratch) {
                Ok(n) if n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }
}

impl Sink for PtySink {
    fn begin(&mut self, telegram: Arc<[u8]>) -> Result<(), LiveError> {
        self.settle()?;
        self.rel = Release {
            id: self.rel.id + 1,
            upto: 0,
        };
        self.out.push(self.rel.id, telegram);
        Ok(())
    }

    fn release(&mut self, upto: usize) -> Result<(), LiveError> {
        self.rel.upto = upto;
        self.flush_out()
    }

    fn wait(&mut self, timeout: Duration) -> Result<(), LiveError> {
        let mut flags = PollFlags::IN;
        if self.out.has_writable(self.rel) {
            flags |= PollFlags::OUT;
        }
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&self.master, flags)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(step("poll")(e)),
        }
        let got = fds[0].revents();
        if got.contains(PollFlags::IN) {
            self.discard_input();
        }
        if got.contains(PollFlags::OUT) {
            self.flush_out()?;
        }
        Ok(())
    }

    fn is_idle(&mut self) -> Result<bool, LiveError> {
        Ok(self.out.is_empty() && self.unread()? == 0)
    }

    fn finish(&mut self, summary: &mut LiveSummary) -> Result<(), LiveError> {
        self.settle()?;
        summary.written += self.delivered;
        summary.dropped += self.dropped;
        summary.bytes += self.out.bytes;
        if let Some(mut l) = self.link.take() {
            l.remove();
        }
        Ok(())
    }
}

/// Raw mode (no echo, no line editing, no CR/LF translation), 8 data bits, no parity,
/// 1 stop bit, receiver on, modem lines ignored, 115200 baud.
fn configure_raw_8n1(fd: &OwnedFd) -> rustix::io::Result<()> {
    let mut t = termios::tcgetattr(fd)?;
    t.make_raw();
    t.control_modes -=
        ControlModes::CSIZE | ControlModes::PARENB | ControlModes::CSTOPB | ControlModes::CRTSCTS;
    t.control_modes |= ControlModes::CS8 | ControlModes::CREAD | ControlModes::CLOCAL;
    t.set_speed(BAUD)?;
    termios::tcsetattr(fd, OptionalActions::Now, &t)
}

/// A symlink that points at the slave while we serve and is removed afterwards, but only if
/// it still points at our slave (someone may have re-pointed it).
struct LinkGuard {
    link: PathBuf,
    target: PathBuf,
}

impl LinkGuard {
    /// Creates `link`, or atomically replaces a symlink there that a meter left behind:
    /// one pointing at a pseudo-terminal that no longer exists (a run killed by SIGKILL
    /// could not remove it) or at the slave just opened. Anything else is refused with
    /// the reason: a file or directory, a symlink elsewhere, or one to a pseudo-terminal
    /// still in use (another meter serving under this name).
    fn create(link: &Path, target: &Path) -> Result<Self, LiveError> {
        let err = |source| LiveError::Link {
            path: link.to_path_buf(),
            source,
        };
        let refuse = |why: String| LiveError::Link {
            path: link.to_path_buf(),
            source: io::Error::new(io::ErrorKind::AlreadyExists, why),
        };
        match std::fs::symlink_metadata(link) {
            Ok(m) if !m.file_type().is_symlink() => {
                let what = if m.is_dir() { "a directory" } else { "a file" };
                return Err(refuse(format!(
                    "exists and is {what}, not a symlink; not replacing it"
                )));
            }
            Ok(_) => {
                let to = std::fs::read_link(link).map_err(err)?;
                let pty = to.starts_with("/dev/pts/");
                let gone = std::fs::symlink_metadata(&to).is_err();
                if to != target && !(pty && gone) {
                    let why = if pty {
                        "a pseudo-terminal still in use (another meter?)"
                    } else {
                        "not a pseudo-terminal"
                    };
                    return Err(refuse(format!(
                        "is a symlink to {}, {why}; not replacing it",
                        to.display()
                    )));
                }
            }
            Err(_) => {}
        }
        let mut tmp = link.as_os_str().to_owned();
        tmp.push(format!(".p1sim-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp).map_err(err)?;
        if let Err(e) = std::fs::rename(&tmp, link) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(Self {
            link: link.to_path_buf(),
            target: target.to_path_buf(),
        })
    }

    fn remove(&mut self) {
        if std::fs::read_link(&self.link).is_ok_and(|t| t == self.target) {
            let _ = std::fs::remove_file(&self.link);
        }
        self.target = PathBuf::new();
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slave_is_raw_115200_8n1() {
        let Ok(p) = PtySink::open(None) else {
            eprintln!("no pseudo-terminals on this machine; skipping");
            return;
        };
        let t = termios::tcgetattr(&p.slave).map_err(io::Error::from);
        let t = match t {
            Ok(t) => t,
            Err(e) => panic!("tcgetattr: {e}"),
        };
        assert_eq!(t.output_speed(), 115_200);
        assert_eq!(t.input_speed(), 115_200);
        assert!(t.control_modes.contains(ControlModes::CS8));
        assert!(
            !t.control_modes
                .intersects(ControlModes::PARENB | ControlModes::CSTOPB)
        );
        assert!(!t.local_modes.intersects(
            termios::LocalModes::ECHO | termios::LocalModes::ICANON | termios::LocalModes::ISIG
        ));
        assert!(!t.output_modes.contains(termios::OutputModes::OPOST));
        assert!(p.path.starts_with("/dev/pts"), "{}", p.path.display());
    }

    #[test]
    fn link_refuses_to_clobber_a_file_and_replaces_a_dangling_pty_link() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let file = dir.path().join("plain");
        std::fs::write(&file, b"keep").ok();
        assert!(matches!(
            LinkGuard::create(&file, Path::new("/dev/null")),
            Err(LiveError::Link { .. })
        ));
        assert_eq!(std::fs::read(&file).ok(), Some(b"keep".to_vec()));

        let link = dir.path().join("meter");
        std::os::unix::fs::symlink("/nowhere", &link).ok();
        assert!(matches!(
            LinkGuard::create(&link, Path::new("/dev/null")),
            Err(LiveError::Link { .. })
        ));
        assert_eq!(
            std::fs::read_link(&link).ok(),
            Some(PathBuf::from("/nowhere"))
        );
        std::fs::remove_file(&link).ok();
        std::os::unix::fs::symlink("/dev/pts/999999", &link).ok();
        let g = LinkGuard::create(&link, Path::new("/dev/null"));
        assert_eq!(
            std::fs::read_link(&link).ok(),
            Some(PathBuf::from("/dev/null"))
        );
        drop(g);
        assert!(std::fs::symlink_metadata(&link).is_err(), "removed on drop");
    }
}
