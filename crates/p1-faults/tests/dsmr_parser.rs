//! Conformance with dsmr_parser 1.11.2 (PyPI, the parser behind Home Assistant's dsmr
//! integration): one emission per fault kind, fed to conformance/dsmr_parser_check.py
//! both whole (`TelegramParser.parse`) and as a stream (`TelegramBuffer`, the reader
//! path). The expected reactions are written here from guide/oracles.md §B.2/§B.8 and
//! dsmr_parser's source; the test checks that the injector's verdict says the same and
//! that the real package behaves so.
//!
//! Without the virtual environment (scripts/setup-python.sh) this test FAILS; it never
//! skips.

mod common;

use common::*;
use p1_faults::{CrcMode, Expect, FaultKind, TstField};
use serde_json::json;

use Expect::{Accept, Crash, NotFramed, Reject, SilentEmpty};

/// (case name, fault, TelegramParser.parse, reader, values intact for dsmr_parser).
fn table() -> Vec<(&'static str, FaultKind, Expect, Expect, bool)> {
    let o = |s: &str| Some(s.parse().expect("OBIS"));
    vec![
        (
            "invalid_timestamp_mbus",
            FaultKind::InvalidTimestamp {
                field: TstField::Mbus,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "invalid_timestamp_peak",
            FaultKind::InvalidTimestamp {
                field: TstField::Peak,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "invalid_timestamp_history",
            FaultKind::InvalidTimestamp {
                field: TstField::History,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "factory_clock",
            FaultKind::FactoryClock,
            Accept,
            Accept,
            true,
        ),
        (
            "clock_shift",
            FaultKind::ClockShift { seconds: -86_400 },
            Accept,
            Accept,
            true,
        ),
        (
            "stale_history_head",
            FaultKind::StaleHistoryHead,
            Accept,
            Accept,
            true,
        ),
        (
            "stale_gas_channel",
            FaultKind::StaleGasChannel {
                channel: None,
                at: None,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "unitless_reading",
            FaultKind::UnitlessReading { channel: Some(1) },
            Accept,
            Accept,
            true,
        ),
        ("full_history", FaultKind::FullHistory, Accept, Accept, true),
        (
            "all_mbus_channels",
            FaultKind::AllMbusChannels,
            Accept,
            Accept,
            true,
        ),
        (
            "long_message",
            FaultKind::LongMessage { bytes: 1024 },
            Accept,
            Accept,
            true,
        ),
        (
            "oversize_2049",
            FaultKind::Oversize { min_len: 2049 },
            Accept,
            Accept,
            true,
        ),
        // dsmr_parser does not miss a missing object: the attribute is simply absent.
        (
            "drop_line",
            FaultKind::DropLine {
                obis: o("1-0:1.8.1"),
            },
            Accept,
            Accept,
            false,
        ),
        // A repeated line is parsed twice; the last wins.
        (
            "duplicate_line",
            FaultKind::DuplicateLine {
                obis: o("1-0:32.7.0"),
            },
            Accept,
            Accept,
            true,
        ),
        (
            "reorder_lines",
            FaultKind::ReorderLines {
                first: o("1-0:1.8.1"),
                second: o("1-0:2.8.2"),
            },
            Accept,
            Accept,
            true,
        ),
        (
            "unknown_line",
            FaultKind::UnknownLine {
                obis: "1-0:99.97.0".parse().expect("OBIS"),
                values: vec!["0".into(), "0-0:96.7.19".into()],
                after: None,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "bit_flip_stale",
            FaultKind::BitFlip {
                obis: o("1-0:1.8.1"),
                crc: CrcMode::Stale,
            },
            Reject,
            Reject,
            false,
        ),
        // A letter inside a decimal with a valid CRC: decimal.InvalidOperation escapes.
        (
            "bit_flip_recomputed",
            FaultKind::BitFlip {
                obis: o("1-0:1.8.1"),
                crc: CrcMode::Recomputed,
            },
            Crash,
            Crash,
            false,
        ),
        (
            "stray_slash_stale",
            FaultKind::StraySlash {
                obis: o("0-0:96.14.0"),
                crc: CrcMode::Stale,
            },
            Reject,
            Reject,
            false,
        ),
        // Whole: the CRC (first '/' to last '!') matches and the '/'-prefixed line is just
        // not recognised. Stream: the buffer restarts at the stray '/': CRC mismatch.
        (
            "stray_slash_recomputed",
            FaultKind::StraySlash {
                obis: o("0-0:96.14.0"),
                crc: CrcMode::Recomputed,
            },
            Accept,
            Reject,
            false,
        ),
        (
            "no_blank_line",
            FaultKind::NoBlankLine,
            Accept,
            Accept,
            true,
        ),
        (
            "wrong_crc",
            FaultKind::WrongCrc { xor: 0x0100 },
            Reject,
            Reject,
            false,
        ),
        // Regex [0-9A-Z]{1,4} reads only the leading digits; the buffer wants [A-F0-9].
        (
            "lower_case_crc",
            FaultKind::LowerCaseCrc { force: true },
            Reject,
            NotFramed,
            false,
        ),
        (
            "unpadded_crc",
            FaultKind::UnpaddedCrc { force: true },
            Accept,
            Accept,
            true,
        ),
        (
            "missing_crc_crlf",
            FaultKind::MissingCrc {
                trailer: p1_faults::MissingCrc::Crlf,
            },
            Reject,
            Reject,
            false,
        ),
        (
            "missing_crc_nothing",
            FaultKind::MissingCrc {
                trailer: p1_faults::MissingCrc::Nothing,
            },
            Reject,
            NotFramed,
            false,
        ),
        ("lf_only", FaultKind::LfOnly, SilentEmpty, NotFramed, false),
        (
            "truncate_head",
            FaultKind::TruncateHead { skip: Some(30) },
            Reject,
            NotFramed,
            false,
        ),
        (
            "truncate_tail",
            FaultKind::TruncateTail { keep: Some(400) },
            Reject,
            NotFramed,
            false,
        ),
        // The interrupted copy has no '!': the reader skips it and delivers the whole one.
        (
            "run_together",
            FaultKind::RunTogether { keep: Some(200) },
            Reject,
            Accept,
            true,
        ),
        (
            "noise_ones",
            FaultKind::Noise {
                len: 64,
                pattern: p1_faults::NoisePattern::Ones,
                allow_slash: false,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "noise_zeros",
            FaultKind::Noise {
                len: 64,
                pattern: p1_faults::NoisePattern::Zeros,
                allow_slash: false,
            },
            Accept,
            Accept,
            true,
        ),
        (
            "split",
            FaultKind::Split {
                pieces: 5,
                pause_ms: 30,
            },
            Accept,
            Accept,
            true,
        ),
        ("silence", FaultKind::Silence, Reject, NotFramed, false),
    ]
}

fn word(e: Expect) -> &'static str {
    match e {
        Accept => "accept",
        Reject => "reject",
        SilentEmpty => "silent_empty",
        NotFramed => "not_framed",
        Crash => "crash",
    }
}

#[test]
fn every_fault_kind_is_covered() {
    let names: std::collections::BTreeSet<&str> =
        table().iter().map(|(_, f, ..)| f.name()).collect();
    // 28 kinds in the catalogue.
    assert_eq!(names.len(), 28, "{names:?}");
}

#[test]
fn dsmr_parser_reacts_as_the_verdict_says() {
    let mut cases = Vec::new();
    for (name, fault, whole, stream, intact) in table() {
        let e = emit(fault);
        assert_eq!(e.verdict.dsmr_parser, whole, "{name}: verdict (whole)");
        assert_eq!(e.verdict.dsmr_reader, stream, "{name}: verdict (stream)");
        // Bytes outside ASCII travel as latin-1 code points.
        let telegram: String = e.bytes.iter().map(|&b| char::from(b)).collect();
        let readout = (intact).then(|| serde_json::to_value(&e.readout).expect("json"));
        let values = |exp: Expect| {
            if exp == Accept { readout.clone() } else { None }
        };
        cases.push(json!({
            "name": format!("{name} (parse)"),
            "telegram": telegram,
            "readout": values(whole),
            "expect": word(whole),
        }));
        cases.push(json!({
            "name": format!("{name} (stream)"),
            "telegram": telegram,
            "readout": values(stream),
            "expect": word(stream),
            "mode": "stream",
        }));
    }
    let out = run_dsmr_parser(&cases);
    assert!(out.contains("0 failure(s)"), "{out}");
}
