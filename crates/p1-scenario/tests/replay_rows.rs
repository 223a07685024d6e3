//! The Fluvius CSV reader row by row: every refused row kind with its position, what was
//! expected and what was found; units converted exactly; each gap policy; the real
//! sample exports read whole, checked against sums taken here straight from their text.

mod common;

use std::path::Path;

use common::{GAS_HEADER, HEADER, plus_minutes};
use p1_scenario::ScenarioError;
use p1_scenario::replay::{self, ElectricityExport, Gaps, GasExport, Label};

/// A row of 2 March 2026 from `time` for `minutes`.
fn row(time: &str, minutes: u32, register: &str, volume: &str, unit: &str) -> String {
    let until = plus_minutes(time, minutes);
    format!(
        "02/03/2026;{time};02/03/2026;{until};=\"1\";1SAG1100000001;Digital meter;\
         {register};{volume};{unit};Read;\r\n"
    )
}

fn quarter(time: &str, offtake: &str, injection: &str) -> String {
    row(time, 15, "Offtake Day", offtake, "kWh") + &row(time, 15, "Injection Day", injection, "kWh")
}

fn gas_row(time: &str, volume: &str) -> String {
    let r = row(time, 60, "Offtake", volume, "m³");
    // The gas layout has one more cell (Caloric upper value).
    r.replace(";Read;\r\n", ";Read;;\r\n")
}

fn electricity(text: &str, gaps: Gaps) -> Result<ElectricityExport, ScenarioError> {
    replay::read_electricity("e.csv", text.as_bytes(), gaps, None)
}

fn gas(text: &str, gaps: Gaps) -> Result<GasExport, ScenarioError> {
    replay::read_gas("g.csv", text.as_bytes(), gaps, None)
}

fn refused(text: &str) -> ScenarioError {
    electricity(text, Gaps::Refuse)
        .err()
        .unwrap_or_else(|| panic!("accepted:\n{text}"))
}

/// The refusal of an electricity export of the one row `bad`.
fn refused_row(bad: &str) -> ScenarioError {
    refused(&(HEADER.to_owned() + bad))
}

/// The refusal of a gas export of the one row `bad`.
fn refused_gas_row(bad: &str) -> ScenarioError {
    let text = GAS_HEADER.to_owned() + bad;
    gas(&text, Gaps::Refuse)
        .err()
        .unwrap_or_else(|| panic!("accepted:\n{text}"))
}

/// Column where cell `field` (0-based) of a [`row`] starts, counted here by hand.
fn column(line: &str, field: usize) -> usize {
    line.split(';')
        .take(field)
        .map(|c| c.chars().count() + 1)
        .sum::<usize>()
        + 1
}

#[test]
fn a_short_row_is_refused_where_it_ends() {
    let cut: String = row("10:15:00", 15, "Offtake Day", "0,100", "kWh")
        .split(';')
        .take(5)
        .collect::<Vec<_>>()
        .join(";");
    let text = HEADER.to_owned() + &quarter("10:00:00", "0,120", "0,000") + &cut + "\r\n";
    let e = refused(&text);
    // Line 4, after the 5 cells (10+8+10+8+4 characters and 4 `;`).
    assert_eq!((e.line, e.column), (4, 45), "{e}");
    assert!(e.message.contains("a row of 5 cells: expected 12"), "{e}");
    // A row with a cell too many is not a Fluvius row either.
    let long = row("10:15:00", 15, "Offtake Day", "0,100", "kWh").replace("\r\n", ";x\r\n");
    let e = refused_row(&long);
    assert!(e.message.contains("a row of 13 cells: expected 12"), "{e}");
}

