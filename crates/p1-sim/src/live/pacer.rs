//! Pacing arithmetic: when frame *k* and byte *n* of a telegram are due, on a monotonic
//! clock, and the lateness statistics. Pure functions of `Instant`s; the loop that sleeps
//! is `live::wait_until`.

use std::time::{Duration, Instant};

use super::PacingReport;

/// Longest single wait, so that a stop (flag or signal) is noticed within this time.
pub(crate) const SLICE: Duration = Duration::from_millis(20);

/// 115200 baud, 8N1 = 10 bits per byte on the wire (DSMR 5.0.2 §6.1, e-MUCS table 2).
pub const BAUD_BYTES_PER_SECOND: u64 = 11_520;

/// Bytes written at once when pacing at the line rate.
pub const BAUD_CHUNK: usize = 64;

/// A cap on how far ahead a deadline may be, so absurd `at_ms` jumps cannot overflow.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Maps simulated instants to monotonic deadlines relative to frame 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    start: Instant,
    first_ms: i64,
    /// None = fast: everything is due at once.
    speed: Option<f64>,
}

impl Schedule {
    /// Frame 0 (at `first_ms`) is due at `start`.
    pub(crate) fn new(start: Instant, first_ms: i64, speed: Option<f64>) -> Self {
        Self {
            start,
            first_ms,
            speed,
        }
    }

    /// When frame 0 is due.
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// When a frame at `at_ms` is due: `start + (at_ms - first_ms) / speed`, computed from
    /// the start every time so rounding never accumulates. Frames before frame 0 are due
    /// at once.
    pub(crate) fn due(&self, at_ms: i64) -> Instant {
        let Some(speed) = self.speed else {
            return self.start;
        };
        let delta_ms = at_ms.saturating_sub(self.first_ms);
        if delta_ms <= 0 {
            return self.start;
        }
        // f64 holds every integer below 2^53 exactly; the division is the only rounding.
        let secs = delta_ms as f64 / 1000.0 / speed;
        let offset = Duration::try_from_secs_f64(secs).map_or(FAR, |d| d.min(FAR));
        self.start.checked_add(offset).unwrap_or(self.start + FAR)
    }
}

