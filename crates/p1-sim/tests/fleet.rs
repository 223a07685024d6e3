//! `p1sim fleet` end to end: every meter's stream passes `p1sim verify` and dsmr_parser
//! (with the truth file's readout as the expected values), ids are unique and shaped
//! like real ones across the fleet, meter k is the same bytes alone, in fleets of other
//! sizes, in every shard of several shard counts and with any number of workers, bad fleet
//! files are refused at their line and column before anything starts, and a live fleet
//! serves meter k's stream on port BASE + k.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use p1_scenario::Fleet;
use p1_sim::fleet::{FleetLiveOptions, FleetOutput, VirtualFleet};
use serde_json::Value;

use common::{p1sim, p1sim_ok as ok};

const MINI: &str = "crates/p1-sim/tests/data/fleet-mini.toml";
const QUICK: &str = "scenarios/quickstart.toml";

/// `*.p1` files of `dir`, by name.
fn streams(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "p1"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("read"))
        })
        .collect();
    out.sort();
    out
}

fn dir_arg(d: &Path) -> String {
    format!("{}/", d.display())
}

#[test]
fn every_stream_verifies_and_passes_dsmr_parser_and_ids_are_unique() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    ok(&["fleet", MINI, "--out", &dir_arg(&dir), "--truth"]);
    let index: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("fleet.json")).unwrap()).unwrap();
    let entries = index["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 9);
    let mut ids = BTreeSet::new();
    let mut cases = Vec::new();
    for (k, e) in entries.iter().enumerate() {
        assert_eq!(e["index"], k as u64);
        let id = e["equipment_id"].as_str().unwrap();
        assert_eq!(id.len(), 14, "{id}");
        assert!(id.starts_with("1SAG1") || id.starts_with("1SAG3"), "{id}");
        assert!(ids.insert(id.to_owned()), "{id} twice");
        for m in e["mbus"].as_array().unwrap() {
            let m = m.as_str().unwrap();
            assert_eq!(m.len(), 14, "{m}");
            assert!(m.starts_with('7') || m.starts_with('8'), "{m}");
            assert!(ids.insert(m.to_owned()), "{m} twice");
        }
        let path = dir.join(e["path"].as_str().unwrap());
        let bytes = fs::read(&path).unwrap();
        // The electricity id printed in 0-0:96.1.1 is the file's name, hex-encoded.
        let hex: String = id.bytes().map(|b| format!("{b:02X}")).collect();
        assert!(
            String::from_utf8_lossy(&bytes).contains(&format!("0-0:96.1.1({hex})")),
            "{id}"
        );
        let v = ok(&["verify", path.to_str().unwrap()]);
        let report = String::from_utf8_lossy(&v.stdout);
        assert!(report.lines().all(|l| l.contains(": OK ")), "{report}");
        // dsmr_parser on every 7th telegram of every meter, expecting the truth's readout.
        let truth = fs::read_to_string(dir.join(e["truth"].as_str().unwrap())).unwrap();
        for (i, line) in truth.lines().enumerate().filter(|(i, _)| i % 7 == 0) {
            let r: Value = serde_json::from_str(line).unwrap();
            if r["telegram"].is_null() {
                continue;
            }
            cases.push(serde_json::json!({
                "name": format!("{id}#{i}"),
                "telegram": r["telegram"],
                "readout": r["readout"],
                "expect": "accept",
            }));
        }
    }
    // Meters of one scenario differ from each other (their own seed and ids).
    let all = streams(&dir);
    assert_ne!(all[0].1, all[1].1);
    assert!(cases.len() > 100, "{}", cases.len());
    common::run_dsmr_parser(&cases);
}

