//! Fluvius replay: the telegrams' registers and peaks equal what the export says,
//! computed here straight from the CSV (not through the crate's parser).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{HEADER, plus_minutes};
use p1_scenario::{Scenario, Simulation};
use p1_wire::Readout;

/// (date DD/MM/YYYY, time, register, Wh) rows of the English export.
fn rows(path: &Path) -> Vec<(String, String, String, i64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            // "0,173" -> 173 Wh; empty ("No consumption") -> 0.
            let wh = if f[8].is_empty() {
                0
            } else {
                let (int, frac) = f[8].split_once(',').unwrap();
                assert_eq!(frac.len(), 3);
                int.parse::<i64>().unwrap() * 1000 + frac.parse::<i64>().unwrap()
            };
            (f[0].to_owned(), f[1].to_owned(), f[7].to_owned(), wh)
        })
        .collect()
}

#[test]
fn replay_registers_and_peaks_match_the_export() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut scenario = Scenario::from_path(&dir.join("fluvius-replay.toml")).unwrap();
    // One more telegram exactly at the end, when the last quarter is complete.
    scenario.end = scenario.end.plus_ms(1);
    let frames: Vec<Readout> = Simulation::new(&scenario)
        .map(|f| f.readout.unwrap())
        .collect();
    // 7 days + the repeated hour of 29 October, plus the closing telegram.
    assert_eq!(frames.len(), 7 * 24 + 1 + 1);
    let (first, last) = (&frames[0], &frames[frames.len() - 1]);

    let rows = rows(&dir.join("data/fluvius-electricity-2023-10-26.csv"));
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, _, register, wh) in &rows {
        *totals.entry(register.as_str()).or_default() += wh;
    }
    let delta = |now: u64, then: u64| (now - then) as i64;
    assert_eq!(
        delta(last.import_wh[0], first.import_wh[0]),
        totals["Offtake Day"]
    );
    assert_eq!(
        delta(last.import_wh[1], first.import_wh[1]),
        totals["Offtake Night"]
    );
    assert_eq!(
        delta(last.export_wh[0], first.export_wh[0]),
        totals["Injection Day"]
    );
    assert_eq!(
        delta(last.export_wh[1], first.export_wh[1]),
        totals["Injection Night"]
    );

    // Quarter demand = 4 x offtake; the month's peak is the largest quarter.
    let peak = |month: &str| {
        rows.iter()
            .filter(|(date, _, reg, _)| date.ends_with(month) && reg.starts_with("Offtake"))
            .map(|r| r.3 * 4)
            .max()
            .unwrap()
    };
    let october = peak("/10/2023");
    let november = peak("/11/2023");
    let demand = last.demand.as_ref().unwrap();
    let closed = demand.history.last().unwrap();
    assert_eq!(closed.period.to_string(), "231101000000W");
    assert_eq!(i64::from(closed.w), october);
    assert_eq!(i64::from(demand.peak.w), november);

    // The winning October quarter, if unique, is stamped with its end (local time).
    let winners: Vec<_> = rows
        .iter()
        .filter(|(d, _, reg, wh)| {
            d.ends_with("/10/2023") && reg.starts_with("Offtake") && wh * 4 == october
        })
        .collect();
    if let [(date, time, _, _)] = winners.as_slice() {
        let end_min =
            time[..2].parse::<u32>().unwrap() * 60 + time[3..5].parse::<u32>().unwrap() + 15;
        let expected = format!(
            "23{}{}{:02}{:02}00",
            &date[3..5],
            &date[..2],
            end_min / 60,
            end_min % 60
        );
        assert!(
            closed.at.to_string().starts_with(&expected),
            "{} vs {expected}",
            closed.at
        );
    }
}

/// An export whose Day/Night labels contradict the default calendar (weekdays 07:00-22:00
/// day): Wednesday 4 March 2026, Day before 07:00, Night in the afternoon, a quarter with
/// no row at all and one whose only row names no register. Each row is
/// (local time of the quarter, register, volume as written).
const CONTRARY: &[(&str, &str, &str)] = &[
    ("06:30:00", "Offtake Day", "0,250"),
    ("06:30:00", "Injection Day", "0,000"),
    ("06:45:00", "Offtake Day", "0,125"),
    ("06:45:00", "Injection Day", "0,040"),
    ("07:00:00", "Offtake Night", "0,300"),
    ("07:00:00", "Injection Night", "0,000"),
    ("07:15:00", "Offtake Night", "0,075"),
    ("07:15:00", "Injection Night", "0,010"),
    // 07:30 missing; 07:45 without register or volume.
    ("07:45:00", "", ""),
    ("14:00:00", "Offtake Night", "0,500"),
    ("14:00:00", "Injection Night", "0,000"),
    ("14:15:00", "Offtake Day", "0,111"),
    ("14:15:00", "Injection Day", "0,000"),
    ("14:30:00", "Offtake Night", "0,000"),
    ("14:30:00", "Injection Night", "0,333"),
    ("14:45:00", "Offtake Night", ""),
    ("14:45:00", "Injection Night", ""),
];

