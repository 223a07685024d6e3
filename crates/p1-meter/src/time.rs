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

/// One day, ms.
const DAY_MS: i64 = 86_400_000;

/// The instants [`LocalDay`] serves: 1970..2100 (the meter's range) with a day's margin
/// either side, which the tests check against the zone's transitions in full.
const LOCAL_DAY_RANGE: std::ops::Range<i64> = -DAY_MS..4_102_444_800_000 + DAY_MS;

/// Belgian local time over a span of instants that share one UTC offset and one local
/// date, so that [`LocalDay::tst`] reads the wire timestamp there by arithmetic, without
/// the time-zone look-up of [`SimTime::tst`]: the meter reads its clock at every
/// telegram, and one such span (built with three look-ups, a few more on the two
/// transition days of a year) serves a whole day of them.
///
/// The span is the local day of the instant it was built for, cut at a DST transition
/// falling in that day. That relies on Europe/Brussels never changing its offset twice
/// within 24 hours, which `local_day_assumption_holds_for_every_transition` checks for
/// every transition in [`LOCAL_DAY_RANGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalDay {
    /// First instant of the span, true ms since the epoch.
    from: i64,
    /// End of the span (excluded); `from == until` for the empty span.
    until: i64,
    /// UTC offset in force over the span, ms.
    offset_ms: i64,
    /// Local midnight of the span's date as local ms (UTC ms plus the offset).
    midnight: i64,
    /// The span's date as printed: two-digit year, month, day.
    ymd: [u8; 3],
}

impl LocalDay {
    /// A span holding no instant: every [`LocalDay::covers`] is false.
    pub(crate) const EMPTY: LocalDay = LocalDay {
        from: 0,
        until: 0,
        offset_ms: 0,
        midnight: 0,
        ymd: [0; 3],
    };

    /// The span holding `ms` (empty outside [`LOCAL_DAY_RANGE`]).
    pub(crate) fn containing(ms: i64) -> LocalDay {
        use chrono::Datelike;
        if !LOCAL_DAY_RANGE.contains(&ms) {
            return LocalDay::EMPTY;
        }
        let offset = offset_ms(ms);
        let midnight = (ms + offset).div_euclid(DAY_MS) * DAY_MS;
        // The local day's bounds if the offset held all day.
        let (lo, hi) = (midnight - offset, midnight - offset + DAY_MS);
        // At most one transition falls within the day (see above): the offset at a bound
        // that differs from the one at `ms` places that transition between them.
        let from = if offset_ms(lo) == offset {
            lo
        } else {
            dst_transition_between(lo, ms).unwrap_or(ms)
        };
        let until = if offset_ms(hi - 1) == offset {
            hi
        } else {
            dst_transition_between(ms, hi - 1).unwrap_or(ms + 1)
        };
        let Some(date) = DateTime::from_timestamp_millis(midnight).map(|d| d.date_naive()) else {
            return LocalDay::EMPTY;
        };
        LocalDay {
            from,
            until,
            offset_ms: offset,
            midnight,
            ymd: [
                (date.year() % 100) as u8,
                date.month() as u8,
                date.day() as u8,
            ],
        }
    }

    /// Whether `ms` lies in the span.
    pub(crate) fn covers(&self, ms: i64) -> bool {
        self.from <= ms && ms < self.until
    }

    /// [`SimTime::tst`] of `ms`, which the span covers ([`LocalDay::covers`]).
    pub(crate) fn tst(&self, ms: i64) -> Tst {
        let s = (ms + self.offset_ms - self.midnight).div_euclid(1000);
        let [year, month, day] = self.ymd;
        Tst {
            year,
            month,
            day,
            hour: (s / 3600) as u8,
            minute: (s / 60 % 60) as u8,
            second: (s % 60) as u8,
            dst: self.offset_ms == 7_200_000,
        }
    }

    /// [`SimTime::tst`] of `ms`: from the span when it covers `ms`, else by the zone.
    pub(crate) fn tst_or_zone(&self, ms: i64) -> Tst {
        if self.covers(ms) {
            self.tst(ms)
        } else {
            SimTime(ms).tst()
        }
    }
}

/// [`SimTime::tst`] for a stream of instants that mostly share a local day (the
/// telegram instants of a run): the day is kept, so the time-zone look-up happens once a
/// day instead of at every instant. Any instant may be asked, in any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalClock {
    day: LocalDay,
}

impl Default for LocalClock {
    fn default() -> LocalClock {
        LocalClock {
            day: LocalDay::EMPTY,
        }
    }
}

impl LocalClock {
    /// A clock that has seen no instant yet.
    pub fn new() -> LocalClock {
        LocalClock::default()
    }

