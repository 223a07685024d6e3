//! [`RunCopier`]: a [`Json`] sink that writes a line of JSON as a copy of the previous
//! line with only the changed values rewritten.
//!
//! Consecutive truth lines differ in a few dozen of their ~170 values (the clock, the
//! energy registers, the quarter's demand); everything else, keys and punctuation
//! included, is the same bytes at shifted places. So a line is made in two steps:
//! - each of the writer's calls is compared with the same call of the previous line: a
//!   value or choice as its kind and a 128-bit key that is the value itself (long texts
//!   go to an arena and are compared there), fixed bytes not at all. A call that differs
//!   is noted;
//! - the line is then the previous one with the noted values formatted from their keys
//!   in place, the runs between them copied.
//!
//! This is sound because of the [`Json`] contract: fixed bytes depend only on the
//! choices before them, so with equal choices the bytes between two values are those of
//! the previous line. When a choice differs, or the records do not line up,
//! [`RunCopier::write_line`] makes the same calls again on a sink that writes every
//! byte. The first line is written that way too. The result is always the
//! bytes a `Vec<u8>` sink gets from the same calls (property-tested against it).

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
    Bool,
    /// Text to escape of at most [`SHORT`] bytes, held in the key itself.
    ShortStr,
    /// Bytes that are already JSON, at most [`SHORT`] of them, held in the key.
    ShortJson,
    /// Longer text to escape: the key is its place in the arena.
    LongStr,
    /// Longer JSON: the key is its place in the arena.
    LongJson,
}

impl Kind {
    /// The kind with short and long texts taken as one: a value that changes between
    /// them is a changed value, not a different call.
    fn family(self) -> Kind {
        match self {
            Kind::LongStr => Kind::ShortStr,
            Kind::LongJson => Kind::ShortJson,
            k => k,
        }
    }
}

/// The longest text a key holds: 15 bytes and their count.
const SHORT: usize = 15;

/// One recorded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Leaf {
    key: u128,
    kind: Kind,
}

/// A place in an arena as a key.
fn span_key(start: usize, len: usize) -> u128 {
    (start as u128) << 64 | len as u128
}

/// The range a [`span_key`] names.
fn span(key: u128) -> std::ops::Range<usize> {
    let start = (key >> 64) as usize;
    start..start + (key as u64 as usize)
}

/// At most [`SHORT`] bytes as a key: the bytes, then their count in the top byte.
fn short_key(bytes: &[u8]) -> u128 {
    let mut k = [0u8; 16];
    k[..bytes.len()].copy_from_slice(bytes);
    k[15] = bytes.len() as u8;
    u128::from_le_bytes(k)
}

/// A timestamp's fields as one number, and back.
fn tst_key(t: Tst) -> u128 {
    u128::from(u64::from_le_bytes([
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        u8::from(t.dst),
        0,
    ]))
}

fn key_tst(key: u128) -> Tst {
    let [year, month, day, hour, minute, second, dst, _] = (key as u64).to_le_bytes();
    Tst {
        year,
        month,
        day,
        hour,
        minute,
        second,
        dst: dst != 0,
    }
}

/// A line of JSON: the calls that write it, made on whichever sink is given.
pub(crate) trait Line {
    fn calls<J: Json>(&self, j: &mut J);
}

/// Writes lines of JSON as runs copied from the previous line; one per stream of lines
/// ([`RunCopier::write_line`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunCopier {
    /// Writing every byte rather than comparing with the previous line.
    full: bool,
    /// The calls stopped lining up with the previous line's (copying only).
    lost: bool,
    /// The calls of the last line, updated in place as the new line's calls come, and
    /// where each one's bytes are in the last line.
    leaves: Vec<Leaf>,
    places: Vec<(usize, usize)>,
    /// Index of the next call.
    next: usize,
    /// Calls of this line that differ from the last line's, in order, and how far the
    /// bytes after each have moved once it is rewritten.
    changed: Vec<usize>,
    shifts: Vec<isize>,
    /// Long texts of this line, and of the last line.
    arena: Vec<u8>,
    prev_arena: Vec<u8>,
    /// The line being written, and the last line.
    line: Vec<u8>,
    prev: Vec<u8>,
}

