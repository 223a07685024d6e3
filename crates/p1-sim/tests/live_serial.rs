//! Live output through the serial destination. The port logic runs against a kernel
//! pseudo-terminal standing in for the UART; real hardware is exercised only when
//! `P1SIM_TEST_SERIAL` names a device (the hardware gate).

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use p1_sim::live::{LiveFrame, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::pty::OpenptFlags;

fn telegram(k: usize) -> Vec<u8> {
    format!("/TST5\\2SERIAL{k:04}\r\n\r\n1-0:1.8.1({k:06}.000*kWh)\r\n!{k:04X}\r\n").into_bytes()
}

fn frames(n: usize) -> Vec<LiveFrame> {
    (0..n)
        .map(|k| LiveFrame::new(k as i64 * 1000, telegram(k)))
        .collect()
}

#[test]
fn serial_port_writes_every_telegram_at_115200_8n1() {
    const N: usize = 10;
    // The test holds the master; the meter opens the slave as its "serial device".
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    rustix::pty::grantpt(&master).expect("grantpt");
    rustix::pty::unlockpt(&master).expect("unlockpt");
    let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
    let device = PathBuf::from(name.to_string_lossy().into_owned());
    let sink = LiveSinkSpec::Serial {
        device: device.to_string_lossy().into_owned(),
    };
    let opts = LiveOptions {
        pacing: Pacing::Speed(100.0),
        baud_pacing: true,
        ..Default::default()
    };
    let meter = VirtualMeter::spawn(frames(N), sink, opts).expect("serial");
    let want: Vec<u8> = (0..N).flat_map(telegram).collect();
    let mut master = File::from(master);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < want.len() && Instant::now() < deadline {
        let mut fds = [PollFd::new(&master, PollFlags::IN)];
        let ts = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if !matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0) {
            continue;
        }
        match master.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    let summary = meter.join().expect("summary");
    assert_eq!(got, want);
    assert_eq!((summary.written, summary.dropped), (N as u64, 0));
}

#[test]
fn serial_hardware_when_p1sim_test_serial_is_set() {
    let Ok(device) = std::env::var("P1SIM_TEST_SERIAL") else {
        eprintln!("P1SIM_TEST_SERIAL is not set: no serial hardware to test; skipping");
        return;
    };
    const N: usize = 5;
    let opts = LiveOptions {
        pacing: Pacing::Speed(10.0),
        baud_pacing: true,
        ..Default::default()
    };
    let sink = LiveSinkSpec::Serial {
        device: device.clone(),
    };
    let meter = VirtualMeter::spawn(frames(N), sink, opts)
        .unwrap_or_else(|e| panic!("opening {device}: {e}"));
    let summary = meter.join().expect("summary");
    assert_eq!(summary.telegrams, N as u64);
    assert_eq!((summary.written, summary.dropped), (N as u64, 0));
    assert_eq!(
        summary.bytes,
        (0..N).map(|k| telegram(k).len() as u64).sum::<u64>()
    );
}
