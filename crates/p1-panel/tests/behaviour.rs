//! Panel behaviour against a real `p1_meter::Meter`: navigation through the code
//! sequence, the screen timeout, short presses against 3-second holds, reconnection agreeing
//! with `0-0:96.3.10` in the readout, and LED pulse counts over a simulated hour checked
//! against energy computed here from the constant load.

mod common;

use common::{Rig, load, noon, prepaid, s211, t211};
use p1_meter::{Command, SimTime};
use p1_panel::{Code, PanelConfig, ScreenMode, UNITS_PER_KILO_HOUR};
use p1_wire::Breaker;

fn secs(t: SimTime, s: i64) -> SimTime {
    t.plus_ms(s * 1000)
}

#[test]
fn first_press_lights_second_shows_1_8_1_then_steps_and_wraps() {
    let t0 = noon();
    let mut rig = Rig::new(t211(), PanelConfig::default(), t0, &load([500, 0, 0], 1000));
    assert_eq!(rig.view(t0).mode, ScreenMode::Off);
    rig.press(secs(t0, 1), 200);
    let v = rig.view(secs(t0, 1));
    assert_eq!(v.mode, ScreenMode::Home);
    assert_eq!(v.screen, None);
    let want = [
        "1.8.1", "1.8.2", "1.7.0", "1.6.0", "2.8.1", "2.8.2", "2.7.0", "96.1.1-1", "96.1.1-2",
        // wraps around to the first code, not to the home screen
        "1.8.1", "1.8.2",
    ];
    for (k, code) in want.iter().enumerate() {
        let t = secs(t0, 2 + k as i64);
        rig.press(t, 200);
        assert_eq!(rig.code(t), *code, "press {}", k + 2);
        assert_eq!(rig.view(t).mode, ScreenMode::Code);
    }
}

#[test]
fn sequence_only_has_codes_of_the_firmware_and_couplings() {
    let t0 = noon();
    // S211 on 50216: no 1.6.0 (demand is 50217 only), no M-Bus device.
    let rig = Rig::new(s211(), PanelConfig::default(), t0, &load([0; 3], 1000));
    let codes: Vec<String> = rig.panel.codes().iter().map(|c| c.to_string()).collect();
    assert_eq!(
        codes,
        ["1.8.1", "1.8.2", "1.7.0", "2.8.1", "2.8.2", "2.7.0"]
    );

    // A decoupled channel drops out of the sequence; a removed one too.
    let mut rig = Rig::new(t211(), PanelConfig::default(), t0, &load([0; 3], 1000));
    assert!(rig.panel.codes().contains(&Code::MbusSerial(1)));
    rig.meter
        .apply(secs(t0, 1), Command::MbusDecouple { channel: 1 })
        .expect("decouple");
    rig.at(secs(t0, 1));
    let codes = rig.panel.codes();
    assert!(!codes.contains(&Code::MbusSerial(1)));
    assert!(codes.contains(&Code::MbusSerial(2)));
}

#[test]
fn configured_sequence_is_followed() {
    let t0 = noon();
    let cfg = PanelConfig {
        sequence: vec![
            Code::ExportPower,
            Code::MbusSerial(2),
            Code::ImportDay,
            Code::MbusSerial(3),
        ],
        ..PanelConfig::default()
    };
    let mut rig = Rig::new(t211(), cfg, t0, &load([0; 3], 1000));
    // 96.1.1-3 has no device: skipped.
    let mut seen = Vec::new();
    for k in 0..5 {
        rig.press(secs(t0, k), 100);
        seen.push(rig.code(secs(t0, k)));
    }
    assert_eq!(seen, ["", "2.7.0", "96.1.1-2", "1.8.1", "2.7.0"]);
}

#[test]
fn screen_goes_dark_after_the_timeout_and_presses_restart_it() {
    let t0 = noon();
    let mut rig = Rig::new(t211(), PanelConfig::default(), t0, &load([0; 3], 1000));
    rig.press(t0, 100);
    rig.press(secs(t0, 10), 100);
    assert_eq!(rig.code(secs(t0, 10)), "1.8.1");
    // 30 s after the last press (default), not after the first.
    assert_eq!(rig.panel.next_deadline(), Some(secs(t0, 40)));
    assert_eq!(rig.view(secs(t0, 40).plus_ms(-1)).mode, ScreenMode::Code);
    assert_eq!(rig.view(secs(t0, 40)).mode, ScreenMode::Off);
    assert_eq!(rig.panel.next_deadline(), None);
    // After going dark, a press lights the screen again from the start.
    rig.press(secs(t0, 50), 100);
    assert_eq!(rig.view(secs(t0, 50)).mode, ScreenMode::Home);
    rig.press(secs(t0, 51), 100);
    assert_eq!(rig.code(secs(t0, 51)), "1.8.1");

    // A configured timeout.
    let cfg = PanelConfig {
        screen_timeout_ms: 5_000,
        ..PanelConfig::default()
    };
    let mut rig = Rig::new(t211(), cfg, t0, &load([0; 3], 1000));
    rig.press(t0, 100);
    assert_eq!(rig.view(secs(t0, 4)).mode, ScreenMode::Home);
    assert_eq!(rig.view(secs(t0, 5)).mode, ScreenMode::Off);
}

