//! Property tests over random load histories: registers never decrease and equal the
//! exact integral of import and export split by a tariff computed here independently
//! (weekdays, 07:00/22:00, a holiday); the result does not depend on how time is stepped;
//! 1-0:1.4.0 equals floor(4 x E_quarter) at every second and 1-0:1.6.0 is the highest
//! completed quarter (both integrated here); T211 totals are the net of the phases.

use chrono::{Datelike, NaiveDate, Timelike};
use p1_meter::{Grid, Load, Meter, MeterConfig, PhaseLoad, SimTime};
use p1_wire::{Model, Tst, Version};
use proptest::prelude::*;

const HOUR: i64 = 3_600_000;

/// Monday 2026-01-05 00:00 CET (UTC+1, no DST change in the test window).
fn monday() -> SimTime {
    let d = NaiveDate::from_ymd_opt(2026, 1, 5).and_then(|d| d.and_hms_opt(0, 0, 0));
    SimTime(d.expect("date").and_utc().timestamp_millis() - HOUR)
}

fn holiday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 7).expect("date")
}

fn load(p: [i64; 3]) -> Load {
    Load {
        phases: p.map(|power_w| PhaseLoad {
            power_w,
            voltage_dv: 2310,
            power_factor_permille: 950,
        }),
        mbus_ml_per_h: [0; 4],
    }
}

/// Tariff index (0 day, 1 night) of the UTC hour starting at `utc_ms`, by plain CET rules.
fn tariff_index(utc_ms: i64) -> usize {
    let local = SimTime(utc_ms + HOUR).utc().naive_utc();
    let weekday = local.weekday().num_days_from_monday() < 5;
    let hour = local.hour();
    if weekday && local.date() != holiday() && (7..22).contains(&hour) {
        0
    } else {
        1
    }
}

/// Winter wire timestamp of UTC instant `utc_ms`, by plain arithmetic.
fn cet_tst(utc_ms: i64) -> Tst {
    let l = SimTime(utc_ms + HOUR).utc().naive_utc();
    Tst::new(
        (l.year() % 100) as u8,
        l.month() as u8,
        l.day() as u8,
        l.hour() as u8,
        l.minute() as u8,
        l.second() as u8,
        false,
    )
    .expect("tst")
}