#[test]
fn meter_k_is_the_same_alone_in_any_fleet_size_any_shard_and_any_worker_count() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    ok(&[
        "fleet",
        QUICK,
        "--meters",
        "7",
        "--out",
        &dir_arg(&whole),
        "--jobs",
        "1",
    ]);
    let reference = streams(&whole);
    assert_eq!(reference.len(), 7);
    // A larger fleet, several workers: its first 7 meters are the same files.
    let big = tmp.path().join("big");
    ok(&[
        "fleet",
        QUICK,
        "--meters",
        "19",
        "--out",
        &dir_arg(&big),
        "--jobs",
        "3",
    ]);
    let big = streams(&big);
    assert_eq!(big.len(), 19);
    for r in &reference {
        assert!(big.contains(r), "{} differs in a fleet of 19", r.0);
    }
    // The union of the shards is the unsharded run, for several shard counts.
    for n in [2, 3, 5, 7, 10] {
        let d = tmp.path().join(format!("shards-{n}"));
        for k in 0..n {
            ok(&[
                "fleet",
                QUICK,
                "--meters",
                "7",
                "--shard",
                &format!("{k}/{n}"),
                "--out",
                &dir_arg(&d),
            ]);
            assert!(d.join(format!("fleet.shard-{k}-of-{n}.json")).exists());
        }
        assert_eq!(streams(&d), reference, "{n} shards");
    }
    // Meter k alone, on stdout.
    let index: Value =
        serde_json::from_str(&fs::read_to_string(whole.join("fleet.json")).unwrap()).unwrap();
    for k in [0usize, 4, 6] {
        let alone = ok(&[
            "fleet",
            QUICK,
            "--meters",
            "7",
            "--meter",
            &k.to_string(),
            "--out",
            "-",
        ]);
        let name = format!(
            "{}.p1",
            index["entries"][k]["equipment_id"].as_str().unwrap()
        );
        let file = reference.iter().find(|r| r.0 == name).unwrap();
        assert_eq!(alone.stdout, file.1, "meter {k}");
    }
}

#[test]
fn the_street_has_thirty_distinct_meters() {
    let fleet = Fleet::from_path(&common::root().join("scenarios/fleet-street.toml")).unwrap();
    assert_eq!(fleet.len(), 30);
    let mut ids = BTreeSet::new();
    let mut models = BTreeSet::new();
    let mut seeds = BTreeSet::new();
    for k in 0..fleet.len() {
        let id = fleet.meter(k);
        let s = fleet.scenario(&id).unwrap();
        assert_eq!(s.meter().equipment_id, id.equipment_id);
        models.insert(format!("{:?}/{:?}", s.meter().model, s.meter().grid));
        assert!(seeds.insert(id.seed));
        assert!(ids.insert(id.equipment_id.clone()));
        for d in &s.meter().mbus {
            assert!(ids.insert(d.equipment_id.clone()), "{}", d.equipment_id);
        }
        assert!((0..1000).contains(&id.phase_ms));
    }
    assert_eq!(
        fleet
            .groups()
            .iter()
            .filter(|g| g.scenario.meter().prepaid.is_some())
            .count(),
        1
    );
    assert!(models.len() >= 3, "{models:?}");
}

