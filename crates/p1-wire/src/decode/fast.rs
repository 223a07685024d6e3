//! The decoder's fast lane: one pass over a telegram laid out as meters print it,
//! straight into a reused [`Readout`], without allocating.
//!
//! [`read`] accepts a telegram only where the decoder's framing and its full checks
//! (the generic grammar of `parse_body`, then the object table in [`crate::fields`])
//! would accept it with the same readout. On anything unusual it declines (`None`): an
//! unknown or repeated
//! object, a version line that is not the first data line, an object the model or
//! version does not print, an M-Bus channel with both reading objects, any byte out of
//! place. The decoder then runs the full checks, which decide and report exactly as
//! they always did: the fast lane never writes an error message and never rejects a
//! telegram, it only saves work on the valid path.
//!
//! The value parsers are the ones the full checks use ([`Fixed::parse_bytes`],
//! [`Tst::parse`], [`fields::hex_octet`], [`fields::history_count`]); what this module
//! states a second time is which objects a telegram holds (the [`TABLE`] and
//! [`EXPECTED`]) and the shape of each line. The tests below compare both lanes on
//! random and mutated telegrams.
//!
//! Where the time goes instead: each line is recognised by its first 16 bytes, compared
//! under a mask with the table entry after the previous line's (where meters print it)
//! before any other; each value is parsed in place at its known width; and the
//! readout's strings and vectors keep their capacity from telegram to telegram.

use crate::fields;
use crate::format::{self, Fixed};
use crate::obis::{ObisText, codes};
use crate::{
    Breaker, Demand, HistoryEntry, MbusCapture, MbusReadout, Model, Obis, Peak, PhaseReadout,
    Readout, Tst, Version,
};

/// Reads the telegram at the start of `bytes`, from its `/` through its last data line,
/// into `out`, and returns the index of the `!` that follows. `None` when the full
/// checks must decide; `out` then holds a partial reading that means nothing.
///
/// No value format admits `/` or `!`, so that `!` is the first of either after the `/`:
/// where the decoder's framing ends the body too.
pub(super) fn read(bytes: &[u8], out: &mut Readout) -> Option<usize> {
    let mut reader = Reader::start(bytes, out)?;
    while reader.cursor.peek()? != b'!' {
        reader.line()?;
    }
    let bang = reader.cursor.at;
    reader.finish()?;
    Some(bang)
}

/// The printed length of a timestamp `YYMMDDhhmmssX`.
const TST_LEN: usize = 13;

/// The first 16 bytes of a line as a little-endian word, which is how lines are
/// recognised: every known code and its `(` fit (`0-0:96.13.0(` is 12 bytes).
type Word = u128;

/// Which byte of a [`Word`] holds the channel digit of `0-n:`.
const CHANNEL_BYTE: u32 = 2;

/// How the lines of one object start, and what the object is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The code as printed, then `(`: the low bytes of a word (zero above).
    start: Word,
    /// The bytes of a word that `start` fixes: all of its bytes, but for an M-Bus
    /// object the channel digit, which [`Entry::channel`] reads.
    mask: Word,
    /// Length of the code, without the `(`.
    len: usize,
    object: Object,
}

impl Entry {
    /// The entry of `obis` (an M-Bus object given on any channel 1 to 9).
    const fn new(obis: Obis, object: Object) -> Entry {
        let text = ObisText::of(obis);
        let code = text.as_bytes();
        let len = code.len();
        let mut start = (b'(' as Word) << (8 * len);
        let mut i = 0;
        while i < len {
            start |= (code[i] as Word) << (8 * i);
            i += 1;
        }
        let mut mask = Word::MAX >> (8 * (15 - len));
        if let Object::Mbus(_) = object {
            mask &= !(0xFF << (8 * CHANNEL_BYTE));
        }
        Entry {
            start: start & mask,
            mask,
            len,
            object,
        }
    }

    /// Whether a line whose first bytes are `word` is of this object, and its M-Bus
    /// channel (1 to 4) if the object is on one, else 0.
    #[inline(always)]
    fn channel(&self, word: Word) -> Option<u8> {
        if word & self.mask != self.start {
            return None;
        }
        if !matches!(self.object, Object::Mbus(_)) {
            return Some(0);
        }
        let digit = (word >> (8 * CHANNEL_BYTE)) as u8;
        (b'1'..=b'4').contains(&digit).then(|| digit - b'0')
    }
}

/// The objects of the [`TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Version,
    EquipmentId,
    Time,
    /// Import register of tariff 1 or 2 (index 0 or 1).
    Import(usize),
    /// Export register of tariff 1 or 2.
    Export(usize),
    Tariff,
    Demand,
    Peak,
    History,
    ImportPower,
    ExportPower,
    PhaseImport(usize),
    PhaseExport(usize),
    Voltage(usize),
    Current(usize),
    Breaker,
    Limiter,
    Fuse,
    Message,
    Mbus(MbusObject),
}

