//! A replay checked against the meter's calendar (`tariff = "calendar"`) is checked
//! against the calendar the meter runs, including a day window that wraps midnight
//! (`day_start` after `day_end`).

mod common;

use std::path::{Path, PathBuf};

use common::{HEADER, plus_minutes};
use p1_scenario::{Scenario, Simulation};

/// Quarters of the export: (date, local time, label). The calendar below makes the day
/// tariff run from 22:00 to 07:00 the next morning on weekdays (Wednesday 4 and Thursday
/// 5 March 2026), night otherwise.
const AGREEING: &[(&str, &str, &str)] = &[
    ("04/03/2026", "21:45:00", "Night"),
    ("04/03/2026", "22:30:00", "Day"),
    ("05/03/2026", "03:00:00", "Day"),
    ("05/03/2026", "06:45:00", "Day"),
    ("05/03/2026", "07:00:00", "Night"),
    ("05/03/2026", "08:15:00", "Night"),
];

fn csv(rows: &[(&str, &str, &str)]) -> String {
    let mut text = HEADER.to_owned();
    for (date, time, label) in rows {
        // Every row lasts a quarter (none here crosses midnight).
        let until = plus_minutes(time, 15);
        text += &format!(
            "{date};{time};{date};{until};=\"541448820000000001\";1SAG1100000001;\
             Digital meter;Offtake {label};0,100;kWh;Read;\r\n"
        );
    }
    text
}

/// Writes the export and a scenario replaying it with `tariff = "calendar"` under a
/// 22:00-07:00 day window; returns the scenario's path.
fn write(name: &str, rows: &[(&str, &str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("p1-scenario-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("export.csv"), csv(rows)).unwrap();
    let toml = "start = \"2026-03-04 21:00:00\"\nend = \"2026-03-05 09:00:00\"\n\
                interval = \"15m\"\n[meter]\nmodel = \"S211\"\n\
                [meter.tariff]\nday_start = \"22:00\"\nday_end = \"07:00\"\n\
                [[loads.replay]]\nname = \"portal\"\nelectricity = \"export.csv\"\n\
                tariff = \"calendar\"\ngaps = \"zero\"\n";
    let path = dir.join("scenario.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn labels_agreeing_with_a_midnight_wrapping_calendar_pass_the_check() {
    let path = write("calendar-wrap-ok", AGREEING);
    let scenario = match Scenario::from_path(&path) {
        Ok(s) => s,
        Err(e) => panic!("labels agree with the 22:00-07:00 day window: {e}"),
    };
    // And the meter runs that same calendar: at each labelled quarter, its tariff is the
    // label.
    let frames: Vec<_> = Simulation::new(&scenario).collect();
    for (date, time, label) in AGREEING {
        let (d, m, y) = (&date[..2], &date[3..5], &date[6..]);
        let wanted = format!("{y}-{m}-{d} {time}");
        let frame = frames
            .iter()
            .find(|f| f.at.local().0.format("%Y-%m-%d %H:%M:%S").to_string() == wanted)
            .unwrap_or_else(|| panic!("no telegram at {wanted}"));
        let expected = if *label == "Day" { 1 } else { 2 };
        assert_eq!(frame.state.tariff, expected, "tariff at {wanted}");
    }
}

#[test]
fn a_label_contradicting_a_midnight_wrapping_calendar_is_refused_at_its_line() {
    let mut rows = AGREEING.to_vec();
    // 02:00 on Thursday is inside the 22:00-07:00 day window: a Night label contradicts it.
    rows.insert(2, ("05/03/2026", "02:00:00", "Night"));
    let path = write("calendar-wrap-bad", &rows);
    let e = Scenario::from_path(&path).unwrap_err();
    assert!(e.path.ends_with("export.csv"), "{e}");
    // Header is line 1; the inserted row is the 3rd data row.
    assert_eq!((e.line, e.column), (4, 1), "{e}");
    assert!(e.message.contains("Night"), "{e}");
}
