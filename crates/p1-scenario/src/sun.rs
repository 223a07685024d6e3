//! A clear-sky sun curve for Belgium: solar elevation from the date and time (NOAA's
//! low-precision formulas) and global horizontal irradiance (Haurwitz model).
//!
//! Floats only shape the PV curve. `sin`, `cos` and `exp` are computed here with plain
//! IEEE additions and multiplications instead of the platform's libm, whose last bits
//! differ between systems: the integer watts derived from the curve, and so the telegram
//! bytes, are then the same everywhere.

use std::f64::consts::{LN_2, PI, TAU};

use chrono::{DateTime, Datelike};

/// Latitude of Brussels, degrees north.
pub(crate) const LATITUDE_DEG: f64 = 50.85;
/// Longitude of Brussels, degrees east.
pub(crate) const LONGITUDE_DEG: f64 = 4.35;

/// Sine by argument reduction and a Taylor series (|error| < 1e-12 for any input).
pub(crate) fn sin(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let mut r = x - TAU * (x / TAU).round();
    // Fold into [-pi/2, pi/2], where the series converges fastest.
    if r > PI / 2.0 {
        r = PI - r;
    } else if r < -PI / 2.0 {
        r = -PI - r;
    }
    let r2 = r * r;
    let mut term = r;
    let mut sum = r;
    for n in 1..12 {
        let k = f64::from(2 * n);
        term = -term * r2 / (k * (k + 1.0));
        sum += term;
    }
    sum
}

/// Cosine as a shifted [`sin`].
pub(crate) fn cos(x: f64) -> f64 {
    sin(x + PI / 2.0)
}

/// Natural exponential for x <= 0 (the only use here), by halving and a series.
pub(crate) fn exp_neg(x: f64) -> f64 {
    if !x.is_finite() || x < -700.0 {
        return 0.0;
    }
    let k = (x / LN_2).round();
    let r = x - k * LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..20 {
        term = term * r / f64::from(n);
        sum += term;
    }
    let mut scale = 1.0;
    let mut i = k as i64;
    while i < 0 {
        scale *= 0.5;
        i += 1;
    }
    while i > 0 {
        scale *= 2.0;
        i -= 1;
    }
    sum * scale
}

/// Cosine of the solar zenith angle at `unix_ms` (UTC) in Brussels; <= 0 at night.
/// `doy` is the UTC day of the year of `unix_ms` ([`day_of_year`]); `sin_lat` and
/// `cos_lat` are [`sin`] and [`cos`] of [`LATITUDE_DEG`] in radians. [`Sky`] computes
/// them once for many instants: the same values (the same calls on the same
/// arguments), so the same bits as computing them for each instant.
fn cos_zenith(unix_ms: i64, doy: i64, sin_lat: f64, cos_lat: f64) -> f64 {
    let day_ms = 86_400_000_i64;
    let ms_of_day = unix_ms.rem_euclid(day_ms);
    let hour = ms_of_day as f64 / 3_600_000.0;
    let gamma = TAU / 365.0 * (doy as f64 + (hour - 12.0) / 24.0);
    let harmonics = Harmonics::of(gamma);
    let decl = harmonics.declination();
    let eqtime_min = harmonics.equation_of_time_min();
    let solar_min = hour * 60.0 + eqtime_min + 4.0 * LONGITUDE_DEG;
    let hour_angle = (solar_min / 4.0 - 180.0) * PI / 180.0;
    sin_lat * sin(decl) + cos_lat * cos(decl) * cos(hour_angle)
}

/// [`cos`] and [`sin`] of the fractional year `gamma` (radians) and of its multiples:
/// the declination and the equation of time share the first four, each computed once.
struct Harmonics {
    cos1: f64,
    sin1: f64,
    cos2: f64,
    sin2: f64,
    cos3: f64,
    sin3: f64,
}

impl Harmonics {
    fn of(gamma: f64) -> Harmonics {
        Harmonics {
            cos1: cos(gamma),
            sin1: sin(gamma),
            cos2: cos(2.0 * gamma),
            sin2: sin(2.0 * gamma),
            cos3: cos(3.0 * gamma),
            sin3: sin(3.0 * gamma),
        }
    }

