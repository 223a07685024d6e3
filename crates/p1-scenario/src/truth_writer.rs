//! [`TruthWriter`]: the truth lines of consecutive frames, each written as a copy of the
//! previous line with only what changed rewritten.
//!
//! Two things make a line cheap:
//! - the telegram's JSON string is patched from the previous one. Between two frames the
//!   simulation's encoder rewrites only a few values ([`SimFrame::telegram_changes`]), and
//!   value bytes (digits, `.`, `*`, units, hex, `S`/`W`) never need an escape, so the new
//!   string is the old one with the same bytes replaced at positions shifted by the
//!   escapes before them. The writer keeps the telegram it last escaped and patches only
//!   when the new one equals it outside the change list (checked, not assumed: a caller
//!   may skip frames), no escaped byte lies inside a change, and every byte replaced or
//!   replacing is ASCII; anything else is escaped in full;
//! - the rest of the line after the telegram goes through a [`RunCopier`], which copies
//!   the unchanged runs of the previous line and formats only the values that changed.
//!   (The times before the telegram change every line and are written straight out.)
//!
//! The result is the bytes of [`TruthRecord::write_json_line`] either way (tested over
//! whole scenarios).

use std::ops::Range;

use p1_meter::LocalClock;

use crate::json_runs::{Line, RunCopier};
use crate::sim::SimFrame;
use crate::truth::{self, FaultTruth, TruthRecord};
use crate::truth_json::{self as json, Json};

/// Writes truth lines for a sequence of frames; one per stream of frames.
#[derive(Debug, Clone, Default)]
pub struct TruthWriter {
    telegram: EscapedTelegram,
    runs: RunCopier,
    /// For the true local time of each frame.
    local: LocalClock,
}

impl TruthWriter {
    /// A writer with no previous line.
    pub fn new() -> TruthWriter {
        TruthWriter::default()
    }

    /// Appends `frame`'s truth line and its newline to `out`: the bytes of
    /// `TruthRecord::from_frame(frame).write_json_line(out)`.
    pub fn write_line(&mut self, frame: &SimFrame, out: &mut Vec<u8>) {
        // The record's strings, made from the frame instead of allocated. They change
        // every line, so they are written straight out.
        out.raw(b"{\"utc\":");
        match truth::rfc3339_json(frame.at) {
            Some(quoted) => out.json(&quoted),
            None => out.string(&TruthRecord::from_frame(frame).utc),
        }
        out.raw(b",\"local\":");
        out.tst(self.local.tst(frame.at));
        out.raw(b",\"meter_time\":");
        json::opt(out, frame.readout.as_ref(), |j, r| j.tst(r.time));
        out.raw(b",\"telegram\":");
        let raw = frame.telegram();
        if raw.is_empty() {
            out.raw(b"null");
        } else {
            out.json(self.telegram.escaped(raw, frame.telegram_changes()));
        }
        self.runs.write_line(&Rest(frame), out);
        out.push(b'\n');
    }
}

/// The members of a frame's record after the telegram, as [`TruthRecord::write_json`]
/// writes them.
struct Rest<'a>(&'a SimFrame);

impl Line for Rest<'_> {
    fn calls<J: Json>(&self, j: &mut J) {
        let frame = self.0;
        j.raw(b",\"crc\":");
        json::opt_string(j, truth::crc_text(frame.telegram()));
        let faults = frame.faults_scheduled.then(|| FaultTruth::of(frame));
        truth::write_rest(
            j,
            frame.readout.as_ref(),
            &frame.state,
            &frame.refused,
            faults.as_ref(),
            frame.panel.as_ref(),
        );
    }
}

/// The last telegram and its JSON string.
#[derive(Debug, Clone, Default)]
struct EscapedTelegram {
    raw: Vec<u8>,
    /// `raw` as a JSON string, quotes included.
    json: Vec<u8>,
    /// For each byte of `raw` that was escaped: its position and the bytes the escapes
    /// up to and including it added.
    escapes: Vec<(usize, usize)>,
}

impl EscapedTelegram {
    fn forget(&mut self) {
        self.raw.clear();
        self.json.clear();
        self.escapes.clear();
    }

    /// `raw` as a JSON string, as [`TruthRecord`] writes it (the lossy repair for bytes
    /// that are not UTF-8); `changes` says where it may differ from the previous one.
    fn escaped(&mut self, raw: &[u8], changes: Option<&[Range<usize>]>) -> &[u8] {
        if !changes.is_some_and(|c| self.patch(raw, c)) {
            self.rebuild(raw);
        }
        &self.json
    }

