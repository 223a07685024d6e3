//! The deterministic driver: [`Simulation`] runs a [`Scenario`] and yields one [`Frame`]
//! per telegram instant. Between telegrams it jumps straight to the next thing that
//! happens (an event, a load change, a voltage draw, a meter deadline), never ticking
//! through idle seconds, and it keeps no history, so memory does not grow with the
//! scenario's length. When the scenario schedules `[[faults]]`, each telegram the meter
//! meant goes through a [`p1_faults::FaultInjector`]; the frame carries both what was
//! meant and what was sent.

use p1_faults::{Applied, FaultInjector, Piece, Verdict};
use p1_meter::{Load, Meter, MeterState, PhaseLoad, SimTime};
use p1_wire::Readout;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::ScenarioError;
use crate::loads::{Contribution, LoadRuntime};
use crate::scenario::{Event, EventAction, Scenario, Supply};

/// What the meter sends (or not) at one telegram instant, with the truth behind it.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The telegram instant (true time, not the meter's possibly offset clock).
    pub at: SimTime,
    /// The bytes actually sent: the meter's telegram after the scenario's faults (exactly
    /// the meter's telegram when none hit). Empty while the line is silent or a `silence`
    /// fault hits.
    pub bytes: Vec<u8>,
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
    /// The meter's exact state at `at`.
    pub state: MeterState,
    /// The load the installation presented at `at`.
    pub load: Load,
    /// Commands the meter refused since the previous frame.
    pub refused: Vec<Refusal>,
}

/// A scenario event the meter refused in its state (e.g. the button on a connected
/// meter); real meters ignore such actions too, so the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// When the event happened.
    pub at: SimTime,
    /// Line of the `[[event]]` in the scenario file.
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

/// A running scenario: an iterator of [`Frame`]s, one per telegram instant
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
    refused: Vec<Refusal>,
    n_steps: u64,
    /// `None` when the scenario has no faults: bytes are then the meter's, untouched.
    faults: Option<FaultInjector>,
    /// Telegram instants yielded so far: the fault schedule's index.
    index: u64,
}

impl Simulation {
    /// Prepares `scenario` at its start instant.
    pub fn new(scenario: &Scenario) -> Result<Simulation, ScenarioError> {
        let start = scenario.start;
        let meter = Meter::new(scenario.meter.clone(), start)
            .map_err(|e| scenario.origin.config_error(&e.field, &e.message))?;
        let loads = scenario
            .loads
            .iter()
            .enumerate()
            .map(|(i, spec)| LoadRuntime::new(spec, scenario.seed, i as u64 + 1, start))
            .collect();
        let mut sim = Simulation {
            meter,
            loads,
            events: scenario.events.clone(),
            next_event: 0,
            voltages: Voltages::new(scenario.supply, scenario.seed, start),
            power_factor_permille: scenario.supply.power_factor_permille,
            telegram_at: start,
            telegram_step_ms: scenario.interval_ms.saturating_mul(scenario.every as i64),
            end: scenario.end,
            now: start,
            load: Load::default(),
            refused: Vec::new(),
            n_steps: 0,
            // The injector draws from its own ChaCha8 streams of the scenario seed, far
            // from the supply's (0) and the loads' (1, 2, ...): adding a fault changes no
            // load draw, and the same seed gives the same damage.
            faults: if scenario.faults.is_empty() {
                None
            } else {
                Some(
                    FaultInjector::new(scenario.faults.clone(), scenario.seed)
                        .map_err(|e| scenario.origin.fault_error(&e))?,
                )
            },
            index: 0,
        };
        sim.apply_events(start);
        sim.update_load(start);
        Ok(sim)
    }

    /// How many instants the driver has stopped at so far (telegrams, events, load
    /// changes, meter deadlines): a measure of work that does not grow with idle time.
    pub fn n_steps(&self) -> u64 {
        self.n_steps
    }

    /// The simulated meter.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Applies every event due at `t` (in file order).
    fn apply_events(&mut self, t: SimTime) {
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
            }
        }
    }

    fn with_load(&mut self, name: &str, f: impl FnOnce(&mut LoadRuntime)) {
        if let Some(l) = self.loads.iter_mut().find(|l| l.name == name) {
            f(l);
        }
    }

    /// Recomputes the installation's load at `t` and hands it to the meter if it changed.
    fn update_load(&mut self, t: SimTime) {
        let mut sum = Contribution::default();
        for l in &mut self.loads {
            let value = l.value_at(t);
            if l.enabled {
                sum.add_scaled(&value, l.scale_permille);
            }
        }
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
        for l in &mut self.loads {
            if let Some(t) = l.next_change(now) {
                next = next.min(t);
            }
        }
        if let Some(t) = self.voltages.next {
            next = next.min(t);
        }
        if let Some(t) = self.meter.next_deadline().filter(|&t| t > now) {
            next = next.min(t);
        }
        next
    }
}

impl Iterator for Simulation {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        let target = self.telegram_at;
        if target >= self.end {
            return None;
        }
        while self.now < target {
            let t = self.next_stop(target);
            self.n_steps += 1;
            self.meter.advance_to(t);
            self.now = t;
            self.apply_events(t);
            self.voltages.advance(t);
            self.update_load(t);
        }
        self.n_steps += 1;
        self.meter.advance_to(target);
        let readout = self.meter.readout();
        let index = self.index;
        self.index += 1;
        let (bytes, pieces, applied, verdict, sent_readout) = match (&mut self.faults, &readout) {
            (Some(inj), Some(r)) => {
                let e = inj.apply(index, target.millis(), r);
                let sent = (!e.bytes.is_empty()).then_some(e.readout);
                (e.bytes, e.pieces, e.applied, Some(e.verdict), sent)
            }
            (_, r) => (
                r.as_ref().map(Readout::to_bytes).unwrap_or_default(),
                Vec::new(),
                Vec::new(),
                None,
                None,
            ),
        };
        self.telegram_at = target.plus_ms(self.telegram_step_ms);
        Some(Frame {
            at: target,
            bytes,
            pieces,
            applied,
            verdict,
            sent_readout,
            faults_scheduled: self.faults.is_some(),
            readout,
            state: self.meter.state(),
            load: self.load.clone(),
            refused: std::mem::take(&mut self.refused),
        })
    }
}
