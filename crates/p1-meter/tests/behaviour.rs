//! Behaviour of the meter model against independent expectations: configuration checks,
//! the tariff calendar (weekends, holidays, a step straddling 22:00, DST folds), the
//! demand registers and month changes, the S/W flag around every DST transition of 2026
//! and 2027 (EU rule coded here), T211 netting and the delta grid, breaker, limiter,
//! fuse and prepaid transitions, M-Bus captures and channel forms, port and power
//! failure, a year of 15-minute telegrams, and the real DsmrHub S211 stream.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use p1_meter::{
    Command, EmptyPeak, Grid, Load, MbusConfig, MbusKind, Meter, MeterConfig, PhaseLoad, Prepaid,
    SimTime,
};
use p1_wire::{Breaker, HistoryEntry, MbusCapture, Model, Tst, Version};

const WH: u64 = 3_600_000;

fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|x| x.and_hms_opt(h, mi, s))
        .expect("valid test date")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SimTime {
    SimTime(naive(y, mo, d, h, mi, s).and_utc().timestamp_millis())
}

/// Winter (CET, UTC+1) local time; only used for dates far from DST transitions.
fn cet(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SimTime {
    utc(y, mo, d, h, mi, s).plus_ms(-3_600_000)
}

/// Summer (CEST, UTC+2) local time.
fn cest(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SimTime {
    utc(y, mo, d, h, mi, s).plus_ms(-7_200_000)
}

fn tst(text: &str) -> Tst {
    Tst::parse(text.as_bytes()).expect("valid test timestamp")
}

fn s211() -> MeterConfig {
    MeterConfig::new(
        Model::S211,
        Grid::OnePhase230,
        Version::V50217,
        "1SAG1100057729",
    )
}

fn t211(grid: Grid) -> MeterConfig {
    MeterConfig::new(Model::T211, grid, Version::V50217, "1SAG3100721326")
}

fn phase(p: i64) -> PhaseLoad {
    PhaseLoad {
        power_w: p,
        voltage_dv: 2300,
        power_factor_permille: 1000,
    }
}

fn one(p: i64) -> Load {
    Load {
        phases: [phase(p), phase(0), phase(0)],
        mbus_ml_per_h: [0; 4],
    }
}

fn three(p: [i64; 3]) -> Load {
    Load {
        phases: p.map(phase),
        mbus_ml_per_h: [0; 4],
    }
}

fn meter(cfg: MeterConfig, t: SimTime) -> Meter {
    Meter::new(cfg, t).expect("valid test configuration")
}

fn gas(channel: u8) -> MbusConfig {
    MbusConfig::new(channel, MbusKind::Gas, "7FLO2119098432", 4_761_307)
}

// ---------------------------------------------------------------- configuration

#[test]
fn impossible_configurations_name_their_field() {
    let t = cet(2026, 1, 12, 0, 0, 0);
    let field = |cfg: MeterConfig| Meter::new(cfg, t).err().map(|e| e.field.to_string());
    let mut c = s211();
    c.grid = Grid::Star400;
    assert_eq!(field(c), Some("grid".into()));
    assert_eq!(field(t211(Grid::OnePhase230)), Some("grid".into()));
    let mut c = s211();
    c.equipment_id = "7SAG1100057729".into();
    assert_eq!(field(c), Some("equipment_id".into()));
    let mut c = s211();
    c.equipment_id = "1SAG110005772".into();
    assert_eq!(field(c), Some("equipment_id".into()));
    let mut c = s211();
    c.firmware = Version::V50215;
    c.mbus = vec![MbusConfig::new(1, MbusKind::Water, "8SET0000216422", 0)];
    assert_eq!(field(c), Some("mbus[0].kind".into()));
    let mut c = s211();
    c.mbus = vec![MbusConfig::new(1, MbusKind::Gas, "8FLO2119098432", 0)];
    assert_eq!(field(c), Some("mbus[0].equipment_id".into()));
    let mut c = s211();
    c.mbus = vec![gas(2), gas(2)];
    assert_eq!(field(c), Some("mbus[1].channel".into()));
    let mut c = s211();
    c.mbus = vec![gas(5)];
    assert_eq!(field(c), Some("mbus[0].channel".into()));
    let mut c = s211();
    c.mbus = (1..=5).map(gas).collect();
    assert_eq!(field(c), Some("mbus[4]".into()));
    let mut c = s211();
    c.history = vec![
        HistoryEntry {
            period: Tst::INVALID,
            at: Tst::INVALID,
            w: 0
        };
        14
    ];
    assert_eq!(field(c), Some("history[13]".into()));
    assert!(Meter::new(t211(Grid::Delta230), t).is_ok());
    assert!(Meter::new(t211(Grid::Star400), t).is_ok());
}

// ---------------------------------------------------------------- tariff

#[test]
fn week_splits_into_day_and_night_with_weekends_and_holidays() {
    // Monday 2026-01-12 to Monday 2026-01-19, winter: day = Mon-Fri 07:00-22:00.
    for (holidays, day_days) in [
        (vec![], 5u64),
        (vec![NaiveDate::from_ymd_opt(2026, 1, 14)], 4),
    ] {
        let mut c = s211();
        c.tariff.night_days = holidays.into_iter().flatten().collect();
        let start = cet(2026, 1, 12, 0, 0, 0);
        let mut m = meter(c, start);
        m.set_load(start, &one(3600));
        m.advance_to(cet(2026, 1, 19, 0, 0, 0));
        let r = m.readout().expect("port enabled");
        assert_eq!(r.import_wh[0], day_days * 15 * 3600);
        assert_eq!(r.import_wh[1], (7 * 24 - day_days * 15) * 3600);
    }
}

#[test]
fn one_step_straddling_22h_is_split() {
    let start = cet(2026, 1, 12, 21, 59, 30);
    let mut m = meter(s211(), start);
    m.set_load(start, &one(3600));
    m.advance_to(cet(2026, 1, 12, 22, 0, 30));
    let s = m.state();
    assert_eq!(s.import_mj, [3600 * 30_000, 3600 * 30_000]);
    assert_eq!(s.import_wh, [30, 30]);
}

#[test]
fn tariff_indicator_switches_at_7_and_22() {
    let mut m = meter(s211(), cet(2026, 1, 12, 6, 0, 0));
    let mut at = |t: SimTime| {
        m.advance_to(t);
        m.readout().expect("port enabled").tariff
    };
    assert_eq!(at(cet(2026, 1, 12, 6, 59, 59)), 2);
    assert_eq!(at(cet(2026, 1, 12, 7, 0, 0)), 1);
    assert_eq!(at(cet(2026, 1, 12, 21, 59, 59)), 1);
    assert_eq!(at(cet(2026, 1, 12, 22, 0, 0)), 2);
    assert_eq!(at(cet(2026, 1, 17, 12, 0, 0)), 2); // Saturday
    assert_eq!(at(cet(2026, 1, 19, 12, 0, 0)), 1); // Monday
}

#[test]
fn forced_tariff_overrides_the_calendar_until_released() {
    // Monday 10:00, a day-tariff hour: forcing night sends the energy to 1.8.2.
    let start = cet(2026, 1, 12, 10, 0, 0);
    let mut m = meter(s211(), start);
    m.set_load(start, &one(3600));
    let force = |t| Command::ForceTariff { tariff: t };
    m.apply(start, force(Some(2))).expect("force night");
    assert_eq!(m.readout().expect("port").tariff, 2);
    m.advance_to(cet(2026, 1, 12, 11, 0, 0));
    assert_eq!(m.state().import_wh, [0, 3600]);
    m.apply(cet(2026, 1, 12, 11, 0, 0), force(None))
        .expect("release");
    assert_eq!(m.readout().expect("port").tariff, 1);
    m.advance_to(cet(2026, 1, 12, 12, 0, 0));
    assert_eq!(m.state().import_wh, [3600, 3600]);
    assert!(m.apply(cet(2026, 1, 12, 12, 0, 0), force(Some(3))).is_err());
}

#[test]
fn tariff_follows_wall_time_through_both_dst_transitions() {
    // Every day has a day tariff from 02:30 to 23:00 local.
    let mut c = s211();
    c.tariff.day_weekdays = [true; 7];
    c.tariff.day_start = chrono::NaiveTime::from_hms_opt(2, 30, 0).expect("time");
    c.tariff.day_end = chrono::NaiveTime::from_hms_opt(23, 0, 0).expect("time");
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; 02:30 never exists, so the
    // day tariff starts with the jump.
    let start = utc(2026, 3, 28, 23, 0, 0);
    let mut m = meter(c.clone(), start);
    m.set_load(start, &one(3600));
    m.advance_to(utc(2026, 3, 29, 2, 0, 0));
    assert_eq!(m.state().import_wh, [3600, 2 * 3600]); // night 23:00-01:00 UTC, day 01:00-02:00
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC. Wall time reads 02:30
    // at 00:30 UTC (day), 02:00 at 01:00 UTC (night again), 02:30 at 01:30 UTC (day).
    let start = utc(2026, 10, 24, 23, 0, 0);
    let mut m = meter(c, start);
    m.set_load(start, &one(3600));
    m.advance_to(utc(2026, 10, 25, 2, 0, 0));
    let s = m.state();
    assert_eq!(s.import_wh, [3600, 2 * 3600]); // day 00:30-01:00 and 01:30-02:00 UTC
}

// ---------------------------------------------------------------- demand and months

fn demand_w(m: &Meter) -> u32 {
    m.readout()
        .and_then(|r| r.demand)
        .map(|d| d.current_w)
        .expect("50217 readout")
}

#[test]
fn month_change_pushes_exactly_one_entry() {
    let start = cet(2026, 1, 31, 23, 0, 0);
    let mut m = meter(s211(), start);
    m.set_load(start, &one(4000));
    m.set_load(cet(2026, 1, 31, 23, 30, 0), &one(2000));
    m.advance_to(cet(2026, 1, 31, 23, 59, 59));
    let d = m.readout().and_then(|r| r.demand).expect("demand");
    assert_eq!(d.peak.w, 4000);
    assert_eq!(d.peak.at, tst("260131231500W"));
    assert!(d.history.is_empty());
    m.advance_to(cet(2026, 2, 1, 0, 0, 0));
    let d = m.readout().and_then(|r| r.demand).expect("demand");
    assert_eq!(
        d.history,
        vec![HistoryEntry {
            period: tst("260201000000W"),
            at: tst("260131231500W"),
            w: 4000
        }]
    );
    assert_eq!((d.peak.at, d.peak.w), (Tst::INVALID, 0));
    assert_eq!(d.current_w, 0);
    m.advance_to(cet(2026, 2, 1, 0, 30, 0));
    let d = m.readout().and_then(|r| r.demand).expect("demand");
    assert_eq!(d.history.len(), 1);
    assert_eq!((d.peak.at, d.peak.w), (tst("260201001500W"), 2000));
}

#[test]
fn empty_peak_month_start_option_and_start_stamp() {
    let mut c = s211();
    c.empty_peak = EmptyPeak::MonthStart;
    c.peak_stamp = p1_meter::PeakStamp::Start;
    let start = cet(2026, 1, 31, 23, 45, 0);
    let mut m = meter(c, start);
    m.set_load(start, &one(1000));
    m.advance_to(cet(2026, 2, 1, 0, 5, 0));
    let d = m.readout().and_then(|r| r.demand).expect("demand");
    assert_eq!((d.peak.at, d.peak.w), (tst("260201000000W"), 0));
    assert_eq!(d.history[0].at, tst("260131234500W"));
    assert_eq!(d.history[0].w, 1000);
}

#[test]
fn month_changes_across_dst_months_carry_the_right_flag() {
    for (start, end, period) in [
        (
            cest(2026, 3, 31, 23, 0, 0),
            cest(2026, 4, 1, 1, 0, 0),
            "260401000000S",
        ),
        (
            cet(2026, 10, 31, 23, 0, 0),
            cet(2026, 11, 1, 1, 0, 0),
            "261101000000W",
        ),
        (
            cet(2026, 3, 1, 0, 0, 0),
            cest(2026, 4, 1, 0, 0, 0),
            "260401000000S",
        ),
    ] {
        let mut m = meter(s211(), start);
        m.set_load(start, &one(1234));
        m.advance_to(end);
        let d = m.readout().and_then(|r| r.demand).expect("demand");
        assert_eq!(d.history.len(), 1, "{period}");
        assert_eq!(d.history[0].period, tst(period));
        assert_eq!(d.history[0].w, 1234);
    }
}

fn thirteen(head_invalid: bool) -> Vec<HistoryEntry> {
    (0..13u8)
        .map(|i| {
            let (y, mo) = (24 + (i + 1) / 12, (i + 1) % 12 + 1);
            HistoryEntry {
                period: Tst::new(y, mo, 1, 0, 0, 0, false).expect("tst"),
                at: if head_invalid && i == 0 {
                    Tst::INVALID
                } else {
                    Tst::new(y, mo, 1, 12, 0, 0, false).expect("tst")
                },
                w: 1000 + u32::from(i),
            }
        })
        .collect()
}

#[test]
fn full_history_drops_oldest_or_keeps_the_stale_head() {
    for (head_invalid, keep, expect_first) in
        [(false, true, 1usize), (true, true, 0), (true, false, 1)]
    {
        let mut c = s211();
        c.history = thirteen(head_invalid);
        c.keep_stale_history_head = keep;
        let old = c.history.clone();
        let start = cet(2026, 1, 31, 23, 0, 0);
        let mut m = meter(c, start);
        m.set_load(start, &one(3000));
        m.advance_to(cet(2026, 2, 1, 0, 0, 0));
        let h = m.readout().and_then(|r| r.demand).expect("demand").history;
        assert_eq!(h.len(), 13);
        assert_eq!(h[0], old[expect_first]);
        assert_eq!(h[1], old[2]);
        assert_eq!(h[12].period, tst("260201000000W"));
        assert_eq!(h[12].w, 3000);
    }
}

#[test]
fn power_and_demand_stop_while_disconnected() {
    let start = cet(2026, 1, 12, 10, 0, 0);
    let mut m = meter(s211(), start);
    m.set_load(start, &one(2000));
    m.advance_to(cet(2026, 1, 12, 10, 5, 0));
    assert_eq!(demand_w(&m), 666);
    let before = m.state();
    m.apply(cet(2026, 1, 12, 10, 5, 0), Command::RemoteDisconnect)
        .expect("connected meter");
    m.advance_to(cet(2026, 1, 12, 10, 14, 0));
    let r = m.readout().expect("readout");
    assert_eq!(
        (r.import_w, r.phases[0].import_w, r.phases[0].current_ca),
        (0, 0, 0)
    );
    assert_eq!(r.phases[0].voltage_dv, 2300);
    assert_eq!(m.state().import_mj, before.import_mj);
    assert_eq!(demand_w(&m), 666);
}

// ---------------------------------------------------------------- DST and S/W flag

/// Last Sunday of `month` at 01:00 UTC: the EU summer-time rule (Directive 2000/84/EC).
fn eu_switch(year: i32, month: u32) -> SimTime {
    let mut d = NaiveDate::from_ymd_opt(year, month, 31).expect("date");
    while d.weekday() != Weekday::Sun {
        d = d.pred_opt().expect("date");
    }
    SimTime(
        d.and_hms_opt(1, 0, 0)
            .expect("time")
            .and_utc()
            .timestamp_millis(),
    )
}

fn expected_tst(t: SimTime) -> Tst {
    let y = t.utc().year();
    let summer = t >= eu_switch(y, 3) && t < eu_switch(y, 10);
    let local = t.utc().naive_utc() + Duration::hours(if summer { 2 } else { 1 });
    Tst::new(
        (local.year() % 100) as u8,
        local.month() as u8,
        local.day() as u8,
        local.hour() as u8,
        local.minute() as u8,
        local.second() as u8,
        summer,
    )
    .expect("tst")
}

#[test]
fn sw_flag_and_local_hour_every_second_around_dst_2026_2027() {
    for year in [2026, 2027] {
        for month in [3, 10] {
            let switch = eu_switch(year, month);
            for clock_offset_ms in [0i64, 1_500, -2_700] {
                let mut c = s211();
                c.clock_offset_ms = clock_offset_ms;
                let from = switch.plus_ms(-2 * 3_600_000);
                let mut m = meter(c, from);
                for s in 0..=4 * 3600 {
                    let t = from.plus_ms(s * 1000);
                    m.advance_to(t);
                    let r = m.readout().expect("readout");
                    assert_eq!(r.time, expected_tst(t.plus_ms(clock_offset_ms)), "{t:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------- T211 phases

#[test]
fn t211_star_totals_are_the_net_of_phases() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    let mut m = meter(t211(Grid::Star400), start);
    m.set_load(start, &three([2000, -500, -3000]));
    let r = m.readout().expect("readout");
    assert_eq!((r.import_w, r.export_w), (0, 1500));
    let p: Vec<_> = r.phases.iter().map(|p| (p.import_w, p.export_w)).collect();
    assert_eq!(p, vec![(2000, 0), (0, 500), (0, 3000)]);
    // |P| / V: 2000 W / 230 V = 8.695 A, 500 / 230 = 2.173 A, 3000 / 230 = 13.043 A.
    let c: Vec<_> = r.phases.iter().map(|p| p.current_ca).collect();
    assert_eq!(c, vec![869, 217, 1304]);
    m.advance_to(cet(2026, 1, 12, 13, 0, 0));
    let s = m.state();
    assert_eq!((s.import_wh, s.export_wh), ([0, 0], [1500, 0]));
    assert_eq!(demand_w(&m), 0);
}

#[test]
fn power_factor_raises_the_current() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    let mut m = meter(s211(), start);
    let mut l = one(2300);
    l.phases[0].power_factor_permille = 500;
    m.set_load(start, &l);
    assert_eq!(m.readout().expect("readout").phases[0].current_ca, 2000);
}

#[test]
fn delta_grid_shows_no_l2_voltage_or_power_but_l2_current() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    let mut m = meter(t211(Grid::Delta230), start);
    // A library caller's L2 load is split half to each element: L1 element 1000 + 300 =
    // 1300 W, L3 element -200 + 300 = 100 W.
    m.set_load(start, &three([1000, 600, -200]));
    let r = m.readout().expect("readout");
    assert_eq!(r.phases.len(), 3);
    assert_eq!((r.phases[1].import_w, r.phases[1].export_w), (0, 0));
    assert_eq!(r.phases[1].voltage_dv, 0);
    assert_eq!(
        (r.phases[0].voltage_dv, r.phases[2].voltage_dv),
        (2300, 2300)
    );
    assert_eq!((r.import_w, r.export_w), (1400, 0));
    let shown: i64 = r
        .phases
        .iter()
        .map(|p| i64::from(p.import_w) - i64::from(p.export_w))
        .sum();
    assert_eq!(shown, 1400);
    // 1300 W / 230 V = 5.652 A, 100 W / 230 V = 0.434 A; both import:
    // sqrt(565² + 43² + 565·43) = sqrt(345 369) = 587.68 -> 5.87 A.
    let c: Vec<_> = r.phases.iter().map(|p| p.current_ca).collect();
    assert_eq!(c, vec![565, 587, 43]);
}

/// L2 on a delta grid is the return of the L1 and L3 element currents, 60 degrees apart
/// (120 degrees when one element exports); values computed by hand.
#[test]
fn delta_grid_l2_current_is_the_return_of_l1_and_l3() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    let l2 = |p: [i64; 3]| {
        let mut m = meter(t211(Grid::Delta230), start);
        m.set_load(start, &three(p));
        let r = m.readout().expect("readout");
        let s = m.state();
        assert_eq!(s.phases[1].current_ca, r.phases[1].current_ca);
        assert_eq!((r.phases[1].import_w, r.phases[1].export_w), (0, 0));
        r.phases.iter().map(|p| p.current_ca).collect::<Vec<_>>()
    };
    // 10 A and 10 A importing: sqrt(100 + 100 + 100) = 17.320 A.
    assert_eq!(l2([2300, 0, 2300]), vec![1000, 1732, 1000]);
    // Only L1-L2 loaded: all its current returns on L2.
    assert_eq!(l2([2300, 0, 0]), vec![1000, 1000, 0]);
    assert_eq!(l2([0, 0, 4600]), vec![0, 2000, 2000]);
    // 10 A imported, 10 A exported: sqrt(100 + 100 - 100) = 10 A.
    assert_eq!(l2([2300, 0, -2300]), vec![1000, 1000, 1000]);
    // 10 A and 5 A importing: sqrt(100 + 25 + 50) = 13.228 A.
    assert_eq!(l2([2300, 0, 1150]), vec![1000, 1322, 500]);
    // 10 A exported, 5 A imported: sqrt(100 + 25 - 50) = 8.660 A.
    assert_eq!(l2([-2300, 0, 1150]), vec![1000, 866, 500]);
    assert_eq!(l2([0, 0, 0]), vec![0, 0, 0]);
    // The star grid keeps each phase's own current.
    let mut m = meter(t211(Grid::Star400), start);
    m.set_load(start, &three([2300, 0, 2300]));
    let c: Vec<_> = m
        .readout()
        .expect("readout")
        .phases
        .iter()
        .map(|p| p.current_ca)
        .collect();
    assert_eq!(c, vec![1000, 0, 1000]);
}

/// The three real 3x230V captures with two active elements, replayed as loads with the
/// power factors that reproduce their L1 and L3 currents: the modelled L2 current lies
/// within 0.30 A of the printed one (the power factors of the two loads are unknown and
/// not equal), while the same-direction formula would be 0.7 to 1.0 A off.
#[test]
fn delta_grid_l2_current_agrees_with_real_captures() {
    // (capture, [(W, dV, A x 100) of L1 and L3, import > 0], printed L2 cA)
    type Element = (i64, i64, i64);
    let cases: [(&str, [Element; 2], i64); 3] = [
        ("p1dongel-1", [(188, 2453, 100), (-1928, 2468, 797)], 774),
        ("arduinodsmrtest-1", [(-55, 2330, 63), (208, 2339, 103)], 75),
        ("dsmrreader-4", [(230, 2278, 160), (-48, 2315, 141)], 166),
    ];
    let start = cet(2026, 1, 12, 12, 0, 0);
    for (name, el, printed) in cases {
        let mut load = three([0, 0, 0]);
        for (ph, (w, dv, ca)) in [0, 2].into_iter().zip(el) {
            // pf = |P| / (V I), rounded to the nearest per mille.
            let pf = (w.abs() * 1_000_000 * 2 / (dv * ca) + 1) / 2;
            load.phases[ph] = PhaseLoad {
                power_w: w,
                voltage_dv: dv as u32,
                power_factor_permille: pf as u32,
            };
        }
        let mut m = meter(t211(Grid::Delta230), start);
        m.set_load(start, &load);
        let r = m.readout().expect("readout");
        for (ph, (_, _, ca)) in [0, 2].into_iter().zip(el) {
            let got = i64::from(r.phases[ph].current_ca);
            assert!((got - ca).abs() <= 2, "{name}: L{} {got} cA", ph + 1);
        }
        let got = i64::from(r.phases[1].current_ca);
        assert!(
            (got - printed).abs() <= 30,
            "{name}: L2 {got} cA, the capture prints {printed}"
        );
    }
}

#[test]
fn fuse_watches_the_l2_return_current_on_a_delta_grid() {
    let t = cet(2026, 1, 12, 12, 0, 0);
    let mut c = t211(Grid::Delta230);
    c.fuse_a = 17;
    let mut m = meter(c, t);
    // 10 A + 10 A importing: 17.32 A on L2, above 17 A although L1 and L3 are not.
    m.set_load(t, &three([2300, 0, 2300]));
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    let mut c = t211(Grid::Delta230);
    c.fuse_a = 17;
    let mut m = meter(c, t);
    // 10 A imported, 10 A exported: 10 A on L2, below.
    m.set_load(t, &three([2300, 0, -2300]));
    assert_eq!(m.breaker(), Breaker::Connected);
    // The limit is I1 = I3 = 17 / sqrt(3) A = 9.8150 A, 2257.45 W at 230 V. Both at 2257 W:
    // 16.9967 A, not above; 2257 W and 2258 W: 17.0005 A, above (the truncated cA values,
    // 981 and 981, would give 16.99 A and miss it).
    m.set_load(t, &three([2257, 0, 2257]));
    assert_eq!(m.breaker(), Breaker::Connected);
    m.set_load(t, &three([2257, 0, 2258]));
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
}

// ---------------------------------------------------------------- breaker, limiter, prepaid

#[test]
fn breaker_state_machine_and_three_second_button() {
    let t = cet(2026, 1, 12, 12, 0, 0);
    let mut m = meter(s211(), t);
    assert_eq!(m.breaker(), Breaker::Connected);
    assert!(m.apply(t, Command::Button { held_ms: 5000 }).is_err());
    assert!(m.apply(t, Command::Release).is_err());
    assert!(m.apply(t, Command::RemoteConnect).is_err());
    m.apply(t, Command::RemoteDisconnect).expect("1 -> 0");
    assert_eq!(m.breaker(), Breaker::Disconnected);
    assert!(m.apply(t, Command::RemoteDisconnect).is_err());
    assert!(m.apply(t, Command::Button { held_ms: 5000 }).is_err());
    m.apply(t, Command::Release).expect("0 -> 2");
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    assert!(m.apply(t, Command::Release).is_err());
    m.apply(t, Command::Button { held_ms: 2999 })
        .expect("short press is no error");
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    assert!(m.apply(t, Command::Button { held_ms: -1 }).is_err());
    m.apply(t, Command::Button { held_ms: 3000 })
        .expect("2 -> 1");
    assert_eq!(m.breaker(), Breaker::Connected);
    m.apply(t, Command::RemoteDisconnect).expect("1 -> 0");
    m.apply(t, Command::RemoteConnect).expect("0 -> 1");
    assert_eq!(m.breaker(), Breaker::Connected);
    m.apply(t, Command::RemoteDisconnect).expect("1 -> 0");
    m.apply(t, Command::Release).expect("0 -> 2");
    m.apply(t, Command::RemoteDisconnect).expect("2 -> 0");
    assert_eq!(m.breaker(), Breaker::Disconnected);
    m.apply(t, Command::Release).expect("0 -> 2");
    m.apply(t, Command::RemoteConnect).expect("2 -> 1");
    assert_eq!(m.breaker(), Breaker::Connected);
    assert_eq!(m.readout().expect("readout").breaker, Breaker::Connected);
}

#[test]
fn limiter_trips_above_threshold_and_button_reconnects() {
    let t = cet(2026, 1, 12, 12, 0, 0);
    let mut c = s211();
    c.limiter_hw = 23;
    let mut m = meter(c, t);
    m.set_load(t, &one(2300));
    assert_eq!(m.breaker(), Breaker::Connected);
    m.set_load(t, &one(2301));
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    let frozen = m.state().import_mj;
    m.advance_to(cet(2026, 1, 12, 13, 0, 0));
    assert_eq!(m.state().import_mj, frozen);
    let t2 = cet(2026, 1, 12, 13, 0, 0);
    m.apply(t2, Command::Button { held_ms: 3000 })
        .expect("press");
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection); // load still too high: trips again
    m.set_load(t2, &one(2000));
    m.apply(t2, Command::Button { held_ms: 3000 })
        .expect("press");
    assert_eq!(m.breaker(), Breaker::Connected);
    m.apply(t2, Command::SetLimiter { hw: 19 })
        .expect("valid limiter");
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    assert!(m.apply(t2, Command::SetLimiter { hw: 10_000 }).is_err());
    m.apply(t2, Command::SetLimiter { hw: 9999 }).expect("off");
    assert_eq!(m.readout().expect("readout").limiter_hw, 9999);
}

#[test]
fn fuse_trips_when_a_phase_current_exceeds_it() {
    let t = cet(2026, 1, 12, 12, 0, 0);
    let mut c = t211(Grid::Star400);
    c.fuse_a = 10;
    let mut m = meter(c, t);
    m.set_load(t, &three([2300, -2300, 100])); // 10.00 A on L1 and L2: not above
    assert_eq!(m.breaker(), Breaker::Connected);
    m.set_load(t, &three([100, -2301, 100])); // 10.004 A exported on L2: above
    assert_eq!(m.readout().expect("readout").phases[1].current_ca, 0);
    assert_eq!(m.state().phases[1].current_ca, 0);
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    assert!(m.apply(t, Command::SetFuse { a: 1000 }).is_err());
}

#[test]
fn prepaid_cuts_at_exhaustion_and_releases_after_top_up() {
    let t0 = cet(2026, 1, 12, 12, 0, 0);
    let mut c = s211();
    c.prepaid = Some(Prepaid {
        credit_ueur: 1_000_000,
        price_ueur_per_kwh: 250_000, // 4 kWh of credit
        release_delay_ms: 60_000,
    });
    let mut m = meter(c, t0);
    m.set_load(t0, &one(4000)); // exhausted after exactly one hour
    m.advance_to(t0.plus_ms(3_600_000 - 1));
    assert_eq!(m.breaker(), Breaker::Connected);
    m.advance_to(t0.plus_ms(3_600_000));
    assert_eq!(m.breaker(), Breaker::Disconnected);
    assert_eq!(m.state().import_mj, [4000 * WH, 0]);
    assert_eq!(m.state().prepaid.map(|p| p.credit_ueur), Some(0));
    let t1 = t0.plus_ms(3_600_000);
    assert!(m.apply(t1, Command::Button { held_ms: 3000 }).is_err());
    m.apply(t1, Command::TopUp { ueur: 500_000 })
        .expect("top-up");
    assert_eq!(m.breaker(), Breaker::Disconnected);
    m.advance_to(t1.plus_ms(59_999));
    assert_eq!(m.breaker(), Breaker::Disconnected);
    assert_eq!(m.next_deadline(), Some(t1.plus_ms(60_000)));
    m.advance_to(t1.plus_ms(60_000));
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection);
    m.apply(t1.plus_ms(70_000), Command::Button { held_ms: 3000 })
        .expect("reconnect");
    assert_eq!(m.breaker(), Breaker::Connected);
    // 0.5 EUR at 0.25 EUR/kWh = 2 kWh = 30 min at 4 kW.
    m.advance_to(t1.plus_ms(70_000 + 1_800_000));
    assert_eq!(m.breaker(), Breaker::Disconnected);
    assert_eq!(m.state().import_mj, [6000 * WH, 0]);
    // Not a budget meter, or nothing to add.
    let mut plain = meter(s211(), t0);
    assert!(plain.apply(t0, Command::TopUp { ueur: 1 }).is_err());
    assert!(m.apply(t1, Command::TopUp { ueur: 0 }).is_err());
}

#[test]
fn prepaid_meter_without_credit_starts_disconnected() {
    let mut c = s211();
    c.prepaid = Some(Prepaid {
        credit_ueur: 0,
        price_ueur_per_kwh: 300_000,
        release_delay_ms: 0,
    });
    let t = cet(2026, 1, 12, 12, 0, 0);
    let mut m = meter(c, t);
    assert_eq!(m.breaker(), Breaker::Disconnected);
    m.apply(t, Command::TopUp { ueur: 10 }).expect("top-up");
    assert_eq!(m.breaker(), Breaker::ReadyForReconnection); // no delay configured
}

// ---------------------------------------------------------------- M-Bus

#[test]
fn gas_captures_every_five_minutes_with_phase_and_jitter() {
    let start = cet(2026, 1, 12, 0, 0, 0);
    let mut c = s211();
    let mut g = gas(1);
    g.capture_phase_ms = Some(17_000);
    g.capture_jitter_ms = 20_000;
    c.mbus = vec![g];
    let mut m = meter(c, start);
    let initial = m.readout().expect("readout").mbus[0].capture;
    match initial {
        MbusCapture::Reading { at, dm3 } => {
            assert_eq!(dm3, 4_761_307);
            assert!(at <= expected_tst(start));
        }
        MbusCapture::Silent => panic!("a running gas meter has a capture"),
    }
    let mut load = one(0);
    load.mbus_ml_per_h[0] = 1_234_567; // ml per hour
    m.set_load(start, &load);
    let end = start.plus_ms(24 * 3_600_000);
    let mut captures = Vec::new();
    let mut last = initial;
    while let Some(t) = m.next_deadline().filter(|&t| t <= end) {
        m.advance_to(t);
        let r = m.readout().expect("readout");
        if r.mbus[0].capture != last {
            last = r.mbus[0].capture;
            captures.push((t, last));
        }
    }
    assert!((287..=289).contains(&captures.len()), "{}", captures.len());
    for (t, cap) in &captures {
        let into_period = (t.millis() - 17_000).rem_euclid(300_000);
        assert!(
            into_period <= 20_000,
            "capture {into_period} ms into its period"
        );
        let MbusCapture::Reading { at, dm3 } = cap else {
            panic!("live channel");
        };
        assert_eq!(*at, expected_tst(*t));
        let litres = 1_234_567 * i128::from(t.millis() - start.millis()) / 3_600_000 / 1000;
        assert_eq!(*dm3 as i128, 4_761_307 + litres);
    }
    for w in captures.windows(2) {
        let gap = w[1].0.millis() - w[0].0.millis();
        assert!((280_000..=320_000).contains(&gap), "gap {gap}");
    }
    let jitters: std::collections::BTreeSet<i64> = captures
        .iter()
        .map(|(t, _)| (t.millis() - 17_000).rem_euclid(300_000))
        .collect();
    assert!(jitters.len() > 100, "jitter varies: {}", jitters.len());
}

/// Without a configured phase each device captures at an offset of its own, derived from
/// its id; the same id always gives the same offset; an explicit phase is honoured.
#[test]
fn default_capture_phase_comes_from_the_equipment_id() {
    let start = cet(2026, 1, 12, 0, 0, 0);
    // The phase of a device's captures over a day: each capture lies in
    // [k·period + phase, k·period + phase + jitter], so with no jitter it is exact.
    let offsets = |g: MbusConfig| {
        let mut c = s211();
        c.mbus = vec![MbusConfig {
            capture_jitter_ms: 0,
            ..g
        }];
        let mut m = meter(c, start);
        let end = start.plus_ms(3_600_000);
        let mut seen = std::collections::BTreeSet::new();
        while let Some(t) = m.next_deadline().filter(|&t| t <= end) {
            m.advance_to(t);
            if m.state().mbus[0].last_capture.map(|c| c.true_ms) == Some(t.millis()) {
                seen.insert(t.millis().rem_euclid(300_000));
            }
        }
        seen.into_iter().collect::<Vec<_>>()
    };
    let a = MbusConfig::new(1, MbusKind::Gas, "7FLO2119098432", 0);
    let b = MbusConfig::new(1, MbusKind::Gas, "7FLO2119098433", 0);
    let (oa, ob) = (offsets(a.clone()), offsets(b.clone()));
    assert_eq!(oa.len(), 1, "one offset per device: {oa:?}");
    assert_eq!(ob.len(), 1, "one offset per device: {ob:?}");
    assert_ne!(oa, ob, "two ids, two offsets");
    assert_eq!(oa, vec![a.capture_phase()]);
    assert_eq!(ob, vec![b.capture_phase()]);
    assert_eq!(offsets(a.clone()), oa, "deterministic");
    // Not all at the 5-minute marks (the old default of 0).
    assert!(oa[0] != 0 || ob[0] != 0);
    for g in [&a, &b] {
        assert!((0..300_000).contains(&g.capture_phase()));
    }
    // Explicit phases, including 0 and one beyond the period, are honoured.
    for (phase, expected) in [
        (0, 0),
        (17_000, 17_000),
        (317_000, 17_000),
        (-1000, 299_000),
    ] {
        let g = MbusConfig {
            capture_phase_ms: Some(phase),
            ..a.clone()
        };
        assert_eq!(g.capture_phase(), expected);
        assert_eq!(offsets(g), vec![expected], "phase {phase}");
    }
    // Captured stamps over many ids spread over the period instead of bunching at 0.
    let spread: std::collections::BTreeSet<i64> = (0..50)
        .map(|i| MbusConfig::new(1, MbusKind::Gas, &format!("7FLO21190984{i:02}"), 0))
        .map(|g| g.capture_phase() / 60_000)
        .collect();
    assert_eq!(
        spread.len(),
        5,
        "every minute of the period is used: {spread:?}"
    );
}

#[test]
fn decouple_remove_replace_and_water() {
    let start = cet(2026, 1, 12, 0, 0, 0);
    let mut c = s211();
    c.mbus = vec![
        MbusConfig::new(2, MbusKind::Gas, "7FLO2119098432", 1000),
        MbusConfig::new(1, MbusKind::Water, "8SET0000216422", 2000),
    ];
    let mut m = meter(c, start);
    let r = m.readout().expect("readout");
    assert_eq!(
        r.mbus.iter().map(|b| b.channel).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!((r.mbus[0].device_type, r.mbus[0].valve), (7, None));
    assert_eq!(
        (r.mbus[1].device_type, r.mbus[1].valve),
        (3, Some(Breaker::Connected))
    );
    m.apply(start, Command::MbusDecouple { channel: 2 })
        .expect("decouple");
    let r = m.readout().expect("readout");
    assert_eq!(r.mbus[1].valve, Some(Breaker::Disconnected));
    assert_eq!(r.mbus[1].capture, MbusCapture::Silent);
    assert!(
        m.apply(start, Command::MbusDecouple { channel: 2 })
            .is_err()
    );
    m.apply(start, Command::MbusRemove { channel: 2 })
        .expect("remove");
    assert_eq!(m.readout().expect("readout").mbus.len(), 1);
    assert!(m.apply(start, Command::MbusRemove { channel: 2 }).is_err());
    // Water meter exchanged: old channel 1 left stale, new one on channel 3.
    let old = m.readout().expect("readout").mbus[0].capture;
    let mut load = one(0);
    load.mbus_ml_per_h = [500_000; 4];
    m.set_load(start, &load);
    let new = MbusConfig::new(3, MbusKind::Water, "8SET0000999999", 0);
    assert!(
        m.apply(
            start,
            Command::MbusReplace {
                old_channel: 1,
                new: MbusConfig {
                    channel: 1,
                    ..new.clone()
                }
            }
        )
        .is_err()
    );
    m.apply(
        start,
        Command::MbusReplace {
            old_channel: 1,
            new,
        },
    )
    .expect("replace");
    m.advance_to(start.plus_ms(3_600_000));
    let r = m.readout().expect("readout");
    assert_eq!(r.mbus.len(), 2);
    assert_eq!(r.mbus[0].capture, old);
    match r.mbus[1].capture {
        MbusCapture::Reading { dm3, .. } => assert!((450..=500).contains(&dm3), "{dm3}"),
        MbusCapture::Silent => panic!("new device captured within an hour"),
    }
    // Water does not exist before 50216; coupling one is refused.
    let mut c = s211();
    c.firmware = Version::V50215;
    let mut old_fw = meter(c, start);
    let water = MbusConfig::new(1, MbusKind::Water, "8SET0000216422", 0);
    assert!(old_fw.apply(start, Command::MbusCouple(water)).is_err());
    old_fw
        .apply(start, Command::MbusCouple(gas(4)))
        .expect("gas is fine");
    assert_eq!(
        old_fw.readout().expect("readout").mbus[0].capture,
        MbusCapture::Silent
    );
}

// ---------------------------------------------------------------- port, power

#[test]
fn port_disabled_and_power_failure_silence_the_line() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    let mut c = s211();
    c.mbus = vec![gas(1)];
    let mut m = meter(c, start);
    m.set_load(start, &one(1000));
    m.apply(start, Command::Port { enabled: false })
        .expect("port");
    assert!(m.readout().is_none());
    m.apply(start, Command::Port { enabled: true })
        .expect("port");
    assert!(m.readout().is_some());
    let t1 = start.plus_ms(600_000);
    m.apply(t1, Command::PowerFail).expect("fail");
    let frozen = m.state();
    assert!(m.readout().is_none());
    assert!(m.apply(t1, Command::RemoteDisconnect).is_err());
    assert!(m.apply(t1, Command::PowerFail).is_err());
    let t2 = t1.plus_ms(3_600_000);
    m.advance_to(t2);
    assert_eq!(m.state().import_mj, frozen.import_mj);
    assert_eq!(m.state().mbus[0].last_capture, frozen.mbus[0].last_capture);
    m.apply(t2, Command::PowerRestore).expect("restore");
    assert!(m.apply(t2, Command::PowerRestore).is_err());
    let r = m.readout().expect("readout");
    assert_eq!(r.time, expected_tst(t2));
    assert_eq!(r.import_wh[0], 1000 / 6); // 10 min at 1 kW before the failure
    assert_eq!(r.import_w, 1000);
}

#[test]
fn clock_offset_moves_quarters_and_timestamps() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    let mut c = s211();
    c.clock_offset_ms = 30_000; // meter 30 s fast: its quarter ends at true 12:14:30
    let mut m = meter(c, start);
    m.set_load(start, &one(3600));
    m.advance_to(cet(2026, 1, 12, 12, 14, 29));
    assert!(demand_w(&m) > 3000);
    m.advance_to(cet(2026, 1, 12, 12, 14, 30));
    assert_eq!(demand_w(&m), 0);
    assert_eq!(m.readout().expect("readout").time, tst("260112121500W"));
    m.apply(
        cet(2026, 1, 12, 12, 14, 30),
        Command::ClockJump { by_ms: -30_000 },
    )
    .expect("jump");
    assert_eq!(m.readout().expect("readout").time, tst("260112121430W"));
}

/// A meter found running at hh:05 with 3600 W assumed on since hh:00: 1.4.0 holds five
/// minutes of it (3600 W x 300 s / 900 s = 1200 W), the quarter closes at 3600 W and
/// becomes the peak; the energy registers are not pre-rolled.
#[test]
fn load_assumed_since_quarter_start_prerolls_demand_only() {
    let start = cet(2026, 1, 12, 12, 5, 0);
    let mut c = s211();
    c.import_wh = [1000, 2000];
    let mut m = meter(c, start);
    m.set_load(start, &one(3600));
    assert_eq!(demand_w(&m), 0);
    m.assume_load_since_quarter_start();
    assert_eq!(demand_w(&m), 1200);
    assert_eq!(m.state().import_wh, [1000, 2000]);
    assert_eq!(m.state().demand.quarter_import_mj, 3600 * 300_000);
    // At 12:10 ten minutes count: 2400 W; the registers hold only the 5 simulated minutes.
    m.advance_to(cet(2026, 1, 12, 12, 10, 0));
    assert_eq!(demand_w(&m), 2400);
    assert_eq!(m.state().import_wh, [1000 + 300, 2000]);
    m.advance_to(cet(2026, 1, 12, 12, 15, 0));
    let d = m.readout().and_then(|r| r.demand).expect("50217");
    assert_eq!(d.current_w, 0);
    assert_eq!((d.peak.w, d.peak.at), (3600, tst("260112121500W")));
    // On the meter clock: 2 minutes fast, the meter's quarter began 7 minutes ago.
    let mut c = s211();
    c.clock_offset_ms = 120_000;
    let mut m = meter(c, start);
    m.set_load(start, &one(3600));
    m.assume_load_since_quarter_start();
    assert_eq!(demand_w(&m), 3600 * 420 / 900);
    // Exporting or disconnected: nothing to pre-roll; at a quarter start: nothing elapsed.
    let mut m = meter(s211(), start);
    m.set_load(start, &one(-2000));
    m.assume_load_since_quarter_start();
    assert_eq!(demand_w(&m), 0);
    let mut m = meter(s211(), start);
    m.apply(start, Command::RemoteDisconnect).expect("open");
    m.set_load(start, &one(3600));
    m.assume_load_since_quarter_start();
    assert_eq!(demand_w(&m), 0);
    let q = cet(2026, 1, 12, 12, 15, 0);
    let mut m = meter(s211(), q);
    m.set_load(q, &one(3600));
    m.assume_load_since_quarter_start();
    assert_eq!(demand_w(&m), 0);
}

/// The readout is what the wire carries: on 50213 no per-phase power and whole amperes,
/// on 50214 per-phase power still absent but currents in cA; the state keeps exact values.
#[test]
fn readout_is_the_wire_form_of_the_firmware() {
    let start = cet(2026, 1, 12, 12, 0, 0);
    for (firmware, power, ca) in [
        (Version::V50213, 0, 200),
        (Version::V50214, 0, 229),
        (Version::V50215, 527, 229),
    ] {
        let mut c = s211();
        c.firmware = firmware;
        let mut m = meter(c, start);
        m.set_load(start, &one(527)); // 527 W / 230 V = 2.291 A
        let r = m.readout().expect("readout");
        assert_eq!(r.phases[0].import_w, power, "{firmware:?}");
        assert_eq!(r.phases[0].current_ca, ca, "{firmware:?}");
        assert_eq!(r.import_w, 527);
        assert_eq!(r.demand.is_some(), firmware == Version::V50217);
        let s = m.state();
        assert_eq!((s.phases[0].import_w, s.phases[0].current_ca), (527, 229));
        assert_eq!(p1_wire::decode_all(&r.to_bytes()).len(), 1);
        let decoded = p1_wire::decode_all(&r.to_bytes())
            .into_iter()
            .next()
            .and_then(Result::ok)
            .map(|f| f.readout);
        assert_eq!(decoded.as_ref(), Some(&r), "{firmware:?}");
    }
}

// ---------------------------------------------------------------- long runs

#[test]
fn a_year_of_quarter_hour_telegrams() {
    use chrono::TimeZone;
    let start = cet(2026, 1, 1, 0, 0, 0);
    let end = cet(2027, 1, 1, 0, 0, 0);
    let mut c = s211();
    c.mbus = vec![gas(1)];
    let mut m = meter(c, start);
    let mut t = start;
    let mut q = 0i64;
    let mut expected_peaks: std::collections::BTreeMap<(i32, u32), u32> = Default::default();
    while t < end {
        let p = (q * 7919) % 5000; // W, constant over the quarter
        m.set_load(t, &one(p));
        let local = chrono_tz::Europe::Brussels
            .timestamp_millis_opt(t.millis())
            .unwrap();
        let e = expected_peaks
            .entry((local.year(), local.month()))
            .or_insert(0);
        *e = (*e).max(p as u32);
        t = t.plus_ms(900_000);
        q += 1;
        m.advance_to(t);
        assert!(m.readout().is_some());
    }
    let d = m.readout().and_then(|r| r.demand).expect("demand");
    assert_eq!(d.history.len(), 12);
    for (i, h) in d.history.iter().enumerate() {
        let month = i as u32 + 1;
        assert_eq!(
            Some(h.w),
            expected_peaks.get(&(2026, month)).copied(),
            "{month}"
        );
        let (y, mo) = if month == 12 {
            (27, 1)
        } else {
            (26, month as u8 + 1)
        };
        let summer = (4..=10).contains(&mo) && y == 26;
        assert_eq!(h.period, Tst::new(y, mo, 1, 0, 0, 0, summer).expect("tst"));
    }
}

// ---------------------------------------------------------------- real stream

/// The value inside the first parentheses after `obis(` in a telegram.
fn field<'a>(telegram: &'a str, obis: &str) -> &'a str {
    let key = format!("{obis}(");
    let start = telegram.find(&key).expect("object present") + key.len();
    let rest = &telegram[start..];
    &rest[..rest.find(')').expect("closing parenthesis")]
}

