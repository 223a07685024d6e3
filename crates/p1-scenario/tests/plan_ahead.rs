//! Planning the loads' days ahead on worker threads (`Simulation::plan_ahead`) gives the
//! same frames, byte for byte, as planning them on the simulation's thread: over the
//! catalogue, over every load kind with events switching and scaling loads, when started
//! mid-run, and past the day the workers stop at.

use std::path::{Path, PathBuf};

use p1_scenario::fleet::is_fleet_file;
use p1_scenario::{Scenario, Simulation, TruthWriter};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn load(path: &Path) -> Scenario {
    Scenario::from_path(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Everything a run produces: the bytes sent, the truth lines, the driver's stops.
#[derive(PartialEq, Eq)]
struct Run {
    p1: Vec<u8>,
    truth: Vec<u8>,
    steps: u64,
}

/// Runs `sim` to the end, calling `plan_ahead` before frame `ahead_at` (`None`: never);
/// returns the run and whether loads planned ahead.
fn run(mut sim: Simulation, ahead_at: Option<usize>) -> (Run, bool) {
    let mut writer = TruthWriter::new();
    let (mut p1, mut truth) = (Vec::new(), Vec::new());
    let mut ahead = false;
    let mut i = 0;
    loop {
        if ahead_at == Some(i) {
            sim.plan_ahead();
            ahead = sim.plans_ahead();
        }
        let Some(frame) = sim.next_frame() else {
            break;
        };
        p1.extend_from_slice(&frame.bytes);
        writer.write_line(frame, &mut truth);
        i += 1;
    }
    let steps = sim.n_steps();
    (Run { p1, truth, steps }, ahead)
}

/// Asserts that `scenario` runs the same with plan-ahead started before frame `at`, and
/// returns whether any load planned ahead.
fn same_with_plan_ahead(name: &str, scenario: &Scenario, at: usize) -> bool {
    let (plain, was) = run(Simulation::new(scenario), None);
    assert!(!was);
    assert!(!plain.p1.is_empty(), "{name} sends nothing");
    let (ahead, planned_ahead) = run(Simulation::new(scenario), Some(at));
    assert!(ahead.p1 == plain.p1, "{name}: telegram bytes differ");
    assert!(ahead.truth == plain.truth, "{name}: truth lines differ");
    assert_eq!(ahead.steps, plain.steps, "{name}: driver stops differ");
    planned_ahead
}

#[test]
fn the_catalogue_is_the_same_with_plan_ahead() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && !std::fs::read_to_string(p).is_ok_and(|t| is_fleet_file(&t))
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 17, "{paths:?}");
    let mut ahead = Vec::new();
    for path in &paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if same_with_plan_ahead(&name, &load(path), 0) {
            ahead.push(name);
        }
    }
    // The scenarios with planned loads (PV, household, appliances, flows, a replay)
    // really ran them on workers.
    for name in [
        "year-15min",
        "solar-export",
        "fluvius-replay",
        "quickstart",
        "faults",
    ] {
        assert!(
            ahead.iter().any(|n| n == name),
            "{name} not planned ahead: {ahead:?}"
        );
    }
}

/// Every load kind but replay (the catalogue's `fluvius-replay` has one), with events that
/// switch and scale them, over a DST change and a month change.
const MIXED: &str = r#"
seed = 5
start = "2026-03-26 06:00:00"
end = "2026-04-04 18:00:00"
interval = "1m"
every = 7

[meter]
model = "T211"
equipment_id = "1SAG3100000292"

[[meter.mbus]]
channel = 1
kind = "gas"
equipment_id = "7FLO4100000123"

[[loads.constant]]
name = "fridge"
power = "90 W"

[[loads.schedule]]
name = "office"
phases = [2]
days = ["mon", "tue", "wed", "thu", "fri"]
daily = [["00:00", "250 W"], ["07:00", "1.2 kW"], ["22:00", "300 W"]]

[[loads.household]]
name = "house"
phases = [1, 2, 3]

[[loads.appliance]]
name = "washing"
phases = [3]
program = "washing_machine"
at = ["10:00", "19:30"]
jitter = "2h"
starts = ["2026-03-25 23:30:00", "2026-03-29 03:30:00"]

[[loads.appliance]]
name = "heat-pump"
phases = [1]
program = "heat_pump"
continuous = true

[[loads.ev]]
name = "car"
phases = [1, 2, 3]
power = "11 kW"
plug_in = "18:30"
daily_kwh = "14"
days = ["mon", "wed", "fri"]
jitter = "45m"
sessions = [{ start = "2026-03-28 09:00:00", energy_kwh = "40" }]

[[loads.pv]]
name = "roof"
phases = [1, 2, 3]
peak = "6 kW"
clouds = "0.3"

[[loads.flow]]
name = "heating"
channel = 1
flow = "0.4 m3/h"
daily = [["06:00", "0.8 m3/h"], ["22:00", "0.35 m3/h"]]
draws = [{ from = "06:30", to = "08:00", count = 2, duration = "8m", flow = "9 l/min" }]

[[event]]
at = "2026-03-27 12:00:00"
action = "load_disable"
load = "roof"

[[event]]
at = "2026-03-30 12:00:00"
action = "load_enable"
load = "roof"

[[event]]
at = "2026-03-31 08:00:00"
action = "load_scale"
load = "house"
factor = "0.7"

[[event]]
at = "2026-04-02 00:00:00"
action = "load_disable"
load = "car"
"#;

#[test]
fn every_load_kind_with_events_is_the_same_with_plan_ahead() {
    let scenario = Scenario::parse("mixed.toml", MIXED).unwrap_or_else(|e| panic!("{e}"));
    assert!(same_with_plan_ahead("mixed", &scenario, 0));
    // Started mid-run (frame 1000 is on the sixth day), from the day reached.
    assert!(same_with_plan_ahead("mixed, mid-run", &scenario, 1000));
}

#[test]
fn days_past_the_workers_horizon_are_planned_on_the_simulation_thread() {
    // Telegrams every 50 h: after the last one, `advance` may go up to the next telegram
    // instant, most of a day past the end (18:00) and the end of its local day, where the
    // workers have stopped.
    let text = MIXED.replace("every = 7", "every = 3000");
    let scenario = Scenario::parse("mixed.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let finish = |mut sim: Simulation| {
        while sim.next_frame().is_some() {}
        let reached = sim.advance(p1_meter::SimTime(i64::MAX));
        assert!(
            reached > scenario.end.plus_ms(12 * 3_600_000),
            "{reached:?}"
        );
        (format!("{:?}", sim.meter().state()), sim.n_steps())
    };
    let plain = finish(Simulation::new(&scenario));
    let mut sim = Simulation::new(&scenario);
    sim.plan_ahead();
    assert!(sim.plans_ahead());
    assert_eq!(finish(sim), plain);
}
