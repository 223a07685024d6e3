//! Live output to a real kernel pseudo-terminal: telegrams arrive intact at a raw reader,
//! a late reader starts on a whole telegram, unread telegrams are counted as dropped, and
//! the `--link` symlink lives exactly as long as the meter.
//!
//! No assertion depends on how fast threads are scheduled: where a reader must keep up,
//! a [`FrameGate`] lets each frame go only once the test has read what came before.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use p1_sim::live::{
    FrameGate, LiveFrame, LiveOptions, LiveSinkSpec, Pacing, ReadyInfo, VirtualMeter,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, OptionalActions};

/// Telegram `k`: one `/`, distinct content, CRLF framing (the CRC is not checked here).
fn telegram(k: usize) -> Vec<u8> {
    format!(
        "/TST5\\2TEST{k:04}\r\n\r\n0-0:1.0.0({k:012}W)\r\n1-0:1.8.1({k:06}.000*kWh)\r\n!{:04X}\r\n",
        k & 0xFFFF
    )
    .into_bytes()
}

/// `n` telegrams one simulated second apart.
fn frames(n: usize) -> Vec<LiveFrame> {
    (0..n)
        .map(|k| LiveFrame::new(k as i64 * 1000, telegram(k)))
        .collect()
}

fn concat(from: usize, n: usize) -> Vec<u8> {
    (from..n).flat_map(telegram).collect()
}

/// Opens the slave like a P1 reader would (raw, no controlling terminal).
fn open_reader(path: &Path) -> File {
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open slave");
    let mut t = termios::tcgetattr(&fd).expect("tcgetattr");
    t.make_raw();
    termios::tcsetattr(&fd, OptionalActions::Now, &t).expect("tcsetattr");
    File::from(fd)
}

/// Reads until `want` bytes arrived, the meter closed the pty (EIO/EOF), or a generous
/// safety deadline passed (so a bug fails the test instead of hanging it).
fn read_stream(r: &mut File, want: Option<usize>) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while want.is_none_or(|w| got.len() < w) && Instant::now() < deadline {
        let mut fds = [PollFd::new(&*r, PollFlags::IN)];
        let ts = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll: {e}"),
        }
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EIO: the master side is closed, the meter is done.
            Err(_) => break,
        }
    }
    got
}

