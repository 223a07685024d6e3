//! [`Session`]: one scenario's meter with its front panel, on the simulated clock. The
//! P1 telegrams and the panel come from the same `p1_scenario::Simulation`, so a button
//! press that reaches the meter shows up both on the panel and in `0-0:96.3.10`.
//!
//! How a press reaches the meter: `Simulation` owns its meter and applies only scenario
//! events, so a press the panel hands over (`Button`, while the breaker is ready for
//! reconnection) is added to the scenario as an ordinary `button` event at the press
//! instant, and the simulation is rebuilt and fast-forwarded over the frames already taken.
//! Simulations are deterministic, so the replayed frames are byte-identical to those
//! already emitted, and the next telegram carries the press. The instant is always after
//! every frame already taken (moved 1 ms past one taken at that very millisecond).
//!
//! Between telegram instants the panel looks at a copy of the meter advanced to the
//! instant it is asked about, with the scenario's and the panel's meter commands due by
//! then applied; a load change between two telegram instants is seen from the next one.

use std::collections::VecDeque;

use p1_meter::{Command, Meter, SimTime};
use p1_panel::{Panel, PanelConfig, PanelView};
use p1_scenario::{Event, EventAction, Frame, Scenario, Simulation};
use p1_wire::Readout;

use crate::error::CliError;

/// Line number recorded for events the panel injects (no line of the scenario file).
pub const PANEL_EVENT_LINE: usize = 0;

/// A scenario's meter and its panel.
pub struct Session {
    scenario: Scenario,
    injected: Vec<Event>,
    sim: Simulation,
    frames_taken: u64,
    last_frame_at: Option<SimTime>,
    next_frame_at: SimTime,
    step_ms: i64,
    /// Frames kept for a P1 output, oldest first (`None`: not serving P1).
    queue: Option<VecDeque<Frame>>,
    last_readout: Option<(SimTime, Option<Readout>)>,
    panel: Panel,
    now: SimTime,
}

fn scenario_error(e: impl std::fmt::Display) -> CliError {
    CliError::Scenario(e.to_string())
}

impl Session {
    /// Starts `scenario` with a panel configured by `cfg`; with `keep_frames`, every
    /// telegram is also queued for [`Session::take_frame`].
    pub fn new(
        scenario: Scenario,
        cfg: PanelConfig,
        keep_frames: bool,
    ) -> Result<Session, CliError> {
        let sim = Simulation::new(&scenario).map_err(scenario_error)?;
        let panel =
            Panel::new(cfg, &scenario.meter).map_err(|e| CliError::Usage(format!("panel: {e}")))?;
        let mut s = Session {
            step_ms: scenario
                .interval_ms
                .saturating_mul(scenario.every as i64)
                .max(1),
            next_frame_at: scenario.start,
            now: scenario.start,
            scenario,
            injected: Vec::new(),
            sim,
            frames_taken: 0,
            last_frame_at: None,
            queue: keep_frames.then(VecDeque::new),
            last_readout: None,
            panel,
        };
        s.observe(s.now);
        Ok(s)
    }

    /// The scenario's first instant.
    pub fn start(&self) -> SimTime {
        self.scenario.start
    }

    /// The scenario's end (exclusive).
    pub fn end(&self) -> SimTime {
        self.scenario.end
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.scenario.name
    }

    /// The panel's clock.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The latest telegram instant taken and its readout (`None` while P1 was silent).
    pub fn last_telegram(&self) -> Option<&(SimTime, Option<Readout>)> {
        self.last_readout.as_ref()
    }

    /// Takes frames from the simulation up to `t` (inclusive or not).
    fn pull(&mut self, t: SimTime, inclusive: bool) {
        while self.next_frame_at < t || (inclusive && self.next_frame_at == t) {
            let Some(frame) = self.sim.next() else {
                // The scenario has ended: no more telegrams.
                self.next_frame_at = SimTime(i64::MAX);
                break;
            };
            self.frames_taken += 1;
            self.last_frame_at = Some(frame.at);
            self.next_frame_at = frame.at.plus_ms(self.step_ms);
            self.panel.observe(frame.at, &frame.state);
            self.last_readout = Some((frame.at, frame.readout.clone()));
            if let Some(q) = &mut self.queue {
                q.push_back(frame);
            }
        }
    }

    /// The meter as it is at `t` (>= the latest frame taken).
    fn preview(&self, t: SimTime) -> Meter {
        let mut meter = self.sim.meter().clone();
        let from = self.last_frame_at.unwrap_or(self.scenario.start);
        let mut due: Vec<&Event> = self
            .scenario
            .events
            .iter()
            .chain(&self.injected)
            .filter(|e| e.at > from && e.at <= t)
            .collect();
        due.sort_by_key(|e| e.at);
        for e in due {
            if let EventAction::Meter(cmd) = &e.action {
                // Refused commands change nothing, as in the simulation.
                let _ = meter.apply(e.at, cmd.clone());
            }
        }
        meter.advance_to(t);
        meter
    }

    fn observe(&mut self, t: SimTime) {
        self.now = self.now.max(t);
        self.pull(self.now, false);
        let meter = self.preview(self.now);
        self.panel.observe(self.now, &meter.state());
    }

    /// What the panel shows at `t` (never before the panel's clock).
    pub fn view(&mut self, t: SimTime) -> PanelView {
        self.observe(t);
        self.panel.view(self.now)
    }

    /// A press released at `t` after `held_ms`. Returns the command that went to the meter.
    pub fn press(&mut self, t: SimTime, held_ms: i64) -> Result<Option<Command>, CliError> {
        let mut t = t.max(self.now);
        if let Some(last) = self.last_frame_at {
            t = t.max(last.plus_ms(1));
        }
        self.observe(t);
        let Some(cmd) = self.panel.press(self.now, held_ms) else {
            return Ok(None);
        };
        self.injected.push(Event {
            at: self.now,
            action: EventAction::Meter(cmd.clone()),
            line: PANEL_EVENT_LINE,
        });
        self.rebuild()?;
        self.observe(self.now);
        Ok(Some(cmd))
    }

    /// Rebuilds the simulation with the injected events and skips the frames taken.
    fn rebuild(&mut self) -> Result<(), CliError> {
        let mut scenario = self.scenario.clone();
        // Stable: at equal instants scenario events keep their order and come first.
        scenario.events.extend(self.injected.iter().cloned());
        scenario.events.sort_by_key(|e| e.at);
        let mut sim = Simulation::new(&scenario).map_err(scenario_error)?;
        for _ in 0..self.frames_taken {
            if sim.next().is_none() {
                break;
            }
        }
        self.sim = sim;
        Ok(())
    }

    /// Sets or clears the F indicator.
    pub fn set_error(&mut self, on: bool) {
        self.panel.set_error(on);
    }

    /// Sets network registration and signal strength.
    pub fn set_network(&mut self, registered: bool, signal: u8) {
        self.panel.set_network(registered, signal);
    }

    /// The instant of the next telegram for P1, if the scenario has one left.
    pub fn next_telegram_at(&self) -> Option<SimTime> {
        match self.queue.as_ref().and_then(VecDeque::front) {
            Some(f) => Some(f.at),
            None => (self.next_frame_at < self.scenario.end).then_some(self.next_frame_at),
        }
    }

    /// The next queued telegram, taking frames up to `t` first (needs `keep_frames`).
    pub fn take_frame(&mut self, t: SimTime) -> Option<Frame> {
        self.pull(t, true);
        self.queue.as_mut().and_then(VecDeque::pop_front)
    }
}
