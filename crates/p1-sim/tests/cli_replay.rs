//! `p1sim replay` end to end through the real binary, on the real sample exports and no
//! scenario: the truth file's registers grow by exactly each quarter's CSV volumes (each
//! gas hour's), the monthly peaks are the largest quarter ×4, the October DST change is
//! carried; the written scenario plays the same bytes; bad rows exit 2 with a position.
//! Expected values come from the CSV text, read here with the test's own code.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Europe::Brussels;
use common::{p1sim, p1sim_ok};
use serde_json::Value;

fn sample(name: &str) -> String {
    common::root()
        .join("scenarios/data/fluvius-portal")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("p1sim-cli-replay");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// "0,173" → 173 (Wh or dm³); empty → 0.
fn milli(cell: &str) -> i64 {
    if cell.is_empty() {
        return 0;
    }
    let (int, frac) = cell.split_once(',').unwrap();
    assert_eq!(frac.len(), 3, "{cell}");
    int.parse::<i64>().unwrap() * 1000 + frac.parse::<i64>().unwrap()
}

/// UTC ms of each row's start: the repeated October hour's first row of a local time is
/// summer time, the next one winter time.
struct Clock(BTreeMap<(String, String), u32>);

impl Clock {
    fn utc_ms(&mut self, date: &str, time: &str, register: &str) -> i64 {
        let fmt = if date.contains('/') {
            "%d/%m/%Y %H:%M:%S"
        } else {
            "%d-%m-%Y %H:%M:%S"
        };
        let naive = NaiveDateTime::parse_from_str(&format!("{date} {time}"), fmt).unwrap();
        let seen = self
            .0
            .entry((format!("{date} {time}"), register.to_owned()))
            .or_insert(0);
        *seen += 1;
        match Brussels.from_local_datetime(&naive) {
            chrono::LocalResult::Single(t) => t.timestamp_millis(),
            chrono::LocalResult::Ambiguous(summer, winter) => {
                if *seen == 1 { summer } else { winter }.timestamp_millis()
            }
            chrono::LocalResult::None => panic!("{naive} does not exist"),
        }
    }
}

/// Quarter start (UTC ms) → ([offtake, injection] Wh, tariff 1 day / 2 night).
fn quarters(path: &str) -> BTreeMap<i64, ([i64; 2], usize)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut clock = Clock(BTreeMap::new());
    let mut out: BTreeMap<i64, ([i64; 2], usize)> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(';').collect();
        let t = clock.utc_ms(f[0], f[1], f[7]);
        let q = out.entry(t).or_default();
        let side = usize::from(f[7].starts_with("Inj"));
        q.0[side] += milli(f[8]);
        q.1 = if f[7].ends_with("Day") || f[7].ends_with("Dag") {
            1
        } else {
            2
        };
    }
    out
}

/// Hour start (UTC ms) → dm³, from the m³ rows.
fn gas_hours(path: &str) -> BTreeMap<i64, i64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut clock = Clock(BTreeMap::new());
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(';').collect();
        if f[9] == "m³" {
            out.insert(clock.utc_ms(f[0], f[1], "gas"), milli(f[8]));
        }
    }
    out
}

/// The truth file's records by UTC ms.
fn truth(path: &Path) -> BTreeMap<i64, Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["state"]["true_ms"].as_i64().unwrap(), v)
        })
        .collect()
}

fn wh(v: &Value, key: &str, tariff: usize) -> i64 {
    v["state"][key][tariff - 1].as_i64().unwrap()
}

