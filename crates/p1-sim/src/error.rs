//! Errors of the `p1sim` commands and their exit codes.
//!
//! Exit codes: 0 success; 1 the command ran but found a problem (an invalid telegram,
//! a golden file that differs); 2 bad input or usage (a file that does not exist or does
//! not parse, with its position); 3 an I/O failure on output; 70 an internal error.

use std::fmt;
use std::io;

use p1_scenario::ScenarioError;

/// A command failure.
#[derive(Debug)]
pub enum CliError {
    /// Input that cannot be used, with its position.
    Input {
        /// File name.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was expected.
        message: String,
    },
    /// A file that cannot be read.
    Read {
        /// File name.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// Output cannot be written.
    Write(io::Error),
    /// An output file cannot be created, written or put in place.
    Output {
        /// The file as the user named it.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// A usage error not tied to a file position.
    Usage(String),
    /// A scenario (or a file it refers to) that does not parse or validate, displayed as
    /// `path:line:column: message`.
    Scenario(ScenarioError),
    /// A check failed (reported already); exit 1.
    Failed(String),
    /// A bug.
    Internal(String),
}

impl CliError {
    /// A read error on `path`.
    pub fn io(path: &str, source: io::Error) -> CliError {
        CliError::Read {
            path: path.to_owned(),
            source,
        }
    }

    /// An error writing the output file `path`.
    pub fn output(path: &std::path::Path, source: io::Error) -> CliError {
        CliError::Output {
            path: path.display().to_string(),
            source,
        }
    }

    /// A write error on the output.
    pub fn stdout(e: io::Error) -> CliError {
        CliError::Write(e)
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Input { .. }
            | CliError::Read { .. }
            | CliError::Usage(_)
            | CliError::Scenario(_) => 2,
            CliError::Failed(_) => 1,
            CliError::Write(_) | CliError::Output { .. } => 3,
            CliError::Internal(_) => 70,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input {
                path,
                line,
                column,
                message,
            } => write!(f, "{path}:{line}:{column}: {message}"),
            CliError::Read { path, source } => write!(f, "{path}: {source}"),
            CliError::Write(e) => write!(f, "cannot write output: {e}"),
            CliError::Output { path, source } => write!(f, "cannot write {path}: {source}"),
            CliError::Usage(m) | CliError::Failed(m) => write!(f, "{m}"),
            CliError::Scenario(e) => write!(f, "{e}"),
            CliError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<ScenarioError> for CliError {
    fn from(e: ScenarioError) -> CliError {
        CliError::Scenario(e)
    }
}
