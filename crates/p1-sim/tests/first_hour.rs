//! What a new user meets in their first hour, through the real binary: `--fast` to TCP
//! with `--wait-clients` waits for its readers (real sockets), `--out DIR/` replaces an
//! earlier run's telegram files and leaves other files alone, `--out DIR` without the
//! slash says how to get a directory, a missing scenario file is named without a fake
//! position, and an unreadable one with the OS reason and no position either.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::p1sim;

fn first_telegram(stream: &[u8]) -> &[u8] {
    let bang = stream.iter().position(|&b| b == b'!').expect("a telegram");
    &stream[..bang + 7]
}

#[test]
fn fast_tcp_waits_for_its_clients() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .current_dir(common::root())
        .args([
            "run",
            "--out",
            "tcp:127.0.0.1:0",
            "--fast",
            "--wait-clients",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn p1sim");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("ready line");
    let addr = ready
        .trim()
        .strip_prefix("tcp:")
        .expect("tcp:ADDR")
        .to_owned();
    let connect = || {
        let s = TcpStream::connect(&addr).expect("connect");
        // A safety net against a hang, not a timing assertion.
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        s
    };
    // The first client alone does not start the run: the meter is still waiting, so the
    // second client, connecting later, gets telegram 1 as well.
    let mut a = connect();
    let mut b = connect();
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    let _ = a.read_to_end(&mut got_a);
    let _ = b.read_to_end(&mut got_b);
    let status = child.wait().expect("wait");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    assert!(status.success(), "{err}");
    let golden = std::fs::read(common::root().join("golden/quickstart.p1")).expect("golden");
    for got in [&got_a, &got_b] {
        assert!(!got.is_empty(), "a client got nothing: {err}");
        assert_eq!(first_telegram(got), first_telegram(&golden), "{err}");
    }
    assert!(err.contains("2 clients"), "{err}");
}

#[test]
fn wait_clients_needs_tcp() {
    let o = p1sim(&["run", "--out", "pty", "--wait-clients", "1", "--fast"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a tcp: output"));
}

#[test]
fn out_dir_replaces_an_earlier_longer_run_and_keeps_other_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = format!("{}/", dir.path().display());
    // An earlier, longer run's files (past the 600 telegrams of the quickstart) and a
    // file of the user's own.
    for name in ["000601.p1", "000700.p1", "1000000.p1"] {
        std::fs::write(dir.path().join(name), b"stale").expect("write");
    }
    std::fs::write(dir.path().join("notes.txt"), b"mine").expect("write");
    std::fs::write(dir.path().join("00001.p1"), b"not p1sim's name").expect("write");
    let o = p1sim(&["run", "--out", &out]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 600 + 2, "{names:?}");
    for kept in ["000001.p1", "000600.p1", "00001.p1", "notes.txt"] {
        assert!(names.iter().any(|n| n == kept), "{kept} missing: {names:?}");
    }
    for gone in ["000601.p1", "000700.p1", "1000000.p1"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} left: {names:?}");
    }
    assert!(
        err.contains("3 stale files of an earlier run removed"),
        "{err}"
    );
    // Together the files are the golden stream.
    let mut joined = Vec::new();
    for i in 1..=600 {
        joined.extend(std::fs::read(dir.path().join(format!("{i:06}.p1"))).expect("telegram"));
    }
    let golden = std::fs::read(common::root().join("golden/quickstart.p1")).expect("golden");
    assert!(
        joined == golden,
        "the directory's telegrams differ from golden/quickstart.p1"
    );
}

#[test]
fn out_naming_a_directory_without_slash_says_how() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display().to_string();
    let o = p1sim(&["run", "--out", &d]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("write `--out {d}/`")), "{err}");
}

#[test]
fn a_missing_scenario_is_named_without_a_position() {
    for cmd in ["run", "panel", "plot"] {
        let mut args = vec![cmd, "no/such.toml"];
        if cmd == "plot" {
            args.extend(["-o", "/tmp/never.svg"]);
        }
        if cmd == "panel" {
            args.extend(["--script", "press"]);
        }
        let o = p1sim(&args);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            err.trim(),
            "p1sim: no/such.toml: no such scenario file",
            "{cmd}"
        );
    }
}

#[test]
fn an_unreadable_scenario_is_named_with_the_os_reason_and_no_position() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let locked = dir.path().join("locked.toml");
    std::fs::copy(common::root().join("scenarios/quickstart.toml"), &locked).expect("copy");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    // A scenario inside a directory we may not search is there, just out of reach.
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).expect("mkdir");
    let hidden = closed.join("s.toml");
    std::fs::copy(common::root().join("scenarios/quickstart.toml"), &hidden).expect("copy");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let picture = dir.path().join("never.svg");
    let cases = [
        (dir.path().to_path_buf(), "Is a directory"),
        (locked, "Permission denied"),
        (hidden, "Permission denied"),
    ];
    for (path, reason) in &cases {
        let p = path.to_str().expect("utf-8");
        for args in [
            vec!["run", p],
            vec!["panel", p, "--script", "press"],
            vec!["plot", p, "-o", picture.to_str().expect("utf-8")],
            vec![
                "replay",
                "scenarios/data/fluvius-electricity-2023-10-26.csv",
                "--meter",
                p,
            ],
        ] {
            let o = common::p1sim_unprivileged(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            let expected = format!("p1sim: {p}: cannot read the scenario: {reason}");
            assert!(err.trim().starts_with(&expected), "{args:?}: {err}");
            assert!(!err.contains(":1:1"), "{args:?}: {err}");
        }
    }
    assert!(!picture.exists());
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
