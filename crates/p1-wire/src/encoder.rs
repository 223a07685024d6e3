//! [`Encoder`]: a meter's telegrams, one after another, each written over the previous.
//!
//! A meter prints the same objects second after second, and every value has a fixed
//! width, so consecutive telegrams have the same layout and differ only in the digits of
//! a few values (time, powers, voltages, currents). The encoder keeps the previous
//! telegram and its layout: the object of each line, and the place, width and source
//! value of each `(value)`. A new readout is walked through the same line order as a full
//! encode ([`Readout::emit`]); each value whose source is unchanged is skipped without
//! being formatted, each changed one is formatted and written in place, and the CRC is
//! updated from the changed bytes alone ([`CrcDelta`]).
//!
//! The result is the bytes [`Readout::write_to`] prints, by construction: a byte is kept
//! only inside a value whose source and format are the same as before, or as part of a
//! line whose object, position and number of values are the same. Anything else (another
//! model, an object appearing or vanishing, a value changing width) makes that one
//! telegram a full encode, which records the new layout. The tests compare the two on
//! random sequences of readouts.

use std::ops::Range;

use crate::crc_delta::CrcDelta;
use crate::encode::{Code, Sink, write_hex};
use crate::format::Fixed;
use crate::telegram::{crc16, push_crc};
use crate::{Model, Obis, Readout, Tst};

/// Bytes after the `!`: four hex digits of CRC and CR LF.
const TRAILER: usize = 6;

/// Encodes a sequence of readouts, rewriting only what changed since the previous one.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    /// The last telegram, CRC line included.
    bytes: Vec<u8>,
    /// Its model (the header), `None` before the first telegram.
    model: Option<Model>,
    /// Its CRC.
    crc: u16,
    /// Its lines and values, in print order.
    layout: Vec<Token>,
    /// The byte ranges the last [`Encoder::encode`] rewrote; meaningless when `whole`.
    changes: Vec<Range<usize>>,
    /// Whether the last call wrote the whole telegram afresh.
    whole: bool,
    /// The source bytes of its octet-string values ([`Source::Hex`]).
    octets: Vec<u8>,
    /// Where a changed value is formatted before it is compared and copied.
    scratch: Vec<u8>,
}

/// One element of a telegram's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A line starts with this object (its [`obis_key`]).
    Line(u64),
    /// A `(value)`: its text is `len` bytes from `at`, printed from `source`.
    Value {
        at: usize,
        len: usize,
        source: Source,
    },
}

/// What a value was printed from: enough to know, without printing it, that it would
/// print the same text again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A fixed-point value: the format's [`tag`] and the raw value.
    Fixed(u64, u64),
    Tst(Tst),
    /// An octet string printed as hex (ids, the message): its bytes are
    /// `Encoder::octets[at..at + len]`.
    Hex {
        at: usize,
        len: usize,
    },
    /// Any other text (the history count, the history's object codes): compared as
    /// printed.
    Text,
}

/// The five fields of an object as one integer, compared in one instruction.
#[inline(always)]
const fn obis_key(o: Obis) -> u64 {
    u64::from_le_bytes([o.a, o.b, o.c, o.d, o.e, 0, 0, 0])
}

/// A key that tells formats apart: integer digits, decimals, unit length and up to five
/// unit bytes (every unit is at most three; a test checks that the formats' tags differ).
/// Computed at compile time for the constant formats the encoder passes.
const fn tag(f: Fixed) -> u64 {
    let mut t = (f.int as u64 & 0xFF) | (f.dec as u64 & 0xFF) << 8;
    if let Some(unit) = f.unit {
        let b = unit.as_bytes();
        t |= (b.len() as u64 & 0xFF) << 16;
        let mut i = 0;
        while i < b.len() && i < 5 {
            t |= (b[i] as u64) << (24 + 8 * i);
            i += 1;
        }
    } else {
        t |= 0xFF << 16;
    }
    t
}

impl Encoder {
    /// An encoder with no previous telegram.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Encodes `r` and returns its telegram: the bytes `r.write_to` would append.
    pub fn encode(&mut self, r: &Readout) -> &[u8] {
        if self.model == Some(r.model) && self.patch(r) {
            self.whole = false;
        } else {
            self.rewrite(r);
            self.whole = true;
        }
        &self.bytes
    }

    /// The last telegram (empty before the first [`Encoder::encode`]).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What the last [`Encoder::encode`] changed: `None` when it wrote the whole telegram
    /// afresh (the first one, or a new layout), otherwise the byte ranges it rewrote,
    /// ascending and disjoint; the telegram has the previous one's length and equals it
    /// outside them.
    pub fn changes(&self) -> Option<&[Range<usize>]> {
        (!self.whole).then_some(&self.changes[..])
    }

    /// Forgets the previous telegram, so the next one is written whole.
    pub fn reset(&mut self) {
        self.model = None;
        self.bytes.clear();
        self.layout.clear();
        self.octets.clear();
    }

