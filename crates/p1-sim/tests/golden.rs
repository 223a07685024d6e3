//! The golden files of the scenario catalogue, checked three ways:
//!
//! 1. `p1sim fixtures --check` regenerates every scenario and finds no byte difference;
//! 2. every golden telegram passes the strict decoder (CRC included), matches its truth
//!    record, and is read by dsmr_parser 1.11.2 with values equal to what the meter meant.
//!    In scenarios with `[[faults]]` (truth records with a `verdict`), the strict decoder
//!    accepts exactly the telegrams marked `should_accept`, and dsmr_parser's parser and
//!    stream reader do what `verdict` says, reading `sent_readout` when they accept;
//! 3. properties computed from the emitted telegrams alone, not from the meter model:
//!    registers never decrease, 1.4.0 agrees with register deltas, 1.6.0 is the month's
//!    largest quarter, 98.1.0 gains the closed month at each month change, and every
//!    timestamp's local time and S/W flag agree with chrono-tz's Europe/Brussels. Damaged
//!    telegrams and content quirks are left out of these.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Brussels;
use p1_wire::{Readout, Tst, decode_all};
use serde_json::{Value, json};

/// Slack of a demand recomputed from registers printed in whole Wh: each of the two
/// readings is truncated by less than 1 Wh, and demand is 4 x the difference.
const DEMAND_SLACK_W: i64 = 8;

/// Faults that change what the telegram says (docs/faults.md, "Content quirks"): such a
/// telegram is valid but no longer follows the meter's registers and clock.
const CONTENT_QUIRKS: [&str; 10] = [
    "invalid_timestamp",
    "factory_clock",
    "clock_shift",
    "stale_history_head",
    "stale_gas_channel",
    "unitless_reading",
    "full_history",
    "all_mbus_channels",
    "long_message",
    "oversize",
];

struct Golden {
    name: String,
    /// One entry per undamaged telegram sent (no fault, or only wire faults the strict
    /// decoder accepts): (truth record, decoded readout).
    sent: Vec<(Value, Readout)>,
    /// Every truth record of a scenario with faults (empty otherwise).
    faulty: Vec<Value>,
}

fn golden_dir() -> PathBuf {
    common::root().join("golden")
}

fn goldens() -> Vec<Golden> {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("golden/ exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".p1").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no golden files");
    names.into_iter().map(|n| load(&golden_dir(), &n)).collect()
}

/// The bytes of a `sent` string (each character is one byte, latin-1).
fn sent_bytes(record: &Value) -> Vec<u8> {
    record["sent"]
        .as_str()
        .map(|s| {
            s.chars()
                .map(|c| u8::try_from(u32::from(c)).expect("latin-1 character"))
                .collect()
        })
        .unwrap_or_default()
}

