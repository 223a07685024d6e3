//! Encoding a typed [`Readout`] into the lines a Fluvius meter prints, in the order real
//! meters emit them (spec §3.1), with every object's exact width, decimals and unit.
//!
//! Values that do not fit a field are handled as the hardware would: energy registers
//! roll over at 999999.999 kWh, every other field saturates at its largest printable
//! value (no real S211/T211 reaches those limits). [`Readout::wire_form`] says what any
//! readout becomes on the wire.

use crate::format::{self, Fixed};
use crate::obis::{ObisText, codes};
use crate::telegram::{crc16, push_crc};
use crate::{Line, MbusCapture, MbusReadout, Obis, PhaseReadout, Readout, Telegram, Tst};

/// Upper-case hex of `bytes` (octet strings, DSMR 5.0.2 §6.5).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    write_hex(&mut out, bytes);
    // Hex digits only.
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends the upper-case hex of `bytes`.
#[inline]
fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
}

/// Where the encoder puts what it prints: straight into telegram bytes ([`Bytes`], the
/// per-telegram path, no allocation) or into the generic [`Line`] list ([`Lines`]). One
/// line order, [`Readout::emit`], serves both, so the two views cannot disagree.
trait Sink {
    /// Starts the line of `obis`.
    fn begin(&mut self, obis: Code);
    /// Adds one `(value)`; `write` appends the text inside the parentheses.
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>));
    /// Ends the line.
    fn end(&mut self);

    /// A line with one value.
    fn single(&mut self, obis: Code, write: impl FnOnce(&mut Vec<u8>)) {
        self.begin(obis);
        self.value(write);
        self.end();
    }

    /// A line with one fixed-point value.
    fn fixed(&mut self, obis: Code, fmt: Fixed, raw: u64) {
        self.single(obis, |out| fmt.write(out, raw));
    }
}

/// An object with its printed form.
#[derive(Clone, Copy)]
struct Code {
    obis: Obis,
    text: ObisText,
}

impl Code {
    const fn new(obis: Obis) -> Code {
        Code {
            obis,
            text: ObisText::of(obis),
        }
    }

    /// Codes of a table of per-phase objects.
    const fn phases(table: [Obis; 3]) -> [Code; 3] {
        [
            Code::new(table[0]),
            Code::new(table[1]),
            Code::new(table[2]),
        ]
    }
}

/// The codes the encoder prints, with their text computed at compile time.
mod printed {
    use super::Code;
    use crate::obis::codes;

    pub(super) const VERSION: Code = Code::new(codes::VERSION);
    pub(super) const EQUIPMENT_ID: Code = Code::new(codes::EQUIPMENT_ID);
    pub(super) const TIME: Code = Code::new(codes::TIME);
    pub(super) const IMPORT_T1: Code = Code::new(codes::IMPORT_T1);
    pub(super) const IMPORT_T2: Code = Code::new(codes::IMPORT_T2);
    pub(super) const EXPORT_T1: Code = Code::new(codes::EXPORT_T1);
    pub(super) const EXPORT_T2: Code = Code::new(codes::EXPORT_T2);
    pub(super) const TARIFF: Code = Code::new(codes::TARIFF);
    pub(super) const DEMAND: Code = Code::new(codes::DEMAND);
    pub(super) const PEAK: Code = Code::new(codes::PEAK);
    pub(super) const HISTORY: Code = Code::new(codes::HISTORY);
    pub(super) const IMPORT_POWER: Code = Code::new(codes::IMPORT_POWER);
    pub(super) const EXPORT_POWER: Code = Code::new(codes::EXPORT_POWER);
    pub(super) const PHASE_IMPORT: [Code; 3] = Code::phases(codes::PHASE_IMPORT);
    pub(super) const PHASE_EXPORT: [Code; 3] = Code::phases(codes::PHASE_EXPORT);
    pub(super) const VOLTAGE: [Code; 3] = Code::phases(codes::VOLTAGE);
    pub(super) const CURRENT: [Code; 3] = Code::phases(codes::CURRENT);
    pub(super) const BREAKER: Code = Code::new(codes::BREAKER);
    pub(super) const LIMITER: Code = Code::new(codes::LIMITER);
    pub(super) const FUSE: Code = Code::new(codes::FUSE);
    pub(super) const MESSAGE: Code = Code::new(codes::MESSAGE);
}