impl RunCopier {
    /// Appends the line `line` makes to `out`: copied from the previous line when its
    /// calls line up with the previous line's, else written in full (the first line,
    /// or a choice that differs). Returns whether it was copied.
    pub(crate) fn write_line(&mut self, line: &impl Line, out: &mut Vec<u8>) -> bool {
        if !self.leaves.is_empty() {
            self.start(false);
            line.calls(&mut Calls::<false>(self));
            if self.finish(out) {
                return true;
            }
        }
        self.start(true);
        self.leaves.clear();
        self.places.clear();
        line.calls(&mut Calls::<true>(self));
        self.finish(out);
        false
    }

    fn start(&mut self, full: bool) {
        self.full = full;
        self.lost = false;
        self.next = 0;
        self.changed.clear();
        self.arena.clear();
        self.line.clear();
    }

    /// Ends the line and appends it to `out`. `false` (nothing appended, the previous
    /// line forgotten) when the calls did not line up with the previous line's.
    fn finish(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.full && (self.lost || self.next != self.leaves.len() || !self.patch()) {
            self.prev.clear();
            self.leaves.clear();
            self.places.clear();
            return false;
        }
        std::mem::swap(&mut self.prev, &mut self.line);
        std::mem::swap(&mut self.prev_arena, &mut self.arena);
        out.extend_from_slice(&self.prev);
        true
    }

    /// Writes `line` as the last line with the changed calls rewritten, and moves
    /// `places` to it; `false` if a place or text is not where it should be.
    fn patch(&mut self) -> bool {
        // Bytes of `prev` already copied or replaced, and how far the bytes after them
        // have moved in `line`.
        let mut copied = 0;
        let mut moved = false;
        self.shifts.clear();
        for &i in &self.changed {
            let Some(&(start, end)) = self.places.get(i) else {
                return false;
            };
            let Some(run) = self.prev.get(copied..start) else {
                return false;
            };
            self.line.extend_from_slice(run);
            let at = self.line.len();
            if !write_leaf(&mut self.line, self.leaves[i], &self.arena) {
                return false;
            }
            copied = end;
            self.places[i] = (at, self.line.len());
            let shift = self.line.len() as isize - end as isize;
            self.shifts.push(shift);
            moved |= shift != 0;
        }
        match self.prev.get(copied..) {
            Some(rest) => self.line.extend_from_slice(rest),
            None => return false,
        }
        if moved {
            // The unchanged calls after each changed one moved by its shift.
            let mut shift: isize = 0;
            let mut changed = self.changed.iter().zip(&self.shifts).peekable();
            for (i, place) in self.places.iter_mut().enumerate() {
                if let Some((_, &after)) = changed.next_if(|&(&c, _)| c == i) {
                    shift = after;
                    continue;
                }
                place.0 = place.0.wrapping_add_signed(shift);
                place.1 = place.1.wrapping_add_signed(shift);
            }
        }
        true
    }
}

/// The sink of one line's calls: comparing them with the previous line's
/// (`FULL = false`) or writing every byte (`FULL = true`). The two are separate types so
/// that copying, the common case, costs no test per fixed byte.
struct Calls<'a, const FULL: bool>(&'a mut RunCopier);