fn contrary_csv() -> String {
    let mut text = HEADER.to_owned();
    for (time, register, volume) in CONTRARY {
        let status = if volume.is_empty() {
            "No consumption"
        } else {
            "Read"
        };
        let until = plus_minutes(time, 15);
        text += &format!(
            "04/03/2026;{time};04/03/2026;{until};=\"541448820000000001\";1SAG1100000001;\
             Digital meter;{register};{volume};kWh;{status};\r\n"
        );
    }
    text
}

/// The labels set the tariff: registers split day/night exactly as the export's labels
/// say, although the calendar says the opposite; unlabelled quarters and the time outside
/// the export follow the calendar.
#[test]
fn labels_that_contradict_the_calendar_set_the_tariff() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("p1-scenario-replay-labels");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("contrary.csv"), contrary_csv()).unwrap();
    let toml = "start = \"2026-03-04 06:00:00\"\nend = \"2026-03-04 17:00:00\"\n\
                interval = \"1m\"\n[meter]\nmodel = \"S211\"\n\
                [[loads.replay]]\nname = \"portal\"\nelectricity = \"contrary.csv\"\n\
                gaps = \"zero\"\n";
    std::fs::write(dir.join("contrary.toml"), toml).unwrap();
    let scenario = Scenario::from_path(&dir.join("contrary.toml")).unwrap();
    let frames: Vec<_> = Simulation::new(&scenario).collect();

    // Totals per register, straight from the table above.
    let wh = |v: &str| -> u64 {
        if v.is_empty() {
            return 0;
        }
        let (int, frac) = v.split_once(',').unwrap();
        int.parse::<u64>().unwrap() * 1000 + frac.parse::<u64>().unwrap()
    };
    let total = |register: &str| -> u64 {
        CONTRARY
            .iter()
            .filter(|r| r.1 == register)
            .map(|r| wh(r.2))
            .sum()
    };
    let last = frames.last().unwrap();
    assert_eq!(frames[0].state.import_wh, [0, 0]);
    assert_eq!(
        last.state.import_wh,
        [total("Offtake Day"), total("Offtake Night")]
    );
    assert_eq!(
        last.state.export_wh,
        [total("Injection Day"), total("Injection Night")]
    );
    // The split is not the calendar's: night energy in a weekday afternoon.
    assert!(total("Offtake Night") > 0 && total("Offtake Day") > 0);

    // The tariff in force, minute by minute.
    let label_of = |hhmm: &str| -> Option<u8> {
        CONTRARY.iter().find_map(|(t, reg, _)| {
            (t.starts_with(hhmm) && !reg.is_empty())
                .then(|| if reg.ends_with("Day") { 1 } else { 2 })
        })
    };
    for f in &frames {
        let (local, _) = f.at.local();
        let minute = local.format("%H:%M").to_string();
        let quarter = format!(
            "{}:{:02}",
            &minute[..2],
            minute[3..].parse::<u32>().unwrap() / 15 * 15
        );
        // The default calendar: Wednesday 07:00-22:00 is day.
        let calendar = if minute.as_str() >= "07:00" { 1 } else { 2 };
        let expected = label_of(&quarter).unwrap_or(calendar);
        assert_eq!(f.state.tariff, expected, "at {minute}");
        let readout = f.readout.as_ref().unwrap();
        assert_eq!(readout.tariff, expected, "0-0:96.14.0 at {minute}");
    }
}

