//! `[[loads.replay]]`: the raw table of a Fluvius portal export replay and its conversion
//! into a stepwise load (the CSV itself is read by [`crate::replay`]) plus the Day/Night
//! labels that set the tariff.

use std::collections::BTreeMap;
use std::ops::Range;

use p1_meter::{MeterConfig, SimTime};
use serde::Deserialize;
use toml::Spanned;

use super::{Ctx, check_channel, convert_phases};
use crate::error::{ErrorKind, ScenarioError};
use crate::loads::LoadKind;
use crate::replay::load::ReplayLoad;
use crate::replay::{self, Gaps, Label, Shape};
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
    pub gaps: Option<Spanned<ReplayGapsName>>,
    pub shape: Option<ReplayShapeName>,
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

named!(
    ReplayGapsName,
    Gaps,
    "replay gaps policy",
    [
        ("refuse", Gaps::Refuse),
        ("zero", Gaps::Zero),
        ("hold", Gaps::Hold)
    ]
);

named!(
    ReplayShapeName,
    Shape,
    "replay shape",
    [("flat", Shape::Flat), ("household", Shape::Household)]
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
    let gaps = r.gaps.as_ref().map_or(Gaps::Refuse, |g| g.get_ref().0);
    let open = |file: &Spanned<String>| -> Result<(String, std::fs::File), ScenarioError> {
        let full = ctx.base.join(file.get_ref());
        let label = full.display().to_string();
        std::fs::File::open(&full)
            .map(|f| (label.clone(), f))
            .map_err(|e| {
                ctx.err(&file.span(), format!("cannot read `{label}`: {e}"))
                    .with_kind(ErrorKind::Read)
            })
    };
    // An export that lies wholly outside the run would silently replay nothing.
    let outside = |file: &Spanned<String>, from: SimTime, to: SimTime, what: &str| {
        let local = |t: SimTime| t.local().0.format("%Y-%m-%d %H:%M").to_string();
        ctx.err(
            &file.span(),
            format!(
                "the {what} export covers {} to {}, which does not overlap the run ({} to \
                 {}): nothing would be replayed; set `start` and `end` within the export",
                local(from),
                local(to),
                local(start),
                local(end)
            ),
        )
    };
    let mut labels = BTreeMap::new();
    let electricity = match &r.electricity {
        Some(file) => {
            let (label, input) = open(file)?;
            let export = replay::read_electricity(&label, input, gaps, None)?;
            if export.end() <= start || export.start() >= end {
                return Err(outside(file, export.start(), export.end(), "electricity"));
            }
            let strict = r.tariff.is_some_and(|t| t.0 == ReplayTariff::Calendar);
            for q in export.overlapping(start, end) {
                let Some(l) = q.label else { continue };
                let expected = match l {
                    Label::Day => 1,
                    Label::Night => 2,
                };
                let (local, _) = q.start.local();
                if strict && meter.tariff.tariff_at(local) != expected {
                    return Err(ScenarioError::new(
                        &label,
                        q.line,
                        1,
                        format!(
                            "the export labels the quarter at {local} {l:?}, but the \
                             scenario's [meter.tariff] calendar gives tariff {}, and this \
                             replay has `tariff = \"calendar\"`: adjust [meter.tariff], or \
                             drop `tariff` to let the labels set the tariff",
                            3 - expected
                        ),
                    ));
                }
                if !strict {
                    labels.insert(q.start, expected);
                }
            }
            Some(export)
        }
        None => None,
    };
    let gas = match &r.gas {
        Some(file) => {
            let (label, input) = open(file)?;
            let export = replay::read_gas(&label, input, gaps, None)?;
            if export.end() <= start || export.start() >= end {
                return Err(outside(file, export.start(), export.end(), "gas"));
            }
            Some(export)
        }
        None => None,
    };
    let load = ReplayLoad {
        electricity,
        gas,
        phase,
        gas_channel,
        shape: r.shape.map_or(Shape::Flat, |s| s.0),
        window: start..end,
    };
    Ok((LoadKind::Replay(std::sync::Arc::new(load)), labels))
}
