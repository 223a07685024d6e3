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
    sin_lanes([x])[0]
}

/// Cosine as a shifted [`sin`].
pub(crate) fn cos(x: f64) -> f64 {
    sin(x + PI / 2.0)
}

/// Natural exponential for x <= 0 (the only use here), by halving and a series: the
/// one-lane [`exp_neg_lanes`], for the tests.
#[cfg(test)]
fn exp_neg(x: f64) -> f64 {
    exp_neg_lanes([x])[0]
}

// The lane forms below compute independent values side by side: each lane is one
// serial chain of dependent divisions, and the processor overlaps the chains of
// different lanes instead of waiting out each division (and the compiler packs some
// pairs of lanes into one SSE2 instruction). Every lane performs exactly the operations
// of the one-value function, in the same order (Rust never fuses or reorders float
// operations), so its result is the same bits; the scalar functions above are the
// one-lane case.

/// [`sin`] of each lane.
fn sin_lanes<const N: usize>(x: [f64; N]) -> [f64; N] {
    let r = x.map(|x| {
        let x = if x.is_finite() { x } else { 0.0 };
        let r = x - TAU * round_ties_away(x / TAU);
        // Fold into [-pi/2, pi/2], where the series converges fastest.
        if r > PI / 2.0 {
            PI - r
        } else if r < -PI / 2.0 {
            -PI - r
        } else {
            r
        }
    });
    let r2 = r.map(|r| r * r);
    let (mut term, mut sum) = (r, r);
    for n in 1..12 {
        let k = f64::from(2 * n);
        let divisor = k * (k + 1.0);
        for i in 0..N {
            term[i] = -term[i] * r2[i] / divisor;
            sum[i] += term[i];
        }
    }
    sum
}

/// [`exp_neg`] of each lane (0 below -700 and for non-finite lanes).
fn exp_neg_lanes<const N: usize>(x: [f64; N]) -> [f64; N] {
    let valid = x.map(|x| x.is_finite() && x >= -700.0);
    let x = std::array::from_fn::<_, N, _>(|i| if valid[i] { x[i] } else { 0.0 });
    let k = x.map(|x| round_ties_away(x / LN_2));
    let r = std::array::from_fn::<_, N, _>(|i| x[i] - k[i] * LN_2);
    let (mut term, mut sum) = ([1.0; N], [1.0; N]);
    for n in 1..20 {
        let n = f64::from(n);
        for i in 0..N {
            term[i] = term[i] * r[i] / n;
            sum[i] += term[i];
        }
    }
    std::array::from_fn(|i| if valid[i] { sum[i] * pow2(k[i]) } else { 0.0 })
}

