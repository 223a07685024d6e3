//! `[[faults]]`: the raw tables (p1-faults' fault kinds as is, schedules with scenario
//! instants) and their conversion into [`p1_faults::FaultSpec`]s.

use p1_faults::{FaultInjector, FaultPart, FaultSpec, Schedule};
use p1_meter::SimTime;
use serde::Deserialize;
use toml::Spanned;

use super::Ctx;
use crate::error::ScenarioError;
use crate::units::At;

/// One `[[faults]]` table: p1-faults' [`p1_faults::FaultKind`] as is, and a schedule whose
/// instants may be written like any scenario instant (converted to the milliseconds
/// p1-faults expects by [`crate::scenario`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub fault: Spanned<p1_faults::FaultKind>,
    pub schedule: Spanned<RawFaultSchedule>,
}

/// `schedule = { .. }` of a fault: p1-faults' forms plus `at` and `window = { from, until }`
/// with scenario instants or offsets from `start`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawFaultSchedule {
    AtIndex(u64),
    AtMs(i64),
    At(Spanned<At>),
    Window(Spanned<RawWindow>),
    Every {
        n: u64,
        #[serde(default)]
        offset: u64,
    },
    Probability(f64),
}

/// `window = { from = "+1m", until = "+2m" }` (or `from_ms`/`until_ms`): telegrams with
/// `from <= t < until`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWindow {
    pub from: Option<Spanned<At>>,
    pub until: Option<Spanned<At>>,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// Converts the `[[faults]]` tables into the injector: scenario instants in schedules
/// become the ms since the epoch p1-faults expects; the faults' rules are
/// [`FaultInjector::new`]'s, whose errors point at the fault or schedule they name.
/// `None` when the file has no faults (bytes are then the meter's, untouched).
pub(super) fn convert_faults(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawFault>],
    start: SimTime,
    seed: u64,
) -> Result<Option<FaultInjector>, ScenarioError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let specs = raw
        .iter()
        .map(|f| {
            let r = f.get_ref();
            Ok(FaultSpec {
                fault: r.fault.get_ref().clone(),
                schedule: convert_schedule(ctx, &r.schedule, start)?,
            })
        })
        .collect::<Result<Vec<_>, ScenarioError>>()?;
    FaultInjector::new(specs, seed).map(Some).map_err(|e| {
        let Some(f) = raw.get(e.index) else {
            return ctx.err(&(0..0), format!("faults: {e}"));
        };
        match e.part {
            FaultPart::Fault => ctx.err(
                &f.get_ref().fault.span(),
                format!("fault `{}`: expected {}", e.kind, e.message),
            ),
            FaultPart::Schedule => ctx.err(
                &f.get_ref().schedule.span(),
                format!("schedule: expected {}", e.message),
            ),
        }
    })
}

fn convert_schedule(
    ctx: &Ctx<'_>,
    s: &Spanned<RawFaultSchedule>,
    start: SimTime,
) -> Result<Schedule, ScenarioError> {
    Ok(match s.get_ref() {
        RawFaultSchedule::AtIndex(n) => Schedule::AtIndex(*n),
        RawFaultSchedule::AtMs(ms) => Schedule::AtMs(*ms),
        RawFaultSchedule::At(at) => {
            let t = at.get_ref().resolve(start);
            if t < start {
                return Err(ctx.err(&at.span(), "this instant is before the scenario's `start`"));
            }
            Schedule::AtMs(t.millis())
        }
        RawFaultSchedule::Window(w) => {
            let RawWindow {
                from,
                until,
                from_ms,
                until_ms,
            } = w.get_ref();
            let bound = |at: &Option<Spanned<At>>, ms: &Option<i64>, name: &str| match (at, ms) {
                (Some(a), None) => Ok(a.get_ref().resolve(start).millis()),
                (None, Some(ms)) => Ok(*ms),
                (Some(_), Some(_)) => Err(ctx.err(
                    &w.span(),
                    format!("give either `{name}` or `{name}_ms`, not both"),
                )),
                (None, None) => Err(ctx.err(
                    &w.span(),
                    format!("a window needs `{name}` (an instant or \"+10m\") or `{name}_ms`"),
                )),
            };
            let (a, b) = (
                bound(from, from_ms, "from")?,
                bound(until, until_ms, "until")?,
            );
            if a >= b {
                let span = until.as_ref().map_or(w.span(), Spanned::span);
                return Err(ctx.err(&span, "a window's `until` must be after its `from`"));
            }
            Schedule::Window {
                from_ms: a,
                until_ms: b,
            }
        }
        RawFaultSchedule::Every { n, offset } => Schedule::Every {
            n: *n,
            offset: *offset,
        },
        RawFaultSchedule::Probability(p) => Schedule::Probability(*p),
    })
}
