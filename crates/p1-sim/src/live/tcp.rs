//! The TCP destination: one non-blocking listener, any number of clients, each with its own
//! bounded backlog so a stalled client loses telegrams instead of delaying the others.
//! Clients join at the next telegram boundary.
//!
//! A client's backlog counts the telegrams in our queue *and* those the kernel has not
//! been able to send yet (`SIOCOUTQNSD`, see `sockq.rs`): with the default bound of one, a
//! telegram is sent to a client only once everything before it has gone out on the wire,
//! as on the real P1 line, which carries only the telegram being sent. A client that stalls
//! and resumes therefore gets at most one stale telegram from us, then the next whole
//! current one; the ones it missed are counted as dropped. (What the client's own kernel
//! had already received before it stalled is its to read, like a serial port's buffer.)
//! The kernel send buffer is also kept at its minimum ([`CLIENT_SEND_BUFFER`]), which
//! bounds the backlog where the kernel cannot report it.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::outbox::{Outbox, Release};
use super::{ClientReport, LiveError, LiveSummary, ReadyInfo, Sink};

/// How long the listener rests after `accept` failed for lack of resources (no file
/// descriptor left, no memory): the pending connection stays in the kernel's backlog and
/// keeps the listener readable, so retrying at once would spin.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// Send buffer asked for per client (Linux doubles it): about 20 s of worst-case telegrams.
pub const CLIENT_SEND_BUFFER: usize = 1;

struct Client {
    stream: TcpStream,
    /// Order of connection.
    seq: u64,
    peer: Option<SocketAddr>,
    out: Outbox,
    /// Lengths of the telegrams handed whole to the kernel that it may not all have sent
    /// yet, oldest first.
    in_kernel: VecDeque<usize>,
    /// The client shut down its sending side; it may still be reading.
    read_closed: bool,
}

impl Client {
    /// Telegrams the kernel holds for this client with bytes not sent yet (whole ones
    /// handed over; the queue's half-written head is counted by the queue). The unsent
    /// bytes are the newest ones written, so the oldest telegrams are the ones sent.
    fn held_by_kernel(&mut self) -> usize {
        let Some(unsent) = super::sockq::unsent(&self.stream) else {
            self.in_kernel.clear();
            return 0;
        };
        let left = unsent.saturating_sub(self.out.head_sent());
        let total: usize = self.in_kernel.iter().sum();
        let mut sent = total.saturating_sub(left);
        while let Some(&len) = self.in_kernel.front() {
            if sent < len {
                break;
            }
            sent -= len;
            self.in_kernel.pop_front();
        }
        self.in_kernel.len()
    }

    /// Writes what may be written; `Err` means the client is gone.
    fn flush(&mut self, rel: Release) -> io::Result<()> {
        let in_kernel = &mut self.in_kernel;
        self.out
            .flush(&mut self.stream, rel, |len| in_kernel.push_back(len))
    }
}

/// The listener and its clients.
pub(crate) struct TcpSink {
    bind: String,
    listener: TcpListener,
    addr: SocketAddr,
    clients: Vec<Client>,
    gone: Vec<(u64, ClientReport)>,
    queue: usize,
    rel: Release,
    accepted: u64,
    /// Bytes written to clients that have since gone.
    gone_bytes: u64,
    scratch: Vec<u8>,
    /// While set, `accept` is not retried before this instant (see [`ACCEPT_BACKOFF`]).
    accept_paused_until: Option<Instant>,
    /// Whether the shortage has been reported on stderr (once per run).
    told_shortage: bool,
}

impl TcpSink {
    /// Binds `bind` (`HOST:PORT`, port 0 = any) and makes it non-blocking.
    pub(crate) fn bind(bind: &str, queue: usize) -> Result<Self, LiveError> {
        let err = |source| LiveError::Tcp {
            bind: bind.to_owned(),
            source,
        };
        let listener = TcpListener::bind(bind).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let addr = listener.local_addr().map_err(err)?;
        Ok(Self {
            bind: bind.to_owned(),
            listener,
            addr,
            clients: Vec::new(),
            gone: Vec::new(),
            queue,
            rel: Release::default(),
            accepted: 0,
            gone_bytes: 0,
            scratch: vec![0; 4096],
            accept_paused_until: None,
            told_shortage: false,
        })
    }

    pub(crate) fn ready(&self) -> ReadyInfo {
        ReadyInfo::Tcp { addr: self.addr }
    }

