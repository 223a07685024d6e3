//! Live output: paces telegrams on a monotonic clock and writes them to a pseudo-terminal,
//! a TCP listener or a real serial port (`p1sim run --out pty|tcp:HOST:PORT|serial:DEVICE`).
//!
//! This module tree is the only place in the workspace that reads a clock or sleeps.
//!
//! Model: the caller hands [`serve`] an iterator of [`LiveFrame`]s (a simulated instant and
//! the bytes of one whole telegram, or nothing for silence, optionally split into writes
//! with real-time pauses between them). Frame *k* leaves at
//! `start + (at_ms_k - at_ms_0) / speed` on [`std::time::Instant`], each deadline computed
//! from the start so no drift accumulates. The clock never waits for a reader: every write
//! is non-blocking, and what a destination cannot take is dropped as whole telegrams and
//! counted in the [`LiveSummary`].
//!
//! Drop and join rules, per destination:
//! - **pty**: a telegram is current until the next one is due. If, when the next is due, the
//!   reader has not consumed all of the previous one (nobody has the slave open, or the
//!   reader stalled), the unread bytes are flushed from the terminal's input queue and the
//!   telegram counts as dropped. So a reader that opens the device mid-stream finds at most
//!   one whole telegram waiting, starting at `/`, and then the following ones.
//! - **tcp**: each client has a backlog of at most [`LiveOptions::client_queue`] telegrams
//!   (default 1), counting those its socket could not send yet; a telegram due
//!   when the backlog is full is dropped for that client only (and older ones not yet
//!   started with it), so a client that stalls and resumes gets at most one stale
//!   telegram from the meter, then the next whole current one. A client that connects
//!   mid-stream is first given the next telegram that *begins* after its connection,
//!   never the tail of one in progress.
//! - **serial**: a telegram still not fully written when the next is due is abandoned (the
//!   output queue is cleared) and counted as dropped.

mod gate;
mod meter;
mod outbox;
mod pacer;
mod pty;
mod serial;
mod signal;
mod sockq;
mod tcp;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use gate::FrameGate;
pub use meter::VirtualMeter;
pub(crate) use pacer::Schedule;
pub use pacer::{BAUD_BYTES_PER_SECOND, BAUD_CHUNK};
pub(crate) use pacer::{LatenessStats, SLICE, release_plan};
pub(crate) use pty::PtySink;
pub(crate) use signal::SignalGuard;
pub use tcp::CLIENT_SEND_BUFFER;
pub(crate) use tcp::TcpSink;

/// One telegram (or one second of silence) to send at a simulated instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFrame {
    /// Simulated instant in milliseconds (any epoch; only differences matter).
    pub at_ms: i64,
    /// One whole telegram. Empty = silence (port disabled, power failure): nothing is written.
    pub bytes: Vec<u8>,
    /// How to write `bytes` (a split-write fault): empty = one write. Each piece is
    /// released, then its pause waited in real time within the telegram's slot (not
    /// scaled by the speed, like the line rate). Pieces that do not add up to `bytes`
    /// are ignored (one write).
    pub pieces: Vec<LivePiece>,
}

/// One write of a telegram split into several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePiece {
    /// Bytes in this write.
    pub len: usize,
    /// Real-time pause after it, before the next piece.
    pub pause_after: Duration,
}

impl From<p1_scenario::SimFrame> for LiveFrame {
    /// What the simulation sent at a telegram instant, with its split writes and pauses
    /// (fault injection); silence stays silence.
    fn from(frame: p1_scenario::SimFrame) -> Self {
        let pieces = frame
            .pieces
            .iter()
            .map(|p| LivePiece {
                len: p.len,
                pause_after: Duration::from_millis(u64::from(p.pause_after_ms)),
            })
            .collect();
        LiveFrame::new(frame.at.millis(), frame.bytes).with_pieces(pieces)
    }
}

impl LiveFrame {
    /// A frame carrying `bytes` at simulated instant `at_ms`, written at once.
    pub fn new(at_ms: i64, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            at_ms,
            bytes: bytes.into(),
            pieces: Vec::new(),
        }
    }

    /// The same frame written in `pieces`.
    pub fn with_pieces(mut self, pieces: Vec<LivePiece>) -> Self {
        self.pieces = pieces;
        self
    }
}

/// Where the live stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveSinkSpec {
    /// A new pseudo-terminal; the slave path is reported in [`ReadyInfo::Pty`].
    Pty {
        /// Keep a symlink at this path pointing to the slave while serving; removed on exit.
        link: Option<PathBuf>,
    },
    /// A TCP listener; every client gets the same byte stream.
    Tcp {
        /// `HOST:PORT` to bind (port 0 = any free port).
        bind: String,
    },
    /// A real serial device opened at 115200 8N1.
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        device: String,
    },
}

