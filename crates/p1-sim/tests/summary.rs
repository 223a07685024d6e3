//! The summary line runs end with on stderr, checked against independent counts: the
//! golden files' telegrams and the golden truth records' registers and peak. `-q`
//! silences it.

mod common;

use common::p1sim;

fn telegrams_in(golden: &[u8]) -> usize {
    golden.windows(5).filter(|w| w == b"/FLU5").count()
}

/// `x.yyy kWh` of the Wh difference between the truth file's first and last records.
fn kwh(records: &[serde_json::Value], key: &str) -> String {
    let wh = |r: &serde_json::Value| -> u64 {
        r["state"][key]
            .as_array()
            .expect("registers")
            .iter()
            .map(|v| v.as_u64().expect("mJ"))
            .sum::<u64>()
            / 3_600_000
    };
    let d = wh(records.last().expect("last")) - wh(&records[0]);
    format!("{}.{:03} kWh", d / 1000, d % 1000)
}

#[test]
fn run_ends_with_one_line_that_agrees_with_the_golden_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("m.p1");
    let truth = dir.path().join("m.jsonl");
    let o = p1sim(&[
        "run",
        "scenarios/month-rollover.toml",
        "--out",
        out.to_str().expect("utf-8"),
        "--truth",
        truth.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    let golden = std::fs::read(common::root().join("golden/month-rollover.p1")).expect("golden");
    let text = std::fs::read_to_string(common::root().join("golden/month-rollover.truth.jsonl"))
        .expect("truth");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let peak = &records.last().expect("last")["state"]["demand"]["peak"];
    let w = peak["w"].as_u64().expect("w");
    for part in [
        format!("{} telegrams written;", telegrams_in(&golden)),
        "55 min simulated from 2026-01-31 23:40:00".to_owned(),
        format!("imported {}", kwh(&records, "import_mj")),
        format!("exported {}", kwh(&records, "export_mj")),
        format!(
            "month peak {}.{:03} kW ({})",
            w / 1000,
            w % 1000,
            peak["at"].as_str().expect("at")
        ),
        format!("wrote {}, {}", out.display(), truth.display()),
    ] {
        assert!(err.contains(&part), "{part:?} not in {err}");
    }

    let o = p1sim(&[
        "-q",
        "run",
        "scenarios/month-rollover.toml",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success());
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = p1sim(&["run", "--quiet"]);
    assert!(o.status.success() && o.stderr.is_empty());
}

#[test]
fn a_silent_meter_is_counted_apart() {
    let o = p1sim(&["run", "scenarios/port-disabled.toml"]);
    let golden =
        std::fs::read(common::root().join("golden/port-disabled.truth.jsonl")).expect("golden");
    let silent = golden
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"{") && l.windows(15).any(|w| w == b"\"telegram\":null"))
        .count();
    assert!(silent > 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(", {silent} silent instants;")),
        "{err}"
    );
    assert!(telegrams_in(&o.stdout) > 0);
    assert!(
        err.contains(&format!("{} telegrams written", telegrams_in(&o.stdout))),
        "{err}"
    );
}

#[test]
fn fixtures_check_totals_the_catalogue() {
    let o = p1sim(&["fixtures", "--check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let dir = common::root().join("scenarios");
    let mut scenarios = 0;
    let mut telegrams = 0;
    for e in std::fs::read_dir(&dir).expect("scenarios") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "toml") {
            scenarios += 1;
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            let golden =
                std::fs::read(common::root().join(format!("golden/{stem}.p1"))).expect("golden");
            telegrams += telegrams_in(&golden);
        }
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let expected = format!("p1sim: {scenarios} scenarios, {telegrams} telegrams checked");
    assert!(err.starts_with(&expected), "{expected:?} vs {err}");
    let o = p1sim(&["fixtures", "--check", "-q"]);
    assert!(o.stderr.is_empty());
}
