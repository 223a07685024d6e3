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
    let sim = Simulation::new(scenario);
    sim.flat_map(|f| f.bytes).collect()
}

#[test]
fn same_scenario_same_bytes() {
    let a = all_bytes(&Scenario::quickstart());
    let b = all_bytes(&Scenario::quickstart());
    assert!(!a.is_empty());
    assert!(a == b, "two runs of the quickstart differ");
}

/// `set_seed` reseeds everything the file's `seed` does, faults included: a scenario
/// given seed 2 afterwards runs exactly like the same file written with `seed = 2`.
#[test]
fn set_seed_equals_writing_the_seed() {
    let text = |seed: u64| {
        format!(
            "seed = {seed}\nstart = \"2026-03-02 10:00:00\"\nduration = \"2m\"\n\
             [[loads.household]]\nname = \"home\"\n\
             [[faults]]\nfault = {{ kind = \"bit_flip\", crc = \"stale\" }}\n\
             schedule = {{ probability = 0.3 }}\n"
        )
    };
    let parse = |seed| Scenario::parse("seeded.toml", &text(seed)).expect("valid");
    let mut reseeded = parse(1);
    reseeded.set_seed(2);
    let (one, two) = (all_bytes(&parse(1)), all_bytes(&parse(2)));
    assert!(one != two, "the seed changes nothing");
    assert!(
        all_bytes(&reseeded) == two,
        "set_seed differs from the file's seed"
    );
}

#[test]
fn set_panel_checks_the_settings_and_keeps_the_old_ones_on_error() {
    let mut s = Scenario::quickstart();
    assert_eq!(s.panel(), None);
    let bad = p1_panel::PanelConfig {
        signal_max: 0,
        ..p1_panel::PanelConfig::default()
    };
    let e = s.set_panel(bad).unwrap_err();
    assert_eq!(e.field, p1_panel::PanelField::SignalMax);
    assert_eq!(s.panel(), None);
    s.set_panel(p1_panel::PanelConfig::default())
        .expect("valid");
    assert!(Simulation::new(&s).all(|f| f.panel.is_some()));
}

#[test]
fn another_seed_other_bytes() {
    let a = Scenario::quickstart();
    let mut b = a.clone();
    b.set_seed(b.seed() + 1);
    assert!(all_bytes(&a) != all_bytes(&b), "the seed changes nothing");
}

#[test]
fn quickstart_is_the_shipped_file() {
    let q = Scenario::quickstart();
    let file = load("quickstart");
    assert_eq!(
        (q.start(), q.end, q.seed()),
        (file.start(), file.end, file.seed())
    );
    assert_eq!(q.meter(), file.meter());
    assert_eq!(Simulation::new(&q).count(), 600);
}

