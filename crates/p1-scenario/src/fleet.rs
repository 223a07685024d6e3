//! Fleets: many distinct meters from one scenario (`p1sim fleet S.toml --meters N`) or
//! from a fleet file mixing scenarios by count or share (docs/fleet.md). [`Fleet`] holds
//! each scenario built once; [`Fleet::meter`] derives meter `k`'s identity (equipment
//! ids, seed, phase within the second) from the fleet seed and `k` alone, and
//! [`Fleet::scenario`] applies it to a clone through the scenario's setters, so meter `k`
//! is the same bytes in a fleet of 10 or 10 000, alone or in any shard.
//!
//! Identity of meter `k` (serial `s` = the group's `id_base` + `k`'s place in the group,
//! or the fleet's `id_base` + `k`):
//! - electricity: `1SAG1` (S211) or `1SAG3` (T211) and `s` in 9 digits, as real ids
//!   (`1SAG1100057729`, `1SAG3100721326`; spec "Equipment ids");
//! - M-Bus device `n` of the meter (configured ones, then those events couple): gas
//!   `7FLO21`, water `8SET00`, other `9SAG00`, then `s × 8 + n` in 8 digits;
//! - seed: [`meter_seed`]; phase: [`meter_phase_ms`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use p1_meter::MbusKind;
use p1_wire::Model;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{ErrorKind, ScenarioError};
use crate::scenario::Scenario;
use crate::units::{Duration, parse_decimal};

/// Largest serial an electricity id can carry (9 digits).
const MAX_SERIAL: u64 = 1_000_000_000;
/// M-Bus ids carry `serial × 8 + n` in 8 digits, so a fleet's serials stay below this.
const MAX_MBUS_SERIAL: u64 = 100_000_000 / MBUS_PER_METER;
/// M-Bus devices one meter may name (configured and coupled by events).
const MBUS_PER_METER: u64 = 8;

/// SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection on `u64` whose output
/// bits each depend on every input bit.
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of meter `index` of a fleet seeded `fleet_seed`:
/// `mix64(fleet_seed ^ mix64(index))`. It depends on nothing else (not the fleet's size,
/// the shard or the order meters are run in).
pub fn meter_seed(fleet_seed: u64, index: u64) -> u64 {
    mix64(fleet_seed ^ mix64(index))
}

/// Phase of a meter within `spread_ms` (its telegrams are sent that long after each
/// instant when live): `mix64(seed ^ 0x50_4841_5345) % spread_ms` (the constant is
/// "PHASE" in ASCII), 0 without spread.
pub fn meter_phase_ms(seed: u64, spread_ms: i64) -> i64 {
    match u64::try_from(spread_ms) {
        Ok(spread) if spread > 0 => {
            i64::try_from(mix64(seed ^ 0x50_4841_5345) % spread).unwrap_or_default()
        }
        _ => 0,
    }
}

/// Whether `text` is a fleet file (it has `[[group]]` tables, which a scenario never has).
pub fn is_fleet_file(text: &str) -> bool {
    text.parse::<toml::Table>()
        .map(|t| t.contains_key("group"))
        .unwrap_or(false)
}

/// One scenario of a fleet and how many meters run it.
#[derive(Debug, Clone)]
pub struct Group {
    /// The scenario file as the fleet names it.
    pub label: String,
    /// The scenario, built once.
    pub scenario: Scenario,
    /// Meters of this group.
    pub count: u64,
    /// First serial of the group, when the file gives one.
    id_base: Option<u64>,
    /// Index of the group's first meter.
    first: u64,
}

/// A fleet: groups of meters, each group one scenario, meters numbered from 0 in group
/// order.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Short name (the file stem by default).
    pub name: String,
    /// Free text.
    pub description: String,
    seed: u64,
    phase_spread_ms: i64,
    id_base: u64,
    groups: Vec<Group>,
    /// `out` of the fleet file with its position (a default for `--out`).
    out: Option<(String, Position)>,
}

/// A place in the fleet file (for errors found when the output is opened).
#[derive(Debug, Clone)]
pub struct Position {
    path: String,
    line: usize,
    column: usize,
}

impl Position {
    /// An error at this place.
    pub fn error(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError::new(&self.path, self.line, self.column, message.into())
    }
}

