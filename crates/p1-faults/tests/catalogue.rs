//! Every fault kind on a real capture: the bytes show the intended symptom (expectations
//! written from the spec and the capture, not from the injector's output), the strict
//! decoder rejects exactly the emissions marked `spec_valid = false`, and each rejection
//! is reported at the line and column where the symptom is.

mod common;

use common::*;
use p1_faults::{CrcMode, FaultKind, TstField};
use p1_wire::{ErrorKind, Obis, Tst, crc16};

fn obis(s: &str) -> Obis {
    s.parse().expect("OBIS")
}

/// The emission is accepted by the strict decoder, says so, and the decoder reads back
/// exactly the content the emission claims.
fn assert_valid(e: &p1_faults::Emission) {
    assert!(e.verdict.spec_valid, "marked invalid: {:?}", e.applied);
    let frames = decode(&e.bytes);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let frame = frames[0].as_ref().expect("strict decoder accepts");
    assert_eq!(frame.readout, e.readout);
}

fn assert_invalid(e: &p1_faults::Emission) {
    assert!(!e.verdict.spec_valid, "marked valid: {:?}", e.applied);
    assert!(!strict_accepts(&e.bytes));
}

/// The base capture's bytes with `from` replaced by `to` and the CRC recomputed.
fn reframed(from: &str, to: &str) -> Vec<u8> {
    let (bytes, _) = base();
    let t = text(&bytes);
    assert!(t.contains(from), "{from}");
    let t = t.replacen(from, to, 1);
    let bang = t.rfind('!').expect("!");
    let body = &t.as_bytes()[..=bang];
    let mut out = body.to_vec();
    out.extend_from_slice(format!("{:04X}\r\n", crc16(body)).as_bytes());
    out
}

// ---- content quirks ----

#[test]
fn invalid_timestamp_mbus() {
    let e = emit(FaultKind::InvalidTimestamp {
        field: TstField::Mbus,
    });
    let want = reframed(
        "0-1:24.2.3(231102121002W)(00092.287*m3)",
        "0-1:24.2.3(632525252525W)(00092.287*m3)",
    );
    let want = text(&want).replacen("0-2:24.2.1(231102121532W)", "0-2:24.2.1(632525252525W)", 1);
    assert_eq!(text(&e.bytes)[..want.len() - 8], want[..want.len() - 8]);
    assert_valid(&e);
}

#[test]
fn invalid_timestamp_peak_and_history() {
    let e = emit(FaultKind::InvalidTimestamp {
        field: TstField::Peak,
    });
    assert_eq!(
        e.bytes,
        reframed(
            "1-0:1.6.0(231102114500W)(03.064*kW)",
            "1-0:1.6.0(632525252525W)(03.064*kW)"
        )
    );
    assert_valid(&e);
    let e = emit(FaultKind::InvalidTimestamp {
        field: TstField::History,
    });
    let t = text(&e.bytes);
    let line = t
        .lines()
        .find(|l| l.starts_with("0-0:98.1.0"))
        .expect("98.1.0");
    assert_eq!(line.matches("(632525252525W)").count(), 4);
    assert!(line.contains("(231101000000W)(632525252525W)(04.927*kW)"));
    assert_valid(&e);
}

#[test]
fn factory_clock_and_clock_shift() {
    let e = emit(FaultKind::FactoryClock);
    assert_eq!(
        e.bytes,
        reframed("0-0:1.0.0(231102121548W)", "0-0:1.0.0(000101010000W)")
    );
    assert_valid(&e);
    let e = emit(FaultKind::ClockShift { seconds: -3600 });
    assert_eq!(
        e.bytes,
        reframed("0-0:1.0.0(231102121548W)", "0-0:1.0.0(231102111548W)")
    );
    assert_valid(&e);
    // Forward across midnight and the month end: 2023-11-02 12:15:48 + 29 days 12 h.
    let e = emit(FaultKind::ClockShift {
        seconds: 29 * 86_400 + 12 * 3600,
    });
    assert_eq!(
        e.bytes,
        reframed("0-0:1.0.0(231102121548W)", "0-0:1.0.0(231202001548W)")
    );
    assert_valid(&e);
}

#[test]
fn stale_history_head() {
    let (_, mut r) = base();
    let d = r.demand.as_mut().expect("50217");
    d.history[0].at = Tst::parse(b"230731120000S").expect("tst");
    d.history[0].w = 1000;
    let e = emit_on(FaultKind::StaleHistoryHead, &r);
    assert!(
        text(&e.bytes).contains(
            "0-0:98.1.0(4)(1-0:1.6.0)(1-0:1.6.0)(230801000000S)(632525252525W)(00.000*kW)(230901000000S)"
        ),
        "{}",
        text(&e.bytes)
    );
    assert_valid(&e);
}

