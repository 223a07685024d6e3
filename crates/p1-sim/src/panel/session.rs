//! [`Session`]: one scenario's meter with its front panel, on the simulated clock. The
//! P1 telegrams and the panel come from the same `p1_scenario::Simulation`, which runs
//! the panel itself (`Scenario::panel`), so a button press that reaches the meter shows up
//! both on the panel and in `0-0:96.3.10`.
//!
//! A press between telegrams goes to `Simulation::press`: the simulation runs up to the
//! press instant (events, load changes and meter deadlines due by then), the panel
//! decides, and a `Button` it hands back is applied to the simulation's own meter, so the
//! next telegram carries it. The panel observes the meter at every instant the simulation
//! stops at, so what it shows between telegrams (and its LEDs) follows every load change.

use std::collections::VecDeque;

use p1_meter::{Command, SimTime};
use p1_panel::{PanelConfig, PanelView};
use p1_scenario::{Scenario, SimFrame, Simulation};
use p1_wire::Readout;

use crate::error::CliError;

/// Line number recorded for commands the panel injects (no line of the scenario file).
pub const PANEL_EVENT_LINE: usize = p1_scenario::INJECTED_LINE;

/// A scenario's meter and its panel.
pub struct Session {
    start: SimTime,
    end: SimTime,
    name: String,
    sim: Simulation,
    next_frame_at: SimTime,
    step_ms: i64,
    /// Frames kept for a P1 output, oldest first (`None`: not serving P1).
    queue: Option<VecDeque<SimFrame>>,
    last_readout: Option<(SimTime, Option<Readout>)>,
    now: SimTime,
}

impl Session {
    /// Starts `scenario` with a panel configured by `cfg` (which replaces the scenario's
    /// own `[panel]` settings); with `keep_frames`, every telegram is also queued for
    /// [`Session::take_frame`].
    pub fn new(
        mut scenario: Scenario,
        cfg: PanelConfig,
        keep_frames: bool,
    ) -> Result<Session, CliError> {
        scenario
            .set_panel(cfg)
            .map_err(|e| CliError::Usage(format!("panel: {e}")))?;
        let sim = Simulation::new(&scenario);
        Ok(Session {
            step_ms: scenario.telegram_step_ms().max(1),
            next_frame_at: scenario.start(),
            now: scenario.start(),
            start: scenario.start(),
            end: scenario.end,
            name: scenario.name,
            sim,
            queue: keep_frames.then(VecDeque::new),
            last_readout: None,
        })
    }

    /// The scenario's first instant.
    pub fn start(&self) -> SimTime {
        self.start
    }

    /// The scenario's end (exclusive).
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
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
            self.next_frame_at = frame.at.plus_ms(self.step_ms);
            self.last_readout = Some((frame.at, frame.readout.clone()));
            if let Some(q) = &mut self.queue {
                q.push_back(frame);
            }
        }
    }

    /// Moves the clock to `t` (never back), taking the telegrams before it.
    fn reach(&mut self, t: SimTime) -> SimTime {
        self.now = self.now.max(t);
        self.pull(self.now, false);
        self.now
    }

    /// What the panel shows at `t` (never before the panel's clock).
    pub fn view(&mut self, t: SimTime) -> PanelView {
        let now = self.reach(t);
        // `new` gives the simulation a panel, so there always is a view.
        self.sim
            .panel_view(now)
            .expect("Session::new gives the simulation a panel")
    }

    /// A press released at `t` after `held_ms`. Returns the command that went to the meter.
    pub fn press(&mut self, t: SimTime, held_ms: i64) -> Result<Option<Command>, CliError> {
        let now = self.reach(t);
        Ok(self.sim.press(now, held_ms))
    }

    /// Sets or clears the F indicator.
    pub fn set_error(&mut self, on: bool) {
        self.sim.set_panel_error(on);
    }

    /// Sets network registration and signal strength (clamped to the panel's bars).
    pub fn set_network(&mut self, registered: bool, signal: u8) {
        self.sim.set_panel_network(registered, Some(signal));
    }

    /// The instant of the next telegram for P1, if the scenario has one left.
    pub fn next_telegram_at(&self) -> Option<SimTime> {
        match self.queue.as_ref().and_then(VecDeque::front) {
            Some(f) => Some(f.at),
            None => (self.next_frame_at < self.end).then_some(self.next_frame_at),
        }
    }

    /// The next queued telegram, taking frames up to `t` first (needs `keep_frames`).
    pub fn take_frame(&mut self, t: SimTime) -> Option<SimFrame> {
        self.pull(t, true);
        self.queue.as_mut().and_then(VecDeque::pop_front)
    }
}