/// Replays `electricity` (and `gas`) at one telegram a quarter and checks every quarter,
/// every month's peak and every gas hour against the CSV.
fn check_export(name: &str, electricity: Option<&str>, gas: Option<&str>, shape: &str) {
    let truth_path = tmp(&format!("{name}.truth.jsonl"));
    let out = tmp(&format!("{name}.p1"));
    let mut args = vec![
        "replay",
        "--interval",
        "15m",
        "--shape",
        shape,
        "--out",
        out.to_str().unwrap(),
        "--truth",
        truth_path.to_str().unwrap(),
    ];
    args.extend(electricity);
    if let Some(g) = gas {
        args.extend(["--gas", g]);
    }
    p1sim_ok(&args);
    let records = truth(&truth_path);
    let Some(electricity) = electricity else {
        check_gas(name, &records, gas.unwrap());
        // One telegram per quarter of the gas export's hours and one at its end.
        assert_eq!(
            records.len(),
            gas_hours(gas.unwrap()).len() * 4 + 1,
            "{name}"
        );
        return;
    };
    let quarters = quarters(electricity);
    // One telegram per quarter and one at the export's end.
    assert_eq!(records.len(), quarters.len() + 1, "{name}");

    let mut peaks: BTreeMap<String, i64> = BTreeMap::new();
    for (&start, &([offtake, injection], tariff)) in &quarters {
        let (before, after) = (&records[&start], &records[&(start + 900_000)]);
        for (key, volume) in [("import_wh", offtake), ("export_wh", injection)] {
            assert_eq!(
                wh(after, key, tariff) - wh(before, key, tariff),
                volume,
                "{name}: {key} of the quarter at {}",
                before["local"]
            );
            let other = 3 - tariff;
            assert_eq!(wh(after, key, other), wh(before, key, other), "{name}");
        }
        let month = before["local"].as_str().unwrap()[..4].to_owned();
        let peak = peaks.entry(month).or_insert(0);
        *peak = (*peak).max(offtake * 4);
    }
    // Each month closed into the history with its largest quarter ×4.
    let last = records.values().last().unwrap();
    let history = last["readout"]["demand"]["history"].as_array().unwrap();
    let closed: Vec<(String, i64)> = history
        .iter()
        .map(|h| {
            let period = h["period"].as_str().unwrap();
            (period.to_owned(), h["w"].as_i64().unwrap())
        })
        .collect();
    let months: Vec<&String> = peaks.keys().collect();
    assert!(closed.len() >= months.len() - 1, "{name}: {closed:?}");
    for (month, w) in &closed {
        // A period is stamped with the month's end: the month before it.
        let (yy, mm): (u32, u32) = (month[..2].parse().unwrap(), month[2..4].parse().unwrap());
        let before = if mm == 1 {
            format!("{:02}12", yy - 1)
        } else {
            format!("{yy:02}{:02}", mm - 1)
        };
        assert_eq!(Some(w), peaks.get(&before), "{name}: month {before}");
    }

    // The October change: the day with the repeated hour has 100 quarters, S then W.
    let oct29: Vec<&str> = records
        .values()
        .map(|r| r["local"].as_str().unwrap())
        .filter(|l| l.starts_with("231029") || l.starts_with("211031"))
        .collect();
    if !oct29.is_empty() {
        assert_eq!(oct29.len(), 100, "{name}");
        assert!(oct29.iter().any(|l| l.ends_with("020000S")), "{name}");
        assert!(oct29.iter().any(|l| l.ends_with("020000W")), "{name}");
    }

    if let Some(g) = gas {
        check_gas(name, &records, g);
    }
}

/// Each gas hour's m³ rows against the gas meter's exact volume.
fn check_gas(name: &str, records: &BTreeMap<i64, Value>, gas: &str) {
    let hours = gas_hours(gas);
    let ml = |t: i64| records[&t]["state"]["mbus"][0]["live_ml"].as_i64().unwrap();
    for (&start, &dm3) in &hours {
        assert_eq!(
            ml(start + 3_600_000) - ml(start),
            dm3 * 1000,
            "{name}: gas at {start}"
        );
    }
    let total: i64 = hours.values().sum();
    assert!(total > 0, "{name}");
    assert_eq!(ml(*records.keys().last().unwrap()), total * 1000, "{name}");
}

#[test]
fn the_english_sample_replays_exactly_with_no_scenario() {
    check_export(
        "english",
        Some(&sample(
            "Consumption_history_electricity_15 minute totals.csv",
        )),
        Some(&sample("Consumption_history_gas_hourly totals.csv")),
        "flat",
    );
}

#[test]
fn the_dutch_sample_replays_exactly_with_no_scenario() {
    // The Dutch samples cover different months (October 2021, January 2022): each alone.
    check_export(
        "dutch",
        Some(&sample(
            "Verbruikshistoriek_elektriciteit_kwartiertotalen.csv",
        )),
        None,
        "flat",
    );
    check_export(
        "dutch-gas",
        None,
        Some(&sample("Verbruikshistoriek_gas_uurtotalen.csv")),
        "flat",
    );
}

#[test]
fn the_household_shape_keeps_every_quarter_exact() {
    // A week of the English sample, across the October change, second by second.
    let week = common::root()
        .join("scenarios/data/fluvius-electricity-2023-10-26.csv")
        .display()
        .to_string();
    check_export("household", Some(&week), None, "household");
}

