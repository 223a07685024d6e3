//! Fleet benchmark (a bench command, not a test). Two parts, chosen by the first argument:
//!
//! - `live [METERS] [SECONDS]` (default 1000 meters, 60 s): a live fleet of the quickstart
//!   meter on ports 40000.. at 1 Hz, every port read by one poll-driven reader thread in
//!   this process; prints per-telegram lateness from each meter's schedule (p50, p99,
//!   max), the fleet thread's CPU (from /proc/self/task), the process's peak RSS
//!   (including the reader) and drops.
//! - `batch [METERS] [INTERVAL] [DURATION]` (default 1000, 15m, 1d): the fleet to a
//!   temporary directory on every core, against the yardstick of the single-meter path
//!   (up to 20 meters simulated one after another on one thread, each to its own file,
//!   measured in the same run): prints telegrams/s of both and the fleet's per-core
//!   ratio, by wall clock and by CPU time (the fairer figure on a shared machine).
//!
//! The batch files go to a temporary directory, in `P1SIM_BENCH_DIR` if set (`/dev/shm`
//! measures the simulation rather than the disk).
//!
//! Run: `cargo bench -p p1-sim --bench fleet -- live 1000 60`,
//! `cargo bench -p p1-sim --bench fleet -- batch 1000 15m 1d`,
//! `cargo bench -p p1-sim --bench fleet -- batch 100 1s 1d`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use p1_scenario::{Fleet, Scenario, Simulation};
use p1_sim::fleet::{FleetLiveOptions, FleetOptions, FleetOutput, VirtualFleet};
use rustix::event::{PollFd, PollFlags, Timespec};

