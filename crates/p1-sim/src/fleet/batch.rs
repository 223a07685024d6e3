//! Batch fleets: every selected meter's stream to `DIR/<equipment id>.p1` (and its truth
//! file), by `std::thread::scope` workers pulling the next meter index from one atomic
//! counter. Each meter is simulated whole by one worker from its own scenario, so the
//! bytes do not depend on the number of workers or the order they run in; a worker holds
//! one meter at a time, so memory is flat in the number of meters and in their length.
//! Each meter's files are staged ([`crate::staged`]) and published together when complete.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use p1_scenario::{Fleet, MeterIdentity, Simulation, TruthWriter};

use super::Selection;
use super::index;
use crate::error::CliError;
use crate::staged::{StagedFile, commit_all};

/// Streams meter `id` to `sink` (and its truth records to `truth`).
fn simulate(
    fleet: &Fleet,
    id: &MeterIdentity,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), CliError>,
    mut truth: Option<&mut StagedFile>,
) -> Result<u64, CliError> {
    let scenario = fleet
        .scenario(id)
        .map_err(|m| CliError::Usage(format!("meter {}: {m}", id.index)))?;
    // The fast path of `p1sim run`: one lent frame, reused, and one truth buffer.
    let mut sim = Simulation::new(&scenario);
    let mut line = Vec::new();
    let mut writer = TruthWriter::new();
    let mut telegrams = 0;
    while let Some(frame) = sim.next_frame() {
        telegrams += u64::from(!frame.bytes.is_empty());
        sink(&frame.bytes)?;
        if let Some(t) = truth.as_deref_mut() {
            line.clear();
            writer.write_line(frame, &mut line);
            t.write(&line)?;
        }
    }
    Ok(telegrams)
}

/// Writes meter `k` alone to `out`, through a buffer as large as a file's (as `run`
/// writes standard output).
pub(crate) fn write_one(fleet: &Fleet, k: u64, out: &mut dyn Write) -> Result<(), CliError> {
    let mut out = std::io::BufWriter::with_capacity(crate::staged::BUFFER, out);
    let id = fleet.meter(k);
    simulate(
        fleet,
        &id,
        &mut |b| out.write_all(b).map_err(CliError::Write),
        None,
    )?;
    out.flush().map_err(CliError::Write)
}

/// One meter to `dir`; returns its number of telegrams.
fn write_meter(fleet: &Fleet, k: u64, dir: &Path, truth: bool) -> Result<u64, CliError> {
    let id = fleet.meter(k);
    let mut stream = StagedFile::create(&dir.join(index::stream_name(&id)))?;
    let mut truth_file = match truth {
        true => Some(StagedFile::create(&dir.join(index::truth_name(&id)))?),
        false => None,
    };
    let telegrams = simulate(fleet, &id, &mut |b| stream.write(b), truth_file.as_mut())?;
    let mut files = vec![stream];
    files.extend(truth_file);
    commit_all(files)?;
    Ok(telegrams)
}

/// The selected meters to `dir` with `jobs` workers, then the index file; returns the
/// number of telegrams written. The first failure stops the workers (meters already
/// written stay whole) and is returned.
pub(crate) fn write_dir(
    fleet: &Fleet,
    selection: Selection,
    dir: &Path,
    truth: bool,
    jobs: usize,
) -> Result<u64, CliError> {
    fs::create_dir_all(dir).map_err(|e| CliError::io(&dir.display().to_string(), e))?;
    let total = selection.count();
    let next = AtomicU64::new(0);
    let written = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<(u64, CliError)>> = Mutex::new(None);
    let workers = jobs.clamp(1, usize::try_from(total.max(1)).unwrap_or(usize::MAX));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let k = selection.nth(n);
                    match write_meter(fleet, k, dir, truth) {
                        Ok(n) => {
                            written.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                            // Keep the lowest index's failure, so the report is deterministic.
                            if slot.as_ref().is_none_or(|(j, _)| k < *j) {
                                *slot = Some((k, e));
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some((_, e)) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    index::write(fleet, selection, dir, truth, &index::Where::Dir)?;
    Ok(written.into_inner())
}
