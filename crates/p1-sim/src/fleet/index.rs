//! The fleet index, `fleet.json`: one entry per meter (index, equipment and M-Bus ids,
//! scenario, seed, phase, and where its stream is: a file or a pty). Written
//! entry by entry in index order, so it costs no memory per meter; staged and renamed
//! like every output file.

use std::path::Path;

use p1_scenario::{Fleet, MeterIdentity};
use serde_json::json;

use super::Selection;
use crate::error::CliError;
use crate::staged::{StagedFile, commit_all};

/// `<equipment id>.p1`.
pub(crate) fn stream_name(id: &MeterIdentity) -> String {
    format!("{}.p1", id.equipment_id)
}

/// `<equipment id>.truth.jsonl`.
pub(crate) fn truth_name(id: &MeterIdentity) -> String {
    format!("{}.truth.jsonl", id.equipment_id)
}

/// Where the meters' streams are.
pub(crate) enum Where<'a> {
    /// Files in the index's directory.
    Dir,
    /// Ptys, by selection position.
    Pty(&'a [String]),
}

/// One meter's entry.
fn entry(
    fleet: &Fleet,
    id: &MeterIdentity,
    n: usize,
    truth: bool,
    at: &Where<'_>,
) -> Result<serde_json::Value, CliError> {
    let scenario = fleet
        .scenario(id)
        .map_err(|m| CliError::Usage(format!("meter {}: {m}", id.index)))?;
    let mbus: Vec<&str> = scenario
        .meter()
        .mbus
        .iter()
        .map(|d| d.equipment_id.as_str())
        .collect();
    let group = &fleet.groups()[id.group];
    let mut e = json!({
        "index": id.index,
        "equipment_id": id.equipment_id,
        "mbus": mbus,
        "scenario": group.label,
        "seed": id.seed,
        "phase_ms": id.phase_ms,
    });
    match at {
        Where::Dir => {
            e["path"] = json!(stream_name(id));
            if truth {
                e["truth"] = json!(truth_name(id));
            }
        }
        Where::Pty(paths) => {
            e["path"] = json!(paths.get(n));
            e["link"] = json!(id.equipment_id);
        }
    }
    Ok(e)
}

/// Writes the index of `selection` to `dir`.
pub(crate) fn write(
    fleet: &Fleet,
    selection: Selection,
    dir: &Path,
    truth: bool,
    at: &Where<'_>,
) -> Result<(), CliError> {
    let mut file = StagedFile::create(&dir.join(selection.index_name()))?;
    let head = json!({
        "fleet": fleet.name,
        "seed": fleet.seed(),
        "meters": fleet.len(),
        "selected": selection.count(),
        "phase_spread_ms": fleet.phase_spread_ms(),
    });
    let head = head.to_string();
    // The head object, opened again to append the entries one per line.
    file.write(head.trim_end_matches('}').as_bytes())?;
    file.write(b",\"entries\":[\n")?;
    for (n, k) in selection.indices().enumerate() {
        if n > 0 {
            file.write(b",\n")?;
        }
        let e = entry(fleet, &fleet.meter(k), n, truth, at)?;
        file.write(e.to_string().as_bytes())?;
    }
    file.write(b"\n]}\n")?;
    commit_all(vec![file])
}