/// Time on the wire of the first `bytes` bytes of a telegram at 115200 8N1.
pub(crate) fn baud_offset(bytes: usize) -> Duration {
    let nanos = bytes as u128 * 1_000_000_000 / u128::from(BAUD_BYTES_PER_SECOND);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// When each prefix of a `len`-byte telegram may be written, as (bytes released so far,
/// offset from the telegram's first write). `pieces` are (length, pause after) of a split
/// write: each piece is released after the pauses of the pieces before it; with `baud`,
/// each piece goes out in [`BAUD_CHUNK`]-byte chunks at the line rate on top of that.
/// Pieces that do not add up to `len` are ignored (one piece).
pub(crate) fn release_plan(
    len: usize,
    pieces: &[(usize, Duration)],
    baud: bool,
) -> Vec<(usize, Duration)> {
    let whole = [(len, Duration::ZERO)];
    let pieces = if pieces.iter().map(|p| p.0).sum::<usize>() == len && !pieces.is_empty() {
        pieces
    } else {
        &whole[..]
    };
    let mut plan = Vec::new();
    let mut start = 0;
    let mut paused = Duration::ZERO;
    for &(n, pause) in pieces {
        let end = start + n;
        if baud {
            let mut at = start;
            while at < end {
                plan.push(((at + BAUD_CHUNK).min(end), paused + baud_offset(at)));
                at += BAUD_CHUNK;
            }
        } else if end > start {
            plan.push((end, paused));
        }
        paused += pause;
        start = end;
    }
    plan
}

/// Accumulates |actual - scheduled| per telegram.
#[derive(Debug)]
pub(crate) struct LatenessStats {
    count: u64,
    sum_us: u128,
    max_us: u64,
    samples: Option<Vec<u64>>,
}

impl LatenessStats {
    pub(crate) fn new(keep_samples: bool) -> Self {
        Self {
            count: 0,
            sum_us: 0,
            max_us: 0,
            samples: keep_samples.then(Vec::new),
        }
    }

    pub(crate) fn record(&mut self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.count += 1;
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
        if let Some(s) = &mut self.samples {
            s.push(us);
        }
    }

    pub(crate) fn report(self) -> PacingReport {
        PacingReport {
            count: self.count,
            mean_us: if self.count == 0 {
                0.0
            } else {
                self.sum_us as f64 / self.count as f64
            },
            max_us: self.max_us,
            samples_us: self.samples.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_scales_by_speed_from_frame_zero() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1_000_000, Some(2.0));
        assert_eq!(s.due(1_000_000), t0);
        // 1 s of simulated time at 2x = 500 ms of real time.
        assert_eq!(s.due(1_001_000) - t0, Duration::from_millis(500));
        // 3600 s simulated at 2x = 1800 s, no drift however far out.
        assert_eq!(s.due(1_000_000 + 3_600_000) - t0, Duration::from_secs(1800));
        // Going back in time: due at once.
        assert_eq!(s.due(0), t0);
    }

    #[test]
    fn due_real_time_and_fractional_speed() {
        let t0 = Instant::now();
        let rt = Schedule::new(t0, -5, Some(1.0));
        assert_eq!(rt.due(995) - t0, Duration::from_secs(1));
        let slow = Schedule::new(t0, 0, Some(0.5));
        assert_eq!(slow.due(1000) - t0, Duration::from_secs(2));
    }

    #[test]
    fn fast_is_always_due_and_huge_jumps_saturate() {
        let t0 = Instant::now();
        let fast = Schedule::new(t0, 0, None);
        assert_eq!(fast.due(i64::MAX), t0);
        let s = Schedule::new(t0, i64::MIN, Some(1e-300));
        assert_eq!(s.due(i64::MAX) - t0, FAR);
    }

    #[test]
    fn baud_offsets_are_line_time() {
        assert_eq!(baud_offset(0), Duration::ZERO);
        // 11520 bytes = exactly one second at 115200 8N1.
        assert_eq!(baud_offset(11_520), Duration::from_secs(1));
        // 64 bytes * 10 bits / 115200 bit/s = 5.5555... ms, truncated to whole ns.
        assert_eq!(baud_offset(64), Duration::from_nanos(5_555_555));
    }

    #[test]
    fn release_plans() {
        let ms = Duration::from_millis;
        // One write at once, as before pieces existed.
        assert_eq!(release_plan(100, &[], false), vec![(100, Duration::ZERO)]);
        // Baud: 64-byte chunks at the line rate.
        assert_eq!(
            release_plan(100, &[], true),
            vec![(64, Duration::ZERO), (100, baud_offset(64))]
        );
        // Pieces: each after the pauses before it.
        let pieces = [(30, ms(20)), (50, ms(10)), (20, Duration::ZERO)];
        assert_eq!(
            release_plan(100, &pieces, false),
            vec![(30, Duration::ZERO), (80, ms(20)), (100, ms(30))]
        );
        // Pieces and baud: the pauses add to the line time.
        assert_eq!(
            release_plan(100, &pieces, true),
            vec![
                (30, Duration::ZERO),
                (80, ms(20) + baud_offset(30)),
                (100, ms(30) + baud_offset(80))
            ]
        );
        // Pieces that do not cover the telegram are ignored.
        assert_eq!(
            release_plan(100, &[(30, ms(5))], false),
            vec![(100, Duration::ZERO)]
        );
    }

    #[test]
    fn lateness_mean_max_samples() {
        let mut l = LatenessStats::new(true);
        for us in [10, 30, 20] {
            l.record(Duration::from_micros(us));
        }
        let r = l.report();
        assert_eq!(r.count, 3);
        assert_eq!(r.max_us, 30);
        assert!((r.mean_us - 20.0).abs() < 1e-9);
        assert_eq!(r.samples_us, vec![10, 30, 20]);
        assert_eq!(LatenessStats::new(false).report(), PacingReport::default());
    }
}
