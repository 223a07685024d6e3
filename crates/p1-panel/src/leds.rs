//! The two pulse LEDs: integer pulse accounting ([`PulseCounter`]) and the reactive power
//! of a load ([`reactive_var`]) that feeds the blind LED.
//!
//! Both LEDs count in milli-units: the control LED in mJ (W·ms, the meter's own register
//! unit), the blind LED in var·ms. One kWh (kvarh) is [`UNITS_PER_KILO_HOUR`] of them, so
//! after `e` units the LED has given exactly `floor(e x constant / UNITS_PER_KILO_HOUR)`
//! pulses: no rounding accumulates, however long the run.

use serde::Serialize;

/// W·ms per kWh (and var·ms per kvarh): 1000 x 3 600 000.
pub const UNITS_PER_KILO_HOUR: u128 = 3_600_000_000;

/// Reactive power, var (truncated), of `power_w` active power at a power factor of
/// `pf_permille` / 1000: Q = |P| x tan(acos(pf)) = |P| x sqrt(1 - pf²) / pf. With `p` the
/// per-mille value (clamped to 1..=1000, as the meter model does) this is
/// `sqrt(P² x (10^6 - p²)) / p`, and `floor(sqrt(x) / p) = isqrt(x) / p`, so the integer
/// result is the exact floor, no float involved.
pub fn reactive_var(power_w: i64, pf_permille: u32) -> u64 {
    let p = u128::from(pf_permille.clamp(1, 1000));
    let watts = u128::from(power_w.unsigned_abs());
    let q = match watts
        .checked_mul(watts)
        .and_then(|w2| w2.checked_mul(1_000_000 - p * p))
    {
        Some(x) => x.isqrt() / p,
        // Beyond 10^16 W: a coarser but overflow-free form.
        None => watts / p * (1_000_000 - p * p).isqrt(),
    };
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// Pulse accounting of one LED.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PulseCounter {
    /// Pulses per kilo-unit-hour.
    constant: u32,
    /// Units counted since the first observation.
    units: u128,
    /// Pulses given.
    pub(crate) pulses: u64,
    /// Instant of the latest pulse, ms.
    pub(crate) last_pulse_ms: Option<i64>,
}

impl PulseCounter {
    pub(crate) fn new(constant: u32) -> PulseCounter {
        PulseCounter {
            constant,
            units: 0,
            pulses: 0,
            last_pulse_ms: None,
        }
    }

    fn pulses_for(&self, units: u128) -> u64 {
        let p = units.saturating_mul(u128::from(self.constant)) / UNITS_PER_KILO_HOUR;
        u64::try_from(p).unwrap_or(u64::MAX)
    }

    /// Adds `delta` units that flowed evenly between `from_ms` and `to_ms`; the latest
    /// pulse is placed where the running total crossed its threshold (linear in time,
    /// exact for the piecewise-constant loads the meter integrates).
    pub(crate) fn add(&mut self, from_ms: i64, to_ms: i64, delta: u128) {
        if delta == 0 {
            return;
        }
        let before = self.units;
        self.units = self.units.saturating_add(delta);
        let pulses = self.pulses_for(self.units);
        if pulses <= self.pulses {
            return;
        }
        self.pulses = pulses;
        // Smallest total at which pulse `pulses` is due: ceil(k x K / c).
        let c = u128::from(self.constant);
        let threshold = (u128::from(pulses) * UNITS_PER_KILO_HOUR).div_ceil(c);
        let into = threshold.saturating_sub(before).min(delta);
        let span = u128::try_from(to_ms.saturating_sub(from_ms).max(0)).unwrap_or(0);
        let offset = i64::try_from(into * span / delta).unwrap_or(0);
        self.last_pulse_ms = Some(from_ms.saturating_add(offset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactive_power_matches_the_trigonometry() {
        // pf 0.6 -> sin 0.8 -> tan = 4/3: 3000 W -> 4000 var exactly.
        assert_eq!(reactive_var(3000, 600), 4000);
        assert_eq!(reactive_var(-3000, 600), 4000);
        // pf 1 -> no reactive power.
        assert_eq!(reactive_var(5000, 1000), 0);
        // pf 0.8 -> tan = 0.75.
        assert_eq!(reactive_var(1000, 800), 750);
        // Clamped like the meter: pf 0 counts as 0.001.
        assert_eq!(reactive_var(1, 0), reactive_var(1, 1));
        // Checked against f64 trigonometry for every per-mille value: the floor.
        for p in 1..=1000u32 {
            let x = f64::from(p) / 1000.0;
            let want = 2000.0 * x.acos().tan();
            let got = reactive_var(2000, p) as f64;
            assert!(
                got <= want + 1e-6 && want - got < 1.0,
                "pf {p}: {got} vs {want}"
            );
        }
        // Absurd powers do not overflow.
        assert!(reactive_var(i64::MIN, 500) > 0);
    }

    #[test]
    fn pulses_are_floor_of_energy_times_constant() {
        let mut c = PulseCounter::new(1000);
        // 1 Wh = 3 600 000 mJ is one pulse at 1000 imp/kWh.
        c.add(0, 1000, 3_599_999);
        assert_eq!(c.pulses, 0);
        assert_eq!(c.last_pulse_ms, None);
        c.add(1000, 2000, 1);
        assert_eq!(c.pulses, 1);
        assert_eq!(c.last_pulse_ms, Some(2000));
        // 2.5 Wh more over 2.5 s: pulses 2 and 3, the 3rd after 2 Wh, i.e. at 4000 ms.
        c.add(2000, 4500, 9_000_000);
        assert_eq!(c.pulses, 3);
        assert_eq!(c.last_pulse_ms, Some(4000));
    }
}
