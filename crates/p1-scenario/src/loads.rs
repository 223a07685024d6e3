//! Load models: what each installation part draws (or injects) over time, as a
//! piecewise-constant function in integer watts per phase and ml/h per M-Bus channel.
//!
//! Every load answers two questions: its value at an instant, and the next instant after
//! which the value may change ([`LoadRuntime::next_change`]), so the driver jumps from
//! change to change instead of ticking. Random loads draw from their own
//! `ChaCha8Rng`, one local day at a time and always in day order, so the draws do not
//! depend on when the driver asks. A load's days are planned by its [`Planner`], a pure
//! function of the load's spec, seed and first day: on the simulation's thread as the
//! driver reaches them, or ahead of it on a worker thread ([`LoadRuntime::plan_ahead`]),
//! for the same steps.

use std::ops::Range;
use std::sync::mpsc;
use std::thread;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use p1_meter::SimTime;
use p1_meter::time::from_local_forward;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::sun;

/// What one load contributes: W per phase (+import, -export) and ml/h per M-Bus channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Contribution {
    pub power_w: [i64; 3],
    pub flow_ml_per_h: [i64; 4],
}

impl Contribution {
    // Each value a scenario names is bounded (`MAX_POWER_W`, `MAX_FLOW_ML_PER_H`), but
    // the number of loads and of overlapping pulses is not, so sums saturate instead of
    // overflowing; within the bounds they are exact.
    fn add(&mut self, other: &Contribution, sign: i64) {
        self.add_scaled(other, sign.saturating_mul(1000));
    }

    /// Adds `other` scaled by `permille` / 1000 (truncated toward zero, saturating).
    pub(crate) fn add_scaled(&mut self, other: &Contribution, permille: i64) {
        let pairs = self
            .power_w
            .iter_mut()
            .zip(other.power_w)
            .chain(self.flow_ml_per_h.iter_mut().zip(other.flow_ml_per_h));
        for (a, b) in pairs {
            if permille == 1000 {
                // The common case, exactly the general formula's result without its
                // 128-bit division (which a profile of the per-step path showed).
                *a = a.saturating_add(b);
                continue;
            }
            if permille == -1000 {
                // A pulse's falling edge in `compose`: the formula gives -b, saturated
                // (only i64::MIN has no negation), without the division.
                *a = a.saturating_add(b.checked_neg().unwrap_or(i64::MAX));
                continue;
            }
            // i128 division truncates toward zero like i64's, so in range the result is
            // the same as `b * permille / 1000`.
            let scaled = i128::from(b) * i128::from(permille) / 1000;
            let scaled =
                i64::try_from(scaled).unwrap_or(if scaled < 0 { i64::MIN } else { i64::MAX });
            *a = a.saturating_add(scaled);
        }
    }

    /// `power_w` spread over `phases` (1-based); the remainder goes to the first one so
    /// the phases sum exactly to `power_w`.
    pub(crate) fn power(power_w: i64, phases: &[usize]) -> Contribution {
        let mut c = Contribution::default();
        let n = phases.len().max(1) as i64;
        for (i, &p) in phases.iter().enumerate() {
            let share = power_w / n + if i == 0 { power_w % n } else { 0 };
            c.power_w[p - 1] += share;
        }
        c
    }

    /// `ml_per_h` on M-Bus channel `channel` (1-based).
    pub(crate) fn flow(ml_per_h: i64, channel: usize) -> Contribution {
        let mut c = Contribution::default();
        c.flow_ml_per_h[channel - 1] = ml_per_h;
        c
    }
}

/// A contribution over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pulse {
    pub start: SimTime,
    pub end: SimTime,
    pub value: Contribution,
}

/// The contribution from `at` until the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub at: SimTime,
    pub value: Contribution,
}

