//! The time axis of `p1sim plot` in Belgian local time (Europe/Brussels, never the host
//! zone): tick instants on round wall-clock times, their labels, and the calendar marks
//! a span crosses (daylight-saving changes, month starts).

use std::ops::Range;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use p1_meter::SimTime;
use p1_meter::time::from_local_forward;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// An x axis over `[from, to)` ms since the epoch, ticked and labelled in Belgian time.
#[derive(Debug, Clone)]
pub(crate) struct LocalTimeAxis {
    pub(crate) from_ms: i64,
    pub(crate) to_ms: i64,
}

/// Tick steps, finest first: fixed steps below a day, then calendar days and months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Ms(i64),
    Days(i64),
    Months(u32),
}

const STEPS: [Step; 16] = [
    Step::Ms(MINUTE),
    Step::Ms(2 * MINUTE),
    Step::Ms(5 * MINUTE),
    Step::Ms(10 * MINUTE),
    Step::Ms(15 * MINUTE),
    Step::Ms(30 * MINUTE),
    Step::Ms(HOUR),
    Step::Ms(2 * HOUR),
    Step::Ms(3 * HOUR),
    Step::Ms(6 * HOUR),
    Step::Ms(12 * HOUR),
    Step::Days(1),
    Step::Days(2),
    Step::Days(7),
    Step::Months(1),
    Step::Months(3),
];

fn local(ms: i64) -> NaiveDateTime {
    SimTime(ms).local().0
}

fn month_start(year: i32, month: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
}

fn next_month(t: NaiveDateTime, months: u32) -> NaiveDateTime {
    let m0 = t.month0() + months;
    month_start(t.year() + i32::try_from(m0 / 12).unwrap_or(0), m0 % 12 + 1)
}

/// Instants of local month starts (00:00 on the 1st) in `[from, to)`.
pub(crate) fn month_starts(from_ms: i64, to_ms: i64, every: u32) -> Vec<i64> {
    let first = local(from_ms);
    let mut t = month_start(first.year(), first.month());
    let mut out = Vec::new();
    loop {
        let ms = from_local_forward(t).millis();
        if ms >= to_ms {
            return out;
        }
        if ms >= from_ms {
            out.push(ms);
        }
        t = next_month(t, every);
    }
}

/// Instants in `[from, to)` where Belgian time changes offset, each with `true` when
/// summer time begins. They fall on whole UTC hours, so an hourly walk finds them all.
pub(crate) fn dst_changes(from_ms: i64, to_ms: i64) -> Vec<(i64, bool)> {
    let mut out = Vec::new();
    let mut t = from_ms.div_euclid(HOUR) * HOUR;
    let mut summer = SimTime(t).local().1;
    while t < to_ms {
        t += HOUR;
        let now = SimTime(t).local().1;
        if now != summer && t >= from_ms && t < to_ms {
            out.push((t, now));
        }
        summer = now;
    }
    out
}

impl LocalTimeAxis {
    fn span(&self) -> i64 {
        (self.to_ms - self.from_ms).max(1)
    }

    fn ticks(&self, step: Step) -> Vec<i64> {
        match step {
            Step::Ms(ms) if ms > HOUR => {
                // Several hours: counted from local midnight (00:00, 06:00, 12:00, ...),
                // which UTC multiples are not.
                let mut out: Vec<i64> = Vec::new();
                let mut day = local(self.from_ms).date();
                loop {
                    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
                    for k in 0..DAY / ms {
                        let t =
                            from_local_forward(midnight + Duration::milliseconds(k * ms)).millis();
                        if t >= self.to_ms {
                            return out;
                        }
                        if t >= self.from_ms && out.last().is_none_or(|&l| l < t) {
                            out.push(t);
                        }
                    }
                    day += Duration::days(1);
                }
            }
            Step::Ms(ms) => {
                // Belgian offsets are whole hours, so UTC multiples are round local times.
                let mut t = self.from_ms.div_euclid(ms) * ms;
                if t < self.from_ms {
                    t += ms;
                }
                (0..)
                    .map(|k| t + k * ms)
                    .take_while(|&t| t < self.to_ms)
                    .collect()
            }
            Step::Days(days) => {
                let mut day = local(self.from_ms).date();
                let mut out = Vec::new();
                loop {
                    let ms =
                        from_local_forward(day.and_hms_opt(0, 0, 0).unwrap_or_default()).millis();
                    if ms >= self.to_ms {
                        return out;
                    }
                    if ms >= self.from_ms {
                        out.push(ms);
                    }
                    day += Duration::days(days);
                }
            }
            Step::Months(m) => month_starts(self.from_ms, self.to_ms, m),
        }
    }