    /// Solar declination, radians.
    fn declination(&self) -> f64 {
        0.006918 - 0.399912 * self.cos1 + 0.070257 * self.sin1 - 0.006758 * self.cos2
            + 0.000907 * self.sin2
            - 0.002697 * self.cos3
            + 0.00148 * self.sin3
    }

    /// Equation of time, minutes.
    fn equation_of_time_min(&self) -> f64 {
        229.18
            * (0.000075 + 0.001868 * self.cos1
                - 0.032077 * self.sin1
                - 0.014615 * self.cos2
                - 0.040849 * self.sin2)
    }
}

/// Haurwitz clear-sky irradiance for a cosine of the zenith angle `cz`: 0 at or below
/// [`DARK_COS_ZENITH`].
fn haurwitz(cz: f64) -> f64 {
    if cz <= DARK_COS_ZENITH {
        return 0.0;
    }
    1098.0 * cz * exp_neg(-0.059 / cz)
}

/// The cosine of the zenith angle at or below which the curve is 0 (the sun less than
/// about 0.6 degrees above the horizon).
const DARK_COS_ZENITH: f64 = 0.01;

/// One day in ms.
const DAY_MS: i64 = 86_400_000;

/// Margins of [`Sky`]'s night bound. Each covers its quantity's drift within a UTC day
/// (the exact curve evaluates declination and equation of time at each instant, the
/// bound once at the day's middle, half a day away at most) more than twice over, and the
/// float and `acos` errors many times over; they only cost a few lit-curve evaluations a
/// day.
///
/// The fractional year moves by at most `pi / 365` rad (0.0086) in half a day. The
/// declination's slope is at most the sum of its coefficients times their frequencies,
/// 0.399912 + 0.070257 + 2 (0.006758 + 0.000907) + 3 (0.002697 + 0.00148) = 0.498, so it
/// drifts by at most 0.0043 rad (0.25 degrees) in half a day: the margin is 0.01 rad.
const DECLINATION_MARGIN: f64 = 0.01;
/// The equation of time's slope is at most 229.18 (0.001868 + 0.032077 + 2 (0.014615 +
/// 0.040849)) = 33.2 min/rad, a drift of at most 0.29 min in half a day: the margin is 1
/// min.
const EQUATION_OF_TIME_MARGIN_MIN: f64 = 1.0;
/// The bound proves the cosine at most `DARK_COS_ZENITH - COS_ZENITH_MARGIN` in exact
/// arithmetic; the computed value is within 1e-10 of that (Taylor series within 1e-12,
/// a few roundings), so it is at most [`DARK_COS_ZENITH`].
const COS_ZENITH_MARGIN: f64 = 1e-3;
/// Added to the hour-angle threshold, degrees (covers the platform `acos`).
const HOUR_ANGLE_MARGIN_DEG: f64 = 0.5;
/// Added to each end of the possibly-lit span of a day, ms (covers rounding to ms).
const SPAN_MARGIN_MS: i64 = 60_000;

/// The clear-sky curve (Haurwitz irradiance of the NOAA zenith angle), evaluated fast for
/// instants in increasing order (any order gives the same results; each change of UTC day
/// costs a bound): the latitude's sine and cosine are computed once, and instants a bound
/// proves dark return 0 without the exact curve.
///
/// For each UTC day, the declination and equation of time at the day's middle, widened by
/// margins covering their drift within the day (see [`DECLINATION_MARGIN`]), bound the
/// cosine of the zenith angle from above by a function of the hour angle alone; it is at
/// most [`DARK_COS_ZENITH`] outside one span of the day (around solar noon), so there the
/// exact curve would return 0 too. Inside the span, and on any day the bound cannot
/// settle, the exact curve is evaluated as it always was: the results are the same bits
/// at every instant as the curve evaluated in full (tested minute by minute over whole
/// years against the original code, kept in the tests).
#[derive(Debug, Clone)]
pub(crate) struct Sky {
    sin_lat: f64,
    cos_lat: f64,
    /// The UTC day (days since the epoch) `doy` and `lit` are for.
    day: Option<i64>,
    /// Its day of the year, when the same at each of its instants (`None` at the ends of
    /// the calendar: then it is looked up for each instant).
    doy: Option<i64>,
    /// Ms of that day outside of which it is provably dark (`0..DAY_MS` when the bound
    /// proves nothing).
    lit: (i64, i64),
}