#[test]
fn unknown_registers_and_units_are_refused_at_their_cell() {
    // (row, reader's refusal, cell, message)
    type Refusal = fn(&str) -> ScenarioError;
    let cases: [(String, Refusal, usize, &str); 4] = [
        (
            row("10:00:00", 15, "Offtake Peak", "0,100", "kWh"),
            refused_row,
            7,
            "unknown register `Offtake Peak`: expected Offtake/Injection Day/Night",
        ),
        (
            row("10:00:00", 15, "Offtake Day", "0,100", "kW"),
            refused_row,
            9,
            "unknown unit `kW`: expected kWh",
        ),
        // Gas: only m³ rows count; kWh rows are skipped, anything else is refused.
        (
            gas_row("10:00:00", "0,100").replace("m³", "l"),
            refused_gas_row,
            9,
            "unknown unit `l`: expected m³",
        ),
        (
            gas_row("10:00:00", "0,100").replace("Offtake", "Offtake Day"),
            refused_gas_row,
            7,
            "unknown gas register `Offtake Day`",
        ),
    ];
    for (bad, refuse, field, expected) in cases {
        let e = refuse(&bad);
        assert_eq!((e.line, e.column), (2, column(&bad, field)), "{e}");
        assert!(e.message.contains(expected), "{e}");
    }
}

#[test]
fn units_convert_exactly() {
    let text = HEADER.to_owned()
        + &row("10:00:00", 15, "Offtake Day", "0,173", "kWh")
        + &row("10:00:00", 15, "Injection Day", "42", "Wh")
        + &row("10:15:00", 15, "Offtake Day", "0,000201", "MWh")
        + &row("10:15:00", 15, "Injection Day", "", "kWh");
    let q: Vec<_> = electricity(&text, Gaps::Refuse).unwrap().iter().collect();
    assert_eq!(
        q.iter()
            .map(|q| (q.offtake_wh, q.injection_wh))
            .collect::<Vec<_>>(),
        [(173, 42), (201, 0)]
    );
    // Finer than a Wh would not be exact.
    for (volume, unit) in [("0,1735", "kWh"), ("0,5", "Wh"), ("0,0000005", "MWh")] {
        let bad = row("10:00:00", 15, "Offtake Day", volume, unit);
        let e = refused_row(&bad);
        assert_eq!(
            (e.line, e.column),
            (2, column(&bad, 8)),
            "{volume} {unit}: {e}"
        );
        assert!(e.message.contains("decimals"), "{e}");
    }
    let bad = row("10:00:00", 15, "Offtake Day", "-0,100", "kWh");
    assert!(refused_row(&bad).message.contains("negative"));
}

#[test]
fn a_duplicated_quarter_is_refused() {
    let text = HEADER.to_owned()
        + &quarter("10:00:00", "0,120", "0,000")
        + &row("10:00:00", 15, "Offtake Day", "0,120", "kWh");
    let e = refused(&text);
    assert_eq!((e.line, e.column), (4, 12), "{e}");
    assert!(
        e.message
            .contains("duplicated offtake row for 02/03/2026 10:00:00"),
        "{e}"
    );
    // Day and Night for the same quarter contradict each other.
    let text = HEADER.to_owned()
        + &row("10:00:00", 15, "Offtake Day", "0,120", "kWh")
        + &row("10:00:00", 15, "Injection Night", "0,000", "kWh");
    let e = refused(&text);
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("disagrees with line 2"), "{e}");
}

#[test]
fn overlapping_or_misplaced_intervals_are_refused() {
    // A row of half an hour overlaps the next quarter.
    let bad = row("10:00:00", 30, "Offtake Day", "0,120", "kWh");
    let e = refused_row(&bad);
    assert_eq!((e.line, e.column), (2, column(&bad, 3)), "{e}");
    assert!(
        e.message
            .contains("ends at 02/03/2026 10:30:00: expected 02/03/2026 10:15:00"),
        "{e}"
    );
    // A quarter that starts off the quarter grid.
    let bad = row("10:05:00", 15, "Offtake Day", "0,120", "kWh");
    let e = refused_row(&bad);
    assert_eq!((e.line, e.column), (2, 12), "{e}");
    assert!(e.message.contains(":00, :15, :30 or :45"), "{e}");
    // Rows out of time order before the first one.
    let text = HEADER.to_owned()
        + &quarter("10:15:00", "0,120", "0,000")
        + &quarter("10:00:00", "0,120", "0,000");
    let e = refused(&text);
    assert_eq!((e.line, e.column), (4, 1), "{e}");
    assert!(e.message.contains("before the export's first row"), "{e}");
    // A quarter-hour row in a gas export is an interval of the wrong length.
    let bad = row("10:00:00", 15, "Offtake", "0,120", "m³").replace(";Read;\r\n", ";Read;;\r\n");
    let e = refused_gas_row(&bad);
    assert!(e.message.contains("its start plus an hour"), "{e}");
}