fn fault_names(record: &Value) -> Vec<String> {
    record["faults"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["fault"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn load(dir: &Path, name: &str) -> Golden {
    let bytes = std::fs::read(dir.join(format!("{name}.p1"))).expect("p1");
    let truth = std::fs::read_to_string(dir.join(format!("{name}.truth.jsonl"))).expect("truth");
    let all: Vec<Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth line is JSON"))
        .collect();
    if all.iter().any(|r| r.get("verdict").is_some()) {
        return load_faulty(name, &bytes, all);
    }
    let records: Vec<Value> = all
        .into_iter()
        .filter(|r: &Value| !r["telegram"].is_null())
        .collect();
    let frames = decode_all(&bytes);
    assert_eq!(
        frames.len(),
        records.len(),
        "{name}: telegrams vs truth records"
    );
    let mut sent = Vec::new();
    for (i, (frame, record)) in frames.into_iter().zip(records).enumerate() {
        let frame = frame.unwrap_or_else(|e| panic!("{name}: telegram {}: {e}", i + 1));
        let text = &bytes[frame.offset..frame.offset + frame.len];
        assert_eq!(
            record["telegram"].as_str().map(str::as_bytes),
            Some(text),
            "{name}: telegram {} differs from its truth record",
            i + 1
        );
        sent.push((record, frame.readout));
    }
    Golden {
        name: name.to_owned(),
        sent,
        faulty: Vec::new(),
    }
}

/// A scenario with faults: the stream is the records' `sent` bytes end to end; each
/// record's bytes, decoded on their own, are accepted by the strict decoder exactly when
/// the record says `should_accept`, and then say `sent_readout`.
fn load_faulty(name: &str, bytes: &[u8], all: Vec<Value>) -> Golden {
    let stream: Vec<u8> = all.iter().flat_map(sent_bytes).collect();
    assert!(
        stream == bytes,
        "{name}: the stream is not the records' `sent` bytes"
    );
    let mut sent = Vec::new();
    for (i, record) in all.iter().enumerate() {
        let Some(verdict) = record.get("verdict").filter(|v| !v.is_null()) else {
            assert!(record["sent"].is_null(), "{name}#{i}: sent while silent");
            continue;
        };
        let results = decode_all(&sent_bytes(record));
        let accepted = match results.as_slice() {
            [Ok(frame)] => Some(frame),
            _ => None,
        };
        assert_eq!(
            accepted.is_some(),
            verdict["should_accept"].as_bool().expect("should_accept"),
            "{name}#{i} ({:?}): strict decoder gave {:?}",
            fault_names(record),
            results
                .iter()
                .map(|r| r.as_ref().map(|f| f.len))
                .collect::<Vec<_>>()
        );
        let Some(frame) = accepted else { continue };
        let meant: Readout =
            serde_json::from_value(record["sent_readout"].clone()).expect("sent_readout");
        assert_eq!(frame.readout, meant, "{name}#{i}: decoded vs sent_readout");
        let quirk = fault_names(record)
            .iter()
            .any(|f| CONTENT_QUIRKS.contains(&f.as_str()));
        if !quirk {
            // No content quirk: what was sent is what the meter meant.
            assert_eq!(record["sent_readout"], record["readout"], "{name}#{i}");
            sent.push((record.clone(), frame.readout.clone()));
        }
    }
    Golden {
        name: name.to_owned(),
        sent,
        faulty: all,
    }
}

#[test]
fn fixtures_check_finds_no_difference() {
    let out = Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .current_dir(common::root())
        .args(["fixtures", "--check"])
        .output()
        .expect("run p1sim");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("differs") && !text.contains("missing"),
        "{text}"
    );
}

#[test]
fn dsmr_parser_reads_every_golden_telegram_as_meant() {
    let mut cases = Vec::new();
    for g in goldens().into_iter().filter(|g| g.faulty.is_empty()) {
        for (i, (record, _)) in g.sent.iter().enumerate() {
            cases.push(json!({
                "name": format!("{}#{}", g.name, i + 1),
                "telegram": record["telegram"],
                // What the meter meant, from the model, not from our decoder.
                "readout": record["readout"],
                "expect": "accept",
            }));
        }
    }
    let n = cases.len();
    let out = common::run_dsmr_parser(&cases);
    assert!(
        out.contains(&format!("{n} accepted with equal values")),
        "{out}"
    );
}

/// The truth file's `readout` is what the telegram says: for every golden telegram sent
/// undamaged, it equals the `readout` that `p1sim decode` prints for the same bytes (JSON
/// values compared), on every firmware (50213 prints whole amperes and no per-phase power).
#[test]
fn truth_readout_is_what_p1sim_decode_reads() {
    let mut compared = 0;
    for g in goldens() {
        if g.sent.is_empty() {
            continue;
        }
        let mut input: Vec<u8> = Vec::new();
        for (record, _) in &g.sent {
            let text = record["telegram"]
                .as_str()
                .map(|t| {
                    t.chars()
                        .map(|c| u8::try_from(u32::from(c)).expect("latin-1"))
                        .collect()
                })
                .unwrap_or_else(|| sent_bytes(record));
            input.extend(text);
        }
        let path = std::env::temp_dir().join(format!(
            "p1sim-golden-decode-{}-{}.p1",
            std::process::id(),
            g.name
        ));
        std::fs::write(&path, &input).expect("write telegrams");
        let out = Command::new(env!("CARGO_BIN_EXE_p1sim"))
            .arg("decode")
            .arg(&path)
            .output()
            .expect("run p1sim decode");
        let _ = std::fs::remove_file(&path);
        assert!(out.status.success(), "{}: p1sim decode failed", g.name);
        let decoded: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("decode prints JSON"))
            .collect();
        assert_eq!(decoded.len(), g.sent.len(), "{}: telegrams decoded", g.name);
        for (i, ((record, _), d)) in g.sent.iter().zip(&decoded).enumerate() {
            assert_eq!(
                record["readout"],
                d["readout"],
                "{}#{}: truth readout vs p1sim decode",
                g.name,
                i + 1
            );
            compared += 1;
        }
    }
    assert!(compared > 0, "no telegram compared");
}

/// Faults after which dsmr_parser accepts a telegram that lacks a value (a dropped line,
/// a line swallowed by a stray `/`): its values are not all there to compare.
const LOSES_A_LINE: [&str; 2] = ["drop_line", "stray_slash"];

#[test]
fn dsmr_parser_does_what_each_fault_verdict_says() {
    let mut cases = Vec::new();
    let mut faulty = 0;
    for g in goldens() {
        for (i, record) in g.faulty.iter().enumerate() {
            let Some(verdict) = record.get("verdict").filter(|v| !v.is_null()) else {
                continue;
            };
            faulty += usize::from(!fault_names(record).is_empty());
            let whole = record["sent"].as_str().unwrap_or("");
            let lost = fault_names(record)
                .iter()
                .any(|f| LOSES_A_LINE.contains(&f.as_str()));
            for (mode, key) in [("whole", "dsmr_parser"), ("stream", "dsmr_reader")] {
                let expect = verdict[key].as_str().expect("expect");
                let readout = if expect == "accept" && !lost {
                    record["sent_readout"].clone()
                } else {
                    Value::Null
                };
                cases.push(json!({
                    "name": format!("{}#{i} {mode} {:?}", g.name, fault_names(record)),
                    "telegram": whole,
                    "readout": readout,
                    "expect": expect,
                    "mode": mode,
                }));
            }
        }
    }
    assert!(faulty > 0, "no golden telegram has a fault");
    let out = common::run_dsmr_parser(&cases);
    assert!(out.contains(", 0 failure(s)"), "{out}");
}

/// The wire timestamp chrono-tz gives for a UTC instant in milliseconds.
fn brussels_tst(ms: i64) -> String {
    let utc: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single().expect("instant");
    let local = utc.with_timezone(&Brussels);
    let summer = local.offset().to_string() == "CEST";
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}{}",
        local.year() % 100,
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        if summer { 'S' } else { 'W' }
    )
}

