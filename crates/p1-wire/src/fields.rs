//! The object table: every known object's exact format per e-MUCS version (spec §3.2),
//! and the typed reading of a [`Telegram`] into a [`Readout`].
//!
//! Lines may come in any order; unknown objects are left to the generic layer. A known
//! object with the wrong width, decimals or unit, a repeated object, or a missing one is
//! an error naming the object and what it should look like.

use crate::format::{self, Fixed};
use crate::obis::codes;
use crate::{
    Breaker, Demand, HistoryEntry, MbusCapture, MbusReadout, Model, Obis, Peak, PhaseReadout,
    Readout, Telegram, Tst, Version,
};

/// Where a typed-reading error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The identification line.
    Header,
    /// Data line number n (0-based).
    Line(usize),
    /// Nowhere in particular (a missing object): the end of the telegram.
    End,
}

/// A typed-reading error; [`crate::decode`] turns it into a positioned `DecodeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) obis: Option<Obis>,
    pub(crate) place: Place,
    pub(crate) expected: String,
    pub(crate) found: String,
}

type Res<T> = Result<T, FieldError>;

fn quoted(values: &[String]) -> String {
    let mut s = String::new();
    for v in values {
        s.push('(');
        s.push_str(v);
        s.push(')');
    }
    format!("{s:?}")
}

/// Decodes upper-case hex octets (`None` for odd length, lower case or non-hex).
pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            (p[0].is_ascii_digit() || p[0].is_ascii_uppercase()).then_some(())?;
            (p[1].is_ascii_digit() || p[1].is_ascii_uppercase()).then_some(())?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// A line being read: its index and values, with error constructors.
struct Obj<'a> {
    idx: usize,
    obis: Obis,
    values: &'a [String],
}

impl Obj<'_> {
    fn fail(&self, expected: impl Into<String>) -> FieldError {
        FieldError {
            obis: Some(self.obis),
            place: Place::Line(self.idx),
            expected: expected.into(),
            found: quoted(self.values),
        }
    }

    fn count(&self, n: usize, what: &str) -> Res<()> {
        if self.values.len() == n {
            Ok(())
        } else {
            Err(self.fail(what.to_owned()))
        }
    }

    fn fixed_at(&self, i: usize, fmt: Fixed) -> Res<u64> {
        fmt.parse(&self.values[i])
            .ok_or_else(|| self.fail(fmt.describe()))
    }

    fn fixed(&self, fmt: Fixed) -> Res<u64> {
        self.count(1, &fmt.describe())?;
        self.fixed_at(0, fmt)
    }

    fn tst_at(&self, i: usize) -> Res<Tst> {
        Tst::parse(self.values[i].as_bytes())
            .ok_or_else(|| self.fail("a timestamp YYMMDDhhmmssS|W"))
    }

    fn hex(&self, max_chars: usize) -> Res<Vec<u8>> {
        let desc = format!("upper-case hex octets, at most {max_chars} characters");
        self.count(1, &desc)?;
        if self.values[0].len() > max_chars {
            return Err(self.fail(desc));
        }
        hex_decode(&self.values[0]).ok_or_else(|| self.fail(desc))
    }

    fn ascii_id(&self) -> Res<String> {
        let bytes = self.hex(96)?;
        String::from_utf8(bytes)
            .ok()
            .filter(|s| s.chars().all(|c| c.is_ascii_graphic() || c == ' '))
            .ok_or_else(|| self.fail("hex of a printable ASCII equipment id"))
    }

    fn breaker(&self) -> Res<Breaker> {
        let v = self.fixed(format::STATE)?;
        Breaker::from_code(v as u8).ok_or_else(|| self.fail("0, 1 or 2"))
    }
}

#[derive(Default)]
struct Mbus {
    first_line: usize,
    device_type: Option<u16>,
    id: Option<String>,
    valve: Option<Breaker>,
    capture: Option<MbusCapture>,
}