/// Who meter `index` is: everything that distinguishes it from the other meters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterIdentity {
    /// Index in the fleet, from 0.
    pub index: u64,
    /// Group (scenario) of the meter.
    pub group: usize,
    /// Seed of every random draw of this meter.
    pub seed: u64,
    /// Serial number behind the equipment ids.
    pub serial: u64,
    /// Electricity equipment id (`0-0:96.1.1`).
    pub equipment_id: String,
    /// Offset of its telegrams after each instant, ms (live outputs only).
    pub phase_ms: i64,
}

impl Fleet {
    /// `meters` meters of `scenario` (named `label`), seeded `seed`, phases spread over
    /// the first second (or the telegram step, if shorter).
    pub fn of_scenario(
        scenario: Scenario,
        label: &str,
        meters: u64,
        seed: u64,
    ) -> Result<Fleet, String> {
        if meters == 0 {
            return Err("a fleet has at least one meter".into());
        }
        if meters > MAX_MBUS_SERIAL {
            return Err(format!(
                "at most {MAX_MBUS_SERIAL} meters fit the 8-digit M-Bus ids, {meters} asked"
            ));
        }
        let phase_spread_ms = scenario.telegram_step_ms().min(1000);
        Ok(Fleet {
            name: scenario.name.clone(),
            description: String::new(),
            seed,
            phase_spread_ms,
            id_base: 0,
            groups: vec![Group {
                label: label.to_owned(),
                scenario,
                count: meters,
                id_base: None,
                first: 0,
            }],
            out: None,
        })
    }

    /// Reads and validates the fleet file at `path`; scenarios are found relative to its
    /// directory.
    pub fn from_path(path: &Path) -> Result<Fleet, ScenarioError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ScenarioError::new(&label, 1, 1, format!("cannot read the fleet file: {e}"))
                .with_kind(ErrorKind::Read)
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut fleet = Fleet::parse_in(&label, &text, &base, None)?;
        if fleet.name.is_empty() {
            fleet.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(fleet)
    }

