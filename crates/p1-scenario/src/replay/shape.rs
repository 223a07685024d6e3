//! Within-quarter shapes: how one quarter's offtake and injection (whole Wh) become
//! power second by second, keeping the quarter's energy exact.
//!
//! A quarter of E Wh offtake and X Wh injection becomes whole watts for each of its 900
//! seconds whose import seconds sum to exactly 3600·E W·s and whose export seconds to
//! exactly 3600·X W·s, so the meter's registers grow by exactly E and X Wh and its
//! quarter demand (`1-0:1.4.0`, hence `1-0:1.6.0`) is exactly 4·E W, whatever the shape.
//! [`Shape::Flat`] is a constant 4·E W (8·E W then −8·X W when a quarter has both);
//! [`Shape::Household`] draws, from a `ChaCha8Rng` keyed by the seed and the quarter's
//! start, a load that changes level every 20 s to 2 min with appliance bursts and
//! second-to-second noise, and PV export that is either sunny (a slow drift) or cloudy
//! (shadows cutting it to a fraction for up to 2½ minutes).

use p1_meter::SimTime;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::units::MAX_POWER_W;

/// Seconds in a quarter.
pub const QUARTER_SECS: usize = 900;

/// How a replayed quarter's energy is spread over its seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// Constant power through the quarter (the default in scenarios).
    #[default]
    Flat,
    /// A seeded household load and PV export that move second to second.
    Household,
}

impl Shape {
    /// The shape's name in scenarios and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Household => "household",
        }
    }
}

/// A run of seconds at one power (W, + import, − export).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Length, seconds.
    pub secs: u32,
    /// Power, W.
    pub watts: i64,
}

/// The power of the quarter starting at `start`, as runs covering its 900 seconds.
///
/// The quarter draws from the `ChaCha8Rng` of `seed` and `stream` (the load's), at a
/// word position of its own (2²⁰ words a quarter, of which it uses a few thousand), so
/// a quarter's shape does not depend on where a run starts nor on the other quarters.
/// A household quarter whose peak second would exceed the largest power a scenario may
/// name (1 GW: a quarter of tens of MWh) stays flat.
pub fn quarter(
    shape: Shape,
    seed: [u8; 32],
    stream: u64,
    start: SimTime,
    offtake_wh: i64,
    injection_wh: i64,
) -> Vec<Run> {
    let offtake_wh = offtake_wh.max(0);
    let injection_wh = injection_wh.max(0);
    if shape == Shape::Household && offtake_wh + injection_wh > 0 {
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(stream);
        // Quarter numbers of the years a SimTime spans are far below 2⁴⁸, so positions
        // stay distinct and within ChaCha's 2⁶⁸ words.
        let number = start.millis().div_euclid(900_000);
        rng.set_word_pos(i128::from(number).rem_euclid(1 << 48) as u128 * (1 << 20));
        if let Some(watts) = household(&mut rng, offtake_wh, injection_wh) {
            return runs(&watts);
        }
    }
    flat(offtake_wh, injection_wh)
}

fn flat(offtake_wh: i64, injection_wh: i64) -> Vec<Run> {
    match (offtake_wh, injection_wh) {
        (imp, 0) => vec![Run {
            secs: 900,
            watts: imp * 4,
        }],
        (0, exp) => vec![Run {
            secs: 900,
            watts: -exp * 4,
        }],
        (imp, exp) => vec![
            Run {
                secs: 450,
                watts: imp * 8,
            },
            Run {
                secs: 450,
                watts: -exp * 8,
            },
        ],
    }
}

/// Merges equal neighbouring seconds.
fn runs(watts: &[i64]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for &w in watts {
        match out.last_mut() {
            Some(run) if run.watts == w => run.secs += 1,
            _ => out.push(Run { secs: 1, watts: w }),
        }
    }
    out
}

/// Watts for each second, or `None` when a second would exceed [`MAX_POWER_W`].
fn household(rng: &mut ChaCha8Rng, offtake_wh: i64, injection_wh: i64) -> Option<Vec<i64>> {
    let import = sides(rng, offtake_wh, injection_wh);
    let house = house_weights(rng);
    let sun = pv_weights(rng);
    let mut watts = vec![0i64; QUARTER_SECS];
    let import_secs: Vec<usize> = (0..QUARTER_SECS).filter(|&s| import[s]).collect();
    let export_secs: Vec<usize> = (0..QUARTER_SECS).filter(|&s| !import[s]).collect();
    spread(rng, offtake_wh * 3600, &import_secs, &house, 1, &mut watts)?;
    spread(rng, injection_wh * 3600, &export_secs, &sun, -1, &mut watts)?;
    Some(watts)
}