    /// A full encode, recording the layout.
    fn rewrite(&mut self, r: &Readout) {
        self.bytes.clear();
        self.layout.clear();
        self.octets.clear();
        self.bytes.reserve(2048);
        self.bytes.push(b'/');
        self.bytes
            .extend_from_slice(r.model.identification().as_bytes());
        self.bytes.extend_from_slice(b"\r\n\r\n");
        r.emit(&mut Record {
            out: &mut self.bytes,
            layout: &mut self.layout,
            octets: &mut self.octets,
        });
        self.bytes.push(b'!');
        self.crc = crc16(&self.bytes);
        push_crc(&mut self.bytes, self.crc);
        self.model = Some(r.model);
    }

    /// Writes `r` over the previous telegram; false (with the bytes left half-written)
    /// if its layout differs.
    fn patch(&mut self, r: &Readout) -> bool {
        let Some(body) = self.bytes.len().checked_sub(TRAILER) else {
            return false;
        };
        self.changes.clear();
        let mut p = Patch {
            bytes: &mut self.bytes[..body],
            layout: &mut self.layout,
            next: 0,
            fits: true,
            crc: CrcDelta::default(),
            changes: &mut self.changes,
            octets: &mut self.octets,
            scratch: &mut self.scratch,
        };
        r.emit(&mut p);
        if !p.fits || p.next != p.layout.len() {
            return false;
        }
        let crc = p.crc;
        if self.changes.is_empty() {
            return true;
        }
        let new = crc.apply(self.crc, body);
        if new != self.crc {
            self.crc = new;
            self.bytes.truncate(body);
            push_crc(&mut self.bytes, new);
            self.changes.push(body..body + 4);
        }
        true
    }
}

/// The full encode: bytes appended, layout recorded.
struct Record<'a> {
    out: &'a mut Vec<u8>,
    layout: &'a mut Vec<Token>,
    octets: &'a mut Vec<u8>,
}

impl Record<'_> {
    fn value_from(&mut self, source: Source, write: impl FnOnce(&mut Vec<u8>)) {
        self.out.push(b'(');
        let at = self.out.len();
        write(self.out);
        self.layout.push(Token::Value {
            at,
            len: self.out.len() - at,
            source,
        });
        self.out.push(b')');
    }
}

impl Sink for Record<'_> {
    fn begin(&mut self, code: Code) {
        self.layout.push(Token::Line(obis_key(code.obis)));
        self.out.extend_from_slice(code.text.as_bytes());
    }
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.value_from(Source::Text, write);
    }
    fn value_fixed(&mut self, fmt: Fixed, raw: u64) {
        self.value_from(Source::Fixed(tag(fmt), raw), |out| fmt.write(out, raw));
    }
    fn value_tst(&mut self, t: Tst) {
        self.value_from(Source::Tst(t), |out| t.write_to(out));
    }
    fn value_hex(&mut self, bytes: &[u8]) {
        let at = self.octets.len();
        self.octets.extend_from_slice(bytes);
        let source = Source::Hex {
            at,
            len: bytes.len(),
        };
        self.value_from(source, |out| write_hex(out, bytes));
    }
    fn end(&mut self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// The walk over the previous telegram: checks each line and value against the layout
/// and rewrites the values that changed.
struct Patch<'a> {
    /// The previous telegram's body, `/` through `!`.
    bytes: &'a mut [u8],
    layout: &'a mut [Token],
    /// The layout element the walk expects next.
    next: usize,
    /// False from the first line or value that does not fit the layout.
    fits: bool,
    crc: CrcDelta,
    changes: &'a mut Vec<Range<usize>>,
    octets: &'a mut [u8],
    scratch: &'a mut Vec<u8>,
}

impl Patch<'_> {
    /// The next layout element if it is a value; otherwise the walk stops fitting.
    #[inline(always)]
    fn next_value(&mut self) -> Option<(usize, usize, &mut Source)> {
        if !self.fits {
            return None;
        }
        match self.layout.get_mut(self.next) {
            Some(Token::Value { at, len, source }) => {
                self.next += 1;
                Some((*at, *len, source))
            }
            _ => {
                self.fits = false;
                None
            }
        }
    }

    /// The value at `at..at + len` now reads `scratch`: writes the bytes that differ.
    fn rewrite(&mut self, at: usize, len: usize) {
        if self.scratch.len() != len {
            self.fits = false;
            return;
        }
        let old = &mut self.bytes[at..at + len];
        let Some(first) = old
            .iter()
            .zip(self.scratch.iter())
            .position(|(o, n)| o != n)
        else {
            return;
        };
        let last = old
            .iter()
            .zip(self.scratch.iter())
            .rposition(|(o, n)| o != n)
            .unwrap_or(first);
        let new = &self.scratch[first..=last];
        for (i, (o, &n)) in old[first..=last].iter_mut().zip(new).enumerate() {
            self.crc.changed(at + first + i, *o, n);
            *o = n;
        }
        self.changes.push(at + first..at + last + 1);
    }

    /// A value printed from `source` by `write`, where `source` is not a [`Source::Hex`].
    #[inline(always)]
    fn value_from(&mut self, source: Source, write: impl FnOnce(&mut Vec<u8>)) {
        let Some((at, len, old)) = self.next_value() else {
            return;
        };
        let same_kind = match (*old, source) {
            (Source::Fixed(a, _), Source::Fixed(b, _)) => a == b,
            (Source::Tst(_), Source::Tst(_)) | (Source::Text, Source::Text) => true,
            _ => false,
        };
        if !same_kind {
            self.fits = false;
            return;
        }
        if source != Source::Text && *old == source {
            return;
        }
        *old = source;
        self.scratch.clear();
        write(self.scratch);
        self.rewrite(at, len);
    }
}