/// Sums overlapping pulses into steps over `window`; parts of pulses reaching past the
/// window's end are returned for the next window. The first step is at `window.start`.
pub(crate) fn compose(window: Range<SimTime>, pulses: &[Pulse]) -> (Vec<Step>, Vec<Pulse>) {
    let mut edges: Vec<(SimTime, bool, usize)> = Vec::with_capacity(pulses.len() * 2);
    let mut carry = Vec::new();
    for (i, p) in pulses.iter().enumerate() {
        let start = p.start.max(window.start);
        if p.end > window.end {
            carry.push(Pulse {
                start: start.max(window.end),
                end: p.end,
                value: p.value,
            });
        }
        let end = p.end.min(window.end);
        if start < end {
            edges.push((start, true, i));
            edges.push((end, false, i));
        }
    }
    edges.sort_by_key(|&(t, _, i)| (t, i));
    let mut steps = vec![Step {
        at: window.start,
        value: Contribution::default(),
    }];
    let mut sum = Contribution::default();
    let mut k = 0;
    while k < edges.len() {
        let t = edges[k].0;
        if t >= window.end {
            break;
        }
        while k < edges.len() && edges[k].0 == t {
            let (_, rising, i) = edges[k];
            sum.add(&pulses[i].value, if rising { 1 } else { -1 });
            k += 1;
        }
        let last = steps.len() - 1;
        if steps[last].at == t {
            steps[last].value = sum;
        } else if steps[last].value != sum {
            steps.push(Step { at: t, value: sum });
        }
    }
    steps.dedup_by(|b, a| a.value == b.value);
    (steps, carry)
}

/// A Belgian local day: its date and its bounds in simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day {
    pub date: NaiveDate,
    pub start: SimTime,
    pub end: SimTime,
}

impl Day {
    /// The local day containing `t`.
    pub(crate) fn containing(t: SimTime) -> Day {
        let date = t.local().0.date();
        Day::of(date)
    }

    /// The local day `date`.
    pub(crate) fn of(date: NaiveDate) -> Day {
        let next = date.succ_opt().unwrap_or(date);
        Day {
            date,
            start: local_instant(date, NaiveTime::MIN),
            end: local_instant(next, NaiveTime::MIN),
        }
    }

    fn next(&self) -> Day {
        Day::of(self.date.succ_opt().unwrap_or(self.date))
    }

    /// Monday = 0.
    pub(crate) fn weekday(&self) -> usize {
        self.date.weekday().num_days_from_monday() as usize
    }

    /// The instant of local time `time` on this day.
    pub(crate) fn at(&self, time: NaiveTime) -> SimTime {
        local_instant(self.date, time)
    }
}

/// Local `date time` as an instant ([`p1_meter::time::from_local_forward`]): a time in
/// the spring-forward gap moves one hour on, a repeated time takes its first (summer-time)
/// occurrence.
pub(crate) fn local_instant(date: NaiveDate, time: NaiveTime) -> SimTime {
    from_local_forward(NaiveDateTime::new(date, time))
}

/// Built-in appliance programs as (duration ms, W) cycles.
pub(crate) fn program_cycle(program: crate::scenario::Program) -> (Vec<(i64, i64)>, bool) {
    use crate::scenario::Program;
    let m = 60_000;
    match program {
        Program::WashingMachine => (
            vec![(15 * m, 2000), (40 * m, 150), (10 * m, 450), (5 * m, 100)],
            false,
        ),
        Program::Dishwasher => (
            vec![
                (5 * m, 100),
                (20 * m, 1900),
                (30 * m, 120),
                (15 * m, 1800),
                (20 * m, 40),
            ],
            false,
        ),
        Program::Dryer => (vec![(50 * m, 2300), (30 * m, 1200), (10 * m, 200)], false),
        Program::Oven => {
            let mut cycle = vec![(10 * m, 2400)];
            for _ in 0..8 {
                cycle.push((3 * m, 2400));
                cycle.push((4 * m, 0));
            }
            (cycle, false)
        }
        Program::Kettle => (vec![(4 * m, 2200)], false),
        Program::HeatPump => (vec![(25 * m, 1800), (20 * m, 60)], true),
    }
}

/// A validated load.
#[derive(Debug, Clone)]
pub(crate) struct LoadSpec {
    pub name: String,
    pub enabled: bool,
    pub kind: LoadKind,
}

