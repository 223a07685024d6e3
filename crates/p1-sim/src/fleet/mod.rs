//! `p1sim fleet`: many distinct meters from one process (docs/fleet.md). The fleet itself
//! (who meter `k` is) is [`p1_scenario::Fleet`]'s; this module parses the options, picks
//! the meters of a shard, and hands them to [`batch`] (a directory of streams, all cores)
//! or [`live`] (a TCP port or a pty per meter, one event loop). [`VirtualFleet`] is the
//! library form of the live fleet, for tests.

mod batch;
mod index;
mod live;
mod virtual_fleet;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use p1_scenario::{Fleet, Scenario};

use crate::error::CliError;

pub use live::{FleetLiveOptions, FleetSummary, MeterEndpoint};
pub use virtual_fleet::VirtualFleet;

/// Where `p1sim fleet --out` sends the meters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetOutput {
    /// `DIR/`: `DIR/<equipment id>.p1` per meter and `DIR/fleet.json`.
    Dir(PathBuf),
    /// `-`: standard output (one meter only, with `--meter K`).
    Stdout,
    /// `tcp:HOST:BASE`: meter `k` on port `BASE + k`.
    Tcp {
        /// Host to bind.
        host: String,
        /// Port of meter 0.
        base: u16,
    },
    /// `pty`: a pseudo-terminal per meter.
    Pty,
}

impl FromStr for FleetOutput {
    type Err = String;

    fn from_str(text: &str) -> Result<FleetOutput, String> {
        if text == "-" {
            return Ok(FleetOutput::Stdout);
        }
        if text == "pty" {
            return Ok(FleetOutput::Pty);
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() => (h.to_owned(), p),
                Some((_, p)) => ("127.0.0.1".to_owned(), p),
                None => ("127.0.0.1".to_owned(), rest),
            };
            let base: u16 = port.parse().map_err(|_| {
                format!("`{text}`: expected tcp:HOST:BASE or tcp:BASE with BASE a port 1-65535")
            })?;
            if base == 0 {
                return Err(format!(
                    "`{text}`: a fleet needs a fixed base port (meter k listens on BASE+k), not 0"
                ));
            }
            return Ok(FleetOutput::Tcp { host, base });
        }
        if text.ends_with('/') {
            return Ok(FleetOutput::Dir(PathBuf::from(text)));
        }
        Err(format!(
            "`{text}`: expected DIR/ (ending in /), tcp:HOST:BASE, pty, or - with --meter"
        ))
    }
}

/// `--shard K/N`: the meters whose index is K modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}`: expected K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Options of `p1sim fleet`.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetOptions {
    /// A fleet file (docs/fleet.md), or a scenario file with --meters N.
    pub file: PathBuf,
    /// With a scenario: the number of meters; with a fleet file of shares: overrides its
    /// `meters`.
    #[arg(long, value_name = "N")]
    pub meters: Option<u64>,
    /// `DIR/` (a stream per meter and fleet.json), `tcp:HOST:BASE` (meter k on BASE+k),
    /// `pty` (a pty per meter), or `-` (with --meter); default: the fleet file's `out`.
    #[arg(long)]
    pub out: Option<FleetOutput>,
    /// `DIR/` output: also write `<equipment id>.truth.jsonl` per meter (docs/truth.md).
    #[arg(long)]
    pub truth: bool,
    /// Run only the meters whose index is K modulo N (for job arrays; docs/fleet.md).
    #[arg(long, value_name = "K/N", conflicts_with = "meter")]
    pub shard: Option<Shard>,
    /// Run only meter K (byte-identical to meter K of the whole fleet).
    #[arg(long, value_name = "K")]
    pub meter: Option<u64>,
    /// Override the fleet seed (each meter's seed derives from it and its index).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Batch: worker threads (default: every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// `--out pty`: a directory that gets a symlink per meter, `DIR/<equipment id>`, and
    /// `DIR/fleet.json`.
    #[arg(long, value_name = "DIR/")]
    pub link: Option<PathBuf>,
    /// Live: send as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
    /// Live: simulated seconds per real second.
    #[arg(long, default_value_t = 1.0, conflicts_with = "fast")]
    pub speed: f64,
    /// No summary line on stderr (set from the global `-q`).
    #[arg(skip)]
    pub quiet: bool,
}

/// The meters a run covers, in index order, without holding them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selection {
    len: u64,
    shard: Shard,
    only: Option<u64>,
}

impl Selection {
    pub(crate) fn new(len: u64, shard: Option<Shard>, only: Option<u64>) -> Selection {
        Selection {
            len,
            shard: shard.unwrap_or(Shard { index: 0, count: 1 }),
            only,
        }
    }

    /// Meter indices, ascending.
    pub(crate) fn indices(self) -> impl Iterator<Item = u64> {
        let (start, step, end) = match self.only {
            Some(k) => (k, 1, k.saturating_add(1).min(self.len)),
            None => (self.shard.index, self.shard.count, self.len),
        };
        (start..end).step_by(usize::try_from(step).unwrap_or(usize::MAX))
    }

    /// How many meters.
    pub(crate) fn count(self) -> u64 {
        match self.only {
            Some(k) => u64::from(k < self.len),
            None => self
                .len
                .saturating_sub(self.shard.index)
                .div_ceil(self.shard.count),
        }
    }

