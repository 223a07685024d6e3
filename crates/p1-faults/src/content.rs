//! Content quirks: changes to the typed [`Readout`] that real meters show (invalid and
//! factory-default timestamps, clock jumps, stale history and M-Bus entries, unit-less
//! readings) and size stress (full history, four M-Bus channels, long text message).
//!
//! Every result is still a readout the wire can carry, so it encodes with a valid CRC and
//! a strict consumer accepts it; the calendar arithmetic for shifted clocks lives here.

use p1_wire::{Breaker, HistoryEntry, MbusCapture, MbusReadout, Readout, Tst};

use crate::spec::{FaultKind, TstField};

/// Applies one content quirk; returns a description of what changed, or `None` when the
/// readout has nothing it applies to (e.g. no M-Bus channel for `invalid_timestamp`).
pub(crate) fn apply(kind: &FaultKind, r: &mut Readout) -> Option<String> {
    match kind {
        FaultKind::InvalidTimestamp { field } => invalid_timestamp(*field, r),
        FaultKind::FactoryClock => {
            r.time = Tst::FACTORY_DEFAULT;
            Some("0-0:1.0.0 reads 000101010000W".into())
        }
        FaultKind::ClockShift { seconds } => {
            let shifted = shift(r.time, *seconds)?;
            let was = r.time;
            r.time = shifted;
            Some(format!("0-0:1.0.0 {was} shown as {shifted}"))
        }
        FaultKind::StaleHistoryHead => stale_history_head(r),
        FaultKind::StaleGasChannel { channel, at } => {
            let ch = channel.or_else(|| first_free(r))?;
            if r.mbus.iter().any(|m| m.channel == ch) {
                return None;
            }
            let at = at.unwrap_or(STALE_GAS_AT);
            r.mbus.push(MbusReadout {
                channel: ch,
                device_type: MbusReadout::GAS,
                equipment_id: format!("7FLO21190000{ch:02}"),
                valve: Some(Breaker::Connected),
                capture: MbusCapture::Reading { at, dm3: 0 },
            });
            r.mbus.sort_by_key(|m| m.channel);
            Some(format!(
                "stale gas channel {ch} frozen at ({at})(00000.000*m3)"
            ))
        }
        FaultKind::UnitlessReading { channel } => {
            let ch = match channel {
                Some(c) => *c,
                None => r.mbus.first().map_or(1, |m| m.channel),
            };
            match r.mbus.iter_mut().find(|m| m.channel == ch) {
                Some(m) => m.capture = MbusCapture::Silent,
                None => {
                    r.mbus.push(MbusReadout {
                        channel: ch,
                        device_type: MbusReadout::GAS,
                        equipment_id: format!("7FLO21190000{ch:02}"),
                        valve: Some(Breaker::Disconnected),
                        capture: MbusCapture::Silent,
                    });
                    r.mbus.sort_by_key(|m| m.channel);
                }
            }
            Some(format!(
                "channel {ch} reads (632525252525W)(00000.000) without unit"
            ))
        }
        FaultKind::FullHistory => full_history(r),
        FaultKind::AllMbusChannels => all_mbus(r),
        FaultKind::LongMessage { bytes } => {
            r.message = message(*bytes);
            Some(format!("0-0:96.13.0 carries {bytes} bytes"))
        }
        FaultKind::Oversize { min_len } => {
            full_history(r);
            all_mbus(r);
            r.message.clear();
            let base = r.to_bytes().len();
            let bytes = min_len.saturating_sub(base).div_ceil(2).min(1024);
            r.message = message(bytes);
            Some(format!(
                "telegram of {} bytes (13-month history, four M-Bus channels, {bytes}-byte message)",
                r.to_bytes().len()
            ))
        }
        _ => None,
    }
}

/// Capture time of the stale second gas channel in dsmr-reader#1794 (spec §5).
const STALE_GAS_AT: Tst = Tst {
    year: 23,
    month: 1,
    day: 19,
    hour: 12,
    minute: 40,
    second: 5,
    dst: false,
};

fn first_free(r: &Readout) -> Option<u8> {
    (1..=4).find(|c| r.mbus.iter().all(|m| m.channel != *c))
}