/// The objects of an M-Bus channel block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MbusObject {
    DeviceType,
    EquipmentId,
    Valve,
    /// `24.2.3`.
    Gas,
    /// `24.2.1`.
    Water,
}

impl MbusObject {
    /// Its bit in [`Block::seen`].
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Every object the fast lane reads, in the order meters print them (§3.1), so that
/// the entry after a line's is usually the next line's.
const TABLE: [Entry; 34] = {
    use MbusObject as M;
    use Object as O;
    let [i1, i2, i3] = codes::PHASE_IMPORT;
    let [e1, e2, e3] = codes::PHASE_EXPORT;
    let [v1, v2, v3] = codes::VOLTAGE;
    let [c1, c2, c3] = codes::CURRENT;
    [
        Entry::new(codes::VERSION, O::Version),
        Entry::new(codes::EQUIPMENT_ID, O::EquipmentId),
        Entry::new(codes::TIME, O::Time),
        Entry::new(codes::IMPORT_T1, O::Import(0)),
        Entry::new(codes::IMPORT_T2, O::Import(1)),
        Entry::new(codes::EXPORT_T1, O::Export(0)),
        Entry::new(codes::EXPORT_T2, O::Export(1)),
        Entry::new(codes::TARIFF, O::Tariff),
        Entry::new(codes::DEMAND, O::Demand),
        Entry::new(codes::PEAK, O::Peak),
        Entry::new(codes::HISTORY, O::History),
        Entry::new(codes::IMPORT_POWER, O::ImportPower),
        Entry::new(codes::EXPORT_POWER, O::ExportPower),
        Entry::new(i1, O::PhaseImport(0)),
        Entry::new(i2, O::PhaseImport(1)),
        Entry::new(i3, O::PhaseImport(2)),
        Entry::new(e1, O::PhaseExport(0)),
        Entry::new(e2, O::PhaseExport(1)),
        Entry::new(e3, O::PhaseExport(2)),
        Entry::new(v1, O::Voltage(0)),
        Entry::new(v2, O::Voltage(1)),
        Entry::new(v3, O::Voltage(2)),
        Entry::new(c1, O::Current(0)),
        Entry::new(c2, O::Current(1)),
        Entry::new(c3, O::Current(2)),
        Entry::new(codes::BREAKER, O::Breaker),
        Entry::new(codes::LIMITER, O::Limiter),
        Entry::new(codes::FUSE, O::Fuse),
        Entry::new(codes::MESSAGE, O::Message),
        Entry::new(codes::MBUS_TYPE.on_channel(1), O::Mbus(M::DeviceType)),
        Entry::new(codes::EQUIPMENT_ID.on_channel(1), O::Mbus(M::EquipmentId)),
        Entry::new(codes::MBUS_VALVE.on_channel(1), O::Mbus(M::Valve)),
        Entry::new(codes::MBUS_GAS.on_channel(1), O::Mbus(M::Gas)),
        Entry::new(codes::MBUS_WATER.on_channel(1), O::Mbus(M::Water)),
    ]
};

/// Whether `model` and `version` print the electricity object `obj`. The full checks
/// reject the objects a version does not have and leave the phases a model does not
/// have to the generic layer, so here every printed object is required and nothing
/// else is read.
const fn printed(obj: Object, model: Model, version: Version) -> bool {
    let phases = model.phases();
    match obj {
        Object::Demand | Object::Peak | Object::History => version.has_demand(),
        Object::PhaseImport(p) | Object::PhaseExport(p) => p < phases && version.has_phase_power(),
        Object::Voltage(p) | Object::Current(p) => p < phases,
        Object::Mbus(_) => false,
        _ => true,
    }
}

/// Per model (S211, T211) and version (oldest first): the bits of the [`TABLE`]
/// entries its telegrams print. A telegram on the fast lane holds exactly these.
const EXPECTED: [[u64; 5]; 2] = {
    let mut out = [[0; 5]; 2];
    let models = [Model::S211, Model::T211];
    let mut m = 0;
    while m < models.len() {
        let mut v = 0;
        while v < Version::ALL.len() {
            let mut i = 0;
            while i < TABLE.len() {
                if printed(TABLE[i].object, models[m], Version::ALL[v]) {
                    out[m][v] |= 1 << i;
                }
                i += 1;
            }
            v += 1;
        }
        m += 1;
    }
    out
};

/// The entries [`EXPECTED`] for `model` and `version`.
fn expected(model: Model, version: Version) -> u64 {
    let m = usize::from(model == Model::T211);
    let v = Version::ALL
        .iter()
        .position(|&x| x == version)
        .unwrap_or_default();
    EXPECTED[m][v]
}

/// A reading position in a telegram (`body` starts at its `/`). Every method consumes
/// what it checked and returns `None` at the first byte that is not as expected.
struct Cursor<'b> {
    body: &'b [u8],
    at: usize,
}

