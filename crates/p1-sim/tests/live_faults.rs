//! The fault catalogue (`scenarios/faults.toml`) played live on a pseudo-terminal, read by
//! dsmr_parser 1.11.2's `SerialReader` (line by line, as its `read_as_object` does): the
//! reader skips every damaged telegram and delivers every good one, exactly as the truth
//! records' `dsmr_reader` verdicts say, with split telegrams written in pieces and pauses.
//! Needs the project's Python environment (scripts/setup-python.sh), like the other
//! conformance tests.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use p1_scenario::{Scenario, Simulation, TruthRecord};
use p1_sim::live::{FrameGate, LiveFrame, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};
use serde_json::Value;

/// The message of the sentinel telegram that ends the run ("END" in hex).
const SENTINEL: &str = "0-0:96.13.0(454E44)";

/// Opens the pty through SerialReader, says "ready" when it first reads, then prints one
/// line per telegram the reader cuts out: `accept <0-0:1.0.0> <1-0:1.8.1 or absent>`,
/// `reject`, or
/// `crash <exception>`. A crash would end the reader's loop; it is reported and turned
/// into a ParseError so that reading goes on.
const READER: &str = r#"
import re, signal, sys
signal.alarm(90)
from dsmr_parser import telegram_specifications
from dsmr_parser.clients import SerialReader, SERIAL_SETTINGS_V5
from dsmr_parser.clients import serial_ as serial_module
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
target, sentinel = sys.argv[1], sys.argv[2]
open_port = serial_module.serialx.serial_for_url
def opened(*args, **kwargs):
    handle = open_port(*args, **kwargs)
    readline = handle.readline
    def first_readline(*a, **k):
        # The port is open and configured (input flushed): from now on nothing is lost.
        print("ready", flush=True)
        handle.readline = readline
        return readline(*a, **k)
    handle.readline = first_readline
    return handle
serial_module.serialx.serial_for_url = opened
reader = SerialReader(device=target, serial_settings=dict(SERIAL_SETTINGS_V5),
                      telegram_specification=telegram_specifications.BELGIUM_FLUVIUS)
parse = reader.telegram_parser.parse
class Done(Exception):
    pass
def observed(telegram, *args, **kwargs):
    if sentinel in telegram:
        raise Done()
    try:
        t = parse(telegram, *args, **kwargs)
    except (InvalidChecksumError, ParseError):
        print("reject", flush=True)
        raise
    except Exception as e:
        print("crash", type(e).__name__, flush=True)
        raise ParseError("crash observed")
    time = re.search(r"0-0:1\.0\.0\((\w+)\)", telegram).group(1)
    register = getattr(t, "ELECTRICITY_USED_TARIFF_1", None)
    print("accept", time, "absent" if register is None else register.value, flush=True)
    return t
reader.telegram_parser.parse = observed
try:
    for _ in reader.read_as_object():
        pass
except Done:
    print("done", flush=True)
"#;

/// Whether SerialReader loses this emission although the stream model accepts it: it
/// decodes each line as ASCII and drops a line that is not, so non-ASCII noise on the
/// line of the `/` takes the identification with it (the asyncio reader, which the
/// `dsmr_reader` verdict models, decodes whole telegrams instead).
fn serial_reader_drops(bytes: &[u8]) -> bool {
    let Some(slash) = bytes.iter().position(|&b| b == b'/') else {
        return false;
    };
    let start = bytes[..slash]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = bytes[slash..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| slash + p);
    !bytes[start..end].is_ascii()
}

fn wh_as_kwh(wh: &Value) -> String {
    let wh = wh.as_u64().expect("Wh");
    format!("{}.{:03}", wh / 1000, wh % 1000)
}

#[test]
fn serial_reader_skips_bad_telegrams_and_delivers_every_good_one() {
    let scenario =
        Scenario::from_path(&common::root().join("scenarios/faults.toml")).expect("scenario");
    let mut records = Vec::new();
    let mut frames = Vec::new();
    let mut last = None;
    let mut split = 0;
    for frame in Simulation::new(&scenario) {
        let record: Value =
            serde_json::from_str(&TruthRecord::from_frame(&frame).to_json_line()).expect("json");
        split += usize::from(!frame.pieces.is_empty());
        last = frame.readout.clone().map(|r| (frame.at.millis(), r));
        records.push((record, frame.bytes.clone()));
        frames.push(LiveFrame::from(frame));
    }
    assert!(split > 0, "no split telegram in the scenario");
    let (at, mut end) = last.expect("a last telegram");
    end.message = b"END".to_vec();
    let sentinel = end.to_bytes();
    assert!(String::from_utf8_lossy(&sentinel).contains(SENTINEL));
    frames.push(LiveFrame::new(at + 1000, sentinel));

    // Expected, from the truth records alone.
    let mut want = Vec::new();
    let (mut want_reject, mut want_crash, mut serial_lost) = (0, 0, 0);
    for (record, bytes) in &records {
        let Some(v) = record.get("verdict").filter(|v| !v.is_null()) else {
            continue;
        };
        match v["dsmr_reader"].as_str() {
            Some("accept") if serial_reader_drops(bytes) => serial_lost += 1,
            Some("accept") => {
                let r = &record["sent_readout"];
                let dropped = record["faults"].as_array().is_some_and(|a| {
                    a.iter().any(|f| {
                        f["fault"] == "drop_line"
                            && f["detail"]
                                .as_str()
                                .is_some_and(|d| d.contains("(1-0:1.8.1)"))
                    })
                });
                want.push(format!(
                    "accept {} {}",
                    r["time"].as_str().expect("time"),
                    if dropped {
                        "absent".to_owned()
                    } else {
                        wh_as_kwh(&r["import_wh"][0])
                    }
                ));
            }
            Some("reject") => want_reject += 1,
            Some("crash") => want_crash += 1,
            _ => {}
        }
    }
    assert!(serial_lost > 0 && want_reject > 0 && want_crash > 0);

    let opts = LiveOptions {
        // 10 telegrams a second; split pieces still pause in real time. Lockstep: a
        // telegram waits until the reader has read the ones before, so a descheduled
        // Python process delays the meter instead of missing telegrams.
        pacing: Pacing::Speed(10.0),
        drain: Duration::from_secs(2),
        gate: Some(FrameGate::lockstep()),
        ..Default::default()
    };
    let mut meter =
        VirtualMeter::prepare(frames, LiveSinkSpec::Pty { link: None }, opts).expect("pty");
    let path = meter.path().expect("path").display().to_string();
    let mut child = Command::new(common::python())
        .args(["-c", READER, &path, SENTINEL])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "ready", "the reader did not open the port");
    meter.start();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read");
    let status = child.wait().expect("wait python");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let summary = meter.stop().expect("summary");
    assert!(status.success(), "reader failed:\n{rest}{stderr}");
    // Lockstep leaves no room for drops: one here means the gate failed.
    assert_eq!(summary.dropped, 0, "a telegram was lost: {summary}");

    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.last(), Some(&"done"), "{rest}{stderr}");
    let got: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("accept "))
        .map(|l| (*l).to_owned())
        .collect();
    assert_eq!(got, want, "delivered telegrams");
    let count = |p: &str| lines.iter().filter(|l| l.starts_with(p)).count();
    assert_eq!(count("reject"), want_reject, "{rest}");
    assert_eq!(count("crash "), want_crash, "{rest}");
}
