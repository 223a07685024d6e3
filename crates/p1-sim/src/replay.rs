//! `p1sim replay`: a Fluvius portal export becomes a live meter in one command.
//!
//! The exports are read first (with a progress bar for very large ones), to learn the
//! period and the meters' ids; from them and the options comes the equivalent scenario
//! (`[meter]`, a gas meter, one `[[loads.replay]]`), which `--write-scenario` writes out
//! for editing and which otherwise plays exactly as `p1sim run` plays a file.

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use p1_meter::SimTime;
use p1_scenario::Scenario;
use p1_scenario::replay::{self, Gaps};

use crate::error::CliError;
use crate::run::{self, OutputArgs, RunOptions};
use crate::staged;

/// `p1sim replay`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The quarter-hour electricity export (CSV from the Fluvius portal); without it,
    /// `--gas` alone sets the period.
    #[arg(required_unless_present = "gas")]
    pub electricity: Option<PathBuf>,
    /// The hourly gas export.
    #[arg(long, value_name = "GAS.csv")]
    pub gas: Option<PathBuf>,
    /// Meter model [default: --meter's, else T211].
    #[arg(long, value_parser = ["S211", "T211"])]
    pub model: Option<String>,
    /// Grid [default: 1x230V for S211, 3x400V for T211].
    #[arg(long, value_parser = ["1x230V", "3x230V", "3x400V"])]
    pub grid: Option<String>,
    /// Take the meter (its [meter] table, M-Bus devices included) from this scenario.
    #[arg(long, value_name = "SCENARIO.toml")]
    pub meter: Option<PathBuf>,
    /// 1-0:1.8.1 at the start, kWh [default: 0].
    #[arg(long, value_name = "KWH")]
    pub import_day_kwh: Option<String>,
    /// 1-0:1.8.2 at the start, kWh [default: 0].
    #[arg(long, value_name = "KWH")]
    pub import_night_kwh: Option<String>,
    /// 1-0:2.8.1 at the start, kWh [default: 0].
    #[arg(long, value_name = "KWH")]
    pub export_day_kwh: Option<String>,
    /// 1-0:2.8.2 at the start, kWh [default: 0].
    #[arg(long, value_name = "KWH")]
    pub export_night_kwh: Option<String>,
    /// The gas meter's reading at the start, m³ [default: 0].
    #[arg(long, value_name = "M3")]
    pub gas_m3: Option<String>,
    /// What a quarter (gas hour) missing from the export means.
    #[arg(long, default_value = "refuse", value_parser = ["refuse", "zero", "hold"])]
    pub gaps: String,
    /// Within each quarter: a household that moves second to second, or flat power.
    #[arg(long, default_value = "household", value_parser = ["household", "flat"])]
    pub shape: String,
    /// Time between telegrams.
    #[arg(long, default_value = "1s")]
    pub interval: String,
    /// Write the equivalent scenario to FILE (CSV paths relative to it) instead of
    /// playing; `p1sim run FILE` then plays the same bytes.
    #[arg(long, value_name = "FILE")]
    pub write_scenario: Option<PathBuf>,
    /// Where and how the telegrams go, as for `run`.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Seed of the household shape [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Emit only every N-th telegram instant.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub every: Option<u64>,
}

impl ReplayArgs {
    /// The options these arguments name.
    pub fn options(self) -> ReplayOptions {
        let gaps = match self.gaps.as_str() {
            "zero" => Gaps::Zero,
            "hold" => Gaps::Hold,
            _ => Gaps::Refuse,
        };
        let shape = match self.shape.as_str() {
            "flat" => replay::Shape::Flat,
            _ => replay::Shape::Household,
        };
        ReplayOptions {
            electricity: self.electricity,
            gas: self.gas,
            model: self.model,
            grid: self.grid,
            meter: self.meter,
            registers: Registers {
                import_day_kwh: self.import_day_kwh,
                import_night_kwh: self.import_night_kwh,
                export_day_kwh: self.export_day_kwh,
                export_night_kwh: self.export_night_kwh,
                gas_m3: self.gas_m3,
            },
            gaps,
            shape,
            interval: self.interval,
            write_scenario: self.write_scenario,
            run: RunOptions {
                scenario: None,
                seed: self.seed,
                every: self.every,
                output: self.output,
                quiet: false,
            },
        }
    }
}

/// Registers to start from (kWh / m³ as decimal strings, exact); zero when not given.
#[derive(Debug, Clone, Default)]
pub struct Registers {
    /// `1-0:1.8.1`, kWh.
    pub import_day_kwh: Option<String>,
    /// `1-0:1.8.2`, kWh.
    pub import_night_kwh: Option<String>,
    /// `1-0:2.8.1`, kWh.
    pub export_day_kwh: Option<String>,
    /// `1-0:2.8.2`, kWh.
    pub export_night_kwh: Option<String>,
    /// The gas meter's reading, m³.
    pub gas_m3: Option<String>,
}

