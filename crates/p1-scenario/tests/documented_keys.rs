//! Keys written as docs/scenarios.md documents them do what it says, tried as a new user
//! would; and inputs that would silently do nothing are refused at their position.
//! Expected telegram lines are written by hand from the e-MUCS format.

use std::path::{Path, PathBuf};

use p1_scenario::{Scenario, ScenarioError, Simulation};

/// A one-phase meter for 10 s.
const BASE: &str = "start = \"2026-03-02 10:00:00\"\nduration = \"10s\"\n\
                    [meter]\nmodel = \"S211\"\n";

fn ok(text: &str) -> Scenario {
    match Scenario::parse("ok.toml", text) {
        Ok(s) => s,
        Err(e) => panic!("refused: {e}\n{text}"),
    }
}

fn error(text: &str) -> ScenarioError {
    match Scenario::parse("bad.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// The first telegram of `s`, as text.
fn first_telegram(s: &Scenario) -> String {
    let frame = Simulation::new(s).next().expect("a telegram");
    String::from_utf8(frame.bytes).expect("ASCII")
}

#[test]
fn one_voltage_may_be_a_string_a_number_or_a_list() {
    for value in ["\"231.4\"", "[\"231.4\"]", "\"231.4 V\""] {
        let s = ok(&format!("{BASE}[supply]\nvoltage_v = {value}\n"));
        assert_eq!(s.supply.voltage_dv, [2314; 3], "voltage_v = {value}");
        assert!(
            first_telegram(&s).contains("1-0:32.7.0(231.4*V)"),
            "voltage_v = {value}"
        );
    }
    let s = ok(&format!("{BASE}[supply]\nvoltage_v = 230\n"));
    assert_eq!(s.supply.voltage_dv, [2300; 3]);
    // Decimals are strings, as everywhere in a scenario (read exactly).
    let e = error(&format!("{BASE}[supply]\nvoltage_v = 231.4\n"));
    assert!(e.message.contains("as a string"), "{e}");
    // A bad value is still refused at its position.
    let e = error(&format!("{BASE}[supply]\nvoltage_v = \"230 kV\"\n"));
    assert_eq!((e.line, e.column), (6, 13), "{e}");
    assert!(e.message.contains("voltage unit"), "{e}");
}

#[test]
fn a_history_entry_without_at_is_a_no_value_entry() {
    let s = ok(&format!(
        "{BASE}[[meter.history]]\nmonth = \"2026-01\"\nat = \"2026-01-12 07:30:00\"\n\
         power = \"4.102 kW\"\n[[meter.history]]\nmonth = \"2026-02\"\n"
    ));
    let text = first_telegram(&s);
    // Two entries: January's peak, closed 1 February (CET); February's, no value.
    let line = text
        .lines()
        .find(|l| l.starts_with("0-0:98.1.0"))
        .expect("98.1.0 line");
    assert_eq!(
        line,
        "0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)\
         (260201000000W)(260112073000W)(04.102*kW)\
         (260301000000W)(632525252525W)(00.000*kW)"
    );
    // A power without `at` is refused at the power, `at` without a power at the entry.
    let e = error(&format!(
        "{BASE}[[meter.history]]\nmonth = \"2026-02\"\npower = \"1.5 kW\"\n"
    ));
    assert_eq!((e.line, e.column), (7, 9), "{e}");
    assert!(e.message.contains("no value"), "{e}");
    let e = error(&format!(
        "{BASE}[[meter.history]]\nmonth = \"2026-02\"\nat = \"2026-02-03 10:00:00\"\n"
    ));
    assert_eq!((e.line, e.column), (5, 1), "{e}");
    assert!(e.message.contains("needs its `power`"), "{e}");
}

#[test]
fn an_mbus_device_needs_its_equipment_id() {
    let e = error(&format!(
        "{BASE}[[meter.mbus]]\nchannel = 1\nkind = \"gas\"\n"
    ));
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("missing field `equipment_id`"), "{e}");
}

#[test]
fn only_gas_and_water_devices_are_accepted() {
    let e = error(&format!(
        "{BASE}[[meter.mbus]]\nchannel = 1\nkind = 4\nequipment_id = \"7FLO4100000123\"\n"
    ));
    assert_eq!((e.line, e.column), (7, 8), "{e}");
    assert!(e.message.contains("gas (3) and water (7)"), "{e}");
    // The type numbers of gas and water are their kinds.
    let s = ok(&format!(
        "{BASE}[[meter.mbus]]\nchannel = 1\nkind = 3\nequipment_id = \"7FLO4100000123\"\n"
    ));
    assert!(first_telegram(&s).contains("0-1:24.1.0(003)"));
}

#[test]
fn a_flow_needs_a_device_on_its_channel() {
    let flow = "[[loads.flow]]\nname = \"shower\"\nchannel = 2\nflow = \"0.5 m3/h\"\n";
    let e = error(&format!("{BASE}{flow}"));
    assert_eq!((e.line, e.column), (7, 11), "{e}");
    assert!(e.message.contains("no M-Bus device on channel 2"), "{e}");
    // A device configured on the channel, or coupled there by an event, will do.
    let device = "{ channel = 2, kind = \"water\", equipment_id = \"8SAG4100000456\" }";
    let s = ok(&format!(
        "{BASE}[[meter.mbus]]\nchannel = 2\nkind = \"water\"\n\
         equipment_id = \"8SAG4100000456\"\n{flow}"
    ));
    assert_eq!(s.load_names(), ["shower"]);
    ok(&format!(
        "{BASE}{flow}[[event]]\nat = \"+5s\"\naction = \"mbus_couple\"\ndevice = {device}\n"
    ));
}

fn tmp_file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("p1-scenario-documented-keys");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_replay_outside_the_run_is_refused() {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/data/fluvius-electricity-2023-10-26.csv")
        .canonicalize()
        .unwrap();
    let scenario = |start: &str| {
        format!(
            "start = \"{start}\"\nduration = \"1h\"\n[meter]\nmodel = \"S211\"\n\
             [[loads.replay]]\nname = \"portal\"\nelectricity = {:?}\n",
            csv.display().to_string()
        )
    };
    // The export covers 26 October 2023.
    let inside = tmp_file("inside.toml", &scenario("2023-10-26 10:00:00"));
    assert!(Scenario::from_path(&inside).is_ok());
    let outside = tmp_file("outside.toml", &scenario("2024-10-26 10:00:00"));
    let e = Scenario::from_path(&outside).unwrap_err();
    assert_eq!((e.line, e.column), (7, 15), "{e}");
    assert!(
        e.message.contains(
            "the electricity export covers 2023-10-26 00:00 to 2023-11-02 00:00, which does \
             not overlap the run (2024-10-26 10:00 to 2024-10-26 11:00)"
        ),
        "{e}"
    );
}
