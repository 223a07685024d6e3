//! Pacing benchmark (not a test): paces 60 telegrams of ~900 bytes to a pty (with a reader
//! thread) and to TCP (with a client), and prints how far from schedule each telegram was
//! written (the meter's own measurement) and arrived at the reader, as mean, p99 and max in
//! microseconds. Run: `cargo bench -p p1-sim --bench pacing` (about 16 s).

use std::fs::File;
use std::io::{self, Read};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use p1_sim::live::{LiveFrame, LiveOptions, LiveSinkSpec, LiveSummary, Pacing, VirtualMeter};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, OptionalActions};

const N: usize = 60;
const LEN: usize = 900;

/// A ~900-byte telegram with one `/`.
fn telegram(k: usize) -> Vec<u8> {
    let head = "/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n0-0:96.13.0(";
    let tail = format!(")\r\n!{:04X}\r\n", k & 0xFFFF);
    let pad = LEN - head.len() - tail.len();
    let body: String = (0..pad)
        .map(|i| char::from(b"0123456789ABCDEF"[(i + k) % 16]))
        .collect();
    format!("{head}{body}{tail}").into_bytes()
}

fn frames() -> Vec<LiveFrame> {
    (0..N)
        .map(|k| LiveFrame::new(k as i64 * 1000, telegram(k)))
        .collect()
}

/// Instants at which each `/` was read, until the meter closes the stream (reading on to the
/// end so the last telegram is consumed whole and not counted as dropped).
fn arrivals(mut r: impl Read + std::os::fd::AsFd) -> Vec<Instant> {
    let mut at = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut fds = [PollFd::new(&r, PollFlags::IN)];
        let ts = Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        if !matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0) {
            continue;
        }
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let now = Instant::now();
                at.extend(buf[..n].iter().filter(|&&b| b == b'/').map(|_| now));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    at
}

fn open_raw(path: &Path) -> io::Result<File> {
    let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::NOCTTY, Mode::empty())?;
    let mut t = termios::tcgetattr(&fd)?;
    t.make_raw();
    termios::tcsetattr(&fd, OptionalActions::Now, &t)?;
    Ok(File::from(fd))
}

/// Mean, median, p99 (nearest rank; with 60 samples that is the largest) and max of `v`.
fn stats(mut v: Vec<u64>) -> (f64, u64, u64, u64) {
    if v.is_empty() {
        return (0.0, 0, 0, 0);
    }
    v.sort_unstable();
    let mean = v.iter().sum::<u64>() as f64 / v.len() as f64;
    let rank = |p: usize| v[(v.len() * p).div_ceil(100).max(1) - 1];
    (mean, rank(50), rank(99), v[v.len() - 1])
}

fn report(name: &str, speed: f64, summary: &LiveSummary, arrived: &[Instant]) {
    let (wm, w50, wp, wx) = stats(summary.pacing.samples_us.clone());
    let interval = Duration::from_secs_f64(1.0 / speed);
    let arrival_late: Vec<u64> = match summary.started_at {
        Some(t0) => arrived
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let due = t0 + interval * k as u32;
                let d = if *a >= due { *a - due } else { due - *a };
                u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
            })
            .collect(),
        None => Vec::new(),
    };
    let (am, a50, ap, ax) = stats(arrival_late);
    println!(
        "{name:<14} {speed:>5}x  telegrams {:>3} written {:>3} dropped {:>2} | write |late| us: mean {wm:>6.1} p50 {w50:>5} p99 {wp:>5} max {wx:>5} | arrival us: mean {am:>6.1} p50 {a50:>5} p99 {ap:>5} max {ax:>5} (n={})",
        summary.telegrams,
        summary.written,
        summary.dropped,
        arrived.len()
    );
}

fn opts(speed: f64, baud: bool) -> LiveOptions {
    LiveOptions {
        pacing: Pacing::Speed(speed),
        baud_pacing: baud,
        record_lateness: true,
        ..Default::default()
    }
}

fn bench_pty(name: &str, speed: f64, baud: bool) -> Result<(), String> {
    let sink = LiveSinkSpec::Pty { link: None };
    let mut meter =
        VirtualMeter::prepare(frames(), sink, opts(speed, baud)).map_err(|e| e.to_string())?;
    let path = meter.path().ok_or("no pty path")?.to_path_buf();
    let reader = open_raw(&path).map_err(|e| e.to_string())?;
    let reader = thread::spawn(move || arrivals(reader));
    meter.start();
    let summary = meter.join().map_err(|e| e.to_string())?;
    let arrived = reader.join().map_err(|_| "reader panicked")?;
    report(name, speed, &summary, &arrived);
    Ok(())
}

fn bench_tcp(name: &str, speed: f64, baud: bool) -> Result<(), String> {
    let sink = LiveSinkSpec::Tcp {
        bind: "127.0.0.1:0".into(),
    };
    let mut meter =
        VirtualMeter::prepare(frames(), sink, opts(speed, baud)).map_err(|e| e.to_string())?;
    let addr = meter.addr().ok_or("no address")?;
    let client = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let reader = thread::spawn(move || arrivals(client));
    meter.start();
    let summary = meter.join().map_err(|e| e.to_string())?;
    let arrived = reader.join().map_err(|_| "reader panicked")?;
    report(name, speed, &summary, &arrived);
    Ok(())
}

fn main() {
    // `cargo bench` passes --bench; a filter argument selects runs by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runs: [(&str, f64, bool, bool); 4] = [
        ("pty", 20.0, false, true),
        ("tcp", 20.0, false, false),
        ("pty+baud", 12.0, true, true),
        ("tcp+baud", 12.0, true, false),
    ];
    println!("{N} telegrams of {LEN} bytes; |actual - scheduled| per telegram");
    for (name, speed, baud, pty) in runs {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let r = if pty {
            bench_pty(name, speed, baud)
        } else {
            bench_tcp(name, speed, baud)
        };
        if let Err(e) = r {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    }
}
