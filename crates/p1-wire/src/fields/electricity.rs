//! The electricity meter's own objects: equipment id and clock, energy registers and
//! tariff, total and per-phase powers, voltages and currents, breaker, thresholds and
//! the text message. It also assembles the [`Readout`].

use super::{FieldError, Obj, Res, mbus};
use crate::format;
use crate::obis::codes;
use crate::{Breaker, Demand, Model, Obis, PhaseReadout, Readout, Tst, Version};

/// What the lines read so far say about these objects.
pub(super) struct Reading {
    model: Model,
    version: Version,
    equipment_id: Option<String>,
    time: Option<Tst>,
    registers: [Option<u64>; 4],
    tariff: Option<u8>,
    totals: [Option<u32>; 2],
    ph_import: [Option<u32>; 3],
    ph_export: [Option<u32>; 3],
    voltage: [Option<u32>; 3],
    current: [Option<u32>; 3],
    breaker: Option<Breaker>,
    limiter: Option<u32>,
    fuse: Option<u32>,
    message: Option<Vec<u8>>,
}

impl Reading {
    pub(super) fn new(model: Model, version: Version) -> Reading {
        Reading {
            model,
            version,
            equipment_id: None,
            time: None,
            registers: [None; 4],
            tariff: None,
            totals: [None; 2],
            ph_import: [None; 3],
            ph_export: [None; 3],
            voltage: [None; 3],
            current: [None; 3],
            breaker: None,
            limiter: None,
            fuse: None,
            message: None,
        }
    }

    /// Reads `o` if it is one of these objects; `Ok(false)` if it is not.
    pub(super) fn read(&mut self, o: &Obj) -> Res<bool> {
        let obis = o.obis;
        let kw = |o: &Obj| o.fixed(format::POWER).map(|v| v as u32);
        let n_phases = self.model.phases();
        let phase_of = |table: &[Obis; 3]| table.iter().position(|&c| c == obis);
        let phase = |table: &[Obis; 3]| phase_of(table).filter(|&p| p < n_phases);
        let not_in_version =
            |o: &Obj| o.fail(format!("no such object in version {}", self.version.code()));
        if obis == codes::EQUIPMENT_ID {
            self.equipment_id = Some(o.ascii_id()?);
        } else if obis == codes::TIME {
            o.count(1, || "one timestamp".into())?;
            self.time = Some(o.tst_at(0)?);
        } else if obis.a == 1
            && obis.b == 0
            && (obis.c == 1 || obis.c == 2)
            && obis.d == 8
            && (obis.e == 1 || obis.e == 2)
        {
            let i = usize::from(obis.c == 2) * 2 + usize::from(obis.e == 2);
            self.registers[i] = Some(o.fixed(format::ENERGY)?);
        } else if obis == codes::TARIFF {
            let v = o.fixed(format::TARIFF)?;
            if !(1..=2).contains(&v) {
                return Err(o.fail("0001 (day) or 0002 (night)"));
            }
            self.tariff = Some(v as u8);
        } else if obis == codes::IMPORT_POWER {
            self.totals[0] = Some(kw(o)?);
        } else if obis == codes::EXPORT_POWER {
            self.totals[1] = Some(kw(o)?);
        } else if let Some(p) = phase(&codes::PHASE_IMPORT) {
            if !self.version.has_phase_power() {
                return Err(not_in_version(o));
            }
            self.ph_import[p] = Some(kw(o)?);
        } else if let Some(p) = phase(&codes::PHASE_EXPORT) {
            if !self.version.has_phase_power() {
                return Err(not_in_version(o));
            }
            self.ph_export[p] = Some(kw(o)?);
        } else if let Some(p) = phase(&codes::VOLTAGE) {
            self.voltage[p] = Some(o.fixed(format::VOLTAGE)? as u32);
        } else if let Some(p) = phase(&codes::CURRENT) {
            let fmt = format::current(self.version);
            let ca = o.fixed(fmt)? * 10u64.pow(2 - fmt.dec as u32);
            self.current[p] = Some(ca as u32);
        } else if obis == codes::BREAKER {
            self.breaker = Some(o.breaker()?);
        } else if obis == codes::LIMITER {
            self.limiter = Some(o.fixed(format::LIMITER)? as u32);
        } else if obis == codes::FUSE {
            self.fuse = Some(o.fixed(format::FUSE)? as u32);
        } else if obis == codes::MESSAGE {
            self.message = Some(o.hex(super::MAX_MESSAGE_HEX)?);
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// The readout, once every line is read; a missing object is an error, reported in
    /// a fixed order (demand, phases, M-Bus blocks, then the meter's other objects).
    pub(super) fn finish(
        self,
        missing: &dyn Fn(Obis) -> FieldError,
        demand: Option<Demand>,
        channels: mbus::Reading,
    ) -> Res<Readout> {
        let need = |v: Option<u32>, obis: Obis| v.ok_or_else(|| missing(obis));
        let version = self.version;
        let n_phases = self.model.phases();
        let mut phases = Vec::with_capacity(n_phases);
        for i in 0..n_phases {
            let (import_w, export_w) = if version.has_phase_power() {
                (
                    need(self.ph_import[i], codes::PHASE_IMPORT[i])?,
                    need(self.ph_export[i], codes::PHASE_EXPORT[i])?,
                )
            } else {
                (0, 0)
            };
            phases.push(PhaseReadout {
                import_w,
                export_w,
                voltage_dv: need(self.voltage[i], codes::VOLTAGE[i])?,
                current_ca: need(self.current[i], codes::CURRENT[i])?,
            });
        }
        let mbus = channels.finish(version)?;
        let reg = |i: usize, obis: Obis| self.registers[i].ok_or_else(|| missing(obis));
        Ok(Readout {
            model: self.model,
            version,
            equipment_id: self
                .equipment_id
                .ok_or_else(|| missing(codes::EQUIPMENT_ID))?,
            time: self.time.ok_or_else(|| missing(codes::TIME))?,
            import_wh: [reg(0, codes::IMPORT_T1)?, reg(1, codes::IMPORT_T2)?],
            export_wh: [reg(2, codes::EXPORT_T1)?, reg(3, codes::EXPORT_T2)?],
            tariff: self.tariff.ok_or_else(|| missing(codes::TARIFF))?,
            demand,
            import_w: need(self.totals[0], codes::IMPORT_POWER)?,
            export_w: need(self.totals[1], codes::EXPORT_POWER)?,
            phases,
            breaker: self.breaker.ok_or_else(|| missing(codes::BREAKER))?,
            limiter_hw: need(self.limiter, codes::LIMITER)?,
            fuse_a: need(self.fuse, codes::FUSE)?,
            message: self.message.ok_or_else(|| missing(codes::MESSAGE))?,
            mbus,
        })
    }
}
