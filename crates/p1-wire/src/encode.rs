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
pub(crate) fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
}

/// Where the encoder puts what it prints: straight into telegram bytes ([`Bytes`], the
/// per-telegram path, no allocation), into the generic [`Line`] list ([`Lines`]), or over
/// the previous telegram ([`crate::encoder`]). One line order, [`Readout::emit`], serves
/// all, so the views cannot disagree.
pub(crate) trait Sink {
    /// Starts the line of `obis`.
    fn begin(&mut self, obis: Code);
    /// Adds one `(value)`; `write` appends the text inside the parentheses.
    fn value(&mut self, write: impl FnOnce(&mut Vec<u8>));
    /// Ends the line.
    fn end(&mut self);

    /// Adds one fixed-point `(value)`: what `fmt` prints for `raw`.
    #[inline]
    fn value_fixed(&mut self, fmt: Fixed, raw: u64) {
        self.value(|out| fmt.write(out, raw));
    }

    /// Adds one timestamp `(value)`.
    #[inline]
    fn value_tst(&mut self, t: Tst) {
        self.value(|out| t.write_to(out));
    }

    /// Adds one octet string `(value)`, printed as upper-case hex.
    #[inline]
    fn value_hex(&mut self, bytes: &[u8]) {
        self.value(|out| write_hex(out, bytes));
    }

    /// A line with one fixed-point value.
    #[inline(always)]
    fn fixed(&mut self, obis: Code, fmt: Fixed, raw: u64) {
        self.begin(obis);
        self.value_fixed(fmt, raw);
        self.end();
    }

    /// A line with one timestamp.
    #[inline(always)]
    fn tst(&mut self, obis: Code, t: Tst) {
        self.begin(obis);
        self.value_tst(t);
        self.end();
    }
}

/// An object with its printed form.
#[derive(Clone, Copy)]
pub(crate) struct Code {
    pub(crate) obis: Obis,
    pub(crate) text: ObisText,
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

/// The codes of one M-Bus channel's lines.
#[derive(Clone, Copy)]
struct MbusCodes {
    device_type: Code,
    equipment_id: Code,
    valve: Code,
    gas: Code,
    water: Code,
}

impl MbusCodes {
    const fn of(ch: u8) -> MbusCodes {
        MbusCodes {
            device_type: Code::new(codes::MBUS_TYPE.on_channel(ch)),
            equipment_id: Code::new(codes::EQUIPMENT_ID.on_channel(ch)),
            valve: Code::new(codes::MBUS_VALVE.on_channel(ch)),
            gas: Code::new(codes::MBUS_GAS.on_channel(ch)),
            water: Code::new(codes::MBUS_WATER.on_channel(ch)),
        }
    }

    /// The codes of channel `ch`: the real channels 1 to 4 from a table built at compile
    /// time, any other (only a decoded foreign telegram has one) computed.
    fn channel(ch: u8) -> MbusCodes {
        const TABLE: [MbusCodes; 5] = [
            MbusCodes::of(0),
            MbusCodes::of(1),
            MbusCodes::of(2),
            MbusCodes::of(3),
            MbusCodes::of(4),
        ];
        TABLE
            .get(usize::from(ch))
            .copied()
            .unwrap_or_else(|| MbusCodes::of(ch))
    }
}

fn mbus_lines(m: &MbusReadout, s: &mut impl Sink) {
    let mbus = MbusCodes::channel(m.channel);
    s.fixed(
        mbus.device_type,
        format::DEVICE_TYPE,
        u64::from(m.device_type),
    );
    s.begin(mbus.equipment_id);
    s.value_hex(m.equipment_id.as_bytes());
    s.end();
    if let Some(valve) = m.valve {
        s.fixed(mbus.valve, format::STATE, u64::from(valve.code()));
    }
    // The one rule of which object carries the reading is `reading_obis`.
    s.begin(if reading_obis(m.device_type) == codes::MBUS_GAS {
        mbus.gas
    } else {
        mbus.water
    });
    match m.capture {
        MbusCapture::Reading { at, dm3 } => {
            s.value_tst(at);
            s.value_fixed(format::VOLUME, dm3);
        }
        MbusCapture::Silent => {
            s.value_tst(Tst::INVALID);
            s.value_fixed(format::VOLUME_SILENT, 0);
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
    pub(crate) fn emit(&self, s: &mut impl Sink) {
        let kw = |w: u32| u64::from(w);
        s.fixed(
            printed::VERSION,
            format::VERSION,
            u64::from(self.version.code()),
        );
        s.begin(printed::EQUIPMENT_ID);
        s.value_hex(self.equipment_id.as_bytes());
        s.end();
        s.tst(printed::TIME, self.time);
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
            s.fixed(printed::DEMAND, format::POWER, kw(demand.current_w));
            s.begin(printed::PEAK);
            s.value_tst(demand.peak.at);
            s.value_fixed(format::POWER, kw(demand.peak.w));
            s.end();
            s.begin(printed::HISTORY);
            s.value(|out| format::write_decimal(out, demand.history.len() as u64));
            s.value(|out| codes::PEAK.write_to(out));
            s.value(|out| codes::PEAK.write_to(out));
            if demand.history.is_empty() {
                s.value(|_| {});
            }
            for e in &demand.history {
                s.value_tst(e.period);
                s.value_tst(e.at);
                s.value_fixed(format::POWER, kw(e.w));
            }
            s.end();
        }
        s.fixed(printed::IMPORT_POWER, format::POWER, kw(self.import_w));
        s.fixed(printed::EXPORT_POWER, format::POWER, kw(self.export_w));
        // Exactly the model's phases: missing ones print as zero, extra ones not at all.
        let n = self.model.phases();
        let phase = |i: usize| self.phases.get(i).copied().unwrap_or_default();
        if self.version.has_phase_power() {
            for i in 0..n {
                s.fixed(
                    printed::PHASE_IMPORT[i],
                    format::POWER,
                    kw(phase(i).import_w),
                );
            }
            for i in 0..n {
                s.fixed(
                    printed::PHASE_EXPORT[i],
                    format::POWER,
                    kw(phase(i).export_w),
                );
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
        s.begin(printed::MESSAGE);
        s.value_hex(message);
        s.end();
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
