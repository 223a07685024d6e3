//! `p1sim run`: plays a scenario and writes its telegrams to stdout, a file, a directory
//! (one file per telegram) or a live port, with an optional JSON-lines truth file.
//!
//! Files are staged (see `staged.rs`) and published together only when the run succeeds,
//! so a failed or interrupted run never leaves a half-written or clobbered file.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use p1_scenario::{Scenario, SimFrame, Simulation, TruthWriter};

use crate::error::CliError;
use crate::live::{self, LiveFrame, LiveOptions, LiveSinkSpec, Pacing};
use crate::outdir;
use crate::staged::{self, StagedFile};
use crate::summary::Summary;

/// Where `--out` sends the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (`-`).
    Stdout,
    /// One file holding the whole stream.
    File(PathBuf),
    /// A directory (`DIR/`) with one file per telegram, `NNNNNN.p1`.
    Dir(PathBuf),
    /// A live port: `pty`, `tcp:HOST:PORT`, `serial:DEVICE`.
    Live(LiveSinkSpec),
}

impl std::str::FromStr for Output {
    type Err = live::LiveError;

    /// Parses the `--out` argument.
    fn from_str(text: &str) -> Result<Output, live::LiveError> {
        if text == "-" {
            Ok(Output::Stdout)
        } else if text == "pty" || text.starts_with("tcp:") || text.starts_with("serial:") {
            text.parse().map(Output::Live)
        } else if text.ends_with('/') {
            Ok(Output::Dir(PathBuf::from(text)))
        } else {
            Ok(Output::File(PathBuf::from(text)))
        }
    }
}

/// Where and how a run's telegrams go: the output and pacing flags `p1sim run` and
/// `p1sim replay` share (flattened into both, so names, help and checks are one).
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Destination: `-` (stdout), FILE, DIR/ (one file per telegram), `pty`,
    /// `tcp:HOST:PORT` (or `tcp:PORT` on 127.0.0.1), `serial:DEVICE`.
    #[arg(long, default_value = "-")]
    pub out: Output,
    /// Also write the truth file: one JSON line per telegram (docs/truth.md).
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Live ports: send as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
    /// Live ports: simulated seconds per real second.
    #[arg(long, default_value_t = 1.0, conflicts_with = "fast")]
    pub speed: f64,
    /// `--out pty`: keep a symlink to the device at PATH (removed on exit).
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// Live ports: write each telegram at the 115200-baud line rate.
    #[arg(long)]
    pub baud_pacing: bool,
    /// `--out tcp:`: start only once N clients are connected (with `--fast`, so the
    /// run does not end before a reader connects).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub wait_clients: usize,
}

impl Default for OutputArgs {
    /// The flags' defaults: standard output, real time, no truth file.
    fn default() -> OutputArgs {
        OutputArgs {
            out: Output::Stdout,
            truth: None,
            fast: false,
            speed: 1.0,
            link: None,
            baud_pacing: false,
            wait_clients: 0,
        }
    }
}

/// Options of `p1sim run`, parsed once from the command line (clap) or built by a caller.
#[derive(Debug, Clone, clap::Args)]
pub struct RunOptions {
    /// Scenario file (TOML, see docs/scenarios.md); none plays the built-in quickstart.
    pub scenario: Option<PathBuf>,
    /// Where and how the telegrams go.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's `every`: emit only every N-th telegram instant.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub every: Option<u64>,
    /// No summary line on stderr (set from the global `-q`).
    #[arg(skip)]
    pub quiet: bool,
}

/// Loads the scenario named in `opts`, or the built-in quickstart.
pub fn load(path: Option<&Path>) -> Result<Scenario, CliError> {
    match path {
        None => Ok(Scenario::quickstart()),
        // A file that is not there has no line and column to point at. One that cannot
        // be looked at (a directory we may not search) is not called missing: reading
        // it reports the OS reason.
        Some(p) if matches!(p.try_exists(), Ok(false)) => Err(CliError::Usage(format!(
            "{}: no such scenario file",
            p.display()
        ))),
        Some(p) => Ok(Scenario::from_path(p)?),
    }
}

/// Writes the truth file as frames go by: staged and published together with `--out`
/// at the end for a run to files, or line by line for a live run, so a test can read the
/// truth of a telegram as soon as it is sent.
struct Truth {
    file: TruthFile,
    /// The record being written, reused from frame to frame.
    line: Vec<u8>,
    writer: TruthWriter,
}

