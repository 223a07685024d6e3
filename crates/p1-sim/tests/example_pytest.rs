//! Runs the pytest example (`examples/pytest`): a fixture starts `p1sim run --out pty`,
//! dsmr_parser's SerialReader reads the pseudo-terminal, and the values must equal the
//! live truth file. Keeps the example in the README true.

mod common;

use std::process::Command;

#[test]
fn pytest_example_passes() {
    let out = Command::new(common::python())
        .current_dir(common::root())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "examples/pytest",
        ])
        .env("P1SIM", env!("CARGO_BIN_EXE_p1sim"))
        .output()
        .expect("run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// The README's command, as a user types it: no `P1SIM`, no p1sim on PATH; the fixture
/// finds the binary cargo built in this repository.
#[test]
fn pytest_example_finds_the_binary_by_itself() {
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_p1sim"));
    let target = built
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target dir");
    let out = Command::new(common::python())
        .current_dir(common::root())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "examples/pytest",
        ])
        .env_remove("P1SIM")
        // Where this test's binary was built (the repository's target/ unless the runner
        // moved it), and a PATH without any p1sim.
        .env("CARGO_TARGET_DIR", target)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}
