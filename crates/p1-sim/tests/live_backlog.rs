//! A TCP client that stalls and then resumes gets at most one stale telegram before the
//! current one, like a reader of the real P1 line, which carries only the telegram being
//! sent; the telegrams it missed are counted as dropped.
//!
//! Frames go through a [`FrameGate`], so the stall is "the meter sent 200 telegrams while
//! the client read nothing", whatever the scheduling.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use p1_sim::live::{
    ClientReport, FrameGate, LiveFrame, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter,
};

const LEN: usize = 1000;

/// Telegram `k`: about LEN bytes, its index readable after `/TST5\2TEST`.
fn telegram(k: usize) -> Vec<u8> {
    let head = format!("/TST5\\2TEST{k:06}\r\n\r\n0-0:96.13.0(");
    let tail = format!(")\r\n!{:04X}\r\n", k & 0xFFFF);
    let body = "0".repeat(LEN - head.len() - tail.len());
    format!("{head}{body}{tail}").into_bytes()
}

/// Indexes of the telegrams in `bytes`, which must be whole telegrams end to end.
fn indexes(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        assert!(rest.len() >= LEN, "a cut telegram at the end");
        let k: usize = std::str::from_utf8(&rest[11..17])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a telegram start: {:?}", &rest[..20]));
        assert_eq!(&rest[..LEN], telegram(k), "telegram {k} damaged");
        out.push(k);
        rest = &rest[LEN..];
    }
    out
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Connects with the given receive buffer (None: the system default).
fn connect(addr: SocketAddr, rcvbuf: Option<usize>) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, ipproto, sockopt};
    let fd: OwnedFd =
        rustix::net::socket(AddressFamily::INET, SocketType::STREAM, Some(ipproto::TCP))
            .expect("socket");
    if let Some(n) = rcvbuf {
        sockopt::set_socket_recv_buffer_size(&fd, n).expect("SO_RCVBUF");
    }
    rustix::net::connect(&fd, &addr).expect("connect");
    TcpStream::from(fd)
}

/// Runs the stall: returns (telegram indexes the client received, its dropped count).
fn stall_and_resume(rcvbuf: Option<usize>) -> (Vec<usize>, usize, ClientReport) {
    const STALL: usize = 200;
    let n = STALL + 400;
    let gate = FrameGate::new();
    let opts = LiveOptions {
        pacing: Pacing::Fast,
        drain: Duration::ZERO,
        gate: Some(gate.clone()),
        ..Default::default()
    };
    let frames: Vec<LiveFrame> = (0..n)
        .map(|k| LiveFrame::new(k as i64 * 1000, telegram(k)))
        .collect();
    let mut meter = VirtualMeter::prepare(
        frames,
        LiveSinkSpec::Tcp {
            bind: "127.0.0.1:0".into(),
        },
        opts,
    )
    .expect("tcp");
    let addr = meter.addr().expect("addr");
    let mut client = connect(addr, rcvbuf);
    meter.start();

    // Telegram 0 is read whole; then the client stops reading while 200 more go out.
    gate.allow(1);
    let mut first = vec![0u8; LEN];
    client.read_exact(&mut first).expect("telegram 0");
    gate.allow(1 + STALL as u64);
    wait_for("the stalled telegrams to go out", || {
        gate.passed() == 1 + STALL as u64
    });
    // What the client's own kernel already holds is its to read (like a serial port's
    // buffer): only what the meter still had for it counts against the meter.
    let own = rustix::io::ioctl_fionread(&client).expect("FIONREAD") as usize / LEN;

    // Resume: read everything in the background; the meter goes on one telegram at a
    // time until the client has a current one (index > STALL).
    let got = Arc::new(Mutex::new(first));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let got = Arc::clone(&got);
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            client
                .set_read_timeout(Some(Duration::from_millis(20)))
                .ok();
            while !done.load(Ordering::SeqCst) {
                match client.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => got.lock().expect("lock").extend_from_slice(&buf[..k]),
                    Err(_) => {}
                }
            }
            // Kept open until the meter ends, so every telegram is accounted to it.
            client
        })
    };
    let current = |got: &Mutex<Vec<u8>>| {
        let bytes = got.lock().expect("lock");
        let whole = bytes.len() / LEN * LEN;
        indexes(&bytes[..whole]).iter().any(|&k| k > STALL)
    };
    let mut next = 1 + STALL as u64;
    while !current(&got) {
        assert!(
            (next as usize) < n,
            "the client never got a current telegram"
        );
        next += 1;
        gate.allow(next);
        wait_for("the next telegram to go out", || gate.passed() == next);
    }
    done.store(true, Ordering::SeqCst);
    let client = reader.join().expect("reader");
    gate.open();
    let summary = meter.join().expect("summary");
    drop(client);
    let bytes = got.lock().expect("lock").clone();
    let whole = bytes.len() / LEN * LEN;
    assert_eq!(summary.telegrams, n as u64);
    (
        indexes(&bytes[..whole]),
        own,
        summary.client_reports[0].clone(),
    )
}

fn check(rcvbuf: Option<usize>) {
    let (got, own, report) = stall_and_resume(rcvbuf);
    let dropped = report.dropped;
    let stale: Vec<usize> = got
        .iter()
        .copied()
        .filter(|&k| (1..=200).contains(&k))
        .collect();
    eprintln!(
        "rcvbuf {rcvbuf:?}: stale telegrams after the stall: {} ({own} already in the client's \
         own buffer): {stale:?}; dropped {dropped}",
        stale.len()
    );
    assert!(
        stale.len() <= own + 1,
        "{} stale telegrams after the stall, {own} of them in the client's buffer: {stale:?}",
        stale.len()
    );
    assert_eq!(
        report.written + report.dropped,
        600,
        "every telegram is handed over or counted as dropped"
    );
    assert!(
        dropped >= 200 - stale.len() as u64,
        "the stalled telegrams the client never got are not all counted: {dropped}"
    );
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, got, "out of order");
}

#[test]
fn a_stalled_client_with_a_small_receive_buffer_resumes_on_current_data() {
    check(Some(1));
}

#[test]
fn a_stalled_client_with_a_default_receive_buffer_resumes_on_current_data() {
    check(None);
}