/// Where [`Truth`] writes.
enum TruthFile {
    None,
    Staged(StagedFile),
    /// A live run's truth file, created (truncating an old one) only once the port is
    /// open and the first frame is taken, so a port that fails to open loses nothing.
    LiveAt(PathBuf),
    /// Flushed at the end of every line: a reader sees each record once it is sent.
    Live(io::LineWriter<fs::File>),
}

impl Truth {
    fn create(path: Option<&Path>, live: bool) -> Result<Truth, CliError> {
        let file = match path {
            None => TruthFile::None,
            Some(p) if live => TruthFile::LiveAt(p.to_path_buf()),
            Some(p) => TruthFile::Staged(StagedFile::create(p)?),
        };
        Ok(Truth {
            file,
            line: Vec::new(),
            writer: TruthWriter::new(),
        })
    }

    fn record(&mut self, frame: &SimFrame) -> Result<(), CliError> {
        if matches!(self.file, TruthFile::None) {
            return Ok(());
        }
        self.open_live()?;
        self.line.clear();
        self.writer.write_line(frame, &mut self.line);
        match &mut self.file {
            TruthFile::None => Ok(()),
            TruthFile::Staged(file) => file.write(&self.line),
            TruthFile::Live(file) => file.write_all(&self.line).map_err(CliError::Write),
            TruthFile::LiveAt(_) => Err(CliError::Internal("live truth file not open".into())),
        }
    }

    /// Creates a live run's truth file if it is not open yet.
    fn open_live(&mut self) -> Result<(), CliError> {
        if let TruthFile::LiveAt(p) = &self.file {
            let file = fs::File::create(p).map_err(|e| CliError::output(p, e))?;
            self.file = TruthFile::Live(io::LineWriter::new(file));
        }
        Ok(())
    }

    /// Finishes a live truth file; hands a staged one over to be published with the rest.
    fn finish(mut self) -> Result<Option<StagedFile>, CliError> {
        // A live run that sent nothing still gets its (empty) truth file.
        self.open_live()?;
        match self.file {
            TruthFile::None | TruthFile::LiveAt(_) => Ok(None),
            TruthFile::Staged(file) => Ok(Some(file)),
            TruthFile::Live(mut file) => file.flush().map(|()| None).map_err(CliError::Write),
        }
    }
}

/// A write to stdout failed. A reader that closes the pipe early (`| head`) is normally
/// no error, but with `--truth` the truth file would describe telegrams nobody got: the
/// run fails (exit 3) and leaves the old truth file as it was.
fn stdout_failed(e: io::Error, truth: Option<&Path>, sent: u64) -> CliError {
    match truth {
        Some(t) if e.kind() == io::ErrorKind::BrokenPipe => CliError::Output {
            path: "standard output".into(),
            source: io::Error::new(
                e.kind(),
                format!(
                    "closed by the reader after {sent} telegrams; {} left as it was",
                    t.display()
                ),
            ),
        },
        _ => CliError::Write(e),
    }
}

/// Number of telegram instants the scenario has (for the progress bar).
fn telegram_count(s: &Scenario) -> u64 {
    let step = s.telegram_step_ms().max(1);
    let span = s.end.millis().saturating_sub(s.start().millis()).max(0);
    u64::try_from(span.saturating_add(step - 1) / step).unwrap_or(0)
}

/// The progress bar of a batch run, advanced [`Progress::BATCH`] frames at a time:
/// `ProgressBar::inc` reads the clock, a cost worth avoiding at every telegram of a run
/// that writes a million a second.
struct Progress {
    bar: ProgressBar,
    /// Frames not yet added to the bar.
    pending: u64,
}

impl Progress {
    /// Frames per bar update (a fraction of a millisecond at full speed).
    const BATCH: u64 = 256;

    /// A bar on a terminal for a run of `total` frames, hidden for a short run or when
    /// stderr is not a terminal.
    fn new(total: u64) -> Progress {
        let bar = if !io::stderr().is_terminal() || total < 10_000 {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} telegrams {per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        };
        Progress { bar, pending: 0 }
    }

    /// Counts one frame.
    fn tick(&mut self) {
        self.pending += 1;
        if self.pending == Self::BATCH {
            self.bar.inc(self.pending);
            self.pending = 0;
        }
    }

    /// Removes the bar.
    fn finish(self) {
        self.bar.inc(self.pending);
        self.bar.finish_and_clear();
    }
}

