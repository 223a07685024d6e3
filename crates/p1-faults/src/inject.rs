//! The injector: decides which faults hit a telegram ([`FaultInjector::apply`]), applies
//! them layer by layer, and predicts how consumers react ([`Verdict`]).
//!
//! Layers, in this fixed order whatever the order of the scenario file: content quirks
//! (the readout), line faults (drop, duplicate, reorder, unknown line, bit flip, stray
//! `/`, missing blank line — in that order), CRC and framing (wrong, lower-case,
//! unpadded or missing CRC, LF-only), byte cuts (head, tail, run-together), then the wire
//! (noise, split, silence). Within one kind, faults apply in file order.
//!
//! Two copies of the body are kept: the bytes the CRC is computed over and the bytes sent;
//! faults in [`CrcMode::Stale`] change only the second, which is how line noise breaks a
//! CRC.

use p1_wire::{Line, Obis, Readout, Telegram, crc16};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::content;
use crate::dsmr::{self, Expect, Hints};
use crate::spec::{
    CrcMode, FaultError, FaultKind, FaultPart, FaultSpec, MissingCrc, NoisePattern, SALT, Schedule,
};

/// One write of a split emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// Bytes in this write.
    pub len: usize,
    /// Pause after it, in milliseconds (0 after the last).
    pub pause_after_ms: u32,
}

/// A fault that changed this telegram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Kind name, as in the scenario file.
    pub fault: String,
    /// Position of the fault in the scenario's list (0-based).
    pub index: usize,
    /// What it did to this telegram (which line, which byte, which value).
    pub detail: String,
}

/// How consumers should react to an emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// A strict e-MUCS consumer (p1-wire's decoder) finds exactly one telegram in these
    /// bytes and accepts it, with nothing to reject (noise outside telegrams is skipped).
    /// `false` for silence, cuts, and every framing, CRC or object error.
    pub spec_valid: bool,
    /// `TelegramParser(BELGIUM_FLUVIUS).parse(bytes, throw_ex=True)` on the whole
    /// emission (what a test harness or a file reader does); never `NotFramed`.
    pub dsmr_parser: Expect,
    /// dsmr_parser's stream reader (`TelegramBuffer` then `parse`, as Home Assistant's
    /// asyncio reader runs it) fed only this emission: the outcome of the last telegram
    /// it cuts out, `NotFramed` if none.
    pub dsmr_reader: Expect,
}

/// What is sent for one telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    /// The bytes, in order.
    pub bytes: Vec<u8>,
    /// How to write them: empty means one write; otherwise the lengths add up to
    /// `bytes.len()`.
    pub pieces: Vec<Piece>,
    /// The faults that changed something, in the order applied.
    pub applied: Vec<Applied>,
    /// The content after content quirks: what the telegram says when read correctly.
    pub readout: Readout,
    /// How consumers should react.
    pub verdict: Verdict,
}

/// Applies a scenario's faults to telegram after telegram, deterministically from a seed.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    specs: Vec<FaultSpec>,
    seed: u64,
    fired: Vec<bool>,
}

/// First ChaCha8 stream used by the injector (the scenario's own generators use stream 0
/// and up; keeping far away avoids sharing draws with them).
const STREAM_BASE: u64 = 0xFA17_0000;

/// A data line while faults are applied: its bytes without line end, its object, and
/// whether a fault inserted it.
#[derive(Debug, Clone)]
struct Raw {
    bytes: Vec<u8>,
    obis: Option<Obis>,
    inserted: bool,
    /// The empty line after the identification.
    blank: bool,
}

fn line_bytes(l: &Line) -> Vec<u8> {
    let mut out = l.obis.to_string().into_bytes();
    for v in &l.values {
        out.push(b'(');
        out.extend_from_slice(v.as_bytes());
        out.push(b')');
    }
    out
}

