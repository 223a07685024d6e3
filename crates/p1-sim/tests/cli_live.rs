//! `p1sim run` on live ports through the real binary, with real sockets, ptys and
//! signals: the truth file describes exactly the telegrams sent when SIGINT stops the
//! run, and an old one survives a port that fails to open; a `--link` left dangling by
//! SIGKILL is replaced by the next run, and anything else at that path is refused with a
//! reason; at the file-descriptor limit the TCP listener backs off and says so once.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_p1sim")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    // A safety net only: every wait is for a condition.
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(child: &Child, sig: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// Starts `p1sim ARGS` and returns it with the first line it prints (the device path or
/// `tcp:ADDR`).
fn start(args: &[&str]) -> (Child, String, BufReader<ChildStdout>) {
    let mut child = Command::new(bin())
        .current_dir(common::root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn p1sim");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("ready line");
    (child, first.trim_end().to_owned(), out)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `N` from the summary line `p1sim: N telegrams written, D dropped...`.
fn telegrams_written(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.contains(" telegrams written"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    line.trim_start_matches("p1sim: ")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"))
}

#[test]
fn at_sigint_the_truth_describes_exactly_the_telegrams_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("truth.jsonl");
    let truth_arg = truth.to_str().expect("utf-8");
    let (mut child, ready, _out) = start(&[
        "run",
        "--out",
        "tcp:127.0.0.1:0",
        "--speed",
        "20",
        "--wait-clients",
        "1",
        "--truth",
        truth_arg,
    ]);
    let addr = ready.strip_prefix("tcp:").expect("tcp:ADDR");
    let mut client = TcpStream::connect(addr).expect("connect");
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let _ = client.read_to_end(&mut got);
        got
    });
    wait_for("three truth records", || lines(&truth).len() >= 3);
    signal(&child, "INT");
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert!(status.success(), "{status}: {stderr}");
    let got = reader.join().expect("reader");

    let records = lines(&truth);
    // The client was there before the first telegram and reads as they come, so it got
    // every telegram sent: the truth's telegrams, end to end, must be exactly its bytes.
    let stream: Vec<u8> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).expect("json");
            v["telegram"].as_str().expect("telegram").to_owned()
        })
        .collect::<String>()
        .into_bytes();
    assert!(!got.is_empty(), "the client got nothing");
    assert!(
        stream == got,
        "the truth's {} records are not the {} bytes the client received",
        records.len(),
        got.len()
    );
    assert_eq!(telegrams_written(&stderr), records.len(), "{stderr}");
    assert!(stderr.contains(", 0 dropped"), "{stderr}");
    let frames = p1_wire::decode_all(&got);
    assert!(frames.iter().all(Result::is_ok));
}

fn run_to_end(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .current_dir(common::root())
        .args(args)
        .output()
        .expect("run p1sim")
}

#[test]
fn a_link_left_by_sigkill_is_replaced_and_anything_else_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("p1");
    let link_arg = link.to_str().expect("utf-8");
    let args = ["run", "--out", "pty", "--link", link_arg];

    let (mut killed, dev, _out) = start(&args);
    assert_eq!(
        std::fs::read_link(&link).expect("link").to_str(),
        Some(&*dev)
    );
    signal(&killed, "KILL");
    killed.wait().expect("wait");
    wait_for("the killed meter's pty to go away", || {
        !Path::new(&dev).exists() || std::fs::read_link(&link).is_err()
    });
    assert!(
        std::fs::symlink_metadata(&link).is_ok(),
        "SIGKILL cannot remove the link"
    );

    // The next run replaces the dangling link, and removes it when it stops.
    let (mut next, dev2, _out2) = start(&args);
    assert_eq!(
        std::fs::read_link(&link).expect("link").to_str(),
        Some(&*dev2)
    );

    // While that meter serves, a second one may not take its link.
    let o = run_to_end(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("still in use"), "{err}");
    assert_eq!(
        std::fs::read_link(&link).expect("link").to_str(),
        Some(&*dev2)
    );
    signal(&next, "TERM");
    assert!(next.wait().expect("wait").success());
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link left behind"
    );

    // A symlink to something else, or a file, is never replaced.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"mine").expect("write");
    std::os::unix::fs::symlink(&other, &link).expect("symlink");
    let o = run_to_end(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(link_arg) && err.contains("not a pseudo-terminal"),
        "{err}"
    );
    assert_eq!(std::fs::read_link(&link).expect("link"), other);
    std::fs::remove_file(&link).expect("rm");

    std::fs::write(&link, b"a file").expect("write");
    let o = run_to_end(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a symlink"), "{err}");
    assert_eq!(std::fs::read(&link).expect("file"), b"a file");
}

