//! [`RunCopier`]: a [`Json`] sink that writes a line of JSON as a copy of the previous
//! line with only the changed values rewritten.
//!
//! Consecutive truth lines differ in a few dozen of their ~170 values (the clock, the
//! energy registers, the quarter's demand); everything else, keys and punctuation
//! included, is the same bytes at shifted places. The copier keeps the previous line and,
//! for each value and choice it was given, the value (or, for text, its bytes) and where
//! it was written. On the next line, the writer makes the same calls in the same order:
//! an equal value costs a comparison, a changed one is formatted and the unchanged bytes
//! before it are copied in one run; `raw` costs nothing, because by the [`Json`]
//! contract fixed bytes depend only on the choices made before them.
//!
//! The first choice that differs (or any mismatch of kinds) ends the copying: the bytes
//! so far are still right, and the rest of the line is written in full. If the calls do
//! not line up with the previous line at all (more or fewer than it had while every choice
//! agreed, which the contract rules out), [`RunCopier::finish`] says so and the caller
//! writes the line again from scratch. The result is always the bytes a `Vec<u8>` sink
//! gets from the same calls (property-tested against it).

use p1_wire::Tst;
use serde::Serialize;

use crate::truth_json::{self as json, Json};

/// What a recorded call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Choice,
    Uint,
    Int,
    Tst,
    Name,
    Bool,
    /// Strings, hex, ready JSON and serde values: compared by their bytes.
    Text,
}

/// One recorded call: its kind, its value (for `Text`, unused: the bytes are compared)
/// and the bytes it wrote in the last line (empty for a choice: its place).
#[derive(Debug, Clone, Copy)]
struct Leaf {
    key: u128,
    kind: Kind,
    start: usize,
    end: usize,
}

/// Writes lines of JSON as runs copied from the previous line; one per stream of lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunCopier {
    /// The last finished line.
    prev: Vec<u8>,
    /// The line being written.
    line: Vec<u8>,
    /// The calls of the last line; while copying, entries before `next` already describe
    /// the line being written.
    leaves: Vec<Leaf>,
    /// Index of the next call in `leaves`.
    next: usize,
    /// Bytes of `prev` already copied or replaced (copying mode only).
    copied: usize,
    /// Writing every byte (the first line, or after a choice differed).
    full: bool,
    /// The calls stopped lining up with the previous line's.
    lost: bool,
    /// Formatting space for text values.
    scratch: Vec<u8>,
}

impl RunCopier {
    /// A copier with no previous line.
    pub(crate) fn new() -> RunCopier {
        RunCopier::default()
    }

    /// Starts a line.
    pub(crate) fn begin(&mut self) {
        self.line.clear();
        self.next = 0;
        self.copied = 0;
        self.full = self.leaves.is_empty();
        self.lost = false;
    }

