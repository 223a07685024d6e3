//! A clear-sky sun curve for Belgium: solar elevation from the date and time (NOAA's
//! low-precision formulas) and global horizontal irradiance (Haurwitz model).
//!
//! Floats only shape the PV curve. `sin`, `cos` and `exp` are computed here with plain
//! IEEE additions and multiplications instead of the platform's libm, whose last bits
//! differ between systems: the integer watts derived from the curve, and so the telegram
//! bytes, are then the same everywhere.

use std::f64::consts::{LN_2, PI, TAU};

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
pub(crate) fn cos_zenith(unix_ms: i64) -> f64 {
    let day_ms = 86_400_000_i64;
    let days_since_epoch = unix_ms.div_euclid(day_ms);
    let ms_of_day = unix_ms.rem_euclid(day_ms);
    // Day of year (0-based) from the civil date, computed without a time-zone library.
    let doy = day_of_year(days_since_epoch);
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

/// Clear-sky global horizontal irradiance, W/m², at `unix_ms`.
pub(crate) fn clear_sky_ghi(unix_ms: i64) -> f64 {
    let cz = cos_zenith(unix_ms);
    if cz <= 0.01 {
        return 0.0;
    }
    1098.0 * cz * exp_neg(-0.059 / cz)
}

/// 0-based day of the year of the UTC day `days_since_epoch` (1970-01-01 = 0).
fn day_of_year(days_since_epoch: i64) -> i64 {
    // Howard Hinnant's civil-from-days algorithm.
    let z = days_since_epoch + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_march = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_march + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let jan1 = days_from_civil(year, 1, 1);
    days_since_epoch - jan1
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn calendar() {
        assert_eq!(day_of_year(0), 0); // 1970-01-01
        assert_eq!(day_of_year(days_from_civil(2024, 12, 31)), 365);
        assert_eq!(day_of_year(days_from_civil(2026, 3, 1)), 59);
    }

    #[test]
    fn brussels_noon_elevation() {
        // Summer solstice 2026, solar noon ~11:43 UTC: elevation ~62.6 deg, cos z ~0.888.
        let t = days_from_civil(2026, 6, 21) * 86_400_000 + 11 * 3_600_000 + 43 * 60_000;
        assert!((cos_zenith(t) - 0.888).abs() < 0.01, "{}", cos_zenith(t));
        // Winter solstice noon: elevation ~15.7 deg, cos z ~0.27.
        let t = days_from_civil(2026, 12, 21) * 86_400_000 + 11 * 3_600_000 + 45 * 60_000;
        assert!((cos_zenith(t) - 0.27).abs() < 0.01, "{}", cos_zenith(t));
        // Midnight: below the horizon.
        assert!(cos_zenith(days_from_civil(2026, 6, 21) * 86_400_000) < 0.0);
    }
}
