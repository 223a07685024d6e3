//! `[[loads.replay]]`: the raw table of a Fluvius portal export replay and its conversion
//! into a stepwise load (the CSV itself is read by [`crate::replay`]) plus the Day/Night
//! labels that set the tariff.

use std::collections::BTreeMap;
use std::ops::Range;

use p1_meter::{MeterConfig, SimTime};
use serde::Deserialize;
use toml::Spanned;

use super::{Ctx, check_channel, convert_phases};
use crate::error::ScenarioError;
use crate::loads::{LoadKind, Pulse, compose};
use crate::replay::{self, Label};
use crate::schema::named;

/// `[[loads.replay]]`: Fluvius portal exports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplay {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub electricity: Option<Spanned<String>>,
    pub gas: Option<Spanned<String>>,
    pub phase: Option<Spanned<i64>>,
    pub gas_channel: Option<Spanned<i64>>,
    pub tariff: Option<ReplayTariffName>,
}

/// Who sets the tariff during a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayTariff {
    /// The export's Day/Night labels (the default): the driver forces each quarter's.
    Labels,
    /// The meter's calendar; a label that contradicts it is an error.
    Calendar,
}

named!(
    ReplayTariffName,
    ReplayTariff,
    "replay tariff",
    [
        ("labels", ReplayTariff::Labels),
        ("calendar", ReplayTariff::Calendar)
    ]
);

/// The tariff labels of one `[[loads.replay]]`: tariff (1 day, 2 night) by quarter start,
/// for the labelled quarters within the scenario.
#[derive(Debug, Clone)]
pub(crate) struct TariffLabels {
    /// The replay load's name (its labels count while it is enabled).
    pub load: String,
    /// Tariff by quarter start.
    pub quarters: BTreeMap<SimTime, u8>,
}

pub(super) fn convert_replay(
    ctx: &Ctx<'_>,
    span: &Range<usize>,
    r: &RawReplay,
    meter: &MeterConfig,
    start: SimTime,
    end: SimTime,
) -> Result<(LoadKind, BTreeMap<SimTime, u8>), ScenarioError> {
    let phase = match &r.phase {
        Some(p) => {
            let list = Spanned::new(p.span(), vec![*p.get_ref()]);
            convert_phases(ctx, &Some(list), meter)?[0]
        }
        None => 1,
    };
    let gas_channel = match &r.gas_channel {
        Some(c) => check_channel(ctx, c)?,
        None => 1,
    };
    if r.electricity.is_none() && r.gas.is_none() {
        return Err(ctx.err(
            span,
            "a replay needs `electricity` and/or `gas` (CSV paths)",
        ));
    }
    let read = |file: &Spanned<String>| -> Result<(String, String), ScenarioError> {
        let full = ctx.base.join(file.get_ref());
        let label = full.display().to_string();
        std::fs::read_to_string(&full)
            .map(|t| (label.clone(), t))
            .map_err(|e| ctx.err(&file.span(), format!("cannot read `{label}`: {e}")))
    };
    let mut pulses = Vec::new();
    let mut labels = BTreeMap::new();
    if let Some(file) = &r.electricity {
        let (label, text) = read(file)?;
        let quarters = replay::parse_electricity(&label, &text)?;
        let strict = r.tariff.is_some_and(|t| t.0 == ReplayTariff::Calendar);
        for q in quarters
            .iter()
            .filter(|q| q.start >= start && q.start < end)
        {
            if let Some(l) = q.label {
                let expected = match l {
                    Label::Day => 1,
                    Label::Night => 2,
                };
                let (local, _) = q.start.local();
                if strict && meter.tariff.tariff_at(local) != expected {
                    return Err(ScenarioError {
                        path: label,
                        line: q.line,
                        column: 1,
                        message: format!(
                            "the export labels the quarter at {local} {l:?}, but the \
                             scenario's [meter.tariff] calendar gives tariff {}, and this \
                             replay has `tariff = \"calendar\"`: adjust [meter.tariff], or \
                             drop `tariff` to let the labels set the tariff",
                            3 - expected
                        ),
                    });
                }
                if !strict {
                    labels.insert(q.start, expected);
                }
            }
            let q_end = q.start.plus_ms(900_000);
            let half = q.start.plus_ms(450_000);
            // Quarters are bounded by `MAX_QUARTER_WH` when parsed; saturating keeps
            // hand-built ones from overflowing.
            match (q.offtake_wh, q.injection_wh) {
                (0, 0) => {}
                (imp, 0) => pulses.push(Pulse {
                    start: q.start,
                    end: q_end,
                    value: crate::loads::Contribution::power(imp.saturating_mul(4), &[phase]),
                }),
                (0, exp) => pulses.push(Pulse {
                    start: q.start,
                    end: q_end,
                    value: crate::loads::Contribution::power(exp.saturating_mul(-4), &[phase]),
                }),
                (imp, exp) => {
                    pulses.push(Pulse {
                        start: q.start,
                        end: half,
                        value: crate::loads::Contribution::power(imp.saturating_mul(8), &[phase]),
                    });
                    pulses.push(Pulse {
                        start: half,
                        end: q_end,
                        value: crate::loads::Contribution::power(exp.saturating_mul(-8), &[phase]),
                    });
                }
            }
        }
    }
    if let Some(file) = &r.gas {
        let (label, text) = read(file)?;
        for h in replay::parse_gas(&label, &text)? {
            if h.start >= start.plus_ms(-3_600_000) && h.start < end && h.dm3 > 0 {
                pulses.push(Pulse {
                    start: h.start,
                    end: h.start.plus_ms(3_600_000),
                    value: crate::loads::Contribution::flow(
                        h.dm3.saturating_mul(1000),
                        gas_channel,
                    ),
                });
            }
        }
    }
    let (mut steps, _) = compose(start..end, &pulses);
    // Nothing is known past the scenario's end: the replay stops there.
    steps.push(crate::loads::Step {
        at: end,
        value: crate::loads::Contribution::default(),
    });
    Ok((LoadKind::Steps(steps), labels))
}
