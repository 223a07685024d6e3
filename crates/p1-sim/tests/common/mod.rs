//! Helpers shared by the integration tests: the real captures and the outside parsers.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

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

/// The project's Python, with dsmr_parser installed by scripts/setup-python.sh.
pub(crate) fn python() -> PathBuf {
    let py = root().join("target/py-venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/setup-python.sh (CI does, through .ci/run)",
        py.display()
    );
    py
}

/// Runs conformance/dsmr_parser_check.py over `cases`; returns its output, panicking
/// with it when the checker fails.
pub(crate) fn run_dsmr_parser(cases: &[serde_json::Value]) -> String {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    for c in cases {
        writeln!(file, "{c}").expect("write case");
    }
    file.flush().expect("flush");
    let out = Command::new(python())
        .arg(root().join("conformance/dsmr_parser_check.py"))
        .arg(file.path())
        .output()
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "dsmr_parser check failed:\n{text}");
    text
}