    /// Accepts every pending connection. New clients start with an empty queue, so their
    /// first byte is the `/` of the next telegram to begin.
    fn accept_all(&mut self) -> Result<(), LiveError> {
        if self.accept_paused() {
            return Ok(());
        }
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    // A client we cannot make non-blocking could stall the clock: refuse it.
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let _ = rustix::net::sockopt::set_socket_send_buffer_size(
                        &stream,
                        CLIENT_SEND_BUFFER,
                    );
                    self.accepted += 1;
                    self.clients.push(Client {
                        stream,
                        seq: self.accepted,
                        peer: Some(peer),
                        out: Outbox::new(self.queue),
                        in_kernel: VecDeque::new(),
                        read_closed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if is_resource_shortage(&e) => {
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    if !self.told_shortage {
                        self.told_shortage = true;
                        eprintln!(
                            "p1sim: tcp {}: cannot accept a client ({e}); new clients wait, \
                             retrying every {} ms, connected clients keep being served",
                            self.addr,
                            ACCEPT_BACKOFF.as_millis()
                        );
                    }
                    return Ok(());
                }
                Err(e) if is_transient_accept_error(&e) => return Ok(()),
                Err(source) => {
                    return Err(LiveError::Tcp {
                        bind: self.bind.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// Whether accepting rests after a resource shortage.
    fn accept_paused(&mut self) -> bool {
        match self.accept_paused_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                self.accept_paused_until = None;
                false
            }
            None => false,
        }
    }

    fn drop_client(&mut self, i: usize) {
        let mut c = self.clients.swap_remove(i);
        c.out.discard_all();
        self.gone_bytes += c.out.bytes;
        self.gone.push((c.seq, report(&c, true)));
    }

    /// Flushes every client that has something writable; removes clients whose socket failed.
    fn flush_all(&mut self) {
        let rel = self.rel;
        let mut i = 0;
        while i < self.clients.len() {
            let c = &mut self.clients[i];
            if c.out.has_writable(rel) && c.flush(rel).is_err() {
                self.drop_client(i);
                continue;
            }
            i += 1;
        }
    }
}

fn report(c: &Client, disconnected: bool) -> ClientReport {
    ClientReport {
        peer: c.peer,
        written: c.out.completed,
        dropped: c.out.dropped,
        disconnected,
    }
}

/// Errors from `accept` that concern one connection, not the listener: skip them and try
/// again on the next poll.
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::PermissionDenied
    ) || e.raw_os_error() == Some(rustix::io::Errno::PROTO.raw_os_error())
}

/// Errors from `accept` that say the process or system is short of a resource: the
/// connection stays pending, so accepting rests for [`ACCEPT_BACKOFF`].
fn is_resource_shortage(e: &io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .iter()
        .any(|n| e.raw_os_error() == Some(n.raw_os_error()))
}

impl Sink for TcpSink {
    fn begin(&mut self, telegram: Arc<[u8]>) -> Result<(), LiveError> {
        self.accept_all()?;
        self.rel = Release {
            id: self.rel.id + 1,
            upto: 0,
        };
        for c in &mut self.clients {
            let room = self.queue.saturating_sub(c.held_by_kernel());
            if room == 0 {
                c.out.skip();
            } else {
                c.out.push_within(self.rel.id, Arc::clone(&telegram), room);
            }
        }
        Ok(())
    }

    fn release(&mut self, upto: usize) -> Result<(), LiveError> {
        self.rel.upto = upto;
        self.flush_all();
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> Result<(), LiveError> {
        let rel = self.rel;
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        });
        let (listener_ready, events) = {
            let listen = if self.accept_paused() {
                PollFlags::empty()
            } else {
                PollFlags::IN
            };
            let mut fds = Vec::with_capacity(self.clients.len() + 1);
            fds.push(PollFd::new(&self.listener, listen));
            for c in &self.clients {
                let mut f = PollFlags::empty();
                if !c.read_closed {
                    f |= PollFlags::IN;
                }
                if c.out.has_writable(rel) {
                    f |= PollFlags::OUT;
                }
                fds.push(PollFd::new(&c.stream, f));
            }
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    return Err(LiveError::Tcp {
                        bind: self.bind.clone(),
                        source: e.into(),
                    });
                }
            }
            let events: Vec<PollFlags> = fds[1..].iter().map(PollFd::revents).collect();
            (fds[0].revents().contains(PollFlags::IN), events)
        };
        // Walk backwards so removing a client does not shift the ones still to visit.
        for i in (0..events.len()).rev() {
            let ev = events[i];
            let c = &mut self.clients[i];
            let mut dead = ev.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL);
            if ev.contains(PollFlags::IN) {
                // Clients have nothing to say; read and discard, noting an orderly shutdown.
                loop {
                    match c.stream.read(&mut self.scratch) {
                        Ok(0) => {
                            c.read_closed = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            dead = true;
                            break;
                        }
                    }
                }
            }
            if !dead && ev.contains(PollFlags::OUT) && c.flush(rel).is_err() {
                dead = true;
            }
            if dead {
                self.drop_client(i);
            }
        }
        if listener_ready {
            self.accept_all()?;
        }
        Ok(())
    }

    fn is_idle(&mut self) -> Result<bool, LiveError> {
        Ok(self
            .clients
            .iter_mut()
            .all(|c| c.out.is_empty() && c.held_by_kernel() == 0))
    }

    fn connected(&self) -> Option<usize> {
        Some(self.clients.len())
    }

    fn finish(&mut self, summary: &mut LiveSummary) -> Result<(), LiveError> {
        let mut reports = std::mem::take(&mut self.gone);
        let mut bytes = self.gone_bytes;
        for c in &mut self.clients {
            c.out.discard_all();
            bytes += c.out.bytes;
            reports.push((c.seq, report(c, false)));
        }
        self.clients.clear();
        reports.sort_by_key(|(seq, _)| *seq);
        let reports: Vec<ClientReport> = reports.into_iter().map(|(_, r)| r).collect();
        summary.written += reports.iter().map(|r| r.written).sum::<u64>();
        summary.dropped += reports.iter().map(|r| r.dropped).sum::<u64>();
        summary.bytes += bytes;
        summary.clients += self.accepted;
        summary.client_reports = reports;
        Ok(())
    }
}
