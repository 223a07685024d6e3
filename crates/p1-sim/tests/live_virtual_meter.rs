//! `VirtualMeter::from_scenario`: a scenario served on a real pty from a background
//! thread delivers, to a reader that opens the device, exactly the telegrams an
//! in-process simulation of the same scenario produces, in order and without a gap.

use std::io::Read;
use std::time::{Duration, Instant};

use p1_scenario::{Scenario, Simulation};
use p1_sim::live::{FrameGate, LiveOptions, LiveSinkSpec, Pacing, VirtualMeter};
use p1_wire::decode_all;

#[test]
fn scenario_on_a_pty_matches_the_simulation() {
    let scenario = Scenario::quickstart();
    let expected: Vec<Vec<u8>> = Simulation::new(&scenario).map(|f| f.bytes).collect();
    let opts = LiveOptions {
        pacing: Pacing::Speed(20.0),
        // The reader below must see consecutive telegrams: a descheduled reader delays
        // the meter instead of losing one.
        gate: Some(FrameGate::lockstep()),
        ..LiveOptions::default()
    };
    let meter = VirtualMeter::from_scenario(&scenario, LiveSinkSpec::Pty { link: None }, opts)
        .expect("pty opens");
    let path = meter.path().expect("pty path").to_path_buf();
    let mut port = std::fs::File::open(&path).expect("open the pty");

    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    while decode_all(&got).iter().filter(|r| r.is_ok()).count() < 5 && Instant::now() < deadline {
        let n = port.read(&mut buf).expect("read the pty");
        got.extend_from_slice(&buf[..n]);
    }
    drop(meter);
    let frames: Vec<_> = decode_all(&got)
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    assert!(frames.len() >= 5, "only {} telegrams", frames.len());
    // The reader joined mid-stream: it starts at a whole telegram k, then k+1, k+2, ...
    let first = &got[frames[0].offset..frames[0].offset + frames[0].len];
    let k = expected
        .iter()
        .position(|e| e == first)
        .expect("the first telegram read is one the simulation produced");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(
            &got[f.offset..f.offset + f.len],
            &expected[k + i][..],
            "telegram {}",
            k + i
        );
    }
}