fn error_of(text: &str, extra: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.toml");
    fs::write(&path, text).unwrap();
    let out_dir = tmp.path().join("out");
    let mut args = vec!["fleet", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out_arg = dir_arg(&out_dir);
    if !extra.contains(&"--out") && !text.contains("out =") {
        args.extend_from_slice(&["--out", &out_arg]);
    }
    let out = p1sim(&args);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(!out_dir.exists(), "nothing starts on a bad fleet file");
    String::from_utf8_lossy(&out.stderr)
        .replace(path.to_str().unwrap(), "bad.toml")
        .trim()
        .to_owned()
}

#[test]
fn bad_fleet_files_are_refused_at_their_position() {
    let q = common::root().join(QUICK);
    let q = q.to_str().unwrap();
    let shares = format!(
        "meters = 10\n[[group]]\nscenario = \"{q}\"\nshare = \"60%\"\n[[group]]\nscenario = \"{q}\"\nshare = \"30%\"\n"
    );
    assert_eq!(
        error_of(&shares, &[]),
        "p1sim: bad.toml:7:9: the shares add up to 90.00%, not 100%"
    );
    let collision = format!(
        "[[group]]\nscenario = \"{q}\"\ncount = 5\nid_base = 100\n[[group]]\nscenario = \"{q}\"\ncount = 5\nid_base = 103\n"
    );
    let e = error_of(&collision, &[]);
    assert!(
        e.starts_with("p1sim: bad.toml:8:11: id collision: serials 103..108"),
        "{e}"
    );
    let ports =
        format!("out = \"tcp:127.0.0.1:65530\"\n[[group]]\nscenario = \"{q}\"\ncount = 10\n");
    let e = error_of(&ports, &[]);
    assert!(
        e.starts_with(
            "p1sim: bad.toml:1:7: the port range does not fit: meter 9 would listen on port 65539"
        ),
        "{e}"
    );
    let e = error_of(
        &format!("[[group]]\nscenario = \"{q}\"\ncount = 10\n"),
        &["--out", "tcp:127.0.0.1:65530"],
    );
    assert!(e.contains("the port range does not fit"), "{e}");
    let missing = "[[group]]\nscenario = \"nowhere.toml\"\ncount = 1\n";
    let e = error_of(missing, &[]);
    assert!(
        e.starts_with("p1sim: bad.toml:2:12: no scenario file"),
        "{e}"
    );
    let typo = format!("[[group]]\nscenario = \"{q}\"\ncuont = 1\n");
    let e = error_of(&typo, &[]);
    assert!(
        e.starts_with("p1sim: bad.toml:3:1: unknown key `cuont`; did you mean `count`?"),
        "{e}"
    );
    let both = format!("[[group]]\nscenario = \"{q}\"\ncount = 1\nshare = \"100%\"\n");
    assert!(error_of(&both, &[]).starts_with("p1sim: bad.toml:3:9: give `count` or `share`"));
    let e = error_of(
        &format!("phase = \"2s\"\n[[group]]\nscenario = \"{q}\"\ncount = 1\n"),
        &[],
    );
    assert!(
        e.starts_with("p1sim: bad.toml:1:9: the phase spread"),
        "{e}"
    );
}

#[test]
fn a_scenario_needs_a_meter_count() {
    let out = p1sim(&["fleet", QUICK, "--out", "/tmp/never-written/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--meters N"));
}

/// A base port for this test run: below the kernel's ephemeral range (32768 up), where
/// other tests' client sockets get their ports, and away from other tests' fixed ports.
fn base_port() -> u16 {
    20_000 + (std::process::id() % 1_000) as u16 * 12
}

/// Serves `meters` meters of `scenario` live on TCP at `speed`, one reader per port, and
/// checks each reader got exactly meter k's batch file.
fn live_equals_batch(scenario: &str, meters: u64, speed: f64, base: u16) {
    let tmp = tempfile::tempdir().unwrap();
    let batch = tmp.path().join("batch");
    let n = meters.to_string();
    ok(&["fleet", scenario, "--meters", &n, "--out", &dir_arg(&batch)]);
    let fleet = p1_sim::fleet::load(&p1_sim::fleet::FleetOptions {
        file: common::root().join(scenario),
        meters: Some(meters),
        out: None,
        truth: false,
        shard: None,
        meter: None,
        seed: None,
        jobs: None,
        link: None,
        fast: false,
        speed: 1.0,
        quiet: true,
    })
    .unwrap();
    let opts = FleetLiveOptions {
        // Large client queues so a descheduled reader loses nothing.
        speed: Some(speed),
        client_queue: 1000,
        drain: Duration::from_secs(5),
        ..FleetLiveOptions::default()
    };
    // Another program may hold a port of the range: move the range and try again.
    let (mut live, base) = (0..20u16)
        .find_map(|shift| {
            let base = base + shift * 64;
            let out = FleetOutput::Tcp {
                host: "127.0.0.1".into(),
                base,
            };
            match VirtualFleet::prepare(&fleet, None, &out, None, opts.clone()) {
                Ok(live) => Some((live, base)),
                Err(e) if e.to_string().contains("in use") => None,
                Err(e) => panic!("{e}"),
            }
        })
        .expect("a free port range");
    assert_eq!(live.addrs().len() as u64, meters);
    let readers: Vec<_> = live
        .endpoints()
        .iter()
        .map(|e| {
            let port = base + e.index as u16;
            assert_eq!(e.ready.to_string(), format!("tcp:127.0.0.1:{port}"));
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let id = e.equipment_id.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                (id, got)
            })
        })
        .collect();
    // Connections are accepted when each meter's first telegram is due, so they get it.
    live.start().unwrap();
    let summary = live.join().unwrap();
    assert_eq!(summary.dropped, 0, "{summary}");
    for r in readers {
        let (id, got) = r.join().unwrap();
        let want = fs::read(batch.join(format!("{id}.p1"))).unwrap();
        assert_eq!(got.len(), want.len(), "{id}");
        assert!(
            got == want,
            "{id}: the live stream differs from the batch file"
        );
    }
}

