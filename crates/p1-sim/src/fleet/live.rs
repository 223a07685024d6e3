//! Live fleets: a TCP listener (meter `k` on `BASE + k`) or a pty per meter, all driven by
//! one event loop on one thread: a timer queue ordered by deadline holds each meter's next
//! telegram (and the later writes of a split telegram). Each meter keeps its own
//! [`Schedule`] offset by its phase, so it is paced exactly like a single live meter, and
//! its destination is the single meter's sink ([`TcpSink`], [`PtySink`]) with the same
//! non-blocking rules: a meter is serviced (accept, read, flush) when its telegram is due,
//! every write is non-blocking, and what a reader cannot take is dropped as whole
//! telegrams and counted. Simulations advance lazily, one frame per meter ahead, so memory
//! is one simulation per meter, not per telegram.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use p1_scenario::fleet::Position;
use p1_scenario::{Fleet, SimFrame, Simulation};

use super::{FleetOutput, Selection, index};
use crate::error::CliError;
use crate::live::{
    LatenessStats, LiveError, LiveSummary, PacingReport, PtySink, ReadyInfo, SLICE, Schedule,
    SignalGuard, Sink, StopReason, TcpSink, release_plan,
};

/// Options of a live fleet.
#[derive(Debug, Clone)]
pub struct FleetLiveOptions {
    /// Simulated seconds per real second; `None`: as fast as possible.
    pub speed: Option<f64>,
    /// Telegrams a TCP client may have queued (as [`crate::live::LiveOptions`]).
    pub client_queue: usize,
    /// After the last telegram, keep serving up to this long so readers get what is queued.
    pub drain: Duration,
    /// Stop on SIGINT/SIGTERM (for the CLI).
    pub handle_signals: bool,
    /// Stop when this flag becomes true.
    pub stop: Option<Arc<AtomicBool>>,
    /// Keep every telegram's lateness in the summary (for benchmarks).
    pub record_lateness: bool,
}

impl Default for FleetLiveOptions {
    fn default() -> Self {
        FleetLiveOptions {
            speed: Some(1.0),
            client_queue: 4,
            drain: Duration::from_secs(1),
            handle_signals: false,
            stop: None,
            record_lateness: false,
        }
    }
}

/// Where one meter of a live fleet can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterEndpoint {
    /// Index in the fleet.
    pub index: u64,
    /// Its electricity equipment id.
    pub equipment_id: String,
    /// Its port or pty.
    pub ready: ReadyInfo,
}

/// What a live fleet did.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSummary {
    /// Meters served.
    pub meters: u64,
    /// Telegrams sent, over all meters.
    pub telegrams: u64,
    /// Telegrams that reached a reader whole (summed over readers).
    pub written: u64,
    /// Telegrams lost (summed over readers).
    pub dropped: u64,
    /// TCP clients that connected, over all meters.
    pub clients: u64,
    /// Lateness of every telegram's first write against its meter's schedule.
    pub pacing: PacingReport,
    /// Why serving ended.
    pub stopped: StopReason,
}

impl fmt::Display for FleetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} meters, {} telegrams: {} written, {} dropped, {} clients; max lateness {} us",
            self.meters,
            self.telegrams,
            self.written,
            self.dropped,
            self.clients,
            self.pacing.max_us
        )
    }
}

struct LiveMeter {
    sim: Simulation,
    sink: Box<dyn Sink + Send>,
    phase: Duration,
    schedule: Option<Schedule>,
    /// The frame due next, taken from `sim` one ahead.
    next: Option<SimFrame>,
    telegrams: u64,
}

/// A live fleet, open (every port bound, every pty made) but not yet started.
pub(crate) struct FleetServer {
    meters: Vec<LiveMeter>,
    endpoints: Vec<MeterEndpoint>,
}

/// What the timer queue holds: (deadline, meter, telegram number, write number; write 0
/// = a new telegram, later writes belong to that meter's telegram of that number).
type Timer = Reverse<(Instant, usize, u64, usize)>;