    fn step_for(&self, max: usize) -> Step {
        let span = self.span();
        let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
        STEPS
            .into_iter()
            .find(|s| {
                let approx = match *s {
                    Step::Ms(ms) => ms,
                    Step::Days(d) => d * DAY,
                    Step::Months(m) => i64::from(m) * 30 * DAY,
                };
                span / approx < max
            })
            .unwrap_or(Step::Months(12))
    }

    /// The label of a tick at `ms`: the time of day on short spans (the date at
    /// midnight), the date on longer ones, month and year on the longest.
    pub(crate) fn label(&self, ms: i64) -> String {
        let t = local(ms);
        if self.span() <= 3 * DAY {
            if t.hour() == 0 && t.minute() == 0 {
                t.format("%d %b").to_string()
            } else {
                t.format("%H:%M").to_string()
            }
        } else if self.span() <= 120 * DAY {
            t.format("%d %b").to_string()
        } else {
            t.format("%b %Y").to_string()
        }
    }

    /// How the axis is described under it: the zone and the span's local dates.
    pub(crate) fn description(&self) -> String {
        let fmt = |ms: i64| local(ms).format("%Y-%m-%d %H:%M").to_string();
        format!(
            "Belgian local time (Europe/Brussels), {} to {}",
            fmt(self.from_ms),
            fmt(self.to_ms)
        )
    }
}

impl Ranged for LocalTimeAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = i64;

    fn map(&self, v: &i64, limit: (i32, i32)) -> i32 {
        let frac = (*v - self.from_ms) as f64 / self.span() as f64;
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<i64> {
        self.ticks(self.step_for(hint.max_num_points()))
    }

    fn range(&self) -> Range<i64> {
        self.from_ms..self.to_ms
    }
}

impl ValueFormatter<i64> for LocalTimeAxis {
    fn format_ext(&self, value: &i64) -> String {
        self.label(*value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .unwrap_or_default()
    }

    #[test]
    fn dst_changes_are_found_in_both_directions() {
        let spring = dst_changes(at("2026-03-28T12:00:00Z"), at("2026-03-30T00:00:00Z"));
        assert_eq!(spring, vec![(at("2026-03-29T01:00:00Z"), true)]);
        let autumn = dst_changes(at("2026-10-24T00:00:00Z"), at("2026-10-26T00:00:00Z"));
        assert_eq!(autumn, vec![(at("2026-10-25T01:00:00Z"), false)]);
    }

    #[test]
    fn month_starts_are_local_midnight() {
        // 1 February 00:00 CET is 31 January 23:00 UTC.
        let m = month_starts(at("2026-01-31T22:40:00Z"), at("2026-02-01T00:00:00Z"), 1);
        assert_eq!(m, vec![at("2026-01-31T23:00:00Z")]);
    }

    #[test]
    fn hour_steps_count_from_local_midnight() {
        let axis = LocalTimeAxis {
            from_ms: at("2026-03-06T20:00:00Z"),
            to_ms: at("2026-03-09T07:00:00Z"),
        };
        let labels: Vec<_> = axis
            .key_points(12usize)
            .iter()
            .map(|&t| axis.label(t))
            .collect();
        assert_eq!(
            labels,
            [
                "07 Mar", "06:00", "12:00", "18:00", "08 Mar", "06:00", "12:00", "18:00", "09 Mar",
                "06:00"
            ]
        );
    }

    #[test]
    fn ticks_are_round_local_times() {
        let axis = LocalTimeAxis {
            from_ms: at("2026-01-31T22:40:00Z"),
            to_ms: at("2026-01-31T23:35:00Z"),
        };
        let ticks = axis.key_points(8usize);
        let labels: Vec<_> = ticks.iter().map(|&t| axis.label(t)).collect();
        assert_eq!(
            labels,
            ["23:40", "23:50", "01 Feb", "00:10", "00:20", "00:30"]
        );
    }
}
