//! `p1sim panel --script`: the headless panel on the simulated clock, through the real
//! binary (determinism, the issue's example, errors) and through the library session
//! (a reconnection by the panel reaching the P1 bytes as `0-0:96.3.10(1)`).

use std::path::{Path, PathBuf};
use std::process::Command;

use p1_meter::SimTime;
use p1_panel::PanelConfig;
use p1_scenario::Scenario;
use p1_sim::panel::Session;

/// A prepaid S211 that starts without credit and is topped up and released at once:
/// breaker 2 (ready for reconnection) from the start (shared with panel_tui.rs).
const READY: &str = include_str!("data/panel-ready.toml");

/// A T211 with a gas meter, importing a constant 2 kW at pf 0.8, at noon on a Monday.
const HOUSE: &str = r#"
name = "panel-house"
seed = 1
start = "2026-06-15 12:00:00"
duration = "10m"
interval = "1s"

[meter]
model = "T211"
grid = "3x400V"
firmware = "50217"
equipment_id = "1SAG3100000292"
import_day_kwh = "4213.379"
import_night_kwh = "5102.044"

[[meter.mbus]]
channel = 1
kind = "gas"
equipment_id = "7FLO4100000123"
initial_m3 = "1843.512"

[supply]
power_factor = "0.8"

[[loads.constant]]
name = "heat"
phases = [1, 2]
power = "2 kW"
"#;

fn write_scenario(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("panel.toml");
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn p1sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .args(args)
        .output()
        .expect("run p1sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The frames printed, split at the step headers.
fn frames(stdout: &str) -> Vec<&str> {
    stdout
        .split("--- step ")
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn issue_example_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_scenario(dir.path(), HOUSE);
    let args = [
        "panel",
        path.to_str().expect("utf-8 path"),
        "--script",
        "press; press; wait 10s; hold 3s",
        "--frames",
    ];
    let (code, out, err) = p1sim(&args);
    assert_eq!(code, 0, "{err}");
    let (_, again, _) = p1sim(&args);
    assert_eq!(out, again, "same scenario, same script, same frames");
    let f = frames(&out);
    assert_eq!(f.len(), 5, "start + one frame per step");
    assert!(f[0].contains("(screen dark)"));
    // First press: lit, no code yet.
    assert!(!f[1].contains("(screen dark)") && !f[1].contains("1.8.1"));
    // Second press: 1.8.1 with the quickstart's import_day_kwh = "4213.379" (the PV
    // exports at noon, so the register has not moved 0.4 s in).
    assert!(
        f[2].contains("1.8.1") && f[2].contains("004213.379 kWh"),
        "{}",
        f[2]
    );
    // Waiting does not step.
    assert!(f[3].contains("1.8.1"));
    // A 3 s hold on a connected meter is an ordinary press: the next code.
    assert!(
        f[4].contains("1.8.2") && f[4].contains("breaker closed"),
        "{}",
        f[4]
    );
    insta::assert_snapshot!("issue_example", out);
    // The built-in quickstart runs too.
    let (code, _, err) = p1sim(&["panel", "--script", "press; press; wait 10s; hold 3s"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn only_the_last_frame_without_frames_flag() {
    let (code, out, _) = p1sim(&["panel", "--script", "press; press; press"]);
    assert_eq!(code, 0);
    let f = frames(&out);
    assert_eq!(f.len(), 1);
    assert!(f[0].starts_with("3: press") && f[0].contains("1.8.2"));
}

#[test]
fn screen_timeout_in_a_script() {
    let (code, out, _) = p1sim(&[
        "panel",
        "--screen-timeout",
        "5",
        "--script",
        "press; press; wait 4s; wait 1s",
        "--frames",
    ]);
    assert_eq!(code, 0);
    let f = frames(&out);
    // 0.4 s + 4 s: lit; 0.4 s + 5 s: 5 s after the last press at 0.4 s: dark.
    assert!(f[3].contains("1.8.1"));
    assert!(f[4].contains("(screen dark)"), "{}", f[4]);
}

#[test]
fn hold_reconnects_and_p1_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_scenario(dir.path(), READY);
    let (code, out, err) = p1sim(&[
        "panel",
        path.to_str().expect("utf-8 path"),
        "--script",
        "wait 2s; press; press 2s; hold 3s; wait 2s",
        "--frames",
    ]);
    assert_eq!(code, 0, "{err}");
    let f = frames(&out);
    // Ready: P1 says 2; the first press lights the screen: blinking BD, breaker open.
    assert!(
        f[1].contains("96.3.10=2") && f[1].contains("(screen dark)"),
        "{}",
        f[1]
    );
    assert!(
        f[2].contains("BD (blinking)") && f[2].contains("breaker open"),
        "{}",
        f[2]
    );
    // A 2 s press does not reconnect.
    assert!(
        f[3].contains("96.3.10=2") && f[3].contains("breaker open"),
        "{}",
        f[3]
    );
    // The 3 s hold closes the breaker on the panel at once ...
    assert!(f[4].contains("breaker closed"), "{}", f[4]);
    // ... and the next telegram says so too.
    assert!(
        f[5].contains("96.3.10=1") && f[5].contains("breaker closed"),
        "{}",
        f[5]
    );
    assert!(f[5].contains("P+"));
}

/// The panel's view and the P1 bytes, decoded independently, after each of a list of
/// presses, through the library session that `p1sim panel` uses.
#[test]
fn reconnection_reaches_the_p1_bytes() {
    let scenario = Scenario::parse("panel-ready.toml", READY).expect("valid scenario");
    let start = scenario.start();
    let mut s = Session::new(scenario, PanelConfig::default(), true).expect("session");
    let at = |ms: i64| SimTime(start.0 + ms);
    let breaker_on_p1 = |s: &mut Session, upto: SimTime| -> Vec<u8> {
        let mut codes = Vec::new();
        while let Some(f) = s.take_frame(upto) {
            for r in p1_wire::decode_all(&f.bytes) {
                codes.push(r.expect("valid telegram").readout.breaker.code());
            }
        }
        codes
    };
    assert_eq!(
        s.press(at(1500), 200).expect("press"),
        Some(p1_meter::Command::Button { held_ms: 200 })
    );
    assert_eq!(breaker_on_p1(&mut s, at(3000)), [2, 2, 2, 2]);
    assert!(!s.view(at(3000)).indicators.breaker_closed);
    // Hold released at 4.5 s.
    s.press(at(4500), 3000).expect("hold");
    assert!(s.view(at(4500)).indicators.breaker_closed);
    // Telegrams at 4 s (before the release) and 5 s, 6 s (after).
    assert_eq!(breaker_on_p1(&mut s, at(6000)), [2, 1, 1]);
    // Once connected the panel hands nothing to the meter.
    assert_eq!(s.press(at(7000), 3000).expect("hold"), None);
}

#[test]
fn script_errors_point_at_the_mistake() {
    let (code, _, err) = p1sim(&["panel", "--script", "press; wiat 10s"]);
    assert_eq!(code, 2);
    assert!(err.contains("--script:1:8: unknown step `wiat`"), "{err}");
    let (code, _, err) = p1sim(&["panel", "--script", "wait 1h"]);
    assert_eq!(code, 2);
    assert!(err.contains("past the end of the scenario"), "{err}");
    let (code, _, err) = p1sim(&["panel", "--script", "press", "--out", "pty"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn interactive_mode_needs_a_terminal() {
    let (code, _, err) = p1sim(&["panel"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs a terminal"), "{err}");
}