    /// Escapes `raw` in full.
    fn rebuild(&mut self, raw: &[u8]) {
        self.forget();
        let Ok(text) = std::str::from_utf8(raw) else {
            // Never patched: `raw` stays empty, so no telegram matches it.
            json::string(&mut self.json, &String::from_utf8_lossy(raw));
            return;
        };
        self.raw.extend_from_slice(raw);
        json::string(&mut self.json, text);
        let mut added = 0;
        for (at, &b) in raw.iter().enumerate() {
            let extra = json::escape_extra(b);
            if extra > 0 {
                added += extra;
                self.escapes.push((at, added));
            }
        }
    }

    /// Patches the string for `raw`; false (nothing changed) when that is not sound.
    fn patch(&mut self, raw: &[u8], changes: &[Range<usize>]) -> bool {
        if self.json.is_empty() || raw.len() != self.raw.len() {
            return false;
        }
        let mut end = 0;
        for c in changes {
            if c.start < end || c.end < c.start || c.end > raw.len() {
                return false;
            }
            if raw[end..c.start] != self.raw[end..c.start] {
                return false;
            }
            let first = self.escapes.partition_point(|&(at, _)| at < c.start);
            let escaped_inside = self.escapes.get(first).is_some_and(|&(at, _)| at < c.end);
            // ASCII replacing ASCII keeps the string valid UTF-8.
            let plain = |b: &u8| b.is_ascii() && json::escape_extra(*b) == 0;
            if escaped_inside
                || !raw[c.clone()].iter().all(plain)
                || !self.raw[c.clone()].iter().all(u8::is_ascii)
            {
                return false;
            }
            end = c.end;
        }
        if raw[end..] != self.raw[end..] {
            return false;
        }
        for c in changes {
            let first = self.escapes.partition_point(|&(at, _)| at < c.start);
            let shift = first.checked_sub(1).map_or(0, |i| self.escapes[i].1);
            // One for the opening quote.
            let at = 1 + c.start + shift;
            self.json[at..at + c.len()].copy_from_slice(&raw[c.clone()]);
            self.raw[c.clone()].copy_from_slice(&raw[c.clone()]);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn escaped(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        json::string(&mut out, std::str::from_utf8(raw).unwrap());
        out
    }

    proptest! {
        /// Whatever the change list claims, true or false, the string is the full escape.
        #[test]
        fn a_patched_string_is_the_full_escape(
            first in "[ -~\r\n]{0,200}",
            edits in proptest::collection::vec((any::<prop::sample::Index>(), "[ -~\r\n\"\\\\]"), 0..8),
            claims in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..6), 0..6),
        ) {
            let mut t = EscapedTelegram::default();
            let mut out = Vec::new();
            out.extend_from_slice(t.escaped(first.as_bytes(), None));
            prop_assert_eq!(&out, &escaped(first.as_bytes()));
            let mut next = first.clone().into_bytes();
            for (i, s) in &edits {
                if !next.is_empty() {
                    let at = i.index(next.len());
                    next[at] = s.as_bytes()[0];
                }
            }
            let mut ranges: Vec<Range<usize>> = claims
                .iter()
                .filter(|_| !next.is_empty())
                .map(|(i, len)| {
                    let start = i.index(next.len());
                    start..(start + len).min(next.len())
                })
                .collect();
            ranges.sort_by_key(|r| r.start);
            out.clear();
            out.extend_from_slice(t.escaped(&next, Some(&ranges)));
            prop_assert_eq!(&out, &escaped(&next));
        }
    }

    /// The line is copied from the previous one, not written in full, for nearly every
    /// frame of a run (only the first, and frames where the structure changes, are not).
    #[test]
    fn most_lines_are_run_copies() {
        let mut sim = crate::Simulation::new(&crate::Scenario::quickstart());
        let mut w = TruthWriter::new();
        let (mut out, mut copied, mut n) = (Vec::new(), 0, 0);
        while let Some(frame) = sim.next_frame() {
            out.clear();
            copied += usize::from(w.runs.write_line(&Rest(frame), &mut out));
            n += 1;
        }
        assert!(copied * 100 >= n * 95, "{copied} of {n} lines copied");
    }

    #[test]
    fn a_true_change_list_patches() {
        let a = b"/FLU5\\253769484_A\r\n\r\n0-0:1.0.0(260615120000S)\r\n!0F49\r\n";
        let mut b = a.to_vec();
        b[39] = b'7';
        let mut t = EscapedTelegram::default();
        let mut out = Vec::new();
        out.extend_from_slice(t.escaped(a, None));
        out.clear();
        let change = [Range { start: 39, end: 40 }];
        assert!(t.patch(&b, &change), "a digit changed after the escapes");
        out.extend_from_slice(t.escaped(&b, Some(&change)));
        assert_eq!(out, escaped(&b));
    }
}
