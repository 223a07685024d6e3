//! Live output through the serial destination. The port logic runs against a kernel
//! pseudo-terminal standing in for the UART. Real hardware is exercised by the test behind
//! the `hardware-tests` feature, which needs `P1SIM_TEST_SERIAL` to name a device
//! (`P1SIM_TEST_SERIAL=/dev/ttyUSB0 cargo test -p p1-sim --features hardware-tests`).

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use p1_sim::live::{FrameGate, LiveFrame, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};
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
    // Each telegram goes once the test has read the previous one, so a slow reader can
    // never make the meter abandon a telegram; within a telegram the line rate is real.
    let gate = FrameGate::new();
    let opts = LiveOptions {
        pacing: Pacing::Fast,
        baud_pacing: true,
        gate: Some(gate.clone()),
        ..Default::default()
    };
    let meter = VirtualMeter::spawn(frames(N), sink, opts).expect("serial");
    let want: Vec<u8> = (0..N).flat_map(telegram).collect();
    let mut master = File::from(master);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // A safety net so a bug fails the test instead of hanging it; not a timing assertion.
    let deadline = Instant::now() + Duration::from_secs(10);
    for k in 0..N {
        gate.allow(k as u64 + 1);
        let upto = (0..=k).map(|i| telegram(i).len()).sum::<usize>();
        while got.len() < upto && Instant::now() < deadline {
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
    }
    let summary = meter.join().expect("summary");
    assert_eq!(got, want);
    assert_eq!((summary.written, summary.dropped), (N as u64, 0));
}

/// Real hardware: fails (never skips) when `P1SIM_TEST_SERIAL` is unset, so enabling the
/// feature without a device cannot pass silently.
#[cfg(feature = "hardware-tests")]
#[test]
fn serial_hardware_when_p1sim_test_serial_is_set() {
    let device = std::env::var("P1SIM_TEST_SERIAL").unwrap_or_else(|_| {
        panic!(
            "the hardware-tests feature needs P1SIM_TEST_SERIAL to name a serial device, \
             e.g. P1SIM_TEST_SERIAL=/dev/ttyUSB0"
        )
    });
    const N: usize = 5;
    // 500 ms per telegram: far more than the ~10 ms a telegram takes at 115200 baud, so a
    // loaded machine does not make the port abandon one.
    let opts = LiveOptions {
        pacing: Pacing::Speed(2.0),
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
