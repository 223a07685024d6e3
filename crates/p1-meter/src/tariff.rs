//! The day/night tariff (`0-0:96.14.0`): which tariff a wall-clock time falls in, and when
//! the tariff next changes on the meter clock, including across DST transitions.

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime};

use crate::TariffCalendar;
use crate::time::{
    SimTime, dst_transition_between, first_instant_at_or_after_local, instants_of_local,
};

/// Tariff 1 (day).
pub(crate) const DAY: u8 = 1;
/// Tariff 2 (night).
pub(crate) const NIGHT: u8 = 2;

/// How far [`next_change`] looks ahead before deciding the tariff never changes (a calendar
/// with no day-tariff weekday, or years of holidays).
const MAX_SCAN_DAYS: i64 = 800;

impl TariffCalendar {
    /// The tariff (1 day, 2 night) in force at Belgian wall-clock time `local`: the one
    /// tariff rule, used by the meter and by anything that checks against its calendar.
    /// A day window with `day_start` after `day_end` wraps midnight.
    pub fn tariff_at(&self, local: NaiveDateTime) -> u8 {
        let date = local.date();
        let weekday = date.weekday().num_days_from_monday() as usize;
        let day_weekday = self.day_weekdays.get(weekday).copied().unwrap_or(false);
        if !day_weekday || self.night_days.contains(&date) {
            return NIGHT;
        }
        let tm = local.time();
        let in_window = if self.day_start <= self.day_end {
            tm >= self.day_start && tm < self.day_end
        } else {
            // A window wrapping midnight (e.g. 22:00-07:00 day) is odd but representable.
            tm >= self.day_start || tm < self.day_end
        };
        if in_window { DAY } else { NIGHT }
    }
}

/// The tariff in force at meter-clock instant `meter_ms`.
pub(crate) fn tariff_at_ms(cal: &TariffCalendar, meter_ms: i64) -> u8 {
    cal.tariff_at(SimTime(meter_ms).local().0)
}

/// The first meter-clock instant after `meter_ms` at which the tariff differs from the one
/// in force at `meter_ms`, or `None` if it does not change within [`MAX_SCAN_DAYS`].
///
/// The tariff is a step function of wall-clock time, so it can only change where wall time
/// crosses midnight, `day_start` or `day_end` (each local time may occur twice in October
/// and not at all in March), or where wall time jumps (the DST transitions themselves).
pub(crate) fn next_change(cal: &TariffCalendar, meter_ms: i64) -> Option<i64> {
    let (local, _) = SimTime(meter_ms).local();
    let current = cal.tariff_at(local);
    let first_day = local.date();
    for k in 0..MAX_SCAN_DAYS {
        let date = first_day.checked_add_signed(Duration::days(k))?;
        let next_day = date.succ_opt()?;
        let mut candidates = Vec::with_capacity(8);
        for tm in [NaiveTime::MIN, cal.day_start, cal.day_end] {
            candidates.extend(instants_of_local(date.and_time(tm)));
        }
        let midnight = first_instant_at_or_after_local(date.and_time(NaiveTime::MIN));
        let next_midnight = first_instant_at_or_after_local(next_day.and_time(NaiveTime::MIN));
        candidates.extend(dst_transition_between(midnight, next_midnight));
        candidates.sort_unstable();
        let change = candidates
            .into_iter()
            .filter(|&c| c > meter_ms)
            .find(|&c| tariff_at_ms(cal, c) != current);
        if change.is_some() {
            return change;
        }
    }
    None
}
