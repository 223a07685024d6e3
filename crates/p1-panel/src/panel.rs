//! The panel state machine ([`Panel`]): screen on/off with its timeout, the code sequence
//! and the button, the indicators and the LED pulse accounting, driven by observations of
//! the meter's state on the simulated clock.
//!
//! Button rules: a press on a dark screen lights it (no code yet); the next press shows
//! the first code of the sequence; further presses step through it and wrap around. Every
//! press restarts the screen timeout. While the breaker is ready for reconnection (2),
//! every press is also handed to the meter as [`Command::Button`], which alone decides
//! whether it was held long enough; a press of at least [`BUTTON_HOLD_MS`] in that state is
//! the reconnection gesture and does not step the display. Without mains power the panel
//! is dead and presses do nothing.

use p1_meter::{BUTTON_HOLD_MS, Command, Grid, MeterConfig, MeterState, SimTime};
use p1_wire::{Breaker, Model, Version};

use crate::config::{Code, PanelConfig, PanelConfigError};
use crate::leds::{PulseCounter, reactive_var};
use crate::view::{Blink, Indicators, Led, PanelView, PhaseIndicator, Screen, ScreenMode, Tariff};

/// Period of a blinking indicator, ms (lit the first half).
const BLINK_PERIOD_MS: i64 = 1000;

/// Where the screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Off,
    Home,
    At(Code),
}

/// The last observation, with what the LEDs need to integrate until the next one.
#[derive(Debug, Clone)]
struct Observed {
    at: i64,
    state: MeterState,
    /// Active energy in the registers (import + export, day + night), mJ.
    active_mj: u128,
    /// Reactive power drawn at `at`, var.
    reactive_var: u64,
}

/// The front panel of one meter.
#[derive(Debug, Clone)]
pub struct Panel {
    cfg: PanelConfig,
    model: Model,
    grid: Grid,
    firmware: Version,
    now: i64,
    position: Position,
    screen_off_at: Option<i64>,
    last: Option<Observed>,
    error: bool,
    registered: bool,
    signal: u8,
    control: PulseCounter,
    blind: PulseCounter,
}

fn kwh(wh: u64) -> String {
    format!("{:06}.{:03}", wh / 1000, wh % 1000)
}

fn kw(w: u32) -> String {
    format!("{:02}.{:03}", w / 1000, w % 1000)
}