impl<'b> Cursor<'b> {
    /// The byte at the cursor.
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    /// Consumes `lit`, which must be next.
    fn eat(&mut self, lit: &[u8]) -> Option<()> {
        self.body.get(self.at..)?.starts_with(lit).then(|| {
            self.at += lit.len();
        })
    }

    /// `/`, one of the two identifications, and the empty line after it.
    fn header(&mut self) -> Option<Model> {
        self.eat(b"/")?;
        let model = [Model::T211, Model::S211]
            .into_iter()
            .find(|m| self.eat(m.identification().as_bytes()).is_some())?;
        self.eat(b"\r\n\r\n")?;
        Some(model)
    }

    /// The 16 bytes from the cursor on as a [`Word`] (zeros past the end).
    fn word(&self) -> Word {
        let rest = self.body.get(self.at..).unwrap_or_default();
        let mut window = [0u8; 16];
        match rest.first_chunk::<16>() {
            Some(first) => window = *first,
            // The last line may be shorter (`0-0:96.13.0()` is 13 bytes and CR LF).
            None => window[..rest.len()].copy_from_slice(rest),
        }
        Word::from_le_bytes(window)
    }

    /// CR LF ending a line.
    fn line_end(&mut self) -> Option<()> {
        self.eat(b"\r\n")
    }

    /// `(`, exactly `len` bytes, `)`: the bytes in between.
    #[inline(always)]
    fn value(&mut self, len: usize) -> Option<&'b [u8]> {
        let v = self.body.get(self.at..self.at + len + 2)?;
        let (&open, inside) = v.split_first()?;
        let (&close, inside) = inside.split_last()?;
        if open != b'(' || close != b')' {
            return None;
        }
        self.at += len + 2;
        Some(inside)
    }

    /// `(` … `)`: the bytes up to the first `)`. Only for values whose parser admits
    /// none of the bytes the generic grammar forbids inside a value.
    fn any_value(&mut self) -> Option<&'b [u8]> {
        let rest = self.body.get(self.at..)?;
        let inside = rest.strip_prefix(b"(")?;
        let len = memchr::memchr(b')', inside)?;
        self.at += len + 2;
        inside.get(..len)
    }

    /// A value of the fixed-point format `fmt`.
    #[inline(always)]
    fn fixed(&mut self, fmt: Fixed) -> Option<u64> {
        fmt.parse_bytes(self.value(fmt.len())?)
    }

    /// A power `F5(3,3)` kW, in W.
    fn kw(&mut self) -> Option<u32> {
        self.fixed(format::POWER).map(|w| w as u32)
    }

    fn tst(&mut self) -> Option<Tst> {
        Tst::parse(self.value(TST_LEN)?)
    }

    /// A breaker or valve state.
    fn breaker(&mut self) -> Option<Breaker> {
        Breaker::from_code(self.fixed(format::STATE)? as u8)
    }

    /// Upper-case hex octets, at most `max_chars` characters, into `out`.
    fn hex(&mut self, max_chars: usize, out: &mut Vec<u8>) -> Option<()> {
        let text = self.any_value()?;
        if text.len() > max_chars || text.len() % 2 != 0 {
            return None;
        }
        out.clear();
        for pair in text.chunks_exact(2) {
            out.push(fields::hex_octet([pair[0], pair[1]])?);
        }
        Some(())
    }

    /// An equipment id: hex of printable ASCII, into `out`.
    fn ascii_id(&mut self, out: &mut String) -> Option<()> {
        let text = self.any_value()?;
        if text.len() > fields::MAX_ID_HEX || text.len() % 2 != 0 {
            return None;
        }
        let mut id = [0u8; fields::MAX_ID_HEX / 2];
        for (octet, pair) in id.iter_mut().zip(text.chunks_exact(2)) {
            *octet = fields::hex_octet([pair[0], pair[1]])?;
            // Octets above 0x7F become non-ASCII chars here, which are not printable
            // ids, as in the full checks (where they fail UTF-8 or the same test).
            if !fields::is_printable_id(char::from(*octet)) {
                return None;
            }
        }
        out.clear();
        out.push_str(std::str::from_utf8(&id[..text.len() / 2]).ok()?);
        Some(())
    }

    /// The values of `0-0:98.1.0`, into `out`.
    fn history(&mut self, out: &mut Vec<HistoryEntry>) -> Option<()> {
        let n = fields::history_count(self.any_value()?)?;
        for _ in 0..2 {
            if self.any_value()? != fields::PEAK_TEXT.as_bytes() {
                return None;
            }
        }
        out.clear();
        if n == 0 {
            return self.any_value()?.is_empty().then_some(());
        }
        for _ in 0..n {
            out.push(HistoryEntry {
                period: self.tst()?,
                at: self.tst()?,
                w: self.kw()?,
            });
        }
        Some(())
    }

    /// The values of an M-Bus reading line.
    fn capture(&mut self) -> Option<MbusCapture> {
        let at = self.tst()?;
        let text = self.any_value()?;
        if at == Tst::INVALID && format::VOLUME_SILENT.parse_bytes(text) == Some(0) {
            return Some(MbusCapture::Silent);
        }
        let dm3 = format::VOLUME.parse_bytes(text)?;
        Some(MbusCapture::Reading { at, dm3 })
    }
}

