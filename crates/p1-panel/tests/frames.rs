//! Snapshot tests of the plain-text frame (`render_text`): every code of the sequence and
//! the indicator combinations (day/night, P+/P-, the 3x230V asterisk, port disabled, F,
//! network and signal, each prepaid breaker state, dark screen, no mains).
//!
//! Each snapshot is also checked independently: the value on the screen against the
//! register set in the configuration, the indicators against what the case set up.

mod common;

use common::{Rig, load, local, noon, prepaid, s211, t211};
use p1_meter::{Command, Grid, MeterConfig, SimTime};
use p1_panel::{Blink, PanelConfig, PanelView, Tariff, render_text};
use p1_wire::{Model, Peak, Tst, Version};

/// A T211 with a peak this month, importing 2.5 kW on three phases at pf 0.9.
fn t211_with_peak() -> MeterConfig {
    let mut c = t211();
    c.month_peak = Some(Peak {
        at: Tst {
            year: 26,
            month: 6,
            day: 3,
            hour: 18,
            minute: 45,
            second: 0,
            dst: true,
        },
        w: 4215,
    });
    c
}

/// Presses until `code` is on the screen (at most 20 presses, 1 s apart from `t`).
fn show(rig: &mut Rig, t: SimTime, code: &str) -> PanelView {
    for k in 0..20 {
        let at = t.plus_ms(k * 1000);
        rig.press(at, 150);
        let v = rig.view(at);
        if v.screen.as_ref().is_some_and(|s| s.code == code) {
            return v;
        }
    }
    panic!("{code} never shown");
}

#[test]
fn every_code_of_the_default_sequence() {
    let t0 = noon();
    let cases = [
        ("1.8.1", "004213.379 kWh", true),
        ("1.8.2", "005102.044 kWh", true),
        ("1.7.0", "02.500 kW", false),
        ("1.6.0", "04.215 kW", true),
        ("2.8.1", "001871.265 kWh", true),
        ("2.8.2", "000302.118 kWh", true),
        ("2.7.0", "00.000 kW", false),
        ("96.1.1-1", "7FLO4100000123", false),
        ("96.1.1-2", "8SAG4100000456", false),
    ];
    for (code, want, dim) in cases {
        let mut rig = Rig::new(
            t211_with_peak(),
            PanelConfig::default(),
            t0,
            &load([1200, 800, 500], 900),
        );
        let v = show(&mut rig, t0, code);
        let s = v.screen.clone().expect("a code is shown");
        let shown = if s.unit.is_empty() {
            s.value.clone()
        } else {
            format!("{} {}", s.value, s.unit)
        };
        assert_eq!(shown, want, "{code}");
        assert_eq!(s.dim, dim, "{code} DIM");
        let text = render_text(&v);
        assert!(text.contains(want));
        insta::assert_snapshot!(format!("code_{}", code.replace('.', "_")), text);
    }
}

#[test]
fn energy_registers_grow_on_the_screen() {
    // 3600 W for 1000 s on the day tariff = 1000 Wh more on 1.8.1.
    let t0 = noon();
    let mut rig = Rig::new(
        s211(),
        PanelConfig::default(),
        t0,
        &load([3600, 0, 0], 1000),
    );
    let v = show(&mut rig, t0.plus_ms(998_000), "1.8.1");
    assert_eq!(v.at_ms, t0.plus_ms(999_000).0);
    assert_eq!(v.screen.map(|s| s.value), Some("000124.455".to_owned()));
}

fn home(cfg: MeterConfig, t: SimTime, watts: [i64; 3]) -> (Rig, PanelView) {
    let mut rig = Rig::new(cfg, PanelConfig::default(), t, &load(watts, 1000));
    rig.press(t, 150);
    let v = rig.view(t);
    (rig, v)
}

#[test]
fn day_tariff_importing() {
    let (_, v) = home(t211(), noon(), [1000, 1000, 1000]);
    assert_eq!(v.indicators.tariff, Tariff::Day);
    assert!(v.indicators.importing && !v.indicators.exporting);
    insta::assert_snapshot!("day_import", render_text(&v));
}

#[test]
fn night_tariff_exporting() {
    // 23:00 on a Monday: night tariff; PV injecting.
    let (_, v) = home(t211(), local(15, 23, 0, 0), [-900, -900, -900]);
    assert_eq!(v.indicators.tariff, Tariff::Night);
    assert!(!v.indicators.importing && v.indicators.exporting);
    insta::assert_snapshot!("night_export", render_text(&v));
}

#[test]
fn no_flow_shows_neither_p_plus_nor_p_minus() {
    let (_, v) = home(t211(), noon(), [0, 0, 0]);
    assert!(!v.indicators.importing && !v.indicators.exporting);
    insta::assert_snapshot!("idle", render_text(&v));
}