/// The kinds of load and their parameters, in exact units.
#[derive(Debug, Clone)]
pub(crate) enum LoadKind {
    /// Always the same.
    Constant { phases: Vec<usize>, power_w: i64 },
    /// Daily schedule of (local time, W); wraps around midnight.
    Schedule {
        phases: Vec<usize>,
        days: [bool; 7],
        entries: Vec<(NaiveTime, i64)>,
    },
    /// Seeded random household.
    Household {
        phases: Vec<usize>,
        base_w: i64,
        fridge: bool,
        cooking: bool,
        lighting: bool,
    },
    /// An appliance running a cycle at given times.
    Appliance {
        phases: Vec<usize>,
        cycle: Vec<(i64, i64)>,
        continuous: bool,
        at: Vec<NaiveTime>,
        starts: Vec<SimTime>,
        days: [bool; 7],
        jitter_ms: i64,
    },
    /// EV charger sessions.
    Ev {
        phases: Vec<usize>,
        power_w: i64,
        sessions: Vec<(SimTime, i64)>,
        plug_in: Option<NaiveTime>,
        daily_wh: i64,
        days: [bool; 7],
        jitter_ms: i64,
    },
    /// PV inverter with a clear-sky sun curve and seeded clouds.
    Pv {
        phases: Vec<usize>,
        peak_w: i64,
        clouds_permille: i64,
    },
    /// Gas or water flow through an M-Bus channel.
    Flow {
        channel: usize,
        constant: i64,
        daily: Vec<(NaiveTime, i64)>,
        draws: Vec<Draw>,
    },
    /// Fluvius portal exports, planned a day at a time.
    Replay(std::sync::Arc<crate::replay::load::ReplayLoad>),
}

/// Random draws of a flow, e.g. showers.
#[derive(Debug, Clone)]
pub(crate) struct Draw {
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub count: u32,
    pub duration_ms: i64,
    pub ml_per_h: i64,
    pub days: [bool; 7],
}

/// A load while the simulation runs.
#[derive(Debug)]
pub(crate) struct LoadRuntime {
    pub name: String,
    pub enabled: bool,
    pub scale_permille: i64,
    /// The planned day (`None` for precomputed loads).
    day: Option<Day>,
    steps: Vec<Step>,
    idx: usize,
    /// Where the next days' steps come from.
    source: Source,
}

/// Where a load's days come from.
#[derive(Debug)]
enum Source {
    /// Nowhere: the load's steps are known for good (a constant).
    Fixed,
    /// Planned on the simulation's thread when the load reaches the day.
    Here(Box<Planner>),
    /// Planned ahead on a worker thread ([`LoadRuntime::plan_ahead`]).
    Ahead(Ahead),
}

/// What plans a load's days: its kind, its seeded generator, and what one day hands to
/// the next. Each day's steps are a pure function of the load's spec, seed, stream and
/// first day: they depend on nothing the simulation does (events change only a load's
/// `enabled` and `scale_permille`, which the driver applies to the steps, not planned
/// into them), so a planner can run on any thread, ahead of the simulation, for the same
/// steps.
#[derive(Debug)]
pub(crate) struct Planner {
    kind: LoadKind,
    rng: ChaCha8Rng,
    /// The last day planned (`None` before the first).
    last: Option<Day>,
    /// Pulses reaching past the last day.
    carry: Vec<Pulse>,
    /// For continuous appliances: where the next cycle starts.
    cursor: Option<SimTime>,
}

/// Days a worker may plan ahead of the simulation (a PV day is about 1 500 steps).
const AHEAD_DAYS: usize = 4;

/// A worker thread planning a load's days ahead, from the day after the last one planned
/// to the last one starting before a horizon; then it ends and hands its [`Planner`]
/// back, and any day after is planned on the simulation's thread again.
///
/// It cannot deadlock: the worker is the only sender on its bounded channel and the load
/// the only receiver, the worker waits for nothing else, and the load waits only for a
/// day it has not been sent yet, which the worker is planning or has ended without (then
/// the channel is closed and the wait returns). Dropping the load drops the receiver
/// first, so a worker blocked on the full channel sees its send fail and ends; then the
/// drop joins it: no worker outlives its simulation.
#[derive(Debug)]
struct Ahead {
    /// `Some` until dropped (first, in [`Ahead::drop`]).
    days: Option<mpsc::Receiver<(Day, Vec<Step>)>>,
    /// The worker; it gives its planner back when it ends (`None` only if it never got
    /// it, which [`Ahead::spawn`] rules out).
    worker: Option<thread::JoinHandle<Option<Box<Planner>>>>,
}

