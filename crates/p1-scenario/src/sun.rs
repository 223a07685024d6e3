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
pub(crate) fn cos_zenith(unix_ms: i64) -> f64 {
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

/// Clear-sky global horizontal irradiance, W/m², at `unix_ms`.
pub(crate) fn clear_sky_ghi(unix_ms: i64) -> f64 {
    let cz = cos_zenith(unix_ms);
    if cz <= 0.01 {
        return 0.0;
    }
    1098.0 * cz * exp_neg(-0.059 / cz)
}

/// 0-based day of the year of the UTC date at `unix_ms` (0 outside chrono's range).
fn day_of_year(unix_ms: i64) -> i64 {
    DateTime::from_timestamp_millis(unix_ms).map_or(0, |t| i64::from(t.ordinal0()))
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
        let t = utc_ms(2026, 6, 21, 11, 43);
        assert!((cos_zenith(t) - 0.888).abs() < 0.01, "{}", cos_zenith(t));
        // Winter solstice noon: elevation ~15.7 deg, cos z ~0.27.
        let t = utc_ms(2026, 12, 21, 11, 45);
        assert!((cos_zenith(t) - 0.27).abs() < 0.01, "{}", cos_zenith(t));
        // Midnight: below the horizon.
        assert!(cos_zenith(utc_ms(2026, 6, 21, 0, 0)) < 0.0);
    }
}
