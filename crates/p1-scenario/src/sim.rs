//! The deterministic driver: [`Simulation`] runs a [`Scenario`] and yields one [`SimFrame`]
//! per telegram instant. Between telegrams it jumps straight to the next thing that
//! happens (an event, a load change, a voltage draw, a meter deadline), never ticking
//! through idle seconds, and it keeps no history, so memory does not grow with the
//! scenario's length. When the scenario schedules `[[faults]]`, each telegram the meter
//! meant goes through a [`p1_faults::FaultInjector`]; the frame carries both what was
//! meant and what was sent.
//!
//! Two other things ride along. When the scenario has a front panel, a
//! [`p1_panel::Panel`] observes the meter at every instant the driver stops at (so its
//! LEDs integrate every load change exactly), panel events go through it, and the
//! `Button` it hands back is applied to the same meter; [`Simulation::press`] and
//! [`Simulation::apply`] let an interactive driver act between telegrams. During a
//! Fluvius replay whose labels set the tariff, the driver forces the meter's tariff to
//! each quarter's Day/Night label at the quarter's start ([`TariffControl`]).
//!
//! On request ([`Simulation::plan_ahead`]), the loads plan their days on worker threads
//! ahead of the driver; the frames are the same.

use std::collections::BTreeMap;
use std::ops::Range;

use p1_faults::{Applied, FaultInjector, Piece, Verdict};
use p1_meter::{Command, CommandError, Load, Meter, MeterState, PhaseLoad, SimTime};
use p1_panel::{Panel, PanelView};
use p1_wire::{Encoder, Readout};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::loads::{Contribution, LoadRuntime};
use crate::scenario::{Event, EventAction, PanelAction, Scenario, Supply};

/// Line recorded in a [`Refusal`] of a command injected through [`Simulation::apply`] or
/// [`Simulation::press`] (no line of the scenario file).
pub const INJECTED_LINE: usize = 0;

/// A quarter hour, ms.
const QUARTER_MS: i64 = 900_000;

/// What the meter sends (or not) at one telegram instant, with the truth behind it.
#[derive(Debug, Clone)]
pub struct SimFrame {
    /// The telegram instant (true time, not the meter's possibly offset clock).
    pub at: SimTime,
    /// The bytes actually sent: the meter's telegram after the scenario's faults (exactly
    /// the meter's telegram when none hit). Empty while the line is silent or a `silence`
    /// fault hits.
    pub bytes: Vec<u8>,
    /// The meter's own telegram when the scenario schedules faults (empty otherwise, and
    /// while the line is silent): read it with [`SimFrame::telegram`].
    pub meant: Vec<u8>,
    /// How to write `bytes`: empty = one write; otherwise the writes, with real-time pauses
    /// between them (a `split` fault).
    pub pieces: Vec<Piece>,
    /// The faults that changed this telegram, in the order applied.
    pub applied: Vec<Applied>,
    /// How consumers should react to `bytes`: `Some` for every telegram the meter meant
    /// when the scenario has `[[faults]]` (even if none hit this one), `None` otherwise
    /// (then `bytes` is always the meter's own, valid telegram).
    pub verdict: Option<Verdict>,
    /// What the sent telegram says after content quirks (equal to `readout` unless a
    /// content quirk hit); `Some` only when faults are scheduled and bytes were sent.
    pub sent_readout: Option<Readout>,
    /// Whether the scenario schedules faults (the truth record then says what was sent).
    pub faults_scheduled: bool,
    /// What the meter meant: its telegram content, before any fault; `None` while the
    /// line is silent.
    pub readout: Option<Readout>,
    /// The meter's exact state at `at`, including the load the installation presented
    /// (`state.load`).
    pub state: MeterState,
    /// Commands the meter refused since the previous frame.
    pub refused: Vec<Refusal>,
    /// What the front panel shows at `at`; `Some` exactly when the simulation runs a panel
    /// ([`Scenario::panel`]).
    pub panel: Option<PanelView>,
    /// The byte ranges of [`SimFrame::telegram`] that differ from the previous frame's;
    /// meaningful only when `patched`.
    changes: Vec<Range<usize>>,
    /// Whether the telegram was written over the previous frame's (same length).
    patched: bool,
}

impl SimFrame {
    /// The meter's own telegram, before any fault (empty while the line is silent):
    /// `bytes` when no fault is scheduled, `meant` otherwise.
    pub fn telegram(&self) -> &[u8] {
        if self.faults_scheduled {
            &self.meant
        } else {
            &self.bytes
        }
    }