/// A Monday in March 2026 (no DST change), from 10:00 local, one quarter per entry.
fn random_export(quarters: &[(u32, u32, bool)]) -> String {
    let mut text = HEADER.to_owned();
    for (i, &(offtake, injection, day)) in quarters.iter().enumerate() {
        let (from, until) = (600 + 15 * i as u32, 615 + 15 * i as u32);
        let hm = |m: u32| format!("{:02}:{:02}:00", m / 60, m % 60);
        let label = if day { "Day" } else { "Night" };
        for (register, wh) in [("Offtake", offtake), ("Injection", injection)] {
            text += &format!(
                "02/03/2026;{};02/03/2026;{};=\"1\";1SAG1100000001;Digital meter;\
                 {register} {label};{},{:03};kWh;Read;\r\n",
                hm(from),
                hm(until),
                wh / 1000,
                wh % 1000
            );
        }
    }
    text
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// For random exports and seeds, the household shape keeps every quarter's energy
    /// (per tariff register) and demand (the month's peak so far) exact.
    #[test]
    fn shaped_quarters_are_exact_in_the_meter(
        quarters in proptest::collection::vec((0..4000_u32, 0..4000_u32, proptest::bool::ANY), 1..6),
        seed in 0..u64::MAX,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CASE: AtomicUsize = AtomicUsize::new(0);
        let case = CASE.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("p1-scenario-replay-shape");
        std::fs::create_dir_all(&dir).unwrap();
        let csv = format!("export-{case}.csv");
        std::fs::write(dir.join(&csv), random_export(&quarters)).unwrap();
        let toml = format!(
            "seed = {seed}\nstart = \"2026-03-02 10:00:00\"\nduration = \"{}m\"\n\
             interval = \"15m\"\n[meter]\nmodel = \"S211\"\n[[loads.replay]]\n\
             name = \"portal\"\nelectricity = \"{csv}\"\nshape = \"household\"\n",
            15 * quarters.len()
        );
        let mut scenario = Scenario::parse_in("shape.toml", &toml, &dir).unwrap();
        scenario.end = scenario.end.plus_ms(1);
        let frames: Vec<_> = Simulation::new(&scenario).collect();
        proptest::prop_assert_eq!(frames.len(), quarters.len() + 1);
        let mut peak = 0;
        for (k, &(offtake, injection, day)) in quarters.iter().enumerate() {
            let (a, b) = (&frames[k].state, &frames[k + 1].state);
            let (t, other) = if day { (0, 1) } else { (1, 0) };
            proptest::prop_assert_eq!(b.import_wh[t] - a.import_wh[t], u64::from(offtake));
            proptest::prop_assert_eq!(b.export_wh[t] - a.export_wh[t], u64::from(injection));
            proptest::prop_assert_eq!(b.import_wh[other], a.import_wh[other]);
            proptest::prop_assert_eq!(b.export_wh[other], a.export_wh[other]);
            peak = peak.max(offtake * 4);
            let got = b.demand.peak.map_or(0, |p| p.w);
            proptest::prop_assert_eq!(got, peak, "peak after quarter {}", k);
        }
    }
}

/// Writes `csv` and a scenario from 2 March 2026 10:00 for an hour replaying it with
/// `keys`; returns what loading the scenario gives.
fn scenario_with(
    name: &str,
    csv: &str,
    keys: &str,
) -> Result<Scenario, p1_scenario::ScenarioError> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("p1-scenario-replay-keys");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.csv")), csv).unwrap();
    let toml = format!(
        "start = \"2026-03-02 10:00:00\"\nduration = \"1h\"\n[[loads.replay]]\n\
         name = \"portal\"\nelectricity = \"{name}.csv\"\n{keys}"
    );
    std::fs::write(dir.join(format!("{name}.toml")), &toml).unwrap();
    Scenario::from_path(&dir.join(format!("{name}.toml")))
}

#[test]
fn a_gap_is_refused_unless_the_scenario_says_what_it_means() {
    // 10:00, then nothing until 10:45.
    let csv = random_export(&[(100, 0, true)])
        + &random_export(&[(0, 0, true), (0, 0, true), (0, 0, true), (200, 0, true)])
            .lines()
            .skip(7)
            .map(|l| format!("{l}\r\n"))
            .collect::<String>();
    let e = scenario_with("gap", &csv, "").unwrap_err();
    assert!(e.path.ends_with("gap.csv") && e.line == 4, "{e}");
    assert!(e.message.contains("no rows for 2 quarters"), "{e}");
    for policy in ["zero", "hold"] {
        let keys = format!("gaps = \"{policy}\"\n");
        if let Err(e) = scenario_with("gap", &csv, &keys) {
            panic!("gaps = {policy}: {e}");
        }
    }
    let e = scenario_with("gap", &csv, "gaps = \"skip\"\n").unwrap_err();
    assert!(
        e.path.ends_with("gap.toml") && (e.line, e.column) == (6, 8),
        "{e}"
    );
    assert!(
        e.message
            .contains("unknown replay gaps policy `skip`, expected `refuse` or `zero` or `hold`"),
        "{e}"
    );
    let e = scenario_with("gap", &csv, "shape = \"wavy\"\n").unwrap_err();
    assert!(e.message.contains("unknown replay shape `wavy`"), "{e}");
}