fn raw_lines(t: &Telegram) -> Vec<Raw> {
    let mut out = vec![
        Raw {
            bytes: format!("/{}", t.identification).into_bytes(),
            obis: None,
            inserted: false,
            blank: false,
        },
        Raw {
            bytes: Vec::new(),
            obis: None,
            inserted: false,
            blank: true,
        },
    ];
    out.extend(t.lines.iter().map(|l| Raw {
        bytes: line_bytes(l),
        obis: Some(l.obis),
        inserted: false,
        blank: false,
    }));
    out
}

fn body(lines: &[Raw], eol: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    for l in lines {
        out.extend_from_slice(&l.bytes);
        out.extend_from_slice(eol);
    }
    out.push(b'!');
    out
}

/// Index in `lines` of the first data line with this object.
fn find(lines: &[Raw], obis: Obis) -> Option<usize> {
    lines.iter().position(|l| l.obis == Some(obis))
}

fn is_valve(obis: Obis) -> bool {
    obis.a == 0 && (1..=4).contains(&obis.b) && (obis.c, obis.d, obis.e) == (24, 4, 0)
}

/// Byte positions of the digits before `*` in the last value of a line.
fn decimal_digits(bytes: &[u8]) -> Vec<usize> {
    let Some(open) = bytes.iter().rposition(|&b| b == b'(') else {
        return Vec::new();
    };
    let Some(star) = bytes[open..].iter().position(|&b| b == b'*') else {
        return Vec::new();
    };
    (open + 1..open + star)
        .filter(|&i| bytes[i].is_ascii_digit())
        .collect()
}

fn has_letter(hex: &str) -> bool {
    hex.bytes().any(|b| b.is_ascii_alphabetic())
}

fn show_byte(b: u8) -> String {
    match b {
        0x20..=0x7E => format!("'{}'", char::from(b)),
        _ => format!("0x{b:02X}"),
    }
}

/// The layers a telegram's faults apply in, in this order whatever the order of the
/// scenario file: each works on what the previous one produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Content quirks: the readout itself.
    Content,
    /// Line faults: the printed lines.
    Lines,
    /// CRC and framing: the CRC, its form and the line ends.
    Framing,
    /// Byte cuts: head, tail, run-together.
    Cuts,
    /// The wire: noise, split writes, silence.
    Wire,
}

/// A fault kind's layer and its place within the layer (kinds of one layer apply in this
/// order, then in file order).
fn place(kind: &FaultKind) -> (Layer, u8) {
    match kind {
        FaultKind::InvalidTimestamp { .. } => (Layer::Content, 0),
        FaultKind::FactoryClock => (Layer::Content, 1),
        FaultKind::ClockShift { .. } => (Layer::Content, 2),
        FaultKind::FullHistory => (Layer::Content, 3),
        FaultKind::StaleHistoryHead => (Layer::Content, 4),
        FaultKind::AllMbusChannels => (Layer::Content, 5),
        FaultKind::StaleGasChannel { .. } => (Layer::Content, 6),
        FaultKind::UnitlessReading { .. } => (Layer::Content, 7),
        FaultKind::LongMessage { .. } => (Layer::Content, 8),
        FaultKind::Oversize { .. } => (Layer::Content, 9),
        FaultKind::DropLine { .. } => (Layer::Lines, 0),
        FaultKind::DuplicateLine { .. } => (Layer::Lines, 1),
        FaultKind::ReorderLines { .. } => (Layer::Lines, 2),
        FaultKind::UnknownLine { .. } => (Layer::Lines, 3),
        FaultKind::BitFlip { .. } => (Layer::Lines, 4),
        FaultKind::StraySlash { .. } => (Layer::Lines, 5),
        FaultKind::NoBlankLine => (Layer::Lines, 6),
        FaultKind::WrongCrc { .. } => (Layer::Framing, 0),
        FaultKind::LowerCaseCrc { .. } => (Layer::Framing, 1),
        FaultKind::UnpaddedCrc { .. } => (Layer::Framing, 2),
        FaultKind::MissingCrc { .. } => (Layer::Framing, 3),
        FaultKind::LfOnly => (Layer::Framing, 4),
        FaultKind::TruncateHead { .. } => (Layer::Cuts, 0),
        FaultKind::TruncateTail { .. } => (Layer::Cuts, 1),
        FaultKind::RunTogether { .. } => (Layer::Cuts, 2),
        FaultKind::Noise { .. } => (Layer::Wire, 0),
        FaultKind::Split { .. } => (Layer::Wire, 1),
        FaultKind::Silence => (Layer::Wire, 2),
    }
}