    /// What changed in [`SimFrame::telegram`] since the previous frame: `None` when it is
    /// to be taken as new (the first frame, one after silence, a new layout); otherwise
    /// the byte ranges that may differ, ascending and disjoint; the telegram has the
    /// previous frame's length and equals it outside them. Frames cloned out of the
    /// simulation (the [`Iterator`]) keep the list, but it relates them to the frame
    /// before, not to whatever the caller kept.
    pub fn telegram_changes(&self) -> Option<&[Range<usize>]> {
        self.patched.then_some(&self.changes[..])
    }
}

/// A scenario event the meter refused in its state (e.g. the button on a connected
/// meter); real meters ignore such actions too, so the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// When the event happened.
    pub at: SimTime,
    /// Line of the `[[event]]` in the scenario file ([`INJECTED_LINE`] for commands
    /// injected with [`Simulation::apply`] or [`Simulation::press`]).
    pub line: usize,
    /// The meter's reason.
    pub message: String,
}

/// Seeded voltage variation, piecewise constant per period.
#[derive(Debug)]
struct Voltages {
    supply: Supply,
    rng: ChaCha8Rng,
    current: [u32; 3],
    next: Option<SimTime>,
}

impl Voltages {
    fn new(supply: Supply, seed: u64, start: SimTime) -> Voltages {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Stream 0 is reserved for the supply; loads use streams 1 and up.
        rng.set_stream(0);
        let mut v = Voltages {
            supply,
            rng,
            current: supply.voltage_dv,
            next: None,
        };
        if supply.jitter_dv > 0 {
            v.draw();
            v.next = Some(start.plus_ms(supply.jitter_period_ms));
        }
        v
    }

    fn draw(&mut self) {
        let j = i64::from(self.supply.jitter_dv);
        for (cur, nominal) in self.current.iter_mut().zip(self.supply.voltage_dv) {
            let dv = i64::from(nominal) + self.rng.random_range(-j..=j);
            *cur = u32::try_from(dv.max(0)).unwrap_or(0);
        }
    }

    /// Advances to `t`; true if the voltages changed.
    fn advance(&mut self, t: SimTime) -> bool {
        let mut changed = false;
        while let Some(next) = self.next {
            if next > t {
                break;
            }
            self.draw();
            self.next = Some(next.plus_ms(self.supply.jitter_period_ms));
            changed = true;
        }
        changed
    }
}

/// The tariff during replays whose Day/Night labels set it (`[[loads.replay]]` without
/// `tariff = "calendar"`).
///
/// At each quarter start (and again after any event, which may enable a replay, restore
/// power or move the meter's clock) the quarter's label is looked up in the enabled
/// replays, first in file order. The calendar is left in charge when it already gives the
/// label for the whole quarter, otherwise the label is forced with
/// [`Command::ForceTariff`]; a quarter without a label (a gap, a row without a register,
/// outside the export) goes back to the calendar. Forcing only where the calendar
/// disagrees gives the same tariff as forcing everywhere, and keeps the state's
/// `next_tariff_change_meter_ms` meaningful where the export agrees with the calendar.
#[derive(Debug)]
struct TariffControl {
    /// Index of a replay load in `Simulation::loads`, and its labels by quarter start.
    labels: Vec<(usize, BTreeMap<SimTime, u8>)>,
    /// End of the last labelled quarter: no control is needed after it.
    end: SimTime,
    /// The tariff the driver has forced and not released.
    forced: Option<u8>,
    /// Start of the quarter last evaluated.
    quarter: Option<SimTime>,
}

/// A running scenario: an iterator of [`SimFrame`]s, one per telegram instant
/// `start + k·interval·every < end`.
#[derive(Debug)]
pub struct Simulation {
    meter: Meter,
    loads: Vec<LoadRuntime>,
    events: Vec<Event>,
    next_event: usize,
    voltages: Voltages,
    power_factor_permille: u32,
    telegram_at: SimTime,
    telegram_step_ms: i64,
    end: SimTime,
    now: SimTime,
    load: Load,
    /// `(from, until)`: [`Simulation::update_load`] ran at `from`, and neither the loads'
    /// values nor the voltages change before `until` (`None`: never) unless an event or a
    /// voltage draw says so (both clear it). Between the two, `load` is the
    /// installation's load and `until` the first load change after any instant.
    load_known: Option<(SimTime, Option<SimTime>)>,
    refused: Vec<Refusal>,
    n_steps: u64,
    /// `None` when the scenario has no faults: bytes are then the meter's, untouched.
    faults: Option<FaultInjector>,
    /// Telegram instants yielded so far: the fault schedule's index.
    index: u64,
    /// The front panel, when the scenario has one.
    panel: Option<Panel>,
    tariff: TariffControl,
    /// The frame [`Simulation::next_frame`] lends, kept to reuse its allocations.
    frame: Option<SimFrame>,
    /// The meter's telegrams, each written over the previous one.
    encoder: Encoder,
}