impl Sky {
    pub(crate) fn new() -> Sky {
        let lat = LATITUDE_DEG * PI / 180.0;
        Sky {
            sin_lat: sin(lat),
            cos_lat: cos(lat),
            day: None,
            doy: None,
            lit: (0, DAY_MS),
        }
    }

    /// Clear-sky global horizontal irradiance, W/m², at `unix_ms`.
    pub(crate) fn ghi(&mut self, unix_ms: i64) -> f64 {
        if self.provably_dark(unix_ms) {
            return 0.0;
        }
        let doy = self.doy.unwrap_or_else(|| day_of_year(unix_ms));
        haurwitz(cos_zenith(unix_ms, doy, self.sin_lat, self.cos_lat))
    }

    /// Whether the bound proves the curve 0 at `unix_ms` (after moving to its UTC day).
    fn provably_dark(&mut self, unix_ms: i64) -> bool {
        let day = unix_ms.div_euclid(DAY_MS);
        if self.day != Some(day) {
            self.day = Some(day);
            self.doy = day_of_year_all_day(day);
            self.lit = self.doy.map_or((0, DAY_MS), |doy| self.lit_span(doy));
        }
        let ms = unix_ms.rem_euclid(DAY_MS);
        ms < self.lit.0 || ms > self.lit.1
    }

    /// The span of a UTC day whose day of the year is `doy` (ms of the day) outside of
    /// which the curve is provably 0.
    fn lit_span(&self, doy: i64) -> (i64, i64) {
        let whole = (0, DAY_MS);
        // The day's middle: `hour = 12`.
        let harmonics = Harmonics::of(TAU / 365.0 * doy as f64);
        let decl = harmonics.declination();
        let eqtime = harmonics.equation_of_time_min();
        // The declination lies within `decl ± DECLINATION_MARGIN`, well inside +-pi/2.
        let decl_hi = decl + DECLINATION_MARGIN;
        let decl_abs_max = (decl - DECLINATION_MARGIN).abs().max(decl_hi.abs());
        if decl_abs_max >= PI / 2.0 {
            return whole;
        }
        // cos z = sin(lat) sin(decl) + cos(lat) cos(decl) cos(H), with sin(lat) > 0:
        // sin(lat) sin(decl) <= `a`, and cos z <= `target` wherever cos(H) <= `k`
        // (cos(decl) taken at 1 when that term can be positive, at its least otherwise).
        let a = self.sin_lat * sin(decl_hi);
        let target = DARK_COS_ZENITH - COS_ZENITH_MARGIN;
        let num = target - a;
        let k = if num >= 0.0 {
            num / self.cos_lat
        } else {
            num / (self.cos_lat * cos(decl_abs_max))
        };
        if k.is_nan() || k <= -1.0 {
            return whole;
        }
        // Dark wherever |H| >= `h_deg` (all day when k >= 1: H = 0).
        let h_deg = k.min(1.0).acos().to_degrees() + HOUR_ANGLE_MARGIN_DEG;
        // H in degrees = 15 hour + (eqtime + 4 lon) / 4 - 180, with eqtime within the
        // margin; `shift_*` bound the middle term.
        let shift_lo = (eqtime - EQUATION_OF_TIME_MARGIN_MIN + 4.0 * LONGITUDE_DEG) / 4.0;
        let shift_hi = (eqtime + EQUATION_OF_TIME_MARGIN_MIN + 4.0 * LONGITUDE_DEG) / 4.0;
        // Over the day H runs from about -180 + shift to 180 + shift; past +-180 it wraps
        // to an angle at least 180 - |shift| from noon, which must be dark too.
        if !h_deg.is_finite() || h_deg >= 180.0 - shift_lo.abs().max(shift_hi.abs()) {
            return whole;
        }
        // Possibly lit only while -h_deg < H < h_deg for some eqtime in the margin.
        let first_h = (180.0 - h_deg - shift_hi) / 15.0;
        let last_h = (180.0 + h_deg - shift_lo) / 15.0;
        let first = (first_h * 3_600_000.0).floor() as i64 - SPAN_MARGIN_MS;
        let last = (last_h * 3_600_000.0).ceil() as i64 + SPAN_MARGIN_MS;
        (first.max(0), last.min(DAY_MS))
    }
}

