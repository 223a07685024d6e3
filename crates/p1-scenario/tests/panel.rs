//! The front panel in scenarios: the `[panel]` table and panel events (parsing and their
//! errors with positions), the LEDs integrating every load change between telegrams
//! (expected pulse counts worked out by hand from the load profile), presses going through
//! the panel to the meter, and `Simulation::press`/`apply` between telegrams.

use p1_meter::{Command, SimTime};
use p1_panel::{Code, PanelConfig, ScreenMode};
use p1_scenario::{EventAction, PanelAction, Scenario, Simulation, TruthRecord};

const BASE: &str = "start = \"2026-03-02 10:00:00\"\nduration = \"10s\"\n";

fn parse(text: &str) -> Scenario {
    match Scenario::parse("panel.toml", text) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Asserts the error's position and that its message contains `fragment`.
fn check(text: &str, line: usize, column: usize, fragment: &str) {
    let e = match Scenario::parse("bad.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.to_string().contains(fragment), "`{fragment}` not in: {e}");
}

#[test]
fn panel_table_in_human_units() {
    let s = parse(&format!(
        "{BASE}[panel]\nscreen_timeout = \"1m30s\"\nsequence = [\"2.8.1\", \"96.1.1-2\"]\n\
         control_imp_per_kwh = 500\nblind_imp_per_kvarh = 250\nled_flash = \"80ms\"\n\
         signal_max = 4\n"
    ));
    assert_eq!(
        s.panel(),
        Some(&PanelConfig {
            screen_timeout_ms: 90_000,
            sequence: vec![Code::ExportDay, Code::MbusSerial(2)],
            control_imp_per_kwh: 500,
            blind_imp_per_kvarh: 250,
            led_flash_ms: 80,
            signal_max: 4,
        })
    );
    // An empty table is the factory setting; no table and no panel event: no panel.
    assert_eq!(
        parse(&format!("{BASE}[panel]\n")).panel(),
        Some(&PanelConfig::default())
    );
    assert_eq!(parse(BASE).panel(), None);
    assert!(Simulation::new(&parse(BASE)).all(|f| f.panel.is_none()));
}

#[test]
fn panel_events_and_their_defaults() {
    let s = parse(&format!(
        "{BASE}[[event]]\nat = \"+1s\"\naction = \"press\"\n\
         [[event]]\nat = \"+2s\"\naction = \"hold\"\n\
         [[event]]\nat = \"+3s\"\naction = \"press\"\nheld = \"1s\"\n\
         [[event]]\nat = \"+4s\"\naction = \"error\"\non = true\n\
         [[event]]\nat = \"+5s\"\naction = \"network\"\nregistered = false\n\
         [[event]]\nat = \"+6s\"\naction = \"network\"\nregistered = true\nsignal = 2\n"
    ));
    // Panel events alone give the factory panel.
    assert_eq!(s.panel(), Some(&PanelConfig::default()));
    let actions: Vec<EventAction> = s.events.iter().map(|e| e.action.clone()).collect();
    let panel = |a| EventAction::Panel(a);
    assert_eq!(
        actions,
        [
            panel(PanelAction::Press { held_ms: 200 }),
            panel(PanelAction::Press { held_ms: 3000 }),
            panel(PanelAction::Press { held_ms: 1000 }),
            panel(PanelAction::Error(true)),
            panel(PanelAction::Network {
                registered: false,
                signal: None
            }),
            panel(PanelAction::Network {
                registered: true,
                signal: Some(2)
            }),
        ]
    );
    let frames: Vec<_> = Simulation::new(&s).collect();
    let view = |i: usize| frames[i].panel.as_ref().expect("a panel view");
    assert_eq!(view(0).mode, ScreenMode::Off);
    assert_eq!(view(1).mode, ScreenMode::Home);
    assert_eq!(view(2).mode, ScreenMode::Code);
    assert!(!view(3).indicators.error && view(4).indicators.error);
    assert_eq!(
        (
            view(5).indicators.network_registered,
            view(5).indicators.signal
        ),
        (false, 0)
    );
    assert_eq!(
        (
            view(6).indicators.network_registered,
            view(6).indicators.signal
        ),
        (true, 2)
    );
    // The truth record carries the view.
    let line = TruthRecord::from_frame(&frames[6]).to_json_line();
    assert!(
        line.ends_with("}}") && line.contains(",\"panel\":{\"at_ms\":"),
        "{line}"
    );
}

#[test]
fn panel_errors_point_at_the_value() {
    check(
        &format!("{BASE}[panel]\nscreen_timeout = \"0s\"\n"),
        4,
        18,
        "screen timeout must be positive",
    );
    check(
        &format!("{BASE}[panel]\nsequence = [\"1.8.1\", \"1.8.3\"]\n"),
        4,
        22,
        "expected one of 1.8.1",
    );
    check(
        &format!("{BASE}[panel]\ncontrol_imp_per_kwh = 0\n"),
        4,
        23,
        "1 to 1000000",
    );
    check(
        &format!("{BASE}[panel]\nsignal_max = 12\n"),
        4,
        14,
        "1 to 9 bars",
    );
    check(
        &format!("{BASE}[panel]\nscreen_timout = \"5s\"\n"),
        4,
        1,
        "did you mean `screen_timeout`",
    );
    check(
        &format!(
            "{BASE}[panel]\nsignal_max = 3\n[[event]]\nat = \"+1s\"\naction = \"network\"\nregistered = true\nsignal = 4\n"
        ),
        9,
        10,
        "signal bars are 0 to 3",
    );
    check(
        &format!("{BASE}[[event]]\nat = \"+1s\"\naction = \"error\"\n"),
        3,
        1,
        "action `error` needs `on`",
    );
    check(
        &format!("{BASE}[[event]]\nat = \"+1s\"\naction = \"press\"\non = true\n"),
        6,
        6,
        "`on` does not apply to action `press`, which takes `held`",
    );
    check(
        &format!("{BASE}[[event]]\nat = \"+1s\"\naction = \"hold\"\nheld = \"0s\"\n"),
        6,
        8,
        "held for a positive time",
    );
}

/// 1 kW at power factor 0.6 (tan = 4/3: 1333 var, floored) for 10 s, then 3 kW (4000 var)
/// for 50 s, one telegram a minute. Active: 10 kJ + 150 kJ = 44.4 Wh -> 44 pulses at
/// 1000 imp/kWh. Reactive: 13 330 + 200 000 var·s = 59.26 varh -> 59 pulses. A panel that
/// saw the meter only at telegrams would count 1333 var for the whole minute: 22 pulses.
#[test]
fn leds_integrate_every_load_change_between_telegrams() {
    let s = parse(
        "start = \"2026-03-02 10:00:00\"\nduration = \"2m\"\ninterval = \"1m\"\n\
         [meter]\nmodel = \"S211\"\n[supply]\npower_factor = \"0.6\"\n[panel]\n\
         [[loads.constant]]\nname = \"heater\"\npower = \"1 kW\"\n\
         [[event]]\nat = \"+10s\"\naction = \"load_scale\"\nload = \"heater\"\nfactor = 3\n",
    );
    let frames: Vec<_> = Simulation::new(&s).collect();
    assert_eq!(frames.len(), 2);
    let v = frames[1].panel.as_ref().unwrap();
    assert_eq!(v.control_led.pulses, 44);
    assert_eq!(v.blind_led.pulses, 59);
    // The 44th Wh was reached 10 s + (44 x 3600 - 10 000) J / 3000 W = 59.466 s in.
    assert_eq!(
        v.control_led.last_pulse_ms,
        Some(s.start().0 + 10_000 + (44 * 3_600_000 - 10_000_000) / 3000)
    );
}

/// A prepaid meter released at once: breaker 2 from the start.
const READY: &str = "start = \"2026-06-15 12:00:00\"\nduration = \"10s\"\ninterval = \"1s\"\n\
    [meter]\nmodel = \"S211\"\n[meter.prepaid]\ncredit_eur = \"0\"\n\
    price_eur_per_kwh = \"0.30\"\nrelease_delay = \"0s\"\n\
    [[loads.constant]]\nname = \"heater\"\npower = \"500 W\"\n\
    [[event]]\nat = \"+0s\"\naction = \"top_up\"\namount_eur = \"20.00\"\n";

#[test]
fn press_events_go_through_the_panel() {
    let s = parse(&format!(
        "{READY}[[event]]\nat = \"+2s\"\naction = \"press\"\n\
         [[event]]\nat = \"+3s\"\naction = \"button\"\nheld = \"1s\"\n\
         [[event]]\nat = \"+5s\"\naction = \"hold\"\n\
         [[event]]\nat = \"+7s\"\naction = \"hold\"\n"
    ));
    let frames: Vec<_> = Simulation::new(&s).collect();
    let codes: Vec<u8> = frames
        .iter()
        .map(|f| f.readout.as_ref().unwrap().breaker.code())
        .collect();
    // The short press and the 1 s `button` leave the breaker ready; the hold closes it.
    assert_eq!(codes, [2, 2, 2, 2, 2, 1, 1, 1, 1, 1]);
    for f in &frames {
        let ind = &f.panel.as_ref().unwrap().indicators;
        assert_eq!(ind.breaker_code, f.readout.as_ref().unwrap().breaker.code());
    }
    // The hold at +7 s on a connected meter is only a press: nothing reaches the meter,
    // so nothing is refused (a `button` event there would be).
    assert!(frames.iter().all(|f| f.refused.is_empty()));
}

#[test]
fn press_and_apply_between_telegrams() {
    let mut s = parse(READY);
    // Without a panel, `press` has nothing to press.
    assert_eq!(Simulation::new(&s).press(s.start(), 3000), None);
    s.set_panel(PanelConfig::default()).unwrap();
    let at = |ms: i64| SimTime(s.start().0 + ms);
    let mut sim = Simulation::new(&s);
    let f0 = sim.next().unwrap();
    assert_eq!(f0.readout.unwrap().breaker.code(), 2);
    // A short press: handed to the meter, no reconnection.
    assert_eq!(
        sim.press(at(500), 200),
        Some(Command::Button { held_ms: 200 })
    );
    assert_eq!(sim.now(), at(500));
    let f1 = sim.next().unwrap();
    assert_eq!(f1.readout.unwrap().breaker.code(), 2);
    // A hold released at 1.5 s: the panel shows it at once, the 2 s telegram carries it.
    assert_eq!(
        sim.press(at(1500), 3000),
        Some(Command::Button { held_ms: 3000 })
    );
    assert!(sim.panel_view(at(1500)).unwrap().indicators.breaker_closed);
    let f2 = sim.next().unwrap();
    assert_eq!((f2.at, f2.readout.unwrap().breaker.code()), (at(2000), 1));
    // Connected: the panel hands nothing over.
    assert_eq!(sim.press(at(2500), 3000), None);
    // An instant past the next telegram is cut to it; one before `now` is taken as now.
    assert_eq!(sim.advance(at(9000)), at(3000));
    assert_eq!(sim.advance(at(0)), at(3000));
    // `apply` injects any command; a refusal is returned and recorded (line 0).
    assert!(sim.apply(at(3000), Command::RemoteDisconnect).is_ok());
    assert!(
        sim.apply(at(3000), Command::Button { held_ms: 3000 })
            .is_err()
    );
    let f3 = sim.next().unwrap();
    assert_eq!(f3.readout.unwrap().breaker.code(), 0);
    assert_eq!(f3.refused.len(), 1);
    assert_eq!(f3.refused[0].line, p1_scenario::INJECTED_LINE);
}
