//! A replay as a load: the exports' quarters and hours within the run, turned into
//! power and gas-flow pulses one local day at a time (so a year's replay never holds
//! more than a day of seconds), each quarter shaped by [`super::shape`].

use std::ops::Range;

use p1_meter::SimTime;

use super::shape::{self, Shape};
use super::{ElectricityExport, GasExport};
use crate::loads::{Contribution, Pulse};

/// The exports of one `[[loads.replay]]` and where they go.
#[derive(Debug)]
pub(crate) struct ReplayLoad {
    pub electricity: Option<ElectricityExport>,
    pub gas: Option<GasExport>,
    /// Phase (1-based) of the electricity.
    pub phase: usize,
    /// M-Bus channel (1-based) of the gas.
    pub gas_channel: usize,
    pub shape: Shape,
    /// The run: nothing is replayed outside it.
    pub window: Range<SimTime>,
}

impl ReplayLoad {
    /// The pulses within `day` (and the run), drawing shapes from the load's generator
    /// (`seed`, `stream`).
    pub(crate) fn pulses(
        &self,
        day: Range<SimTime>,
        seed: [u8; 32],
        stream: u64,
        out: &mut Vec<Pulse>,
    ) {
        let lo = day.start.max(self.window.start);
        let hi = day.end.min(self.window.end);
        if lo >= hi {
            return;
        }
        if let Some(export) = &self.electricity {
            for q in export.overlapping(lo, hi) {
                let mut at = q.start;
                for run in shape::quarter(
                    self.shape,
                    seed,
                    stream,
                    q.start,
                    q.offtake_wh,
                    q.injection_wh,
                ) {
                    let end = at.plus_ms(i64::from(run.secs) * 1000);
                    if run.watts != 0 {
                        out.push(Pulse {
                            start: at,
                            end: end.min(self.window.end),
                            value: Contribution::power(run.watts, &[self.phase]),
                        });
                    }
                    at = end;
                }
            }
        }
        if let Some(export) = &self.gas {
            for h in export.overlapping(lo, hi) {
                if h.dm3 > 0 {
                    out.push(Pulse {
                        start: h.start,
                        end: h.start.plus_ms(3_600_000).min(self.window.end),
                        value: Contribution::flow(h.dm3 * 1000, self.gas_channel),
                    });
                }
            }
        }
    }
}
