//! The driver: determinism, event jumping, and the catalogue in `scenarios/`.

use std::path::{Path, PathBuf};

use p1_scenario::{Scenario, Simulation, TruthRecord};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn load(name: &str) -> Scenario {
    let path = scenarios_dir().join(format!("{name}.toml"));
    match Scenario::from_path(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn all_bytes(scenario: &Scenario) -> Vec<u8> {
    let sim = Simulation::new(scenario).unwrap();
    sim.flat_map(|f| f.bytes).collect()
}

#[test]
fn same_scenario_same_bytes() {
    let a = all_bytes(&Scenario::quickstart());
    let b = all_bytes(&Scenario::quickstart());
    assert!(!a.is_empty());
    assert!(a == b, "two runs of the quickstart differ");
}

#[test]
fn another_seed_other_bytes() {
    let a = Scenario::quickstart();
    let mut b = a.clone();
    b.seed += 1;
    assert!(all_bytes(&a) != all_bytes(&b), "the seed changes nothing");
}

#[test]
fn quickstart_is_the_shipped_file() {
    let q = Scenario::quickstart();
    let file = load("quickstart");
    assert_eq!((q.start, q.end, q.seed), (file.start, file.end, file.seed));
    assert_eq!(q.meter, file.meter);
    assert_eq!(Simulation::new(&q).unwrap().count(), 600);
}

#[test]
fn a_year_at_15_minutes_jumps_between_events() {
    let scenario = load("year-15min");
    let mut sim = Simulation::new(&scenario).unwrap();
    let mut frames = 0;
    for f in sim.by_ref() {
        assert!(f.bytes.starts_with(b"/FLU5"));
        frames += 1;
    }
    // 2026 has 365 days; `every = 96` keeps one telegram of each day's 96.
    assert_eq!(frames, 365);
    let seconds = (scenario.end.millis() - scenario.start.millis()) / 1000;
    // The driver stops at PV minutes, household segments, quarter boundaries and
    // telegrams: far fewer than the year's 31.5 million seconds.
    assert!(
        sim.n_steps() < seconds as u64 / 50,
        "{} steps for {seconds} s",
        sim.n_steps()
    );
}

#[test]
fn events_at_a_telegram_instant_show_in_that_telegram() {
    let scenario = load("port-disabled");
    let frames: Vec<_> = Simulation::new(&scenario).unwrap().collect();
    assert_eq!(frames.len(), 120);
    // Disabled at +30 s, enabled at +90 s.
    for (i, f) in frames.iter().enumerate() {
        let silent = (30..90).contains(&i);
        assert_eq!(f.bytes.is_empty(), silent, "frame {i}");
        assert_eq!(f.readout.is_none(), silent, "frame {i}");
    }
}

#[test]
fn truth_records_name_what_was_sent() {
    let scenario = load("port-disabled");
    let frames: Vec<_> = Simulation::new(&scenario).unwrap().collect();
    let sent: serde_json::Value =
        serde_json::from_str(&TruthRecord::from_frame(&frames[0]).to_json_line()).unwrap();
    assert_eq!(sent["utc"], "2026-09-01T08:00:00.000Z");
    assert_eq!(sent["local"], "260901100000S");
    let telegram = sent["telegram"].as_str().unwrap();
    assert!(telegram.starts_with("/FLU5\\253770234_A\r\n\r\n"));
    let crc = sent["crc"].as_str().unwrap();
    assert!(telegram.ends_with(&format!("!{crc}\r\n")));
    let silent: serde_json::Value =
        serde_json::from_str(&TruthRecord::from_frame(&frames[45]).to_json_line()).unwrap();
    assert!(silent["telegram"].is_null() && silent["crc"].is_null());
    assert_eq!(silent["state"]["port_enabled"], false);
}

#[test]
fn the_catalogue_runs_within_its_size_budget() {
    let mut names: Vec<String> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "toml").then_some(stem)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 17, "{names:?}");
    for name in names.iter().filter(|n| n.as_str() != "year-15min") {
        let scenario = load(name);
        let mut total = 0;
        for f in Simulation::new(&scenario).unwrap() {
            if !f.bytes.is_empty() {
                assert!(f.bytes.starts_with(b"/FLU5\\"), "{name}");
                assert!(f.bytes.ends_with(b"\r\n"), "{name}");
            }
            total += f.bytes.len();
        }
        assert!(total > 0, "{name} sends nothing");
        assert!(
            total < 700_000,
            "{name}: {total} bytes is too big for a golden file"
        );
    }
}