/// Writes lines as telegram bytes.
struct Bytes<'a>(&'a mut Vec<u8>);

impl Sink for Bytes<'_> {
    #[inline]
    fn begin(&mut self, code: Code) {
        self.0.extend_from_slice(code.text.as_bytes());
    }
    #[inline]
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.0.push(b'(');
        write(self.0);
        self.0.push(b')');
    }
    #[inline]
    fn end(&mut self) {
        self.0.extend_from_slice(b"\r\n");
    }
}

/// Collects lines as [`Line`]s.
#[derive(Default)]
struct Lines {
    lines: Vec<Line>,
    scratch: Vec<u8>,
}

impl Sink for Lines {
    fn begin(&mut self, code: Code) {
        self.lines.push(Line {
            obis: code.obis,
            values: Vec::new(),
        });
    }
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.scratch.clear();
        write(&mut self.scratch);
        // The encoder prints ASCII only.
        let text = String::from_utf8_lossy(&self.scratch).into_owned();
        if let Some(line) = self.lines.last_mut() {
            line.values.push(text);
        }
    }
    fn end(&mut self) {}
}

fn mbus_lines(m: &MbusReadout, s: &mut impl Sink) {
    let ch = m.channel;
    s.fixed(
        Code::new(codes::MBUS_TYPE.on_channel(ch)),
        format::DEVICE_TYPE,
        u64::from(m.device_type),
    );
    s.single(Code::new(codes::EQUIPMENT_ID.on_channel(ch)), |out| {
        write_hex(out, m.equipment_id.as_bytes());
    });
    if let Some(valve) = m.valve {
        s.fixed(
            Code::new(codes::MBUS_VALVE.on_channel(ch)),
            format::STATE,
            u64::from(valve.code()),
        );
    }
    s.begin(Code::new(reading_obis(m.device_type).on_channel(ch)));
    match m.capture {
        MbusCapture::Reading { at, dm3 } => {
            s.value(|out| at.write_to(out));
            s.value(|out| format::VOLUME.write(out, dm3));
        }
        MbusCapture::Silent => {
            s.value(|out| Tst::INVALID.write_to(out));
            s.value(|out| format::VOLUME_SILENT.write(out, 0));
        }
    }
    s.end();
}

/// The reading object of an M-Bus device type: `24.2.3` (not temperature-corrected)
/// for gas, `24.2.1` for water and anything else.
pub fn reading_obis(device_type: u16) -> Obis {
    if device_type == MbusReadout::GAS {
        codes::MBUS_GAS
    } else {
        codes::MBUS_WATER
    }
}