/// Which seconds import (`true`) and which export: all one way when the quarter has
/// only one, else stretches of 20 s to 2 min, shuffled, given to import until its share
/// of the quarter (in proportion to its energy, between 1 and 14 minutes) is reached.
fn sides(rng: &mut ChaCha8Rng, offtake_wh: i64, injection_wh: i64) -> Vec<bool> {
    if injection_wh == 0 || offtake_wh == 0 {
        return vec![injection_wh == 0; QUARTER_SECS];
    }
    let target = (900 * offtake_wh / (offtake_wh + injection_wh)).clamp(60, 840) as usize;
    let mut stretches = Vec::new();
    let mut t = 0;
    while t < QUARTER_SECS {
        let len = rng.random_range(20..=120_usize).min(QUARTER_SECS - t);
        stretches.push(t..t + len);
        t += len;
    }
    for i in (1..stretches.len()).rev() {
        let j = rng.random_range(0..=i);
        stretches.swap(i, j);
    }
    let mut import = vec![false; QUARTER_SECS];
    let mut given = 0;
    for stretch in &stretches {
        if given >= target {
            break;
        }
        given += stretch.len();
        for s in stretch.clone() {
            import[s] = true;
        }
    }
    // The last stretch given may overshoot; should it take the quarter's last export
    // second, it goes back to export.
    if import.iter().all(|&i| i) {
        if let Some(last) = stretches.last() {
            for s in last.clone() {
                import[s] = false;
            }
        }
    }
    import
}

/// Relative household load per second: a base level changing every 20 s to 2 min
/// (60 to 140 %), up to two appliance bursts (×2 to ×4 for ½ to 4 minutes) and ±3 %
/// noise.
fn house_weights(rng: &mut ChaCha8Rng) -> Vec<u64> {
    let mut w = vec![0u64; QUARTER_SECS];
    let mut t = 0;
    while t < QUARTER_SECS {
        let len = rng.random_range(20..=120_usize);
        let level = rng.random_range(600..=1400_u64);
        for x in w.iter_mut().skip(t).take(len) {
            *x = level;
        }
        t += len;
    }
    for _ in 0..rng.random_range(0..=2_u32) {
        let start = rng.random_range(0..QUARTER_SECS);
        let len = rng.random_range(30..=240_usize);
        let factor = rng.random_range(2000..=4000_u64);
        for x in w.iter_mut().skip(start).take(len) {
            *x = *x * factor / 1000;
        }
    }
    for x in &mut w {
        *x = *x * rng.random_range(970..=1030_u64) / 1000;
    }
    w
}

/// Relative PV output per second: sunny (a drift of a few watts a second within ±10 %,
/// ±1 % noise) or, as often, cloudy (one to four shadows of 20 s to 2½ minutes cutting
/// the output to 15 to 60 %).
fn pv_weights(rng: &mut ChaCha8Rng) -> Vec<u64> {
    let mut w = vec![0u64; QUARTER_SECS];
    let mut level: i64 = 1000;
    for x in &mut w {
        level = (level + rng.random_range(-3..=3_i64)).clamp(900, 1100);
        *x = level as u64 * rng.random_range(990..=1010_u64) / 1000;
    }
    if rng.random_range(0..2_u32) == 1 {
        for _ in 0..rng.random_range(1..=4_u32) {
            let start = rng.random_range(0..QUARTER_SECS);
            let len = rng.random_range(20..=150_usize);
            let depth = rng.random_range(150..=600_u64);
            for x in w.iter_mut().skip(start).take(len) {
                *x = *x * depth / 1000;
            }
        }
    }
    w
}