impl Simulation {
    /// Prepares `scenario` at its start instant. Cannot fail: the scenario's parts were
    /// checked when they were built.
    pub fn new(scenario: &Scenario) -> Simulation {
        let start = scenario.start();
        let meter = scenario.meter.clone();
        let loads: Vec<LoadRuntime> = scenario
            .loads
            .iter()
            .enumerate()
            .map(|(i, spec)| LoadRuntime::new(spec, scenario.seed(), i as u64 + 1, start))
            .collect();
        let panel = scenario.panel.clone();
        let mut tariff = TariffControl {
            labels: Vec::new(),
            end: start,
            forced: None,
            quarter: None,
        };
        for t in &scenario.tariff_labels {
            if let Some(i) = loads.iter().position(|l| l.name == t.load) {
                if let Some((&last, _)) = t.quarters.last_key_value() {
                    tariff.end = tariff.end.max(last.plus_ms(QUARTER_MS));
                }
                tariff.labels.push((i, t.quarters.clone()));
            }
        }
        let mut sim = Simulation {
            meter,
            loads,
            events: scenario.events.clone(),
            next_event: 0,
            voltages: Voltages::new(scenario.supply, scenario.seed(), start),
            power_factor_permille: scenario.supply.power_factor_permille,
            telegram_at: start,
            telegram_step_ms: scenario.telegram_step_ms(),
            end: scenario.end,
            now: start,
            load: Load::default(),
            load_known: None,
            refused: Vec::new(),
            n_steps: 0,
            // The injector draws from its own ChaCha8 streams of the scenario seed, far
            // from the supply's (0) and the loads' (1, 2, ...): adding a fault changes no
            // load draw, and the same seed gives the same damage.
            faults: scenario.faults.clone(),
            index: 0,
            panel,
            tariff,
            frame: None,
            encoder: Encoder::new(),
        };
        sim.apply_events(start);
        sim.update_load(start);
        // The scenario's start is a moment in a running installation: its initial load is
        // taken to have run since the meter-clock quarter began (registers stay as given).
        sim.meter.assume_load_since_quarter_start();
        sim.sync_tariff(start, true);
        sim.observe_panel(start);
        sim
    }

    /// From now on, plans the loads' days ahead on worker threads, while this thread
    /// runs the meter: each load planned day by day (all but constants) gets a thread of
    /// its own, which plans a few days ahead of the simulation, up to the last day that
    /// starts before the scenario's end, then ends. Loads plan from their own seeded
    /// streams and nothing the simulation does changes what they plan, so the frames are
    /// the same bytes as without; it pays on long runs with costly loads (PV, replays)
    /// when a core is free. The threads end when the simulation is dropped. A load whose
    /// thread cannot be started plans on this thread as before.
    pub fn plan_ahead(&mut self) {
        let end = self.end;
        for l in &mut self.loads {
            l.plan_ahead(end);
        }
    }

    /// Whether any load plans its days on a worker thread ([`Simulation::plan_ahead`]).
    pub fn plans_ahead(&self) -> bool {
        self.loads.iter().any(LoadRuntime::plans_ahead)
    }

    /// The instant the simulation has reached: the latest telegram yielded, or the latest
    /// instant given to [`Simulation::advance`].
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The front panel, when the simulation runs one.
    pub fn panel(&self) -> Option<&Panel> {
        self.panel.as_ref()
    }

    /// Runs the scenario up to `at` without yielding a telegram: events, load changes and
    /// meter deadlines due by then are applied, and the panel observes the meter there.
    /// `at` is taken no earlier than [`Simulation::now`] and no later than the next
    /// telegram instant (take that telegram with `next()` first). Returns the instant
    /// reached.
    pub fn advance(&mut self, at: SimTime) -> SimTime {
        let t = at.min(self.telegram_at).max(self.now);
        self.run_until(t);
        t
    }