impl FleetServer {
    /// Checks that the selection fits `out` (ports in range, enough ptys and file
    /// descriptors), then opens every meter's destination. Errors say which limit and are
    /// placed at `at` (the fleet file's `out`) when the output came from there.
    pub(crate) fn open(
        fleet: &Fleet,
        selection: Selection,
        out: &FleetOutput,
        link_dir: Option<&Path>,
        opts: &FleetLiveOptions,
        at: Option<&Position>,
    ) -> Result<FleetServer, CliError> {
        let fail = |m: String| match at {
            Some(p) => CliError::Scenario(p.error(m)),
            None => CliError::Usage(m),
        };
        let count = selection.count();
        let last = selection.indices().last().unwrap_or(0);
        match out {
            FleetOutput::Tcp { base, .. } => {
                if u64::from(*base) + last > u64::from(u16::MAX) {
                    return Err(fail(format!(
                        "the port range does not fit: meter {last} would listen on port {}, \
                         above 65535 (use a base port of at most {})",
                        u64::from(*base) + last,
                        u64::from(u16::MAX).saturating_sub(last)
                    )));
                }
                check_fds(count.saturating_mul(2)).map_err(fail)?;
            }
            FleetOutput::Pty => {
                check_ptys(count).map_err(fail)?;
                check_fds(count.saturating_mul(2)).map_err(fail)?;
            }
            FleetOutput::Dir(_) | FleetOutput::Stdout => {
                return Err(CliError::Internal("not a live output".into()));
            }
        }
        if let Some(dir) = link_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::io(&dir.display().to_string(), e))?;
        }
        let mut meters = Vec::new();
        let mut endpoints = Vec::new();
        for k in selection.indices() {
            let id = fleet.meter(k);
            let scenario = fleet
                .scenario(&id)
                .map_err(|m| CliError::Usage(format!("meter {k}: {m}")))?;
            let live_err = |e: LiveError| CliError::Usage(e.to_string());
            let (sink, ready): (Box<dyn Sink + Send>, ReadyInfo) = match out {
                FleetOutput::Tcp { host, base } => {
                    let bind = format!("{host}:{}", u64::from(*base) + k);
                    let s = TcpSink::bind(&bind, opts.client_queue.max(1)).map_err(live_err)?;
                    let r = s.ready();
                    (Box::new(s), r)
                }
                _ => {
                    let link = link_dir.map(|d| d.join(&id.equipment_id));
                    let s = PtySink::open(link.as_deref()).map_err(live_err)?;
                    let r = s.ready();
                    (Box::new(s), r)
                }
            };
            let mut sim = Simulation::new(&scenario);
            let next = sim.next();
            meters.push(LiveMeter {
                sim,
                sink,
                phase: Duration::from_millis(u64::try_from(id.phase_ms).unwrap_or(0)),
                schedule: None,
                next,
                telegrams: 0,
            });
            endpoints.push(MeterEndpoint {
                index: k,
                equipment_id: id.equipment_id,
                ready,
            });
        }
        Ok(FleetServer { meters, endpoints })
    }

    /// Where each meter can be read, in index order.
    pub(crate) fn endpoints(&self) -> &[MeterEndpoint] {
        &self.endpoints
    }

    /// Paces every meter until all have finished or a stop is asked for.
    // One loop: the timer queue, the stop checks and the final accounting belong together.
    pub(crate) fn run(mut self, opts: &FleetLiveOptions) -> Result<FleetSummary, LiveError> {
        if let Some(s) = opts.speed
            && !(s.is_finite() && s > 0.0)
        {
            return Err(LiveError::Options(format!(
                "speed must be a finite number > 0, got {s}"
            )));
        }
        let signal = Arc::new(AtomicBool::new(false));
        let _guard = match opts.handle_signals {
            true => Some(SignalGuard::install(&signal).map_err(LiveError::Signal)?),
            false => None,
        };
        let stopped = || {
            if signal.load(Ordering::SeqCst) {
                Some(StopReason::Signal)
            } else if opts.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
                Some(StopReason::Requested)
            } else {
                None
            }
        };
        let mut lateness = LatenessStats::new(opts.record_lateness);
        let start = Instant::now();
        let mut queue: BinaryHeap<Timer> = BinaryHeap::new();
        for (i, m) in self.meters.iter_mut().enumerate() {
            if let Some(f) = &m.next {
                let s = Schedule::new(start + m.phase, f.at.millis(), opts.speed);
                queue.push(Reverse((s.due(f.at.millis()), i, 0, 0)));
                m.schedule = Some(s);
            }
        }
        // Writes of the telegram in progress per meter beyond the first: (upto, offset).
        let mut plans: Vec<Vec<(usize, Duration)>> = vec![Vec::new(); self.meters.len()];
        let mut began: Vec<Instant> = vec![start; self.meters.len()];
        let mut why = None;
        while let Some(&Reverse((due, i, telegram_no, step))) = queue.peek() {
            if let Some(w) = stopped() {
                why = Some(w);
                break;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(SLICE));
                continue;
            }
            queue.pop();
            let m = &mut self.meters[i];
            if step > 0 {
                // A later write of a telegram the next one has not replaced yet.
                if telegram_no == m.telegrams
                    && let Some(&(upto, _)) = plans[i].get(step)
                {
                    m.sink.release(upto)?;
                }
                continue;
            }
            let Some(frame) = m.next.take() else { continue };
            m.sink.wait(Duration::ZERO)?;
            if !frame.bytes.is_empty() {
                let late = Instant::now().saturating_duration_since(due);
                if opts.speed.is_some() {
                    lateness.record(late);
                }
                m.telegrams += 1;
                let pieces: Vec<(usize, Duration)> = frame
                    .pieces
                    .iter()
                    .map(|p| (p.len, Duration::from_millis(u64::from(p.pause_after_ms))))
                    .collect();
                let plan = release_plan(frame.bytes.len(), &pieces, false);
                let telegram: Arc<[u8]> = frame.bytes.into();
                m.sink.begin(telegram)?;
                began[i] = Instant::now();
                for (n, &(upto, offset)) in plan.iter().enumerate() {
                    if offset.is_zero() {
                        m.sink.release(upto)?;
                    } else {
                        queue.push(Reverse((began[i] + offset, i, m.telegrams, n)));
                    }
                }
                plans[i] = plan;
            }
            m.next = m.sim.next();
            if let (Some(f), Some(s)) = (&m.next, &m.schedule) {
                queue.push(Reverse((s.due(f.at.millis()), i, 0, 0)));
            }
        }
        if why.is_none() {
            let until = Instant::now() + opts.drain;
            'drain: loop {
                let mut idle = true;
                for m in &mut self.meters {
                    m.sink.wait(Duration::ZERO)?;
                    idle &= m.sink.is_idle()?;
                }
                if idle || Instant::now() >= until {
                    break 'drain;
                }
                if let Some(w) = stopped() {
                    why = Some(w);
                    break 'drain;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut total = FleetSummary {
            meters: self.meters.len() as u64,
            telegrams: 0,
            written: 0,
            dropped: 0,
            clients: 0,
            pacing: PacingReport::default(),
            stopped: why.unwrap_or(StopReason::Finished),
        };
        for m in &mut self.meters {
            let mut s = LiveSummary::empty();
            m.sink.finish(&mut s)?;
            total.telegrams += m.telegrams;
            total.written += s.written;
            total.dropped += s.dropped;
            total.clients += s.clients;
        }
        total.pacing = lateness.report();
        Ok(total)
    }
}

