//! Replay loading benchmark (not a test): builds synthetic quarter-hour exports from the
//! real English sample (its volumes and labels, repeated over consecutive quarters with
//! real local dates, the DST changes included), loads a quarter of a year (8 760
//! quarters) and a year (35 040 quarters, 70 080 rows), and prints the time of each (best
//! of 5), the ratio year / quarter-year against the linear 4, and the index size. Exits
//! 1 when the year takes 2 s or more or the ratio exceeds 5.
//! Run: `cargo bench -p p1-scenario --bench replay_load` (a few seconds once built).

// A benchmark measures real time; the crate's clock ban (clippy.toml) is for its library.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::time::{Duration, Instant};

use p1_meter::SimTime;
use p1_scenario::replay::{self, Gaps};

const HEADER: &str = "\u{feff}From (date);From (time);Until (date);Until (time);EAN code;Meter;\
                      Meter type;Register;Volume;Unit;Validation status;Description\r\n";

/// (offtake, injection, label) cells of each quarter of the sample, in order.
fn sample_quarters() -> Vec<(String, String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../scenarios/data/fluvius-portal/Consumption_history_electricity_15 minute totals.csv",
    );
    let text = std::fs::read_to_string(path).expect("the English sample export");
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(';').map(str::to_owned).collect())
        .collect();
    rows.chunks(2)
        .map(|pair| {
            let label = pair[0][7].rsplit(' ').next().unwrap_or("Night").to_owned();
            (pair[0][8].clone(), pair[1][8].clone(), label)
        })
        .collect()
}

/// An export of `quarters` consecutive quarters from 1 January 2023 00:00 local time.
fn export(quarters: usize, sample: &[(String, String, String)]) -> String {
    let start = SimTime(1_672_527_600_000); // 2023-01-01 00:00 CET
    let mut text = String::with_capacity(quarters * 280 + HEADER.len());
    text += HEADER;
    for i in 0..quarters {
        let from = SimTime(start.millis() + i as i64 * 900_000);
        let (f, _) = from.local();
        let (u, _) = from.plus_ms(900_000).local();
        let (offtake, injection, label) = &sample[i % sample.len()];
        let (fd, ft) = (f.format("%d/%m/%Y"), f.format("%H:%M:%S"));
        let (ud, ut) = (u.format("%d/%m/%Y"), u.format("%H:%M:%S"));
        for (register, volume) in [("Offtake", offtake), ("Injection", injection)] {
            text += &format!(
                "{fd};{ft};{ud};{ut};=\"541448820000000001\";1SAG1234567890;Digital meter;\
                 {register} {label};{volume};kWh;Read;\r\n"
            );
        }
    }
    text
}

/// Best of 5 loads of `text`; checks the quarter count.
fn load(text: &str, quarters: usize) -> Duration {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            let export = replay::read_electricity("bench.csv", text.as_bytes(), Gaps::Refuse, None)
                .expect("the synthetic export loads");
            let elapsed = t.elapsed();
            assert_eq!(export.len(), quarters);
            elapsed
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let sample = sample_quarters();
    let (small, large) = (8_760, 35_040);
    let small_text = export(small, &sample);
    let large_text = export(large, &sample);
    let small_time = load(&small_text, small);
    let large_time = load(&large_text, large);
    let ratio = large_time.as_secs_f64() / small_time.as_secs_f64().max(1e-9);
    println!(
        "quarter-year: {small} quarters, {:.1} MB: {:.1} ms",
        small_text.len() as f64 / 1e6,
        small_time.as_secs_f64() * 1e3
    );
    println!(
        "year:         {large} quarters, {:.1} MB: {:.1} ms ({:.0} rows/s)",
        large_text.len() as f64 / 1e6,
        large_time.as_secs_f64() * 1e3,
        (2 * large) as f64 / large_time.as_secs_f64().max(1e-9)
    );
    println!("ratio year / quarter-year (4x rows): {ratio:.2} (linear 4.00, limit 5.00)");
    println!(
        "index: 16 bytes a quarter = {} KiB for the year",
        large * 16 / 1024
    );
    if large_time >= Duration::from_secs(2) || ratio > 5.0 {
        println!("FAIL: a year must load in under 2 s, and 4x rows in at most 5x time");
        std::process::exit(1);
    }
}