#[test]
fn an_unknown_header_is_quoted_with_the_layouts_known() {
    let text = "Date;Time;kWh\r\n02/03/2026;10:00;0,1\r\n";
    let e = refused(text);
    assert_eq!((e.path.as_str(), e.line, e.column), ("e.csv", 1, 1), "{e}");
    assert!(
        e.message.contains("found the header `Date;Time;kWh`"),
        "{e}"
    );
    for layout in [
        "English quarter-hour electricity",
        "English hourly gas",
        "Dutch quarter-hour electricity",
        "Dutch hourly gas",
    ] {
        assert!(e.message.contains(layout), "{layout}: {e}");
    }
    assert!(refused("").message.contains("empty"));
    // A scenario given as an export.
    let e = refused("start = \"2026-03-02 10:00\"\n");
    assert!(e.message.contains("not a Fluvius portal export"), "{e}");
}

#[test]
fn endless_or_binary_input_fails_fast() {
    // `/dev/zero` never ends and has no newline: refused after one over-long line.
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let e = replay::read_electricity("/dev/zero", zero, Gaps::Refuse, None).unwrap_err();
    assert_eq!((e.line, e.column), (1, replay::MAX_LINE_BYTES + 1), "{e}");
    assert!(e.message.contains("longer than 4096 bytes"), "{e}");
    // An over-long line further down is found at its line.
    let text = HEADER.to_owned()
        + &quarter("10:00:00", "0,120", "0,000")
        + &"x".repeat(replay::MAX_LINE_BYTES + 10);
    assert_eq!(refused(&text).line, 4);
    // Invalid UTF-8.
    let mut bytes = (HEADER.to_owned() + &quarter("10:00:00", "0,120", "0,000")).into_bytes();
    bytes.extend_from_slice(b"02/03/2026;\xff\xfe;\r\n");
    let e = replay::read_electricity("e.csv", &bytes[..], Gaps::Refuse, None).unwrap_err();
    assert!(e.message.contains("not UTF-8"), "{e}");
    assert_eq!(e.line, 4, "{e}");
}

/// Quarters at 10:00 and 10:15, none at 10:30 and 10:45, one at 11:00.
fn gapped() -> String {
    HEADER.to_owned()
        + &quarter("10:00:00", "0,100", "0,000")
        + &quarter("10:15:00", "0,200", "0,050")
        + &quarter("11:00:00", "0,300", "0,000")
}

#[test]
fn a_gap_is_refused_by_default_naming_the_rows_around_it() {
    let e = refused(&gapped());
    assert_eq!((e.line, e.column), (6, 1), "{e}");
    assert!(
        e.message.contains(
            "no rows for 2 quarters from 02/03/2026 10:30 to 02/03/2026 11:00 (between \
             the rows at line 4 and line 6)"
        ),
        "{e}"
    );
    assert!(e.message.contains("gaps = \"zero\""), "{e}");
}

#[test]
fn a_gap_can_mean_zero() {
    let export = electricity(&gapped(), Gaps::Zero).unwrap();
    let q: Vec<_> = export.iter().collect();
    assert_eq!(
        q.iter()
            .map(|q| (q.offtake_wh, q.injection_wh))
            .collect::<Vec<_>>(),
        [(100, 0), (200, 50), (0, 0), (0, 0), (300, 0)]
    );
    assert_eq!(export.filled_gaps(), 2);
    // A filled quarter has no label: the calendar decides its tariff.
    assert_eq!(q[2].label, None);
    assert_eq!(q[1].label, Some(Label::Day));
    assert_eq!(export.end().millis() - export.start().millis(), 5 * 900_000);
}

#[test]
fn a_gap_can_hold_the_previous_power() {
    let export = electricity(&gapped(), Gaps::Hold).unwrap();
    let q: Vec<_> = export.iter().collect();
    assert_eq!(
        q.iter()
            .map(|q| (q.offtake_wh, q.injection_wh))
            .collect::<Vec<_>>(),
        [(100, 0), (200, 50), (200, 50), (200, 50), (300, 0)]
    );
    assert_eq!(q[3].label, None);
}