    /// Validates fleet `text` (named `path` in errors), reading scenarios relative to
    /// `base`; `meters` overrides the file's `meters` (for shares).
    pub fn parse_in(
        path: &str,
        text: &str,
        base: &Path,
        meters: Option<u64>,
    ) -> Result<Fleet, ScenarioError> {
        let err = |span: &Range<usize>, m: String| ScenarioError::at_span(path, text, span, m);
        let raw: RawFleet = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let mut message = e.message().to_owned();
            if message.contains("`start`") && message.starts_with("unknown") {
                message.push_str(" (is this a scenario? run `p1sim fleet SCENARIO --meters N`)");
            }
            ScenarioError::toml(path, text, offset, &message)
        })?;
        if raw.group.is_empty() {
            return Err(ScenarioError::new(
                path,
                1,
                1,
                "a fleet file needs at least one [[group]] (scenario = \"...\", count = N)".into(),
            ));
        }
        let counts = group_counts(path, text, &raw, meters)?;
        let mut groups: Vec<Group> = Vec::new();
        let mut first = 0u64;
        for (g, count) in raw.group.iter().zip(counts) {
            let file = g.get_ref().scenario.get_ref();
            let at = resolve(base, file);
            if !at.is_file() {
                return Err(err(
                    &g.get_ref().scenario.span(),
                    format!("no scenario file `{}`", at.display()),
                ));
            }
            let scenario = Scenario::from_path(&at)?;
            groups.push(Group {
                label: file.clone(),
                scenario,
                count,
                id_base: g.get_ref().id_base.as_ref().map(|b| *b.get_ref()),
                first,
            });
            first = first.saturating_add(count);
        }
        let id_base = raw.id_base.as_ref().map_or(0, |b| *b.get_ref());
        check_serials(&raw, &groups, id_base, &err)?;
        let phase_spread_ms = match &raw.phase {
            Some(p) => {
                let step = groups
                    .iter()
                    .map(|g| g.scenario.telegram_step_ms())
                    .min()
                    .unwrap_or(1000);
                let spread = p.get_ref().0;
                if !(0..=step).contains(&spread) {
                    return Err(err(
                        &p.span(),
                        format!(
                            "the phase spread is between 0s and the shortest telegram step \
                             ({step} ms), found {spread} ms"
                        ),
                    ));
                }
                spread
            }
            None => groups
                .iter()
                .map(|g| g.scenario.telegram_step_ms())
                .min()
                .unwrap_or(1000)
                .min(1000),
        };
        let out = raw.out.as_ref().map(|o| {
            let (line, column) = crate::error::line_col(text, o.span().start);
            (
                o.get_ref().clone(),
                Position {
                    path: path.to_owned(),
                    line,
                    column,
                },
            )
        });
        Ok(Fleet {
            name: raw.name.clone().unwrap_or_default(),
            description: raw.description.clone().unwrap_or_default(),
            seed: raw.seed.unwrap_or(0),
            phase_spread_ms,
            id_base,
            groups,
            out,
        })
    }

    /// Number of meters.
    pub fn len(&self) -> u64 {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// Whether the fleet has no meter (never true of a built fleet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fleet seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draws every meter's seed from `seed` instead (e.g. `--seed`).
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Largest phase offset, ms (0: all meters in lockstep).
    pub fn phase_spread_ms(&self) -> i64 {
        self.phase_spread_ms
    }

    /// The groups, in file order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The fleet file's `out` and where it was written.
    pub fn out(&self) -> Option<(&str, &Position)> {
        self.out.as_ref().map(|(o, p)| (o.as_str(), p))
    }

    /// Identity of meter `index` (`index < len()`; a larger index names the last group's
    /// continuation, which no caller asks for).
    pub fn meter(&self, index: u64) -> MeterIdentity {
        let group = self
            .groups
            .iter()
            .position(|g| index < g.first.saturating_add(g.count))
            .unwrap_or(self.groups.len().saturating_sub(1));
        let g = &self.groups[group];
        let serial = match g.id_base {
            Some(b) => b + (index - g.first),
            None => self.id_base + index,
        };
        let seed = meter_seed(self.seed, index);
        let block = match g.scenario.meter().model {
            Model::S211 => '1',
            Model::T211 => '3',
        };
        MeterIdentity {
            index,
            group,
            seed,
            serial,
            equipment_id: format!("1SAG{block}{serial:09}"),
            phase_ms: meter_phase_ms(seed, self.phase_spread_ms),
        }
    }

    /// The scenario of meter `id`: its group's, with the meter's seed and ids.
    pub fn scenario(&self, id: &MeterIdentity) -> Result<Scenario, String> {
        let mut scenario = self.groups[id.group].scenario.clone();
        scenario.set_seed(id.seed);
        let serial = id.serial;
        let mut too_many = false;
        scenario
            .set_equipment_ids(&id.equipment_id, |n, device| {
                let n = n as u64;
                if n >= MBUS_PER_METER {
                    too_many = true;
                }
                mbus_id(
                    &device.kind,
                    serial * MBUS_PER_METER + n.min(MBUS_PER_METER - 1),
                )
            })
            .map_err(|e| format!("{}: {}", e.field, e.message))?;
        if too_many {
            return Err(format!(
                "a fleet meter names at most {MBUS_PER_METER} M-Bus devices"
            ));
        }
        Ok(scenario)
    }
}

