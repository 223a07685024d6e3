//! Opening a command's input: a file path, or `-` for standard input.

use std::fs::File;
use std::io::{self, Read};

use crate::error::CliError;

/// A named byte source.
pub struct Input {
    /// The path as given, or `<stdin>`.
    pub name: String,
    /// The bytes.
    pub reader: Box<dyn Read>,
}

impl Input {
    /// Opens `path`, or standard input for `-`.
    pub fn open(path: &str) -> Result<Input, CliError> {
        if path == "-" {
            return Ok(Input {
                name: "<stdin>".into(),
                reader: Box::new(io::stdin().lock()),
            });
        }
        let file = File::open(path).map_err(|e| CliError::io(path, e))?;
        Ok(Input {
            name: path.to_owned(),
            reader: Box::new(file),
        })
    }
}