/// `00.524*kW` -> 524 W.
fn kw_to_w(v: &str) -> i64 {
    let digits: String = v
        .split('*')
        .next()
        .expect("value")
        .chars()
        .filter(|c| *c != '.')
        .collect();
    digits.parse().expect("digits")
}

#[test]
fn dsmrhub_stream_demand_matches_within_one_watt() {
    // The real captures are kept with the codec's fixtures.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../p1-wire/tests/fixtures");
    let telegrams: Vec<String> = (1..=14)
        .map(|i| {
            std::fs::read_to_string(format!("{dir}/fluvius-s211-dsmrhub-{i}.txt"))
                .expect("capture present")
        })
        .collect();
    // 221220204556W .. 221220204609W, winter time; the quarter began at 20:45:00.
    let quarter = cet(2022, 12, 20, 20, 45, 0);
    let mut m = meter(s211(), quarter);
    m.set_load(quarter, &one(kw_to_w(field(&telegrams[0], "1-0:1.7.0"))));
    for text in &telegrams {
        let stamp = tst(field(text, "0-0:1.0.0"));
        let t = cet(
            2000 + i32::from(stamp.year),
            stamp.month.into(),
            stamp.day.into(),
            stamp.hour.into(),
            stamp.minute.into(),
            stamp.second.into(),
        );
        m.advance_to(t);
        let model = i64::from(demand_w(&m));
        let real = kw_to_w(field(text, "1-0:1.4.0"));
        assert!(
            (model - real).abs() <= 1,
            "{stamp}: model {model} W, meter {real} W"
        );
        assert_eq!(m.readout().expect("readout").time, stamp);
        m.set_load(t, &one(kw_to_w(field(text, "1-0:1.7.0"))));
    }
}