    /// The `n`-th selected index.
    pub(crate) fn nth(self, n: u64) -> u64 {
        match self.only {
            Some(k) => k,
            None => self.shard.index + n * self.shard.count,
        }
    }

    /// Name of the index file for this selection.
    pub(crate) fn index_name(self) -> String {
        match (self.only, self.shard.count) {
            (Some(k), _) => format!("fleet.meter-{k}.json"),
            (None, 1) => "fleet.json".to_owned(),
            (None, n) => format!("fleet.shard-{}-of-{n}.json", self.shard.index),
        }
    }
}

/// Reads the fleet named by `opts`: a fleet file, or a scenario with `--meters`.
pub fn load(opts: &FleetOptions) -> Result<Fleet, CliError> {
    let path = &opts.file;
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(&shown, e))?;
    let mut fleet = if p1_scenario::fleet::is_fleet_file(&text) {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut f = Fleet::parse_in(&shown, &text, &base, opts.meters)?;
        if f.name.is_empty() {
            f.name = stem(path);
        }
        f
    } else {
        let Some(meters) = opts.meters else {
            return Err(CliError::Usage(format!(
                "{shown} is a scenario: say how many meters with --meters N (or write a \
                 fleet file, docs/fleet.md)"
            )));
        };
        let scenario = Scenario::from_path(path)?;
        let seed = scenario.seed();
        Fleet::of_scenario(scenario, &shown, meters, seed)
            .map_err(|m| CliError::Usage(format!("--meters: {m}")))?
    };
    if let Some(seed) = opts.seed {
        fleet.set_seed(seed);
    }
    if let Some(k) = opts.meter
        && k >= fleet.len()
    {
        return Err(CliError::Usage(format!(
            "--meter {k}: the fleet has meters 0 to {}",
            fleet.len() - 1
        )));
    }
    Ok(fleet)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `p1sim fleet`.
pub fn run(opts: &FleetOptions, stdout: &mut dyn Write) -> Result<i32, CliError> {
    let fleet = load(opts)?;
    let out = match (&opts.out, fleet.out()) {
        (Some(o), _) => o.clone(),
        (None, Some((text, at))) => text
            .parse()
            .map_err(|m: String| CliError::Scenario(at.error(format!("`out`: {m}"))))?,
        (None, None) => {
            return Err(CliError::Usage(
                "say where the meters go: --out DIR/, --out tcp:HOST:BASE or --out pty".into(),
            ));
        }
    };
    if opts.truth && !matches!(out, FleetOutput::Dir(_)) {
        return Err(CliError::Usage(
            "--truth goes with --out DIR/ (a truth file per meter)".into(),
        ));
    }
    let selection = Selection::new(fleet.len(), opts.shard, opts.meter);
    match out {
        FleetOutput::Dir(dir) => {
            let jobs = opts.jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, usize::from),
                |j| usize::try_from(j).unwrap_or(1),
            );
            let telegrams = batch::write_dir(&fleet, selection, &dir, opts.truth, jobs)?;
            if !opts.quiet {
                eprintln!(
                    "p1sim: {} meters, {telegrams} telegrams to {} ({})",
                    selection.count(),
                    dir.display(),
                    selection.index_name()
                );
            }
            Ok(0)
        }
        FleetOutput::Stdout => {
            let Some(k) = opts.meter else {
                return Err(CliError::Usage(
                    "--out - writes one meter: add --meter K".into(),
                ));
            };
            batch::write_one(&fleet, k, stdout)?;
            Ok(0)
        }
        live_out => {
            let live_opts = FleetLiveOptions {
                speed: if opts.fast { None } else { Some(opts.speed) },
                handle_signals: true,
                ..FleetLiveOptions::default()
            };
            let summary = live::serve_cli(
                &fleet,
                selection,
                &live_out,
                opts.link.as_deref(),
                live_opts,
                stdout,
                fleet.out().map(|(_, at)| at),
            )?;
            if !opts.quiet {
                eprintln!("p1sim: {summary}");
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_covers_shards_exactly() {
        for len in [0u64, 1, 7, 10, 31] {
            for n in 1..5 {
                let mut all: Vec<u64> = (0..n)
                    .flat_map(|k| {
                        let s = Selection::new(len, Some(Shard { index: k, count: n }), None);
                        let v: Vec<u64> = s.indices().collect();
                        assert_eq!(v.len() as u64, s.count());
                        for (i, &x) in v.iter().enumerate() {
                            assert_eq!(s.nth(i as u64), x);
                            assert_eq!(x % n, k);
                        }
                        v
                    })
                    .collect();
                all.sort_unstable();
                assert_eq!(all, (0..len).collect::<Vec<_>>(), "len {len} n {n}");
            }
        }
    }

    #[test]
    fn parses_outputs_and_shards() {
        assert_eq!(
            "tcp:127.0.0.1:9000".parse::<FleetOutput>(),
            Ok(FleetOutput::Tcp {
                host: "127.0.0.1".into(),
                base: 9000
            })
        );
        assert_eq!(
            "tcp:9000".parse::<FleetOutput>(),
            Ok(FleetOutput::Tcp {
                host: "127.0.0.1".into(),
                base: 9000
            })
        );
        assert!("tcp:127.0.0.1:0".parse::<FleetOutput>().is_err());
        assert!("out".parse::<FleetOutput>().is_err());
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/b", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
