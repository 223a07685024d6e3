//! Helpers shared by the integration tests: the real captures and the outside parsers.
#![allow(dead_code)]

use std::path::PathBuf;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (name, bytes) of every capture INDEX.md marks valid, with the one lower-case CRC
/// (typed by its author, see p1-wire's captures test) upper-cased as meters print it.
pub(crate) fn valid_captures() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("crates/p1-wire/tests/fixtures");
    let index = std::fs::read_to_string(dir.join("INDEX.md")).expect("INDEX.md");
    let mut out = Vec::new();
    for row in index.lines().filter(|l| l.starts_with("| fluvius-")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if cells[7] != "YES" {
            continue;
        }
        let mut bytes = std::fs::read(dir.join(cells[1])).expect("capture");
        let bang = bytes.iter().rposition(|&b| b == b'!').expect("!");
        bytes[bang..].make_ascii_uppercase();
        out.push((cells[1].to_owned(), bytes));
    }
    assert_eq!(out.len(), 84);
    out
}

#[path = "../../../../conformance/runner.rs"]
mod runner;
#[allow(unused_imports, reason = "not every test binary runs dsmr_parser")]
pub(crate) use runner::{python, run_dsmr_parser};