fn layer(kind: &FaultKind) -> Layer {
    place(kind).0
}

/// Records that fault `i` (of `kind`) changed the telegram.
fn note(applied: &mut Vec<Applied>, i: usize, kind: &FaultKind, detail: String) {
    applied.push(Applied {
        fault: kind.name().to_owned(),
        index: i,
        detail,
    });
}

/// What the layers learn about the emission as they go.
struct Damage {
    /// A strict consumer still accepts the telegram.
    valid: bool,
    /// What dsmr_parser's prediction needs to know.
    hints: Hints,
    /// Changes made, in order.
    applied: Vec<Applied>,
}

/// The two bodies under construction: what the CRC covers and what is sent.
struct Bodies {
    basis: Vec<Raw>,
    sent: Vec<Raw>,
}

impl Bodies {
    fn both(&mut self, f: impl Fn(&mut Vec<Raw>)) {
        f(&mut self.basis);
        f(&mut self.sent);
    }
}

impl FaultInjector {
    /// An injector for `specs` (in scenario-file order), drawing from `seed`. The one
    /// place faults are checked: each fault's parameters, then its schedule.
    pub fn new(specs: Vec<FaultSpec>, seed: u64) -> Result<FaultInjector, FaultError> {
        for (index, s) in specs.iter().enumerate() {
            let checks = [
                (FaultPart::Fault, s.fault.validate()),
                (FaultPart::Schedule, s.schedule.validate()),
            ];
            for (part, check) in checks {
                if let Err(message) = check {
                    return Err(FaultError {
                        index,
                        kind: s.fault.name(),
                        part,
                        message,
                    });
                }
            }
        }
        Ok(FaultInjector {
            fired: vec![false; specs.len()],
            specs,
            seed,
        })
    }

    /// Draws from `seed` from now on (validity does not depend on the seed).
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// The faults, in scenario-file order.
    pub fn specs(&self) -> &[FaultSpec] {
        &self.specs
    }

    fn rng(&self, stream: u64, index: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(STREAM_BASE + stream);
        rng.set_word_pos(u128::from(index) << 24);
        rng
    }

    fn fires(&mut self, i: usize, index: u64, at_ms: i64) -> bool {
        match self.specs[i].schedule {
            Schedule::AtIndex(n) => index == n,
            Schedule::AtMs(t) => {
                let hit = !self.fired[i] && at_ms >= t;
                self.fired[i] |= hit;
                hit
            }
            Schedule::Window { from_ms, until_ms } => (from_ms..until_ms).contains(&at_ms),
            Schedule::Every { n, offset } => n > 0 && index % n == offset,
            Schedule::Probability(p) => {
                (0.0..=1.0).contains(&p) && self.rng(2 * i as u64, index).random_bool(p)
            }
        }
    }

    /// The emission for telegram number `index` (0-based), sent at `at_ms` (milliseconds
    /// since the epoch), whose meter-side content is `readout`: the faults that fire,
    /// layer by layer (content, lines, CRC and framing, byte cuts, the wire).
    pub fn apply(&mut self, index: u64, at_ms: i64, readout: &Readout) -> Emission {
        self.apply_with(index, at_ms, readout, None)
    }