/// An M-Bus channel block being read.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    channel: u8,
    /// The [`MbusObject::bit`]s read.
    seen: u8,
}

impl Block {
    /// The device type, the equipment id and one reading line (the valve is optional).
    fn complete(self) -> bool {
        let needed = MbusObject::DeviceType.bit() | MbusObject::EquipmentId.bit();
        let gas = self.seen & MbusObject::Gas.bit() != 0;
        let water = self.seen & MbusObject::Water.bit() != 0;
        self.seen & needed == needed && gas != water
    }
}

/// Most M-Bus channels (1 to 4).
const CHANNELS: usize = 4;

/// One telegram being read.
struct Reader<'b, 'r> {
    cursor: Cursor<'b>,
    out: &'r mut Readout,
    /// The [`TABLE`] entries read so far, bit `i` for entry `i`.
    seen: u64,
    /// The entries this model and version print.
    expected: u64,
    /// The entry looked at first for the next line: the one after the last line's.
    next: usize,
    /// The M-Bus blocks in the order their channels first appear (the order of
    /// `out.mbus`).
    blocks: [Block; CHANNELS],
    n_blocks: usize,
}

impl<'b, 'r> Reader<'b, 'r> {
    /// Reads the header and the version line, which meters print first: the version
    /// decides which objects follow and the current's format.
    fn start(body: &'b [u8], out: &'r mut Readout) -> Option<Reader<'b, 'r>> {
        let mut cursor = Cursor { body, at: 0 };
        let model = cursor.header()?;
        let first = TABLE[0];
        first.channel(cursor.word())?;
        cursor.at += first.len;
        let version = Version::from_code(cursor.fixed(format::VERSION)? as u32)?;
        cursor.line_end()?;

        out.model = model;
        out.version = version;
        out.phases.clear();
        out.phases.resize(model.phases(), PhaseReadout::default());
        if !version.has_demand() {
            out.demand = None;
        } else if out.demand.is_none() {
            out.demand = Some(Demand {
                current_w: 0,
                peak: Peak {
                    at: Tst::INVALID,
                    w: 0,
                },
                history: Vec::new(),
            });
        }
        Some(Reader {
            cursor,
            out,
            seen: 1,
            expected: expected(model, version),
            next: 1,
            blocks: [Block::default(); CHANNELS],
            n_blocks: 0,
        })
    }

    /// The index of the entry whose lines start as `word` does, and the M-Bus
    /// channel it names (0 for none): [`Reader::next`] first, then every entry.
    fn lookup(&mut self, word: Word) -> Option<(usize, u8)> {
        let (i, channel) = match TABLE.get(self.next).and_then(|e| e.channel(word)) {
            Some(channel) => (self.next, channel),
            None => TABLE
                .iter()
                .enumerate()
                .find_map(|(i, e)| Some((i, e.channel(word)?)))?,
        };
        self.next = i + 1;
        Some((i, channel))
    }

    /// One data line.
    fn line(&mut self) -> Option<()> {
        let (entry, channel) = self.lookup(self.cursor.word())?;
        let Entry { len, object, .. } = TABLE[entry];
        self.cursor.at += len;
        match object {
            Object::Mbus(obj) => self.mbus(channel, obj)?,
            obj => {
                let bit = 1 << entry;
                if self.expected & bit == 0 || self.seen & bit != 0 {
                    return None;
                }
                self.seen |= bit;
                self.electricity(obj)?;
            }
        }
        self.cursor.line_end()
    }

