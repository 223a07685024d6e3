//! Human units in scenario files, parsed exactly into the integers the meter uses:
//! energy (kWh -> Wh), power (W/kW -> W), volume (m³ -> dm³), flow (l/h, m3/h, l/min ->
//! ml/h), money (EUR -> µEUR), voltage (V -> dV), ratios (-> per-mille), durations
//! (`"1h30m"` -> ms), instants (RFC 3339 or Belgian local time -> [`SimTime`]) and times of
//! day. Decimals are parsed digit by digit; no value passes through `f64`.
//!
//! Each type implements `Deserialize`, so a bad value is reported by the TOML
//! deserializer at the value's own position.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use p1_meter::SimTime;
use p1_meter::time::{LocalTimeError, from_local};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Parses a decimal number such as `-12.345` into an integer scaled by `10^scale`.
///
/// More fraction digits than `scale` is an error (the value would not be exact).
pub(crate) fn parse_decimal(text: &str, scale: u32) -> Result<i64, String> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() && frac_part.is_empty()
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || (body.contains('.') && frac_part.is_empty())
    {
        return Err(format!("`{t}` is not a decimal number"));
    }
    if frac_part.len() > scale as usize {
        return Err(format!(
            "`{t}` has {} decimals; at most {scale} are exact here",
            frac_part.len()
        ));
    }
    let mut value: i64 = 0;
    let overflow = || format!("`{t}` is too large");
    for b in int_part.bytes().chain(frac_part.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in frac_part.len()..scale as usize {
        value = value.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if negative { -value } else { value })
}

/// Splits `"1.5 kW"` into the number and the unit (unit may be empty).
fn split_unit(text: &str) -> (&str, &str) {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    (t[..end].trim(), t[end..].trim())
}