/// A printable text of `n` bytes.
fn message(n: usize) -> Vec<u8> {
    b"P1SIM TEXT MESSAGE 0123456789 "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

fn invalid_timestamp(field: TstField, r: &mut Readout) -> Option<String> {
    match field {
        TstField::Mbus => {
            let mut n = 0;
            for m in &mut r.mbus {
                if let MbusCapture::Reading { at, .. } = &mut m.capture {
                    *at = Tst::INVALID;
                    n += 1;
                }
            }
            (n > 0).then(|| format!("{n} M-Bus capture time(s) read 632525252525W"))
        }
        TstField::Peak => {
            let d = r.demand.as_mut()?;
            d.peak.at = Tst::INVALID;
            Some("1-0:1.6.0 capture time reads 632525252525W".into())
        }
        TstField::History => {
            let d = r.demand.as_mut()?;
            if d.history.is_empty() {
                return None;
            }
            for e in &mut d.history {
                e.at = Tst::INVALID;
            }
            Some(format!(
                "{} 98.1.0 peak time(s) read 632525252525W",
                d.history.len()
            ))
        }
    }
}

fn stale_history_head(r: &mut Readout) -> Option<String> {
    let time = r.time;
    let d = r.demand.as_mut()?;
    match d.history.first_mut() {
        Some(e) => {
            e.at = Tst::INVALID;
            e.w = 0;
        }
        None => {
            let (y, m) = (i64::from(time.year), i64::from(time.month));
            let period = month_start(y * 12 + m - 1)?;
            d.history.push(HistoryEntry {
                period,
                at: Tst::INVALID,
                w: 0,
            });
        }
    }
    let head = d.history.first()?;
    Some(format!(
        "98.1.0 head entry ({})(632525252525W)(00.000*kW)",
        head.period
    ))
}

/// Summer time is in force at 00:00 on the first of April to October (the switches are on
/// the last Sundays of March and October).
fn summer_month(month: i64) -> bool {
    (4..=10).contains(&month)
}

/// `YYMM01000000X` of month number `ym` (= year * 12 + month - 1, year 0 = 2000).
fn month_start(ym: i64) -> Option<Tst> {
    if !(0..100 * 12).contains(&ym) {
        return None;
    }
    let (y, m) = (ym / 12, ym % 12 + 1);
    Tst::new(y as u8, m as u8, 1, 0, 0, 0, summer_month(m))
}

fn full_history(r: &mut Readout) -> Option<String> {
    let time = r.time;
    let d = r.demand.as_mut()?;
    let now = i64::from(time.year) * 12 + i64::from(time.month) - 1;
    let mut history = Vec::with_capacity(13);
    for k in 0..13i64 {
        // Entry k closes month now-13+k; its period is the first of the month after.
        let period = month_start(now - 12 + k)?;
        let peak_month = now - 13 + k;
        let (py, pm) = (peak_month.div_euclid(12), peak_month.rem_euclid(12) + 1);
        let at = Tst::new(
            u8::try_from(py).ok()?,
            pm as u8,
            15,
            18,
            45,
            0,
            summer_month(pm),
        )?;
        history.push(HistoryEntry {
            period,
            at,
            w: 1500 + 137 * k as u32,
        });
    }
    d.history = history;
    Some("98.1.0 holds 13 months".into())
}

fn all_mbus(r: &mut Readout) -> Option<String> {
    let water = r.version.has_water();
    let time = r.time;
    let mut added = Vec::new();
    for ch in 1..=4u8 {
        if r.mbus.iter().any(|m| m.channel == ch) {
            continue;
        }
        let is_water = water && ch % 2 == 0;
        r.mbus.push(MbusReadout {
            channel: ch,
            device_type: if is_water {
                MbusReadout::WATER
            } else {
                MbusReadout::GAS
            },
            equipment_id: if is_water {
                format!("8SET00000000{ch:02}")
            } else {
                format!("7FLO21190000{ch:02}")
            },
            valve: (!is_water).then_some(Breaker::Connected),
            capture: MbusCapture::Reading {
                at: time,
                dm3: 1_234_567 + u64::from(ch) * 1111,
            },
        });
        added.push(ch);
    }
    r.mbus.sort_by_key(|m| m.channel);
    (!added.is_empty()).then(|| format!("M-Bus channels {added:?} added"))
}

/// Days since 2000-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 730_425
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 730_425;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `t` moved by `seconds` on the wall clock, flag kept (a display-only jump); `None` when
/// `t` is not a calendar instant or the result leaves 2000..=2099.
pub(crate) fn shift(t: Tst, seconds: i64) -> Option<Tst> {
    if !t.is_valid() {
        return None;
    }
    let day = days_from_civil(
        2000 + i64::from(t.year),
        i64::from(t.month),
        i64::from(t.day),
    );
    let secs = day.checked_mul(86_400)?
        + i64::from(t.hour) * 3600
        + i64::from(t.minute) * 60
        + i64::from(t.second);
    let s = secs.checked_add(seconds)?;
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let tod = s.rem_euclid(86_400);
    if !(2000..=2099).contains(&y) {
        return None;
    }
    Tst::new(
        (y - 2000) as u8,
        m as u8,
        d as u8,
        (tod / 3600) as u8,
        (tod / 60 % 60) as u8,
        (tod % 60) as u8,
        t.dst,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tst(s: &str) -> Tst {
        Tst::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn shifts_across_month_year_and_leap_day() {
        assert_eq!(shift(tst("231231235959W"), 1), Some(tst("240101000000W")));
        assert_eq!(shift(tst("240301000000W"), -1), Some(tst("240229235959W")));
        assert_eq!(
            shift(tst("230301000000W"), -86_400),
            Some(tst("230228000000W"))
        );
        assert_eq!(
            shift(tst("221220204556W"), -3600),
            Some(tst("221220194556W"))
        );
        assert_eq!(shift(tst("000101000000W"), -1), None);
        assert_eq!(shift(Tst::INVALID, 1), None);
    }

    #[test]
    fn civil_round_trip() {
        for z in -1000..40_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2000, 1, 1), 0);
        // 2024-02-29 is day 8825 after 2000-01-01 (24 years: 6 leap days incl. 2000, +59).
        assert_eq!(days_from_civil(2024, 2, 29), 24 * 365 + 6 + 59);
    }

    #[test]
    fn month_starts_carry_the_flag() {
        assert_eq!(month_start(23 * 12 + 3), Some(tst("230401000000S")));
        assert_eq!(month_start(23 * 12 + 10), Some(tst("231101000000W")));
        assert_eq!(month_start(-1), None);
    }
}
