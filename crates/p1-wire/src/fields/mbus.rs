//! M-Bus channel blocks `0-n:24.1.0`, `0-n:96.1.1`, `0-n:24.4.0` and the reading
//! `0-n:24.2.x`, for channels 1 to 4, in the order the channels first appear.

use super::{FieldError, Obj, Place, Res};
use crate::format;
use crate::obis::codes;
use crate::{Breaker, MbusCapture, MbusReadout, Tst, Version};

#[derive(Default)]
struct Block {
    first_line: usize,
    device_type: Option<u16>,
    id: Option<String>,
    valve: Option<Breaker>,
    capture: Option<MbusCapture>,
}

/// The channel blocks seen so far.
#[derive(Default)]
pub(super) struct Reading {
    blocks: Vec<(u8, Block)>,
}

impl Reading {
    /// Reads `o` if it is a known M-Bus object; `Ok(false)` otherwise. Any object on a
    /// channel 1 to 4 opens that channel's block, which must then be complete.
    pub(super) fn read(&mut self, o: &Obj) -> Res<bool> {
        let obis = o.obis;
        if !(obis.a == 0 && (1..=4).contains(&obis.b)) {
            return Ok(false);
        }
        let ch = obis.b;
        let slot = match self.blocks.iter().position(|(c, _)| *c == ch) {
            Some(i) => i,
            None => {
                self.blocks.push((
                    ch,
                    Block {
                        first_line: o.idx,
                        ..Block::default()
                    },
                ));
                self.blocks.len() - 1
            }
        };
        let m = &mut self.blocks[slot].1;
        let generic = obis.on_channel(0);
        if generic == codes::MBUS_TYPE {
            m.device_type = Some(o.fixed(format::DEVICE_TYPE)? as u16);
        } else if generic == codes::EQUIPMENT_ID {
            m.id = Some(o.ascii_id()?);
        } else if generic == codes::MBUS_VALVE {
            m.valve = Some(o.breaker()?);
        } else if generic == codes::MBUS_GAS || generic == codes::MBUS_WATER {
            m.capture = Some(read_capture(o)?);
        } else {
            // Other objects on an M-Bus channel stay in the generic layer.
            return Ok(false);
        }
        Ok(true)
    }

    /// The channels in the order they first appeared; each block must be complete.
    pub(super) fn finish(self, version: Version) -> Res<Vec<MbusReadout>> {
        let mut channels = Vec::with_capacity(self.blocks.len());
        for (ch, m) in self.blocks {
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
        Ok(channels)
    }
}

fn read_capture(o: &Obj) -> Res<MbusCapture> {
    o.count(2, || "(timestamp)(00000.000*m3)".into())?;
    let at = o.tst_at(0)?;
    if at == Tst::INVALID && format::VOLUME_SILENT.parse(o.values[1]) == Some(0) {
        return Ok(MbusCapture::Silent);
    }
    let dm3 = o.fixed_at(1, format::VOLUME)?;
    Ok(MbusCapture::Reading { at, dm3 })
}