/// Generates a `Deserialize` impl for a newtype that accepts integers and strings.
macro_rules! int_or_str {
    ($ty:ident, $expecting:expr, $from_int:expr, $from_str:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        let f: fn(i64) -> Result<$ty, String> = $from_int;
                        f(v).map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        let v = i64::try_from(v).map_err(|_| E::custom("number too large"))?;
                        self.visit_i64(v)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        Err(E::custom(format!(
                            "found the float {v}: write decimals as a string, \
                             e.g. \"{v}\", so they are read exactly ({})",
                            $expecting
                        )))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        let f: fn(&str) -> Result<$ty, String> = $from_str;
                        f(v).map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

/// Energy in Wh, written as kWh: `"1234.567"`, `1234` or `"1234.567 kWh"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Energy(pub(crate) i64);

int_or_str!(
    Energy,
    "an energy in kWh such as \"1234.567\" or 1234",
    |v| v
        .checked_mul(1000)
        .map(Energy)
        .ok_or_else(|| "energy too large".to_owned()),
    |s| {
        let (num, unit) = split_unit(s);
        match unit {
            "" | "kWh" => parse_decimal(num, 3).map(Energy),
            "Wh" => parse_decimal(num, 0).map(Energy),
            _ => Err(format!("unknown energy unit `{unit}`: use kWh or Wh")),
        }
    }
);

/// Power in W: an integer (W) or a string with unit, `"1.5 kW"`, `"800 W"`, `"-2kW"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Power(pub(crate) i64);

/// Largest power a load may name (1 GW), which keeps sums and scalings exact in `i64`.
pub(crate) const MAX_POWER_W: i64 = 1_000_000_000;

fn bounded_power(w: i64) -> Result<Power, String> {
    if w.abs() > MAX_POWER_W {
        return Err("a power is at most 1 GW".to_owned());
    }
    Ok(Power(w))
}

int_or_str!(
    Power,
    "a power such as \"1.5 kW\", \"800 W\" or 800 (W)",
    bounded_power,
    |s| {
        let (num, unit) = split_unit(s);
        match unit {
            "W" => parse_decimal(num, 0).and_then(bounded_power),
            "kW" => parse_decimal(num, 3).and_then(bounded_power),
            "" => Err(format!("`{s}` needs a unit: \"{s} W\" or \"{s} kW\"")),
            _ => Err(format!("unknown power unit `{unit}`: use W or kW")),
        }
    }
);

/// Volume in dm³ (litres), written as m³: `"123.456"`, `12` or `"123.456 m3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Volume(pub(crate) i64);

int_or_str!(
    Volume,
    "a volume in m3 such as \"123.456\" or 12",
    |v| v
        .checked_mul(1000)
        .map(Volume)
        .ok_or_else(|| "volume too large".to_owned()),
    |s| {
        let (num, unit) = split_unit(s);
        match unit {
            "" | "m3" | "m³" => parse_decimal(num, 3).map(Volume),
            "l" | "dm3" => parse_decimal(num, 0).map(Volume),
            _ => Err(format!("unknown volume unit `{unit}`: use m3 or l")),
        }
    }
);

/// Flow in ml/h: an integer (l/h) or `"600 l/h"`, `"0.45 m3/h"`, `"9 l/min"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Flow(pub(crate) u64);

/// Largest flow a load may name (1000 m³/h = 10⁹ ml/h), which, like [`MAX_POWER_W`],
/// keeps sums and scalings exact in `i64`.
pub(crate) const MAX_FLOW_ML_PER_H: i64 = 1_000_000_000;

fn nonneg_flow(v: i64) -> Result<Flow, String> {
    if v > MAX_FLOW_ML_PER_H {
        return Err("a flow is at most 1000 m3/h".to_owned());
    }
    u64::try_from(v)
        .map(Flow)
        .map_err(|_| "a flow cannot be negative".to_owned())
}

int_or_str!(
    Flow,
    "a flow such as \"600 l/h\", \"0.45 m3/h\", \"9 l/min\" or 600 (l/h)",
    |v| v
        .checked_mul(1000)
        .ok_or_else(|| "flow too large".to_owned())
        .and_then(nonneg_flow),
    |s| {
        let (num, unit) = split_unit(s);
        let ml_per_h = match unit {
            "l/h" => parse_decimal(num, 3)?,
            "m3/h" | "m³/h" => parse_decimal(num, 6)?,
            "l/min" => parse_decimal(num, 3)?
                .checked_mul(60)
                .ok_or_else(|| "flow too large".to_owned())?,
            "" => return Err(format!("`{s}` needs a unit: l/h, m3/h or l/min")),
            _ => {
                return Err(format!(
                    "unknown flow unit `{unit}`: use l/h, m3/h or l/min"
                ));
            }
        };
        nonneg_flow(ml_per_h)
    }
);

/// Money in micro-euro, written as EUR: `"12.50"` or `12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Money(pub(crate) i64);

int_or_str!(
    Money,
    "an amount in EUR such as \"12.50\" or 12",
    |v| v
        .checked_mul(1_000_000)
        .map(Money)
        .ok_or_else(|| "amount too large".to_owned()),
    |s| {
        let (num, unit) = split_unit(s);
        match unit {
            "" | "EUR" | "€" => parse_decimal(num, 6).map(Money),
            _ => Err(format!("unknown currency `{unit}`: amounts are in EUR")),
        }
    }
);

/// Voltage in dV, written as V: `"230.1"` or `230`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Voltage(pub(crate) u32);

fn to_dv(v: i64) -> Result<Voltage, String> {
    u32::try_from(v)
        .map(Voltage)
        .map_err(|_| "a voltage must be between 0 and 400 000 V".to_owned())
}

int_or_str!(
    Voltage,
    "a voltage in V such as \"230.4\" or 230",
    |v| v
        .checked_mul(10)
        .ok_or_else(|| "voltage too large".to_owned())
        .and_then(to_dv),
    |s| {
        let (num, unit) = split_unit(s);
        match unit {
            "" | "V" => to_dv(parse_decimal(num, 1)?),
            _ => Err(format!("unknown voltage unit `{unit}`: use V")),
        }
    }
);

fn bounded_ratio(permille: i64) -> Result<Ratio, String> {
    if permille.abs() > 1_000_000 {
        return Err("a ratio is at most 1000".to_owned());
    }
    Ok(Ratio(permille))
}

/// A dimensionless ratio in per-mille: `"0.95"`, `"1.5"` or `1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Ratio(pub(crate) i64);

int_or_str!(
    Ratio,
    "a ratio such as \"0.95\" or 1",
    |v| bounded_ratio(v.saturating_mul(1000)),
    |s| parse_decimal(s, 3).and_then(bounded_ratio)
);

/// Parses `"1h30m"`, `"90s"`, `"500ms"`, `"-2m"`, `"1d"`, `"1w"` into ms.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (negative, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let bad = || {
        format!(
            "`{t}` is not a duration: write e.g. \"90s\", \"10m\", \"1h30m\", \"500ms\", \"2d\""
        )
    };
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_ms: i64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = number
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{t}` is too long"))?;
    }
    if total > MAX_DURATION_MS {
        return Err(format!("`{t}` is longer than 100 years"));
    }
    Ok(if negative { -total } else { total })
}

/// Longest duration a scenario may name (100 years), which keeps every sum of instants
/// far from overflowing.
pub(crate) const MAX_DURATION_MS: i64 = 100 * 366 * 86_400_000;

/// A signed duration in ms: `"10m"`, `"1h30m"`, `"-90s"`, `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Duration(pub(crate) i64);

int_or_str!(
    Duration,
    "a duration such as \"90s\", \"10m\" or \"1h30m\"",
    |v| Err(format!(
        "`{v}` needs a unit: \"{v}s\", \"{v}m\", \"{v}h\" or \"{v}ms\""
    )),
    |s| parse_duration(s).map(Duration)
);

/// Parses a local or offset date-time into simulated time.
pub(crate) fn parse_instant(text: &str) -> Result<SimTime, String> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        if !(2000..=2099).contains(&dt.year()) {
            return Err(format!(
                "`{t}` is outside 2000-2099, the years a meter's two-digit timestamps can show"
            ));
        }
        return Ok(SimTime(dt.timestamp_millis()));
    }
    let local_formats = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    let naive = local_formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(NaiveTime::MIN))
        })
        .ok_or_else(|| {
            format!(
                "`{t}` is not a date-time: write RFC 3339 with an offset \
                 (\"2026-03-29T01:30:00+01:00\") or Belgian local time (\"2026-03-29 01:30:00\")"
            )
        })?;
    if !(2000..=2099).contains(&naive.year()) {
        return Err(format!(
            "`{t}` is outside 2000-2099, the years a meter's two-digit timestamps can show"
        ));
    }
    from_local(naive).map_err(|e| match e {
        LocalTimeError::Nonexistent => format!(
            "local time {naive} does not exist in Belgium (clocks jump from 02:00 to 03:00 \
             on the last Sunday of March); pick another time or write it with an offset"
        ),
        LocalTimeError::Ambiguous => format!(
            "local time {naive} occurs twice in Belgium (clocks go back from 03:00 to 02:00 \
             on the last Sunday of October); write it with an offset: +02:00 for the first \
             (summer time), +01:00 for the second (winter time)"
        ),
    })
}