fn meter_ms(record: &Value) -> i64 {
    record["state"]["meter_ms"]
        .as_i64()
        .expect("state.meter_ms")
}

fn import_wh(r: &Readout) -> i64 {
    (r.import_wh[0] + r.import_wh[1]) as i64
}

#[test]
fn timestamps_agree_with_the_time_zone_database() {
    for g in goldens() {
        for (record, r) in &g.sent {
            assert_eq!(
                r.time.to_string(),
                brussels_tst(meter_ms(record)),
                "{}: {}",
                g.name,
                record["utc"]
            );
        }
    }
}

#[test]
fn registers_never_decrease() {
    for g in goldens() {
        for pair in g.sent.windows(2) {
            let (a, b) = (&pair[0].1, &pair[1].1);
            for i in 0..2 {
                assert!(
                    b.import_wh[i] >= a.import_wh[i],
                    "{}: import {i} at {}",
                    g.name,
                    b.time
                );
                assert!(
                    b.export_wh[i] >= a.export_wh[i],
                    "{}: export {i} at {}",
                    g.name,
                    b.time
                );
            }
        }
    }
}

/// Demand checks need telegrams on quarter boundaries of the meter clock.
fn quarter_of(ms: i64) -> i64 {
    ms.div_euclid(900_000)
}