    /// Applies `cmd` to the meter at `at` (see [`Simulation::advance`] for the instant),
    /// between telegrams; the next telegram shows its effect. A refusal is returned and
    /// also recorded in the next frame's `refused` (line [`INJECTED_LINE`]).
    pub fn apply(&mut self, at: SimTime, cmd: Command) -> Result<(), CommandError> {
        let t = self.advance(at);
        let result = self.meter.apply(t, cmd);
        if let Err(e) = &result {
            self.refused.push(Refusal {
                at: t,
                line: INJECTED_LINE,
                message: e.message.clone(),
            });
        }
        self.update_load(t);
        self.sync_tariff(t, true);
        self.observe_panel(t);
        result
    }

    /// The customer releases the panel's button at `at` (see [`Simulation::advance`])
    /// after holding it `held_ms`. Returns the command the panel handed to the meter (and
    /// that was applied to it): `Button` while the breaker is ready for reconnection,
    /// `None` otherwise or when the simulation has no panel.
    pub fn press(&mut self, at: SimTime, held_ms: i64) -> Option<Command> {
        let t = self.advance(at);
        self.panel_press(t, held_ms, INJECTED_LINE)
    }

    /// Sets or clears the panel's `F` indicator (no effect without a panel).
    pub fn set_panel_error(&mut self, on: bool) {
        if let Some(p) = &mut self.panel {
            p.set_error(on);
        }
    }

    /// Sets the panel's network registration and signal bars (`None`: all bars while
    /// registered, none otherwise; no effect without a panel).
    pub fn set_panel_network(&mut self, registered: bool, signal: Option<u8>) {
        if let Some(p) = &mut self.panel {
            let all = if registered { u8::MAX } else { 0 };
            p.set_network(registered, signal.unwrap_or(all));
        }
    }

    /// What the panel shows at `at` (see [`Simulation::advance`] for the instant), or
    /// `None` without a panel.
    pub fn panel_view(&mut self, at: SimTime) -> Option<PanelView> {
        let t = self.advance(at);
        self.observe_panel(t);
        self.panel.as_mut().map(|p| p.view(t))
    }

    /// Hands the meter's state at `t` to the panel.
    fn observe_panel(&mut self, t: SimTime) {
        if let Some(p) = &mut self.panel {
            p.observe(t, &self.meter.state());
        }
    }

    /// A press released at `t`: the panel sees the meter as it is now, and any command it
    /// hands back goes to the meter; a refusal is recorded against `line`.
    fn panel_press(&mut self, t: SimTime, held_ms: i64, line: usize) -> Option<Command> {
        let panel = self.panel.as_mut()?;
        panel.observe(t, &self.meter.state());
        let cmd = panel.press(t, held_ms)?;
        if let Err(e) = self.meter.apply(t, cmd.clone()) {
            self.refused.push(Refusal {
                at: t,
                line,
                message: e.message,
            });
        }
        panel.observe(t, &self.meter.state());
        Some(cmd)
    }

    /// Forces or releases the tariff for the replay quarter holding `t` (see
    /// [`TariffControl`]); `again` re-evaluates a quarter already evaluated.
    fn sync_tariff(&mut self, t: SimTime, again: bool) {
        if self.tariff.labels.is_empty() {
            return;
        }
        let quarter = SimTime(t.0 - t.0.rem_euclid(QUARTER_MS));
        if !again && self.tariff.quarter == Some(quarter) {
            return;
        }
        self.tariff.quarter = Some(quarter);
        let wanted = self
            .tariff
            .labels
            .iter()
            .filter(|(i, _)| self.loads.get(*i).is_some_and(|l| l.enabled))
            .find_map(|(_, m)| m.get(&quarter).copied());
        // Hand the tariff back to the calendar first, to see what the calendar says. A
        // refusal (no mains power) keeps the force; the meter integrates nothing then, and
        // `power_restore` is an event, which brings a re-evaluation.
        if self.tariff.forced.is_some()
            && self
                .meter
                .apply(t, Command::ForceTariff { tariff: None })
                .is_ok()
        {
            self.tariff.forced = None;
        }
        let Some(label) = wanted else {
            return;
        };
        let s = self.meter.state();
        let quarter_end = quarter.0.saturating_add(QUARTER_MS);
        let calendar_agrees = self.tariff.forced.is_none()
            && s.tariff == label
            && s.next_tariff_change_meter_ms
                .is_none_or(|m| m.saturating_sub(s.clock_offset_ms) >= quarter_end);
        if !calendar_agrees
            && self
                .meter
                .apply(
                    t,
                    Command::ForceTariff {
                        tariff: Some(label),
                    },
                )
                .is_ok()
        {
            self.tariff.forced = Some(label);
        }
    }