impl FromStr for LiveSinkSpec {
    type Err = LiveError;

    /// Parses `pty`, `tcp:HOST:PORT`, `tcp:PORT` (on 127.0.0.1) or `serial:DEVICE`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            LiveError::Spec(format!(
                "{why} in `{s}`: expected `pty`, `tcp:HOST:PORT`, `tcp:PORT` or `serial:DEVICE`"
            ))
        };
        if s == "pty" {
            return Ok(Self::Pty { link: None });
        }
        if let Some(rest) = s.strip_prefix("tcp:") {
            let bind = match rest.strip_prefix(':').unwrap_or(rest) {
                p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("127.0.0.1:{p}")
                }
                _ => rest.to_owned(),
            };
            let port_ok = bind
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(bad("missing host or port (0-65535)"));
            }
            return Ok(Self::Tcp { bind });
        }
        if let Some(device) = s.strip_prefix("serial:") {
            if device.is_empty() {
                return Err(bad("missing device path"));
            }
            return Ok(Self::Serial {
                device: device.to_owned(),
            });
        }
        Err(bad("unknown output"))
    }
}

/// How frames are spread over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Simulated time runs `speed` times faster than real time (1.0 = real time).
    Speed(f64),
    /// No sleeping at all: frames are written as fast as the loop runs.
    Fast,
}

impl Default for Pacing {
    fn default() -> Self {
        Self::Speed(1.0)
    }
}

/// Options for [`serve`]. Build with `LiveOptions { field: value, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Real time (default), scaled, or no sleeping.
    pub pacing: Pacing,
    /// Write each telegram at the 115200 8N1 line rate ([`BAUD_BYTES_PER_SECOND`]), in
    /// [`BAUD_CHUNK`]-byte pieces, instead of in one write. The line rate is not scaled
    /// by `speed`.
    pub baud_pacing: bool,
    /// Telegrams a TCP client may have pending (queued here or not yet sent by its
    /// socket) before new ones are dropped for it. 1 (the default) is the real line: only
    /// the telegram being sent.
    pub client_queue: usize,
    /// After the last frame, keep serving up to this long so readers get what is queued.
    /// Not applied when stopped by a signal or the stop flag.
    pub drain: Duration,
    /// Stop on SIGINT/SIGTERM (a second signal exits the process with status 130). For the
    /// CLI; library users normally leave this off and use `stop`.
    pub handle_signals: bool,
    /// Stop when this flag becomes true (checked at least every 20 ms).
    pub stop: Option<Arc<AtomicBool>>,
    /// Keep every telegram's write lateness in [`PacingReport::samples_us`].
    pub record_lateness: bool,
    /// A test hook: frames also wait until this gate lets them go (see [`FrameGate`]).
    pub gate: Option<FrameGate>,
    /// TCP: hold frame 0 until this many clients are connected (0: start at once), so a
    /// `--fast` run cannot end before its reader connects.
    pub wait_clients: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            pacing: Pacing::default(),
            baud_pacing: false,
            client_queue: 1,
            drain: Duration::from_secs(1),
            handle_signals: false,
            stop: None,
            record_lateness: false,
            gate: None,
            wait_clients: 0,
        }
    }
}

/// What [`serve`] reports once the destination is open, before the first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyInfo {
    /// The slave device a reader opens, and the symlink to it if one was asked for.
    Pty {
        /// Slave device path, e.g. `/dev/pts/7`.
        path: PathBuf,
        /// The stable symlink, if any.
        link: Option<PathBuf>,
    },
    /// The address actually bound (the real port when 0 was asked for).
    Tcp {
        /// Bound address.
        addr: SocketAddr,
    },
    /// The serial device in use.
    Serial {
        /// Device path.
        device: String,
    },
}

impl fmt::Display for ReadyInfo {
    /// The line the CLI prints first on stdout: the device path, or `tcp:ADDR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pty { path, .. } => write!(f, "{}", path.display()),
            Self::Tcp { addr } => write!(f, "tcp:{addr}"),
            Self::Serial { device } => write!(f, "serial:{device}"),
        }
    }
}

/// Why serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The frame iterator ran out.
    Finished,
    /// SIGINT or SIGTERM.
    Signal,
    /// The [`LiveOptions::stop`] flag was set.
    Requested,
}

/// Per-client result of a TCP run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientReport {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// Telegrams written whole to this client.
    pub written: u64,
    /// Telegrams this client lost (queue full, or still queued when it disconnected).
    pub dropped: u64,
    /// Whether the client disconnected before the end.
    pub disconnected: bool,
}

