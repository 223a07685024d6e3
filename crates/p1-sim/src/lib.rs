//! The `p1sim` command as a library: argument parsing, the codec commands, scenario
//! runs, fixtures and the live P1 port. `main.rs` only calls [`main_with_args`].

pub mod cli;
pub mod codec;
pub mod error;
pub mod fixtures;
pub mod input;
pub mod live;
mod outdir;
pub mod panel;
pub mod plot;
pub mod replay;
pub mod run;
mod staged;
pub mod summary;

use std::io::{self, Write};

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

/// Runs `p1sim` with `args` (program name first) and returns the process exit code.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match dispatch(cli.command, cli.quiet) {
        Ok(code) => code,
        Err(CliError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("p1sim: {e}");
            e.exit_code()
        }
    }
}

fn dispatch(command: Command, quiet: bool) -> Result<i32, CliError> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let code = match command {
        Command::Verify { files } => i32::from(!codec::verify(&files, &mut out)?),
        Command::Decode { file } => i32::from(!codec::decode(&file, &mut out)?),
        Command::Encode { file } => {
            codec::encode(&file, &mut out)?;
            0
        }
        Command::Run(mut opts) => {
            opts.quiet = quiet;
            run::run(&opts, &mut out)?
        }
        Command::Replay(args) => {
            let mut opts = args.options();
            opts.run.quiet = quiet;
            replay::replay(&opts, &mut out)?
        }
        Command::Panel(opts) => panel::run(&opts, &mut out)?,
        Command::Plot(opts) => plot::plot(
            &opts,
            &mut if quiet {
                Box::new(io::sink()) as Box<dyn Write>
            } else {
                Box::new(io::stderr())
            },
        )?,
        Command::Fixtures {
            check,
            scenarios,
            golden,
        } => fixtures::fixtures(&scenarios, &golden, check, quiet, &mut out)?,
    };
    out.flush().map_err(CliError::stdout)?;
    Ok(code)
}