// ---------------------------------------------------------------- robustness

#[test]
fn extreme_inputs_are_refused_or_saturate_without_panic() {
    let t = utc(2099, 12, 31, 20, 0, 0);
    assert_eq!(
        Meter::new(s211(), SimTime(i64::MAX))
            .err()
            .map(|e| e.field.to_string()),
        Some("start".into())
    );
    let mut c = s211();
    c.clock_offset_ms = i64::MAX;
    assert_eq!(
        Meter::new(c, t).err().map(|e| e.field.to_string()),
        Some("clock_offset_ms".into())
    );
    let mut c = t211(Grid::Delta230);
    c.prepaid = Some(Prepaid {
        credit_ueur: i64::MAX,
        price_ueur_per_kwh: i64::MAX,
        release_delay_ms: i64::MAX,
    });
    c.import_wh = [u64::MAX; 2];
    c.mbus = vec![MbusConfig {
        capture_phase_ms: Some(i64::MIN),
        ..gas(1)
    }];
    let mut m = meter(c, t);
    let mut l = three([i64::MAX, i64::MIN, i64::MAX]);
    l.phases[1].voltage_dv = u32::MAX;
    l.phases[2].power_factor_permille = 0;
    l.mbus_ml_per_h = [u64::MAX; 4];
    m.set_load(t, &l);
    m.advance_to(SimTime(i64::MAX));
    assert_eq!(m.now(), p1_meter::MAX_TIME);
    assert!(
        m.apply(m.now(), Command::ClockJump { by_ms: i64::MAX })
            .is_err()
    );
    assert!(m.apply(m.now(), Command::TopUp { ueur: i64::MAX }).is_ok());
    let _ = m.readout();
    let _ = m.state();
    let mut bad = s211();
    bad.mbus = vec![MbusConfig {
        capture_period_ms: 999,
        capture_jitter_ms: 0,
        ..gas(1)
    }];
    assert_eq!(
        Meter::new(bad, t).err().map(|e| e.field.to_string()),
        Some("mbus[0].capture_period_ms".into())
    );
}