    /// The values of an electricity object's line.
    fn electricity(&mut self, obj: Object) -> Option<()> {
        let c = &mut self.cursor;
        let out = &mut *self.out;
        match obj {
            Object::EquipmentId => c.ascii_id(&mut out.equipment_id)?,
            Object::Time => out.time = c.tst()?,
            Object::Import(t) => *out.import_wh.get_mut(t)? = c.fixed(format::ENERGY)?,
            Object::Export(t) => *out.export_wh.get_mut(t)? = c.fixed(format::ENERGY)?,
            Object::Tariff => {
                out.tariff = match c.fixed(format::TARIFF)? {
                    t @ 1..=2 => t as u8,
                    _ => return None,
                }
            }
            Object::Demand => out.demand.as_mut()?.current_w = c.kw()?,
            Object::Peak => {
                let (at, w) = (c.tst()?, c.kw()?);
                out.demand.as_mut()?.peak = Peak { at, w };
            }
            Object::History => c.history(&mut out.demand.as_mut()?.history)?,
            Object::ImportPower => out.import_w = c.kw()?,
            Object::ExportPower => out.export_w = c.kw()?,
            Object::PhaseImport(p) => out.phases.get_mut(p)?.import_w = c.kw()?,
            Object::PhaseExport(p) => out.phases.get_mut(p)?.export_w = c.kw()?,
            Object::Voltage(p) => {
                out.phases.get_mut(p)?.voltage_dv = c.fixed(format::VOLTAGE)? as u32;
            }
            Object::Current(p) => {
                let fmt = format::current(out.version);
                let ca = c.fixed(fmt)? * 10u64.pow(2 - fmt.dec as u32);
                out.phases.get_mut(p)?.current_ca = ca as u32;
            }
            Object::Breaker => out.breaker = c.breaker()?,
            Object::Limiter => out.limiter_hw = c.fixed(format::LIMITER)? as u32,
            Object::Fuse => out.fuse_a = c.fixed(format::FUSE)? as u32,
            Object::Message => c.hex(fields::MAX_MESSAGE_HEX, &mut out.message)?,
            // The version line is read by `start`; a second one is a repeat.
            Object::Version | Object::Mbus(_) => return None,
        }
        Some(())
    }

    /// The values of an M-Bus object's line on `channel`.
    fn mbus(&mut self, channel: u8, obj: MbusObject) -> Option<()> {
        let open = &self.blocks[..self.n_blocks];
        let k = match open.iter().position(|b| b.channel == channel) {
            Some(k) => k,
            None => self.open_block(channel)?,
        };
        let block = self.blocks.get_mut(k)?;
        if block.seen & obj.bit() != 0 {
            return None;
        }
        block.seen |= obj.bit();
        let m = self.out.mbus.get_mut(k)?;
        let c = &mut self.cursor;
        match obj {
            MbusObject::DeviceType => m.device_type = c.fixed(format::DEVICE_TYPE)? as u16,
            MbusObject::EquipmentId => c.ascii_id(&mut m.equipment_id)?,
            MbusObject::Valve => m.valve = Some(c.breaker()?),
            MbusObject::Gas | MbusObject::Water => m.capture = c.capture()?,
        }
        Some(())
    }

    /// Starts the block of `channel` (1 to 4), reusing the readout's entry at its place.
    fn open_block(&mut self, channel: u8) -> Option<usize> {
        let k = self.n_blocks;
        *self.blocks.get_mut(k)? = Block { channel, seen: 0 };
        self.n_blocks += 1;
        match self.out.mbus.get_mut(k) {
            Some(m) => {
                m.channel = channel;
                m.valve = None;
            }
            None => self.out.mbus.push(MbusReadout {
                channel,
                device_type: 0,
                equipment_id: String::new(),
                valve: None,
                capture: MbusCapture::Silent,
            }),
        }
        Some(k)
    }