#[test]
fn demand_agrees_with_register_deltas_and_the_peak_is_the_months_largest() {
    let mut quarters_checked = 0;
    for g in goldens() {
        // (quarter index, import Wh at its first telegram, exactly on the boundary?)
        let mut start: Option<(i64, i64)> = None;
        let mut month_max: Option<(u32, i64)> = None;
        let mut prev: Option<(&Value, &Readout)> = None;
        for (record, r) in &g.sent {
            let Some(d) = &r.demand else { continue };
            let ms = meter_ms(record);
            let q = quarter_of(ms);
            let on_boundary = ms.rem_euclid(900_000) == 0;
            let month = (r.time.year, r.time.month);
            // A clock jump or a gap longer than a quarter breaks the chain.
            let contiguous = prev.is_some_and(|(p, _)| {
                let dt = meter_ms(record) - meter_ms(p);
                let dtrue = record["state"]["true_ms"].as_i64().unwrap_or(0)
                    - p["state"]["true_ms"].as_i64().unwrap_or(0);
                dt == dtrue && dt <= 900_000
            });
            if !contiguous {
                start = None;
                month_max = None;
            }
            if let (Some((sq, wh0)), Some((_, p))) = (start, prev) {
                if sq == q - 1 && on_boundary {
                    // The quarter `sq` just completed.
                    let demand = 4 * (import_wh(r) - wh0);
                    let same_month = (p.time.year, p.time.month) == month;
                    if same_month {
                        let best = month_max.map_or(demand, |(_, w)| w.max(demand));
                        month_max = Some((r.time.month.into(), best));
                        let peak = i64::from(d.peak.w);
                        assert!(
                            (peak - best).abs() <= DEMAND_SLACK_W || peak > best,
                            "{}: at {} 1.6.0 = {peak} W but a quarter reached {best} W",
                            g.name,
                            r.time
                        );
                        // A new peak can only come from the quarter that just closed.
                        let before = p.demand.as_ref().map(|x| x.peak);
                        if before != Some(d.peak) {
                            assert!(
                                (peak - demand).abs() <= DEMAND_SLACK_W,
                                "{}: at {} 1.6.0 became {peak} W, the closed quarter was {demand} W",
                                g.name,
                                r.time
                            );
                        }
                        quarters_checked += 1;
                    } else {
                        month_max = None;
                    }
                }
            }
            if on_boundary {
                start = Some((q, import_wh(r)));
                assert_eq!(d.current_w, 0, "{}: 1.4.0 restarts at {}", g.name, r.time);
            } else if let Some((_, wh0)) = start.filter(|(sq, _)| *sq == q) {
                let expected = 4 * (import_wh(r) - wh0);
                assert!(
                    (i64::from(d.current_w) - expected).abs() <= DEMAND_SLACK_W,
                    "{}: at {} 1.4.0 = {} W, registers say {expected} W",
                    g.name,
                    r.time,
                    d.current_w
                );
            }
            prev = Some((record, r));
        }
    }
    assert!(quarters_checked > 0, "no completed quarter was checked");
}

#[test]
fn month_change_pushes_the_closed_month_into_the_history() {
    let mut pushes = 0;
    for g in goldens() {
        for pair in g.sent.windows(2) {
            let ((ra, a), (rb, b)) = (&pair[0], &pair[1]);
            let (Some(da), Some(db)) = (&a.demand, &b.demand) else {
                continue;
            };
            let jumped = meter_ms(rb) - meter_ms(ra)
                != rb["state"]["true_ms"].as_i64().unwrap_or(0)
                    - ra["state"]["true_ms"].as_i64().unwrap_or(0);
            if jumped || (a.time.year, a.time.month) == (b.time.year, b.time.month) {
                continue;
            }
            let last = db.history.last().expect("a month closed");
            let first_of_month = Tst {
                year: b.time.year,
                month: b.time.month,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                dst: false,
            };
            assert_eq!(
                (
                    last.period.year,
                    last.period.month,
                    last.period.day,
                    last.period.hour
                ),
                (first_of_month.year, first_of_month.month, 1, 0),
                "{}: period of the pushed month at {}",
                g.name,
                b.time
            );
            if (last.at, last.w) != (da.peak.at, da.peak.w) {
                // Only the month's final quarter, which closes at the month change itself,
                // can beat the peak shown just before; it is stamped on that boundary
                // (end stamp) or 15 minutes before it (start stamp).
                assert!(
                    last.w > da.peak.w,
                    "{}: pushed {} W < shown {} W",
                    g.name,
                    last.w,
                    da.peak.w
                );
                let boundary = (last.at.day == 1 && last.at.hour == 0 && last.at.minute == 0)
                    || (last.at.month == a.time.month
                        && last.at.hour == 23
                        && last.at.minute == 45);
                assert!(
                    boundary,
                    "{}: pushed peak at {} is not the final quarter",
                    g.name, last.at
                );
            }
            assert_eq!(
                db.history.len(),
                (da.history.len() + 1).min(13),
                "{}",
                g.name
            );
            pushes += 1;
        }
    }
    assert!(pushes > 0, "the catalogue has no month change");
}