#[test]
fn coupling_on_an_occupied_channel_replaces_in_place() {
    let t = cet(2026, 1, 12, 0, 0, 0);
    let mut c = s211();
    c.mbus = vec![gas(1)];
    let mut m = meter(c, t);
    let new = MbusConfig::new(1, MbusKind::Gas, "7FLO2200000001", 0);
    m.apply(t, Command::MbusCouple(new)).expect("couple");
    let r = m.readout().expect("readout");
    assert_eq!(r.mbus.len(), 1);
    assert_eq!(r.mbus[0].equipment_id, "7FLO2200000001");
    assert_eq!(r.mbus[0].capture, MbusCapture::Silent); // until its first capture
}

// ---------------------------------------------------------------- snapshot

#[test]
fn snapshot_is_readout_and_state_from_one_measurement() {
    let t0 = cet(2026, 1, 14, 10, 0, 0);
    let mut m = meter(t211(Grid::Star400), t0);
    m.set_load(t0, &three([1200, -300, 40]));
    let t1 = t0.plus_ms(90_000);
    m.advance_to(t1);
    let (readout, state) = m.snapshot();
    assert_eq!(readout, m.readout());
    assert_eq!(state, m.state());
    let r = readout.expect("the port is on");
    assert_eq!((r.import_w, r.export_w), (state.import_w, state.export_w));
    assert_eq!((r.import_w, r.export_w), (940, 0));
    // Silent line: no readout, the state still tells the truth.
    m.apply(t1, Command::Port { enabled: false })
        .expect("port off");
    let (readout, state) = m.snapshot();
    assert_eq!(readout, None);
    assert_eq!(state, m.state());
    assert!(!state.port_enabled);
}