impl<const FULL: bool> Calls<'_, FULL> {
    /// A call: compared with the previous line's (noted if it differs), or written.
    #[inline(always)]
    fn leaf(&mut self, kind: Kind, key: u128) {
        let c = &mut *self.0;
        let new = Leaf { key, kind };
        if FULL {
            c.leaves.push(new);
            let at = c.line.len();
            write_leaf(&mut c.line, new, &c.arena);
            c.places.push((at, c.line.len()));
            return;
        }
        let i = c.next;
        c.next += 1;
        match c.leaves.get_mut(i) {
            Some(old) if *old == new => {}
            Some(old) => {
                // A different branch, or a different kind of call: not a changed value.
                if old.kind.family() != kind.family() || kind == Kind::Choice {
                    c.lost = true;
                }
                *old = new;
                c.changed.push(i);
            }
            None => c.lost = true,
        }
    }

    /// A text: in the key when short, in the arena otherwise.
    #[inline(always)]
    fn text(&mut self, bytes: &[u8], short: Kind, long: Kind) {
        if bytes.len() <= SHORT {
            self.leaf(short, short_key(bytes));
        } else {
            let start = self.0.arena.len();
            self.0.arena.extend_from_slice(bytes);
            self.long(long, start);
        }
    }

    /// A long text, in the arena from `start` on: compared with the previous line's by
    /// its bytes, as its key is only its place.
    fn long(&mut self, kind: Kind, start: usize) {
        let c = &mut *self.0;
        let key = span_key(start, c.arena.len() - start);
        if !FULL {
            if let Some(old) = c.leaves.get_mut(c.next) {
                if old.kind.family() == kind.family() {
                    // Equal places in the two arenas say nothing: the bytes decide.
                    if old.kind != kind || c.prev_arena.get(span(old.key)) != c.arena.get(start..) {
                        c.changed.push(c.next);
                    }
                    *old = Leaf { key, kind };
                    c.next += 1;
                    return;
                }
            }
        }
        self.leaf(kind, key);
    }
}

/// Appends the bytes of `leaf` to `out`; `false` if a text is not where its key says or
/// is not the UTF-8 it was given as.
fn write_leaf(out: &mut Vec<u8>, leaf: Leaf, arena: &[u8]) -> bool {
    let short = leaf.key.to_le_bytes();
    let short = &short[..usize::from(short[15]).min(SHORT)];
    match leaf.kind {
        Kind::Choice => {}
        Kind::Uint => json::uint(out, leaf.key),
        Kind::Int => json::int(out, leaf.key as i128),
        Kind::Tst => json::tst(out, key_tst(leaf.key)),
        Kind::Bool => out.boolean(leaf.key != 0),
        Kind::ShortStr | Kind::LongStr => {
            let bytes = match leaf.kind {
                Kind::ShortStr => Some(short),
                _ => arena.get(span(leaf.key)),
            };
            match bytes.map(std::str::from_utf8) {
                Some(Ok(text)) => json::string(out, text),
                _ => return false,
            }
        }
        Kind::ShortJson => out.extend_from_slice(short),
        Kind::LongJson => match arena.get(span(leaf.key)) {
            Some(bytes) => out.extend_from_slice(bytes),
            None => return false,
        },
    }
    true
}