/// How far from schedule telegrams were written (first byte), in microseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PacingReport {
    /// Telegrams measured (none in [`Pacing::Fast`]).
    pub count: u64,
    /// Mean of |actual - scheduled|.
    pub mean_us: f64,
    /// Largest |actual - scheduled|.
    pub max_us: u64,
    /// Every value, in order, when [`LiveOptions::record_lateness`] is set.
    pub samples_us: Vec<u64>,
}

/// What happened during [`serve`].
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSummary {
    /// Frames taken from the iterator.
    pub frames: u64,
    /// Frames that were silence (empty).
    pub silent: u64,
    /// Telegrams sent out (non-empty frames).
    pub telegrams: u64,
    /// Telegrams that reached a reader whole. pty: consumed by the reader; tcp: written to a
    /// client (summed over clients); serial: written to the device.
    pub written: u64,
    /// Telegrams lost (summed over clients for tcp): see the module docs for the rules.
    pub dropped: u64,
    /// Bytes accepted by the kernel (summed over clients for tcp).
    pub bytes: u64,
    /// TCP clients that connected.
    pub clients: u64,
    /// Per TCP client, in order of connection.
    pub client_reports: Vec<ClientReport>,
    /// Why serving ended.
    pub stopped: StopReason,
    /// Write lateness.
    pub pacing: PacingReport,
    /// The instant frame 0 was scheduled for (None if no frame was taken).
    pub started_at: Option<Instant>,
}

impl LiveSummary {
    /// Nothing served yet: every count zero, stopped at the scenario's end.
    pub(crate) fn empty() -> LiveSummary {
        LiveSummary {
            frames: 0,
            silent: 0,
            telegrams: 0,
            written: 0,
            dropped: 0,
            bytes: 0,
            clients: 0,
            client_reports: Vec::new(),
            stopped: StopReason::Finished,
            pacing: PacingReport::default(),
            started_at: None,
        }
    }
}

impl fmt::Display for LiveSummary {
    /// One line for stderr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.stopped {
            StopReason::Finished => "at the end of the scenario",
            StopReason::Signal => "by a signal",
            StopReason::Requested => "on request",
        };
        write!(
            f,
            "{} telegrams ({} silent frames): {} written, {} dropped, {} clients; stopped {}",
            self.telegrams, self.silent, self.written, self.dropped, self.clients, why
        )
    }
}

