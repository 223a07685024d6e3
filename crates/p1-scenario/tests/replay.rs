//! Fluvius replay: the telegrams' registers and peaks equal what the export says,
//! computed here straight from the CSV (not through the crate's parser).

use std::collections::BTreeMap;
use std::path::Path;

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
        .unwrap()
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