impl<const FULL: bool> Json for Calls<'_, FULL> {
    #[inline(always)]
    fn raw(&mut self, bytes: &'static [u8]) {
        if FULL {
            self.0.line.extend_from_slice(bytes);
        }
    }

    #[inline(always)]
    fn choice(&mut self, c: u64) {
        self.leaf(Kind::Choice, c.into());
    }

    #[inline(always)]
    fn uint(&mut self, v: u128) {
        self.leaf(Kind::Uint, v);
    }

    #[inline(always)]
    fn int(&mut self, v: i128) {
        self.leaf(Kind::Int, v as u128);
    }

    #[inline(always)]
    fn tst(&mut self, t: Tst) {
        self.leaf(Kind::Tst, tst_key(t));
    }

    #[inline]
    fn name(&mut self, name: &'static str) {
        // A name needs no escape: it is its own text.
        self.string(name);
    }

    #[inline(always)]
    fn boolean(&mut self, b: bool) {
        self.leaf(Kind::Bool, b.into());
    }

    #[inline]
    fn string(&mut self, s: &str) {
        self.text(s.as_bytes(), Kind::ShortStr, Kind::LongStr);
    }

    fn hex(&mut self, octets: &[u8]) {
        let arena = &mut self.0.arena;
        let start = arena.len();
        json::hex(arena, octets);
        // Formatted in the arena; a short one moves into its key.
        let len = arena.len() - start;
        if len <= SHORT {
            let key = short_key(&arena[start..]);
            arena.truncate(start);
            self.leaf(Kind::ShortJson, key);
        } else {
            self.long(Kind::LongJson, start);
        }
    }

    #[inline]
    fn json(&mut self, bytes: &[u8]) {
        self.text(bytes, Kind::ShortJson, Kind::LongJson);
    }

    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        let start = self.0.arena.len();
        self.0.arena.serde(v);
        self.long(Kind::LongJson, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line through `copier`, and whether it was copied.
    fn line(copier: &mut RunCopier, line: &impl Line) -> (String, bool) {
        let mut out = Vec::new();
        let copied = copier.write_line(line, &mut out);
        (String::from_utf8(out).unwrap(), copied)
    }

    struct Object<'a>(u128, &'a str);

    impl Line for Object<'_> {
        fn calls<J: Json>(&self, j: &mut J) {
            j.raw(b"{\"a\":");
            j.uint(self.0);
            j.raw(b",\"s\":");
            j.string(self.1);
            j.raw(b",\"b\":");
            j.boolean(self.0 % 2 == 0);
            j.raw(b"}");
        }
    }

    #[test]
    fn unchanged_runs_are_copied_and_changed_values_rewritten() {
        let mut c = RunCopier::default();
        let mut check = |a: u128, s: &str, want: &str, copied: bool| {
            assert_eq!(line(&mut c, &Object(a, s)), (want.to_owned(), copied));
        };
        check(7, "x", r#"{"a":7,"s":"x","b":false}"#, false);
        check(7, "x", r#"{"a":7,"s":"x","b":false}"#, true);
        check(12345, "x\"y", r#"{"a":12345,"s":"x\"y","b":false}"#, true);
        let long = "a text longer than a key holds, with \u{e9}";
        check(
            8,
            long,
            &format!(r#"{{"a":8,"s":"{long}","b":true}}"#),
            true,
        );
        check(8, "x", r#"{"a":8,"s":"x","b":true}"#, true);
    }

    struct Optional(Option<u128>);

    impl Line for Optional {
        fn calls<J: Json>(&self, j: &mut J) {
            j.raw(b"[");
            json::opt(j, self.0, |j, v| j.uint(v));
            j.raw(b",");
            j.int(-1);
            j.raw(b"]");
        }
    }

    #[test]
    fn a_changed_choice_writes_the_line_in_full() {
        let mut c = RunCopier::default();
        let mut check = |v: Option<u128>, want: &str, copied: bool| {
            assert_eq!(line(&mut c, &Optional(v)), (want.to_owned(), copied));
        };
        check(Some(3), "[3,-1]", false);
        check(None, "[null,-1]", false);
        check(None, "[null,-1]", true);
        check(Some(40), "[40,-1]", false);
        check(Some(41), "[41,-1]", true);
    }

    /// `n` values with no choice announcing their count: against the contract.
    struct Counted(u128);

    impl Line for Counted {
        fn calls<J: Json>(&self, j: &mut J) {
            j.raw(b"[");
            for k in 0..self.0 {
                j.uint(k);
                j.raw(b",");
            }
            j.raw(b"0]");
        }
    }

    /// Calls that break the contract (a count that changes without a choice) are caught
    /// at the end of the line, and the line is then written in full.
    #[test]
    fn calls_that_do_not_line_up_are_written_again() {
        let mut c = RunCopier::default();
        let mut check = |n: u128, want: &str, copied: bool| {
            assert_eq!(line(&mut c, &Counted(n)), (want.to_owned(), copied));
        };
        check(2, "[0,1,0]", false);
        check(1, "[0,0]", false);
        check(3, "[0,1,2,0]", false);
        check(3, "[0,1,2,0]", true);
    }
}
