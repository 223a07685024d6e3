//! The outside parser reads our live output: dsmr_parser's sync `SerialReader` and the
//! asyncio `create_dsmr_reader` (what Home Assistant uses) on the pty, and
//! `create_tcp_dsmr_reader` on the TCP port, each parsing CRC-valid telegrams from the 14
//! consecutive DsmrHub captures sent in a loop. Needs the project's Python environment
//! (scripts/setup-python.sh); like the other conformance tests it fails without it.

mod common;

use std::process::Command;
use std::time::Duration;

use p1_sim::live::{FrameGate, LiveFrame, LiveOptions, Pacing, VirtualMeter};

/// Reads `want` telegrams with the given client and prints, per telegram, the equipment
/// identifier and the tariff-1 import register as dsmr_parser decoded them.
const READER: &str = r#"
import asyncio, signal, sys
signal.alarm(40)
from dsmr_parser import telegram_specifications
mode, target, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
def show(t):
    print(t.BELGIUM_EQUIPMENT_IDENTIFIER.value, t.ELECTRICITY_USED_TARIFF_1.value, flush=True)
if mode == "serial":
    from dsmr_parser.clients import SerialReader, SERIAL_SETTINGS_V5
    r = SerialReader(device=target, serial_settings=dict(SERIAL_SETTINGS_V5),
                     telegram_specification=telegram_specifications.BELGIUM_FLUVIUS)
    for i, t in enumerate(r.read_as_object()):
        show(t)
        if i + 1 >= want:
            break
else:
    from dsmr_parser.clients.protocol import create_dsmr_reader, create_tcp_dsmr_reader
    async def main():
        q = asyncio.Queue()
        if mode == "asyncio":
            transport, _ = await create_dsmr_reader(target, "5B", q.put_nowait)
        else:
            host, port = target.rsplit(":", 1)
            transport, _ = await create_tcp_dsmr_reader(host, int(port), "5B", q.put_nowait)
        for _ in range(want):
            show(await q.get())
        transport.close()
    asyncio.run(main())
"#;

const WANT: usize = 5;

/// The DsmrHub stream, in order.
fn captures() -> Vec<Vec<u8>> {
    let mut caps: Vec<(u32, Vec<u8>)> = common::valid_captures()
        .into_iter()
        .filter_map(|(name, bytes)| {
            let n = name
                .strip_prefix("fluvius-s211-dsmrhub-")?
                .strip_suffix(".txt")?;
            Some((n.parse().ok()?, bytes))
        })
        .collect();
    caps.sort_by_key(|(n, _)| *n);
    assert_eq!(caps.len(), 14);
    caps.into_iter().map(|(_, b)| b).collect()
}

/// The text inside the first `(...)` after `obis(` in a telegram.
fn field(telegram: &[u8], obis: &str) -> String {
    let text = String::from_utf8_lossy(telegram);
    let start = text.find(&format!("\r\n{obis}(")).expect("field") + obis.len() + 3;
    let end = start + text[start..].find(')').expect(")");
    text[start..end].to_owned()
}

/// Runs the Python reader on `target` while `meter` streams, stops the meter, and checks
/// what the reader printed against the captures.
fn check(mode: &str, meter: VirtualMeter, target: String, caps: &[Vec<u8>]) {
    let out = Command::new(common::python())
        .args(["-c", READER, mode, &target, &WANT.to_string()])
        .output()
        .expect("run python");
    let summary = meter.stop().expect("summary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode} reader failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Independent expectations, read from the captures' own text.
    let id = field(&caps[0], "0-0:96.1.1");
    let registers: Vec<f64> = caps
        .iter()
        .map(|c| {
            let v = field(c, "1-0:1.8.1");
            v.trim_end_matches("*kWh").parse().expect("number")
        })
        .collect();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), WANT, "{mode}: {stdout}");
    for line in lines {
        let (got_id, got_kwh) = line.split_once(' ').expect("two values");
        assert_eq!(got_id, id, "{mode}: equipment identifier");
        let kwh: f64 = got_kwh.parse().expect("register");
        assert!(
            registers.iter().any(|r| (r - kwh).abs() < 1e-9),
            "{mode}: {kwh} is not a register value of the captures"
        );
    }
    assert!(summary.written >= WANT as u64, "{mode}: {summary}");
}

fn endless(caps: Vec<Vec<u8>>) -> impl Iterator<Item = LiveFrame> + Send + 'static {
    (0i64..).map(move |k| LiveFrame::new(k * 1000, caps[k as usize % caps.len()].clone()))
}

fn opts() -> LiveOptions {
    LiveOptions {
        // 10 telegrams a second, each written at the line rate like a real meter.
        pacing: Pacing::Speed(10.0),
        baud_pacing: true,
        drain: Duration::ZERO,
        // A descheduled reader delays the meter instead of getting cut telegrams.
        gate: Some(FrameGate::lockstep()),
        ..Default::default()
    }
}

#[test]
fn dsmr_parser_serial_reader_reads_the_pty() {
    let caps = captures();
    let meter = VirtualMeter::spawn_pty(endless(caps.clone()), opts()).expect("pty");
    let path = meter.path().expect("path").display().to_string();
    check("serial", meter, path, &caps);
}

#[test]
fn dsmr_parser_asyncio_reader_reads_the_pty() {
    let caps = captures();
    let meter = VirtualMeter::spawn_pty(endless(caps.clone()), opts()).expect("pty");
    let path = meter.path().expect("path").display().to_string();
    check("asyncio", meter, path, &caps);
}

#[test]
fn dsmr_parser_tcp_reader_reads_the_socket() {
    let caps = captures();
    let meter = VirtualMeter::spawn_tcp(endless(caps.clone()), opts()).expect("tcp");
    let addr = meter.addr().expect("addr").to_string();
    check("tcp", meter, addr, &caps);
}