/// Failures of the live layer. Reader misbehaviour is never an error (it is counted).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A `--out` value that does not parse.
    #[error("bad output: {0}")]
    Spec(String),
    /// An option out of range.
    #[error("bad option: {0}")]
    Options(String),
    /// Creating or configuring the pseudo-terminal failed.
    #[error("pty: {what}: {source}")]
    Pty {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The `--link` symlink could not be made.
    #[error("link {}: {source}", path.display())]
    Link {
        /// The symlink path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Binding or polling the TCP listener failed.
    #[error("tcp {bind}: {source}")]
    Tcp {
        /// The bind address.
        bind: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Opening or writing the serial device failed.
    #[error("serial {device}: {message}")]
    Serial {
        /// Device path.
        device: String,
        /// What went wrong.
        message: String,
    },
    /// The scenario does not parse or cannot start (`path:line:column: message`).
    #[error("{0}")]
    Scenario(String),
    /// Installing the signal handlers failed.
    #[error("signals: {0}")]
    Signal(std::io::Error),
    /// The background thread of a [`VirtualMeter`] died.
    #[error("live thread: {0}")]
    Thread(String),
}

/// A destination: one pty, one listener with its clients, or one serial port.
///
/// A telegram goes out as `begin` then one or more `release` calls, each making a longer
/// prefix of it writable (one call with the full length unless baud pacing). Between calls
/// the loop calls `wait`, which services the destination for at most `timeout`.
pub(crate) trait Sink {
    /// A new telegram starts; decide drops for the previous one.
    fn begin(&mut self, telegram: Arc<[u8]>) -> Result<(), LiveError>;
    /// Bytes `..upto` of the current telegram may now be written.
    fn release(&mut self, upto: usize) -> Result<(), LiveError>;
    /// Service I/O (accept, flush, discard input) for at most `timeout`; may return early.
    fn wait(&mut self, timeout: Duration) -> Result<(), LiveError>;
    /// Whether everything written so far has been taken by the readers.
    fn is_idle(&mut self) -> Result<bool, LiveError>;
    /// Final accounting into `summary` (written, dropped, bytes, clients).
    fn finish(&mut self, summary: &mut LiveSummary) -> Result<(), LiveError>;
    /// Readers connected now, for sinks that count them (TCP); `None` otherwise.
    fn connected(&self) -> Option<usize> {
        None
    }
}

/// Opens `sink`, calls `on_ready` once it is ready (before frame 0 is scheduled), then
/// paces `frames` to it until they run out, the stop flag is set, or (with
/// [`LiveOptions::handle_signals`]) SIGINT/SIGTERM arrives. On every exit path the pty
/// symlink is removed.
pub fn serve<I, F>(
    frames: I,
    sink: LiveSinkSpec,
    opts: LiveOptions,
    on_ready: F,
) -> Result<LiveSummary, LiveError>
where
    I: IntoIterator<Item = LiveFrame>,
    F: FnOnce(&ReadyInfo),
{
    let speed = match opts.pacing {
        Pacing::Speed(s) if s.is_finite() && s > 0.0 => Some(s),
        Pacing::Speed(s) => {
            return Err(LiveError::Options(format!(
                "speed must be a finite number > 0, got {s}"
            )));
        }
        Pacing::Fast => None,
    };
    let signal_flag = Arc::new(AtomicBool::new(false));
    let _signals = if opts.handle_signals {
        Some(signal::SignalGuard::install(&signal_flag).map_err(LiveError::Signal)?)
    } else {
        None
    };
    if opts.wait_clients > 0 && !matches!(sink, LiveSinkSpec::Tcp { .. }) {
        return Err(LiveError::Options(
            "waiting for clients (--wait-clients) needs a tcp: output".into(),
        ));
    }
    let (mut out, ready): (Box<dyn Sink>, ReadyInfo) = match &sink {
        LiveSinkSpec::Pty { link } => {
            let s = pty::PtySink::open(link.as_deref())?;
            let r = s.ready();
            (Box::new(s), r)
        }
        LiveSinkSpec::Tcp { bind } => {
            let s = tcp::TcpSink::bind(bind, opts.client_queue.max(1))?;
            let r = s.ready();
            (Box::new(s), r)
        }
        LiveSinkSpec::Serial { device } => {
            let s = serial::SerialSink::open(device)?;
            let r = s.ready();
            (Box::new(s), r)
        }
    };
    on_ready(&ready);

    let stop = Stop {
        signal: signal_flag,
        external: opts.stop.clone(),
    };
    let mut summary = LiveSummary::empty();
    let mut lateness = pacer::LatenessStats::new(opts.record_lateness);
    // Accept clients that connected while `on_ready` ran, so they get frame 0 whole.
    out.wait(Duration::ZERO)?;
    // The schedule starts with frame 0, so waiting here shifts nothing.
    while out.connected().is_some_and(|n| n < opts.wait_clients) && stop.check().is_none() {
        out.wait(Duration::from_millis(20))?;
    }
    let mut schedule: Option<pacer::Schedule> = None;
    let mut stopped = None;
    for frame in frames {
        if let Some(why) = stop.check() {
            stopped = Some(why);
            break;
        }
        summary.frames += 1;
        let sched = schedule.get_or_insert_with(|| {
            let s = pacer::Schedule::new(Instant::now(), frame.at_ms, speed);
            summary.started_at = Some(s.start());
            s
        });
        let due = sched.due(frame.at_ms);
        if let Some(gate) = &opts.gate {
            if let Err(why) = wait_for_gate(gate, summary.frames - 1, out.as_mut(), &stop)? {
                stopped = Some(why);
                break;
            }
        }
        if let Err(why) = wait_until(due, out.as_mut(), &stop)? {
            stopped = Some(why);
            break;
        }
        if frame.bytes.is_empty() {
            summary.silent += 1;
            if let Some(gate) = &opts.gate {
                gate.pass();
            }
            continue;
        }
        summary.telegrams += 1;
        let telegram: Arc<[u8]> = frame.bytes.into();
        let began = Instant::now();
        if speed.is_some() {
            lateness.record(began.saturating_duration_since(due));
        }
        out.begin(Arc::clone(&telegram))?;
        if let Some(gate) = &opts.gate {
            gate.pass();
        }
        let pieces: Vec<(usize, Duration)> = frame
            .pieces
            .iter()
            .map(|p| (p.len, p.pause_after))
            .collect();
        for (upto, offset) in pacer::release_plan(telegram.len(), &pieces, opts.baud_pacing) {
            if !offset.is_zero()
                && let Err(why) = wait_until(began + offset, out.as_mut(), &stop)?
            {
                stopped = Some(why);
                break;
            }
            out.release(upto)?;
        }
        if stopped.is_some() {
            break;
        }
    }
    if stopped.is_none() {
        let until = Instant::now() + opts.drain;
        while !out.is_idle()? {
            let now = Instant::now();
            if now >= until {
                break;
            }
            if let Some(why) = stop.check() {
                stopped = Some(why);
                break;
            }
            out.wait((until - now).min(pacer::SLICE))?;
        }
    }
    summary.stopped = stopped.unwrap_or(StopReason::Finished);
    out.finish(&mut summary)?;
    summary.pacing = lateness.report();
    Ok(summary)
}

/// The two ways to be told to stop.
struct Stop {
    signal: Arc<AtomicBool>,
    external: Option<Arc<AtomicBool>>,
}

impl Stop {
    fn check(&self) -> Option<StopReason> {
        if self.signal.load(Ordering::SeqCst) {
            Some(StopReason::Signal)
        } else if self
            .external
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
        {
            Some(StopReason::Requested)
        } else {
            None
        }
    }
}

/// Services `sink` until `deadline`, in slices short enough to notice a stop promptly.
/// The inner `Err` is a stop, not a failure.
fn wait_until(
    deadline: Instant,
    sink: &mut dyn Sink,
    stop: &Stop,
) -> Result<Result<(), StopReason>, LiveError> {
    loop {
        if let Some(why) = stop.check() {
            return Ok(Err(why));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Ok(()));
        }
        sink.wait((deadline - now).min(pacer::SLICE))?;
    }
}

/// Services `sink` until `gate` lets frame `index` go (for a lockstep gate: until `sink`
/// is idle too).
fn wait_for_gate(
    gate: &FrameGate,
    index: u64,
    sink: &mut dyn Sink,
    stop: &Stop,
) -> Result<Result<(), StopReason>, LiveError> {
    loop {
        if let Some(why) = stop.check() {
            return Ok(Err(why));
        }
        if gate.allows(index) && (index == 0 || !gate.is_lockstep() || sink.is_idle()?) {
            return Ok(Ok(()));
        }
        sink.wait(gate::GATE_SLICE)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_outputs() {
        assert_eq!(
            "pty".parse::<LiveSinkSpec>().ok(),
            Some(LiveSinkSpec::Pty { link: None })
        );
        assert_eq!(
            "tcp:0.0.0.0:2000".parse::<LiveSinkSpec>().ok(),
            Some(LiveSinkSpec::Tcp {
                bind: "0.0.0.0:2000".into()
            })
        );
        assert_eq!(
            "tcp:2000".parse::<LiveSinkSpec>().ok(),
            Some(LiveSinkSpec::Tcp {
                bind: "127.0.0.1:2000".into()
            })
        );
        assert_eq!(
            "tcp::0".parse::<LiveSinkSpec>().ok(),
            Some(LiveSinkSpec::Tcp {
                bind: "127.0.0.1:0".into()
            })
        );
        assert_eq!(
            "tcp:[::1]:7".parse::<LiveSinkSpec>().ok(),
            Some(LiveSinkSpec::Tcp {
                bind: "[::1]:7".into()
            })
        );
        assert_eq!(
            "serial:/dev/ttyUSB0".parse::<LiveSinkSpec>().ok(),
            Some(LiveSinkSpec::Serial {
                device: "/dev/ttyUSB0".into()
            })
        );
        for bad in [
            "",
            "ptyx",
            "tcp:",
            "tcp:host",
            "tcp:h:99999",
            "tcp::",
            "serial:",
            "udp:1",
        ] {
            assert!(
                matches!(bad.parse::<LiveSinkSpec>(), Err(LiveError::Spec(_))),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn rejects_bad_speed() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let opts = LiveOptions {
                pacing: Pacing::Speed(speed),
                ..Default::default()
            };
            let r = serve(
                std::iter::empty(),
                LiveSinkSpec::Tcp {
                    bind: "127.0.0.1:0".into(),
                },
                opts,
                |_| {},
            );
            assert!(matches!(r, Err(LiveError::Options(_))), "speed {speed}");
        }
    }

    #[test]
    fn summary_line_names_counts() {
        let s = LiveSummary {
            frames: 5,
            silent: 1,
            telegrams: 4,
            written: 3,
            dropped: 1,
            bytes: 0,
            clients: 2,
            client_reports: Vec::new(),
            stopped: StopReason::Signal,
            pacing: PacingReport::default(),
            started_at: None,
        };
        assert_eq!(
            s.to_string(),
            "4 telegrams (1 silent frames): 3 written, 1 dropped, 2 clients; stopped by a signal"
        );
    }
}