/// Options of `p1sim replay`.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The quarter-hour electricity export.
    pub electricity: Option<PathBuf>,
    /// The hourly gas export.
    pub gas: Option<PathBuf>,
    /// `S211` or `T211`.
    pub model: Option<String>,
    /// `1x230V`, `3x230V` or `3x400V`.
    pub grid: Option<String>,
    /// A scenario whose `[meter]` table (and M-Bus devices) to use.
    pub meter: Option<PathBuf>,
    /// Registers to start from.
    pub registers: Registers,
    /// What a missing quarter means.
    pub gaps: Gaps,
    /// How each quarter is spread over its seconds.
    pub shape: replay::Shape,
    /// Time between telegrams (a scenario duration, e.g. `1s`, `15m`).
    pub interval: String,
    /// Write the equivalent scenario here instead of playing it.
    pub write_scenario: Option<PathBuf>,
    /// Output, pacing, truth and seed, as for `run` (its `scenario` is not used).
    pub run: RunOptions,
}

/// Exports at least this large get a progress bar on a terminal: they take about a
/// second to load (the `replay_load` benchmark reads some 250 MB/s; 32 MiB is years of
/// quarters).
const PROGRESS_BYTES: u64 = 32 << 20;

/// What the exports and options say before a scenario is written: the period, the
/// meters' ids and the `[meter]` table of `--meter`.
struct Prepared {
    period: std::ops::Range<SimTime>,
    ids: Ids,
    meter: Option<toml::Table>,
}

/// `p1sim replay`.
pub fn replay(opts: &ReplayOptions, stdout: &mut dyn Write) -> Result<i32, CliError> {
    let Prepared { period, ids, meter } = prepare(opts)?;
    match &opts.write_scenario {
        Some(target) => {
            let dir = target.parent().unwrap_or(Path::new(""));
            let text = scenario_text(opts, &period, &ids, meter, dir)?;
            staged::write_whole(target, text.as_bytes())?;
            eprintln!(
                "p1sim: wrote {}; play it with `p1sim run {}`",
                target.display(),
                target.display()
            );
            Ok(0)
        }
        None => {
            let (scenario, name) = build(opts, Prepared { period, ids, meter })?;
            run::play(&opts.run, scenario, &name, stdout)
        }
    }
}

/// The scenario `p1sim replay` would play for `opts`, and its name for messages (used
/// by `p1sim plot --replay`).
pub(crate) fn scenario(opts: &ReplayOptions) -> Result<(Scenario, String), CliError> {
    build(opts, prepare(opts)?)
}

/// Checks the register options and reads the exports.
fn prepare(opts: &ReplayOptions) -> Result<Prepared, CliError> {
    for (flag, value, decimals) in [
        ("--import-day-kwh", &opts.registers.import_day_kwh, 3),
        ("--import-night-kwh", &opts.registers.import_night_kwh, 3),
        ("--export-day-kwh", &opts.registers.export_day_kwh, 3),
        ("--export-night-kwh", &opts.registers.export_night_kwh, 3),
        ("--gas-m3", &opts.registers.gas_m3, 3),
    ] {
        if let Some(v) = value {
            check_decimal(flag, v, decimals)?;
        }
    }
    let electricity = match &opts.electricity {
        Some(path) => Some(load(path, |path, input, progress| {
            replay::read_electricity(path, input, opts.gaps, progress)
        })?),
        None => None,
    };
    let gas = match &opts.gas {
        Some(path) => Some(load(path, |path, input, progress| {
            replay::read_gas(path, input, opts.gaps, progress)
        })?),
        None => None,
    };
    // The run: the electricity export's period, else the gas export's.
    let period = match (&electricity, &gas) {
        (Some(e), _) if !e.is_empty() => e.start()..e.end(),
        (None, Some(g)) if !g.is_empty() => g.start()..g.end(),
        _ => {
            return Err(CliError::Usage(
                "the export has no rows: nothing to replay".into(),
            ));
        }
    };
    if let (Some(g), Some(_)) = (&gas, &electricity) {
        if g.start() > period.start || g.end() < period.end {
            eprintln!(
                "p1sim: warning: the gas export covers {} to {}, the electricity export {} \
                 to {}: outside its export the gas meter stands still",
                local(g.start()),
                local(g.end()),
                local(period.start),
                local(period.end)
            );
        }
    }
    let meter = match &opts.meter {
        Some(path) => Some(meter_table(path)?),
        None => None,
    };
    let ids = Ids {
        electricity: electricity
            .as_ref()
            .and_then(|e| e.meter_id().map(str::to_owned)),
        gas: gas.as_ref().and_then(|g| g.meter_id().map(str::to_owned)),
    };
    Ok(Prepared { period, ids, meter })
}

