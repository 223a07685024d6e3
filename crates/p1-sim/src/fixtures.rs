//! `p1sim fixtures`: turns the scenario catalogue (`scenarios/*.toml`) into golden files
//! (`golden/<name>.p1`, the exact byte stream, and `golden/<name>.truth.jsonl`), or with
//! `--check` regenerates them in memory and fails on the first byte that differs.
//!
//! The scenarios are independent, so they are parsed, then rendered and compared with (or
//! written to) their golden files, on every core. Rendering starts with the scenario
//! expected to take longest ([`expected_cost`]), so a long one does not start last while
//! the other cores sit idle; results are reported in catalogue order, so the output is the
//! same as one thread's. A long scenario also plans its loads' days on worker threads
//! ([`plan_ahead_pays`]): a single simulation can then use a second core, the one the
//! catalogue's other, short scenarios leave idle.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;

use p1_scenario::{Scenario, Simulation, TruthWriter};

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

/// Runs `scenario` to the end in memory, on this thread only.
pub fn render(scenario: &Scenario) -> Result<Rendered, CliError> {
    render_planning_ahead(scenario, false)
}

/// [`render`], with the loads' days planned on worker threads when `plan_ahead`
/// ([`Simulation::plan_ahead`]): the same bytes.
pub fn render_planning_ahead(scenario: &Scenario, plan_ahead: bool) -> Result<Rendered, CliError> {
    let mut sim = Simulation::new(scenario);
    if plan_ahead {
        sim.plan_ahead();
    }
    let mut p1 = Vec::new();
    let mut truth = Vec::new();
    let mut writer = TruthWriter::new();
    let mut summary = Summary::new(scenario.telegram_step_ms());
    while let Some(frame) = sim.next_frame() {
        summary.observe(frame);
        p1.extend_from_slice(&frame.bytes);
        writer.write_line(frame, &mut truth);
    }
    Ok(Rendered { p1, truth, summary })
}

/// A scenario's expected rendering cost, in units of about 10 ns, for scheduling only
/// (no output depends on it). Two things cost: each simulated second (load planning,
/// e.g. a PV curve evaluated every daylight minute: `year-15min` spends about 0.2 s of
/// CPU on its year, about 6 ns a simulated second) and each telegram instant (encoding and the truth record,
/// about 5 µs with the truth). An estimate within a factor of a few is enough: it only
/// has to start the long scenarios first.
pub fn expected_cost(scenario: &Scenario) -> u64 {
    let span_ms = scenario
        .end
        .millis()
        .saturating_sub(scenario.start().millis())
        .max(0);
    let step = scenario.telegram_step_ms().max(1);
    let seconds = u64::try_from(span_ms / 1000).unwrap_or(0);
    let telegrams = u64::try_from(span_ms / step).unwrap_or(0);
    seconds.saturating_add(telegrams.saturating_mul(500))
}

/// The order to start jobs of the given `costs` in: the most expensive first, equal
/// costs in index order.
fn longest_first(costs: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(costs[i]));
    order
}