/// Reads the typed content of `t`.
pub(crate) fn readout(t: &Telegram) -> Res<Readout> {
    let whole = |expected: String, found: String| FieldError {
        obis: None,
        place: Place::End,
        expected,
        found,
    };
    let model = Model::from_identification(&t.identification).ok_or_else(|| FieldError {
        place: Place::Header,
        ..whole(
            format!(
                "identification {:?} (S211) or {:?} (T211)",
                Model::S211.identification(),
                Model::T211.identification()
            ),
            format!("{:?}", t.identification),
        )
    })?;
    let n_phases = model.phases();

    // The version decides formats, so read it first.
    let (vidx, vline) = t
        .lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.obis == codes::VERSION)
        .ok_or_else(|| whole("object 0-0:96.1.4 (version)".into(), "none".into()))?;
    let vobj = Obj {
        idx: vidx,
        obis: vline.obis,
        values: &vline.values,
    };
    let code = vobj.fixed(format::VERSION)?;
    let version = Version::from_code(code as u32)
        .ok_or_else(|| vobj.fail("a known e-MUCS version 50213..50217"))?;

    let mut seen: Vec<Obis> = Vec::new();
    let mut equipment_id = None;
    let mut time = None;
    let mut registers: [Option<u64>; 4] = [None; 4];
    let mut tariff = None;
    let mut demand_now = None;
    let mut peak = None;
    let mut history = None;
    let mut totals: [Option<u32>; 2] = [None; 2];
    let mut ph_import: [Option<u32>; 3] = [None; 3];
    let mut ph_export: [Option<u32>; 3] = [None; 3];
    let mut voltage: [Option<u32>; 3] = [None; 3];
    let mut current: [Option<u32>; 3] = [None; 3];
    let mut breaker = None;
    let mut limiter = None;
    let mut fuse = None;
    let mut message = None;
    let mut mbus: Vec<(u8, Mbus)> = Vec::new();

    let kw = |o: &Obj| o.fixed(format::POWER).map(|v| v as u32);

    for (idx, line) in t.lines.iter().enumerate() {
        let o = Obj {
            idx,
            obis: line.obis,
            values: &line.values,
        };
        let obis = line.obis;
        let mbus_channel = (obis.a == 0 && (1..=4).contains(&obis.b)).then_some(obis.b);
        if seen.contains(&obis) {
            // Data line `k` (0-based) is line k + 3 of the telegram, after the
            // identification and the empty line.
            let first = t.lines[..idx].iter().position(|l| l.obis == obis);
            return Err(FieldError {
                found: format!("it again (first on line {})", first.map_or(0, |k| k + 3)),
                ..o.fail("each object once")
            });
        }
        let phase_of = |table: &[Obis; 3]| table.iter().position(|&c| c == obis);
        let not_in_version =
            |o: &Obj| o.fail(format!("no such object in version {}", version.code()));
        match obis {
            _ if obis == codes::VERSION => {}
            _ if obis == codes::EQUIPMENT_ID => equipment_id = Some(o.ascii_id()?),
            _ if obis == codes::TIME => {
                o.count(1, "one timestamp")?;
                time = Some(o.tst_at(0)?);
            }
            _ if [
                codes::IMPORT_T1,
                codes::IMPORT_T2,
                codes::EXPORT_T1,
                codes::EXPORT_T2,
            ]
            .contains(&obis) =>
            {
                let i = usize::from(obis.c == 2) * 2 + usize::from(obis.e == 2);
                registers[i] = Some(o.fixed(format::ENERGY)?);
            }
            _ if obis == codes::TARIFF => {
                let v = o.fixed(format::TARIFF)?;
                if !(1..=2).contains(&v) {
                    return Err(o.fail("0001 (day) or 0002 (night)"));
                }
                tariff = Some(v as u8);
            }
            _ if obis == codes::DEMAND => {
                if !version.has_demand() {
                    return Err(not_in_version(&o));
                }
                demand_now = Some(kw(&o)?);
            }
            _ if obis == codes::PEAK => {
                if !version.has_demand() {
                    return Err(not_in_version(&o));
                }
                o.count(2, "(timestamp)(00.000*kW)")?;
                let at = o.tst_at(0)?;
                let w = o.fixed_at(1, format::POWER)? as u32;
                peak = Some(Peak { at, w });
            }
            _ if obis == codes::HISTORY => {
                if !version.has_demand() {
                    return Err(not_in_version(&o));
                }
                history = Some(read_history(&o)?);
            }
            _ if obis == codes::IMPORT_POWER => totals[0] = Some(kw(&o)?),
            _ if obis == codes::EXPORT_POWER => totals[1] = Some(kw(&o)?),
            _ if phase_of(&codes::PHASE_IMPORT).is_some_and(|p| p < n_phases) => {
                if !version.has_phase_power() {
                    return Err(not_in_version(&o));
                }
                ph_import[phase_of(&codes::PHASE_IMPORT).unwrap_or(0)] = Some(kw(&o)?);
            }
            _ if phase_of(&codes::PHASE_EXPORT).is_some_and(|p| p < n_phases) => {
                if !version.has_phase_power() {
                    return Err(not_in_version(&o));
                }
                ph_export[phase_of(&codes::PHASE_EXPORT).unwrap_or(0)] = Some(kw(&o)?);
            }
            _ if phase_of(&codes::VOLTAGE).is_some_and(|p| p < n_phases) => {
                voltage[phase_of(&codes::VOLTAGE).unwrap_or(0)] =
                    Some(o.fixed(format::VOLTAGE)? as u32);
            }
            _ if phase_of(&codes::CURRENT).is_some_and(|p| p < n_phases) => {
                let fmt = format::current(version);
                let ca = o.fixed(fmt)? * 10u64.pow(2 - fmt.dec as u32);
                current[phase_of(&codes::CURRENT).unwrap_or(0)] = Some(ca as u32);
            }
            _ if obis == codes::BREAKER => breaker = Some(o.breaker()?),
            _ if obis == codes::LIMITER => limiter = Some(o.fixed(format::LIMITER)? as u32),
            _ if obis == codes::FUSE => fuse = Some(o.fixed(format::FUSE)? as u32),
            _ if obis == codes::MESSAGE => message = Some(o.hex(2048)?),
            _ if mbus_channel.is_some() => {
                let ch = obis.b;
                let generic = obis.on_channel(0);
                let slot = match mbus.iter().position(|(c, _)| *c == ch) {
                    Some(i) => i,
                    None => {
                        mbus.push((
                            ch,
                            Mbus {
                                first_line: idx,
                                ..Mbus::default()
                            },
                        ));
                        mbus.len() - 1
                    }
                };
                let m = &mut mbus[slot].1;
                if generic == codes::MBUS_TYPE {
                    m.device_type = Some(o.fixed(format::DEVICE_TYPE)? as u16);
                } else if generic == codes::EQUIPMENT_ID {
                    m.id = Some(o.ascii_id()?);
                } else if generic == codes::MBUS_VALVE {
                    m.valve = Some(o.breaker()?);
                } else if generic == codes::MBUS_GAS || generic == codes::MBUS_WATER {
                    m.capture = Some(read_capture(&o)?);
                } else {
                    // Other objects on an M-Bus channel stay in the generic layer.
                    seen.push(obis);
                    continue;
                }
            }
            _ => {
                // Unknown object: kept by the generic layer only.
                seen.push(obis);
                continue;
            }
        }
        seen.push(obis);
    }

    let missing = |obis: Obis| FieldError {
        obis: Some(obis),
        place: Place::End,
        expected: format!(
            "object {obis}, which version {} always prints",
            version.code()
        ),
        found: "none".into(),
    };
    let need = |v: Option<u32>, obis: Obis| v.ok_or_else(|| missing(obis));

    let demand = if version.has_demand() {
        Some(Demand {
            current_w: demand_now.ok_or_else(|| missing(codes::DEMAND))?,
            peak: peak.ok_or_else(|| missing(codes::PEAK))?,
            history: history.ok_or_else(|| missing(codes::HISTORY))?,
        })
    } else {
        None
    };
    let mut phases = Vec::with_capacity(n_phases);
    for i in 0..n_phases {
        let (import_w, export_w) = if version.has_phase_power() {
            (
                need(ph_import[i], codes::PHASE_IMPORT[i])?,
                need(ph_export[i], codes::PHASE_EXPORT[i])?,
            )
        } else {
            (0, 0)
        };
        phases.push(PhaseReadout {
            import_w,
            export_w,
            voltage_dv: need(voltage[i], codes::VOLTAGE[i])?,
            current_ca: need(current[i], codes::CURRENT[i])?,
        });
    }
    let mut channels = Vec::with_capacity(mbus.len());
    for (ch, m) in mbus {
        let at_block = |what: &str| FieldError {
            obis: Some(codes::MBUS_TYPE.on_channel(ch)),
            place: Place::Line(m.first_line),
            expected: format!("M-Bus channel {ch} block with {what}"),
            found: "none".into(),
        };
        let device_type = m
            .device_type
            .ok_or_else(|| at_block("0-n:24.1.0 device type"))?;
        if device_type == MbusReadout::WATER && !version.has_water() {
            return Err(FieldError {
                obis: Some(codes::MBUS_TYPE.on_channel(ch)),
                place: Place::Line(m.first_line),
                expected: format!("no water meter in version {}", version.code()),
                found: "(007)".into(),
            });
        }
        channels.push(MbusReadout {
            channel: ch,
            device_type,
            equipment_id: m.id.ok_or_else(|| at_block("0-n:96.1.1 equipment id"))?,
            valve: m.valve,
            capture: m.capture.ok_or_else(|| at_block("a 24.2.x reading"))?,
        });
    }

    Ok(Readout {
        model,
        version,
        equipment_id: equipment_id.ok_or_else(|| missing(codes::EQUIPMENT_ID))?,
        time: time.ok_or_else(|| missing(codes::TIME))?,
        import_wh: [
            registers[0].ok_or_else(|| missing(codes::IMPORT_T1))?,
            registers[1].ok_or_else(|| missing(codes::IMPORT_T2))?,
        ],
        export_wh: [
            registers[2].ok_or_else(|| missing(codes::EXPORT_T1))?,
            registers[3].ok_or_else(|| missing(codes::EXPORT_T2))?,
        ],
        tariff: tariff.ok_or_else(|| missing(codes::TARIFF))?,
        demand,
        import_w: need(totals[0], codes::IMPORT_POWER)?,
        export_w: need(totals[1], codes::EXPORT_POWER)?,
        phases,
        breaker: breaker.ok_or_else(|| missing(codes::BREAKER))?,
        limiter_hw: need(limiter, codes::LIMITER)?,
        fuse_a: need(fuse, codes::FUSE)?,
        message: message.ok_or_else(|| missing(codes::MESSAGE))?,
        mbus: channels,
    })
}