#[test]
fn the_written_scenario_plays_the_same_bytes() {
    // The same replay, played to a file or written as a scenario.
    let replay = |to: &[&str]| {
        let mut args = vec![
            "replay",
            "scenarios/data/fluvius-electricity-2023-10-26.csv",
            "--gas",
            "scenarios/data/fluvius-gas-2023-10-26.csv",
            "--interval",
            "1m",
            "--seed",
            "7",
            "--import-day-kwh",
            "1520.5",
        ];
        args.extend(to);
        p1sim_ok(&args);
    };
    let direct = tmp("direct.p1");
    replay(&["--out", direct.to_str().unwrap()]);
    let scenario = tmp("written.toml");
    replay(&["--write-scenario", scenario.to_str().unwrap()]);
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(text.contains("import_day_kwh = \"1520.5\""), "{text}");
    assert!(text.contains("equipment_id = \"1SAG1234567890\""), "{text}");
    assert!(text.contains("equipment_id = \"7MIT1234567890\""), "{text}");

    let played = tmp("played.p1");
    p1sim_ok(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        played.to_str().unwrap(),
    ]);
    let (a, b) = (
        std::fs::read(direct).unwrap(),
        std::fs::read(played).unwrap(),
    );
    assert!(
        !a.is_empty() && a == b,
        "the written scenario plays other bytes"
    );
    // The equipment id is the export's, the first telegram's 1.8.1 the one given.
    let first = String::from_utf8_lossy(&a[..a.len().min(800)]).into_owned();
    assert!(first.contains("1-0:1.8.1(001520.500*kWh)"), "{first}");
    assert!(
        first.contains("0-0:96.1.1(3153414731323334353637383930)"),
        "{first}"
    );
}

#[test]
fn with_the_golden_scenarios_meter_it_plays_the_golden_bytes() {
    // scenarios/fluvius-replay.toml is this week's export with that [meter] (gas meter
    // included), flat, seed 16, a telegram an hour, ending at the export's end. The
    // replay plays the same telegrams and one more, at the export's end.
    let out = tmp("golden-prefix.p1");
    p1sim_ok(&[
        "replay",
        "scenarios/data/fluvius-electricity-2023-10-26.csv",
        "--gas",
        "scenarios/data/fluvius-gas-2023-10-26.csv",
        "--meter",
        "scenarios/fluvius-replay.toml",
        "--shape",
        "flat",
        "--seed",
        "16",
        "--interval",
        "1h",
        "--out",
        out.to_str().unwrap(),
    ]);
    let played = std::fs::read(out).unwrap();
    let golden = std::fs::read(common::root().join("golden/fluvius-replay.p1")).unwrap();
    assert!(played.len() > golden.len() && played.starts_with(&golden));
    assert_eq!(
        played[golden.len()..]
            .iter()
            .filter(|&&b| b == b'/')
            .count(),
        1
    );
}

#[test]
fn a_bad_row_exits_2_with_its_position() {
    let text = std::fs::read_to_string(sample(
        "Consumption_history_electricity_15 minute totals.csv",
    ))
    .unwrap();
    let mut lines: Vec<&str> = text.lines().take(20).collect();
    // Line 8 cut to 5 cells.
    let cut: String = lines[7].split(';').take(5).collect::<Vec<_>>().join(";");
    lines[7] = &cut;
    let path = tmp("cut.csv");
    std::fs::write(&path, lines.join("\r\n")).unwrap();
    let path = path.to_str().unwrap();
    let cut_at = format!(
        "{path}:8:{}: a row of 5 cells: expected 12",
        cut.chars().count() + 1
    );

    let week = "scenarios/data/fluvius-electricity-2023-10-26.csv";
    for (args, expected) in [
        (vec!["replay", path], cut_at.as_str()),
        (vec!["replay", "/dev/zero"], "/dev/zero:1:4097:"),
        (
            vec!["replay", "scenarios/quickstart.toml"],
            "scenarios/quickstart.toml:1:1: not a Fluvius portal export",
        ),
        (
            vec!["replay", week, "--import-day-kwh", "12,5"],
            "--import-day-kwh",
        ),
        (
            vec!["replay", week, "--interval", "often"],
            "`interval = \"often\"` (from the options): `often` is not a duration",
        ),
    ] {
        let o = p1sim(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