#[test]
fn stale_gas_channel() {
    let e = emit(FaultKind::StaleGasChannel {
        channel: None,
        at: None,
    });
    // "7FLO2119000003" in hex.
    let block = "0-3:24.1.0(003)\r\n0-3:96.1.1(37464C4F32313139303030303033)\r\n0-3:24.4.0(1)\r\n0-3:24.2.3(230119124005W)(00000.000*m3)\r\n!";
    assert_eq!(e.bytes, reframed("!", block));
    assert_valid(&e);
}

#[test]
fn unitless_reading() {
    let e = emit(FaultKind::UnitlessReading { channel: Some(1) });
    assert_eq!(
        e.bytes,
        reframed(
            "0-1:24.2.3(231102121002W)(00092.287*m3)",
            "0-1:24.2.3(632525252525W)(00000.000)"
        )
    );
    assert_valid(&e);
}

#[test]
fn full_history() {
    let e = emit(FaultKind::FullHistory);
    let t = text(&e.bytes);
    let line = t
        .lines()
        .find(|l| l.starts_with("0-0:98.1.0"))
        .expect("98.1.0");
    assert!(line.starts_with(
        "0-0:98.1.0(13)(1-0:1.6.0)(1-0:1.6.0)(221101000000W)(221015184500S)(01.500*kW)(221201000000W)(221115184500W)(01.637*kW)"
    ), "{line}");
    assert!(line.ends_with("(231101000000W)(231015184500S)(03.144*kW)"));
    // 3 header values + 13 entries of (13 + 13 + 9 characters + 6 parentheses).
    assert_eq!(line.len(), "0-0:98.1.0".len() + 4 + 11 + 11 + 13 * 41);
    assert_valid(&e);
}

#[test]
fn all_mbus_channels() {
    let e = emit(FaultKind::AllMbusChannels);
    let t = text(&e.bytes);
    assert!(t.contains("0-3:24.1.0(003)\r\n0-3:96.1.1(37464C4F32313139303030303033)\r\n0-3:24.4.0(1)\r\n0-3:24.2.3(231102121548W)(01237.900*m3)\r\n"));
    assert!(t.contains("0-4:24.1.0(007)\r\n0-4:96.1.1(3853455430303030303030303034)"));
    assert!(t.contains("0-4:24.2.1(231102121548W)(01239.011*m3)\r\n!"));
    assert_valid(&e);
}

#[test]
fn long_message_and_oversize() {
    let e = emit(FaultKind::LongMessage { bytes: 100 });
    let t = text(&e.bytes);
    let line = t
        .lines()
        .find(|l| l.starts_with("0-0:96.13.0("))
        .expect("96.13.0");
    assert_eq!(line.len(), "0-0:96.13.0()".len() + 200);
    // "P1SIM " in hex.
    assert!(line.starts_with("0-0:96.13.0(50315349"));
    assert_valid(&e);
    for min in [1501, 2049] {
        let e = emit(FaultKind::Oversize { min_len: min });
        // At least `min` bytes; the message grows two hex characters per byte, so it is
        // either empty (the rest alone is long enough) or just long enough.
        let message_empty = text(&e.bytes).contains("0-0:96.13.0()");
        assert!(e.bytes.len() >= min);
        assert!(
            message_empty || e.bytes.len() < min + 2,
            "{}",
            e.bytes.len()
        );
        assert!(text(&e.bytes).contains("0-0:98.1.0(13)"));
        assert!(text(&e.bytes).contains("0-4:24.1.0"));
        assert_valid(&e);
    }
}

// ---- line faults ----

#[test]
fn drop_line() {
    let e = emit(FaultKind::DropLine {
        obis: Some(obis("1-0:1.8.1")),
    });
    assert_eq!(e.bytes, reframed("1-0:1.8.1(000301.548*kWh)\r\n", ""));
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    match &err.kind {
        ErrorKind::Object { obis: o, .. } => assert_eq!(*o, Some(obis("1-0:1.8.1"))),
        k => panic!("{k:?}"),
    }
    // A missing object is reported where the telegram ends.
    assert_eq!(err.line, bang_line(&e.bytes));
    // The gas valve line is optional (water meters have none): still valid.
    let e = emit(FaultKind::DropLine {
        obis: Some(obis("0-1:24.4.0")),
    });
    assert_eq!(e.bytes, reframed("0-1:24.4.0(1)\r\n", ""));
    assert!(e.verdict.spec_valid);
    let frame = decode(&e.bytes).remove(0).expect("accepted");
    assert_eq!(frame.readout.mbus[0].valve, None);
}

