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
        SimTime(self.0 + ms)
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
