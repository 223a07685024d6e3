//! `p1sim run` end to end through the real binary: the built-in quickstart equals its
//! golden file; runs are deterministic and the seed matters; a directory output holds
//! one telegram per file; scenario errors carry file:line:column and exit 2; a failed
//! run leaves existing files untouched.

mod common;

use std::path::Path;
use std::process::Command;

use common::p1sim;

fn run_to(dir: &Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let mut args = vec![
        "run",
        "scenarios/quickstart.toml",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let o = p1sim(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).expect("output written")
}

#[test]
fn without_a_scenario_it_plays_the_quickstart() {
    let o = p1sim(&["run"]);
    assert!(o.status.success());
    let golden = std::fs::read(common::root().join("golden/quickstart.p1")).expect("golden");
    assert!(
        o.stdout == golden,
        "stdout differs from golden/quickstart.p1"
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = run_to(dir.path(), "a.p1", &[]);
    let b = run_to(dir.path(), "b.p1", &[]);
    let c = run_to(dir.path(), "c.p1", &["--seed", "2"]);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_directory_gets_one_telegram_per_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let whole = run_to(dir.path(), "all.p1", &[]);
    let sub = dir.path().join("each");
    let o = p1sim(&[
        "run",
        "scenarios/quickstart.toml",
        "--out",
        &format!("{}/", sub.display()),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<_> = std::fs::read_dir(&sub)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 600);
    assert!(names[0].ends_with("000001.p1"));
    let mut joined = Vec::new();
    for n in &names {
        let bytes = std::fs::read(n).expect("file");
        assert_eq!(p1_wire::decode_all(&bytes).len(), 1, "{}", n.display());
        joined.extend_from_slice(&bytes);
    }
    assert_eq!(joined, whole);
}

#[test]
fn scenario_errors_name_file_line_column_and_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "seed = 1\nstart = \"2026-06-15 12:00:00\"\nduraton = \"10m\"\n",
    )
    .expect("write");
    let o = p1sim(&["run", bad.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:3:1: unknown key `duraton`; did you mean `duration`?"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn a_bad_destination_is_a_usage_error_before_anything_runs() {
    let o = p1sim(&["run", "--out", "tcp:not-a-port"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--out"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_failed_run_leaves_existing_files_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.p1");
    std::fs::write(&out, b"precious").expect("write");
    let o = p1sim(&[
        "run",
        "scenarios/quickstart.toml",
        "--out",
        out.to_str().expect("utf-8"),
        "--truth",
        "/nonexistent/dir/truth.jsonl",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&out).expect("still there"), b"precious");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

#[test]
fn a_fifo_or_device_is_written_in_place_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("p1.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read the fifo"))
    };
    let o = p1sim(&["run", "--out", fifo.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = reader.join().expect("reader");
    let golden = std::fs::read(common::root().join("golden/quickstart.p1")).expect("golden");
    assert!(got == golden, "the fifo reader got other bytes");
    let kind = std::fs::symlink_metadata(&fifo)
        .expect("still there")
        .file_type();
    assert!(kind.is_fifo(), "the fifo was replaced by a {kind:?}");
}
