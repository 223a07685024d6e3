//! Scenario errors: each bad input is reported at its exact line and column, with a
//! message saying what was expected. Positions are counted by hand from the inputs.

use std::path::{Path, PathBuf};

use p1_scenario::{ErrorKind, Scenario, ScenarioError};

/// Two valid lines every case starts with.
const BASE: &str = "start = \"2026-03-02 10:00:00\"\nduration = \"10s\"\n";

fn error(text: &str) -> ScenarioError {
    match Scenario::parse("bad.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error's position and that its text (message and suggestion) contains
/// every fragment.
fn check(text: &str, line: usize, column: usize, fragments: &[&str]) {
    let e = error(text);
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert_eq!(e.path, "bad.toml");
    for f in fragments {
        assert!(e.to_string().contains(f), "`{f}` not in: {e}");
    }
    assert!(
        e.to_string()
            .starts_with(&format!("bad.toml:{line}:{column}: ")),
        "{e}"
    );
}

fn mbus(channel: u32, kind: &str, id: &str) -> String {
    format!("[[meter.mbus]]\nchannel = {channel}\nkind = \"{kind}\"\nequipment_id = \"{id}\"\n")
}

#[test]
fn unknown_key_suggests_the_closest() {
    check(
        &format!("{BASE}[meter]\nmodle = \"T211\"\n"),
        4,
        1,
        &["unknown key `modle`", "did you mean `model`?"],
    );
    check(
        &format!("{BASE}[[loads.pvv]]\nname = \"x\"\n"),
        3,
        9,
        &["unknown key `pvv`", "did you mean `pv`?"],
    );
    check(
        &format!("{BASE}[[loads.pv]]\nname = \"x\"\npeak = \"1 kW\"\nphase = [1]\n"),
        6,
        1,
        &["did you mean `phases`?"],
    );
    check(
        &format!("durration = \"1m\"\n{BASE}"),
        1,
        1,
        &["did you mean `duration`?"],
    );
}

#[test]
fn errors_are_typed_with_their_kind_and_suggestion() {
    let e = error(&format!("{BASE}[meter]\nmodle = \"T211\"\n"));
    assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    assert_eq!(e.message, "unknown key `modle`");
    assert_eq!(e.suggestion.as_deref(), Some("model"));
    let e = error(&format!("{BASE}[meter]\ngrid = \"3x400v\"\n"));
    assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    assert_eq!(e.suggestion.as_deref(), Some("3x400V"));
    let e = error(&format!(
        "{BASE}[[loads.constant]]\nname = \"heater\"\npower = \"2 kW\"\n\
         [[event]]\nat = \"+1s\"\naction = \"load_disable\"\nload = \"haeter\"\n"
    ));
    assert_eq!(e.kind, ErrorKind::Value, "{e}");
    assert_eq!(e.message, "no load named `haeter`");
    assert_eq!(e.suggestion.as_deref(), Some("heater"));
    let e = error(&format!(
        "{BASE}[meter]\nmodel = \"S211\"\ngrid = \"3x400V\"\n"
    ));
    assert_eq!(
        (e.kind, e.suggestion.as_deref()),
        (ErrorKind::Value, None),
        "{e}"
    );
    let e = Scenario::from_path(Path::new("/nonexistent/p1sim.toml")).unwrap_err();
    assert_eq!((e.kind, e.position()), (ErrorKind::Read, None), "{e}");
    // No fake `:1:1`: the path, then the OS reason.
    assert!(
        e.to_string()
            .starts_with("/nonexistent/p1sim.toml: cannot read the scenario: "),
        "{e}"
    );
}

#[test]
fn unknown_names_suggest_the_closest() {
    check(
        &format!("{BASE}[meter]\ngrid = \"3x400v\"\n"),
        4,
        8,
        &["unknown grid `3x400v`", "did you mean `3x400V`?"],
    );
    check(
        &format!("{BASE}[[event]]\nat = \"+1s\"\naction = \"remote_disconect\"\n"),
        5,
        10,
        &["did you mean `remote_disconnect`?"],
    );
    check(
        &format!(
            "{BASE}[[loads.constant]]\nname = \"heater\"\npower = \"2 kW\"\n\
             [[event]]\nat = \"+1s\"\naction = \"load_disable\"\nload = \"haeter\"\n"
        ),
        9,
        8,
        &["no load named `haeter`", "did you mean `heater`?"],
    );
}

#[test]
fn wrong_types() {
    check(
        &format!("{BASE}[meter]\nmodel = 211\n"),
        4,
        9,
        &["integer", "expected model"],
    );
    check(
        &format!("{BASE}[meter]\nimport_day_kwh = 1.5\n"),
        4,
        18,
        &["float 1.5", "as a string"],
    );
    check(
        &format!("{BASE}[meter]\nimport_day_kwh = \"1.2345\"\n"),
        4,
        18,
        &["4 decimals", "at most 3"],
    );
    check(&format!("{BASE}interval = 5\n"), 3, 12, &["needs a unit"]);
    check(
        &format!("{BASE}interval = \"5 parsecs\"\n"),
        3,
        12,
        &["not a duration"],
    );
    check(
        &format!("{BASE}[[loads.constant]]\nname = \"x\"\npower = \"2\"\n"),
        5,
        9,
        &["needs a unit"],
    );
}

#[test]
fn impossible_meters() {
    check(
        &format!("{BASE}[meter]\nmodel = \"S211\"\ngrid = \"3x400V\"\n"),
        5,
        8,
        &["S211 is a single-phase meter"],
    );
    check(
        &format!("{BASE}[meter]\nmodel = \"T211\"\ngrid = \"1x230V\"\n"),
        5,
        8,
        &["T211 is a three-phase meter"],
    );
    // Five devices: the 5th table starts on line 3 + 4 * 4 = 19.
    let mut text = BASE.to_owned();
    for ch in 1..=5 {
        text += &mbus(ch, "gas", "7FLO4100000123");
    }
    check(&text, 19, 1, &["at most 4 M-Bus channels", "5th"]);
    check(
        &format!("{BASE}{}", mbus(5, "gas", "7FLO4100000123")),
        4,
        11,
        &["channels are 1 to 4, found 5"],
    );
    check(
        &format!("{BASE}{}", mbus(2, "water", "7SAG4100000456")),
        6,
        16,
        &["water meter", "medium digit 8", "starts with 7 (gas)"],
    );
    check(
        &format!("{BASE}{}", mbus(1, "gas", "7FLO41")),
        6,
        16,
        &["14 ASCII characters"],
    );
    // Caught by p1-meter (water needs 50216) and mapped back to the device's `kind`.
    check(
        &format!(
            "{BASE}[meter]\nfirmware = \"50215\"\n{}",
            mbus(1, "water", "8SAG4100000456")
        ),
        7,
        8,
        &["50216"],
    );
}

#[test]
fn impossible_loads() {
    check(
        &format!(
            "{BASE}[meter]\nmodel = \"S211\"\n[[loads.constant]]\nname = \"x\"\n\
             phases = [1, 2]\npower = \"1 kW\"\n"
        ),
        7,
        10,
        &["S211 has one phase"],
    );
    check(
        &format!(
            "{BASE}[meter]\ngrid = \"3x230V\"\n[[loads.constant]]\nname = \"x\"\n\
             phases = [2]\npower = \"1 kW\"\n"
        ),
        7,
        10,
        &["delta", "L2 is the reference"],
    );
    check(
        &format!(
            "{BASE}[[loads.constant]]\nname = \"x\"\npower = 1\n\
             [[loads.constant]]\nname = \"x\"\npower = 2\n"
        ),
        7,
        8,
        &["load named `x` already exists"],
    );
}

#[test]
fn local_times_that_do_not_exist_or_repeat() {
    check(
        "start = \"2026-03-29 02:30:00\"\nduration = \"1m\"\n",
        1,
        9,
        &["does not exist in Belgium"],
    );
    check(
        "start = \"2026-10-25 02:30:00\"\nduration = \"1m\"\n",
        1,
        9,
        &["occurs twice", "+02:00", "+01:00"],
    );
    // With an offset both are fine.
    assert!(
        Scenario::parse(
            "ok.toml",
            "start = \"2026-10-25T02:30:00+01:00\"\nduration = \"1m\"\n"
        )
        .is_ok()
    );
}

#[test]
fn event_parameters() {
    check(
        &format!("{BASE}[[event]]\nat = \"+1s\"\naction = \"release\"\nheld = \"3s\"\n"),
        6,
        8,
        &["`held` does not apply to action `release`", "takes nothing"],
    );
    check(
        &format!("{BASE}[[event]]\nat = \"+1s\"\naction = \"set_limiter\"\n"),
        3,
        1,
        &["action `set_limiter` needs `limiter_kw`"],
    );
    check(
        &format!("{BASE}[[event]]\nat = \"2026-03-02 09:00:00\"\naction = \"power_fail\"\n"),
        4,
        6,
        &["before the scenario's `start`"],
    );
}

#[test]
fn toml_syntax() {
    check(&format!("{BASE}[meter\n"), 3, 7, &[]);
}

#[test]
fn missing_end() {
    check(
        "start = \"2026-03-02 10:00:00\"\n",
        1,
        9,
        &["needs `end` or `duration`"],
    );
}

fn tmp_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("p1-scenario-errors");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_csv_row() {
    let csv = "\u{feff}From (date);From (time);Until (date);Until (time);EAN code;Meter;\
               Meter type;Register;Volume;Unit;Validation status;Description\r\n\
               02/03/2026;10:00:00;02/03/2026;10:15:00;=\"1\";1SAG;Digital meter;Offtake Day;0,120;kWh;Read;\r\n\
               02/03/2026;10:00:00;02/03/2026;10:15:00;=\"1\";1SAG;Digital meter;Injection Day;0,000;kWh;Read;\r\n\
               02/03/2026;10:15:00;02/03/2026;10:30:00;=\"1\";1SAG;Digital meter;Offtake Day;0.1.2;kWh;Read;\r\n";
    let csv_path = tmp_file("bad-row.csv", csv);
    let scenario = tmp_file(
        "bad-row.toml",
        "start = \"2026-03-02 10:00:00\"\nduration = \"1h\"\n\
         [[loads.replay]]\nname = \"r\"\nelectricity = \"bad-row.csv\"\n",
    );
    let e = match Scenario::from_path(&scenario) {
        Ok(_) => panic!("accepted a bad CSV"),
        Err(e) => e,
    };
    assert_eq!(e.path, csv_path.display().to_string());
    // Line 4; the Volume cell starts after 8 fields of 10+9+10+9+4+4+13+11 chars and 8 `;`.
    assert_eq!((e.line, e.column), (4, 77), "{e}");
    assert!(e.message.contains("decimal comma"), "{e}");

    let e = match Scenario::from_path(&tmp_file(
        "missing.toml",
        "start = \"2026-03-02 10:00:00\"\nduration = \"1h\"\n\
         [[loads.replay]]\nname = \"r\"\nelectricity = \"nowhere.csv\"\n",
    )) {
        Ok(_) => panic!("accepted a missing CSV"),
        Err(e) => e,
    };
    assert_eq!((e.line, e.column), (5, 15), "{e}");
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn replay_labels_checked_against_the_calendar_on_request() {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/data/fluvius-electricity-2023-10-26.csv")
        .canonicalize()
        .unwrap();
    // With the day tariff ending at 21:00, Thursday 26/10 21:00 is night for the meter
    // but "Offtake Day" in the export; `tariff = "calendar"` asks for the strict check
    // (by default the labels set the tariff, tests/replay.rs).
    let scenario = tmp_file(
        "mismatch.toml",
        &format!(
            "start = \"2023-10-26 00:00:00\"\nduration = \"1d\"\n[meter.tariff]\n\
             day_end = \"21:00\"\n[[loads.replay]]\nname = \"r\"\ntariff = \"calendar\"\n\
             electricity = {:?}\n",
            csv.display().to_string()
        ),
    );
    let e = match Scenario::from_path(&scenario) {
        Ok(_) => panic!("accepted a calendar that contradicts the export"),
        Err(e) => e,
    };
    let text = std::fs::read_to_string(&csv).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("26/10/2023;21:00:00;"))
        .unwrap()
        + 1;
    assert_eq!(e.path, csv.display().to_string());
    assert_eq!((e.line, e.column), (line, 1), "{e}");
    assert!(e.message.contains("labels the quarter"), "{e}");
    // Without `tariff = "calendar"` the same file is accepted.
    let relaxed = tmp_file(
        "mismatch-relaxed.toml",
        &std::fs::read_to_string(&scenario)
            .unwrap()
            .replace("tariff = \"calendar\"\n", ""),
    );
    assert!(Scenario::from_path(&relaxed).is_ok());
}

#[test]
fn faults() {
    let fault = |body: &str| format!("{BASE}[[faults]]\n{body}");
    // An unknown fault kind, inside the inline table.
    check(
        &fault("fault = { kind = \"bitflip\" }\nschedule = { at_index = 1 }\n"),
        4,
        18,
        &["unknown value `bitflip`; did you mean `bit_flip`?"],
    );
    // A parameter out of range: at the `fault` value.
    check(
        &fault("fault = { kind = \"wrong_crc\", xor = 0 }\nschedule = { at_index = 1 }\n"),
        4,
        9,
        &["fault `wrong_crc`: expected a non-zero xor mask"],
    );
    // A schedule p1-faults refuses: at the `schedule` value.
    check(
        &fault("fault = { kind = \"silence\" }\nschedule = { every = { n = 3, offset = 3 } }\n"),
        5,
        12,
        &["schedule: expected offset below n"],
    );
    // Scenario instants in schedules.
    check(
        &fault("fault = { kind = \"silence\" }\nschedule = { at = \"2026-03-02 09:59:00\" }\n"),
        5,
        19,
        &["before the scenario's `start`"],
    );
    check(
        &fault(
            "fault = { kind = \"silence\" }\n\
             schedule = { window = { from = \"+5s\", until = \"+5s\" } }\n",
        ),
        5,
        47,
        &["`until` must be after its `from`"],
    );
    check(
        &fault("fault = { kind = \"silence\" }\nschedule = { window = { from = \"+5s\" } }\n"),
        5,
        23,
        &["a window needs `until`"],
    );
    check(
        &fault("fault = { kind = \"silence\" }\nschedule = { at = \"2026-03-29 02:30\" }\n"),
        5,
        19,
        &["does not exist in Belgium"],
    );
    check(
        &fault("fault = { kind = \"silence\" }\nschedule = { sometimes = 1 }\n"),
        5,
        14,
        &["unknown variant `sometimes`"],
    );
}

#[test]
fn huge_flows_are_refused_at_their_value() {
    // 9e15 l/h = 9e18 ml/h still fits in i64, so only the bound refuses it; scaling it
    // by a load's per-mille used to overflow.
    let flow =
        |key_value: &str| format!("{BASE}[[loads.flow]]\nname = \"f\"\nchannel = 1\n{key_value}\n");
    check(
        &flow("flow = \"9000000000000000 l/h\""),
        6,
        8,
        &["a flow is at most 1000 m3/h"],
    );
    check(
        &flow("flow = \"1000.000001 m3/h\""),
        6,
        8,
        &["a flow is at most 1000 m3/h"],
    );
    check(
        &flow("flow = 9000000000000000"),
        6,
        8,
        &["a flow is at most 1000 m3/h"],
    );
    check(&flow("flow = 99999999999999999"), 6, 8, &["flow too large"]);
    // `daily = [["00:00", "` is 19 characters.
    check(
        &flow("daily = [[\"00:00\", \"9000000000000000 l/h\"]]"),
        6,
        20,
        &["a flow is at most 1000 m3/h"],
    );
    // The largest flow is accepted.
    let ok = flow("flow = \"1000 m3/h\"") + &mbus(1, "gas", "7MIT1234567890");
    if let Err(e) = Scenario::parse("ok.toml", &ok) {
        panic!("refused the largest flow: {e}");
    }
}

/// A Fluvius header and one data row per `(time on 2 March 2026, register, volume,
/// unit)`; a row lasts a quarter, an hour for gas (unit `m³`).
fn export(rows: &[(&str, &str, &str, &str)]) -> String {
    let mut text = "\u{feff}From (date);From (time);Until (date);Until (time);EAN code;Meter;\
                    Meter type;Register;Volume;Unit;Validation status;Description\r\n"
        .to_owned();
    for (time, register, volume, unit) in rows {
        let minutes = time[..2].parse::<u32>().unwrap() * 60 + time[3..5].parse::<u32>().unwrap();
        let end = minutes + if *unit == "m³" { 60 } else { 15 };
        let until = format!("{:02}:{:02}:00", end / 60, end % 60);
        text += &format!(
            "02/03/2026;{time};02/03/2026;{until};=\"1\";1SAG;Digital meter;{register};\
             {volume};{unit};Read;\r\n"
        );
    }
    text
}

fn replay_error(name: &str, key: &str, csv: &str) -> (PathBuf, ScenarioError) {
    let csv_path = tmp_file(&format!("{name}.csv"), csv);
    let scenario = tmp_file(
        &format!("{name}.toml"),
        &format!(
            "start = \"2026-03-02 10:00:00\"\nduration = \"1h\"\n\
             [[loads.replay]]\nname = \"r\"\n{key} = \"{name}.csv\"\n"
        ),
    );
    match Scenario::from_path(&scenario) {
        Ok(_) => panic!("accepted {name}.csv"),
        Err(e) => (csv_path, e),
    }
}

#[test]
fn huge_replay_volumes_are_refused_at_their_cell() {
    // The Volume cell starts after 8 fields of 10+8+10+8+4+4+13 chars, the register and
    // 8 `;`: column 57 + register length + 8 + 1.
    let (path, e) = replay_error(
        "huge-quarter",
        "electricity",
        &export(&[("10:00:00", "Offtake Day", "9000000000000000,000", "kWh")]),
    );
    assert_eq!(e.path, path.display().to_string());
    assert_eq!((e.line, e.column), (2, 66 + 11), "{e}");
    assert!(e.message.contains("at most 125000 kWh"), "{e}");

    // Two rows of one register and quarter, each fine alone, do not add up to more: the
    // second is a duplicate, blamed at its start time (after 10+1 characters).
    let (_, e) = replay_error(
        "huge-sum",
        "electricity",
        &export(&[
            ("10:00:00", "Injection Day", "100000,000", "kWh"),
            ("10:00:00", "Injection Day", "25000,001", "kWh"),
        ]),
    );
    assert_eq!((e.line, e.column), (3, 12), "{e}");
    assert!(e.message.contains("duplicated injection row"), "{e}");

    let (path, e) = replay_error(
        "huge-gas",
        "gas",
        &export(&[("10:00:00", "Offtake", "9000000000000000,000", "m³")]),
    );
    assert_eq!(e.path, path.display().to_string());
    assert_eq!((e.line, e.column), (2, 66 + 7), "{e}");
    assert!(e.message.contains("at most 1000 m³"), "{e}");

    // The largest volumes are accepted.
    let ok = |name: &str, key: &str, csv: String| {
        let _ = tmp_file(&format!("{name}.csv"), &csv);
        let scenario = tmp_file(
            &format!("{name}.toml"),
            &format!(
                "start = \"2026-03-02 10:00:00\"\nduration = \"1h\"\n\
                 [[loads.replay]]\nname = \"r\"\n{key} = \"{name}.csv\"\n{}",
                mbus(1, "gas", "7MIT1234567890")
            ),
        );
        if let Err(e) = Scenario::from_path(&scenario) {
            panic!("refused {name}: {e}");
        }
    };
    ok(
        "max-quarter",
        "electricity",
        export(&[
            ("10:00:00", "Offtake Day", "125000,000", "kWh"),
            ("10:00:00", "Injection Day", "125000,000", "kWh"),
        ]),
    );
    ok(
        "max-gas",
        "gas",
        export(&[("10:00:00", "Offtake", "1000,000", "m³")]),
    );
}