/// The day of the year ([`day_of_year`]) of every instant of UTC day `day` (days since
/// the epoch), `None` when they are not all the same (at the ends of chrono's range).
fn day_of_year_all_day(day: i64) -> Option<i64> {
    let start = day.checked_mul(DAY_MS)?;
    let end = start.checked_add(DAY_MS - 1)?;
    let doy = utc_ordinal0(start)?;
    (utc_ordinal0(end)? == doy).then_some(doy)
}

/// 0-based day of the year of the UTC date at `unix_ms`, `None` outside chrono's range.
fn utc_ordinal0(unix_ms: i64) -> Option<i64> {
    DateTime::from_timestamp_millis(unix_ms).map(|t| i64::from(t.ordinal0()))
}

/// 0-based day of the year of the UTC date at `unix_ms` (0 outside chrono's range).
fn day_of_year(unix_ms: i64) -> i64 {
    utc_ordinal0(unix_ms).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The curve as it was computed before [`Sky`] (the code kept verbatim): the
    /// reference the fast path must match bit for bit.
    mod original {
        use super::super::{LATITUDE_DEG, LONGITUDE_DEG, cos, day_of_year, exp_neg, sin};
        use std::f64::consts::{PI, TAU};

        pub(super) fn cos_zenith(unix_ms: i64) -> f64 {
            let day_ms = 86_400_000_i64;
            let ms_of_day = unix_ms.rem_euclid(day_ms);
            let doy = day_of_year(unix_ms);
            let hour = ms_of_day as f64 / 3_600_000.0;
            let gamma = TAU / 365.0 * (doy as f64 + (hour - 12.0) / 24.0);
            let decl = 0.006918 - 0.399912 * cos(gamma) + 0.070257 * sin(gamma)
                - 0.006758 * cos(2.0 * gamma)
                + 0.000907 * sin(2.0 * gamma)
                - 0.002697 * cos(3.0 * gamma)
                + 0.00148 * sin(3.0 * gamma);
            let eqtime_min = 229.18
                * (0.000075 + 0.001868 * cos(gamma)
                    - 0.032077 * sin(gamma)
                    - 0.014615 * cos(2.0 * gamma)
                    - 0.040849 * sin(2.0 * gamma));
            let solar_min = hour * 60.0 + eqtime_min + 4.0 * LONGITUDE_DEG;
            let hour_angle = (solar_min / 4.0 - 180.0) * PI / 180.0;
            let lat = LATITUDE_DEG * PI / 180.0;
            sin(lat) * sin(decl) + cos(lat) * cos(decl) * cos(hour_angle)
        }

        pub(super) fn clear_sky_ghi(unix_ms: i64) -> f64 {
            let cz = cos_zenith(unix_ms);
            if cz <= 0.01 {
                return 0.0;
            }
            1098.0 * cz * exp_neg(-0.059 / cz)
        }
    }

    /// Checks `Sky::ghi` against the original curve at each instant of `instants` (in
    /// order, through one `Sky`, as the PV load uses it); returns how many the bound
    /// settled as dark.
    fn check_instants(instants: impl Iterator<Item = i64>) -> (u64, u64) {
        let mut sky = Sky::new();
        let (mut n, mut dark) = (0, 0);
        for t in instants {
            let want = original::clear_sky_ghi(t);
            let mut probe = sky.clone();
            if probe.provably_dark(t) {
                dark += 1;
                assert_eq!(
                    want.to_bits(),
                    0.0_f64.to_bits(),
                    "proved dark at {t} but lit"
                );
            }
            let got = sky.ghi(t);
            assert_eq!(got.to_bits(), want.to_bits(), "at {t}: {got} vs {want}");
            n += 1;
        }
        (n, dark)
    }

    #[test]
    fn fast_curve_is_the_original_bit_for_bit_every_minute_of_whole_years() {
        // A leap year and an ordinary one, every minute at the PV load's mid-minute
        // instant: both solstices, equinoxes, DST days and the year ends included.
        for year in [2024, 2026] {
            let from = utc_ms(year, 1, 1, 0, 0) - DAY_MS;
            let to = utc_ms(year + 1, 1, 1, 0, 0) + DAY_MS;
            let (n, dark) = check_instants((from..to).step_by(60_000).map(|t| t + 30_000));
            // The bound is worth having: it settles a good part of every year.
            assert!(dark * 100 >= n * 40, "{year}: {dark} of {n} settled");
        }
    }

    #[test]
    fn fast_curve_is_the_original_at_odd_instants_of_other_years() {
        // Every 7 s (not aligned to minutes) around sunrise and sunset of the solstices,
        // equinoxes and year ends of years far apart, and a few instants at the ends of
        // the calendar.
        for year in [1970, 2000, 2025, 2028, 2100] {
            for (m, d) in [(1, 1), (3, 20), (6, 21), (9, 22), (12, 21), (12, 31)] {
                let day = utc_ms(year, m, d, 0, 0);
                check_instants((day..day + DAY_MS).step_by(7_000));
            }
        }
        check_instants([i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX].into_iter());
        let edge = DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis();
        check_instants((edge - 2 * DAY_MS..edge + DAY_MS).step_by(3_600_000));
        let edge = DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis();
        check_instants((edge - DAY_MS..edge + 2 * DAY_MS).step_by(3_600_000));
    }

    #[test]
    fn trig_matches_libm_closely() {
        for i in -200..200 {
            let x = f64::from(i) * 0.173;
            assert!((sin(x) - x.sin()).abs() < 1e-12, "sin {x}");
            assert!((cos(x) - x.cos()).abs() < 1e-12, "cos {x}");
        }
        for i in 0..200 {
            let x = -f64::from(i) * 0.31;
            assert!((exp_neg(x) - x.exp()).abs() < 1e-12 * x.exp().max(1e-300) + 1e-300);
        }
    }

    /// Milliseconds since the epoch of `y-m-d h:min` UTC.
    fn utc_ms(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h, min, 0))
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn calendar() {
        assert_eq!(day_of_year(0), 0); // 1970-01-01
        assert_eq!(day_of_year(utc_ms(2024, 12, 31, 23, 59)), 365);
        assert_eq!(day_of_year(utc_ms(2026, 3, 1, 0, 0)), 59);
        assert_eq!(day_of_year(utc_ms(2026, 2, 28, 23, 59)), 58);
        assert_eq!(day_of_year(-1), 364); // 1969-12-31
        assert_eq!(day_of_year(i64::MAX), 0);
    }

    #[test]
    fn brussels_noon_elevation() {
        // Summer solstice 2026, solar noon ~11:43 UTC: elevation ~62.6 deg, cos z ~0.888.
        let cos_zenith = original::cos_zenith;
        let t = utc_ms(2026, 6, 21, 11, 43);
        assert!((cos_zenith(t) - 0.888).abs() < 0.01, "{}", cos_zenith(t));
        // Winter solstice noon: elevation ~15.7 deg, cos z ~0.27.
        let t = utc_ms(2026, 12, 21, 11, 45);
        assert!((cos_zenith(t) - 0.27).abs() < 0.01, "{}", cos_zenith(t));
        // Midnight: below the horizon.
        assert!(cos_zenith(utc_ms(2026, 6, 21, 0, 0)) < 0.0);
    }
}