#[test]
fn a_year_at_15_minutes_jumps_between_events() {
    let scenario = load("year-15min");
    let mut sim = Simulation::new(&scenario);
    let mut frames = 0;
    for f in sim.by_ref() {
        assert!(f.bytes.starts_with(b"/FLU5"));
        frames += 1;
    }
    // 2026 has 365 days; `every = 96` keeps one telegram of each day's 96.
    assert_eq!(frames, 365);
    let seconds = (scenario.end.millis() - scenario.start().millis()) / 1000;
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
    let frames: Vec<_> = Simulation::new(&scenario).collect();
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
    let frames: Vec<_> = Simulation::new(&scenario).collect();
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
        for f in Simulation::new(&scenario) {
            // Damaged telegrams (scenarios/faults.toml) are checked by their verdicts.
            if !f.bytes.is_empty() && f.applied.is_empty() {
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

/// `[[faults]]` schedules written as scenario instants hit the telegrams at those instants,
/// the bytes sent change while what the meter meant does not, and the same seed gives the
/// same damage.
#[test]
fn fault_schedules_in_scenario_time() {
    let text = "start = \"2026-03-02 10:00:00\"\nduration = \"20s\"\nseed = 3\n\
        [[faults]]\nfault = { kind = \"silence\" }\nschedule = { at = \"+2s\" }\n\
        [[faults]]\nfault = { kind = \"wrong_crc\" }\n\
        schedule = { window = { from = \"2026-03-02 10:00:05\", until = \"+7s\" } }\n\
        [[faults]]\nfault = { kind = \"lf_only\" }\nschedule = { at_index = 9 }\n\
        [[faults]]\nfault = { kind = \"unknown_line\" }\nschedule = { probability = 0.5 }\n";
    let scenario = p1_scenario::Scenario::parse("f.toml", text).expect("scenario");
    let plain = text.split("[[faults]]").next().unwrap_or_default();
    let clean = p1_scenario::Scenario::parse("p.toml", plain).expect("scenario");
    let run = |s: &p1_scenario::Scenario| -> Vec<p1_scenario::SimFrame> {
        p1_scenario::Simulation::new(s).collect()
    };
    let (a, b, c) = (run(&scenario), run(&scenario), run(&clean));
    assert_eq!(a.len(), 20);
    let names = |f: &p1_scenario::SimFrame| -> Vec<String> {
        f.applied
            .iter()
            .map(|x| x.fault.clone())
            .filter(|n| n != "unknown_line")
            .collect()
    };
    for (i, ((f, g), plain)) in a.iter().zip(&b).zip(&c).enumerate() {
        assert_eq!(f.bytes, g.bytes, "deterministic at {i}");
        assert_eq!(f.readout, plain.readout, "what the meter meant at {i}");
        let want: &[&str] = match i {
            2 => &["silence"],
            5 | 6 => &["wrong_crc"],
            9 => &["lf_only"],
            _ => &[],
        };
        assert_eq!(names(f), want, "telegram {i}");
        let verdict = f.verdict.expect("verdict");
        if f.applied.is_empty() {
            assert_eq!(f.bytes, plain.bytes, "untouched at {i}");
        }
        assert_eq!(verdict.spec_valid, want.is_empty(), "telegram {i}");
        assert_eq!(f.bytes.is_empty(), i == 2);
        assert!(c[i].verdict.is_none());
    }
    let unknown = a
        .iter()
        .filter(|f| f.applied.iter().any(|x| x.fault == "unknown_line"))
        .count();
    assert!(
        (2..=18).contains(&unknown),
        "probability 0.5 hit {unknown} of 20"
    );
}

#[test]
fn set_every_checks_like_the_file_does() {
    // The quickstart: 600 telegram instants one second apart.
    let mut s = Scenario::quickstart();
    assert_eq!(s.interval_ms(), 1000);
    s.set_every(3).unwrap();
    let frames: Vec<_> = Simulation::new(&s).collect();
    assert_eq!(frames.len(), 200);
    assert_eq!(frames[1].at.millis() - frames[0].at.millis(), 3000);

    // `u64::MAX as i64` is -1: unchecked, the driver would step backwards.
    for bad in [0, u64::MAX, (100 * 366 * 86_400) + 1] {
        let e = s.set_every(bad).unwrap_err();
        assert!(e.contains("every"), "{bad}: {e}");
        assert_eq!(s.every(), 3, "a refused value must not be kept");
    }
    // The largest step the file accepts is accepted here too: one telegram.
    s.set_every(100 * 366 * 86_400).unwrap();
    assert_eq!(Simulation::new(&s).count(), 1);
    // The same bound in a file, at the value's position.
    let e = Scenario::parse(
        "x.toml",
        "start = \"2026-03-02 10:00:00\"\nduration = \"1h\"\nevery = 3162240001\n",
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (3, 9), "{e}");
    assert!(e.message.contains("longer than 100 years"), "{e}");
}

/// A run starting at hh:05 with 3600 W takes that load to have run since hh:00: the first
/// telegram's 1-0:1.4.0 holds 5 minutes of it, the quarter closes at 3600 W (the peak),
/// and the energy registers start where the file says.
#[test]
fn a_mid_quarter_start_assumes_the_load_since_the_quarter_began() {
    let text = "start = \"2026-03-02 10:05:00\"\nduration = \"11m\"\ninterval = \"1m\"\n\
                [meter]\nmodel = \"S211\"\nimport_day_kwh = \"100.000\"\n\
                [[loads.constant]]\nname = \"heater\"\npower = \"3600 W\"\n";
    let scenario = Scenario::parse("mid.toml", text).unwrap();
    let frames: Vec<_> = Simulation::new(&scenario).collect();
    let demand = |i: usize| {
        frames[i]
            .readout
            .as_ref()
            .and_then(|r| r.demand.clone())
            .unwrap()
    };
    // 3600 W x 5 min / 15 min.
    assert_eq!(demand(0).current_w, 1200);
    assert_eq!(frames[0].readout.as_ref().unwrap().import_wh, [100_000, 0]);
    // 10:14: 14 minutes of 3600 W in the quarter.
    assert_eq!(demand(9).current_w, 3600 * 14 / 15);
    assert_eq!(demand(9).peak.w, 0);
    // 10:15: the quarter closed at its full demand, not at the 10 simulated minutes' 2400 W.
    assert_eq!(demand(10).current_w, 0);
    assert_eq!(demand(10).peak.w, 3600);
    assert_eq!(frames[10].readout.as_ref().unwrap().import_wh, [100_600, 0]);
}
