//! Helpers shared by the fault tests: a real capture as base content, one-fault
//! injection, and the strict decoder's opinion of a byte string.
#![allow(dead_code)]

use std::path::PathBuf;

use p1_faults::{Emission, FaultInjector, FaultKind, FaultSpec, Schedule};
use p1_wire::{DecodeError, Frame, Readout, decode_all};

#[path = "../../../../conformance/runner.rs"]
mod runner;
#[allow(unused_imports, reason = "not every test binary runs dsmr_parser")]
pub(crate) use runner::run_dsmr_parser;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The real T211 capture `fluvius-t211-dsmrparser-1` (50217, gas on channel 1, water on
/// channel 2, a 4-entry 98.1.0 whose head is the stale `632525252525W` entry): its bytes
/// and its content.
pub(crate) fn base() -> (Vec<u8>, Readout) {
    let path = root().join("crates/p1-wire/tests/fixtures/fluvius-t211-dsmrparser-1.txt");
    let bytes = std::fs::read(path).expect("capture");
    let frames = decode_all(&bytes);
    let readout = frames[0].as_ref().expect("valid capture").readout.clone();
    // The capture is what the encoder prints for its content.
    assert_eq!(readout.to_bytes(), bytes);
    (bytes, readout)
}

/// The emission of telegram 0 of `readout` with `fault` scheduled on it.
pub(crate) fn emit_on(fault: FaultKind, readout: &Readout) -> Emission {
    let spec = FaultSpec {
        fault,
        schedule: Schedule::AtIndex(0),
    };
    let mut inj = FaultInjector::new(vec![spec], 7).expect("valid fault");
    inj.apply(0, 1_698_923_748_000, readout)
}

/// The emission of telegram 0 of the base capture with `fault`.
pub(crate) fn emit(fault: FaultKind) -> Emission {
    emit_on(fault, &base().1)
}

/// The strict decoder's results over `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Vec<Result<Frame, DecodeError>> {
    decode_all(bytes)
}

/// Whether a strict consumer finds exactly one telegram and accepts it.
pub(crate) fn strict_accepts(bytes: &[u8]) -> bool {
    let r = decode_all(bytes);
    r.len() == 1 && r[0].is_ok()
}

/// The first error the strict decoder reports.
pub(crate) fn first_error(bytes: &[u8]) -> DecodeError {
    decode_all(bytes)
        .into_iter()
        .find_map(Result::err)
        .expect("a decode error")
}

/// 1-based number of the first line of `bytes` that starts with `prefix` (counting from
/// the first `/`).
pub(crate) fn line_of(bytes: &[u8], prefix: &str) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let start = text.find('/').expect("a '/'");
    text[start..]
        .split('\n')
        .position(|l| l.starts_with(prefix))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"))
}

/// 1-based number of the line holding the `!`.
pub(crate) fn bang_line(bytes: &[u8]) -> usize {
    let start = bytes.iter().position(|&b| b == b'/').expect("a '/'");
    let bang = bytes.iter().rposition(|&b| b == b'!').expect("a '!'");
    1 + bytes[start..bang].iter().filter(|&&b| b == b'\n').count()
}

/// The text, for `contains` checks.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a fault from its TOML form.
pub(crate) fn fault(toml_text: &str) -> FaultKind {
    #[derive(serde::Deserialize)]
    struct W {
        fault: FaultKind,
    }
    toml::from_str::<W>(&format!("fault = {toml_text}"))
        .expect("fault TOML")
        .fault
}