    /// Every object printed, every block complete, water only where the version has it.
    fn finish(self) -> Option<()> {
        if self.seen != self.expected {
            return None;
        }
        let blocks = &self.blocks[..self.n_blocks];
        let has_water = self.out.version.has_water();
        let fine = blocks
            .iter()
            .zip(&self.out.mbus)
            .all(|(b, m)| b.complete() && (has_water || m.device_type != MbusReadout::WATER));
        self.out.mbus.truncate(self.n_blocks);
        fine.then_some(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::super::{Spans, check, check_fast, placeholder};
    use super::{MbusObject, Object, TABLE};
    use crate::{DecodeError, Decoder, Readout, crc16, strategies};

    /// The fast lane (reading into `slot`) and the full checks over one telegram framed
    /// from `/` through the CRC line's LF, whose first `!` ends the body.
    fn lanes(
        bytes: &[u8],
        slot: &mut Readout,
    ) -> (Option<u16>, Result<(u16, Readout), DecodeError>) {
        let bang = bytes.iter().position(|&b| b == b'!').unwrap_or(bytes.len());
        let fast = check_fast(bytes, bang, slot);
        let full = check(bytes, 0, bang, &mut Spans::default());
        (fast, full)
    }

    /// Whether the fast lane took `bytes`; an error if it took them where the full checks
    /// reject them or read them otherwise.
    fn agree(bytes: &[u8], slot: &mut Readout) -> Result<bool, TestCaseError> {
        let shown = || String::from_utf8_lossy(bytes).into_owned();
        match lanes(bytes, slot) {
            (None, _) => Ok(false),
            (Some(crc), Ok((full_crc, full))) => {
                prop_assert_eq!(crc, full_crc);
                prop_assert_eq!(&*slot, &full, "{}", shown());
                Ok(true)
            }
            (Some(_), Err(e)) => Err(TestCaseError::fail(format!(
                "the fast lane took what the full checks reject ({e}):\n{}",
                shown()
            ))),
        }
    }

    /// `body` (from `/` up to `!`) framed with its CRC, or with `0000` when `wrong_crc`.
    fn frame(body: &[u8], wrong_crc: bool) -> Vec<u8> {
        let mut out = body.to_vec();
        out.push(b'!');
        let crc = if wrong_crc { 0 } else { crc16(&out) };
        out.extend_from_slice(format!("{crc:04X}\r\n").as_bytes());
        out
    }

    /// The body of a framed telegram, from `/` up to `!`.
    fn body(bytes: &[u8]) -> &[u8] {
        &bytes[..bytes.iter().rposition(|&b| b == b'!').unwrap_or(0)]
    }

    /// A change to a telegram body.
    #[derive(Debug, Clone)]
    enum Edit {
        /// Replace (0), remove (1) or insert (2) a byte after the `/`.
        Byte(Index, u8, u8),
        /// Replace a byte of a data line after its first `(`: where the values are.
        Value(Index, Index, u8),
        /// Swap two data lines.
        Swap(Index, Index),
        /// Print a data line twice.
        Repeat(Index),
        /// Leave a data line out.
        Drop(Index),
        /// Move a data line to the top (before the version).
        First(Index),
    }

    /// Bytes of telegrams, favoured by the byte edits (no `/` or `!`, which would
    /// frame the telegram differently; the decoder-level test has those).
    const ALPHABET: &[u8] = b"0123456789.*()-:ABCDEFWSkVhmA3n \r\n\x7f";

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            2 => (any::<Index>(), proptest::sample::select(ALPHABET), 0u8..3)
                .prop_map(|(i, b, op)| Edit::Byte(i, b, op)),
            3 => (any::<Index>(), any::<Index>(), proptest::sample::select(ALPHABET))
                .prop_map(|(line, at, b)| Edit::Value(line, at, b)),
            1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
            1 => any::<Index>().prop_map(Edit::Repeat),
            1 => any::<Index>().prop_map(Edit::Drop),
            1 => any::<Index>().prop_map(Edit::First),
        ]
    }

    /// `body` with `edits` applied.
    fn edited(body: &[u8], edits: &[Edit]) -> Vec<u8> {
        let split = body
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(body.len(), |p| p + 4);
        let (head, data) = body.split_at(split);
        let mut head = head.to_vec();
        let mut lines: Vec<Vec<u8>> = data
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        let mut bytes_edits = Vec::new();
        for e in edits {
            let n = lines.len();
            match e {
                Edit::Swap(a, b) if n > 0 => lines.swap(a.index(n), b.index(n)),
                Edit::Repeat(a) if n > 0 => {
                    let line = lines[a.index(n)].clone();
                    lines.insert(a.index(n), line);
                }
                Edit::Drop(a) if n > 0 => {
                    lines.remove(a.index(n));
                }
                Edit::First(a) if n > 0 => {
                    let line = lines.remove(a.index(n));
                    lines.insert(0, line);
                }
                Edit::Value(a, at, byte) if n > 0 => {
                    let line = &mut lines[a.index(n)];
                    let open = line.iter().position(|&b| b == b'(').unwrap_or(0);
                    let i = open + 1 + at.index(line.len().saturating_sub(open + 1).max(1));
                    if let Some(b) = line.get_mut(i) {
                        *b = *byte;
                    }
                }
                Edit::Byte(..) => bytes_edits.push(e.clone()),
                _ => {}
            }
        }
        head.extend(lines.concat());
        let mut out = head;
        for e in bytes_edits {
            if let Edit::Byte(at, byte, op) = e {
                let i = 1 + at.index(out.len().saturating_sub(1).max(1));
                match op {
                    0 if i < out.len() => out[i] = byte,
                    1 if i < out.len() => {
                        out.remove(i);
                    }
                    _ => out.insert(i.min(out.len()), byte),
                }
            }
        }
        out
    }