#[test]
fn gas_gaps_follow_the_same_policies() {
    let text =
        GAS_HEADER.to_owned() + &gas_row("10:00:00", "0,100") + &gas_row("12:00:00", "0,300");
    let e = gas(&text, Gaps::Refuse).unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    assert!(
        e.message
            .contains("no rows for 1 gas hour from 02/03/2026 11:00"),
        "{e}"
    );
    let dm3 = |gaps| {
        gas(&text, gaps)
            .unwrap()
            .iter()
            .map(|h| h.dm3)
            .collect::<Vec<_>>()
    };
    assert_eq!(dm3(Gaps::Zero), [100, 0, 300]);
    assert_eq!(dm3(Gaps::Hold), [100, 100, 300]);
}

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/data/fluvius-portal")
        .join(name)
}

/// (rows, Σ Wh or dm³ by register, distinct (date, time) starts) from the text itself.
fn tally(path: &Path, skip_unit: &str) -> (usize, std::collections::BTreeMap<String, i64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut totals = std::collections::BTreeMap::new();
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(';').collect();
        if f[9] == skip_unit {
            continue;
        }
        rows += 1;
        let v = if f[8].is_empty() {
            0
        } else {
            let (int, frac) = f[8].split_once(',').unwrap();
            int.parse::<i64>().unwrap() * 1000 + frac.parse::<i64>().unwrap()
        };
        *totals.entry(f[7].to_owned()).or_insert(0) += v;
    }
    (rows, totals)
}

#[test]
fn the_real_exports_read_whole_without_gaps() {
    for (name, day, night) in [
        (
            "Consumption_history_electricity_15 minute totals.csv",
            ["Offtake Day", "Injection Day"],
            ["Offtake Night", "Injection Night"],
        ),
        (
            "Verbruikshistoriek_elektriciteit_kwartiertotalen.csv",
            ["Afname Dag", "Injectie Dag"],
            ["Afname Nacht", "Injectie Nacht"],
        ),
    ] {
        let path = sample(name);
        let file = std::fs::File::open(&path).unwrap();
        let export = replay::read_electricity(name, file, Gaps::Refuse, None).unwrap();
        let (rows, totals) = tally(&path, "");
        // Two rows (offtake, injection) a quarter, every quarter from first to last.
        assert_eq!(export.len() * 2, rows, "{name}");
        assert_eq!(
            (export.end().millis() - export.start().millis()) / 900_000,
            export.len() as i64
        );
        let sum = |f: fn(&replay::Quarter) -> i64, label| {
            export
                .iter()
                .filter(|q| q.label == Some(label))
                .map(|q| f(&q))
                .sum::<i64>()
        };
        assert_eq!(sum(|q| q.offtake_wh, Label::Day), totals[day[0]], "{name}");
        assert_eq!(
            sum(|q| q.injection_wh, Label::Day),
            totals[day[1]],
            "{name}"
        );
        assert_eq!(
            sum(|q| q.offtake_wh, Label::Night),
            totals[night[0]],
            "{name}"
        );
        assert_eq!(
            sum(|q| q.injection_wh, Label::Night),
            totals[night[1]],
            "{name}"
        );
        assert!(export.meter_id().unwrap().starts_with("1SAG"), "{name}");
    }
    for name in [
        "Consumption_history_gas_hourly totals.csv",
        "Verbruikshistoriek_gas_uurtotalen.csv",
    ] {
        let path = sample(name);
        let file = std::fs::File::open(&path).unwrap();
        let export = replay::read_gas(name, file, Gaps::Refuse, None).unwrap();
        let (rows, totals) = tally(&path, "kWh");
        assert_eq!(export.len(), rows, "{name}");
        let register = if name.starts_with("Consumption") {
            "Offtake"
        } else {
            "Afname"
        };
        assert_eq!(
            export.iter().map(|h| h.dm3).sum::<i64>(),
            totals[register],
            "{name}"
        );
        assert!(export.meter_id().unwrap().starts_with('7'), "{name}");
    }
}
