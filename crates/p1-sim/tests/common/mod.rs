//! Helpers shared by the integration tests: the binary, the real captures and the
//! outside parsers.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the real `p1sim` binary with `args` in the workspace root, to its end.
pub(crate) fn p1sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run p1sim")
}

/// Runs the real `p1sim` binary with `args`, feeding it `stdin` whole, to its end.
pub(crate) fn p1sim_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn p1sim");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait p1sim")
}

/// [`p1sim`] without the power to read or write what file permissions forbid: as root
/// (a container), with the capabilities that override them dropped.
pub(crate) fn p1sim_unprivileged(args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_p1sim");
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    let mut cmd = if uid.stdout.trim_ascii() == b"0" {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set=-dac_override,-dac_read_search", "--", bin]);
        c
    } else {
        Command::new(bin)
    };
    cmd.current_dir(root())
        .args(args)
        .output()
        .expect("run p1sim")
}

/// [`p1sim`], which must succeed (its stderr shown if it does not).
pub(crate) fn p1sim_ok(args: &[&str]) -> Output {
    let o = p1sim(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
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
