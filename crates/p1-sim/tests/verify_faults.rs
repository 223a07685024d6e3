//! `p1sim verify` on damaged telegrams: each fault kind, scheduled through a scenario
//! file, gets a precise symptom (what was expected, where), the telegram after it is still
//! read, and the exit status follows the fault's verdict; random fault mixes never make
//! it panic or lose a telegram a strict consumer must accept.

use p1_scenario::{Scenario, Simulation};
use p1_sim::codec::verify;
use proptest::prelude::*;

const QUICKSTART: &str = include_str!("../../../scenarios/quickstart.toml");

/// The quickstart scenario cut to `n` telegrams, seeded `seed`, with `faults` appended.
fn scenario(n: u32, seed: u64, faults: &str) -> Scenario {
    let text = QUICKSTART
        .replace("duration = \"10m\"", &format!("duration = \"{n}s\""))
        .replace("seed = 1\n", &format!("seed = {seed}\n"));
    assert!(text.contains(&format!("duration = \"{n}s\"")));
    Scenario::parse("faults-test.toml", &format!("{text}\n{faults}")).expect("scenario")
}

/// Runs `p1sim verify` over `bytes`; (all valid, output).
fn run_verify(bytes: &[u8]) -> (bool, String) {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, bytes).expect("write");
    let name = file.path().display().to_string();
    let mut out = Vec::new();
    let ok = verify(&[name], &mut out).expect("verify runs");
    (ok, String::from_utf8_lossy(&out).into_owned())
}

