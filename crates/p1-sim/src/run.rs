//! `p1sim run`: plays a scenario and writes its telegrams to stdout, a file, a directory
//! (one file per telegram) or a live port, with an optional JSON-lines truth file.
//!
//! Files are staged (see `staged.rs`) and published together only when the run succeeds,
//! so a failed or interrupted run never leaves a half-written or clobbered file.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use p1_scenario::{Scenario, SimFrame, Simulation, TruthRecord};

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
enum Truth {
    None,
    Staged(StagedFile),
    /// A live run's truth file, created (truncating an old one) only once the port is
    /// open and the first frame is taken, so a port that fails to open loses nothing.
    LiveAt(PathBuf),
    Live(io::LineWriter<fs::File>),
}

impl Truth {
    fn create(path: Option<&Path>, live: bool) -> Result<Truth, CliError> {
        match path {
            None => Ok(Truth::None),
            Some(p) if live => Ok(Truth::LiveAt(p.to_path_buf())),
            Some(p) => StagedFile::create(p).map(Truth::Staged),
        }
    }

    fn record(&mut self, frame: &SimFrame) -> Result<(), CliError> {
        match self {
            Truth::None => Ok(()),
            _ => self.write_line(&truth_line(frame)),
        }
    }

    fn write_line(&mut self, line: &str) -> Result<(), CliError> {
        self.open_live()?;
        match self {
            Truth::None => Ok(()),
            Truth::Staged(file) => file.write(line.as_bytes()),
            Truth::Live(file) => file.write_all(line.as_bytes()).map_err(CliError::Write),
            Truth::LiveAt(_) => Err(CliError::Internal("live truth file not open".into())),
        }
    }

    /// Creates a live run's truth file if it is not open yet.
    fn open_live(&mut self) -> Result<(), CliError> {
        if let Truth::LiveAt(p) = self {
            let file = fs::File::create(&*p).map_err(|e| CliError::output(p, e))?;
            *self = Truth::Live(io::LineWriter::new(file));
        }
        Ok(())
    }

    /// Finishes a live truth file; hands a staged one over to be published with the rest.
    fn finish(mut self) -> Result<Option<StagedFile>, CliError> {
        // A live run that sent nothing still gets its (empty) truth file.
        self.open_live()?;
        match self {
            Truth::None => Ok(None),
            Truth::Staged(file) => Ok(Some(file)),
            Truth::Live(mut file) => file.flush().map(|()| None).map_err(CliError::Write),
            Truth::LiveAt(_) => Ok(None),
        }
    }
}

/// The truth record of `frame`, one JSON line.
fn truth_line(frame: &SimFrame) -> String {
    let mut line = Vec::with_capacity(8192);
    TruthRecord::from_frame(frame).write_json_line(&mut line);
    // serde_json and the record's own string writer produce UTF-8.
    String::from_utf8(line).unwrap_or_default()
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

fn progress(total: u64) -> ProgressBar {
    if !io::stderr().is_terminal() || total < 10_000 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} telegrams {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
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
    let mut sim = Simulation::new(&scenario);
    let live = matches!(opts.output.out, Output::Live(_));
    let mut truth = Truth::create(opts.output.truth.as_deref(), live)?;
    let mut summary = Summary::new(scenario.telegram_step_ms());

    let bar = if live {
        ProgressBar::hidden()
    } else {
        progress(telegram_count(&scenario))
    };
    let mut staged = Vec::new();
    match &opts.output.out {
        Output::Live(spec) => {
            return run_live(opts, spec.clone(), sim, truth, name, stdout, summary);
        }
        Output::Stdout => {
            let mut sent = 0u64;
            while let Some(frame) = sim.next_frame() {
                stdout
                    .write_all(&frame.bytes)
                    .map_err(|e| stdout_failed(e, opts.output.truth.as_deref(), sent))?;
                sent += u64::from(!frame.bytes.is_empty());
                truth.record(frame)?;
                report_refusals(frame, name);
                summary.observe(frame);
                bar.inc(1);
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
                bar.inc(1);
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
                    let mut file = StagedFile::create(&dir.join(outdir::file_name(index)))?;
                    file.write(&frame.bytes)?;
                    staged::commit_all(vec![file])?;
                    earlier.rewritten(index);
                }
                truth.record(frame)?;
                report_refusals(frame, name);
                summary.observe(frame);
                bar.inc(1);
            }
            let stale = match earlier.remove_stale(dir)? {
                0 => String::new(),
                n => format!(", {n} stale files of an earlier run removed"),
            };
            summary.file(format!("{} (one file per telegram{stale})", dir.display()));
        }
    }
    bar.finish_and_clear();
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
