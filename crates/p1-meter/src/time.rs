//! Simulated time ([`SimTime`]) and the only place that knows Belgian local time:
//! Europe/Brussels from the IANA database (chrono-tz), never the host zone.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Brussels;
use p1_wire::Tst;
use serde::{Deserialize, Serialize};

/// An instant of simulated time: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SimTime(pub i64);

impl SimTime {
    /// From whole seconds since the Unix epoch.
    pub const fn from_secs(secs: i64) -> SimTime {
        SimTime(secs * 1000)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus `ms` milliseconds.
    pub const fn plus_ms(self, ms: i64) -> SimTime {
        SimTime(self.0.saturating_add(ms))
    }

    /// The instant as a UTC date-time.
    pub fn utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// From a UTC date-time.
    pub fn from_utc(t: DateTime<Utc>) -> SimTime {
        SimTime(t.timestamp_millis())
    }

    /// Belgian wall-clock time at this instant and whether summer time is in force.
    pub fn local(self) -> (NaiveDateTime, bool) {
        let local = self.utc().with_timezone(&Brussels);
        let offset = local.offset().fix().local_minus_utc();
        (local.naive_local(), offset == 7200)
    }

    /// The wire timestamp of this instant in Belgian local time, truncated to the second.
    pub fn tst(self) -> Tst {
        use chrono::{Datelike, Timelike};
        let (t, dst) = self.local();
        Tst {
            year: (t.year() % 100) as u8,
            month: t.month() as u8,
            day: t.day() as u8,
            hour: t.hour() as u8,
            minute: t.minute() as u8,
            second: t.second() as u8,
            dst,
        }
    }
}

use chrono::Offset;

/// The UTC instant of a Belgian local time, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTimeError {
    /// The local time falls in the spring-forward gap (e.g. 02:30 on the last Sunday of March).
    Nonexistent,
    /// The local time occurs twice (e.g. 02:30 on the last Sunday of October).
    Ambiguous,
}

/// Converts Belgian local time to simulated time.
pub fn from_local(t: NaiveDateTime) -> Result<SimTime, LocalTimeError> {
    match Brussels.from_local_datetime(&t) {
        chrono::LocalResult::Single(d) => Ok(SimTime::from_utc(d.with_timezone(&Utc))),
        chrono::LocalResult::Ambiguous(..) => Err(LocalTimeError::Ambiguous),
        chrono::LocalResult::None => Err(LocalTimeError::Nonexistent),
    }
}

/// Converts Belgian local time to simulated time for every `t`, as a wall clock reads:
/// a time in the spring-forward gap (02:00-03:00 on the last Sunday of March) moves one
/// hour on (02:30 becomes 03:30 summer time, the instant a clock not yet set forward
/// would show 02:30), and a time of the repeated October hour takes its first, summer-time
/// occurrence. For daily schedules: "every day at 02:30" still happens on both days.
pub fn from_local_forward(t: NaiveDateTime) -> SimTime {
    let later = t.checked_add_signed(chrono::Duration::hours(1));
    let resolved = Brussels
        .from_local_datetime(&t)
        .earliest()
        .or_else(|| later.and_then(|l| Brussels.from_local_datetime(&l).earliest()));
    match resolved {
        Some(d) => SimTime(d.timestamp_millis()),
        // Unreachable for Europe/Brussels (its gaps are one hour); read the time as UTC.
        None => SimTime(t.and_utc().timestamp_millis()),
    }
}

/// Every instant at which Belgian wall-clock time reads `t`, in time order: one
/// normally; two in the repeated October hour (summer time first, then winter time);
/// none in the spring-forward gap.
pub fn local_instants(t: NaiveDateTime) -> Vec<SimTime> {
    instants_of_local(t).into_iter().map(SimTime).collect()
}

/// UTC offset of Belgian local time at `ms` (ms since the epoch), in ms.
pub(crate) fn offset_ms(ms: i64) -> i64 {
    let utc = SimTime(ms).utc().naive_utc();
    i64::from(
        Brussels
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc(),
    ) * 1000
}