fn t211(grid: Grid) -> MeterConfig {
    let mut c = MeterConfig::new(Model::T211, grid, Version::V50217, "1SAG3100721326");
    c.tariff.night_days = vec![holiday()];
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn registers_are_monotone_and_exact(
        segments in prop::collection::vec(
            (1i64..=3 * HOUR, prop::array::uniform3(-6000i64..6000), 0u32..=100), 1..30)
    ) {
        let start = monday();
        let mut m = Meter::new(t211(Grid::Star400), start).expect("config");
        let mut expected_import = [0i128; 2];
        let mut expected_export = [0i128; 2];
        let mut t = start.millis();
        for (dur, p, split_pct) in segments {
            m.set_load(SimTime(t), &load(p));
            let before = m.state();
            // Advancing in two pieces must give the same as one advance would.
            let mid = t + dur * i64::from(split_pct) / 100;
            m.advance_to(SimTime(mid));
            m.advance_to(SimTime(t + dur));
            let after = m.state();
            for i in 0..2 {
                prop_assert!(after.import_mj[i] >= before.import_mj[i]);
                prop_assert!(after.export_mj[i] >= before.export_mj[i]);
                prop_assert!(after.import_wh[i] >= before.import_wh[i]);
                prop_assert!(after.export_wh[i] >= before.export_wh[i]);
            }
            let net: i128 = p.iter().map(|&x| i128::from(x)).sum();
            // Split at every whole UTC hour: the tariff is constant within one.
            let mut a = t;
            while a < t + dur {
                let b = ((a.div_euclid(HOUR) + 1) * HOUR).min(t + dur);
                let ix = tariff_index(a);
                expected_import[ix] += net.max(0) * i128::from(b - a);
                expected_export[ix] += (-net).max(0) * i128::from(b - a);
                a = b;
            }
            t += dur;
        }
        let s = m.state();
        prop_assert_eq!(s.import_mj.map(i128::from), expected_import);
        prop_assert_eq!(s.export_mj.map(i128::from), expected_export);
        prop_assert_eq!(s.import_wh.map(i128::from), expected_import.map(|x| x / 3_600_000));
        let r = m.readout().expect("readout");
        prop_assert_eq!(r.import_wh, s.import_wh);
        prop_assert_eq!(r.export_wh, s.export_wh);
    }

    #[test]
    fn t211_totals_are_net_of_phases(p in prop::array::uniform3(-20_000i64..20_000)) {
        let start = monday();
        let net: i64 = p.iter().sum();
        let mut star = Meter::new(t211(Grid::Star400), start).expect("config");
        star.set_load(start, &load(p));
        let r = star.readout().expect("readout");
        prop_assert_eq!(i64::from(r.import_w) - i64::from(r.export_w), net);
        prop_assert!(r.import_w == 0 || r.export_w == 0);
        for (ph, &pw) in r.phases.iter().zip(&p) {
            prop_assert_eq!((i64::from(ph.import_w), i64::from(ph.export_w)), (pw.max(0), (-pw).max(0)));
            // |P| / (V x pf), V = 231.0, pf = 0.95, in cA, truncated.
            prop_assert_eq!(i64::from(ph.current_ca), pw.abs() * 1_000_000 / (2310 * 950));
        }
        let mut delta = Meter::new(t211(Grid::Delta230), start).expect("config");
        delta.set_load(start, &load(p));
        let r = delta.readout().expect("readout");
        prop_assert_eq!(i64::from(r.import_w) - i64::from(r.export_w), net);
        prop_assert_eq!((r.phases[1].import_w, r.phases[1].export_w, r.phases[1].voltage_dv), (0, 0, 0));
        // L1 and L3 carry their elements' currents (an L2 load split half to each), L2 their
        // return: i2 = floor(sqrt(i1² + i3² ± i1·i3)), minus when the elements oppose.
        let (e1, e3) = (p[0] + p[1] / 2, p[2] + (p[1] - p[1] / 2));
        let (i1, i3) = (e1.abs() * 1_000_000 / (2310 * 950), e3.abs() * 1_000_000 / (2310 * 950));
        prop_assert_eq!(i64::from(r.phases[0].current_ca), i1);
        prop_assert_eq!(i64::from(r.phases[2].current_ca), i3);
        let cross = if e1.signum() * e3.signum() < 0 { -i1 * i3 } else { i1 * i3 };
        let sum = i1 * i1 + i3 * i3 + cross;
        let i2 = i64::from(r.phases[1].current_ca);
        prop_assert!(i2 * i2 <= sum && (i2 + 1) * (i2 + 1) > sum, "i2 {} for {}", i2, sum);
        let shown: i64 = r.phases.iter().map(|x| i64::from(x.import_w) - i64::from(x.export_w)).sum();
        prop_assert_eq!(shown, net);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn demand_every_second_and_monthly_peak(
        segments in prop::collection::vec((1i64..=900, -3000i64..8000), 1..14)
    ) {
        let mut c = MeterConfig::new(Model::S211, Grid::OnePhase230, Version::V50217, "1SAG1100057729");
        c.clock_offset_ms = 0;
        let start = SimTime(monday().millis() + 2 * 24 * HOUR + 10 * HOUR); // Wed 10:00
        let mut m = Meter::new(c, start).expect("config");
        let mut t = start.millis();
        let mut quarter_mj: i128 = 0;
        let mut peak: Option<(i128, i64)> = None; // (W, quarter end)
        for (secs, p) in segments {
            let mut l = load([p, 0, 0]);
            l.phases[0].power_factor_permille = 1000;
            m.set_load(SimTime(t), &l);
            for _ in 0..secs {
                t += 1000;
                quarter_mj += i128::from(p.max(0)) * 1000;
                m.advance_to(SimTime(t));
                let d = m.readout().and_then(|r| r.demand).expect("demand");
                if t % 900_000 == 0 {
                    let w = quarter_mj / 900_000;
                    if peak.is_none_or(|(best, _)| w > best) {
                        peak = Some((w, t));
                    }
                    quarter_mj = 0;
                }
                prop_assert_eq!(i128::from(d.current_w), quarter_mj * 4 / 3_600_000);
            }
        }
        let d = m.readout().and_then(|r| r.demand).expect("demand");
        match peak {
            None => prop_assert_eq!((d.peak.at, d.peak.w), (Tst::INVALID, 0)),
            Some((w, end)) => {
                prop_assert_eq!(i128::from(d.peak.w), w);
                prop_assert_eq!(d.peak.at, cet_tst(end));
            }
        }
        prop_assert!(d.history.is_empty());
    }
}