/// Spreads `total` W·s over the seconds `secs` in proportion to `weights`, exactly: each
/// second gets its share rounded down, and the remainder (fewer watts than seconds) one
/// watt each on consecutive seconds from a random one. `sign` is +1 for import, −1 for
/// export. `None` when a second would exceed [`MAX_POWER_W`].
fn spread(
    rng: &mut ChaCha8Rng,
    total: i64,
    secs: &[usize],
    weights: &[u64],
    sign: i64,
    out: &mut [i64],
) -> Option<()> {
    if total == 0 || secs.is_empty() {
        return (total == 0).then_some(());
    }
    // Every weight is at least 1, so the sum is positive.
    let weight = |s: usize| i128::from(weights[s].max(1));
    let sum: i128 = secs.iter().map(|&s| weight(s)).sum();
    let mut given = 0i128;
    for &s in secs {
        let w = i128::from(total) * weight(s) / sum;
        given += w;
        out[s] = i64::try_from(w).ok()?;
    }
    let remainder = usize::try_from(i128::from(total) - given).ok()?;
    let from = rng.random_range(0..secs.len());
    for k in 0..remainder {
        out[secs[(from + k) % secs.len()]] += 1;
    }
    for &s in secs {
        if out[s] > MAX_POWER_W {
            return None;
        }
        out[s] *= sign;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (import W·s, export W·s, seconds) of a quarter's runs.
    fn energy(runs: &[Run]) -> (i64, i64, u32) {
        let mut import = 0;
        let mut export = 0;
        let mut secs = 0;
        for r in runs {
            let ws = r.watts * i64::from(r.secs);
            if r.watts > 0 {
                import += ws;
            } else {
                export -= ws;
            }
            secs += r.secs;
        }
        (import, export, secs)
    }

    proptest! {
        #[test]
        fn every_quarter_is_exact(
            seed in any::<[u8; 32]>(),
            stream in 0..16_u64,
            quarter_no in 0..4_000_000_i64,
            offtake in prop_oneof![0..5_000_i64, 0..=super::super::MAX_QUARTER_WH],
            injection in prop_oneof![Just(0_i64), 0..5_000_i64, 0..=super::super::MAX_QUARTER_WH],
            household in any::<bool>(),
        ) {
            let shape = if household { Shape::Household } else { Shape::Flat };
            let start = SimTime(quarter_no * 900_000);
            let runs = quarter(shape, seed, stream, start, offtake, injection);
            let (import, export, secs) = energy(&runs);
            prop_assert_eq!(secs, 900);
            prop_assert_eq!(import, offtake * 3600);
            prop_assert_eq!(export, injection * 3600);
            // The meter's quarter demand: import energy over 900 s.
            prop_assert_eq!(import / 900, offtake * 4);
            prop_assert!(runs.iter().all(|r| r.watts.abs() <= MAX_POWER_W && r.secs > 0));
            prop_assert_eq!(runs, quarter(shape, seed, stream, start, offtake, injection));
        }
    }

    #[test]
    fn a_household_moves_every_few_seconds() {
        let start = SimTime(1_698_537_600_000);
        let runs = quarter(Shape::Household, [7; 32], 0, start, 350, 0);
        // ±3 % noise on a few hundred watts: nearly every second differs.
        assert!(runs.len() > 600, "{} runs", runs.len());
        let max = runs.iter().map(|r| r.watts).max().unwrap();
        let min = runs.iter().map(|r| r.watts).min().unwrap();
        assert!(min > 0 && max > min * 3 / 2, "{min}..{max}");
        // Another seed, another quarter, another shape.
        assert_ne!(runs, quarter(Shape::Household, [8; 32], 0, start, 350, 0));
        assert_ne!(
            runs,
            quarter(Shape::Household, [7; 32], 0, start.plus_ms(900_000), 350, 0)
        );
    }

    #[test]
    fn pv_quarters_are_sunny_or_cloudy() {
        // The ratio of the weakest to the strongest second: above 0.8 in sun (drift and
        // noise), below 0.6 under a shadow.
        let mut sunny = 0;
        let mut cloudy = 0;
        for q in 0..40 {
            let runs = quarter(Shape::Household, [1; 32], 0, SimTime(q * 900_000), 0, 500);
            let strongest = runs.iter().map(|r| -r.watts).max().unwrap();
            let weakest = runs.iter().map(|r| -r.watts).min().unwrap();
            if weakest * 10 > strongest * 8 {
                sunny += 1;
            } else if weakest * 10 < strongest * 6 {
                cloudy += 1;
            }
        }
        assert!(
            sunny >= 10 && cloudy >= 10,
            "{sunny} sunny, {cloudy} cloudy"
        );
    }

    #[test]
    fn a_quarter_with_both_imports_and_exports_in_stretches() {
        let runs = quarter(Shape::Household, [3; 32], 0, SimTime(0), 100, 300);
        let import_secs: u32 = runs.iter().filter(|r| r.watts > 0).map(|r| r.secs).sum();
        // A quarter of the energy is import: its share of the quarter, to a stretch.
        assert!((225..=225 + 120).contains(&import_secs), "{import_secs}");
        assert_eq!(energy(&runs), (100 * 3600, 300 * 3600, 900));
    }

    #[test]
    fn flat_is_what_it_was() {
        assert_eq!(
            quarter(Shape::Flat, [1; 32], 0, SimTime(0), 173, 0),
            [Run {
                secs: 900,
                watts: 692
            }]
        );
        assert_eq!(
            quarter(Shape::Flat, [1; 32], 0, SimTime(0), 10, 20),
            [
                Run {
                    secs: 450,
                    watts: 80
                },
                Run {
                    secs: 450,
                    watts: -160
                }
            ]
        );
        assert_eq!(
            quarter(Shape::Household, [1; 32], 0, SimTime(0), 0, 0),
            [Run {
                secs: 900,
                watts: 0
            }]
        );
    }
}
