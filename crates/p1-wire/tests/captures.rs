//! Data-driven checks over the real S211/T211 captures in `tests/fixtures/` (copied from
//! the project's reference set; `INDEX.md` says which carry a valid CRC).
//!
//! Every valid capture decodes, re-encodes from its lines byte for byte, and — when its
//! lines are in the order real meters print them — re-encodes from its typed readout too.
//! Every capture marked invalid is rejected with a CRC or object error.

use std::path::PathBuf;

use p1_wire::{ErrorKind, decode_all};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// (file name, valid) for every row of INDEX.md.
fn index() -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(fixtures().join("INDEX.md")).unwrap();
    let rows: Vec<(String, bool)> = text
        .lines()
        .filter(|l| l.starts_with("| fluvius-"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[7] == "YES")
        })
        .collect();
    assert_eq!(rows.len(), 93, "INDEX.md lists 93 captures");
    rows
}

#[test]
fn valid_captures_round_trip_byte_for_byte() {
    let mut via_readout = 0;
    for (name, valid) in index() {
        if !valid {
            continue;
        }
        let mut bytes = std::fs::read(fixtures().join(&name)).unwrap();
        let crc_at = bytes.iter().rposition(|&b| b == b'!').unwrap() + 1;
        if bytes[crc_at..].iter().any(u8::is_ascii_lowercase) {
            // p1dongel-1: its author typed the CRC in lower case; meters print upper case
            // and strict consumers (dsmr_parser) reject it, so the decoder must too.
            let err = decode_all(&bytes)[0].clone().expect_err(&name);
            assert!(
                matches!(err.kind, ErrorKind::CrcFormat { .. }),
                "{name}: {err}"
            );
            bytes[crc_at..].make_ascii_uppercase();
        }
        let frames = decode_all(&bytes);
        assert_eq!(frames.len(), 1, "{name}: one telegram");
        let frame = match &frames[0] {
            Ok(f) => f,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(frame.offset, 0, "{name}");
        assert_eq!(frame.len, bytes.len(), "{name}");
        assert_eq!(frame.telegram.to_bytes(), bytes, "{name}: lines re-encode");
        // Real meters' line order is the encoder's order, except for synthetic fixtures
        // that follow the spec's (wrong) example order.
        let typed = frame.readout.to_bytes();
        if typed == bytes {
            via_readout += 1;
        } else {
            let canonical = frame.readout.to_telegram();
            let mut ours: Vec<_> = canonical.lines.clone();
            let mut theirs = frame.telegram.lines.clone();
            ours.sort_by_key(|l| l.obis);
            theirs.sort_by_key(|l| l.obis);
            assert_eq!(ours, theirs, "{name}: same lines, other order");
        }
    }
    // All real captures are in meter order; only the synthetic dsmr_parser one is not.
    assert!(
        via_readout >= 82,
        "{via_readout} captures re-encoded from the readout"
    );
}

#[test]
fn invalid_captures_are_rejected() {
    for (name, valid) in index() {
        if valid {
            continue;
        }
        let bytes = std::fs::read(fixtures().join(&name)).unwrap();
        let frames = decode_all(&bytes);
        assert_eq!(frames.len(), 1, "{name}");
        let err = frames[0].as_ref().expect_err(&name);
        match &err.kind {
            ErrorKind::CrcMismatch { computed, found } => assert_ne!(computed, found),
            // The censored capture has "(...)" ids that fail the hex format first.
            ErrorKind::Syntax { .. } | ErrorKind::Object { .. } => {}
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}
