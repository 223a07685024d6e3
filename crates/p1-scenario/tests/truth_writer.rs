//! The streaming truth writer against the plain record, frame by frame, over catalogue
//! scenarios that cross silence, faults, layout changes and panel output.

use p1_scenario::{Scenario, Simulation, TruthRecord, TruthWriter};

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/../../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("catalogue scenario");
    Scenario::parse(&path, &text).expect("valid scenario")
}

/// Every `step`-th frame through one writer, each compared with the plain record.
fn check(name: &str, step: usize) {
    let mut sim = Simulation::new(&scenario(name));
    let mut writer = TruthWriter::new();
    let (mut fast, mut plain) = (Vec::new(), Vec::new());
    let (mut i, mut patched) = (0, 0);
    while let Some(frame) = sim.next_frame() {
        if i % step == 0 {
            fast.clear();
            plain.clear();
            writer.write_line(frame, &mut fast);
            TruthRecord::from_frame(frame).write_json_line(&mut plain);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&plain),
                "{name}, frame {i}"
            );
            patched += usize::from(frame.telegram_changes().is_some());
        }
        i += 1;
    }
    assert!(patched > 0, "{name}: some frames were patched");
}

#[test]
fn every_frame_matches_the_plain_record() {
    for name in [
        "quickstart",
        "faults",
        "power-failure",
        "port-disabled",
        "gas-replaced",
        "front-panel",
        "dst-autumn",
    ] {
        check(name, 1);
    }
}

#[test]
fn a_writer_that_skips_frames_still_matches() {
    for name in ["quickstart", "faults", "power-failure"] {
        check(name, 3);
    }
}
