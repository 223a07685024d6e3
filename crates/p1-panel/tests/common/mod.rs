//! Shared fixtures of the panel tests: meters built directly from `p1_meter`, instants in
//! Belgian local time, and a small driver that keeps a panel and its meter in step.
#![allow(dead_code, unreachable_pub)]

use chrono::NaiveDate;
use p1_meter::{Grid, Load, MbusConfig, MbusKind, Meter, MeterConfig, PhaseLoad, Prepaid, SimTime};
use p1_panel::{Panel, PanelConfig, PanelView};
use p1_wire::{Model, Version};

/// Belgian local time on 2026-06-`day` (15 = a Monday, day tariff from 07:00 to 22:00).
pub fn local(day: u32, h: u32, m: u32, s: u32) -> SimTime {
    let t = NaiveDate::from_ymd_opt(2026, 6, day)
        .and_then(|d| d.and_hms_opt(h, m, s))
        .expect("valid date");
    p1_meter::time::from_local(t).expect("unambiguous local time")
}

/// Monday 2026-06-15 12:00 local: day tariff.
pub fn noon() -> SimTime {
    local(15, 12, 0, 0)
}

/// A T211 on 3x400V, firmware 50217, with known registers and a gas and a water meter.
pub fn t211() -> MeterConfig {
    let mut c = MeterConfig::new(
        Model::T211,
        Grid::Star400,
        Version::V50217,
        "1SAG3100000292",
    );
    c.import_wh = [4_213_379, 5_102_044];
    c.export_wh = [1_871_265, 302_118];
    c.mbus = vec![
        MbusConfig::new(1, MbusKind::Gas, "7FLO4100000123", 1_843_512),
        MbusConfig::new(2, MbusKind::Water, "8SAG4100000456", 412_087),
    ];
    c
}

/// A single-phase S211, firmware 50216, no M-Bus.
pub fn s211() -> MeterConfig {
    let mut c = MeterConfig::new(
        Model::S211,
        Grid::OnePhase230,
        Version::V50216,
        "1SAG1100000001",
    );
    c.import_wh = [123_456, 7_890];
    c
}

/// A prepaid S211 with `credit_eur` of credit at 0.30 EUR/kWh, released at once after a
/// top-up.
pub fn prepaid(credit_eur: i64) -> MeterConfig {
    let mut c = s211();
    c.prepaid = Some(Prepaid {
        credit_ueur: credit_eur * 1_000_000,
        price_ueur_per_kwh: 300_000,
        release_delay_ms: 0,
    });
    c
}

/// `watts` per phase (import > 0, export < 0) at 230 V and power factor `pf_permille`.
pub fn load(watts: [i64; 3], pf_permille: u32) -> Load {
    let mut l = Load::default();
    for (ph, w) in l.phases.iter_mut().zip(watts) {
        *ph = PhaseLoad {
            power_w: w,
            voltage_dv: 2300,
            power_factor_permille: pf_permille,
        };
    }
    l
}

/// A meter and its panel, kept in step: every instant is observed before it is used.
pub struct Rig {
    pub meter: Meter,
    pub panel: Panel,
}

impl Rig {
    pub fn new(cfg: MeterConfig, panel: PanelConfig, start: SimTime, l: &Load) -> Rig {
        let mut meter = Meter::new(cfg.clone(), start).expect("valid meter");
        meter.set_load(start, l);
        let mut panel = Panel::new(panel, &cfg).expect("valid panel");
        panel.observe(start, &meter.state());
        Rig { meter, panel }
    }

    /// Advances meter and panel to `t`.
    pub fn at(&mut self, t: SimTime) {
        self.meter.advance_to(t);
        self.panel.observe(t, &self.meter.state());
    }

    /// A press released at `t`: the command the panel hands over goes to the meter.
    pub fn press(&mut self, t: SimTime, held_ms: i64) {
        self.at(t);
        if let Some(cmd) = self.panel.press(t, held_ms) {
            // A refused command is what a real meter ignores; nothing to do.
            let _ = self.meter.apply(t, cmd);
        }
        self.panel.observe(t, &self.meter.state());
    }

    pub fn view(&mut self, t: SimTime) -> PanelView {
        self.at(t);
        self.panel.view(t)
    }

    /// The screen's code at `t` ("" when dark or home).
    pub fn code(&mut self, t: SimTime) -> String {
        self.view(t).screen.map(|s| s.code).unwrap_or_default()
    }
}