#[test]
fn no_mains_power_darkens_the_panel_and_ignores_presses() {
    let t0 = noon();
    let mut rig = Rig::new(
        t211(),
        PanelConfig::default(),
        t0,
        &load([1000, 0, 0], 1000),
    );
    rig.press(t0, 100);
    rig.press(secs(t0, 1), 100);
    rig.meter
        .apply(secs(t0, 2), Command::PowerFail)
        .expect("power fail");
    rig.at(secs(t0, 2));
    let v = rig.view(secs(t0, 2));
    assert!(!v.powered);
    assert_eq!(v.mode, ScreenMode::Off);
    rig.press(secs(t0, 3), 100);
    assert_eq!(rig.view(secs(t0, 3)).mode, ScreenMode::Off);
}

/// A prepaid meter whose credit ran out and was topped up: breaker ready (2).
fn ready_rig() -> Rig {
    let t0 = noon();
    let mut rig = Rig::new(
        prepaid(0),
        PanelConfig::default(),
        t0,
        &load([800, 0, 0], 1000),
    );
    assert_eq!(rig.meter.breaker(), Breaker::Disconnected);
    rig.meter
        .apply(t0, Command::TopUp { ueur: 20_000_000 })
        .expect("top-up");
    rig.at(t0);
    assert_eq!(rig.meter.breaker(), Breaker::ReadyForReconnection);
    rig
}

fn p1_breaker(rig: &Rig) -> u8 {
    rig.meter.readout().expect("port enabled").breaker.code()
}

#[test]
fn short_press_steps_the_display_and_does_not_reconnect() {
    let t0 = noon();
    let mut rig = ready_rig();
    rig.press(secs(t0, 1), 100);
    rig.press(secs(t0, 2), 2999);
    assert_eq!(rig.code(secs(t0, 2)), "1.8.1");
    assert_eq!(p1_breaker(&rig), 2);
    assert_eq!(rig.view(secs(t0, 2)).indicators.breaker_code, 2);
}

#[test]
fn three_second_hold_reconnects_through_the_meter_and_agrees_with_96_3_10() {
    let t0 = noon();
    let mut rig = ready_rig();
    let v = rig.view(t0);
    assert!(!v.indicators.breaker_closed);
    assert_eq!(v.indicators.breaker_disconnect, p1_panel::Blink::Blinking);
    assert_eq!(p1_breaker(&rig), 2);

    // The panel hands the hold to the meter; the meter decides.
    rig.at(secs(t0, 3));
    let cmd = rig.panel.press(secs(t0, 3), 3000);
    assert_eq!(cmd, Some(Command::Button { held_ms: 3000 }));
    rig.meter
        .apply(secs(t0, 3), Command::Button { held_ms: 3000 })
        .expect("accepted");
    rig.at(secs(t0, 3));
    let v = rig.view(secs(t0, 3));
    assert_eq!(p1_breaker(&rig), 1);
    assert_eq!(v.indicators.breaker_code, 1);
    assert!(v.indicators.breaker_closed);
    assert_eq!(v.indicators.breaker_disconnect, p1_panel::Blink::Off);
    // The hold lit the screen but, being the reconnection gesture, did not step it.
    assert_eq!(v.mode, ScreenMode::Home);
    // Energy flows again: P+ and the control LED.
    rig.at(secs(t0, 60));
    let v = rig.view(secs(t0, 60));
    assert!(v.indicators.importing);
    assert!(v.control_led.pulses > 0);
}