#[test]
fn a_live_fleet_serves_meter_k_on_base_plus_k() {
    live_equals_batch(QUICK, 3, 200.0, base_port());
}

#[test]
fn a_live_fleet_keeps_split_writes_and_silences_of_faults() {
    // Split writes pause 3 x 15 ms in real time: 10x leaves each telegram 100 ms.
    live_equals_batch("scenarios/faults.toml", 2, 10.0, base_port() + 10);
}

/// Reads from `path` until one whole telegram (`/` to the CRC line) has arrived, on a
/// thread, giving up after 20 s.
fn first_telegram(path: PathBuf) -> Option<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut f = fs::File::open(&path).expect("open pty");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = f.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if let Some(start) = got.iter().position(|&b| b == b'/') {
                let tail = &got[start..];
                if let Some(bang) = tail.iter().position(|&b| b == b'!')
                    && tail.len() >= bang + 7
                {
                    let _ = tx.send(tail[..bang + 7].to_vec());
                    break;
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20)).ok()
}

#[test]
fn a_pty_fleet_links_every_meter_by_its_id_and_removes_the_links_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let links = tmp.path().join("links");
    let mut child = Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .current_dir(common::root())
        .args([
            "fleet", QUICK, "--meters", "3", "--out", "pty", "--speed", "20",
        ])
        .arg("--link")
        .arg(dir_arg(&links))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        lines.push(line.trim().to_owned());
    }
    let index: Value =
        serde_json::from_str(&fs::read_to_string(links.join("fleet.json")).unwrap()).unwrap();
    for (k, line) in lines.iter().enumerate() {
        let (pty, id) = line.split_once(' ').expect("`PTY ID`");
        assert!(pty.starts_with("/dev/pts/"), "{line}");
        let entry = &index["entries"][k];
        assert_eq!(entry["equipment_id"], id);
        assert_eq!(entry["path"], pty);
        let link = links.join(id);
        assert_eq!(fs::read_link(&link).unwrap(), Path::new(pty));
        let telegram = first_telegram(link).expect("a telegram within 20 s");
        let hex: String = id.bytes().map(|b| format!("{b:02X}")).collect();
        assert!(
            String::from_utf8_lossy(&telegram).contains(&format!("0-0:96.1.1({hex})")),
            "{id}"
        );
        let v = Command::new(env!("CARGO_BIN_EXE_p1sim"))
            .arg("verify")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                std::io::Write::write_all(c.stdin.as_mut().unwrap(), &telegram)?;
                drop(c.stdin.take());
                c.wait_with_output()
            })
            .unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    for line in &lines {
        let id = line.split_once(' ').unwrap().1;
        assert!(
            fs::symlink_metadata(links.join(id)).is_err(),
            "{id}: link left behind"
        );
    }
}