/// The id of an M-Bus device of `kind` with number `n` (8 digits).
fn mbus_id(kind: &MbusKind, n: u64) -> String {
    let prefix = match kind {
        MbusKind::Gas => "7FLO21",
        MbusKind::Water => "8SET00",
        MbusKind::Other(_) => "9SAG00",
    };
    format!("{prefix}{n:08}")
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Meters per group: the counts, or the shares of `meters` (largest remainder, ties to
/// the earlier group).
fn group_counts(
    path: &str,
    text: &str,
    raw: &RawFleet,
    meters: Option<u64>,
) -> Result<Vec<u64>, ScenarioError> {
    let err = |span: &Range<usize>, m: String| ScenarioError::at_span(path, text, span, m);
    let mut counts = Vec::new();
    let mut shares = Vec::new();
    for g in &raw.group {
        let gr = g.get_ref();
        match (&gr.count, &gr.share) {
            (Some(c), None) if *c.get_ref() == 0 => {
                return Err(err(&c.span(), "a group has at least one meter".into()));
            }
            (Some(c), None) => counts.push((c.span(), *c.get_ref())),
            (None, Some(s)) => shares.push((s.span(), s.get_ref().0)),
            (Some(c), Some(_)) => {
                return Err(err(&c.span(), "give `count` or `share`, not both".into()));
            }
            (None, None) => {
                return Err(err(
                    &g.span(),
                    "a group needs `count = N` or `share = \"P%\"`".into(),
                ));
            }
        }
    }
    if !counts.is_empty() && !shares.is_empty() {
        return Err(err(
            &shares[0].0,
            "groups give either all counts or all shares; this one has a share, an earlier \
             or later one a count"
                .into(),
        ));
    }
    let total_span = raw.meters.as_ref().map_or(0..0, Spanned::span);
    if shares.is_empty() {
        let total = counts.iter().map(|c| c.1).fold(0u64, u64::saturating_add);
        if let Some(m) = meters
            && m != total
        {
            return Err(err(
                &counts[0].0,
                format!(
                    "--meters {m}, but the groups' counts add up to {total} (--meters sets \
                     the size of a fleet of shares)"
                ),
            ));
        }
        if let (Some(m), None) = (&raw.meters, meters)
            && *m.get_ref() != total
        {
            return Err(err(
                &m.span(),
                format!(
                    "`meters` is {} but the groups' counts add up to {total}",
                    m.get_ref()
                ),
            ));
        }
        if total > MAX_MBUS_SERIAL {
            return Err(err(
                &total_span,
                format!("at most {MAX_MBUS_SERIAL} meters fit the ids, {total} asked"),
            ));
        }
        return Ok(counts.into_iter().map(|c| c.1).collect());
    }
    let sum: i64 = shares.iter().map(|s| s.1).sum();
    if sum != 10_000 {
        return Err(err(
            &shares[shares.len() - 1].0,
            format!(
                "the shares add up to {}.{:02}%, not 100%",
                sum / 100,
                sum % 100
            ),
        ));
    }
    let total = match (meters, &raw.meters) {
        (Some(m), _) => m,
        (None, Some(m)) => *m.get_ref(),
        (None, None) => {
            return Err(err(
                &shares[0].0,
                "groups with shares need the fleet's `meters = N` (or --meters N)".into(),
            ));
        }
    };
    if total == 0 || total > MAX_MBUS_SERIAL {
        return Err(err(
            &total_span,
            format!("a fleet has 1 to {MAX_MBUS_SERIAL} meters, found {total}"),
        ));
    }
    // Largest remainder, in exact integers (basis points × meters).
    let exact: Vec<u128> = shares
        .iter()
        .map(|s| s.1 as u128 * u128::from(total))
        .collect();
    let mut out: Vec<u64> = exact.iter().map(|e| (e / 10_000) as u64).collect();
    let mut left = total - out.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(exact[i] % 10_000));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    if let Some(i) = out.iter().position(|&c| c == 0) {
        return Err(err(
            &shares[i].0,
            format!("this share of {total} meters is no meter: give more meters or a larger share"),
        ));
    }
    Ok(out)
}

/// Serial ranges must fit the ids and not overlap (overlapping serials would give two
/// meters the same gas and water ids even when their electricity ids differ).
fn check_serials(
    raw: &RawFleet,
    groups: &[Group],
    id_base: u64,
    err: &dyn Fn(&Range<usize>, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    let mut ranges: Vec<(u64, u64, usize)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let start = g.id_base.unwrap_or(id_base.saturating_add(g.first));
        let end = start.saturating_add(g.count);
        let span = raw.group[i].get_ref().id_base.as_ref().map_or_else(
            || raw.id_base.as_ref().map_or(0..0, Spanned::span),
            Spanned::span,
        );
        if end > MAX_SERIAL.min(MAX_MBUS_SERIAL) {
            return Err(err(
                &span,
                format!(
                    "serials {start}..{end} do not fit the ids (serials stay below {})",
                    MAX_SERIAL.min(MAX_MBUS_SERIAL)
                ),
            ));
        }
        if let Some(&(s, e, other)) = ranges.iter().find(|(s, e, _)| start < *e && *s < end) {
            return Err(err(
                &span,
                format!(
                    "id collision: serials {start}..{end} of group {} overlap serials \
                     {s}..{e} of group {} (`{}`)",
                    i + 1,
                    other + 1,
                    groups[other].label
                ),
            ));
        }
        ranges.push((start, end, i));
    }
    Ok(())
}

/// A share: `"30%"`, `"12.5%"` (basis points).
#[derive(Debug, Clone, Copy)]
struct Share(i64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Share, D::Error> {
        let text = String::deserialize(d)?;
        let bad = || {
            serde::de::Error::custom(format!(
                "`{text}` is not a share: write a percentage such as \"30%\" or \"12.5%\""
            ))
        };
        let number = text.trim().strip_suffix('%').ok_or_else(bad)?;
        let bp = parse_decimal(number.trim(), 2).map_err(|_| bad())?;
        if !(0..=10_000).contains(&bp) {
            return Err(serde::de::Error::custom(format!(
                "a share is between 0% and 100%, found `{text}`"
            )));
        }
        Ok(Share(bp))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    meters: Option<Spanned<u64>>,
    id_base: Option<Spanned<u64>>,
    phase: Option<Spanned<Duration>>,
    out: Option<Spanned<String>>,
    #[serde(default)]
    group: Vec<Spanned<RawGroup>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    scenario: Spanned<String>,
    count: Option<Spanned<u64>>,
    share: Option<Spanned<Share>>,
    id_base: Option<Spanned<u64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
    }

    fn fleet(text: &str, meters: Option<u64>) -> Result<Fleet, ScenarioError> {
        Fleet::parse_in("f.toml", text, &scenarios(), meters)
    }

    #[test]
    fn mix64_is_splitmix64() {
        // SplitMix64's first outputs from state 0 (Vigna's reference implementation).
        assert_eq!(mix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(meter_seed(5, 3), mix64(5 ^ mix64(3)));
    }

    #[test]
    fn shares_split_by_largest_remainder() {
        let text = "meters = 10\n[[group]]\nscenario = \"quickstart.toml\"\nshare = \"33.33%\"\n\
                    [[group]]\nscenario = \"delta-grid.toml\"\nshare = \"33.33%\"\n\
                    [[group]]\nscenario = \"prepaid.toml\"\nshare = \"33.34%\"\n";
        let f = fleet(text, None).unwrap();
        let counts: Vec<u64> = f.groups().iter().map(|g| g.count).collect();
        assert_eq!(counts, [3, 3, 4]);
        let f = fleet(text, Some(2)).unwrap_err();
        assert!(f.message.contains("no meter"), "{f}");
        let f = fleet(text, Some(100)).unwrap();
        let counts: Vec<u64> = f.groups().iter().map(|g| g.count).collect();
        assert_eq!(counts, [33, 33, 34]);
    }

    #[test]
    fn ids_follow_the_model_and_the_medium() {
        let text = "id_base = 42\n[[group]]\nscenario = \"quickstart.toml\"\ncount = 2\n\
                    [[group]]\nscenario = \"prepaid.toml\"\ncount = 1\nid_base = 7000\n";
        let f = fleet(text, None).unwrap();
        let m1 = f.meter(1);
        // quickstart is a T211 with gas and water; prepaid an S211.
        assert_eq!(m1.equipment_id, "1SAG3000000043");
        let s = f.scenario(&m1).unwrap();
        let ids: Vec<&str> = s
            .meter()
            .mbus
            .iter()
            .map(|d| d.equipment_id.as_str())
            .collect();
        assert_eq!(ids, ["7FLO2100000344", "8SET0000000345"]);
        assert_eq!(s.seed(), meter_seed(0, 1));
        assert_eq!(f.meter(2).equipment_id, "1SAG1000007000");
        assert_eq!(f.meter(2).group, 1);
    }

    #[test]
    fn meters_given_to_a_fleet_of_counts_must_match() {
        let text = "[[group]]\nscenario = \"quickstart.toml\"\ncount = 2\n";
        let e = fleet(text, Some(5)).unwrap_err();
        assert_eq!((e.line, e.column), (3, 9));
        assert!(
            e.message
                .starts_with("--meters 5, but the groups' counts add up to 2")
        );
        assert!(fleet(text, Some(2)).is_ok());
    }
}
