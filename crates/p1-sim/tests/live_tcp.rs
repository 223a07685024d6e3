//! Live output over real TCP sockets: every client gets the same bytes, a client that never
//! reads loses telegrams without holding back the others, and a client that connects
//! mid-stream starts on a whole telegram.
//!
//! No assertion depends on how fast threads are scheduled: a [`FrameGate`] lets frames go
//! when the readers have caught up, and progress is counted in telegrams, not time.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use p1_sim::live::{FrameGate, LiveFrame, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};

/// Telegram `k` of about `len` bytes with exactly one `/`.
fn telegram(k: usize, len: usize) -> Vec<u8> {
    let head = format!("/TST5\\2TEST{k:06}\r\n\r\n0-0:96.13.0(");
    let tail = format!(")\r\n!{:04X}\r\n", k & 0xFFFF);
    let pad = len.saturating_sub(head.len() + tail.len());
    let body: String = (0..pad)
        .map(|i| char::from(b"0123456789ABCDEF"[(i + k) % 16]))
        .collect();
    format!("{head}{body}{tail}").into_bytes()
}

fn frames(n: usize, len: usize) -> Vec<LiveFrame> {
    (0..n)
        .map(|k| LiveFrame::new(k as i64 * 1000, telegram(k, len)))
        .collect()
}

fn concat(from: usize, n: usize, len: usize) -> Vec<u8> {
    (from..n).flat_map(|k| telegram(k, len)).collect()
}

fn tcp() -> LiveSinkSpec {
    LiveSinkSpec::Tcp {
        bind: "127.0.0.1:0".into(),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    // A safety net so a bug fails the test instead of hanging it; not a timing assertion.
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

/// Reads until the meter closes the connection.
fn read_all(mut s: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

/// A reader thread that publishes how many bytes it has received so far.
fn counting_reader(mut s: TcpStream) -> (Arc<AtomicUsize>, thread::JoinHandle<Vec<u8>>) {
    let count = Arc::new(AtomicUsize::new(0));
    let published = Arc::clone(&count);
    let handle = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            published.store(got.len(), Ordering::SeqCst);
        }
        got
    });
    (count, handle)
}

/// Waits (polling; a safety deadline, not a timing assertion) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn three_clients_receive_identical_streams() {
    const N: usize = 200;
    const LEN: usize = 120;
    // As fast as the readers go, but never faster: a descheduled reader delays the meter
    // instead of losing telegrams from a full queue.
    let opts = LiveOptions {
        pacing: Pacing::Fast,
        gate: Some(FrameGate::lockstep()),
        ..Default::default()
    };
    let mut meter = VirtualMeter::prepare(frames(N, LEN), tcp(), opts).expect("tcp");
    let addr = meter.addr().expect("addr");
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let s = connect(addr);
            thread::spawn(move || read_all(s))
        })
        .collect();
    meter.start();
    let summary = meter.join().expect("summary");
    let want = concat(0, N, LEN);
    for r in readers {
        let got = r.join().expect("reader thread");
        assert_eq!(got.len(), want.len());
        assert!(got == want, "client stream differs from the telegrams sent");
    }
    assert_eq!(summary.clients, 3);
    assert_eq!(summary.client_reports.len(), 3);
    for c in &summary.client_reports {
        assert_eq!((c.written, c.dropped, c.disconnected), (N as u64, 0, false));
    }
    assert_eq!(summary.written, 3 * N as u64);
    assert_eq!(summary.bytes, 3 * want.len() as u64);
}