impl Sink for Patch<'_> {
    #[inline(always)]
    fn begin(&mut self, code: Code) {
        if !self.fits {
            return;
        }
        match self.layout.get(self.next) {
            Some(Token::Line(key)) if *key == obis_key(code.obis) => self.next += 1,
            _ => self.fits = false,
        }
    }
    #[inline]
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.value_from(Source::Text, write);
    }
    #[inline(always)]
    fn value_fixed(&mut self, fmt: Fixed, raw: u64) {
        self.value_from(Source::Fixed(tag(fmt), raw), |out| fmt.write(out, raw));
    }
    #[inline(always)]
    fn value_tst(&mut self, t: Tst) {
        self.value_from(Source::Tst(t), |out| t.write_to(out));
    }
    fn value_hex(&mut self, bytes: &[u8]) {
        let Some((at, len, &mut Source::Hex { at: from, len: n })) = self.next_value() else {
            self.fits = false;
            return;
        };
        if n != bytes.len() {
            self.fits = false;
            return;
        }
        let old = &mut self.octets[from..from + n];
        if old == bytes {
            return;
        }
        old.copy_from_slice(bytes);
        self.scratch.clear();
        write_hex(self.scratch, bytes);
        self.rewrite(at, len);
    }
    #[inline(always)]
    fn end(&mut self) {}
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::strategies;

    /// Checks one encode against the plain encoder and the change list against the
    /// previous telegram.
    fn check(enc: &mut Encoder, r: &Readout) -> Result<(), TestCaseError> {
        let before = enc.bytes().to_vec();
        let got = enc.encode(r).to_vec();
        prop_assert_eq!(
            &got,
            &r.to_bytes(),
            "the encoder prints what write_to prints"
        );
        if let Some(changes) = enc.changes() {
            prop_assert_eq!(got.len(), before.len());
            let mut covered = vec![false; got.len()];
            let mut end = 0;
            for c in changes {
                prop_assert!(c.start >= end && c.start < c.end, "ascending, disjoint");
                end = c.end;
                covered[c.clone()].iter_mut().for_each(|b| *b = true);
            }
            for (i, (a, b)) in before.iter().zip(&got).enumerate() {
                prop_assert!(a == b || covered[i], "byte {} changed outside the list", i);
            }
        }
        Ok(())
    }

    #[test]
    fn every_format_has_its_own_tag() {
        use crate::format::*;
        let all = [
            ENERGY,
            POWER,
            VOLTAGE,
            CURRENT,
            CURRENT_WHOLE,
            LIMITER,
            FUSE,
            VOLUME,
            VOLUME_SILENT,
            TARIFF,
            DEVICE_TYPE,
            VERSION,
            STATE,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(
                a.unit.is_none_or(|u| u.len() <= 5),
                "{a:?}: the tag holds 5 unit bytes"
            );
            for b in &all[..i] {
                assert_eq!(tag(*a) == tag(*b), a == b, "{a:?} and {b:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_sequence_of_readouts_encodes_as_write_to(
            rs in vec(strategies::readout(), 1..6),
        ) {
            let mut enc = Encoder::new();
            for r in &rs {
                check(&mut enc, r)?;
            }
        }

        #[test]
        fn small_steps_are_patched_and_exact(
            r in strategies::readout(),
            steps in vec((0u32..3000, 0u32..2500, any::<u8>(), 0u64..5000), 1..20),
        ) {
            let mut r = r;
            let mut enc = Encoder::new();
            check(&mut enc, &r)?;
            let mut patched = 0;
            for (w, dv, second, wh) in steps {
                r.import_w = w;
                r.time.second = second % 60;
                r.import_wh[0] += wh;
                for p in &mut r.phases {
                    p.voltage_dv = dv;
                }
                check(&mut enc, &r)?;
                patched += usize::from(enc.changes().is_some());
            }
            prop_assert!(patched > 0, "a step that keeps every width is a patch");
        }
    }
}