fn scenario_text(interval: &str, duration: &str) -> String {
    let quick = include_str!("../../../scenarios/quickstart.toml");
    quick
        .lines()
        .map(|l| {
            if l.starts_with("duration = ") {
                format!("duration = \"{duration}\"")
            } else if l.starts_with("interval = ") {
                format!("interval = \"{interval}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// utime + stime of this process's thread named `name`, in clock ticks (1/100 s).
fn thread_ticks(name: &str) -> u64 {
    let mut total = 0;
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
        let f: Vec<&str> = after.split_whitespace().collect();
        total += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    total
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn live(meters: u64, seconds: u64) {
    let scenario = Scenario::parse("bench.toml", &scenario_text("1s", "1h")).expect("scenario");
    let fleet = Fleet::of_scenario(scenario, "quickstart", meters, 1).expect("fleet");
    let out = FleetOutput::Tcp {
        host: "127.0.0.1".into(),
        base: 40_000,
    };
    let opts = FleetLiveOptions {
        record_lateness: true,
        drain: Duration::ZERO,
        ..FleetLiveOptions::default()
    };
    let mut live = VirtualFleet::prepare(&fleet, None, &out, None, opts).expect("open");
    let done = Arc::new(AtomicBool::new(false));
    let addrs = live.addrs();
    let stop = Arc::clone(&done);
    let reader = std::thread::spawn(move || {
        let mut socks: Vec<TcpStream> = addrs
            .iter()
            .map(|a| {
                let s = TcpStream::connect(a).expect("connect");
                s.set_nonblocking(true).expect("nonblocking");
                s
            })
            .collect();
        let mut buf = vec![0u8; 64 * 1024];
        let mut telegrams = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut fds: Vec<PollFd> = socks
                .iter()
                .map(|s| PollFd::new(s, PollFlags::IN))
                .collect();
            let ts = Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            let _ = rustix::event::poll(&mut fds, Some(&ts));
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            for (s, r) in socks.iter_mut().zip(ready) {
                if r && let Ok(n) = s.read(&mut buf) {
                    telegrams += buf[..n].iter().filter(|&&b| b == b'/').count() as u64;
                }
            }
        }
        telegrams
    });
    std::thread::sleep(Duration::from_millis(500));
    let t0 = thread_ticks("p1sim-fleet");
    let start = Instant::now();
    live.start().expect("start");
    std::thread::sleep(Duration::from_secs(seconds));
    let ticks = thread_ticks("p1sim-fleet") - t0;
    let wall = start.elapsed().as_secs_f64();
    let summary = live.stop().expect("summary");
    done.store(true, Ordering::Relaxed);
    let read = reader.join().expect("reader");
    let mut s = summary.pacing.samples_us.clone();
    s.sort_unstable();
    let pct = |p: f64| {
        s.get(((s.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "live: {meters} meters x {seconds} s at 1 Hz: {} telegrams sent, {read} read, {} dropped",
        summary.telegrams, summary.dropped
    );
    println!(
        "  lateness from schedule: p50 {} us, p99 {} us, max {} us",
        pct(0.5),
        pct(0.99),
        s.last().copied().unwrap_or(0)
    );
    println!(
        "  fleet thread CPU: {:.1}% of one core; peak RSS (fleet + reader): {} MB",
        ticks as f64 / wall,
        peak_rss_kb() / 1024
    );
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// utime + stime of the whole process, in clock ticks (1/100 s).
fn process_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn batch(meters: u64, interval: &str, duration: &str) {
    // P1SIM_BENCH_DIR (e.g. /dev/shm) takes the disk out of the figure.
    let tmp = match std::env::var_os("P1SIM_BENCH_DIR") {
        Some(d) => std::fs::create_dir_all(&d).and_then(|()| tempfile::tempdir_in(d)),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory (P1SIM_BENCH_DIR or the system's)");
    let file = tmp.path().join("bench.toml");
    std::fs::write(&file, scenario_text(interval, duration)).expect("write");
    // Yardstick: the single-meter fast path (what `p1sim run SCENARIO --out FILE` does:
    // `next_frame`'s lent frame), one meter after another on one thread, each with its
    // own seed, to its own file.
    let mut scenario = Scenario::from_path(&file).expect("scenario");
    let yard_meters = meters.min(20);
    let (t, c) = (Instant::now(), process_ticks());
    let mut yard_telegrams = 0u64;
    for k in 0..yard_meters {
        scenario.set_seed(k);
        let path = tmp.path().join(format!("one-{k}.p1"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("file"));
        let mut sim = Simulation::new(&scenario);
        while let Some(frame) = sim.next_frame() {
            out.write_all(&frame.bytes).expect("write");
            yard_telegrams += 1;
        }
        out.flush().expect("flush");
    }
    let yard_wall = t.elapsed().as_secs_f64();
    let yard_cpu = (process_ticks() - c) as f64 / 100.0;
    let per_meter = yard_telegrams / yard_meters.max(1);
    let dir: PathBuf = tmp.path().join("fleet");
    let opts = FleetOptions {
        file,
        meters: Some(meters),
        out: Some(FleetOutput::Dir(dir.clone())),
        truth: false,
        shard: None,
        meter: None,
        seed: None,
        jobs: None,
        link: None,
        fast: false,
        speed: 1.0,
        quiet: true,
    };
    let (t, c) = (Instant::now(), process_ticks());
    p1_sim::fleet::run(&opts, &mut std::io::sink()).expect("fleet");
    let wall = t.elapsed().as_secs_f64();
    let cpu = (process_ticks() - c) as f64 / 100.0;
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let total = (per_meter * meters) as f64;
    let one = yard_telegrams as f64 / yard_wall;
    let rate = total / wall;
    println!(
        "batch: {meters} meters x {duration} at {interval} ({per_meter} telegrams each, {} files): \
         {wall:.1} s wall, {cpu:.1} s CPU",
        count_files(&dir)
    );
    println!(
        "  wall: single-meter path {one:.0} telegrams/s on one thread; fleet {rate:.0} \
         telegrams/s on {cores} cores = {:.0}% of the single-meter path per core",
        100.0 * rate / (one * cores)
    );
    println!(
        "  CPU: single-meter path {:.0} telegrams per CPU-second; fleet {:.0} = {:.0}%; \
         fleet CPU {:.2} cores busy; peak RSS {} MB",
        yard_telegrams as f64 / yard_cpu.max(0.01),
        total / cpu.max(0.01),
        100.0 * (total / cpu.max(0.01)) / (yard_telegrams as f64 / yard_cpu.max(0.01)),
        cpu / wall,
        peak_rss_kb() / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("batch") => batch(
            num(1, 1000),
            args.get(2).map_or("15m", String::as_str),
            args.get(3).map_or("1d", String::as_str),
        ),
        Some("live") => live(num(1, 1000), num(2, 60)),
        _ => {
            live(1000, 60);
            batch(1000, "15m", "1d");
            batch(100, "1s", "1d");
        }
    }
}
