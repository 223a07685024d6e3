//! The one dsmr_parser runner of the test suites (included with `#[path]` by
//! `crates/p1-faults/tests/common` and `crates/p1-sim/tests/common`): the project's
//! Python and `conformance/dsmr_parser_check.py` over JSON-lines cases.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// The workspace root (both including crates live in `crates/<name>`).
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The project's Python, with dsmr_parser installed by scripts/setup-python.sh; a missing
/// environment fails the test, it never skips it.
pub(crate) fn python() -> PathBuf {
    let py = workspace().join("target/py-venv/bin/python");
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
        .arg(workspace().join("conformance/dsmr_parser_check.py"))
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
