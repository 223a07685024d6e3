//! What `p1sim run` leaves on disk, through the real binary with real files, pipes and
//! signals: every output of a run is published together or not at all; a reader closing
//! stdout early fails a run that also writes `--truth`; SIGINT, SIGTERM and SIGKILL leave
//! no temporary file; new files respect the umask and replaced ones keep their mode; a
//! read-only destination exits 3 naming the user's path. `replay --write-scenario` and
//! `plot -o` write through the same staging.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_p1sim")
}

fn p1sim(args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(common::root())
        .args(args)
        .output()
        .expect("run p1sim")
}

/// `p1sim ARGS` under `sh` with the given umask.
fn p1sim_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .current_dir(common::root())
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(bin())
        .args(args)
        .output()
        .expect("run p1sim under sh")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

/// A scenario of `duration` (the quickstart's meter), written into `dir`.
fn scenario(dir: &Path, duration: &str) -> PathBuf {
    let text = std::fs::read_to_string(common::root().join("scenarios/quickstart.toml"))
        .expect("quickstart");
    let text = text.replace("duration = \"10m\"", &format!("duration = \"{duration}\""));
    let path = dir.join("s.toml");
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    // A safety net only: every wait is for a condition.
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn stdout_closed_early_fails_the_run_and_keeps_the_old_truth() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("t.jsonl");
    std::fs::write(&truth, b"old truth\n").expect("write");
    let mut child = Command::new(bin())
        .current_dir(common::root())
        .args(["run", "--truth", s(&truth)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // `head -c100`: read 100 bytes and close. The run writes 600 KB, far more than a
    // pipe holds, so it cannot have finished before the reader went away.
    let mut head = [0u8; 100];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut head)
        .expect("100 bytes");
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("closed by the reader"), "{err}");
    assert_eq!(std::fs::read(&truth).expect("truth"), b"old truth\n");
    assert_eq!(names(dir.path()), ["t.jsonl"]);
}