/// Every instant at which Belgian wall-clock time reads `t`: one normally, two in the
/// repeated October hour, none in the missing March hour.
pub(crate) fn instants_of_local(t: NaiveDateTime) -> Vec<i64> {
    match Brussels.from_local_datetime(&t) {
        chrono::LocalResult::Single(d) => vec![d.timestamp_millis()],
        chrono::LocalResult::Ambiguous(a, b) => vec![a.timestamp_millis(), b.timestamp_millis()],
        chrono::LocalResult::None => Vec::new(),
    }
}

/// The first instant at or after which wall-clock time reads `t` or later: the instant
/// itself, the earlier of two, or the end of the spring-forward gap.
pub(crate) fn first_instant_at_or_after_local(t: NaiveDateTime) -> i64 {
    if let Some(&first) = instants_of_local(t).first() {
        return first;
    }
    // In the gap: wall time jumps over `t`, so the first instant showing a later time is
    // the transition itself; found by walking to the first representable minute.
    let mut probe = t;
    for _ in 0..(24 * 60) {
        probe = match probe.checked_add_signed(chrono::Duration::minutes(1)) {
            Some(p) => p,
            None => break,
        };
        if let Some(&first) = instants_of_local(probe).first() {
            let hint = first - 60_000;
            return dst_transition_between(hint, first).unwrap_or(first);
        }
    }
    SimTime::from_utc(t.and_utc()).0
}

/// The first instant in `(a, b]` whose UTC offset differs from the offset at `a`, if any.
/// Binary search on milliseconds: about 27 zone look-ups per day searched.
pub(crate) fn dst_transition_between(a: i64, b: i64) -> Option<i64> {
    let at_a = offset_ms(a);
    if b <= a || offset_ms(b) == at_a {
        return None;
    }
    let (mut lo, mut hi) = (a, b);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_ms(mid) == at_a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// Local midnight on the 1st of the month containing `ms` (in Belgian time).
pub(crate) fn month_start_containing(ms: i64) -> i64 {
    use chrono::Datelike;
    let (t, _) = SimTime(ms).local();
    let first = t.date().with_day(1).unwrap_or(t.date());
    first_instant_at_or_after_local(first.and_time(chrono::NaiveTime::MIN))
}

/// Local midnight on the 1st of the month after the one containing `ms`.
pub(crate) fn month_start_after(ms: i64) -> i64 {
    use chrono::Datelike;
    let (t, _) = SimTime(ms).local();
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    match chrono::NaiveDate::from_ymd_opt(y, m, 1) {
        Some(d) => first_instant_at_or_after_local(d.and_time(chrono::NaiveTime::MIN)),
        None => i64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(text: &str) -> SimTime {
        SimTime(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn forward_conversion_fills_the_gap_and_takes_summer_time_first() {
        // CEST = UTC+2, CET = UTC+1; 2026 changes on 29 March and 25 October.
        let f = |t| from_local_forward(local(t));
        assert_eq!(f("2026-06-15 12:00"), utc("2026-06-15T10:00:00Z"));
        assert_eq!(f("2026-01-15 12:00"), utc("2026-01-15T11:00:00Z"));
        // 02:30 does not exist on 29 March: 03:30 CEST.
        assert_eq!(f("2026-03-29 02:30"), utc("2026-03-29T01:30:00Z"));
        assert_eq!(f("2026-03-29 03:00"), utc("2026-03-29T01:00:00Z"));
        // 02:30 happens twice on 25 October: the first is CEST.
        assert_eq!(f("2026-10-25 02:30"), utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn local_instants_lists_every_occurrence_in_order() {
        assert_eq!(
            local_instants(local("2026-10-25 02:30")),
            vec![utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z")]
        );
        assert_eq!(local_instants(local("2026-03-29 02:30")), vec![]);
        assert_eq!(
            local_instants(local("2026-03-29 01:59")),
            vec![utc("2026-03-29T00:59:00Z")]
        );
    }
}