/// CPU time (user + system, in clock ticks) the process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').expect(")") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

/// Counts bytes a client receives, in the background.
fn counting(mut s: TcpStream) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use std::sync::atomic::Ordering;
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&n);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(k) = s.read(&mut buf) {
            if k == 0 {
                break;
            }
            count.fetch_add(k, Ordering::SeqCst);
        }
    });
    n
}

#[test]
fn at_the_descriptor_limit_tcp_backs_off_says_so_once_and_keeps_serving() {
    use std::sync::atomic::Ordering;
    // stdin, stdout, stderr, the listener and a client or two fit under 6; the rest wait.
    let mut child = Command::new("sh")
        .current_dir(common::root())
        .arg("-c")
        .arg("ulimit -n 6 && exec \"$0\" run --out tcp:127.0.0.1:0 --speed 20")
        .arg(bin())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    out.read_line(&mut ready).expect("ready line");
    let addr = ready
        .trim_end()
        .strip_prefix("tcp:")
        .expect("tcp:ADDR")
        .to_owned();
    let (err_tx, err_rx) = std::sync::mpsc::channel();
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        let mut line = String::new();
        while err.read_line(&mut line).is_ok_and(|n| n > 0) {
            let _ = err_tx.send(std::mem::take(&mut line));
        }
    });

    let first = counting(TcpStream::connect(&addr).expect("connect"));
    wait_for("the first client to be served", || {
        first.load(Ordering::SeqCst) > 0
    });
    let waiting: Vec<_> = (0..8)
        .map(|_| counting(TcpStream::connect(&addr).expect("connect")))
        .collect();
    let told = err_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a message on stderr");
    assert!(told.contains("cannot accept a client"), "{told}");

    // While clients wait, the meter keeps the first one going without spinning: over
    // the next 20 telegrams (a second at --speed 20) it uses a small part of a core.
    let pid = child.id();
    let (cpu0, at0, got0) = (cpu_ticks(pid), Instant::now(), first.load(Ordering::SeqCst));
    wait_for("the first client to get 20 more telegrams", || {
        first.load(Ordering::SeqCst) >= got0 + 20 * 1000
    });
    let cpu = cpu_ticks(pid) - cpu0;
    let wall_ticks = at0.elapsed().as_secs_f64() * 100.0;
    assert!(
        (cpu as f64) < wall_ticks / 4.0,
        "{cpu} CPU ticks in {wall_ticks:.0} wall ticks: the accept loop spins"
    );
    let accepted_late = waiting
        .iter()
        .filter(|n| n.load(Ordering::SeqCst) > 0)
        .count();
    assert!(
        accepted_late < waiting.len(),
        "every client was served: the limit did not bite"
    );

    signal(&child, "TERM");
    assert!(child.wait().expect("wait").success());
    let rest: String = err_rx.try_iter().collect();
    assert!(
        !rest.contains("cannot accept a client"),
        "said more than once: {rest}"
    );
}

#[test]
fn a_live_port_that_fails_to_open_leaves_the_old_truth_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("truth.jsonl");
    std::fs::write(&truth, b"old truth\n").expect("write");
    // A port already taken: the listener cannot bind.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let o = run_to_end(&[
        "run",
        "--out",
        &format!("tcp:127.0.0.1:{port}"),
        "--truth",
        truth.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
    assert_eq!(std::fs::read(&truth).expect("truth"), b"old truth\n");
}