#[test]
fn holds_do_nothing_to_a_connected_or_disconnected_breaker() {
    let t0 = noon();
    let mut rig = Rig::new(t211(), PanelConfig::default(), t0, &load([0; 3], 1000));
    rig.at(t0);
    assert_eq!(rig.panel.press(t0, 5000), None);
    assert_eq!(p1_breaker(&rig), 1);
    // Not a reconnection: the hold counts as an ordinary press (here: lights the screen).
    assert_eq!(rig.view(t0).mode, ScreenMode::Home);

    let mut rig = Rig::new(prepaid(0), PanelConfig::default(), t0, &load([0; 3], 1000));
    assert_eq!(rig.panel.press(t0, 5000), None);
    assert_eq!(p1_breaker(&rig), 0);
    let v = rig.view(t0);
    assert_eq!(v.indicators.breaker_disconnect, p1_panel::Blink::Steady);
}

/// Energy over `ms` at constant `watts`, in pulses at `imp_per_k` per kWh, as a fraction
/// num / den computed here, independently of the panel.
fn expected_pulses(watts: u64, ms: u64, imp_per_k: u64) -> f64 {
    // kWh = W x ms / (1000 x 3 600 000)
    (watts * ms) as f64 * imp_per_k as f64 / 3.6e9
}

#[test]
fn control_led_counts_energy_times_constant_over_an_hour() {
    let t0 = noon();
    for (watts, per_phase, constant, step_s) in [
        // T211 importing on three phases, default constant, observed every second.
        (3666u64, [1111i64, 2222, 333], 1000u32, 1i64),
        // An awkward constant and sparse observations: 2199.6 pulses expected.
        (3666, [1111, 2222, 333], 600, 7),
        // Injection (PV) counts too.
        (4321, [-1440, -1440, -1441], 1000, 10),
    ] {
        let cfg = PanelConfig {
            control_imp_per_kwh: constant,
            ..PanelConfig::default()
        };
        let mut rig = Rig::new(t211(), cfg, t0, &load(per_phase, 1000));
        let mut t = 0;
        while t < 3600 {
            t = (t + step_s).min(3600);
            rig.at(secs(t0, t));
        }
        let v = rig.view(secs(t0, 3600));
        let want = expected_pulses(watts, 3_600_000, u64::from(constant));
        let got = v.control_led.pulses as f64;
        assert!(
            (got - want).abs() < 1.0 && got <= want,
            "{watts} W at {constant} imp/kWh: {got} pulses, energy x constant = {want}"
        );
        // No reactive power at pf 1.
        assert_eq!(v.blind_led.pulses, 0);
    }
}

#[test]
fn blind_led_counts_reactive_energy() {
    let t0 = noon();
    // pf 0.8: Q = P x 0.75 exactly; 2000 W on L1 -> 1500 var -> 1.5 kvarh in an hour.
    let mut rig = Rig::new(s211(), PanelConfig::default(), t0, &load([2000, 0, 0], 800));
    for s in 1..=3600 {
        rig.at(secs(t0, s));
    }
    let v = rig.view(secs(t0, 3600));
    assert_eq!(v.reactive_var, 1500);
    assert_eq!(v.blind_led.pulses, 1500);
    assert_eq!(v.control_led.pulses, 2000);
    // The units agree with the crate's constant: 1 kvarh = 3.6e9 var·ms.
    assert_eq!(UNITS_PER_KILO_HOUR, 1000 * 3_600_000);
}

#[test]
fn led_is_lit_briefly_at_each_pulse() {
    let t0 = noon();
    // 3600 W on an S211: one Wh (one pulse) per second, exactly on every second.
    let mut rig = Rig::new(
        s211(),
        PanelConfig::default(),
        t0,
        &load([3600, 0, 0], 1000),
    );
    rig.at(secs(t0, 10));
    let v = rig.view(secs(t0, 10));
    assert_eq!(v.control_led.pulses, 10);
    assert_eq!(v.control_led.last_pulse_ms, Some(secs(t0, 10).0));
    assert!(v.control_led.lit);
    // 50 ms flash (default): dark 50 ms later, if no pulse came in between.
    let v = rig.view(secs(t0, 10).plus_ms(50));
    assert!(!v.control_led.lit);
    assert_eq!(v.control_led.pulses, 10);
}

#[test]
fn network_and_error_inputs_are_clamped_and_shown() {
    let t0 = noon();
    let mut rig = Rig::new(s211(), PanelConfig::default(), t0, &load([0; 3], 1000));
    rig.panel.set_network(true, 9);
    rig.panel.set_error(true);
    let v = rig.view(t0);
    assert_eq!(v.indicators.signal, 5);
    assert!(v.indicators.network_registered);
    assert!(v.indicators.error);
}