    /// One stop of the driver at `t`: integrate up to `t`, then apply what happens there.
    fn step_to(&mut self, t: SimTime) {
        self.n_steps += 1;
        self.meter.advance_to(t);
        self.now = t;
        let evented = self.apply_events(t);
        if self.voltages.advance(t) {
            self.load_known = None;
        }
        if self.load_change_at(t).is_none() {
            self.update_load(t);
        }
        self.sync_tariff(t, evented);
        self.observe_panel(t);
    }

    /// Stops at everything that happens up to `target`, ending at `target`.
    fn run_until(&mut self, target: SimTime) {
        while self.now < target {
            let t = self.next_stop(target);
            self.step_to(t);
        }
    }

    /// How many instants after the start the driver has stopped at so far (telegrams,
    /// events, load changes, meter deadlines; each instant once): a measure of work that
    /// does not grow with idle time.
    pub fn n_steps(&self) -> u64 {
        self.n_steps
    }

    /// The simulated meter.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Applies every event due at `t` (in file order); true if there was one.
    fn apply_events(&mut self, t: SimTime) -> bool {
        let first = self.next_event;
        while let Some(event) = self.events.get(self.next_event) {
            if event.at > t {
                break;
            }
            let event = event.clone();
            self.next_event += 1;
            match event.action {
                EventAction::Meter(cmd) => {
                    if let Err(e) = self.meter.apply(t, cmd) {
                        self.refused.push(Refusal {
                            at: t,
                            line: event.line,
                            message: e.message,
                        });
                    }
                }
                EventAction::LoadEnable(name) => self.with_load(&name, |l| l.enabled = true),
                EventAction::LoadDisable(name) => self.with_load(&name, |l| l.enabled = false),
                EventAction::LoadScale { load, permille } => {
                    self.with_load(&load, |l| l.scale_permille = permille);
                }
                EventAction::Panel(PanelAction::Press { held_ms }) => {
                    self.panel_press(t, held_ms, event.line);
                }
                EventAction::Panel(PanelAction::Error(on)) => self.set_panel_error(on),
                EventAction::Panel(PanelAction::Network { registered, signal }) => {
                    self.set_panel_network(registered, signal);
                }
            }
        }
        self.next_event > first
    }

    fn with_load(&mut self, name: &str, f: impl FnOnce(&mut LoadRuntime)) {
        self.load_known = None;
        if let Some(l) = self.loads.iter_mut().find(|l| l.name == name) {
            f(l);
        }
    }

    /// When the load known at `t` (`load_known`) next changes: `None` when
    /// it is not known at `t` (recompute it), `Some(None)` when it never changes.
    fn load_change_at(&self, t: SimTime) -> Option<Option<SimTime>> {
        let (from, until) = self.load_known?;
        (from <= t && until.is_none_or(|u| t < u)).then_some(until)
    }

    /// Recomputes the installation's load at `t` and hands it to the meter if it changed.
    fn update_load(&mut self, t: SimTime) {
        let mut sum = Contribution::default();
        let mut until: Option<SimTime> = None;
        for l in &mut self.loads {
            let value = l.value_at(t);
            if l.enabled {
                sum.add_scaled(&value, l.scale_permille);
            }
            if let Some(c) = l.next_change(t) {
                until = Some(until.map_or(c, |u| u.min(c)));
            }
        }
        self.load_known = Some((t, until));
        let voltages = self.voltages.current;
        let mut load = Load::default();
        for (i, phase) in load.phases.iter_mut().enumerate() {
            *phase = PhaseLoad {
                power_w: sum.power_w[i],
                voltage_dv: voltages[i],
                power_factor_permille: self.power_factor_permille,
            };
        }
        for (out, flow) in load.mbus_ml_per_h.iter_mut().zip(sum.flow_ml_per_h) {
            *out = u64::try_from(flow).unwrap_or(0);
        }
        if load != self.load {
            self.meter.set_load(t, &load);
            self.load = load;
        }
    }