fn report_refusals(frame: &SimFrame, scenario: &str) {
    for r in &frame.refused {
        eprintln!(
            "p1sim: {scenario}:{}: the meter refused this event: {}",
            r.line, r.message
        );
    }
}

/// `p1sim run`.
pub fn run(opts: &RunOptions, stdout: &mut dyn Write) -> Result<i32, CliError> {
    let scenario = load(opts.scenario.as_deref())?;
    let name = opts
        .scenario
        .as_ref()
        .map_or_else(|| "<quickstart>".to_owned(), |p| p.display().to_string());
    play(opts, scenario, &name, stdout)
}

/// Plays `scenario` (named `name` in messages) to the output of `opts`, as `run` does
/// (`opts.scenario` is not read); `p1sim replay` plays the scenario it builds this way.
pub fn play(
    opts: &RunOptions,
    mut scenario: Scenario,
    name: &str,
    stdout: &mut dyn Write,
) -> Result<i32, CliError> {
    if let Some(seed) = opts.seed {
        scenario.set_seed(seed);
    }
    if let Some(every) = opts.every {
        scenario
            .set_every(every)
            .map_err(|e| CliError::Usage(format!("--every: {e}")))?;
    }
    // No planning ahead here (`Simulation::plan_ahead`, which `fixtures` uses): measured
    // on a run at 1 s, where encoding dominates, the workers made it slower (20 days:
    // 1.66 s against 1.44 s on one thread; a year: 40.7 s against 26.8 s).
    let mut sim = Simulation::new(&scenario);
    let live = matches!(opts.output.out, Output::Live(_));
    let mut truth = Truth::create(opts.output.truth.as_deref(), live)?;
    let mut summary = Summary::new(scenario.telegram_step_ms());

    let mut bar = Progress::new(if live { 0 } else { telegram_count(&scenario) });
    let mut staged = Vec::new();
    match &opts.output.out {
        Output::Live(spec) => {
            return run_live(opts, spec.clone(), sim, truth, name, stdout, summary);
        }
        Output::Stdout => {
            // Writes of whole buffers pass through the caller's (smaller) buffer and
            // std's line buffering of stdout unchanged: they end with a telegram's
            // `\r\n` (unless a fault cut it), so each is one write(2).
            let mut stdout = io::BufWriter::with_capacity(staged::BUFFER, stdout);
            let mut sent = 0u64;
            while let Some(frame) = sim.next_frame() {
                stdout
                    .write_all(&frame.bytes)
                    .map_err(|e| stdout_failed(e, opts.output.truth.as_deref(), sent))?;
                sent += u64::from(!frame.bytes.is_empty());
                truth.record(frame)?;
                report_refusals(frame, name);
                summary.observe(frame);
                bar.tick();
            }
            stdout
                .flush()
                .map_err(|e| stdout_failed(e, opts.output.truth.as_deref(), sent))?;
        }
        Output::File(path) => {
            if path.is_dir() {
                return Err(CliError::Usage(format!(
                    "--out {0}: is a directory; for one file per telegram in it, write `--out {0}/`",
                    path.display()
                )));
            }
            let mut file = StagedFile::create(path)?;
            while let Some(frame) = sim.next_frame() {
                file.write(&frame.bytes)?;
                truth.record(frame)?;
                report_refusals(frame, name);
                summary.observe(frame);
                bar.tick();
            }
            staged.push(file);
            summary.file(path.display().to_string());
        }
        Output::Dir(dir) => {
            fs::create_dir_all(dir).map_err(|e| CliError::output(dir, e))?;
            let mut earlier = outdir::Earlier::scan(dir)?;
            let mut index = 0;
            while let Some(frame) = sim.next_frame() {
                index += 1;
                if !frame.bytes.is_empty() {
                    staged::write_whole(&dir.join(outdir::file_name(index)), &frame.bytes)?;
                    earlier.rewritten(index);
                }
                truth.record(frame)?;
                report_refusals(frame, name);
                summary.observe(frame);
                bar.tick();
            }
            let stale = match earlier.remove_stale(dir)? {
                0 => String::new(),
                n => format!(", {n} stale files of an earlier run removed"),
            };
            summary.file(format!("{} (one file per telegram{stale})", dir.display()));
        }
    }
    bar.finish();
    // All outputs at once: a truth file that cannot be finished leaves `--out` untouched.
    staged.extend(truth.finish()?);
    staged::commit_all(staged)?;
    if let Some(t) = &opts.output.truth {
        summary.file(t.display().to_string());
    }
    summary.report(opts.quiet, &mut io::stderr());
    Ok(0)
}