/// Visitor accepting a string or a native TOML date-time for [`parse_instant`].
struct InstantVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<'de, T> Visitor<'de> for InstantVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        // A native TOML date-time arrives as a one-entry map holding its text.
        let text = match map.next_key::<String>()? {
            Some(_) => map.next_value::<String>()?,
            None => return Err(de::Error::custom(self.expecting)),
        };
        (self.parse)(&text).map_err(de::Error::custom)
    }
}

/// An absolute instant: RFC 3339 with offset or Belgian local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Instant(pub(crate) SimTime);

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        d.deserialize_any(InstantVisitor {
            expecting: "a date-time such as \"2026-03-29 01:30:00\" or \"2026-03-29T01:30:00+01:00\"",
            parse: |s| parse_instant(s).map(Instant),
        })
    }
}

/// When an event happens: an absolute instant or an offset from the scenario start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum At {
    /// An absolute instant.
    Absolute(SimTime),
    /// Milliseconds after the scenario start (`"+10m"`).
    Offset(i64),
}

impl At {
    /// The instant, given the scenario start.
    pub fn resolve(self, start: SimTime) -> SimTime {
        match self {
            At::Absolute(t) => t,
            At::Offset(ms) => start.plus_ms(ms),
        }
    }
}

fn parse_at(s: &str) -> Result<At, String> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('+') {
        return parse_duration(rest).map(At::Offset);
    }
    if t.starts_with(|c: char| c.is_ascii_digit()) && parse_duration(t).is_ok() {
        return parse_duration(t).map(At::Offset);
    }
    parse_instant(t).map(At::Absolute)
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<At, D::Error> {
        d.deserialize_any(InstantVisitor {
            expecting: "an offset from the start such as \"+10m\" or a date-time",
            parse: parse_at,
        })
    }
}