    /// Ends the line and appends it to `out`; `false` (nothing appended, the previous
    /// line forgotten) when the calls did not line up with the previous line's: begin
    /// and write the line again, and it is written in full.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.full {
            if self.next == self.leaves.len() {
                self.line.extend_from_slice(&self.prev[self.copied..]);
            } else {
                self.lost = true;
            }
        }
        if self.lost {
            self.prev.clear();
            self.leaves.clear();
            return false;
        }
        std::mem::swap(&mut self.prev, &mut self.line);
        out.extend_from_slice(&self.prev);
        true
    }

    /// The calls differ from the previous line's from here on: copy the previous line up
    /// to this call's place and write the rest in full.
    #[cold]
    fn diverge(&mut self) {
        match self.leaves.get(self.next) {
            Some(leaf) => {
                self.line
                    .extend_from_slice(&self.prev[self.copied..leaf.start]);
            }
            None => self.lost = true,
        }
        self.leaves.truncate(self.next);
        self.full = true;
    }

    /// A value whose identity is `key`, written by `write` when it must be. (Not for
    /// choices: a changed value is rewritten, a changed choice ends the copying.)
    #[inline(always)]
    fn value(&mut self, kind: Kind, key: u128, write: impl FnOnce(&mut Vec<u8>)) {
        if !self.full {
            if let Some(leaf) = self.leaves.get_mut(self.next) {
                if leaf.kind == kind {
                    if leaf.key == key {
                        // Unchanged: its bytes go with the run around it.
                        let start = self.line.len() + (leaf.start - self.copied);
                        leaf.end = start + (leaf.end - leaf.start);
                        leaf.start = start;
                    } else {
                        self.line
                            .extend_from_slice(&self.prev[self.copied..leaf.start]);
                        self.copied = leaf.end;
                        leaf.start = self.line.len();
                        write(&mut self.line);
                        leaf.end = self.line.len();
                        leaf.key = key;
                    }
                    // Bytes of the run before a value are moved lazily: `copied` stays.
                    self.next += 1;
                    return;
                }
            }
            self.diverge();
        }
        let start = self.line.len();
        write(&mut self.line);
        self.leaves.push(Leaf {
            key,
            kind,
            start,
            end: self.line.len(),
        });
        self.next += 1;
    }

    /// A text value: `bytes` is what it writes.
    #[inline]
    fn text(&mut self, bytes: &[u8]) {
        if !self.full {
            if let Some(leaf) = self.leaves.get_mut(self.next) {
                if leaf.kind == Kind::Text {
                    if self.prev[leaf.start..leaf.end] == *bytes {
                        let start = self.line.len() + (leaf.start - self.copied);
                        leaf.end = start + bytes.len();
                        leaf.start = start;
                    } else {
                        self.line
                            .extend_from_slice(&self.prev[self.copied..leaf.start]);
                        self.copied = leaf.end;
                        leaf.start = self.line.len();
                        self.line.extend_from_slice(bytes);
                        leaf.end = self.line.len();
                    }
                    self.next += 1;
                    return;
                }
            }
            self.diverge();
        }
        let start = self.line.len();
        self.line.extend_from_slice(bytes);
        self.leaves.push(Leaf {
            key: 0,
            kind: Kind::Text,
            start,
            end: self.line.len(),
        });
        self.next += 1;
    }

    /// A text value formatted by `write` into the scratch buffer first.
    fn formatted(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        write(&mut scratch);
        self.text(&scratch);
        self.scratch = scratch;
    }
}

/// A timestamp's fields as one number.
fn tst_key(t: Tst) -> u128 {
    u128::from_le_bytes([
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        u8::from(t.dst),
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ])
}

impl Json for RunCopier {
    #[inline(always)]
    fn raw(&mut self, bytes: &'static [u8]) {
        if self.full {
            self.line.extend_from_slice(bytes);
        }
    }

    #[inline(always)]
    fn choice(&mut self, c: u64) {
        let key = u128::from(c);
        if !self.full {
            if let Some(leaf) = self.leaves.get_mut(self.next) {
                if leaf.kind == Kind::Choice && leaf.key == key {
                    let at = self.line.len() + (leaf.start - self.copied);
                    leaf.start = at;
                    leaf.end = at;
                    self.next += 1;
                    return;
                }
            }
            // A branch not taken last time: the fixed bytes from here on may differ.
            self.diverge();
        }
        let at = self.line.len();
        self.leaves.push(Leaf {
            key,
            kind: Kind::Choice,
            start: at,
            end: at,
        });
        self.next += 1;
    }

    #[inline(always)]
    fn uint(&mut self, v: u128) {
        self.value(Kind::Uint, v, |out| json::uint(out, v));
    }

    #[inline(always)]
    fn int(&mut self, v: i128) {
        self.value(Kind::Int, v as u128, |out| json::int(out, v));
    }

    #[inline(always)]
    fn tst(&mut self, t: Tst) {
        self.value(Kind::Tst, tst_key(t), |out| json::tst(out, t));
    }