    /// `t.tst()`, from the kept day when it covers `t`.
    pub fn tst(&mut self, t: SimTime) -> Tst {
        if !self.day.covers(t.0) {
            self.day = LocalDay::containing(t.0);
        }
        self.day.tst_or_zone(t.0)
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

    /// Every UTC offset change of Europe/Brussels in `LOCAL_DAY_RANGE`, found by sampling
    /// every 20 minutes and searching each change to the millisecond (computed once).
    fn transitions() -> &'static [i64] {
        static ALL: std::sync::OnceLock<Vec<i64>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| {
            let step = 1_200_000;
            let mut found = Vec::new();
            let mut t = LOCAL_DAY_RANGE.start;
            let mut at_t = offset_ms(t);
            while t < LOCAL_DAY_RANGE.end {
                let next = t + step;
                let at_next = offset_ms(next);
                if at_t != at_next {
                    found.push(dst_transition_between(t, next).expect("a change"));
                }
                (t, at_t) = (next, at_next);
            }
            found
        })
    }

    #[test]
    fn local_day_assumption_holds_for_every_transition() {
        let all = transitions();
        // 1977..2100 has two a year; 1970..1976 none.
        assert!(all.len() > 240, "{} transitions", all.len());
        for pair in all.windows(2) {
            assert!(pair[1] - pair[0] > 2 * DAY_MS, "{pair:?} too close");
        }
        for &x in all {
            // Each is a change of one hour, at a whole UTC hour.
            assert_eq!((offset_ms(x) - offset_ms(x - 1)).abs(), 3_600_000, "at {x}");
            assert_eq!(x % 3_600_000, 0, "at {x}");
        }
    }

    /// Asserts that the span built for `built` gives `SimTime::tst` for `ms` wherever it
    /// covers it, and covers `built` itself.
    fn check_span(built: i64, ms: i64) {
        let day = LocalDay::containing(built);
        assert!(day.covers(built), "{built} not covered");
        if day.covers(ms) {
            assert_eq!(day.tst(ms), SimTime(ms).tst(), "built {built}, read {ms}");
        }
        assert_eq!(day.tst_or_zone(ms), SimTime(ms).tst(), "{ms}");
    }

    #[test]
    fn local_day_is_exact_around_every_transition() {
        for &x in transitions() {
            for d in [
                -DAY_MS - 1,
                -DAY_MS,
                -3_600_001,
                -3_600_000,
                -1001,
                -1000,
                -999,
                -1,
                0,
                1,
                999,
                1000,
                3_599_999,
                3_600_000,
                DAY_MS - 1,
                DAY_MS,
            ] {
                for e in [-3_600_000, -1, 0, 1, 3_600_000, DAY_MS / 2] {
                    check_span(x + d, x + d + e);
                }
            }
        }
    }

    #[test]
    fn local_day_spans_a_local_day_or_its_part_around_a_transition() {
        let day = LocalDay::containing(utc("2026-06-15T10:00:00Z").0);
        assert_eq!(day.from, utc("2026-06-14T22:00:00Z").0);
        assert_eq!(day.until, utc("2026-06-15T22:00:00Z").0);
        // 29 March 2026: CET until 01:00 UTC, then CEST.
        let before = LocalDay::containing(utc("2026-03-29T00:30:00Z").0);
        assert_eq!(before.from, utc("2026-03-28T23:00:00Z").0);
        assert_eq!(before.until, utc("2026-03-29T01:00:00Z").0);
        let after = LocalDay::containing(utc("2026-03-29T01:00:00Z").0);
        assert_eq!(after.from, utc("2026-03-29T01:00:00Z").0);
        assert_eq!(after.until, utc("2026-03-29T22:00:00Z").0);
        assert!(!LocalDay::EMPTY.covers(0));
        assert!(!LocalDay::containing(i64::MAX).covers(i64::MAX));
        assert!(!LocalDay::containing(LOCAL_DAY_RANGE.end).covers(LOCAL_DAY_RANGE.end));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn local_day_equals_the_zone(
            built in LOCAL_DAY_RANGE,
            later in 0i64..2 * DAY_MS,
        ) {
            check_span(built, built + later);
            check_span(built, built - later);
        }
    }

    #[test]
    fn a_local_clock_reads_as_the_zone_does() {
        let mut clock = LocalClock::new();
        // Both 2026 transitions a day either side, forwards, then back and forth.
        for start in [1_774_656_000_000_i64, 1_792_886_400_000] {
            let mut t = start - DAY_MS;
            while t < start + 2 * DAY_MS {
                assert_eq!(clock.tst(SimTime(t)), SimTime(t).tst(), "{t}");
                t += 7_001;
            }
        }
        for t in [
            0,
            1_774_745_999_999,
            -5,
            1_774_746_000_000,
            4_102_444_800_000 + 3 * DAY_MS,
        ] {
            assert_eq!(clock.tst(SimTime(t)), SimTime(t).tst(), "{t}");
        }
    }
}