/// A local time of day, `"07:00"` or `"07:00:30"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct TimeOfDay(pub(crate) NaiveTime);

fn parse_time_of_day(s: &str) -> Result<TimeOfDay, String> {
    let t = s.trim();
    NaiveTime::parse_from_str(t, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .map(TimeOfDay)
        .map_err(|_| format!("`{t}` is not a time of day: write e.g. \"07:00\" or \"22:30:00\""))
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
        d.deserialize_any(InstantVisitor {
            expecting: "a time of day such as \"07:00\"",
            parse: parse_time_of_day,
        })
    }
}

/// A calendar date, `"2026-01-01"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Date(pub(crate) NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        d.deserialize_any(InstantVisitor {
            expecting: "a date such as \"2026-01-01\"",
            parse: |s| {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map(Date)
                    .map_err(|_| format!("`{s}` is not a date: write e.g. \"2026-01-01\""))
            },
        })
    }
}

/// A month, `"2026-02"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Month(pub(crate) NaiveDate);

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        d.deserialize_any(InstantVisitor {
            expecting: "a month such as \"2026-02\"",
            parse: |s| {
                NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
                    .map(Month)
                    .map_err(|_| format!("`{s}` is not a month: write e.g. \"2026-02\""))
            },
        })
    }
}

/// A weekday, `"mon"` .. `"sun"`; index 0 = Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Weekday(pub(crate) usize);

/// Weekday names as written in scenario files, Monday first.
pub(crate) const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl<'de> Deserialize<'de> for Weekday {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        d.deserialize_any(InstantVisitor {
            expecting: "a weekday: mon, tue, wed, thu, fri, sat or sun",
            parse: |s| {
                let lower = s.trim().to_ascii_lowercase();
                WEEKDAYS
                    .iter()
                    .position(|w| lower.starts_with(w))
                    .map(Weekday)
                    .ok_or_else(|| {
                        format!("`{s}` is not a weekday: use mon, tue, wed, thu, fri, sat or sun")
                    })
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("1234.567", 3), Ok(1_234_567));
        assert_eq!(parse_decimal("0.1", 3), Ok(100));
        assert_eq!(parse_decimal("-2", 3), Ok(-2000));
        assert_eq!(parse_decimal("7", 0), Ok(7));
        assert!(parse_decimal("1.2345", 3).is_err());
        assert!(parse_decimal("1,5", 3).is_err());
        assert!(parse_decimal("", 3).is_err());
        assert!(parse_decimal("1.", 3).is_err());
        assert!(parse_decimal("99999999999999999999", 3).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("-2m"), Ok(-120_000));
        assert_eq!(parse_duration("1w2d"), Ok(9 * 86_400_000));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("9000000000000s").is_err());
    }

    #[test]
    fn instants() {
        // 2026-03-29 01:30 CET = 00:30 UTC.
        let utc = DateTime::parse_from_rfc3339("2026-03-29T00:30:00Z").unwrap();
        assert_eq!(
            parse_instant("2026-03-29 01:30:00"),
            Ok(SimTime(utc.timestamp_millis()))
        );
        assert_eq!(
            parse_instant("2026-03-29T01:30:00+01:00"),
            Ok(SimTime(utc.timestamp_millis()))
        );
        let gap = parse_instant("2026-03-29 02:30:00").unwrap_err();
        assert!(gap.contains("does not exist"), "{gap}");
        let twice = parse_instant("2026-10-25 02:30:00").unwrap_err();
        assert!(twice.contains("occurs twice"), "{twice}");
        assert_eq!(parse_at("+10m"), Ok(At::Offset(600_000)));
    }
}
