//! Live output over real TCP sockets: every client gets the same bytes, a client that never
//! reads loses telegrams without holding back the others, and a client that connects
//! mid-stream starts on a whole telegram.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use p1_sim::live::{LiveFrame, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};

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

#[test]
fn three_clients_receive_identical_streams() {
    const N: usize = 200;
    const LEN: usize = 120;
    let opts = LiveOptions {
        pacing: Pacing::Fast,
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
    // 2000 telegrams of 1000 bytes, 0.5 ms apart: 2 MB, several times what the stalled
    // client's socket buffers and queue can absorb.
    const N: usize = 2000;
    const LEN: usize = 1000;
    let opts = LiveOptions {
        pacing: Pacing::Speed(2000.0),
        client_queue: 256,
        drain: Duration::from_millis(200),
        ..Default::default()
    };
    let mut meter = VirtualMeter::prepare(frames(N, LEN), tcp(), opts).expect("tcp");
    let addr = meter.addr().expect("addr");
    let stalled = connect(addr);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let s = connect(addr);
            thread::spawn(move || read_all(s))
        })
        .collect();
    meter.start();
    let summary = meter.join().expect("summary");
    drop(stalled);
    let want = concat(0, N, LEN);
    for r in readers {
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
    let opts = LiveOptions {
        pacing: Pacing::Speed(20.0),
        baud_pacing: true,
        ..Default::default()
    };
    let mut meter = VirtualMeter::prepare(frames(N, LEN), tcp(), opts).expect("tcp");
    let addr = meter.addr().expect("addr");
    let mut observer = connect(addr);
    let (seen_tx, seen_rx) = mpsc::channel();
    let observer = thread::spawn(move || {
        // Signal once the start of telegram SEEN has arrived, then read to the end.
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        let mut signalled = false;
        loop {
            match observer.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if !signalled && got.iter().filter(|&&b| b == b'/').count() > SEEN {
                let _ = seen_tx.send(());
                signalled = true;
            }
        }
        got
    });
    meter.start();
    seen_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("observer saw telegram SEEN");
    let joiner = read_all(connect(addr));
    let summary = meter.join().expect("summary");
    let observed = observer.join().expect("observer thread");
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