/// `kWh` as the panel prints it from Wh (`002318.407`).
fn panel_kwh(wh: u64) -> String {
    format!("{:06}.{:03}", wh / 1000, wh % 1000)
}

/// In the goldens that carry a front panel (scenarios with `[panel]` or panel events:
/// `front-panel`), the panel and P1 read one meter: in every telegram, decoded from the
/// bytes, `0-0:96.3.10` is the breaker the panel shows (code, closed, BD triangle), the
/// tariff triangle is `0-0:96.14.0`, and an energy register on the screen is the one on
/// the wire. Goldens of scenarios without a panel have no `panel` object at all.
#[test]
fn panel_breaker_agrees_with_p1_in_every_telegram() {
    let mut codes_seen = std::collections::BTreeSet::new();
    let mut screens_checked = 0;
    let mut with_panel = Vec::new();
    for g in goldens() {
        let has_panel = g.sent.iter().any(|(r, _)| r.get("panel").is_some());
        assert!(
            g.sent
                .iter()
                .all(|(r, _)| r.get("panel").is_some() == has_panel),
            "{}: some records have a panel and some not",
            g.name
        );
        if !has_panel {
            continue;
        }
        with_panel.push(g.name.clone());
        for (i, (record, readout)) in g.sent.iter().enumerate() {
            let panel = &record["panel"];
            let ind = &panel["indicators"];
            let code = readout.breaker.code();
            codes_seen.insert(code);
            assert_eq!(
                ind["breaker_code"].as_u64(),
                Some(u64::from(code)),
                "{}#{i}: panel breaker vs 96.3.10",
                g.name
            );
            assert_eq!(
                ind["breaker_closed"].as_bool(),
                Some(code == 1),
                "{}#{i}",
                g.name
            );
            let bd = match code {
                0 => "steady",
                1 => "off",
                _ => "blinking",
            };
            assert_eq!(
                ind["breaker_disconnect"].as_str(),
                Some(bd),
                "{}#{i}",
                g.name
            );
            let triangle = if readout.tariff == 2 { "night" } else { "day" };
            assert_eq!(ind["tariff"].as_str(), Some(triangle), "{}#{i}", g.name);
            let screen = &panel["screen"];
            let register = match screen["code"].as_str() {
                Some("1.8.1") => Some(readout.import_wh[0]),
                Some("1.8.2") => Some(readout.import_wh[1]),
                Some("2.8.1") => Some(readout.export_wh[0]),
                Some("2.8.2") => Some(readout.export_wh[1]),
                _ => None,
            };
            if let Some(wh) = register {
                assert_eq!(
                    screen["value"].as_str(),
                    Some(panel_kwh(wh).as_str()),
                    "{}#{i}: screen vs wire",
                    g.name
                );
                screens_checked += 1;
            }
        }
    }
    assert_eq!(with_panel, ["front-panel"], "goldens with a panel");
    assert_eq!(
        codes_seen.into_iter().collect::<Vec<_>>(),
        [0, 1, 2],
        "the front-panel golden goes through every breaker state"
    );
    assert!(screens_checked > 0, "no register on the screen was checked");
}

/// The README's ESPHome advice rests on this: the catalogue's longest telegram (a T211
/// with a full 98.1.0, gas, water and a text message, as real meters send) is longer than
/// ESPHome dsmr's default `max_telegram_length` of 1,500 bytes.
#[test]
fn longest_telegram_exceeds_the_esphome_default() {
    let g = load(&golden_dir(), "longest-telegram");
    assert!(!g.sent.is_empty());
    for (record, readout) in &g.sent {
        let bytes = record["telegram"].as_str().expect("telegram").len();
        assert!(bytes > 1500, "{bytes} bytes");
        assert_eq!(readout.model, p1_wire::Model::T211);
        assert_eq!(readout.demand.as_ref().map(|d| d.history.len()), Some(13));
        let kinds: Vec<u16> = readout.mbus.iter().map(|m| m.device_type).collect();
        assert_eq!(kinds, [3, 7]);
        assert!(!readout.message.is_empty());
    }
}