#[test]
fn duplicate_line() {
    let e = emit(FaultKind::DuplicateLine {
        obis: Some(obis("1-0:32.7.0")),
    });
    assert_eq!(
        e.bytes,
        reframed(
            "1-0:32.7.0(232.9*V)\r\n",
            "1-0:32.7.0(232.9*V)\r\n1-0:32.7.0(232.9*V)\r\n"
        )
    );
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert!(matches!(err.kind, ErrorKind::Object { .. }), "{err}");
    assert_eq!(err.line, line_of(&e.bytes, "1-0:32.7.0") + 1);
    assert_eq!(err.column, 1);
}

#[test]
fn reorder_lines() {
    let e = emit(FaultKind::ReorderLines {
        first: Some(obis("1-0:1.8.1")),
        second: Some(obis("1-0:2.8.2")),
    });
    let want = reframed(
        "1-0:1.8.1(000301.548*kWh)\r\n1-0:1.8.2(000270.014*kWh)\r\n1-0:2.8.1(000000.005*kWh)\r\n1-0:2.8.2(000000.000*kWh)",
        "1-0:2.8.2(000000.000*kWh)\r\n1-0:1.8.2(000270.014*kWh)\r\n1-0:2.8.1(000000.005*kWh)\r\n1-0:1.8.1(000301.548*kWh)",
    );
    assert_eq!(e.bytes, want);
    assert_valid(&e);
}