fn run_live(
    opts: &RunOptions,
    mut spec: LiveSinkSpec,
    sim: Simulation,
    mut truth: Truth,
    name: &str,
    stdout: &mut dyn Write,
    mut summary: Summary,
) -> Result<i32, CliError> {
    if let LiveSinkSpec::Pty { link } = &mut spec {
        link.clone_from(&opts.output.link);
    }
    let live_opts = LiveOptions {
        pacing: if opts.output.fast {
            Pacing::Fast
        } else {
            Pacing::Speed(opts.output.speed)
        },
        baud_pacing: opts.output.baud_pacing,
        handle_signals: true,
        wait_clients: opts.output.wait_clients,
        ..LiveOptions::default()
    };
    // The truth (and the summary) must describe exactly what was sent, and `serve` may
    // take a frame and then stop (a signal while it waits for the frame's instant).
    // `serve` takes frame k+1 only once frame k is out, so each frame is recorded when the
    // next one is taken, and the last one only if `serve` counts it as sent.
    let mut truth_error = None;
    let mut pending: Option<SimFrame> = None;
    let mut taken = 0u64;
    let frames = sim.map_while(|frame| {
        if truth_error.is_some() {
            return None;
        }
        if taken == 0
            && let Err(e) = truth.open_live()
        {
            truth_error = Some(e);
            return None;
        }
        if let Some(sent) = pending.take() {
            if let Err(e) = truth.record(&sent) {
                truth_error = Some(e);
                return None;
            }
            summary.observe(&sent);
        }
        taken += 1;
        report_refusals(&frame, name);
        pending = Some(frame.clone());
        Some(LiveFrame::from(frame))
    });
    let mut ready_error = None;
    let served = live::serve(frames, spec, live_opts, |ready| {
        // The device path is the first line on stdout, for scripts and fixtures.
        if let Err(e) = writeln!(stdout, "{ready}").and_then(|()| stdout.flush()) {
            ready_error = Some(e);
        }
    })
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let last = pending.filter(|_| served.telegrams + served.silent == taken);
    if let Some(sent) = &last {
        summary.observe(sent);
    }
    summary.live(&served);
    if let Some(e) = truth_error {
        return Err(e);
    }
    if let Some(sent) = &last {
        truth.record(sent)?;
    }
    truth.finish()?;
    if let Some(t) = &opts.output.truth {
        summary.file(t.display().to_string());
    }
    summary.report(opts.quiet, &mut io::stderr());
    if let Some(e) = ready_error {
        return Err(CliError::Write(e));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that records every call it gets.
    #[derive(Default)]
    struct Calls {
        bytes: Vec<u8>,
        writes: Vec<usize>,
    }

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.push(buf.len());
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn scenario(name: &str) -> (PathBuf, Scenario) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../scenarios/{name}"));
        match Scenario::from_path(&path) {
            Ok(s) => (path, s),
            Err(e) => panic!("{name}: {e}"),
        }
    }

    /// A batch run to stdout writes what the plain in-memory rendering (`fixtures`)
    /// produces, in few writes of nearly a whole buffer each: also for a scenario whose
    /// faults cut telegrams, so that writes do not all end at a line end.
    #[test]
    fn stdout_gets_the_rendered_bytes_in_buffer_sized_writes() {
        for name in ["quickstart.toml", "faults.toml"] {
            let (path, s) = scenario(name);
            let plain = crate::fixtures::render(&s)
                .map(|r| r.p1)
                .unwrap_or_default();
            let opts = RunOptions {
                scenario: Some(path),
                output: OutputArgs::default(),
                seed: None,
                every: None,
                quiet: true,
            };
            let mut out = Calls::default();
            assert!(matches!(play(&opts, s, name, &mut out), Ok(0)), "{name}");
            assert!(out.bytes == plain, "{name}: the bytes differ");
            let n = out.writes.len();
            assert!(n <= plain.len() / staged::BUFFER + 1, "{name}: {n} writes");
            let full = staged::BUFFER - p1_wire::MAX_TELEGRAM_LEN;
            for (k, w) in out.writes.iter().enumerate() {
                assert!(*w >= full || k + 1 == n, "{name}: write {k} of {w} bytes");
            }
        }
    }
}