#[test]
fn delta_grid_shows_the_l2_asterisk() {
    let cfg = MeterConfig::new(
        Model::T211,
        Grid::Delta230,
        Version::V50217,
        "1SAG3100000001",
    );
    let (_, v) = home(cfg, noon(), [500, 500, 500]);
    let l2 = &v.indicators.phases[1];
    assert!(l2.asterisk && l2.lit);
    let text = render_text(&v);
    assert!(text.contains("L2*"));
    insta::assert_snapshot!("delta_asterisk", text);
}

#[test]
fn single_phase_shows_only_l1() {
    let (_, v) = home(s211(), noon(), [500, 0, 0]);
    assert_eq!(v.indicators.phases.len(), 1);
    insta::assert_snapshot!("s211_l1", render_text(&v));
}

#[test]
fn port_disabled() {
    let t0 = noon();
    let (mut rig, _) = home(t211(), t0, [300, 0, 0]);
    rig.meter
        .apply(t0.plus_ms(1000), Command::Port { enabled: false })
        .expect("port off");
    let v = rig.view(t0.plus_ms(1000));
    assert!(!v.indicators.port_enabled);
    assert!(rig.meter.readout().is_none(), "P1 is silent");
    insta::assert_snapshot!("port_disabled", render_text(&v));
}

#[test]
fn serious_error_and_network() {
    let t0 = noon();
    let (mut rig, _) = home(t211(), t0, [300, 0, 0]);
    rig.panel.set_error(true);
    rig.panel.set_network(true, 3);
    let v = rig.view(t0);
    assert!(v.indicators.error && v.indicators.network_registered);
    let text = render_text(&v);
    assert!(text.contains("F") && text.contains("NET") && text.contains("###.. 3/5"));
    insta::assert_snapshot!("error_network", text);
}

#[test]
fn prepaid_connected() {
    let (rig, v) = home(prepaid(20), noon(), [400, 0, 0]);
    assert_eq!(rig.meter.readout().map(|r| r.breaker.code()), Some(1));
    assert!(v.indicators.prepaid && v.indicators.breaker_closed);
    assert_eq!(v.indicators.breaker_disconnect, Blink::Off);
    insta::assert_snapshot!("prepaid_1_connected", render_text(&v));
}

#[test]
fn prepaid_disconnected() {
    let (rig, v) = home(prepaid(0), noon(), [400, 0, 0]);
    assert_eq!(rig.meter.readout().map(|r| r.breaker.code()), Some(0));
    assert!(!v.indicators.breaker_closed);
    assert_eq!(v.indicators.breaker_disconnect, Blink::Steady);
    insta::assert_snapshot!("prepaid_0_disconnected", render_text(&v));
}

#[test]
fn prepaid_ready_for_reconnection() {
    let t0 = noon();
    let (mut rig, _) = home(prepaid(0), t0, [400, 0, 0]);
    rig.meter
        .apply(t0, Command::TopUp { ueur: 10_000_000 })
        .expect("top-up");
    let v = rig.view(t0);
    assert_eq!(rig.meter.readout().map(|r| r.breaker.code()), Some(2));
    assert_eq!(v.indicators.breaker_disconnect, Blink::Blinking);
    // Blinks: lit the first half of each second, dark the second half.
    assert!(v.indicators.breaker_disconnect_lit);
    assert!(!rig.view(t0.plus_ms(600)).indicators.breaker_disconnect_lit);
    insta::assert_snapshot!("prepaid_2_ready", render_text(&v));
}

#[test]
fn dark_screen_and_no_mains() {
    let t0 = noon();
    let mut rig = Rig::new(
        t211(),
        PanelConfig::default(),
        t0,
        &load([3600, 0, 0], 1000),
    );
    let v = rig.view(t0.plus_ms(5000));
    assert_eq!(v.control_led.pulses, 5);
    insta::assert_snapshot!("dark", render_text(&v));
    rig.meter
        .apply(t0.plus_ms(6000), Command::PowerFail)
        .expect("power fail");
    let v = rig.view(t0.plus_ms(6000));
    assert!(!v.powered && !v.control_led.lit);
    insta::assert_snapshot!("no_mains", render_text(&v));
}

#[test]
fn frame_shape_is_constant() {
    let (mut rig, v) = home(t211(), noon(), [1, 2, 3]);
    let lines = |t: &str| t.lines().map(|l| l.chars().count()).collect::<Vec<_>>();
    let lit = render_text(&v);
    let dark = render_text(&rig.view(noon().plus_ms(60_000)));
    assert_eq!(lines(&lit)[..8], lines(&dark)[..8]);
    assert!(lit.is_ascii() && dark.is_ascii());
}