    /// Every capture in `tests/fixtures`, valid or not, in name order.
    fn captures() -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .map(|p| {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                (name, std::fs::read(&p).expect("capture"))
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn lines_are_recognised_by_their_exact_code() {
        let object = |text: &[u8]| {
            let mut window = [0u8; 16];
            window[..text.len()].copy_from_slice(text);
            let word = u128::from_le_bytes(window);
            TABLE
                .iter()
                .find_map(|e| Some((e.object, e.channel(word)?)))
        };
        assert_eq!(object(b"1-0:1.8.1(000"), Some((Object::Import(0), 0)));
        assert_eq!(object(b"0-0:96.3.10(1)"), Some((Object::Breaker, 0)));
        assert_eq!(
            object(b"0-4:24.2.3(2"),
            Some((Object::Mbus(MbusObject::Gas), 4))
        );
        for other in [
            &b"1-0:1.8.10(0"[..],
            b"1-0:1.8.1)",
            b"1-0:1.8.1",
            b"01-0:1.8.1(",
            b"1-0:01.8.1(",
            b"0-0:24.1.0(",
            b"0-5:24.1.0(",
            b"0-1:24.1.0 (",
            b"0-1:96.1.1",
        ] {
            assert_eq!(object(other), None, "{other:?}");
        }
    }

    #[test]
    fn real_captures_take_the_fast_lane_with_the_same_readout() {
        let mut slot = placeholder();
        let mut fast = 0;
        let mut valid = 0;
        for (name, bytes) in captures() {
            let took = agree(&bytes, &mut slot).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (_, full) = lanes(&bytes, &mut placeholder());
            valid += usize::from(full.is_ok());
            fast += usize::from(took);
        }
        assert!(valid >= 80, "{valid} valid captures");
        assert_eq!(
            fast, valid,
            "{fast} of {valid} valid captures on the fast lane"
        );
    }

    #[test]
    fn unusual_valid_telegrams_take_the_full_checks() {
        let s211 = include_bytes!("../../tests/fixtures/fluvius-s211-domoticz-1.txt");
        let body = body(s211);
        let with = |find: &[u8], replace: &[u8]| {
            let at = body
                .windows(find.len())
                .position(|w| w == find)
                .expect("find");
            [&body[..at], replace, &body[at + find.len()..]].concat()
        };
        let cases: [(&str, Vec<u8>); 5] = [
            (
                "a phase the S211 does not have",
                with(b"1-0:31.7.0", b"1-0:52.7.0(230.0*V)\r\n1-0:31.7.0"),
            ),
            (
                "an unknown object",
                with(b"0-0:96.3.10", b"0-0:96.99.9(hello)\r\n0-0:96.3.10"),
            ),
            (
                "another object on an M-Bus channel",
                with(b"0-1:24.4.0", b"0-1:24.3.0(7)\r\n0-1:24.4.0"),
            ),
            (
                "both reading lines on one channel",
                [body, b"0-1:24.2.1(190905142001S)(00001.000*m3)\r\n"].concat(),
            ),
            (
                "the version after the equipment id",
                with(
                    b"0-0:96.1.4(50213)\r\n0-0:96.1.1(3153414731313030303037313930)\r\n",
                    b"0-0:96.1.1(3153414731313030303037313930)\r\n0-0:96.1.4(50213)\r\n",
                ),
            ),
        ];
        for (what, body) in cases {
            let (fast, full) = lanes(&frame(&body, false), &mut placeholder());
            assert_eq!(fast, None, "{what}");
            assert!(full.is_ok(), "{what}: {full:?}");
        }
    }

    #[test]
    fn every_one_byte_edit_of_a_value_agrees() {
        // Every byte inside the values of a few telegrams replaced by, and preceded by,
        // each byte that matters to the value formats, with the CRC fixed up: the range
        // and shape rules of each object (tariff 1 or 2, states 0 to 2, known versions,
        // water from 50216, the history count, silent channels) are all met here.
        let s211 = include_bytes!("../../tests/fixtures/fluvius-s211-domoticz-1.txt");
        let t211 = include_bytes!("../../tests/fixtures/fluvius-t211-arduinodsmrtest-1.txt");
        let mut quiet = crate::decode_all(t211).remove(0).expect("valid").readout;
        if let Some(d) = &mut quiet.demand {
            d.history.clear();
        }
        quiet.mbus[0].capture = crate::MbusCapture::Silent;
        quiet.breaker = crate::Breaker::ReadyForReconnection;
        let telegrams = [s211.to_vec(), t211.to_vec(), quiet.to_bytes()];
        let mut slot = placeholder();
        let mut took = 0;
        for telegram in &telegrams {
            let body = body(telegram);
            let mut inside = false;
            for i in 0..body.len() {
                inside = match body[i] {
                    b'(' => true,
                    b')' => false,
                    _ => inside,
                };
                if !inside && body[i] != b')' {
                    continue;
                }
                // Digits that make other tariffs, states, versions and device types.
                for &b in b"02379.*()ASW:\x7f" {
                    let replaced = [&body[..i], &[b], &body[i + 1..]].concat();
                    let inserted = [&body[..i], &[b], &body[i..]].concat();
                    for edited in [replaced, inserted] {
                        took += usize::from(agree(&frame(&edited, false), &mut slot).unwrap());
                    }
                }
            }
        }
        assert!(took > 1000, "{took} edits on the fast lane");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_fast_lane_reads_every_printed_telegram(
            rs in proptest::collection::vec(strategies::readout(), 1..5),
        ) {
            // One slot for all, as in the decoder: nothing of a telegram may stay
            // in the next one's readout.
            let mut slot = placeholder();
            for r in &rs {
                let bytes = r.to_bytes();
                prop_assert!(agree(&bytes, &mut slot)?, "declined:\n{}", String::from_utf8_lossy(&bytes));
                prop_assert_eq!(&slot, r);
            }
        }

        #[test]
        fn the_fast_lane_agrees_with_the_full_checks_on_edited_telegrams(
            cases in proptest::collection::vec(
                (strategies::readout(), proptest::collection::vec(edit(), 0..4), 0u8..8),
                1..5,
            ),
        ) {
            let mut slot = placeholder();
            for (r, edits, crc) in &cases {
                let bytes = frame(&edited(body(&r.to_bytes()), edits), *crc == 0);
                agree(&bytes, &mut slot)?;
            }
        }

        #[test]
        fn the_fast_lane_agrees_with_the_full_checks_on_edited_captures(
            picks in proptest::collection::vec(
                (any::<Index>(), proptest::collection::vec(edit(), 0..4)),
                1..5,
            ),
        ) {
            let all = captures();
            let mut slot = placeholder();
            for (pick, edits) in &picks {
                let (_, bytes) = &all[pick.index(all.len())];
                agree(&frame(&edited(body(bytes), edits), false), &mut slot)?;
            }
        }

        #[test]
        fn the_decoder_lends_what_the_full_checks_read(
            cases in proptest::collection::vec(
                (strategies::readout(), proptest::collection::vec(edit(), 0..3), any::<Index>(), proptest::sample::select(&b"/!x\r\n"[..])),
                1..5,
            ),
            chunk in 1usize..2000,
        ) {
            // A stream of edited telegrams, some cut or interrupted by framing bytes,
            // fed in chunks: every telegram the decoder lends is what the full checks
            // read from its bytes.
            let mut stream = Vec::new();
            for (r, edits, cut, byte) in &cases {
                let bytes = frame(&edited(body(&r.to_bytes()), edits), false);
                let keep = if cut.index(4) == 0 { cut.index(bytes.len()) } else { bytes.len() };
                stream.extend_from_slice(&bytes[..keep]);
                stream.push(*byte);
            }
            let mut d = Decoder::new();
            let mut lent = Vec::new();
            let mut results = Vec::new();
            for piece in stream.chunks(chunk) {
                d.feed_checked(piece, &mut |r| {
                    results.push(format!("{r:?}"));
                    if let Ok(c) = r {
                        lent.push((c.bytes.to_vec(), c.crc, c.readout.clone()));
                    }
                });
            }
            d.finish_checked(&mut |r| results.push(format!("{r:?}")));
            // Byte by byte, no telegram lies whole in what is fed: the same results.
            let mut bytewise = Vec::new();
            let mut d = Decoder::new();
            for piece in stream.chunks(1) {
                d.feed_checked(piece, &mut |r| bytewise.push(format!("{r:?}")));
            }
            d.finish_checked(&mut |r| bytewise.push(format!("{r:?}")));
            prop_assert_eq!(results, bytewise);
            for (bytes, crc, readout) in lent {
                let bang = bytes.iter().position(|&b| b == b'!').unwrap_or(0);
                match check(&bytes, 0, bang, &mut Spans::default()) {
                    Ok(full) => prop_assert_eq!((crc, readout), full),
                    Err(e) => return Err(TestCaseError::fail(format!("lent but invalid: {e}"))),
                }
            }
        }
    }
}