    /// The next instant after `now` at which something may happen, capped at `limit`.
    fn next_stop(&mut self, limit: SimTime) -> SimTime {
        let now = self.now;
        let mut next = limit;
        if let Some(e) = self.events.get(self.next_event) {
            next = next.min(e.at.max(now));
        }
        match self.load_change_at(now) {
            // Each load's next change after `now` is its next one after `from`, as none
            // falls in `from..=now`.
            Some(until) => {
                if let Some(t) = until {
                    next = next.min(t);
                }
            }
            None => {
                for l in &mut self.loads {
                    if let Some(t) = l.next_change(now) {
                        next = next.min(t);
                    }
                }
            }
        }
        if let Some(t) = self.voltages.next {
            next = next.min(t);
        }
        if let Some(t) = self.meter.next_deadline().filter(|&t| t > now) {
            next = next.min(t);
        }
        if !self.tariff.labels.is_empty() && now < self.tariff.end {
            next = next.min(SimTime(now.0 - now.0.rem_euclid(QUARTER_MS) + QUARTER_MS));
        }
        next
    }
}

impl Simulation {
    /// The next telegram instant's frame, lent until the next call: the path `p1sim run`
    /// takes. It reuses the previous frame's buffers, so once the first frames are made
    /// a telegram costs no allocation (unless faults or a panel are scheduled); the
    /// [`Iterator`] gives the same frames, owned.
    pub fn next_frame(&mut self) -> Option<&SimFrame> {
        let target = self.telegram_at;
        if target >= self.end {
            return None;
        }
        // Leaves the meter at `target`, counting the stop unless an `advance` already made it.
        self.run_until(target);
        if self.frame.is_none() {
            let (readout, state) = self.meter.snapshot();
            self.frame = Some(SimFrame {
                at: target,
                bytes: Vec::with_capacity(2048),
                meant: Vec::new(),
                pieces: Vec::new(),
                applied: Vec::new(),
                verdict: None,
                sent_readout: None,
                faults_scheduled: self.faults.is_some(),
                readout,
                state,
                refused: Vec::new(),
                panel: None,
                changes: Vec::new(),
                patched: false,
            });
        }
        // Filled in place: the frame (a few hundred bytes of state) is never moved.
        let frame = self.frame.as_mut()?;
        self.meter
            .snapshot_into(&mut frame.readout, &mut frame.state);
        frame.at = target;
        frame.panel = self.panel.as_mut().map(|p| {
            p.observe(target, &frame.state);
            p.view(target)
        });
        let index = self.index;
        self.index += 1;
        frame.bytes.clear();
        frame.meant.clear();
        // The meter's telegram, written over the previous one (a silent line forgets it).
        match &frame.readout {
            Some(r) => {
                self.encoder.encode(r);
            }
            None => self.encoder.reset(),
        }
        let telegram = self.encoder.bytes();
        frame.changes.clear();
        frame.patched = false;
        if let Some(changes) = self.encoder.changes() {
            frame.changes.extend_from_slice(changes);
            frame.patched = true;
        }
        match (&mut self.faults, &frame.readout) {
            (Some(inj), Some(r)) => {
                frame.meant.extend_from_slice(telegram);
                let e = inj.apply_encoded(index, target.millis(), r, telegram);
                frame.sent_readout = (!e.bytes.is_empty()).then_some(e.readout);
                frame.bytes = e.bytes;
                frame.pieces = e.pieces;
                frame.applied = e.applied;
                frame.verdict = Some(e.verdict);
            }
            _ => {
                frame.bytes.extend_from_slice(telegram);
                frame.pieces.clear();
                frame.applied.clear();
                frame.verdict = None;
                frame.sent_readout = None;
            }
        }
        frame.refused.clear();
        frame.refused.append(&mut self.refused);
        self.telegram_at = target.plus_ms(self.telegram_step_ms);
        self.frame.as_ref()
    }
}

impl Simulation {
    /// Passes the next telegram instant without making its frame: the meter, loads,
    /// events and panel are taken there exactly as [`Simulation::next_frame`] takes them,
    /// and the telegram counts in the fault schedule's index, but no snapshot is taken,
    /// nothing is encoded and the faults never see it (a fault scheduled at an instant
    /// fires at the first telegram made at or after it). Commands refused meanwhile are
    /// reported with the next frame made. Returns the instant passed, `None` at the end.
    /// For fast-forwarding, and for timing the step without the encoder.
    pub fn skip_frame(&mut self) -> Option<SimTime> {
        let target = self.telegram_at;
        if target >= self.end {
            return None;
        }
        self.run_until(target);
        self.index += 1;
        self.telegram_at = target.plus_ms(self.telegram_step_ms);
        Some(target)
    }
}

impl Iterator for Simulation {
    type Item = SimFrame;

    fn next(&mut self) -> Option<SimFrame> {
        self.next_frame().cloned()
    }
}