fn read_history(o: &Obj) -> Res<Vec<HistoryEntry>> {
    let shape =
        "(n)(1-0:1.6.0)(1-0:1.6.0) then n x (period)(peak time)(00.000*kW), or () when n is 0";
    if o.values.len() < 3 {
        return Err(o.fail(shape));
    }
    let n: usize = (o.values[0].len() <= 2 && o.values[0].bytes().all(|b| b.is_ascii_digit()))
        .then(|| o.values[0].parse().ok())
        .flatten()
        .filter(|n| *n <= 13)
        .ok_or_else(|| o.fail("an entry count 0..13 without padding"))?;
    let peak = codes::PEAK.to_string();
    if o.values[1] != peak || o.values[2] != peak {
        return Err(o.fail(shape));
    }
    let rest = &o.values[3..];
    if n == 0 {
        return if rest.len() == 1 && rest[0].is_empty() {
            Ok(Vec::new())
        } else {
            Err(o.fail("(0)(1-0:1.6.0)(1-0:1.6.0)() for an empty history"))
        };
    }
    if rest.len() != 3 * n {
        return Err(o.fail(format!("{n} entries of three values, as the count says")));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let base = 3 + 3 * i;
        out.push(HistoryEntry {
            period: o.tst_at(base)?,
            at: o.tst_at(base + 1)?,
            w: o.fixed_at(base + 2, format::POWER)? as u32,
        });
    }
    Ok(out)
}

fn read_capture(o: &Obj) -> Res<MbusCapture> {
    o.count(2, "(timestamp)(00000.000*m3)")?;
    let at = o.tst_at(0)?;
    if at == Tst::INVALID && format::VOLUME_SILENT.parse(&o.values[1]) == Some(0) {
        return Ok(MbusCapture::Silent);
    }
    let dm3 = o.fixed_at(1, format::VOLUME)?;
    Ok(MbusCapture::Reading { at, dm3 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_upper_case() {
        assert_eq!(hex_decode("31534147"), Some(b"1SAG".to_vec()));
        assert_eq!(hex_decode("3153414"), None);
        assert_eq!(hex_decode("315341a7"), None);
    }
}