#[test]
fn unknown_lines() {
    let e = emit(fault(r#"{ kind = "unknown_line" }"#));
    assert_eq!(e.bytes, reframed("\r\n!", "\r\n0-0:96.13.1()\r\n!"));
    assert_valid(&e);
    let e = emit(fault(
        r#"{ kind = "unknown_line", obis = "1-0:99.97.0", values = ["0", "0-0:96.7.19"], after = "0-0:96.13.0" }"#,
    ));
    assert_eq!(
        e.bytes,
        reframed(
            "0-0:96.13.0()\r\n",
            "0-0:96.13.0()\r\n1-0:99.97.0(0)(0-0:96.7.19)\r\n"
        )
    );
    assert_valid(&e);
}

/// The single byte where `a` and `b` differ (same length).
fn one_difference(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len());
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    diffs[0]
}

#[test]
fn bit_flip_recomputed_points_at_the_value() {
    let (base_bytes, _) = base();
    let e = emit(FaultKind::BitFlip {
        obis: Some(obis("1-0:1.8.1")),
        crc: CrcMode::Recomputed,
    });
    let body = |b: &[u8]| b[..b.iter().rposition(|&c| c == b'!').expect("!")].to_vec();
    let at = one_difference(&body(&base_bytes), &body(&e.bytes));
    assert!(base_bytes[at].is_ascii_digit());
    assert_eq!(e.bytes[at], base_bytes[at] ^ 0x40);
    let line = line_of(&e.bytes, "1-0:1.8.1");
    let line_start = text(&e.bytes).find("1-0:1.8.1").expect("line");
    // The digit is in the number part: after "1-0:1.8.1(" and before "*kWh".
    assert!((line_start + 10..line_start + 20).contains(&at));
    // The CRC covers the flipped byte.
    let bang = e.bytes.iter().rposition(|&c| c == b'!').expect("!");
    assert_eq!(
        &e.bytes[bang + 1..bang + 5],
        format!("{:04X}", crc16(&e.bytes[..=bang])).as_bytes()
    );
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    match &err.kind {
        ErrorKind::Object { obis: o, .. } => assert_eq!(*o, Some(obis("1-0:1.8.1"))),
        k => panic!("{k:?}"),
    }
    assert_eq!(err.line, line);
}

#[test]
fn bit_flip_stale_breaks_the_crc() {
    let (base_bytes, _) = base();
    let e = emit(FaultKind::BitFlip {
        obis: None,
        crc: CrcMode::Stale,
    });
    let at = one_difference(&base_bytes, &e.bytes);
    assert_eq!(e.bytes[at], base_bytes[at] ^ 0x40);
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert!(
        matches!(err.kind, ErrorKind::CrcMismatch { found: 0xC4B0, .. }),
        "{err}"
    );
    assert_eq!((err.line, err.column), (bang_line(&e.bytes), 2));
}

#[test]
fn stray_slash() {
    let (base_bytes, _) = base();
    let e = emit(FaultKind::StraySlash {
        obis: Some(obis("0-0:96.14.0")),
        crc: CrcMode::Stale,
    });
    let t = text(&base_bytes).replacen("\r\n0-0:96.14.0", "\r\n/0-0:96.14.0", 1);
    assert_eq!(text(&e.bytes), t);
    assert_invalid(&e);
    let results = decode(&e.bytes);
    assert_eq!(results.len(), 2, "{results:?}");
    let outer = results[0].as_ref().expect_err("interrupted");
    assert_eq!(outer.kind, ErrorKind::Interrupted);
    assert_eq!(
        (outer.line, outer.column),
        (line_of(&e.bytes, "/0-0:96.14.0"), 1)
    );
    // The stray '/' starts a bogus telegram whose second line is not empty.
    let inner = results[1].as_ref().expect_err("bogus telegram");
    assert!(matches!(inner.kind, ErrorKind::Syntax { .. }), "{inner}");
    assert_eq!((inner.line, inner.column), (2, 1));
    let e = emit(FaultKind::StraySlash {
        obis: Some(obis("0-0:96.14.0")),
        crc: CrcMode::Recomputed,
    });
    assert_eq!(e.bytes, reframed("\r\n0-0:96.14.0", "\r\n/0-0:96.14.0"));
    assert_invalid(&e);
}

#[test]
fn no_blank_line() {
    let e = emit(FaultKind::NoBlankLine);
    assert_eq!(
        e.bytes,
        reframed("_A\r\n\r\n0-0:96.1.4", "_A\r\n0-0:96.1.4")
    );
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    match &err.kind {
        ErrorKind::Syntax { expected, .. } => assert!(expected.contains("empty line"), "{err}"),
        k => panic!("{k:?}"),
    }
    assert_eq!((err.line, err.column), (2, 1));
}

// ---- CRC and framing ----

fn crc_line(bytes: &[u8]) -> String {
    let bang = bytes.iter().rposition(|&c| c == b'!').expect("!");
    text(&bytes[bang..])
}

#[test]
fn wrong_crc() {
    let (base_bytes, _) = base();
    let e = emit(FaultKind::WrongCrc { xor: 0x0101 });
    assert_eq!(crc_line(&e.bytes), "!C5B1\r\n");
    assert_eq!(
        e.bytes[..e.bytes.len() - 6],
        base_bytes[..base_bytes.len() - 6]
    );
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert_eq!(
        err.kind,
        ErrorKind::CrcMismatch {
            computed: 0xC4B0,
            found: 0xC5B1
        }
    );
    assert_eq!((err.line, err.column), (bang_line(&e.bytes), 2));
}

#[test]
fn lower_case_crc() {
    // The capture's CRC C4B0 has letters: no salt needed.
    let e = emit(FaultKind::LowerCaseCrc { force: false });
    assert_eq!(crc_line(&e.bytes), "!c4b0\r\n");
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert!(matches!(err.kind, ErrorKind::CrcFormat { .. }), "{err}");
    assert_eq!((err.line, err.column), (bang_line(&e.bytes), 2));
}

#[test]
fn unpadded_crc() {
    // C4B0 has no leading zero: a meter that never pads prints it unchanged.
    let (base_bytes, _) = base();
    let e = emit(FaultKind::UnpaddedCrc { force: false });
    assert_eq!(e.bytes, base_bytes);
    assert!(e.applied.is_empty());
    assert_valid(&e);
    // Forced: a salt line makes the CRC small, and it is printed without padding.
    let e = emit(FaultKind::UnpaddedCrc { force: true });
    let t = text(&e.bytes);
    assert!(t.contains("\r\n0-0:96.99.0("), "{t}");
    let bang = e.bytes.iter().rposition(|&c| c == b'!').expect("!");
    let crc = crc16(&e.bytes[..=bang]);
    assert!(crc < 0x1000);
    assert_eq!(crc_line(&e.bytes), format!("!{crc:X}\r\n"));
    assert!(crc_line(&e.bytes).len() < 7);
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert!(matches!(err.kind, ErrorKind::CrcFormat { .. }), "{err}");
    assert_eq!((err.line, err.column), (bang_line(&e.bytes), 2));
}

#[test]
fn missing_crc() {
    let (base_bytes, _) = base();
    let cut = base_bytes.len() - 6;
    let e = emit(fault(r#"{ kind = "missing_crc" }"#));
    assert_eq!(e.bytes[..cut], base_bytes[..cut]);
    assert_eq!(&e.bytes[cut..], b"\r\n");
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert!(matches!(err.kind, ErrorKind::CrcFormat { .. }), "{err}");
    assert_eq!((err.line, err.column), (bang_line(&e.bytes), 2));
    let e = emit(fault(r#"{ kind = "missing_crc", trailer = "nothing" }"#));
    assert_eq!(e.bytes, base_bytes[..cut]);
    assert_invalid(&e);
    assert_eq!(first_error(&e.bytes).kind, ErrorKind::Truncated);
}

#[test]
fn lf_only() {
    let (base_bytes, _) = base();
    let e = emit(FaultKind::LfOnly);
    assert!(!e.bytes.contains(&b'\r'));
    let bang = e.bytes.iter().rposition(|&c| c == b'!').expect("!");
    let body: Vec<u8> = base_bytes[..base_bytes.len() - 6]
        .iter()
        .copied()
        .filter(|&c| c != b'\r')
        .collect();
    assert_eq!(e.bytes[..=bang], body[..]);
    assert_eq!(text(&e.bytes[bang..]), format!("!{:04X}\n", crc16(&body)));
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert!(matches!(err.kind, ErrorKind::Syntax { .. }), "{err}");
    // At the LF that ends "/FLU5\253769484_A" (17 characters).
    assert_eq!((err.line, err.column), (1, 18));
}

#[test]
fn truncations_and_run_together() {
    let (base_bytes, _) = base();
    let e = emit(FaultKind::TruncateHead { skip: Some(10) });
    assert_eq!(e.bytes, base_bytes[10..]);
    assert!(!e.verdict.spec_valid);
    assert!(
        decode(&e.bytes).is_empty(),
        "no telegram starts: nothing to accept"
    );

    let e = emit(FaultKind::TruncateTail { keep: Some(100) });
    assert_eq!(e.bytes, base_bytes[..100]);
    assert_invalid(&e);
    let err = first_error(&e.bytes);
    assert_eq!(err.kind, ErrorKind::Truncated);
    assert_eq!(err.offset, 100);

    let e = emit(FaultKind::RunTogether { keep: Some(50) });
    let mut want = base_bytes[..50].to_vec();
    want.extend_from_slice(&base_bytes);
    assert_eq!(e.bytes, want);
    assert_invalid(&e);
    let results = decode(&e.bytes);
    assert_eq!(results.len(), 2);
    let err = results[0].as_ref().expect_err("interrupted");
    assert_eq!(err.kind, ErrorKind::Interrupted);
    assert_eq!(err.offset, 50);
    assert!(results[1].is_ok(), "the complete copy is accepted");
}

// ---- the wire ----

#[test]
fn noise() {
    let (base_bytes, _) = base();
    let e = emit(fault(r#"{ kind = "noise", len = 16 }"#));
    assert_eq!(e.bytes[..16], [0xFF; 16]);
    assert_eq!(e.bytes[16..], base_bytes[..]);
    assert_valid(&e);
    let e = emit(fault(r#"{ kind = "noise", len = 16, pattern = "zeros" }"#));
    assert_eq!(e.bytes[..16], [0; 16]);
    assert_valid(&e);
    let e = emit(fault(
        r#"{ kind = "noise", len = 4096, pattern = "random" }"#,
    ));
    assert!(!e.bytes[..4096].contains(&b'/'));
    assert_eq!(e.bytes[4096..], base_bytes[..]);
    // Random means varied: at least 200 distinct byte values in 4096 draws.
    let mut seen = [false; 256];
    for &b in &e.bytes[..4096] {
        seen[usize::from(b)] = true;
    }
    assert!(seen.iter().filter(|&&s| s).count() > 200);
    assert_valid(&e);
}

#[test]
fn split_and_silence() {
    let (base_bytes, _) = base();
    let e = emit(fault(r#"{ kind = "split", pieces = 3, pause_ms = 20 }"#));
    assert_eq!(e.bytes, base_bytes);
    assert_eq!(e.pieces.len(), 3);
    assert_eq!(e.pieces.iter().map(|p| p.len).sum::<usize>(), e.bytes.len());
    assert!(e.pieces.iter().all(|p| p.len > 0));
    assert_eq!(
        e.pieces
            .iter()
            .map(|p| p.pause_after_ms)
            .collect::<Vec<_>>(),
        [20, 20, 0]
    );
    assert_valid(&e);
    let e = emit(FaultKind::Silence);
    assert!(e.bytes.is_empty());
    assert!(!e.verdict.spec_valid);
    assert!(decode(&e.bytes).is_empty());
}
