//! Encoding a typed [`Readout`] into the lines a Fluvius meter prints, in the order real
//! meters emit them (spec §3.1), with every object's exact width, decimals and unit.
//!
//! Values that do not fit a field are handled as the hardware would: energy registers
//! roll over at 999999.999 kWh, every other field saturates at its largest printable
//! value (no real S211/T211 reaches those limits).

use crate::obis::codes;
use crate::{Line, MbusCapture, MbusReadout, Obis, Readout, Telegram, Tst};

/// Prints `raw` (in units of 10^-`dec`) as a zero-padded fixed-point number with `int`
/// integer digits and `dec` decimals, saturating at the largest printable value.
pub(crate) fn fixed(raw: u64, int: usize, dec: usize) -> String {
    let width = int + dec;
    let max = 10u64.saturating_pow(width as u32) - 1;
    let digits = format!("{:0width$}", raw.min(max));
    if dec == 0 {
        digits
    } else {
        let (i, d) = digits.split_at(int);
        format!("{i}.{d}")
    }
}

fn with_unit(number: String, unit: &str) -> String {
    format!("{number}*{unit}")
}

fn kw(w: u32) -> String {
    with_unit(fixed(u64::from(w), 2, 3), "kW")
}

fn kwh(wh: u64) -> String {
    with_unit(fixed(wh % 1_000_000_000, 6, 3), "kWh")
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
        fixed(u64::from(m.device_type), 3, 0),
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
            vec![at.to_string(), with_unit(fixed(dm3, 5, 3), "m3")]
        }
        MbusCapture::Silent => vec![Tst::INVALID.to_string(), fixed(0, 5, 3)],
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
        lines.push(single(codes::IMPORT_T1, kwh(self.import_wh[0])));
        lines.push(single(codes::IMPORT_T2, kwh(self.import_wh[1])));
        lines.push(single(codes::EXPORT_T1, kwh(self.export_wh[0])));
        lines.push(single(codes::EXPORT_T2, kwh(self.export_wh[1])));
        lines.push(single(codes::TARIFF, fixed(u64::from(self.tariff), 4, 0)));
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
        let phases = &self.phases[..self.phases.len().min(3)];
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
                with_unit(fixed(u64::from(p.voltage_dv), 3, 1), "V"),
            ));
        }
        for (i, p) in phases.iter().enumerate() {
            let current = if self.version.integer_currents() {
                fixed(u64::from(p.current_ca / 100), 3, 0)
            } else {
                fixed(u64::from(p.current_ca), 3, 2)
            };
            lines.push(single(codes::CURRENT[i], with_unit(current, "A")));
        }
        lines.push(single(codes::BREAKER, self.breaker.code().to_string()));
        lines.push(single(
            codes::LIMITER,
            with_unit(fixed(u64::from(self.limiter_hw), 3, 1), "kW"),
        ));
        lines.push(single(
            codes::FUSE,
            with_unit(fixed(u64::from(self.fuse_a), 3, 0), "A"),
        ));
        lines.push(single(codes::MESSAGE, hex(&self.message)));
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
    fn fixed_widths() {
        assert_eq!(fixed(3_457_591, 6, 3), "003457.591");
        assert_eq!(fixed(524, 2, 3), "00.524");
        assert_eq!(fixed(2316, 3, 1), "231.6");
        assert_eq!(fixed(2, 3, 0), "002");
        assert_eq!(fixed(100_000, 2, 3), "99.999");
        assert_eq!(kwh(1_000_000_001), "000000.001*kWh");
        assert_eq!(hex(b"1SAG3101021605"), "3153414733313031303231363035");
    }
}