impl Ahead {
    /// Starts a worker planning with `planner` the days that start before `until`;
    /// gives the planner back when no thread could be started.
    fn spawn(planner: Box<Planner>, until: SimTime) -> Result<Ahead, Box<Planner>> {
        // The planner is handed over once the thread runs, so a failed spawn keeps it.
        let (handover, taken) = mpsc::sync_channel::<Box<Planner>>(1);
        let (tx, days) = mpsc::sync_channel(AHEAD_DAYS);
        let spawned = thread::Builder::new()
            .name("p1sim-plan".to_owned())
            .spawn(move || {
                let mut planner = taken.recv().ok()?;
                while let Some(last) = planner.last {
                    let day = last.next();
                    // A day that does not move (the calendar's end) is left to the load.
                    if day.start >= until || day == last {
                        break;
                    }
                    let steps = planner.plan(day);
                    if tx.send((day, steps)).is_err() {
                        break; // The load is gone.
                    }
                }
                Some(planner)
            });
        let Ok(worker) = spawned else {
            return Err(planner);
        };
        if let Err(mpsc::SendError(planner)) = handover.send(planner) {
            // The worker cannot be gone while it waits for the planner; if it were,
            // planning would go on here.
            let _ = worker.join();
            return Err(planner);
        }
        Ok(Ahead {
            days: Some(days),
            worker: Some(worker),
        })
    }

    /// The next day the worker planned, waiting for it; `None` once the worker has ended
    /// and every day it planned was taken.
    fn next_day(&mut self) -> Option<(Day, Vec<Step>)> {
        self.days.as_ref()?.recv().ok()
    }