/// `y` rounded to an integer, halves away from zero: [`f64::round`] without the libm
/// call (exactly its result for every input, the sign of zero included).
fn round_ties_away(y: f64) -> f64 {
    // 2^52: from there on every float is an integer; NaN is returned as it is too.
    if y.is_nan() || y.abs() >= 4_503_599_627_370_496.0 {
        return y;
    }
    // `y as i64` truncates exactly here; `y - t` is exact (`t` is 0 or within a factor
    // of two of `y`, with its sign).
    let t = (y as i64 as f64).copysign(y);
    let f = y - t;
    if f >= 0.5 {
        t + 1.0
    } else if f <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// 2^`k` for an integer `k`, exactly as halving or doubling 1.0 `|k|` times gives it:
/// built from its exponent bits where it is a normal float, the loop outside that.
fn pow2(k: f64) -> f64 {
    if (-1022.0..=1023.0).contains(&k) {
        return f64::from_bits(((k as i64 + 1023) as u64) << 52);
    }
    let (mut scale, mut i) = (1.0_f64, k as i64);
    while i < 0 && scale != 0.0 {
        scale *= 0.5;
        i += 1;
    }
    while i > 0 && scale.is_finite() {
        scale *= 2.0;
        i -= 1;
    }
    scale
}

/// Instants [`Sky`] evaluates together (see [`sin_lanes`]).
const LANES: usize = 4;

/// Cosine of the solar zenith angle in Brussels (<= 0 at night) at each lane's
/// `unix_ms` (UTC). `doy` is each one's UTC day of the year ([`day_of_year`]); `sin_lat`
/// and `cos_lat` are [`sin`] and [`cos`] of [`LATITUDE_DEG`] in radians. [`Sky`]
/// computes them once for many instants: the same values (the same calls on the same
/// arguments), so the same bits as computing them for each instant.
fn cos_zenith_lanes(
    unix_ms: [i64; LANES],
    doy: [i64; LANES],
    sin_lat: f64,
    cos_lat: f64,
) -> [f64; LANES] {
    let day_ms = 86_400_000_i64;
    let hour = unix_ms.map(|t| t.rem_euclid(day_ms) as f64 / 3_600_000.0);
    let gamma: [f64; LANES] =
        std::array::from_fn(|i| TAU / 365.0 * (doy[i] as f64 + (hour[i] - 12.0) / 24.0));
    // The six harmonics of every lane in one call: 6 x LANES chains side by side.
    let mut args = [0.0; 6 * LANES];
    for (i, g) in gamma.iter().enumerate() {
        args[6 * i..6 * i + 6].copy_from_slice(&Harmonics::args(*g));
    }
    let values = sin_lanes(args);
    let mut args = [0.0; 3 * LANES];
    for i in 0..LANES {
        let mut six = [0.0; 6];
        six.copy_from_slice(&values[6 * i..6 * i + 6]);
        let harmonics = Harmonics::from_values(six);
        let decl = harmonics.declination();
        let eqtime_min = harmonics.equation_of_time_min();
        let solar_min = hour[i] * 60.0 + eqtime_min + 4.0 * LONGITUDE_DEG;
        let hour_angle = (solar_min / 4.0 - 180.0) * PI / 180.0;
        // sin(decl), cos(decl), cos(hour_angle): cos(x) is sin(x + pi/2), as in [`cos`].
        args[3 * i..3 * i + 3].copy_from_slice(&[decl, decl + PI / 2.0, hour_angle + PI / 2.0]);
    }
    let v = sin_lanes(args);
    std::array::from_fn(|i| sin_lat * v[3 * i] + cos_lat * v[3 * i + 1] * v[3 * i + 2])
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
        Harmonics::from_values(sin_lanes(Harmonics::args(gamma)))
    }

    /// The arguments whose [`sin`]s are the harmonics, in [`Harmonics::from_values`]'s
    /// order (a cosine is the sine of its argument plus pi/2, as in [`cos`]).
    fn args(gamma: f64) -> [f64; 6] {
        let (g2, g3) = (2.0 * gamma, 3.0 * gamma);
        [
            gamma + PI / 2.0,
            gamma,
            g2 + PI / 2.0,
            g2,
            g3 + PI / 2.0,
            g3,
        ]
    }

    fn from_values([cos1, sin1, cos2, sin2, cos3, sin3]: [f64; 6]) -> Harmonics {
        Harmonics {
            cos1,
            sin1,
            cos2,
            sin2,
            cos3,
            sin3,
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

/// Haurwitz clear-sky irradiance for each lane's cosine of the zenith angle `cz`: 0 at
/// or below [`DARK_COS_ZENITH`].
fn haurwitz_lanes(cz: [f64; LANES]) -> [f64; LANES] {
    let lit = cz.map(|cz| cz > DARK_COS_ZENITH);
    let x: [f64; LANES] = std::array::from_fn(|i| if lit[i] { -0.059 / cz[i] } else { 0.0 });
    let e = exp_neg_lanes(x);
    std::array::from_fn(|i| if lit[i] { 1098.0 * cz[i] * e[i] } else { 0.0 })
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

    /// Clear-sky global horizontal irradiance, W/m², at each of `instants` (fastest in
    /// increasing order), appended to `out`.
    pub(crate) fn ghi_each(&mut self, instants: &[i64], out: &mut Vec<f64>) {
        for chunk in instants.chunks(LANES) {
            // Lanes past the chunk's end repeat its last instant; their results are dropped.
            let mut at = [chunk[chunk.len() - 1]; LANES];
            at[..chunk.len()].copy_from_slice(chunk);
            let mut lit = [false; LANES];
            let mut doy = [0; LANES];
            for i in 0..chunk.len() {
                lit[i] = !self.provably_dark(at[i]);
                doy[i] = self.doy.unwrap_or_else(|| day_of_year(at[i]));
            }
            let last = doy[chunk.len() - 1];
            doy[chunk.len()..].fill(last);
            if !lit.contains(&true) {
                out.extend(std::iter::repeat_n(0.0, chunk.len()));
                continue;
            }
            let ghi = haurwitz_lanes(cos_zenith_lanes(at, doy, self.sin_lat, self.cos_lat));
            out.extend((0..chunk.len()).map(|i| if lit[i] { ghi[i] } else { 0.0 }));
        }
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
        use super::super::{LATITUDE_DEG, LONGITUDE_DEG, day_of_year};
        use std::f64::consts::{LN_2, PI, TAU};

        pub(in super::super) fn sin(x: f64) -> f64 {
            if !x.is_finite() {
                return 0.0;
            }
            let mut r = x - TAU * (x / TAU).round();
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

        fn cos(x: f64) -> f64 {
            sin(x + PI / 2.0)
        }

        pub(in super::super) fn exp_neg(x: f64) -> f64 {
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

    /// Checks `Sky::ghi_each` against the original curve at each instant of `instants`
    /// (in order, through one `Sky`, as the PV load uses it), asked for in slices of
    /// `chunk` instants; returns how many there were and how many the bound settled as
    /// dark.
    fn check_instants(instants: impl Iterator<Item = i64>, chunk: usize) -> (u64, u64) {
        let instants: Vec<i64> = instants.collect();
        let mut sky = Sky::new();
        let mut probe = Sky::new();
        let mut got = Vec::new();
        for slice in instants.chunks(chunk) {
            sky.ghi_each(slice, &mut got);
        }
        assert_eq!(got.len(), instants.len());
        let mut dark = 0;
        for (&t, got) in instants.iter().zip(got) {
            let want = original::clear_sky_ghi(t);
            if probe.provably_dark(t) {
                dark += 1;
                assert_eq!(
                    want.to_bits(),
                    0.0_f64.to_bits(),
                    "proved dark at {t} but lit"
                );
            }
            assert_eq!(got.to_bits(), want.to_bits(), "at {t}: {got} vs {want}");
        }
        (instants.len() as u64, dark)
    }

    #[test]
    fn fast_curve_is_the_original_bit_for_bit_every_minute_of_whole_years() {
        // A leap year and an ordinary one, every minute at the PV load's mid-minute
        // instant: both solstices, equinoxes, DST days and the year ends included.
        for year in [2024, 2026] {
            let from = utc_ms(year, 1, 1, 0, 0) - DAY_MS;
            let to = utc_ms(year + 1, 1, 1, 0, 0) + DAY_MS;
            let minutes = (from..to).step_by(60_000).map(|t| t + 30_000);
            let (n, dark) = check_instants(minutes, 1500);
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
                // Slices of every length modulo the lanes, and single instants.
                for chunk in [1, 2, 3, 5, 8, 13] {
                    check_instants((day..day + DAY_MS).step_by(7_000), chunk);
                }
            }
        }
        let ends = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        check_instants(ends.into_iter(), 3);
        let edge = DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis();
        check_instants((edge - 2 * DAY_MS..edge + DAY_MS).step_by(3_600_000), 5);
        let edge = DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis();
        check_instants((edge - DAY_MS..edge + 2 * DAY_MS).step_by(3_600_000), 7);
    }

    /// Arguments around every multiple of pi/2 (where the reduction and the fold
    /// switch), huge and tiny ones, zeros of both signs and non-finite ones.
    fn awkward_arguments() -> Vec<f64> {
        let mut xs = vec![0.0, -0.0, f64::NAN, f64::INFINITY, -f64::INFINITY, f64::MAX];
        xs.extend([
            f64::MIN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            1e300,
            -1e17,
        ]);
        for k in -40..=40 {
            let base = f64::from(k) * PI / 4.0;
            let mut x = base;
            for _ in 0..6 {
                xs.extend([x, -x]);
                x = f64::from_bits(x.to_bits() + 1);
            }
            xs.extend([base + 0.5, base * 1e9, base * 3.3e15]);
        }
        // A pseudo-random sweep of magnitudes (an LCG: the bits only need to vary).
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let x = f64::from_bits(state);
            if x.is_finite() {
                xs.extend([x, x % 1e6, x % 40.0]);
            }
        }
        xs
    }

    #[test]
    fn lanes_are_the_original_scalar_functions_bit_for_bit() {
        let xs = awkward_arguments();
        for &x in &xs {
            assert_eq!(sin(x).to_bits(), original::sin(x).to_bits(), "sin {x:e}");
            assert_eq!(
                round_ties_away(x).to_bits(),
                x.round().to_bits(),
                "round {x:e}"
            );
        }
        for halves in -2100..=2100 {
            let y = f64::from(halves) / 2.0;
            assert_eq!(round_ties_away(y).to_bits(), y.round().to_bits(), "{y}");
        }
        for chunk in xs.chunks_exact(7) {
            let lanes: [f64; 7] = std::array::from_fn(|i| chunk[i]);
            for (got, x) in sin_lanes(lanes).into_iter().zip(lanes) {
                assert_eq!(got.to_bits(), original::sin(x).to_bits(), "sin {x:e}");
            }
        }
        let mut xs: Vec<f64> = xs.iter().map(|x| -(x % 750.0).abs()).collect();
        xs.extend([
            -700.0,
            -700.0000000000001,
            -0.0,
            -5e-324,
            f64::NAN,
            -f64::INFINITY,
        ]);
        xs.extend((0..=7000).map(|i| -f64::from(i) / 10.0));
        for &x in &xs {
            let (got, want) = (exp_neg(x), original::exp_neg(x));
            assert_eq!(got.to_bits(), want.to_bits(), "exp {x:e}");
        }
        for k in -1100..=1100 {
            let mut want = 1.0_f64;
            for _ in 0..k {
                want *= 2.0;
            }
            for _ in k..0 {
                want *= 0.5;
            }
            assert_eq!(pow2(f64::from(k)).to_bits(), want.to_bits(), "2^{k}");
        }
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