/// The scenario of `prepared`, validated, and its name for messages.
fn build(opts: &ReplayOptions, prepared: Prepared) -> Result<(Scenario, String), CliError> {
    let Prepared { period, ids, meter } = prepared;
    let text = scenario_text(opts, &period, &ids, meter, Path::new(""))?;
    let name = source(opts).display().to_string();
    let scenario = Scenario::parse_in("<p1sim replay>", &text, Path::new("")).map_err(|e| {
        match e.path.as_str() {
            // A value from the options: name the generated line, not its position.
            "<p1sim replay>" => CliError::Usage(format!(
                "`{}` (from the options): {}",
                text.lines()
                    .nth(e.line.saturating_sub(1))
                    .unwrap_or("")
                    .trim(),
                e.message
            )),
            _ => CliError::Scenario(e),
        }
    })?;
    Ok((scenario, name))
}

/// Reads one export with `read`, showing a progress bar for a large file on a terminal.
fn load<T>(
    path: &Path,
    read: impl FnOnce(
        &str,
        fs::File,
        Option<&mut dyn FnMut(u64)>,
    ) -> Result<T, p1_scenario::ScenarioError>,
) -> Result<T, CliError> {
    let label = path.display().to_string();
    let file = fs::File::open(path).map_err(|e| CliError::io(&label, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if size >= PROGRESS_BYTES && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template("loading {msg} [{wide_bar}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(label.clone());
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut progress = |bytes: u64| bar.set_position(bytes);
    let result = read(&label, file, Some(&mut progress));
    bar.finish_and_clear();
    Ok(result?)
}

/// The `[meter]` table of the scenario at `path`.
fn meter_table(path: &Path) -> Result<toml::Table, CliError> {
    let label = path.display().to_string();
    // Validating the whole scenario gives its errors their positions (or, for a file
    // that cannot be read, the OS reason).
    Scenario::from_path(path)?;
    let text = fs::read_to_string(path).map_err(|e| CliError::io(&label, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| CliError::Internal(format!("{label} validated but does not parse: {e}")))?;
    match table.get("meter") {
        Some(toml::Value::Table(meter)) => Ok(meter.clone()),
        _ => Err(CliError::Usage(format!(
            "--meter {label}: the scenario has no [meter] table"
        ))),
    }
}

/// An instant as a scenario writes it without ambiguity: local time with its offset.
fn instant(t: SimTime) -> String {
    let (local, summer) = t.local();
    format!(
        "{}{}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        if summer { "+02:00" } else { "+01:00" }
    )
}

fn local(t: SimTime) -> String {
    t.local().0.format("%Y-%m-%d %H:%M").to_string()
}

/// A decimal with at most `decimals` decimals, such as `1520.000`.
fn check_decimal(flag: &str, value: &str, decimals: usize) -> Result<(), CliError> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > decimals {
        return Err(CliError::Usage(format!(
            "{flag}: expected a number with at most {decimals} decimals such as 1520.000, \
             found `{value}`"
        )));
    }
    Ok(())
}

/// `path` as the scenario in `dir` names it: relative to `dir` when below it, else
/// absolute.
fn relative(path: &Path, dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        return path.display().to_string();
    }
    let absolute = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (file, dir) = (absolute(path), absolute(dir));
    file.strip_prefix(&dir)
        .unwrap_or(&file)
        .display()
        .to_string()
}

/// A valid equipment id for `medium` (`1` electricity, `7` gas), or `None` with a
/// warning.
fn equipment_id(id: Option<&str>, medium: char, export: &Path) -> Option<String> {
    let id = id?;
    if id.len() == 14 && id.is_ascii() && id.starts_with(medium) {
        return Some(id.to_owned());
    }
    eprintln!(
        "p1sim: warning: {}: the Meter column `{id}` is not a 14-character equipment id \
         starting with {medium}; the meter gets a default id",
        export.display()
    );
    None
}

/// The exports' `Meter` columns.
struct Ids {
    electricity: Option<String>,
    gas: Option<String>,
}

/// The export the replay is named after.
fn source(opts: &ReplayOptions) -> &Path {
    opts.electricity
        .as_deref()
        .or(opts.gas.as_deref())
        .unwrap_or(Path::new("replay"))
}

/// The `[meter]` table: `--meter`'s (or an empty one) with the options and the exports'
/// ids; with the M-Bus channel of the gas meter when there is a gas export.
fn meter_config(
    opts: &ReplayOptions,
    ids: &Ids,
    meter: Option<toml::Table>,
) -> Result<(toml::Table, Option<i64>), CliError> {
    use toml::Value;
    let string = |s: &str| Value::String(s.to_owned());
    let from_meter = meter.is_some();
    let mut meter = meter.unwrap_or_default();
    if let Some(model) = &opts.model {
        meter.insert("model".into(), string(model));
    }
    if let Some(grid) = &opts.grid {
        meter.insert("grid".into(), string(grid));
    }
    if !from_meter || !meter.contains_key("equipment_id") {
        if let Some(id) = equipment_id(ids.electricity.as_deref(), '1', source(opts)) {
            meter.insert("equipment_id".into(), Value::String(id));
        }
    }
    let r = &opts.registers;
    for (key, value) in [
        ("import_day_kwh", &r.import_day_kwh),
        ("import_night_kwh", &r.import_night_kwh),
        ("export_day_kwh", &r.export_day_kwh),
        ("export_night_kwh", &r.export_night_kwh),
    ] {
        if let Some(v) = value {
            meter.insert(key.into(), string(v));
        }
    }
    // The gas goes to the first gas meter of `--meter`, else to a new one on the first
    // free channel.
    let mut gas_channel = None;
    if let Some(path) = &opts.gas {
        let mut devices = match meter.remove("mbus") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let existing = devices.iter_mut().find(|d| {
            d.get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k == "gas")
        });
        match existing {
            Some(Value::Table(device)) => {
                gas_channel = device.get("channel").and_then(Value::as_integer);
                if let Some(m3) = &r.gas_m3 {
                    device.insert("initial_m3".into(), string(m3));
                }
            }
            _ => {
                let used: Vec<i64> = devices
                    .iter()
                    .filter_map(|d| d.get("channel").and_then(Value::as_integer))
                    .collect();
                let channel = (1..=4).find(|c| !used.contains(c)).ok_or_else(|| {
                    CliError::Usage(
                        "--meter: its four M-Bus channels are taken, none by a gas meter".into(),
                    )
                })?;
                let mut device = toml::Table::new();
                device.insert("channel".into(), Value::Integer(channel));
                device.insert("kind".into(), string("gas"));
                let id = equipment_id(ids.gas.as_deref(), '7', path)
                    .unwrap_or_else(|| "7MIT1100000001".to_owned());
                device.insert("equipment_id".into(), Value::String(id));
                device.insert(
                    "initial_m3".into(),
                    string(r.gas_m3.as_deref().unwrap_or("0.000")),
                );
                devices.push(Value::Table(device));
                gas_channel = Some(channel);
            }
        }
        meter.insert("mbus".into(), Value::Array(devices));
    }
    Ok((meter, gas_channel))
}

/// The scenario equivalent to `p1sim replay` with `opts`, CSV paths as seen from `dir`.
fn scenario_text(
    opts: &ReplayOptions,
    period: &std::ops::Range<SimTime>,
    ids: &Ids,
    meter: Option<toml::Table>,
    dir: &Path,
) -> Result<String, CliError> {
    use toml::Value;
    let (meter, gas_channel) = meter_config(opts, ids, meter)?;
    // Written by hand for a readable key order; `Value`'s display quotes and escapes.
    let quote = |s: &str| Value::String(s.to_owned()).to_string();
    let name = source(opts)
        .file_stem()
        .map_or_else(|| "replay".to_owned(), |s| s.to_string_lossy().into_owned());
    let mut text = format!(
        "# Written by `p1sim replay` from\n#   {}\n# the export's period, its meters' ids and one [[loads.replay]]; `end` is a\n\
         # second past the export's end, so the telegram at its end shows the last quarter\n\
         # complete. Edit freely: docs/scenarios.md documents every key.\n",
        source(opts).display()
    );
    text += &format!("name = {}\n", quote(&name));
    text += &format!("seed = {}\n", opts.run.seed.unwrap_or(0));
    text += &format!("start = {}\n", quote(&instant(period.start)));
    text += &format!("end = {}\n", quote(&instant(period.end.plus_ms(1000))));
    text += &format!("interval = {}\n\n", quote(&opts.interval));
    let mut wrapper = toml::Table::new();
    wrapper.insert("meter".into(), Value::Table(meter));
    text += &toml::to_string(&wrapper).map_err(|e| CliError::Internal(e.to_string()))?;
    text += "\n[[loads.replay]]\nname = \"export\"\n";
    if let Some(path) = &opts.electricity {
        text += &format!("electricity = {}\n", quote(&relative(path, dir)));
    }
    if let (Some(path), Some(channel)) = (&opts.gas, gas_channel) {
        text += &format!(
            "gas = {}\ngas_channel = {channel}\n",
            quote(&relative(path, dir))
        );
    }
    text += &format!(
        "gaps = {}\nshape = {}\n",
        quote(opts.gaps.name()),
        quote(opts.shape.name())
    );
    Ok(text)
}