/// Whether `needed` more file descriptors fit under the process's soft limit (raised to
/// the hard limit first, as servers do).
fn check_fds(needed: u64) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (lim.current, lim.maximum)
        && cur < max
    {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        );
    }
    let cur = getrlimit(Resource::Nofile).current;
    match cur {
        Some(c) if c < needed + 64 => Err(format!(
            "{needed} file descriptors are needed (a listener and a reader, or a pty pair, per \
             meter) but the process may open only {c} (ulimit -n): raise the limit or run \
             fewer meters per process (--shard)"
        )),
        _ => Ok(()),
    }
}

/// Whether the system has `needed` free ptys (`/proc/sys/kernel/pty/max` minus `nr`).
fn check_ptys(needed: u64) -> Result<(), String> {
    let read = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let (Some(max), Some(used)) = (
        read("/proc/sys/kernel/pty/max"),
        read("/proc/sys/kernel/pty/nr"),
    ) else {
        return Ok(());
    };
    pty_room(needed, max, used)
}

/// Whether `needed` ptys fit when the system allows `max` and `used` are taken.
fn pty_room(needed: u64, max: u64, used: u64) -> Result<(), String> {
    let free = max.saturating_sub(used);
    if needed > free {
        return Err(format!(
            "{needed} ptys are needed but the system allows {max} and {used} are in use, so \
             {free} are free (/proc/sys/kernel/pty/max): run fewer meters per process or use \
             --out tcp:HOST:BASE"
        ));
    }
    Ok(())
}

/// The CLI's live fleet: opens every meter, writes `fleet.json` into the `--link`
/// directory, prints one line per meter on `stdout` (`<port or pty> <equipment id>`),
/// then serves.
pub(crate) fn serve_cli(
    fleet: &Fleet,
    selection: Selection,
    out: &FleetOutput,
    link_dir: Option<&Path>,
    opts: FleetLiveOptions,
    stdout: &mut dyn Write,
    at: Option<&Position>,
) -> Result<FleetSummary, CliError> {
    if link_dir.is_some() && !matches!(out, FleetOutput::Pty) {
        return Err(CliError::Usage("--link goes with --out pty".into()));
    }
    let server = FleetServer::open(fleet, selection, out, link_dir, &opts, at)?;
    // The index first: a script that has read the lines finds it complete.
    if let Some(dir) = link_dir {
        let paths: Vec<String> = server
            .endpoints()
            .iter()
            .map(|e| e.ready.to_string())
            .collect();
        index::write(fleet, selection, dir, false, &index::Where::Pty(&paths))?;
    }
    for e in server.endpoints() {
        writeln!(stdout, "{} {}", e.ready, e.equipment_id).map_err(CliError::Write)?;
    }
    stdout.flush().map_err(CliError::Write)?;
    server
        .run(&opts)
        .map_err(|e| CliError::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_ptys_than_the_system_allows_is_said_clearly() {
        assert!(pty_room(10, 4096, 4086).is_ok());
        let e = pty_room(11, 4096, 4086).unwrap_err();
        assert!(
            e.starts_with(
                "11 ptys are needed but the system allows 4096 and 4086 are in use, so 10 are free"
            ),
            "{e}"
        );
        assert!(pty_room(1, 10, 20).is_err());
    }
}