    /// [`FaultInjector::apply`] for a readout whose telegram the caller has already
    /// encoded (`meant`, the bytes of `readout.write_to`): a telegram no fault hits is
    /// sent as those bytes, not encoded a second time.
    pub fn apply_encoded(
        &mut self,
        index: u64,
        at_ms: i64,
        readout: &Readout,
        meant: &[u8],
    ) -> Emission {
        self.apply_with(index, at_ms, readout, Some(meant))
    }

    fn apply_with(
        &mut self,
        index: u64,
        at_ms: i64,
        readout: &Readout,
        meant: Option<&[u8]>,
    ) -> Emission {
        let order: Vec<usize> = (0..self.specs.len())
            .filter(|&i| self.fires(i, index, at_ms))
            .collect();
        if order.is_empty() {
            // What the layers below print when none of them has work: the meter's own
            // telegram (a test checks the two agree).
            let bytes = meant.map_or_else(|| readout.to_bytes(), <[u8]>::to_vec);
            return Emission {
                verdict: Verdict {
                    spec_valid: true,
                    dsmr_parser: dsmr::parse(&bytes, Hints::default()),
                    dsmr_reader: dsmr::read(&bytes, Hints::default()),
                },
                bytes,
                pieces: Vec::new(),
                applied: Vec::new(),
                readout: readout.clone(),
            };
        }
        self.layers(order, index, readout)
    }

    /// Every layer, for the faults of `order` (in firing order; sorted here).
    fn layers(&self, mut order: Vec<usize>, index: u64, readout: &Readout) -> Emission {
        order.sort_by_key(|&i| (place(&self.specs[i].fault), i));
        let mut damage = Damage {
            valid: true,
            hints: Hints::default(),
            applied: Vec::new(),
        };
        if let Some(&i) = order
            .iter()
            .find(|&&i| self.specs[i].fault == FaultKind::Silence)
        {
            note(
                &mut damage.applied,
                i,
                &FaultKind::Silence,
                "nothing sent".into(),
            );
            return Emission {
                bytes: Vec::new(),
                pieces: Vec::new(),
                applied: damage.applied,
                readout: readout.clone(),
                verdict: Verdict {
                    spec_valid: false,
                    dsmr_parser: dsmr::parse(b"", Hints::default()),
                    dsmr_reader: dsmr::read(b"", Hints::default()),
                },
            };
        }
        let r = self.content(&order, readout, &mut damage);
        let lines = self.lines(&order, index, &r, &mut damage);
        let mut bytes = self.framing(&order, lines, &mut damage);
        let pieces = self.cuts_and_wire(&order, index, &mut bytes, &mut damage);
        let verdict = Verdict {
            spec_valid: damage.valid && !bytes.is_empty(),
            dsmr_parser: dsmr::parse(&bytes, damage.hints),
            dsmr_reader: dsmr::read(&bytes, damage.hints),
        };
        Emission {
            bytes,
            pieces,
            applied: damage.applied,
            readout: r,
            verdict,
        }
    }

    /// [`Layer::Content`]: the readout after content quirks.
    fn content(&self, order: &[usize], readout: &Readout, damage: &mut Damage) -> Readout {
        let mut r = readout.clone();
        for &i in order {
            let kind = &self.specs[i].fault;
            if layer(kind) == Layer::Content
                && let Some(d) = content::apply(kind, &mut r)
            {
                note(&mut damage.applied, i, kind, d);
            }
        }
        r
    }

    /// [`Layer::Lines`]: the lines of `r`'s telegram after line faults (the CRC basis and
    /// the lines sent).
    fn lines(&self, order: &[usize], index: u64, r: &Readout, damage: &mut Damage) -> Bodies {
        let lines = raw_lines(&r.to_telegram());
        let mut b = Bodies {
            basis: lines.clone(),
            sent: lines,
        };
        for &i in order {
            let kind = &self.specs[i].fault;
            if layer(kind) != Layer::Lines {
                continue;
            }
            let mut rng = self.rng(2 * i as u64 + 1, index);
            if let Some(d) =
                line_fault(kind, &mut b, &mut rng, &mut damage.valid, &mut damage.hints)
            {
                note(&mut damage.applied, i, kind, d);
            }
        }
        b
    }

