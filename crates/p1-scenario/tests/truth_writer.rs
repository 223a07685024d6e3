//! The streaming truth writer against the plain record, frame by frame, over catalogue
//! scenarios that cross silence, faults, layout changes and panel output: every one
//! with golden files, each frame, and some with frames skipped.

use p1_scenario::{Scenario, Simulation, TruthRecord, TruthWriter};

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/../../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_path(std::path::Path::new(&path)).expect("valid catalogue scenario")
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

/// The catalogue scenarios that have golden files.
fn golden_scenarios() -> Vec<String> {
    let dir = format!("{}/../../golden", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("golden directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".p1")?.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_frame_matches_the_plain_record() {
    let names = golden_scenarios();
    assert!(names.len() >= 20, "the catalogue is there: {names:?}");
    for name in &names {
        check(name, 1);
    }
}

#[test]
fn a_writer_that_skips_frames_still_matches() {
    for name in ["quickstart", "faults", "power-failure"] {
        check(name, 3);
    }
}
