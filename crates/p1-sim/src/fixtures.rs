//! `p1sim fixtures`: turns the scenario catalogue (`scenarios/*.toml`) into golden files
//! (`golden/<name>.p1`, the exact byte stream, and `golden/<name>.truth.jsonl`), or with
//! `--check` regenerates them in memory and fails on the first byte that differs.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use p1_scenario::{Scenario, Simulation, TruthRecord};

use crate::error::CliError;
use crate::summary::Summary;

/// The byte stream and truth file of one scenario.
pub struct Rendered {
    /// Concatenated telegrams.
    pub p1: Vec<u8>,
    /// JSON lines, one per telegram instant.
    pub truth: Vec<u8>,
    /// What the run did.
    pub summary: Summary,
}

/// Runs `scenario` to the end in memory.
pub fn render(scenario: &Scenario) -> Result<Rendered, CliError> {
    let sim = Simulation::new(scenario);
    let mut p1 = Vec::new();
    let mut truth = Vec::new();
    let mut summary = Summary::new(scenario.telegram_step_ms());
    for frame in sim {
        summary.observe(&frame);
        p1.extend_from_slice(&frame.bytes);
        truth.extend_from_slice(TruthRecord::from_frame(&frame).to_json_line().as_bytes());
        truth.push(b'\n');
    }
    Ok(Rendered { p1, truth, summary })
}

/// The scenario files of the catalogue, sorted by name.
pub fn catalogue(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries = fs::read_dir(dir).map_err(|e| CliError::io(&dir.display().to_string(), e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| CliError::io(&dir.display().to_string(), e))?
            .path();
        if path.extension().is_some_and(|x| x == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Where `ours` first differs from `theirs`, described for a person; `None` if equal.
fn difference(ours: &[u8], theirs: &[u8], is_p1: bool) -> Option<String> {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .or_else(|| (ours.len() != theirs.len()).then_some(ours.len().min(theirs.len())))?;
    let unit = if is_p1 {
        let k = ours[..at.min(ours.len())]
            .iter()
            .filter(|&&b| b == b'/')
            .count();
        format!("telegram {}", k.max(1))
    } else {
        let k = ours[..at.min(ours.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        format!("line {}", k + 1)
    };
    Some(format!(
        "first difference at byte {at} ({unit}); regenerated {} bytes, golden {} bytes",
        ours.len(),
        theirs.len()
    ))
}

/// `p1sim fixtures [--check]`: returns the exit code.
pub fn fixtures(
    scenarios: &Path,
    golden: &Path,
    check: bool,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<i32, CliError> {
    let paths = catalogue(scenarios)?;
    if paths.is_empty() {
        return Err(CliError::Usage(format!(
            "no scenario (*.toml) in {}",
            scenarios.display()
        )));
    }
    if !check {
        fs::create_dir_all(golden).map_err(|e| CliError::io(&golden.display().to_string(), e))?;
    }
    let mut differences = 0;
    let mut total = Summary::total(check);
    for path in &paths {
        let scenario = Scenario::from_path(path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut r = render(&scenario)?;
        for (ext, bytes, is_p1) in [("p1", &r.p1, true), ("truth.jsonl", &r.truth, false)] {
            let target = golden.join(format!("{stem}.{ext}"));
            let shown = target.display().to_string();
            if check {
                let theirs = match fs::read(&target) {
                    Ok(b) => b,
                    Err(e) => {
                        differences += 1;
                        writeln!(out, "{shown}: missing ({e})").map_err(CliError::Write)?;
                        continue;
                    }
                };
                match difference(bytes, &theirs, is_p1) {
                    Some(why) => {
                        differences += 1;
                        writeln!(out, "{shown}: differs: {why}").map_err(CliError::Write)?;
                    }
                    None => writeln!(out, "{shown}: ok").map_err(CliError::Write)?,
                }
            } else {
                let tmp = target.with_extension(format!("{ext}.tmp"));
                fs::write(&tmp, bytes).map_err(|e| CliError::io(&tmp.display().to_string(), e))?;
                fs::rename(&tmp, &target).map_err(|e| CliError::io(&shown, e))?;
                writeln!(out, "{shown}: {} bytes", bytes.len()).map_err(CliError::Write)?;
                r.summary.file(shown);
            }
        }
        total.absorb(&r.summary);
    }
    total.report(quiet, &mut std::io::stderr());
    if differences > 0 {
        writeln!(
            out,
            "{differences} golden file(s) differ: run `p1sim fixtures` to regenerate them on purpose"
        )
        .map_err(CliError::Write)?;
        return Ok(1);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_located() {
        assert_eq!(difference(b"/a/b", b"/a/b", true), None);
        let d = difference(b"/a/bX", b"/a/bY", true).unwrap_or_default();
        assert!(d.contains("byte 4 (telegram 2)"), "{d}");
        let d = difference(b"x\ny\n", b"x\n", false).unwrap_or_default();
        assert!(d.contains("byte 2 (line 2)"), "{d}");
    }
}