impl Panel {
    /// A dark panel for the meter configured by `meter`, with settings `cfg`.
    pub fn new(cfg: PanelConfig, meter: &MeterConfig) -> Result<Panel, PanelConfigError> {
        cfg.validate()?;
        Ok(Panel {
            control: PulseCounter::new(cfg.control_imp_per_kwh),
            blind: PulseCounter::new(cfg.blind_imp_per_kvarh),
            cfg,
            model: meter.model,
            grid: meter.grid,
            firmware: meter.firmware,
            now: i64::MIN,
            position: Position::Off,
            screen_off_at: None,
            last: None,
            error: false,
            registered: false,
            signal: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &PanelConfig {
        &self.cfg
    }

    /// Moves the panel's clock to `now` (never backwards) and darkens the screen if the
    /// timeout has passed.
    pub fn advance(&mut self, now: SimTime) {
        self.now = self.now.max(now.0);
        if self.screen_off_at.is_some_and(|t| t <= self.now) {
            self.position = Position::Off;
            self.screen_off_at = None;
        }
    }

    /// The next instant at which the panel changes on its own (the screen going dark).
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.screen_off_at.map(SimTime)
    }

    /// Takes in the meter's state at `now` (take it from the meter driving P1, at the same
    /// instant). The LEDs count the registers' growth since the previous observation and
    /// the reactive power in force since then; observe at every load change for an exact
    /// blind LED.
    pub fn observe(&mut self, now: SimTime, state: &MeterState) {
        self.advance(now);
        let at = self.now;
        let active_mj = state
            .import_mj
            .iter()
            .chain(&state.export_mj)
            .map(|&mj| u128::from(mj))
            .sum::<u128>();
        let q = self.reactive_now(state);
        if let Some(prev) = &self.last {
            // Registers never decrease; an observation that lags behind a previous one
            // (a preview of the meter between telegrams that missed a load change) adds
            // nothing rather than going back.
            let d_active = active_mj.saturating_sub(prev.active_mj);
            self.control.add(prev.at, at, d_active);
            let dt = u128::try_from(at.saturating_sub(prev.at).max(0)).unwrap_or(0);
            self.blind.add(
                prev.at,
                at,
                u128::from(prev.reactive_var).saturating_mul(dt),
            );
        }
        let active_mj = self
            .last
            .as_ref()
            .map_or(active_mj, |p| active_mj.max(p.active_mj));
        if !state.powered {
            self.position = Position::Off;
            self.screen_off_at = None;
        }
        self.last = Some(Observed {
            at,
            state: state.clone(),
            active_mj,
            reactive_var: q,
        });
    }

    /// Convenience: [`Panel::observe`] with the meter's current state.
    pub fn observe_meter(&mut self, meter: &p1_meter::Meter) {
        self.observe(meter.now(), &meter.state());
    }

    /// Reactive power drawn now, var: the sum over the model's phases of each phase's load
    /// at its power factor, while the breaker is closed and mains present.
    fn reactive_now(&self, s: &MeterState) -> u64 {
        if !s.powered || s.breaker != Breaker::Connected {
            return 0;
        }
        let phases = match self.model {
            Model::S211 => &s.load.phases[..1],
            Model::T211 => &s.load.phases[..],
        };
        phases
            .iter()
            .map(|ph| reactive_var(ph.power_w, ph.power_factor_permille))
            .fold(0u64, u64::saturating_add)
    }

    /// Sets or clears the `F` (serious error) indicator.
    pub fn set_error(&mut self, error: bool) {
        self.error = error;
    }

    /// Sets the network registration triangle and the signal strength (clamped to
    /// `0..=signal_max`).
    pub fn set_network(&mut self, registered: bool, signal: u8) {
        self.registered = registered;
        self.signal = signal.min(self.cfg.signal_max);
    }

    /// The customer presses the button and releases it at `now` after `held_ms`.
    ///
    /// Returns the command the driver must apply to the meter at `now` (then observe it
    /// again): `Button { held_ms }` while the breaker is ready for reconnection, `None`
    /// otherwise. Observe the meter at `now` before pressing, so the breaker state is
    /// current.
    pub fn press(&mut self, now: SimTime, held_ms: i64) -> Option<Command> {
        self.advance(now);
        let held_ms = held_ms.max(0);
        let (powered, breaker) = match &self.last {
            Some(o) => (o.state.powered, o.state.breaker),
            None => (true, Breaker::Connected),
        };
        if !powered {
            return None;
        }
        let ready = breaker == Breaker::ReadyForReconnection;
        let reconnect = ready && held_ms >= BUTTON_HOLD_MS;
        self.position = match self.position {
            Position::Off => Position::Home,
            p if reconnect => p,
            Position::Home => self
                .codes()
                .first()
                .map_or(Position::Home, |&c| Position::At(c)),
            Position::At(c) => {
                let codes = self.codes();
                let next = codes
                    .iter()
                    .position(|&x| x == c)
                    .map_or(0, |i| (i + 1) % codes.len());
                codes.get(next).map_or(Position::Home, |&c| Position::At(c))
            }
        };
        self.screen_off_at = Some(self.now.saturating_add(self.cfg.screen_timeout_ms));
        ready.then_some(Command::Button { held_ms })
    }

    /// The codes the button steps through now: the configured sequence without codes the
    /// firmware lacks (1.6.0 before 50217) or channels that have no coupled device, with
    /// `96.1.1` expanded to one code per coupled channel, each code once.
    pub fn codes(&self) -> Vec<Code> {
        let coupled: Vec<u8> = self.last.as_ref().map_or_else(Vec::new, |o| {
            o.state
                .mbus
                .iter()
                .filter(|m| m.status == p1_meter::ChannelStatus::Live)
                .map(|m| m.channel)
                .collect()
        });
        let mut out: Vec<Code> = Vec::new();
        for &code in &self.cfg.sequence {
            let expanded: Vec<Code> = match code {
                Code::MonthPeak if !self.firmware.has_demand() => Vec::new(),
                Code::MbusSerials => coupled.iter().map(|&c| Code::MbusSerial(c)).collect(),
                Code::MbusSerial(c) if !coupled.contains(&c) => Vec::new(),
                c => vec![c],
            };
            for c in expanded {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// The screen's value for `code` in state `s`.
    fn screen_for(&self, code: Code, s: &MeterState) -> Screen {
        let (value, unit) = match code {
            Code::ImportDay => (kwh(s.import_wh[0]), "kWh"),
            Code::ImportNight => (kwh(s.import_wh[1]), "kWh"),
            Code::ExportDay => (kwh(s.export_wh[0]), "kWh"),
            Code::ExportNight => (kwh(s.export_wh[1]), "kWh"),
            Code::ImportPower => (kw(s.import_w), "kW"),
            Code::ExportPower => (kw(s.export_w), "kW"),
            Code::MonthPeak => (kw(s.demand.peak.map_or(0, |p| p.w)), "kW"),
            Code::MbusSerials | Code::MbusSerial(_) => {
                let id = match code {
                    Code::MbusSerial(c) => s
                        .mbus
                        .iter()
                        .find(|m| m.channel == c && m.status == p1_meter::ChannelStatus::Live)
                        .map(|m| m.equipment_id.clone()),
                    _ => None,
                };
                (id.unwrap_or_else(|| "-".repeat(14)), "")
            }
        };
        Screen {
            code: code.to_string(),
            value,
            unit: unit.to_owned(),
            dim: code.is_legal(),
        }
    }

    /// What the panel shows at `now` (the panel's clock is moved there first).
    pub fn view(&mut self, now: SimTime) -> PanelView {
        self.advance(now);
        let now = self.now;
        let led = |c: &PulseCounter, powered: bool| Led {
            pulses: c.pulses,
            lit: powered
                && c.last_pulse_ms
                    .is_some_and(|p| p <= now && now - p < self.cfg.led_flash_ms),
            last_pulse_ms: c.last_pulse_ms,
            constant: 0,
        };
        let (powered, indicators, screen, q) = match &self.last {
            Some(o) => {
                let s = &o.state;
                let screen = match self.position {
                    Position::At(c) if s.powered => Some(self.screen_for(c, s)),
                    _ => None,
                };
                (s.powered, self.indicators(s, now), screen, o.reactive_var)
            }
            None => (false, self.indicators_dark(), None, 0),
        };
        let mode = match (powered, self.position) {
            (false, _) | (_, Position::Off) => ScreenMode::Off,
            (true, Position::Home) => ScreenMode::Home,
            (true, Position::At(_)) => ScreenMode::Code,
        };
        PanelView {
            at_ms: now,
            powered,
            mode,
            screen,
            indicators,
            reactive_var: q,
            control_led: Led {
                constant: self.cfg.control_imp_per_kwh,
                ..led(&self.control, powered)
            },
            blind_led: Led {
                constant: self.cfg.blind_imp_per_kvarh,
                ..led(&self.blind, powered)
            },
        }
    }

    fn phase_indicators(&self, s: &MeterState) -> Vec<PhaseIndicator> {
        (0..self.model.phases())
            .map(|i| PhaseIndicator {
                name: format!("L{}", i + 1),
                lit: s.powered && s.load.phases[i].voltage_dv > 0,
                asterisk: i == 1 && self.grid == Grid::Delta230,
            })
            .collect()
    }

    fn indicators(&self, s: &MeterState, now: i64) -> Indicators {
        let breaker_disconnect = match s.breaker {
            Breaker::Connected => Blink::Off,
            Breaker::Disconnected => Blink::Steady,
            Breaker::ReadyForReconnection => Blink::Blinking,
        };
        let lit = match breaker_disconnect {
            Blink::Off => false,
            Blink::Steady => true,
            Blink::Blinking => now.rem_euclid(BLINK_PERIOD_MS) < BLINK_PERIOD_MS / 2,
        };
        Indicators {
            tariff: if s.tariff == 2 {
                Tariff::Night
            } else {
                Tariff::Day
            },
            error: self.error,
            phases: self.phase_indicators(s),
            importing: s.import_w > 0,
            exporting: s.export_w > 0,
            port_enabled: s.port_enabled,
            network_registered: self.registered,
            signal: self.signal,
            signal_max: self.cfg.signal_max,
            prepaid: s.prepaid.is_some(),
            breaker_closed: s.breaker == Breaker::Connected,
            breaker_code: s.breaker.code(),
            breaker_disconnect,
            breaker_disconnect_lit: lit,
        }
    }

    /// Indicators before any observation: nothing known, nothing lit.
    fn indicators_dark(&self) -> Indicators {
        Indicators {
            tariff: Tariff::Day,
            error: self.error,
            phases: Vec::new(),
            importing: false,
            exporting: false,
            port_enabled: false,
            network_registered: self.registered,
            signal: self.signal,
            signal_max: self.cfg.signal_max,
            prepaid: false,
            breaker_closed: false,
            breaker_code: 0,
            breaker_disconnect: Blink::Off,
            breaker_disconnect_lit: false,
        }
    }
}