#[test]
fn a_client_that_never_reads_does_not_hold_back_the_others() {
    // 2000 telegrams of 1000 bytes: 2 MB, several times what the stalled client's socket
    // buffers and queue can absorb. Frames go in windows of WINDOW telegrams, each once
    // the two reading clients have received everything before it: if the stalled client
    // held anything back, the readers would stop receiving and the window never open.
    // The readers are never more than WINDOW < client_queue telegrams behind, so they
    // lose nothing however slowly they are scheduled.
    const N: usize = 2000;
    const LEN: usize = 1000;
    const WINDOW: usize = 64;
    let gate = FrameGate::new();
    let opts = LiveOptions {
        pacing: Pacing::Fast,
        client_queue: 256,
        drain: Duration::from_millis(200),
        gate: Some(gate.clone()),
        ..Default::default()
    };
    let mut meter = VirtualMeter::prepare(frames(N, LEN), tcp(), opts).expect("tcp");
    let addr = meter.addr().expect("addr");
    let stalled = connect(addr);
    let readers: Vec<_> = (0..2).map(|_| counting_reader(connect(addr))).collect();
    meter.start();
    let mut sent = 0;
    while sent < N {
        sent = (sent + WINDOW).min(N);
        gate.allow(sent as u64);
        let bytes = sent * LEN;
        wait_for(&format!("readers received {sent} telegrams"), || {
            readers
                .iter()
                .all(|(count, _)| count.load(Ordering::SeqCst) >= bytes)
        });
    }
    let summary = meter.join().expect("summary");
    drop(stalled);
    let want = concat(0, N, LEN);
    for (_, r) in readers {
        let got = r.join().expect("reader thread");
        assert!(got == want, "a reading client lost or reordered data");
    }
    let [stalled_report, a, b] = summary.client_reports.as_slice() else {
        panic!("expected 3 client reports: {:?}", summary.client_reports);
    };
    for r in [a, b] {
        assert_eq!((r.written, r.dropped), (N as u64, 0));
    }
    assert!(stalled_report.dropped > 0, "stalled client dropped nothing");
    assert!(stalled_report.written < N as u64);
    assert_eq!(stalled_report.written + stalled_report.dropped, N as u64);
    assert_eq!(summary.dropped, stalled_report.dropped);
}

#[test]
fn a_client_joining_mid_stream_starts_on_a_whole_telegram() {
    // Baud pacing: each 200-byte telegram takes ~17 ms on the wire in 64-byte pieces, so a
    // join can land in the middle of one.
    const N: usize = 20;
    const LEN: usize = 200;
    const SEEN: usize = 5;
    let gate = FrameGate::new();
    let opts = LiveOptions {
        pacing: Pacing::Fast,
        baud_pacing: true,
        gate: Some(gate.clone()),
        ..Default::default()
    };
    let mut meter = VirtualMeter::prepare(frames(N, LEN), tcp(), opts).expect("tcp");
    let addr = meter.addr().expect("addr");
    let (observed, observer) = counting_reader(connect(addr));
    meter.start();
    // Telegrams 0..=SEEN go; the join follows the start of telegram SEEN.
    gate.allow(SEEN as u64 + 1);
    wait_for("the observer saw telegram SEEN begin", || {
        observed.load(Ordering::SeqCst) > SEEN * LEN
    });
    let (joined, joiner) = counting_reader(connect(addr));
    // One telegram at a time until the joiner receives something, so it joins before the
    // end however long the listener takes to accept it.
    let mut k = SEEN + 1;
    while k < N && joined.load(Ordering::SeqCst) == 0 {
        gate.allow(k as u64 + 1);
        wait_for("the observer got the telegram", || {
            observed.load(Ordering::SeqCst) >= (k + 1) * LEN
        });
        k += 1;
    }
    gate.open();
    let summary = meter.join().expect("summary");
    let observed = observer.join().expect("observer thread");
    let joiner = joiner.join().expect("joiner thread");
    assert!(observed == concat(0, N, LEN), "observer stream differs");
    assert_eq!(joiner.first(), Some(&b'/'));
    // Telegram SEEN had begun before the join, so the joiner gets j..N with j > SEEN.
    let j = (0..=N)
        .find(|&j| concat(j, N, LEN) == joiner)
        .unwrap_or_else(|| {
            panic!(
                "joiner did not get whole telegrams: {:?}",
                String::from_utf8_lossy(&joiner)
            )
        });
    assert!(j > SEEN && j < N, "joined at telegram {j}");
    assert_eq!(summary.clients, 2);
    assert_eq!(summary.client_reports[1].written, (N - j) as u64);
    assert_eq!(summary.dropped, 0);
}

#[test]
fn a_client_that_disconnects_is_dropped_and_the_rest_continue() {
    const N: usize = 40;
    const LEN: usize = 100;
    let opts = LiveOptions {
        pacing: Pacing::Speed(200.0),
        ..Default::default()
    };
    let mut meter = VirtualMeter::prepare(frames(N, LEN), tcp(), opts).expect("tcp");
    let addr = meter.addr().expect("addr");
    let quitter = connect(addr);
    let stayer = connect(addr);
    let stayer = thread::spawn(move || read_all(stayer));
    drop(quitter);
    meter.start();
    let summary = meter.join().expect("summary");
    assert!(stayer.join().expect("reader") == concat(0, N, LEN));
    assert_eq!(summary.clients, 2);
    let quit = &summary.client_reports[0];
    assert!(quit.disconnected, "closed client not noticed: {quit:?}");
    assert_eq!(summary.client_reports[1].written, N as u64);
}
