//! Encoding a typed [`Readout`] into the lines a Fluvius meter prints, in the order real
//! meters emit them (spec §3.1), with every object's exact width, decimals and unit.
//!
//! Values that do not fit a field are handled as the hardware would: energy registers
//! roll over at 999999.999 kWh, every other field saturates at its largest printable
//! value (no real S211/T211 reaches those limits). [`Readout::wire_form`] says what any
//! readout becomes on the wire.

use crate::format;
use crate::obis::codes;
use crate::{Line, MbusCapture, MbusReadout, Obis, PhaseReadout, Readout, Telegram, Tst};

fn kw(w: u32) -> String {
    format::POWER.print(u64::from(w))
}

/// Upper-case hex of `bytes` (octet strings, DSMR 5.0.2 §6.5).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    s
}

fn mbus_lines(m: &MbusReadout, out: &mut Vec<Line>) {
    let ch = m.channel;
    out.push(Line::single(
        codes::MBUS_TYPE.on_channel(ch),
        format::DEVICE_TYPE.print(u64::from(m.device_type)),
    ));
    out.push(Line::single(
        codes::EQUIPMENT_ID.on_channel(ch),
        hex(m.equipment_id.as_bytes()),
    ));
    if let Some(valve) = m.valve {
        out.push(Line::single(
            codes::MBUS_VALVE.on_channel(ch),
            valve.code().to_string(),
        ));
    }
    let obis = reading_obis(m.device_type).on_channel(ch);
    let values = match m.capture {
        MbusCapture::Reading { at, dm3 } => {
            vec![at.to_string(), format::VOLUME.print(dm3)]
        }
        MbusCapture::Silent => vec![Tst::INVALID.to_string(), format::VOLUME_SILENT.print(0)],
    };
    out.push(Line { obis, values });
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
    /// The lines of this readout in the order real meters print them.
    pub fn to_telegram(&self) -> Telegram {
        let mut lines = Vec::with_capacity(40);
        let single = |obis: Obis, v: String| Line::single(obis, v);
        lines.push(single(codes::VERSION, self.version.code().to_string()));
        lines.push(single(
            codes::EQUIPMENT_ID,
            hex(self.equipment_id.as_bytes()),
        ));
        lines.push(single(codes::TIME, self.time.to_string()));
        lines.push(single(
            codes::IMPORT_T1,
            format::ENERGY.print(self.import_wh[0] % 1_000_000_000),
        ));
        lines.push(single(
            codes::IMPORT_T2,
            format::ENERGY.print(self.import_wh[1] % 1_000_000_000),
        ));
        lines.push(single(
            codes::EXPORT_T1,
            format::ENERGY.print(self.export_wh[0] % 1_000_000_000),
        ));
        lines.push(single(
            codes::EXPORT_T2,
            format::ENERGY.print(self.export_wh[1] % 1_000_000_000),
        ));
        lines.push(single(
            codes::TARIFF,
            format::TARIFF.print(u64::from(self.tariff)),
        ));
        if let Some(demand) = self.demand.as_ref().filter(|_| self.version.has_demand()) {
            lines.push(single(codes::DEMAND, kw(demand.current_w)));
            lines.push(Line {
                obis: codes::PEAK,
                values: vec![demand.peak.at.to_string(), kw(demand.peak.w)],
            });
            let mut values = vec![
                demand.history.len().to_string(),
                codes::PEAK.to_string(),
                codes::PEAK.to_string(),
            ];
            if demand.history.is_empty() {
                values.push(String::new());
            }
            for e in &demand.history {
                values.push(e.period.to_string());
                values.push(e.at.to_string());
                values.push(kw(e.w));
            }
            lines.push(Line {
                obis: codes::HISTORY,
                values,
            });
        }
        lines.push(single(codes::IMPORT_POWER, kw(self.import_w)));
        lines.push(single(codes::EXPORT_POWER, kw(self.export_w)));
        // Exactly the model's phases: missing ones print as zero, extra ones not at all.
        let phases: Vec<PhaseReadout> = (0..self.model.phases())
            .map(|i| self.phases.get(i).copied().unwrap_or_default())
            .collect();
        if self.version.has_phase_power() {
            for (i, p) in phases.iter().enumerate() {
                lines.push(single(codes::PHASE_IMPORT[i], kw(p.import_w)));
            }
            for (i, p) in phases.iter().enumerate() {
                lines.push(single(codes::PHASE_EXPORT[i], kw(p.export_w)));
            }
        }
        for (i, p) in phases.iter().enumerate() {
            lines.push(single(
                codes::VOLTAGE[i],
                format::VOLTAGE.print(u64::from(p.voltage_dv)),
            ));
        }
        for (i, p) in phases.iter().enumerate() {
            // 50213 prints whole amperes, truncated.
            let fmt = format::current(self.version);
            let raw = u64::from(p.current_ca) / 10u64.pow(2 - fmt.dec as u32);
            lines.push(single(codes::CURRENT[i], fmt.print(raw)));
        }
        lines.push(single(codes::BREAKER, self.breaker.code().to_string()));
        lines.push(single(
            codes::LIMITER,
            format::LIMITER.print(u64::from(self.limiter_hw)),
        ));
        lines.push(single(
            codes::FUSE,
            format::FUSE.print(u64::from(self.fuse_a)),
        ));
        let message = &self.message[..self.message.len().min(Readout::MAX_MESSAGE_BYTES)];
        lines.push(single(codes::MESSAGE, hex(message)));
        for m in &self.mbus {
            mbus_lines(m, &mut lines);
        }
        Telegram {
            identification: self.model.identification().to_owned(),
            lines,
        }
    }

    /// The exact bytes of this readout's telegram, CRC and final CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_telegram().to_bytes()
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
}