    /// [`Layer::Framing`]: the telegram's bytes with its CRC, as the CRC and framing
    /// faults print them.
    fn framing(&self, order: &[usize], mut b: Bodies, damage: &mut Damage) -> Vec<u8> {
        let mut f = Framing::default();
        for &i in order {
            match &self.specs[i].fault {
                FaultKind::WrongCrc { xor: x } => f.xor ^= x,
                FaultKind::LowerCaseCrc { force } => f.lower = Some((i, *force)),
                FaultKind::UnpaddedCrc { force } => f.unpadded = Some((i, *force)),
                FaultKind::MissingCrc { trailer } => f.missing = Some((i, *trailer)),
                FaultKind::LfOnly => f.lf = true,
                _ => {}
            }
        }
        let eol: &[u8] = if f.lf { b"\n" } else { b"\r\n" };
        let crc = salt_crc(&mut b, eol, |crc| f.wants(crc));
        let printed = crc ^ f.xor;
        let sent_body = body(&b.sent, eol);
        let actual = crc16(&sent_body);
        let mut bytes = sent_body;
        match f.missing {
            Some((i, trailer)) => {
                note(
                    &mut damage.applied,
                    i,
                    &self.specs[i].fault,
                    match trailer {
                        MissingCrc::Crlf => "no CRC: '!' then the line end".into(),
                        MissingCrc::Nothing => "no CRC: nothing after '!'".into(),
                    },
                );
                if trailer == MissingCrc::Crlf {
                    bytes.extend_from_slice(eol);
                }
                damage.valid = false;
            }
            None => {
                let hex = self.printed_crc(order, &f, printed, actual, damage);
                damage.valid &= hex == format!("{actual:04X}");
                bytes.extend_from_slice(hex.as_bytes());
                bytes.extend_from_slice(eol);
            }
        }
        if f.lf {
            damage.valid = false;
            for &i in order {
                if self.specs[i].fault == FaultKind::LfOnly {
                    note(
                        &mut damage.applied,
                        i,
                        &self.specs[i].fault,
                        format!("every line ends in LF only; CRC {crc:04X} over those bytes"),
                    );
                }
            }
        }
        bytes
    }

    /// The CRC as printed: `printed` (the basis CRC, xor-ed by wrong-CRC faults) in the
    /// form the unpadded and lower-case faults give it; `actual` is what the sent bytes
    /// give.
    fn printed_crc(
        &self,
        order: &[usize],
        f: &Framing,
        printed: u16,
        actual: u16,
        damage: &mut Damage,
    ) -> String {
        let mut hex = format!("{printed:04X}");
        for &i in order {
            if let FaultKind::WrongCrc { xor: x } = self.specs[i].fault {
                note(
                    &mut damage.applied,
                    i,
                    &self.specs[i].fault,
                    format!("CRC printed {printed:04X} (xor {x:04X}), bytes give {actual:04X}"),
                );
            }
        }
        if let Some((i, _)) = f.unpadded
            && printed < 0x1000
        {
            hex = format!("{printed:X}");
            note(
                &mut damage.applied,
                i,
                &self.specs[i].fault,
                format!("CRC printed '!{hex}'"),
            );
        }
        if let Some((i, _)) = f.lower
            && has_letter(&hex)
        {
            hex.make_ascii_lowercase();
            note(
                &mut damage.applied,
                i,
                &self.specs[i].fault,
                format!("CRC printed '!{hex}'"),
            );
        }
        hex
    }