    #[inline(always)]
    fn name(&mut self, name: &'static str) {
        // Equal address and length mean equal bytes; unequal ones are merely rewritten.
        let key = (name.as_ptr() as usize as u128) << 64 | name.len() as u128;
        self.value(Kind::Name, key, |out| out.name(name));
    }

    #[inline(always)]
    fn boolean(&mut self, b: bool) {
        self.value(Kind::Bool, b.into(), |out| out.boolean(b));
    }

    fn string(&mut self, s: &str) {
        self.formatted(|out| json::string(out, s));
    }

    fn hex(&mut self, octets: &[u8]) {
        self.formatted(|out| json::hex(out, octets));
    }

    fn json(&mut self, bytes: &[u8]) {
        self.text(bytes);
    }

    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        self.formatted(|out| out.serde(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line of `calls` through `copier`, written again in full when it lost track.
    fn line(copier: &mut RunCopier, calls: impl Fn(&mut RunCopier)) -> (String, bool) {
        let mut out = Vec::new();
        copier.begin();
        calls(copier);
        let lined_up = copier.finish(&mut out);
        if !lined_up {
            copier.begin();
            calls(copier);
            assert!(copier.finish(&mut out), "a full line always finishes");
        }
        (String::from_utf8(out).unwrap(), lined_up)
    }

    #[test]
    fn unchanged_runs_are_copied_and_changed_values_rewritten() {
        let mut c = RunCopier::new();
        let calls = |a: u128, s: &'static str| {
            move |j: &mut RunCopier| {
                j.raw(b"{\"a\":");
                j.uint(a);
                j.raw(b",\"s\":");
                j.string(s);
                j.raw(b",\"b\":");
                j.boolean(a % 2 == 0);
                j.raw(b"}");
            }
        };
        assert_eq!(
            line(&mut c, calls(7, "x")),
            (r#"{"a":7,"s":"x","b":false}"#.into(), true)
        );
        assert_eq!(
            line(&mut c, calls(7, "x")),
            (r#"{"a":7,"s":"x","b":false}"#.into(), true)
        );
        assert_eq!(
            line(&mut c, calls(12345, "x\"y")),
            (r#"{"a":12345,"s":"x\"y","b":false}"#.into(), true)
        );
        assert_eq!(
            line(&mut c, calls(8, "x")),
            (r#"{"a":8,"s":"x","b":true}"#.into(), true)
        );
    }

    #[test]
    fn a_changed_choice_writes_the_rest_in_full() {
        let mut c = RunCopier::new();
        let calls = |v: Option<u128>| {
            move |j: &mut RunCopier| {
                j.raw(b"[");
                json::opt(j, v, |j, v| j.uint(v));
                j.raw(b",");
                j.int(-1);
                j.raw(b"]");
            }
        };
        assert_eq!(line(&mut c, calls(Some(3))).0, "[3,-1]");
        assert_eq!(line(&mut c, calls(None)).0, "[null,-1]");
        assert_eq!(line(&mut c, calls(None)).0, "[null,-1]");
        assert_eq!(line(&mut c, calls(Some(40))).0, "[40,-1]");
    }

    /// Calls that break the contract (a count that changes without a choice) are caught
    /// at the end of the line, and the line is then written in full.
    #[test]
    fn calls_that_do_not_line_up_are_written_again() {
        let mut c = RunCopier::new();
        let calls = |n: u128| {
            move |j: &mut RunCopier| {
                j.raw(b"[");
                for k in 0..n {
                    j.uint(k);
                    j.raw(b",");
                }
                j.raw(b"0]");
            }
        };
        assert_eq!(line(&mut c, calls(2)), ("[0,1,0]".into(), true));
        assert_eq!(line(&mut c, calls(1)), ("[0,0]".into(), false));
        assert_eq!(line(&mut c, calls(3)), ("[0,1,2,0]".into(), false));
        assert_eq!(line(&mut c, calls(3)), ("[0,1,2,0]".into(), true));
    }
}