/// Waits (polling; a safety deadline, not a timing assertion) until `n` frames passed.
fn wait_passed(gate: &FrameGate, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.passed() < n {
        assert!(Instant::now() < deadline, "frame {n} never went");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Gated options: frames go when the test allows them, whatever the clock says.
fn gated(gate: &FrameGate) -> LiveOptions {
    LiveOptions {
        pacing: Pacing::Fast,
        gate: Some(gate.clone()),
        ..Default::default()
    }
}

#[test]
fn telegrams_arrive_intact_at_a_raw_reader() {
    const N: usize = 20;
    // Each telegram goes once the reader has the previous one: a reader that keeps up,
    // however the machine schedules it.
    let gate = FrameGate::new();
    let sink = LiveSinkSpec::Pty { link: None };
    let mut meter = VirtualMeter::prepare(frames(N), sink, gated(&gate)).expect("pty");
    let path = meter.path().expect("pty path").to_path_buf();
    let mut reader = open_reader(&path);
    meter.start();
    let mut got = Vec::new();
    for k in 0..N {
        gate.allow(k as u64 + 1);
        got.extend(read_stream(&mut reader, Some(telegram(k).len())));
    }
    let summary = meter.join().expect("summary");
    assert_eq!(got, concat(0, N), "byte stream differs");
    assert_eq!(summary.telegrams, N as u64);
    assert_eq!((summary.written, summary.dropped), (N as u64, 0));
}

#[test]
fn a_reader_that_keeps_up_at_speed_loses_nothing_in_lockstep() {
    // The same at a real pace (10 ms per telegram) read by another thread: a lockstep gate
    // lets a descheduled reader delay the meter instead of losing telegrams.
    const N: usize = 30;
    let opts = LiveOptions {
        pacing: Pacing::Speed(100.0),
        gate: Some(FrameGate::lockstep()),
        ..Default::default()
    };
    let sink = LiveSinkSpec::Pty { link: None };
    let mut meter = VirtualMeter::prepare(frames(N), sink, opts).expect("pty");
    let mut reader = open_reader(meter.path().expect("pty path"));
    meter.start();
    let got = read_stream(&mut reader, Some(concat(0, N).len()));
    let summary = meter.join().expect("summary");
    assert_eq!(got, concat(0, N), "byte stream differs");
    assert_eq!((summary.written, summary.dropped), (N as u64, 0));
}

#[test]
fn nobody_reading_drops_every_telegram_and_counts_it() {
    const N: usize = 10;
    let opts = LiveOptions {
        pacing: Pacing::Speed(100.0),
        drain: Duration::ZERO,
        ..Default::default()
    };
    let meter = VirtualMeter::spawn_pty(frames(N), opts).expect("pty");
    let summary = meter.join().expect("summary");
    assert_eq!(summary.telegrams, N as u64);
    assert_eq!(summary.written, 0);
    assert_eq!(summary.dropped, N as u64);
    // Every telegram did reach the kernel before being flushed unread.
    assert_eq!(summary.bytes, concat(0, N).len() as u64);
}

#[test]
fn a_late_reader_starts_on_a_whole_telegram() {
    const N: usize = 30;
    const BEFORE: usize = 3;
    let gate = FrameGate::new();
    let meter = VirtualMeter::spawn_pty(frames(N), gated(&gate)).expect("pty");
    let path = meter.path().expect("pty path").to_path_buf();
    // Telegrams 0..BEFORE go out unread: each is flushed when the next begins, so only
    // the last one waits for a reader.
    gate.allow(BEFORE as u64);
    wait_passed(&gate, BEFORE as u64);
    let mut reader = open_reader(&path);
    let mut got = read_stream(&mut reader, Some(telegram(BEFORE - 1).len()));
    assert_eq!(got.first(), Some(&b'/'), "first byte must start a telegram");
    for k in BEFORE..N {
        gate.allow(k as u64 + 1);
        got.extend(read_stream(&mut reader, Some(telegram(k).len())));
    }
    let summary = meter.join().expect("summary");
    // Exactly the last unread telegram and all after it: whole, in order, none cut.
    assert!(
        got == concat(BEFORE - 1, N),
        "not telegrams {}..{N}: {:?}",
        BEFORE - 1,
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        summary.written,
        (N - BEFORE + 1) as u64,
        "telegrams the reader consumed"
    );
    assert_eq!(
        summary.dropped,
        (BEFORE - 1) as u64,
        "telegrams flushed unread before it came"
    );
}

#[test]
fn link_points_at_the_slave_while_running_and_is_removed_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("p1");
    let sink = LiveSinkSpec::Pty {
        link: Some(link.clone()),
    };
    let meter = VirtualMeter::prepare(frames(3), sink, LiveOptions::default()).expect("pty");
    let ReadyInfo::Pty {
        path,
        link: reported,
    } = meter.ready().clone()
    else {
        panic!("not a pty: {:?}", meter.ready());
    };
    assert_eq!(reported.as_deref(), Some(link.as_path()));
    assert_eq!(std::fs::read_link(&link).ok(), Some(path.clone()));
    // The link opens the same terminal as the path.
    drop(open_reader(&link));
    let summary = meter.stop().expect("summary");
    assert_eq!(summary.stopped, p1_sim::live::StopReason::Requested);
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link left behind"
    );
}

#[test]
fn silence_frames_write_nothing() {
    let mut f = frames(4);
    f[1].bytes.clear();
    f[2].bytes.clear();
    let gate = FrameGate::new();
    let sink = LiveSinkSpec::Pty { link: None };
    let mut meter = VirtualMeter::prepare(f, sink, gated(&gate)).expect("pty");
    let mut reader = open_reader(meter.path().expect("path"));
    meter.start();
    gate.allow(1);
    let mut got = read_stream(&mut reader, Some(telegram(0).len()));
    // The two silent frames and telegram 3: nothing may come between 0 and 3.
    gate.allow(4);
    got.extend(read_stream(&mut reader, Some(telegram(3).len())));
    let summary = meter.join().expect("summary");
    assert_eq!(got, [telegram(0), telegram(3)].concat());
    assert_eq!(
        (summary.frames, summary.silent, summary.telegrams),
        (4, 2, 2)
    );
    assert_eq!((summary.written, summary.dropped), (2, 0));
}
