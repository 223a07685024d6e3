//! `p1sim fixtures`: turns the scenario catalogue (`scenarios/*.toml`) into golden files
//! (`golden/<name>.p1`, the exact byte stream, and `golden/<name>.truth.jsonl`), or with
//! `--check` regenerates them in memory and fails on the first byte that differs.
//!
//! The scenarios are independent, so they are rendered on every core; results are
//! reported and written in catalogue order, so the output is the same as one thread's.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

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
    let mut sim = Simulation::new(scenario);
    let mut p1 = Vec::new();
    let mut truth = Vec::new();
    let mut summary = Summary::new(scenario.telegram_step_ms());
    while let Some(frame) = sim.next_frame() {
        summary.observe(frame);
        p1.extend_from_slice(&frame.bytes);
        TruthRecord::from_frame(frame).write_json_line(&mut truth);
    }
    Ok(Rendered { p1, truth, summary })
}

/// Reads and renders the scenario at `path`.
fn render_path(path: &Path) -> Result<Rendered, CliError> {
    let scenario = Scenario::from_path(path)?;
    render(&scenario)
}

/// What [`render_all`] calls with each scenario's result, in catalogue order.
pub type OnRendered<'e> = dyn FnMut(&Path, Result<Rendered, CliError>) -> Result<(), CliError> + 'e;

/// Renders every scenario of `paths` on up to `threads` threads, handing each result to
/// `each` in the order of `paths` (as soon as it and all before it are done). An error
/// from `each` stops the rendering of scenarios not yet started and is returned.
pub fn render_all(
    paths: &[PathBuf],
    threads: usize,
    each: &mut OnRendered<'_>,
) -> Result<(), CliError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        for _ in 0..threads.clamp(1, paths.len().max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    if tx.send((i, render_path(path))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results arrive in any order; hand them on in catalogue order.
        let mut done: Vec<Option<Result<Rendered, CliError>>> = Vec::new();
        done.resize_with(paths.len(), || None);
        let mut first = 0;
        for (i, result) in rx {
            done[i] = Some(result);
            while let Some(result) = done.get_mut(first).and_then(Option::take) {
                if let Err(e) = each(&paths[first], result) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                first += 1;
            }
        }
        Ok(())
    })
}

/// Threads `p1sim fixtures` uses: every core, or `P1SIM_THREADS` when set (`1` for a
/// single-threaded run to compare with).
pub fn threads() -> usize {
    std::env::var("P1SIM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, usize::from))
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
    render_all(&paths, threads(), &mut |path, rendered| {
        let mut r = rendered?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
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
        Ok(())
    })?;
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