impl Readout {
    /// Prints every line of this readout, in the order real meters print them.
    fn emit(&self, s: &mut impl Sink) {
        let kw = |w: u32| move |out: &mut Vec<u8>| format::POWER.write(out, u64::from(w));
        s.fixed(
            printed::VERSION,
            format::VERSION,
            u64::from(self.version.code()),
        );
        s.single(printed::EQUIPMENT_ID, |out| {
            write_hex(out, self.equipment_id.as_bytes());
        });
        s.single(printed::TIME, |out| self.time.write_to(out));
        let registers = [
            (printed::IMPORT_T1, self.import_wh[0]),
            (printed::IMPORT_T2, self.import_wh[1]),
            (printed::EXPORT_T1, self.export_wh[0]),
            (printed::EXPORT_T2, self.export_wh[1]),
        ];
        for (obis, wh) in registers {
            s.fixed(obis, format::ENERGY, wh % 1_000_000_000);
        }
        s.fixed(printed::TARIFF, format::TARIFF, u64::from(self.tariff));
        if let Some(demand) = self.demand.as_ref().filter(|_| self.version.has_demand()) {
            s.single(printed::DEMAND, kw(demand.current_w));
            s.begin(printed::PEAK);
            s.value(|out| demand.peak.at.write_to(out));
            s.value(kw(demand.peak.w));
            s.end();
            s.begin(printed::HISTORY);
            s.value(|out| format::write_decimal(out, demand.history.len() as u64));
            s.value(|out| codes::PEAK.write_to(out));
            s.value(|out| codes::PEAK.write_to(out));
            if demand.history.is_empty() {
                s.value(|_| {});
            }
            for e in &demand.history {
                s.value(|out| e.period.write_to(out));
                s.value(|out| e.at.write_to(out));
                s.value(kw(e.w));
            }
            s.end();
        }
        s.single(printed::IMPORT_POWER, kw(self.import_w));
        s.single(printed::EXPORT_POWER, kw(self.export_w));
        // Exactly the model's phases: missing ones print as zero, extra ones not at all.
        let n = self.model.phases();
        let phase = |i: usize| self.phases.get(i).copied().unwrap_or_default();
        if self.version.has_phase_power() {
            for i in 0..n {
                s.single(printed::PHASE_IMPORT[i], kw(phase(i).import_w));
            }
            for i in 0..n {
                s.single(printed::PHASE_EXPORT[i], kw(phase(i).export_w));
            }
        }
        for i in 0..n {
            let PhaseReadout { voltage_dv, .. } = phase(i);
            s.fixed(printed::VOLTAGE[i], format::VOLTAGE, u64::from(voltage_dv));
        }
        // 50213 prints whole amperes, truncated.
        let current = format::current(self.version);
        for i in 0..n {
            let raw = u64::from(phase(i).current_ca) / 10u64.pow(2 - current.dec as u32);
            s.fixed(printed::CURRENT[i], current, raw);
        }
        s.fixed(
            printed::BREAKER,
            format::STATE,
            u64::from(self.breaker.code()),
        );
        s.fixed(
            printed::LIMITER,
            format::LIMITER,
            u64::from(self.limiter_hw),
        );
        s.fixed(printed::FUSE, format::FUSE, u64::from(self.fuse_a));
        let message = &self.message[..self.message.len().min(Readout::MAX_MESSAGE_BYTES)];
        s.single(printed::MESSAGE, |out| write_hex(out, message));
        for m in &self.mbus {
            mbus_lines(m, s);
        }
    }

    /// The lines of this readout in the order real meters print them.
    pub fn to_telegram(&self) -> Telegram {
        let mut lines = Lines {
            lines: Vec::with_capacity(40),
            scratch: Vec::new(),
        };
        self.emit(&mut lines);
        Telegram {
            identification: self.model.identification().to_owned(),
            lines: lines.lines,
        }
    }

    /// Appends the exact bytes of this readout's telegram, CRC and final CRLF included,
    /// in one pass and without allocating (beyond growing `out`): the per-telegram path.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        // Room for a typical telegram up front, so the writes below rarely grow `out`.
        out.reserve(2048);
        out.push(b'/');
        out.extend_from_slice(self.model.identification().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        self.emit(&mut Bytes(out));
        out.push(b'!');
        let crc = crc16(&out[start..]);
        push_crc(out, crc);
    }

    /// The exact bytes of this readout's telegram, CRC and final CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1536);
        self.write_to(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_rolls_over_and_ids_are_hex() {
        let r = |wh: u64| format::ENERGY.print(wh % 1_000_000_000);
        assert_eq!(r(1_000_000_001), "000000.001*kWh");
        assert_eq!(hex(b"1SAG3101021605"), "3153414733313031303231363035");
    }

    #[test]
    fn both_sinks_print_the_same_telegram() {
        let r = crate::decode_all(include_bytes!(
            "../tests/fixtures/fluvius-t211-arduinodsmrtest-1.txt"
        ))
        .remove(0)
        .map(|f| f.readout)
        .unwrap();
        assert_eq!(r.to_telegram().to_bytes(), r.to_bytes());
    }
}