/// (fault table, what `verify` must say). The fault hits telegram 0 of two; telegram 1
/// is clean.
const CASES: &[(&str, &[&str])] = &[
    // Content quirks: valid telegrams.
    (r#"{ kind = "invalid_timestamp", field = "mbus" }"#, &[]),
    (
        r#"{ kind = "factory_clock" }"#,
        &[": OK T211 50217 000101010000W"],
    ),
    (r#"{ kind = "clock_shift", seconds = -3600 }"#, &[]),
    (r#"{ kind = "stale_history_head" }"#, &[]),
    (r#"{ kind = "stale_gas_channel", channel = 3 }"#, &[]),
    (r#"{ kind = "unitless_reading", channel = 1 }"#, &[]),
    (r#"{ kind = "full_history" }"#, &[]),
    (r#"{ kind = "all_mbus_channels" }"#, &[]),
    (r#"{ kind = "long_message", bytes = 1024 }"#, &[]),
    (r#"{ kind = "oversize", min_len = 2049 }"#, &[]),
    // Line faults.
    (
        r#"{ kind = "drop_line", obis = "1-0:1.8.1" }"#,
        &[
            "column 1): 1-0:1.8.1: expected object 1-0:1.8.1, which version 50217 always prints, found none",
        ],
    ),
    (
        r#"{ kind = "duplicate_line", obis = "1-0:32.7.0" }"#,
        &["1-0:32.7.0: expected each object once, found it again (first on line 22)"],
    ),
    (
        r#"{ kind = "reorder_lines", first = "1-0:1.8.1", second = "1-0:2.8.2" }"#,
        &[],
    ),
    (r#"{ kind = "unknown_line" }"#, &[]),
    (
        r#"{ kind = "bit_flip", obis = "1-0:1.8.1", crc = "stale" }"#,
        &["column 2): CRC mismatch: computed"],
    ),
    (
        r#"{ kind = "bit_flip", obis = "1-0:1.8.1", crc = "recomputed" }"#,
        &["column 1): 1-0:1.8.1: expected F9(3,3) like (000000.000*kWh), found \"(00"],
    ),
    (
        r#"{ kind = "stray_slash", obis = "0-0:96.14.0" }"#,
        &[
            "column 1): expected '!' and CRC, found '/' starting another telegram",
            "(line 2, column 1): expected an empty line (CR LF) after the identification",
        ],
    ),
    (
        r#"{ kind = "no_blank_line" }"#,
        &[
            "(line 2, column 1): expected an empty line (CR LF) after the identification, found \"0-0:96.1.4(50217)",
        ],
    ),
    // CRC and framing.
    (
        r#"{ kind = "wrong_crc" }"#,
        &["column 2): CRC mismatch: computed"],
    ),
    (
        r#"{ kind = "lower_case_crc", force = true }"#,
        &["column 2): expected four upper-case hex digits and CR LF after '!', found \""],
    ),
    (
        r#"{ kind = "unpadded_crc", force = true }"#,
        &["column 2): expected four upper-case hex digits and CR LF after '!', found \""],
    ),
    (
        r#"{ kind = "missing_crc", trailer = "crlf" }"#,
        &["column 2): expected four upper-case hex digits and CR LF after '!', found \"\\r\\n\""],
    ),
    (
        r#"{ kind = "missing_crc", trailer = "nothing" }"#,
        &[
            "column 2): expected four upper-case hex digits and CR LF after '!', found '/' starting another telegram",
        ],
    ),
    (
        r#"{ kind = "lf_only" }"#,
        &["(line 1, column 18): expected CR LF after the identification"],
    ),
    (
        r#"{ kind = "truncate_head", skip = 30 }"#,
        &["byte(s) outside telegrams skipped"],
    ),
    (
        r#"{ kind = "truncate_tail", keep = 400 }"#,
        &[
            "at offset 0: offset 400 (line",
            "expected '!' and CRC, found '/' starting another telegram",
        ],
    ),
    (
        r#"{ kind = "run_together", keep = 200 }"#,
        &[
            "at offset 0: offset 200 (line",
            "expected '!' and CRC, found '/' starting another telegram",
        ],
    ),
    // The wire.
    (
        r#"{ kind = "noise", len = 64, pattern = "ones" }"#,
        &[
            "telegram 1 at offset 64: OK",
            ": 64 byte(s) outside telegrams skipped",
        ],
    ),
    (r#"{ kind = "split", pieces = 5, pause_ms = 30 }"#, &[]),
    (r#"{ kind = "silence" }"#, &["telegram 1 at offset 0: OK"]),
];

#[test]
fn verify_names_each_fault_symptom() {
    for (fault, wanted) in CASES {
        let s = scenario(
            2,
            1,
            &format!("[[faults]]\nfault = {fault}\nschedule = {{ at_index = 0 }}\n"),
        );
        let frames: Vec<_> = Simulation::new(&s).collect();
        let verdict = frames[0].verdict.expect("a verdict");
        assert!(!frames[0].applied.is_empty(), "{fault}: no fault applied");
        assert!(frames[1].applied.is_empty(), "{fault}");
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.bytes.clone()).collect();
        let (ok, out) = run_verify(&bytes);
        for w in *wanted {
            assert!(out.contains(w), "{fault}: expected {w:?} in\n{out}");
        }
        // The clean telegram after the damaged one is always read.
        let last = out
            .lines()
            .rev()
            .find(|l| l.contains(": telegram "))
            .unwrap_or_default();
        assert!(
            last.contains(": OK T211"),
            "{fault}: the next telegram is lost\n{out}"
        );
        // The exit status follows the verdict, except where the damaged emission holds
        // no '/' (silence, a lost head): there is no telegram to reject, only bytes to
        // skip, as a stream consumer does.
        let unframed = !frames[0].bytes.contains(&b'/');
        assert_eq!(ok, verdict.spec_valid || unframed, "{fault}\n{out}");
        if verdict.spec_valid {
            assert_eq!(out.matches(": OK ").count(), 2, "{fault}\n{out}");
        }
    }
}

/// Fault tables for the random mixes (every kind; parameters that vary by seed left out).
const KINDS: &[&str] = &[
    r#"{ kind = "invalid_timestamp", field = "peak" }"#,
    r#"{ kind = "factory_clock" }"#,
    r#"{ kind = "clock_shift", seconds = 3600 }"#,
    r#"{ kind = "stale_history_head" }"#,
    r#"{ kind = "stale_gas_channel" }"#,
    r#"{ kind = "unitless_reading" }"#,
    r#"{ kind = "full_history" }"#,
    r#"{ kind = "all_mbus_channels" }"#,
    r#"{ kind = "long_message", bytes = 300 }"#,
    r#"{ kind = "oversize", min_len = 1501 }"#,
    r#"{ kind = "drop_line" }"#,
    r#"{ kind = "duplicate_line" }"#,
    r#"{ kind = "reorder_lines" }"#,
    r#"{ kind = "unknown_line" }"#,
    r#"{ kind = "bit_flip" }"#,
    r#"{ kind = "bit_flip", crc = "recomputed" }"#,
    r#"{ kind = "stray_slash" }"#,
    r#"{ kind = "stray_slash", crc = "recomputed" }"#,
    r#"{ kind = "no_blank_line" }"#,
    r#"{ kind = "wrong_crc", xor = 0x0F0F }"#,
    r#"{ kind = "lower_case_crc" }"#,
    r#"{ kind = "unpadded_crc", force = true }"#,
    r#"{ kind = "missing_crc" }"#,
    r#"{ kind = "missing_crc", trailer = "nothing" }"#,
    r#"{ kind = "lf_only" }"#,
    r#"{ kind = "truncate_head" }"#,
    r#"{ kind = "truncate_tail" }"#,
    r#"{ kind = "run_together" }"#,
    r#"{ kind = "noise", len = 40, pattern = "random", allow_slash = true }"#,
    r#"{ kind = "noise", len = 9, pattern = "zeros" }"#,
    r#"{ kind = "split", pieces = 3, pause_ms = 0 }"#,
    r#"{ kind = "silence" }"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any mix of faults, each hitting telegrams at random: `verify` reports without
    /// panicking, and every emission a strict consumer must accept is read as valid even
    /// after the damage before it.
    #[test]
    fn verify_never_panics_on_fault_mixes(
        picks in prop::collection::vec((0..KINDS.len(), 1u32..=9), 1..6),
        seed in any::<u64>(),
    ) {
        let faults: String = picks
            .iter()
            .map(|&(k, tenths)| {
                format!(
                    "[[faults]]\nfault = {}\nschedule = {{ probability = 0.{tenths} }}\n",
                    KINDS[k]
                )
            })
            .collect();
        let s = scenario(4, seed, &faults);
        let frames: Vec<_> = Simulation::new(&s).collect();
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.bytes.clone()).collect();
        let (_, out) = run_verify(&bytes);
        let must_accept = frames
            .iter()
            .filter(|f| f.verdict.is_some_and(|v| v.spec_valid))
            .count();
        prop_assert!(out.matches(": OK ").count() >= must_accept, "{}", out);
    }
}