    /// [`Layer::Cuts`] then [`Layer::Wire`] on the framed `bytes`; returns the split
    /// writes (empty: one write).
    fn cuts_and_wire(
        &self,
        order: &[usize],
        index: u64,
        bytes: &mut Vec<u8>,
        damage: &mut Damage,
    ) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for &i in order {
            let kind = &self.specs[i].fault;
            if layer(kind) < Layer::Cuts {
                continue;
            }
            let mut rng = self.rng(2 * i as u64 + 1, index);
            let detail = match kind {
                FaultKind::Split {
                    pieces: n,
                    pause_ms,
                } => split(bytes.len(), *n, *pause_ms, &mut rng, &mut pieces),
                _ => cut_or_noise(kind, bytes, &mut rng, &mut damage.valid),
            };
            if let Some(d) = detail {
                note(&mut damage.applied, i, kind, d);
            }
        }
        // A split computed before a later cut or noise must still cover the bytes.
        if pieces.iter().map(|p| p.len).sum::<usize>() != bytes.len() {
            pieces.clear();
        }
        pieces
    }
}

/// The CRC and framing faults that fire on one telegram.
#[derive(Debug, Default)]
struct Framing {
    /// Wrong-CRC masks, xor-ed together.
    xor: u16,
    /// A lower-case CRC fault (index, force).
    lower: Option<(usize, bool)>,
    /// An unpadded CRC fault (index, force).
    unpadded: Option<(usize, bool)>,
    /// A missing CRC fault (index, what follows `!`).
    missing: Option<(usize, MissingCrc)>,
    /// LF-only line ends.
    lf: bool,
}

impl Framing {
    /// Whether the basis CRC `crc` has the shape forced faults ask for (a letter to lower,
    /// a leading zero to drop).
    fn wants(&self, crc: u16) -> bool {
        let hex = format!("{:04X}", crc ^ self.xor);
        self.lower
            .is_none_or(|(_, force)| !force || has_letter(&hex))
            && self
                .unpadded
                .is_none_or(|(_, force)| !force || crc ^ self.xor < 0x1000)
    }
}

/// The CRC of the basis lines; when it lacks the shape `want` asks for, a salt line (an
/// unknown object every parser skips) is added to both bodies, varied until it has.
fn salt_crc(b: &mut Bodies, eol: &[u8], want: impl Fn(u16) -> bool) -> u16 {
    let crc = crc16(&body(&b.basis, eol));
    if want(crc) {
        return crc;
    }
    let at = b.basis.len();
    for n in 0..65_536u32 {
        let salt = Raw {
            bytes: format!("{SALT}({n:05})").into_bytes(),
            obis: Some(SALT),
            inserted: true,
            blank: false,
        };
        let mut basis = b.basis.clone();
        basis.insert(at, salt.clone());
        let c = crc16(&body(&basis, eol));
        if want(c) {
            b.basis = basis;
            b.sent.insert(at.min(b.sent.len()), salt);
            return c;
        }
    }
    crc
}

/// A byte cut or noise fault on `bytes`; what it did, or `None` when there is nothing to
/// cut.
fn cut_or_noise(
    kind: &FaultKind,
    bytes: &mut Vec<u8>,
    rng: &mut ChaCha8Rng,
    valid: &mut bool,
) -> Option<String> {
    let len = bytes.len();
    Some(match kind {
        FaultKind::TruncateHead { skip } => {
            if len < 2 && skip.is_none() {
                return None;
            }
            let n = skip.unwrap_or_else(|| rng.random_range(1..len)).min(len);
            bytes.drain(..n);
            *valid = false;
            format!("first {n} bytes lost")
        }
        FaultKind::TruncateTail { keep } => {
            let n = match keep {
                Some(k) if *k >= len => return None,
                Some(k) => *k,
                None if len < 2 => return None,
                None => rng.random_range(1..len),
            };
            bytes.truncate(n);
            *valid = false;
            format!("only the first {n} of {len} bytes sent")
        }
        FaultKind::RunTogether { keep } => {
            let bang = bytes.iter().position(|&c| c == b'!').unwrap_or(len);
            if bang < 2 {
                return None;
            }
            let n = keep
                .unwrap_or_else(|| rng.random_range(1..bang))
                .min(bang - 1);
            let mut out = bytes[..n].to_vec();
            out.extend_from_slice(bytes);
            *bytes = out;
            *valid = false;
            format!("first {n} bytes, then the whole telegram")
        }
        FaultKind::Noise {
            len: n,
            pattern,
            allow_slash,
        } => {
            let noise: Vec<u8> = (0..*n)
                .map(|_| match pattern {
                    NoisePattern::Zeros => 0x00,
                    NoisePattern::Ones => 0xFF,
                    NoisePattern::Random => loop {
                        let c: u8 = rng.random();
                        if *allow_slash || c != b'/' {
                            break c;
                        }
                    },
                })
                .collect();
            *valid &= !noise.contains(&b'/');
            let mut out = noise;
            out.extend_from_slice(bytes);
            *bytes = out;
            format!("{n} noise bytes before the telegram")
        }
        _ => return None,
    })
}