    /// Joins the ended worker and takes its planner back. A panic in the worker (the one
    /// the same code would have raised on the simulation's thread) goes on here.
    fn finish(&mut self) -> Option<Box<Planner>> {
        let worker = self.worker.take()?;
        match worker.join() {
            Ok(planner) => planner,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // The receiver first: a worker blocked on the full channel then ends.
        drop(self.days.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Source {
    /// The day after the last one and its steps (`None`: the load has no days).
    fn next_day(&mut self) -> Option<(Day, Vec<Step>)> {
        if let Source::Ahead(ahead) = self {
            if let Some(planned) = ahead.next_day() {
                return Some(planned);
            }
            // The worker passed its horizon: the days after are planned here.
            *self = ahead.finish().map_or(Source::Fixed, Source::Here);
        }
        match self {
            Source::Here(planner) => {
                let day = planner.last?.next();
                let steps = planner.plan(day);
                Some((day, steps))
            }
            Source::Fixed | Source::Ahead(_) => None,
        }
    }
}

impl LoadRuntime {
    /// The load at `start`, drawing from the stream `index` of the scenario `seed`.
    pub(crate) fn new(spec: &LoadSpec, seed: u64, index: u64, start: SimTime) -> LoadRuntime {
        let mut runtime = LoadRuntime {
            name: spec.name.clone(),
            enabled: spec.enabled,
            scale_permille: 1000,
            day: None,
            steps: Vec::new(),
            idx: 0,
            source: Source::Fixed,
        };
        match &spec.kind {
            LoadKind::Constant { phases, power_w } => {
                runtime.steps = vec![Step {
                    at: start,
                    value: Contribution::power(*power_w, phases),
                }];
            }
            kind => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(index);
                let mut planner = Box::new(Planner {
                    kind: kind.clone(),
                    rng,
                    last: None,
                    carry: Vec::new(),
                    cursor: None,
                });
                let day = Day::containing(start);
                runtime.steps = planner.plan(day);
                runtime.day = Some(day);
                runtime.source = Source::Here(planner);
            }
        }
        runtime
    }

    /// From now on, plans the load's days on a worker thread of its own ([`Ahead`]), up
    /// to [`AHEAD_DAYS`] ahead, the last one the day starting before `until` (any day
    /// after is planned here again): the same planner, so the same steps. No effect on a
    /// constant load, on one already planning ahead, or when no thread can be started.
    pub(crate) fn plan_ahead(&mut self, until: SimTime) {
        if let Source::Here(_) = self.source {
            let Source::Here(planner) = std::mem::replace(&mut self.source, Source::Fixed) else {
                return;
            };
            self.source = Ahead::spawn(planner, until).map_or_else(Source::Here, Source::Ahead);
        }
    }

    /// Whether a worker thread plans the load's days.
    pub(crate) fn plans_ahead(&self) -> bool {
        matches!(self.source, Source::Ahead(_))
    }

    /// The unscaled value at `t`; `t` never decreases between calls.
    pub(crate) fn value_at(&mut self, t: SimTime) -> Contribution {
        self.ensure_day(t);
        while self.idx + 1 < self.steps.len() && self.steps[self.idx + 1].at <= t {
            self.idx += 1;
        }
        match self.steps.get(self.idx) {
            Some(step) if step.at <= t => step.value,
            _ => Contribution::default(),
        }
    }

    /// The first instant after `after` at which the value may change.
    pub(crate) fn next_change(&mut self, after: SimTime) -> Option<SimTime> {
        self.ensure_day(after);
        let from = self.idx.min(self.steps.len());
        let next = self.steps[from..]
            .iter()
            .find(|s| s.at > after)
            .map(|s| s.at);
        match (next, self.day) {
            (Some(t), _) => Some(t),
            (None, Some(day)) => Some(day.end),
            (None, None) => None,
        }
    }

    fn ensure_day(&mut self, t: SimTime) {
        while let Some(day) = self.day {
            if t < day.end {
                break;
            }
            // Always `Some` for a load that has days.
            let Some((next, steps)) = self.source.next_day() else {
                break;
            };
            self.steps = steps;
            self.idx = 0;
            self.day = Some(next);
        }
    }
}

impl Planner {
    /// The steps of `day`: the day after the last one planned, or the first.
    // Long: one arm per load kind planning its pulses for `day`; the kinds share the
    // day's seeded draws, which a split would have to thread through every helper.
    fn plan(&mut self, day: Day) -> Vec<Step> {
        let mut pulses = std::mem::take(&mut self.carry);
        let kind = self.kind.clone();
        match &kind {
            LoadKind::Constant { .. } => {}
            LoadKind::Replay(replay) => replay.pulses(
                day.start..day.end,
                self.rng.get_seed(),
                self.rng.get_stream(),
                &mut pulses,
            ),
            LoadKind::Schedule {
                phases,
                days,
                entries,
            } => {
                if days[day.weekday()] {
                    schedule_pulses(&day, entries, &mut pulses, |w| {
                        Contribution::power(w, phases)
                    });
                }
            }
            LoadKind::Household {
                phases,
                base_w,
                fridge,
                cooking,
                lighting,
            } => self.household(
                &day,
                phases,
                *base_w,
                *fridge,
                *cooking,
                *lighting,
                &mut pulses,
            ),
            LoadKind::Appliance {
                phases,
                cycle,
                continuous,
                at,
                starts,
                days,
                jitter_ms,
            } => {
                if *continuous {
                    let mut cursor = self.cursor.unwrap_or(day.start);
                    while cursor < day.end {
                        for &(ms, w) in cycle {
                            let factor = self.rng.random_range(800..=1200_i64);
                            let len = (ms * factor / 1000).max(1000);
                            pulses.push(Pulse {
                                start: cursor,
                                end: cursor.plus_ms(len),
                                value: Contribution::power(w, phases),
                            });
                            cursor = cursor.plus_ms(len);
                        }
                    }
                    self.cursor = Some(cursor);
                } else if days[day.weekday()] {
                    for &time in at {
                        let jitter = self.jitter(*jitter_ms);
                        cycle_pulses(day.at(time).plus_ms(jitter), cycle, phases, &mut pulses);
                    }
                }
                for &start in starts {
                    if start >= day.start && start < day.end || self.first_day(start, &day) {
                        cycle_pulses(start, cycle, phases, &mut pulses);
                    }
                }
            }
            LoadKind::Ev {
                phases,
                power_w,
                sessions,
                plug_in,
                daily_wh,
                days,
                jitter_ms,
            } => {
                let duration = |wh: i64| {
                    (wh.saturating_mul(3_600_000) / (*power_w).max(1))
                        .min(crate::units::MAX_DURATION_MS)
                };
                if let Some(time) = plug_in {
                    if days[day.weekday()] {
                        let start = day.at(*time).plus_ms(self.jitter(*jitter_ms));
                        pulses.push(Pulse {
                            start,
                            end: start.plus_ms(duration(*daily_wh)),
                            value: Contribution::power(*power_w, phases),
                        });
                    }
                }
                for &(start, wh) in sessions {
                    if start >= day.start && start < day.end || self.first_day(start, &day) {
                        pulses.push(Pulse {
                            start,
                            end: start.plus_ms(duration(wh)),
                            value: Contribution::power(*power_w, phases),
                        });
                    }
                }
            }
            LoadKind::Pv {
                phases,
                peak_w,
                clouds_permille,
            } => self.pv(&day, phases, *peak_w, *clouds_permille, &mut pulses),
            LoadKind::Flow {
                channel,
                constant,
                daily,
                draws,
            } => {
                if *constant > 0 {
                    pulses.push(Pulse {
                        start: day.start,
                        end: day.end,
                        value: Contribution::flow(*constant, *channel),
                    });
                }
                schedule_pulses(&day, daily, &mut pulses, |f| {
                    Contribution::flow(f, *channel)
                });
                for draw in draws {
                    if !draw.days[day.weekday()] {
                        continue;
                    }
                    let from = day.at(draw.from);
                    let span = (day.at(draw.to).millis() - from.millis()).max(1);
                    for _ in 0..draw.count {
                        let start = from.plus_ms(self.rng.random_range(0..span));
                        pulses.push(Pulse {
                            start,
                            end: start.plus_ms(draw.duration_ms),
                            value: Contribution::flow(draw.ml_per_h, *channel),
                        });
                    }
                }
            }
        }
        let (steps, carry) = compose(day.start..day.end, &pulses);
        self.carry = carry;
        self.last = Some(day);
        steps
    }

    /// Whether `start` lies before `day` and `day` is the first one planned, so that
    /// absolute starts before the scenario's first day are still honoured.
    fn first_day(&self, start: SimTime, day: &Day) -> bool {
        self.last.is_none() && start < day.start
    }

    fn jitter(&mut self, jitter_ms: i64) -> i64 {
        if jitter_ms > 0 {
            self.rng.random_range(0..jitter_ms)
        } else {
            0
        }
    }

    fn pick_phase(&mut self, phases: &[usize]) -> Vec<usize> {
        let i = self.rng.random_range(0..phases.len().max(1));
        vec![phases.get(i).copied().unwrap_or(1)]
    }

    // Long: the household's parts (base, fridge, cooking, lighting) drawn in a fixed
    // order from one generator; the order is part of the seeded output.
    #[expect(clippy::too_many_arguments, reason = "one flag per household part")]
    fn household(
        &mut self,
        day: &Day,
        phases: &[usize],
        base_w: i64,
        fridge: bool,
        cooking: bool,
        lighting: bool,
        pulses: &mut Vec<Pulse>,
    ) {
        let minute = 60_000;
        let weekend = day.weekday() >= 5;
        let mut t = day.start;
        while t < day.end {
            let len = self.rng.random_range(5..=30_i64) * minute;
            let w = base_w * self.rng.random_range(700..=1300_i64) / 1000;
            pulses.push(Pulse {
                start: t,
                end: t.plus_ms(len).min(day.end),
                value: Contribution::power(w, phases),
            });
            t = t.plus_ms(len);
        }
        if fridge {
            let mut t = day.start.plus_ms(self.rng.random_range(0..40_i64) * minute);
            while t < day.end {
                let on = self.rng.random_range(12..=20_i64) * minute;
                let w = self.rng.random_range(80..=120_i64);
                let phase = self.pick_phase(phases);
                pulses.push(Pulse {
                    start: t,
                    end: t.plus_ms(on),
                    value: Contribution::power(w, &phase),
                });
                t = t.plus_ms(on + self.rng.random_range(25..=45_i64) * minute);
            }
        }
        let clock = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        if cooking {
            let breakfast = if weekend { clock(8, 0) } else { clock(6, 30) };
            let start = day
                .at(breakfast)
                .plus_ms(self.rng.random_range(0..90_i64) * minute);
            let len = self.rng.random_range(3..=4_i64) * minute;
            let phase = self.pick_phase(phases);
            let w = self.rng.random_range(2000..=2200_i64);
            pulses.push(Pulse {
                start,
                end: start.plus_ms(len),
                value: Contribution::power(w, &phase),
            });
            let mut meals = vec![clock(17, 30)];
            if weekend {
                meals.push(clock(12, 0));
            }
            for meal in meals {
                let mut t = day
                    .at(meal)
                    .plus_ms(self.rng.random_range(0..90_i64) * minute);
                let phase = self.pick_phase(phases);
                for _ in 0..self.rng.random_range(2..=4_u32) {
                    let len = self.rng.random_range(5..=15_i64) * minute;
                    let w = self.rng.random_range(1000..=3000_i64) / 10 * 10;
                    pulses.push(Pulse {
                        start: t,
                        end: t.plus_ms(len),
                        value: Contribution::power(w, &phase),
                    });
                    t = t.plus_ms(len);
                }
            }
        }
        if lighting {
            // Rough Brussels sunset per month, local clock time, minus half an hour.
            const DUSK: [(u32, u32); 12] = [
                (16, 30),
                (17, 15),
                (18, 0),
                (19, 45),
                (20, 30),
                (21, 15),
                (21, 15),
                (20, 30),
                (19, 30),
                (18, 30),
                (16, 45),
                (16, 15),
            ];
            let (h, m) = DUSK[day.date.month0() as usize];
            let mut t = day
                .at(clock(h, m))
                .plus_ms(self.rng.random_range(0..40_i64) * minute);
            let off = day
                .at(clock(22, 30))
                .plus_ms(self.rng.random_range(0..60_i64) * minute);
            while t < off {
                let len = self.rng.random_range(30..=90_i64) * minute;
                let w = self.rng.random_range(100..=300_i64);
                let phase = self.pick_phase(phases);
                let end = t.plus_ms(len).min(off);
                pulses.push(Pulse {
                    start: t,
                    end,
                    value: Contribution::power(w, &phase),
                });
                t = end;
            }
        }
    }

    fn pv(
        &mut self,
        day: &Day,
        phases: &[usize],
        peak_w: i64,
        clouds_permille: i64,
        pulses: &mut Vec<Pulse>,
    ) {
        let minute = 60_000;
        // Cloud segments for the whole day: (end, factor per-mille).
        let mut clouds = Vec::new();
        let mut t = day.start;
        while t < day.end {
            let len = self.rng.random_range(3..=40_i64) * minute;
            let cloudy = self.rng.random_range(0..1000_i64) < clouds_permille;
            let factor = self.rng.random_range(150..=600_i64);
            t = t.plus_ms(len);
            clouds.push((t, if cloudy { factor } else { 1000 }));
        }
        // The sky at the middle of each minute, the whole day at once (see `sun::Sky`).
        let mut mids = Vec::with_capacity(1500);
        let mut t = day.start;
        while t < day.end {
            mids.push(t.millis() + minute / 2);
            t = t.plus_ms(minute);
        }
        let mut sky = Vec::with_capacity(mids.len());
        sun::Sky::new().ghi_each(&mids, &mut sky);
        let mut segment = 0;
        let mut t = day.start;
        for ghi in sky {
            let end = t.plus_ms(minute).min(day.end);
            while segment + 1 < clouds.len() && clouds[segment].0 <= t {
                segment += 1;
            }
            let factor = clouds.get(segment).map_or(1000, |c| c.1);
            // Floats shape the curve only; the result is rounded to whole watts here.
            let shape = (ghi / 1000.0).min(1.0) * factor as f64 / 1000.0;
            let w = (peak_w as f64 * shape + 0.5).floor() as i64;
            if w >= 10 {
                pulses.push(Pulse {
                    start: t,
                    end,
                    value: Contribution::power(-w, phases),
                });
            }
            t = end;
        }
    }
}

/// Pulses of a (time, value) schedule on `day`; before the first entry, the last
/// entry's value applies (the schedule wraps around midnight).
fn schedule_pulses(
    day: &Day,
    entries: &[(NaiveTime, i64)],
    pulses: &mut Vec<Pulse>,
    value: impl Fn(i64) -> Contribution,
) {
    let Some(&(_, last)) = entries.last() else {
        return;
    };
    let mut from = day.start;
    let mut current = last;
    for &(time, v) in entries {
        let at = day.at(time);
        pulses.push(Pulse {
            start: from,
            end: at,
            value: value(current),
        });
        from = at;
        current = v;
    }
    pulses.push(Pulse {
        start: from,
        end: day.end,
        value: value(current),
    });
}

/// Pulses of one run of `cycle` starting at `start`.
fn cycle_pulses(start: SimTime, cycle: &[(i64, i64)], phases: &[usize], pulses: &mut Vec<Pulse>) {
    let mut t = start;
    for &(ms, w) in cycle {
        pulses.push(Pulse {
            start: t,
            end: t.plus_ms(ms),
            value: Contribution::power(w, phases),
        });
        t = t.plus_ms(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: i64, end: i64, w: i64) -> Pulse {
        Pulse {
            start: SimTime(start),
            end: SimTime(end),
            value: Contribution::power(w, &[1]),
        }
    }

    #[test]
    fn compose_sums_and_carries() {
        let (steps, carry) = compose(SimTime(0)..SimTime(100), &[p(10, 50, 100), p(40, 150, 5)]);
        let got: Vec<(i64, i64)> = steps.iter().map(|s| (s.at.0, s.value.power_w[0])).collect();
        assert_eq!(got, vec![(0, 0), (10, 100), (40, 105), (50, 5)]);
        assert_eq!(carry, vec![p(100, 150, 5)]);
    }

    #[test]
    fn compose_merges_equal_neighbours() {
        let (steps, _) = compose(SimTime(0)..SimTime(100), &[p(0, 50, 7), p(50, 100, 7)]);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].value.power_w[0], 7);
    }

    #[test]
    fn power_split_is_exact() {
        let c = Contribution::power(-1001, &[1, 2, 3]);
        assert_eq!(c.power_w.iter().sum::<i64>(), -1001);
        assert_eq!(c.power_w, [-335, -333, -333]);
    }

    #[test]
    fn sums_and_scalings_saturate_instead_of_overflowing() {
        let huge = Contribution {
            power_w: [i64::MAX, i64::MIN, 7],
            flow_ml_per_h: [i64::MAX, 0, 0, 0],
        };
        let mut sum = huge;
        sum.add_scaled(&huge, 1_000_000);
        assert_eq!(sum.power_w, [i64::MAX, i64::MIN, 7 + 7000]);
        assert_eq!(sum.flow_ml_per_h[0], i64::MAX);
        let mut sum = huge;
        sum.add(&huge, -1);
        assert_eq!(sum.power_w, [0, i64::MIN + i64::MAX, 0]);
        // In range, scaling truncates toward zero as before.
        let mut sum = Contribution::default();
        sum.add_scaled(&Contribution::power(-1001, &[1]), 999);
        assert_eq!(sum.power_w[0], -999);
        // The shortcuts for +-1000 are the general formula's results.
        let values = [
            i64::MIN,
            i64::MIN + 1,
            -1001,
            -1,
            0,
            1,
            999,
            i64::MAX - 1,
            i64::MAX,
        ];
        for a in values {
            for b in values {
                for permille in [1000, -1000] {
                    let mut sum = Contribution::power(a, &[1]);
                    sum.add_scaled(&Contribution::power(b, &[1]), permille);
                    // The scaled value saturates to i64, then the sum does.
                    let scaled = i128::from(b) * i128::from(permille) / 1000;
                    let scaled = scaled.clamp(i64::MIN.into(), i64::MAX.into()) as i64;
                    let want = a.saturating_add(scaled);
                    assert_eq!(sum.power_w[0], want, "{a} + {b} * {permille}");
                }
            }
        }
    }

    #[test]
    fn local_days_around_dst() {
        let spring = Day::of(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        assert_eq!(spring.end.0 - spring.start.0, 23 * 3_600_000);
        let autumn = Day::of(NaiveDate::from_ymd_opt(2026, 10, 25).unwrap());
        assert_eq!(autumn.end.0 - autumn.start.0, 25 * 3_600_000);
        // 02:30 does not exist on the spring day: it becomes 03:30 CEST = 01:30 UTC.
        let t = spring.at(NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        assert_eq!(t.0 - spring.start.0, (2 * 60 + 30) * 60_000);
    }
}
