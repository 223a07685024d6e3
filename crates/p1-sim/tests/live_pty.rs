//! Live output to a real kernel pseudo-terminal: telegrams arrive intact at a raw reader,
//! a late reader starts on a whole telegram, unread telegrams are counted as dropped, and
//! the `--link` symlink lives exactly as long as the meter.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use p1_sim::live::{LiveFrame, LiveOptions, LiveSinkSpec, Pacing, ReadyInfo, VirtualMeter};
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

#[test]
fn telegrams_arrive_intact_at_a_raw_reader() {
    const N: usize = 20;
    let opts = LiveOptions {
        // 1 simulated second = 50 ms: ample time for the reader between telegrams.
        pacing: Pacing::Speed(20.0),
        ..Default::default()
    };
    let sink = LiveSinkSpec::Pty { link: None };
    let mut meter = VirtualMeter::prepare(frames(N), sink, opts).expect("pty");
    let path = meter.path().expect("pty path").to_path_buf();
    let mut reader = open_reader(&path);
    meter.start();
    let got = read_stream(&mut reader, Some(concat(0, N).len()));
    let summary = meter.join().expect("summary");
    assert_eq!(got, concat(0, N), "byte stream differs");
    assert_eq!(summary.telegrams, N as u64);
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
    let opts = LiveOptions {
        pacing: Pacing::Speed(1000.0 / 30.0),
        ..Default::default()
    };
    let meter = VirtualMeter::spawn_pty(frames(N), opts).expect("pty");
    let path = meter.path().expect("pty path").to_path_buf();
    // Let a few telegrams go out unread first; the assertions below hold whatever the delay.
    std::thread::sleep(Duration::from_millis(200));
    let mut reader = open_reader(&path);
    let got = read_stream(&mut reader, None);
    let summary = meter.join().expect("summary");
    assert_eq!(got.first(), Some(&b'/'), "first byte must start a telegram");
    // What the reader saw is exactly telegrams j..N for some j: whole, in order, none cut.
    let j = (0..=N).find(|&j| concat(j, N) == got).unwrap_or_else(|| {
        panic!(
            "not a suffix of whole telegrams: {:?}",
            String::from_utf8_lossy(&got)
        )
    });
    assert!(j < N, "reader received nothing");
    assert_eq!(
        summary.written,
        (N - j) as u64,
        "telegrams the reader consumed"
    );
    assert_eq!(
        summary.dropped, j as u64,
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
    let opts = LiveOptions {
        pacing: Pacing::Speed(50.0),
        ..Default::default()
    };
    let sink = LiveSinkSpec::Pty { link: None };
    let mut meter = VirtualMeter::prepare(f, sink, opts).expect("pty");
    let mut reader = open_reader(meter.path().expect("path"));
    meter.start();
    let want: Vec<u8> = [telegram(0), telegram(3)].concat();
    let got = read_stream(&mut reader, Some(want.len()));
    let summary = meter.join().expect("summary");
    assert_eq!(got, want);
    assert_eq!(
        (summary.frames, summary.silent, summary.telegrams),
        (4, 2, 2)
    );
    assert_eq!(summary.written, 2);
}