/// Split writes of `len` bytes into `n` pieces `pause_ms` apart, cut at seeded places
/// (replacing `pieces`); `None` when there is nothing to split.
fn split(
    len: usize,
    n: usize,
    pause_ms: u32,
    rng: &mut ChaCha8Rng,
    pieces: &mut Vec<Piece>,
) -> Option<String> {
    if len < 2 {
        return None;
    }
    let n = n.min(len);
    let mut cuts: Vec<usize> = Vec::with_capacity(n);
    while cuts.len() + 1 < n {
        let c = rng.random_range(1..len);
        if !cuts.contains(&c) {
            cuts.push(c);
        }
    }
    cuts.sort_unstable();
    cuts.push(len);
    pieces.clear();
    let mut prev = 0;
    for (k, &c) in cuts.iter().enumerate() {
        pieces.push(Piece {
            len: c - prev,
            pause_after_ms: if k + 1 < cuts.len() { pause_ms } else { 0 },
        });
        prev = c;
    }
    Some(format!(
        "{n} writes, {pause_ms} ms apart, cut at {:?}",
        &cuts[..n - 1]
    ))
}

/// Applies one line fault; returns what it did, or `None` when it found nothing to act on.
// Long: one arm per line fault kind, each a few lines over the same two bodies; split
// per kind it would pass the same five arguments to seven functions.
fn line_fault(
    kind: &FaultKind,
    b: &mut Bodies,
    rng: &mut ChaCha8Rng,
    valid: &mut bool,
    hints: &mut Hints,
) -> Option<String> {
    let data: Vec<usize> = (0..b.sent.len())
        .filter(|&k| b.sent[k].obis.is_some())
        .collect();
    let names: Vec<String> = b
        .sent
        .iter()
        .map(|l| l.obis.map_or_else(String::new, |o| o.to_string()))
        .collect();
    let name = |k: usize| names[k].clone();
    let lookup = |o: Obis| names.iter().position(|n| *n == o.to_string());
    let target = |rng: &mut ChaCha8Rng, obis: &Option<Obis>, among: &[usize]| match obis {
        Some(o) => lookup(*o).filter(|k| among.contains(k)),
        None => (!among.is_empty()).then(|| among[rng.random_range(0..among.len())]),
    };
    match kind {
        FaultKind::DropLine { obis } => {
            let k = target(rng, obis, &data)?;
            let o = name(k);
            let line = b.sent[k].clone();
            b.both(|v| {
                v.remove(k);
            });
            *valid &= line.inserted || line.obis.is_some_and(is_valve);
            Some(format!("line {} ({o}) dropped", k + 1))
        }
        FaultKind::DuplicateLine { obis } => {
            let k = target(rng, obis, &data)?;
            b.both(|v| {
                let copy = v[k].clone();
                v.insert(k + 1, copy);
            });
            *valid = false;
            Some(format!(
                "line {} ({}) printed again as line {}",
                k + 1,
                name(k),
                k + 2
            ))
        }
        FaultKind::ReorderLines { first, second } => {
            let x = target(rng, first, &data)?;
            let rest: Vec<usize> = data.iter().copied().filter(|&k| k != x).collect();
            let y = target(rng, second, &rest)?;
            let (nx, ny) = (name(x), name(y));
            b.both(|v| v.swap(x, y));
            Some(format!(
                "lines {} ({nx}) and {} ({ny}) swapped",
                x + 1,
                y + 1
            ))
        }
        FaultKind::UnknownLine {
            obis,
            values,
            after,
        } => {
            let at = after
                .and_then(|a| find(&b.sent, a))
                .map_or(b.sent.len(), |k| k + 1);
            let raw = Raw {
                bytes: line_bytes(&Line {
                    obis: *obis,
                    values: values.clone(),
                }),
                obis: Some(*obis),
                inserted: true,
                blank: false,
            };
            *valid &= find(&b.sent, *obis).is_none();
            let text = String::from_utf8_lossy(&raw.bytes).into_owned();
            b.both(|v| v.insert(at.min(v.len()), raw.clone()));
            Some(format!("unknown line {} inserted: {text}", at + 1))
        }
        FaultKind::BitFlip { obis, crc } => {
            let among: Vec<usize> = data
                .iter()
                .copied()
                .filter(|&k| !b.sent[k].inserted && !decimal_digits(&b.sent[k].bytes).is_empty())
                .collect();
            let k = target(rng, obis, &among)?;
            let digits = decimal_digits(&b.sent[k].bytes);
            let at = digits[rng.random_range(0..digits.len())];
            let before = b.sent[k].bytes[at];
            let flip = |v: &mut Vec<Raw>| v[k].bytes[at] ^= 0x40;
            match crc {
                CrcMode::Stale => flip(&mut b.sent),
                CrcMode::Recomputed => {
                    b.both(flip);
                    hints.letter_in_decimal = true;
                }
            }
            *valid = false;
            Some(format!(
                "line {} ({}) column {}: {} became {} (CRC {})",
                k + 1,
                name(k),
                at + 1,
                show_byte(before),
                show_byte(before ^ 0x40),
                match crc {
                    CrcMode::Stale => "over the original byte",
                    CrcMode::Recomputed => "over the flipped byte",
                }
            ))
        }
        FaultKind::StraySlash { obis, crc } => {
            let k = target(rng, obis, &data)?;
            let ins = |v: &mut Vec<Raw>| v[k].bytes.insert(0, b'/');
            match crc {
                CrcMode::Stale => ins(&mut b.sent),
                CrcMode::Recomputed => b.both(ins),
            }
            *valid = false;
            Some(format!("'/' at the start of line {} ({})", k + 1, name(k)))
        }
        FaultKind::NoBlankLine => {
            let k = b.sent.iter().position(|l| l.blank)?;
            b.both(|v| {
                v.remove(k);
            });
            *valid = false;
            Some("no empty line after the identification".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The shortcut for a telegram no fault hits sends what the full layer walk
        /// would, with or without the caller's bytes.
        #[test]
        fn a_telegram_no_fault_hits_is_sent_as_the_layers_would(
            r in p1_wire::strategies::readout(),
            index in 0u64..1000,
        ) {
            let spec = FaultSpec {
                fault: FaultKind::WrongCrc { xor: 1 },
                schedule: Schedule::AtIndex(u64::MAX),
            };
            let mut inj = FaultInjector::new(vec![spec], 7).expect("valid fault");
            let walked = inj.layers(Vec::new(), index, &r);
            prop_assert_eq!(&walked.bytes, &r.to_bytes());
            prop_assert_eq!(&inj.apply(index, 0, &r), &walked);
            prop_assert_eq!(&inj.apply_encoded(index, 0, &r, &r.to_bytes()), &walked);
        }
    }
}