/// Runs `job(i)` for every index of `order` on up to `threads` threads, starting them in
/// that order, and hands each result to `each` in index order (`0, 1, ...`), as soon as
/// it and all before it are done. An error from `each` stops the jobs not yet started and
/// is returned. `order` must hold each index below its length exactly once.
fn in_order<T: Send>(
    order: &[usize],
    threads: usize,
    job: &(dyn Fn(usize) -> T + Sync),
    each: &mut dyn FnMut(usize, T) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        for _ in 0..threads.clamp(1, order.len().max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    if tx.send((i, job(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results arrive in any order; hand them on in index order.
        let mut done: Vec<Option<T>> = Vec::new();
        done.resize_with(order.len(), || None);
        let mut first = 0;
        for (i, result) in rx {
            if let Some(slot) = done.get_mut(i) {
                *slot = Some(result);
            }
            while let Some(result) = done.get_mut(first).and_then(Option::take) {
                if let Err(e) = each(first, result) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                first += 1;
            }
        }
        Ok(())
    })
}

/// What [`render_all`] calls with each scenario's result, in catalogue order.
pub type OnRendered<'e, T> = dyn FnMut(&Path, T) -> Result<(), CliError> + 'e;

/// Parses and renders every scenario of `paths` on up to `threads` threads, the most
/// expensive first, and passes each result (or the error that stopped it) through
/// `finish` on the same thread: so checking or writing the golden files is parallel too,
/// and a rendered stream is dropped as soon as it is finished with. Hands what `finish`
/// returns to `each` in the order of `paths`, as soon as it and all before it are done.
/// An error from `each` stops the rendering of scenarios not yet started and is returned.
pub fn render_all<T: Send>(
    paths: &[PathBuf],
    threads: usize,
    finish: &(dyn Fn(&Path, Result<Rendered, CliError>) -> T + Sync),
    each: &mut OnRendered<'_, T>,
) -> Result<(), CliError> {
    let identity: Vec<usize> = (0..paths.len()).collect();
    let mut parsed = Vec::with_capacity(paths.len());
    in_order(
        &identity,
        threads,
        &|i| Scenario::from_path(&paths[i]).map_err(CliError::from),
        &mut |_, scenario| {
            parsed.push(scenario);
            Ok(())
        },
    )?;
    // A scenario that does not parse costs nothing: its error is reported in its place.
    let costs: Vec<u64> = parsed
        .iter()
        .map(|s| s.as_ref().map_or(0, expected_cost))
        .collect();
    // Each job takes its scenario out (rendering needs it once), so it is dropped as soon
    // as it is rendered and a parse error reaches `finish` as it is.
    let slots: Vec<Mutex<Option<Result<Scenario, CliError>>>> =
        parsed.into_iter().map(|s| Mutex::new(Some(s))).collect();
    in_order(
        &longest_first(&costs),
        threads,
        &|i| {
            let taken = slots[i].lock().ok().and_then(|mut slot| slot.take());
            let rendered = match taken {
                Some(Ok(scenario)) => {
                    render_planning_ahead(&scenario, plan_ahead_pays(&scenario, threads))
                }
                Some(Err(e)) => Err(e),
                None => Err(CliError::Internal(format!(
                    "{}: scheduled twice",
                    paths[i].display()
                ))),
            };
            finish(&paths[i], rendered)
        },
        &mut |i, result| each(&paths[i], result),
    )
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

/// The shortest span over which planning the loads' days ahead on worker threads
/// ([`Simulation::plan_ahead`]) pays for starting them: the first day is planned before
/// they start, so a run of a day or less gives them nothing to do.
pub const PLAN_AHEAD_MIN_SPAN_MS: i64 = 2 * 86_400_000;

/// Whether a run of `scenario` with `threads` threads to use plans its loads ahead on
/// worker threads: only with more than one thread (`P1SIM_THREADS=1` means one thread for
/// everything) and over at least [`PLAN_AHEAD_MIN_SPAN_MS`].
pub fn plan_ahead_pays(scenario: &Scenario, threads: usize) -> bool {
    let span = scenario
        .end
        .millis()
        .saturating_sub(scenario.start().millis());
    threads > 1 && span >= PLAN_AHEAD_MIN_SPAN_MS
}

/// The scenario files of the catalogue, sorted by name.
pub fn catalogue(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries = fs::read_dir(dir).map_err(|e| CliError::io(&dir.display().to_string(), e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| CliError::io(&dir.display().to_string(), e))?
            .path();
        // Fleet files (`[[group]]`, docs/fleet.md) live beside the scenarios but are not
        // scenarios: they have no golden files.
        if path.extension().is_some_and(|x| x == "toml")
            && !fs::read_to_string(&path).is_ok_and(|t| p1_scenario::fleet::is_fleet_file(&t))
        {
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

/// One scenario's golden files, checked or written: what to print, in file order.
struct Outcome {
    /// One line per golden file (`ok`, `differs: ...`, `missing`, or its size).
    lines: Vec<String>,
    /// Golden files missing or different.
    differences: usize,
    /// What the scenario's run did.
    summary: Summary,
}

/// Compares `rendered`, the scenario at `path`, with its golden files in `golden`
/// (`check`), or writes them there (each through a temporary file renamed into place).
fn settle(
    path: &Path,
    golden: &Path,
    check: bool,
    rendered: Rendered,
) -> Result<Outcome, CliError> {
    let mut r = rendered;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut lines = Vec::with_capacity(2);
    let mut differences = 0;
    for (ext, bytes, is_p1) in [("p1", &r.p1, true), ("truth.jsonl", &r.truth, false)] {
        let target = golden.join(format!("{stem}.{ext}"));
        let shown = target.display().to_string();
        if check {
            let theirs = match fs::read(&target) {
                Ok(b) => b,
                Err(e) => {
                    differences += 1;
                    lines.push(format!("{shown}: missing ({e})"));
                    continue;
                }
            };
            match difference(bytes, &theirs, is_p1) {
                Some(why) => {
                    differences += 1;
                    lines.push(format!("{shown}: differs: {why}"));
                }
                None => lines.push(format!("{shown}: ok")),
            }
        } else {
            let tmp = target.with_extension(format!("{ext}.tmp"));
            fs::write(&tmp, bytes).map_err(|e| CliError::io(&tmp.display().to_string(), e))?;
            fs::rename(&tmp, &target).map_err(|e| CliError::io(&shown, e))?;
            lines.push(format!("{shown}: {} bytes", bytes.len()));
            r.summary.file(shown);
        }
    }
    Ok(Outcome {
        lines,
        differences,
        summary: r.summary,
    })
}

/// `p1sim fixtures [--check]` on [`threads`] threads: returns the exit code.
pub fn fixtures(
    scenarios: &Path,
    golden: &Path,
    check: bool,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<i32, CliError> {
    fixtures_on(scenarios, golden, check, quiet, threads(), out)
}

/// [`fixtures`] on `threads` threads. The scenarios' golden files are checked or written
/// by the threads that render them; `out` gets every line in catalogue order, so it is
/// the same whatever the number of threads. In writing mode a scenario's files can be
/// written before an earlier scenario's write error is reported (each file is whole).
pub fn fixtures_on(
    scenarios: &Path,
    golden: &Path,
    check: bool,
    quiet: bool,
    threads: usize,
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
    render_all(
        &paths,
        threads,
        &|path, rendered| settle(path, golden, check, rendered?),
        &mut |_, outcome| {
            let outcome = outcome?;
            for line in &outcome.lines {
                writeln!(out, "{line}").map_err(CliError::Write)?;
            }
            differences += outcome.differences;
            total.absorb(&outcome.summary);
            Ok(())
        },
    )?;
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

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn longest_first_is_stable_for_equal_costs() {
        assert_eq!(longest_first(&[1, 5, 5, 0, 9]), [4, 1, 2, 0, 3]);
        assert_eq!(longest_first(&[]), Vec::<usize>::new());
    }

    #[test]
    fn the_year_of_the_catalogue_is_started_first() {
        let paths = catalogue(&root().join("scenarios")).unwrap_or_default();
        let costs: Vec<u64> = paths
            .iter()
            .map(|p| Scenario::from_path(p).map_or(0, |s| expected_cost(&s)))
            .collect();
        let order = longest_first(&costs);
        let first = order.first().and_then(|&i| paths[i].file_stem());
        assert_eq!(first, Some("year-15min".as_ref()), "{paths:?} {costs:?}");
        // The quickstart (600 telegrams at 1 s) outweighs a scenario of 60 at 10 s.
        let cost = |name: &str| {
            let at = paths
                .iter()
                .position(|p| p.ends_with(format!("{name}.toml")));
            at.map_or(0, |i| costs[i])
        };
        assert!(cost("quickstart") > cost("firmware-50213"), "{costs:?}");
    }

    /// Copies catalogue scenarios `names` into a temporary directory, with `extra` files.
    fn small_catalogue(names: &[&str], extra: &[(&str, &str)]) -> tempfile::TempDir {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("temp dir");
        };
        for name in names {
            let from = root().join(format!("scenarios/{name}.toml"));
            let copied = fs::copy(&from, dir.path().join(format!("{name}.toml")));
            assert!(copied.is_ok(), "{}: {copied:?}", from.display());
        }
        for (name, text) in extra {
            assert!(fs::write(dir.path().join(name), text).is_ok());
        }
        dir
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        (name, fs::read(e.path()).unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Runs `fixtures_on` and returns its exit code (or error) and what it printed.
    fn fixtures_text(
        scenarios: &Path,
        golden: &Path,
        check: bool,
        threads: usize,
    ) -> (Result<i32, String>, String) {
        let mut out = Vec::new();
        let code = fixtures_on(scenarios, golden, check, true, threads, &mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        (code.map_err(|e| e.to_string()), text)
    }

    /// The longest scenario (the quickstart) sorts last in the catalogue but is rendered
    /// first: whatever the number of threads, the files written are the golden ones and
    /// the report lists them in catalogue order.
    /// One thread means one thread for everything; more plan a long scenario's loads
    /// ahead, never a short one's.
    #[test]
    fn plan_ahead_needs_a_second_thread_and_a_long_run() {
        let scenario = |name: &str| {
            Scenario::from_path(&root().join(format!("scenarios/{name}.toml")))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let (year, days, minutes) = (
            scenario("year-15min"),
            scenario("tariff-switch"),
            scenario("quickstart"),
        );
        for threads in [2, 3, 64] {
            assert!(plan_ahead_pays(&year, threads));
            assert!(plan_ahead_pays(&days, threads));
            assert!(!plan_ahead_pays(&minutes, threads));
        }
        for s in [&year, &days, &minutes] {
            assert!(!plan_ahead_pays(s, 1));
            assert!(!plan_ahead_pays(s, 0));
        }
    }

    #[test]
    fn any_number_of_threads_writes_the_golden_bytes_in_catalogue_order() {
        // `tariff-switch` (2.5 days) plans its loads ahead when more than one thread is
        // allowed.
        let names = [
            "clock-offset",
            "firmware-50213",
            "quickstart",
            "tariff-switch",
            "water-first",
        ];
        let scenarios = small_catalogue(&names, &[]);
        let mut reports = Vec::new();
        for threads in [1, 3] {
            let Ok(golden) = tempfile::tempdir() else {
                panic!("temp dir");
            };
            let (code, text) = fixtures_text(scenarios.path(), golden.path(), false, threads);
            assert_eq!(code, Ok(0), "{text}");
            let written = files(golden.path());
            assert_eq!(written.len(), 2 * names.len());
            for (name, bytes) in &written {
                let theirs = fs::read(root().join("golden").join(name)).unwrap_or_default();
                assert!(*bytes == theirs, "{name} ({threads} threads) differs");
            }
            let shown = text.replace(&golden.path().display().to_string(), "GOLDEN");
            let listed: Vec<&str> = shown.lines().collect();
            assert_eq!(listed.len(), 2 * names.len(), "{shown}");
            for (line, name) in listed.iter().zip(names.iter().flat_map(|n| [n, n])) {
                assert!(line.starts_with(&format!("GOLDEN/{name}.")), "{shown}");
            }
            reports.push(shown);
        }
        assert_eq!(reports[0], reports[1]);
        // Checking against the repository's golden files: every one ok, in order.
        let (code, text) = fixtures_text(scenarios.path(), &root().join("golden"), true, 3);
        assert_eq!(code, Ok(0), "{text}");
        assert_eq!(text.matches(": ok\n").count(), 2 * names.len(), "{text}");
    }

    /// A scenario that does not parse stops the report at its place in the catalogue,
    /// even when later scenarios were rendered (and a long one started) before it.
    #[test]
    fn a_broken_scenario_is_reported_in_its_place() {
        let scenarios = small_catalogue(
            &["clock-offset", "quickstart", "water-first"],
            &[("d-broken.toml", "name = \"broken\"\nstart = 12\n")],
        );
        let golden = root().join("golden");
        let mut seen = Vec::new();
        for threads in [1, 3] {
            let (code, text) = fixtures_text(scenarios.path(), &golden, true, threads);
            let Err(e) = code else {
                panic!("broken scenario accepted: {text}");
            };
            assert!(e.contains("d-broken.toml"), "{e}");
            assert_eq!(text.lines().count(), 2, "{text}");
            assert!(text.contains("clock-offset.truth.jsonl: ok"), "{text}");
            seen.push((e, text));
        }
        assert_eq!(seen[0], seen[1]);
    }
}