#[test]
fn stdout_read_to_the_end_writes_a_truth_matching_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("t.jsonl");
    let o = p1sim(&["run", "--truth", s(&truth)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sent = p1_wire::decode_all(&o.stdout).len();
    let lines = std::fs::read_to_string(&truth)
        .expect("truth")
        .lines()
        .count();
    assert_eq!((sent, lines), (600, 600));
}

#[test]
fn a_truth_that_cannot_be_written_leaves_the_out_file_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Ten telegrams: the truth fits in the write buffer and fails only when flushed at
    // the end, after the out file is complete.
    let sc = scenario(dir.path(), "10s");
    let out = dir.path().join("out.p1");
    std::fs::write(&out, b"precious").expect("write");
    let o = p1sim(&["run", s(&sc), "--out", s(&out), "--truth", "/dev/full"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("/dev/full"), "{err}");
    assert_eq!(std::fs::read(&out).expect("out"), b"precious");
    assert_eq!(names(dir.path()), ["out.p1", "s.toml"]);

    let o = p1sim(&[
        "run",
        s(&sc),
        "--out",
        s(&out),
        "--truth",
        "/nonexistent/dir/truth.jsonl",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(std::fs::read(&out).expect("out"), b"precious");
}

/// Whether `child` has a file open in `dir`.
fn has_file_open_in(child: &Child, dir: &Path) -> bool {
    let fds = format!("/proc/{}/fd", child.id());
    let Ok(entries) = std::fs::read_dir(fds) else {
        return false;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|t| t.starts_with(dir))
}

#[test]
fn signals_during_a_run_leave_no_temporary_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = scenario(dir.path(), "365d");
    let out = dir.path().join("out.p1");
    std::fs::write(&out, b"precious").expect("write");
    for sig in ["INT", "TERM", "KILL"] {
        let mut child = Command::new(bin())
            .args(["run", s(&sc), "--out", s(&out)])
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        wait_for("the run to open its output", || {
            has_file_open_in(&child, dir.path())
        });
        let sent = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = child.wait().expect("wait");
        assert!(!status.success(), "{sig}: {status}");
        assert_eq!(names(dir.path()), ["out.p1", "s.toml"], "after {sig}");
        assert_eq!(std::fs::read(&out).expect("out"), b"precious");
    }
}

#[test]
fn new_files_respect_the_umask_and_replaced_files_keep_their_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = scenario(dir.path(), "5s");
    let out = dir.path().join("out.p1");
    let truth = dir.path().join("t.jsonl");
    let run = |umask| {
        let o = p1sim_umask(
            umask,
            &["run", s(&sc), "--out", s(&out), "--truth", s(&truth)],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run("022");
    assert_eq!((mode(&out), mode(&truth)), (0o644, 0o644));
    std::fs::remove_file(&out).expect("rm");
    std::fs::remove_file(&truth).expect("rm");
    run("027");
    assert_eq!((mode(&out), mode(&truth)), (0o640, 0o640));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o604)).expect("chmod");
    run("077");
    assert_eq!((mode(&out), mode(&truth)), (0o604, 0o640));
    assert_eq!(
        p1_wire::decode_all(&std::fs::read(&out).expect("out")).len(),
        5
    );
}

#[test]
fn a_read_only_destination_exits_3_naming_the_users_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = scenario(dir.path(), "5s");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let out = ro.join("out.p1");
    let o = common::p1sim_unprivileged(&["run", s(&sc), "--out", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}:", out.display())), "{err}");
    assert!(!err.contains(".p1sim-"), "{err}");
    assert!(names(&ro).is_empty());

    // A file its owner made read-only is not replaced behind their back.
    let file = dir.path().join("locked.p1");
    std::fs::write(&file, b"keep").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let o = common::p1sim_unprivileged(&["run", s(&sc), "--out", s(&file)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}:", file.display())), "{err}");
    assert_eq!(std::fs::read(&file).expect("file"), b"keep");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn a_symlink_to_a_file_stays_a_symlink_and_its_file_is_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = scenario(dir.path(), "5s");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let real = data.join("real.p1");
    std::fs::write(&real, b"old").expect("write");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let link = dir.path().join("out.p1");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let o = p1sim(&["run", s(&sc), "--out", s(&link)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_link(&link).expect("still a symlink"), real);
    let bytes = std::fs::read(&real).expect("real file");
    assert_eq!(p1_wire::decode_all(&bytes).len(), 5);
    assert_eq!(mode(&real), 0o640);
    assert_eq!(names(&data), ["real.p1"]);
}

/// `p1sim ARGS` under `sh` with a 512-byte file-size limit (SIGXFSZ ignored, so a
/// write past it fails with EFBIG instead of killing the process).
fn p1sim_file_limited(args: &[&str]) -> Output {
    Command::new("sh")
        .current_dir(common::root())
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1; exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .output()
        .expect("run p1sim under sh")
}

const EXPORT: &str = "scenarios/data/fluvius-electricity-2023-10-26.csv";

#[test]
fn write_scenario_and_plot_into_a_read_only_directory_exit_3_naming_the_users_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let scenario = ro.join("written.toml");
    let picture = ro.join("plot.svg");
    for (args, target) in [
        (
            vec!["replay", EXPORT, "--write-scenario", s(&scenario)],
            &scenario,
        ),
        (vec!["plot", "-o", s(&picture)], &picture),
    ] {
        let o = common::p1sim_unprivileged(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(&format!("{}:", target.display())), "{err}");
        assert!(!err.contains(".p1sim-"), "{err}");
        assert!(names(&ro).is_empty(), "{:?}", names(&ro));
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn a_written_scenario_cut_short_leaves_the_existing_file_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("written.toml");
    std::fs::write(&target, b"# my edits\n").expect("write");
    // The scenario (some 640 bytes) does not fit under the 512-byte limit.
    let o = p1sim_file_limited(&["replay", EXPORT, "--write-scenario", s(&target)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("{}:", target.display())), "{err}");
    assert_eq!(std::fs::read(&target).expect("target"), b"# my edits\n");
    assert_eq!(names(dir.path()), ["written.toml"]);
    // Without the limit it is replaced whole.
    let o = p1sim(&["replay", EXPORT, "--write-scenario", s(&target)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&target).expect("target");
    assert!(text.contains("[[loads.replay]]"), "{text}");
}

#[test]
fn a_replotted_picture_keeps_its_mode_and_a_new_one_respects_the_umask() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = dir.path().join("fresh.svg");
    let o = p1sim_umask("027", &["-q", "plot", "-o", s(&fresh)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&fresh), 0o640);
    let private = dir.path().join("private.svg");
    std::fs::write(&private, b"old").expect("write");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let o = p1sim(&["-q", "plot", "-o", s(&private)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(&private)
            .expect("picture")
            .starts_with(b"<svg")
    );
    assert_eq!(mode(&private), 0o600);
    assert_eq!(names(dir.path()), ["fresh.svg", "private.svg"]);
}
