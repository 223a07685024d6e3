//! Quarter-hour demand (`1-0:1.4.0`), the running month's peak (`1-0:1.6.0`) and the
//! 13-month history (`0-0:98.1.0`), on the meter clock (spec §4).

use p1_wire::{HistoryEntry, Peak, Tst};
use serde::Serialize;

use crate::{EmptyPeak, PeakStamp};

/// Length of a demand period, ms.
pub(crate) const QUARTER_MS: i64 = 900_000;
/// Maximum number of `0-0:98.1.0` entries.
pub(crate) const HISTORY_LEN: usize = 13;
/// mJ of import in a quarter per W of demand: demand = E / 0.25 h, 1 Wh = 3 600 000 mJ.
const MJ_PER_DEMAND_W: u64 = 3_600_000 / 4;

/// Demand state, all instants on the meter clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemandState {
    /// Meter-clock start of the running quarter, ms since the epoch.
    pub quarter_start_meter_ms: i64,
    /// Net import since the running quarter started, mJ.
    pub quarter_import_mj: u64,
    /// `1-0:1.4.0` now, W.
    pub current_w: u32,
    /// Highest completed quarter of the running month, if one has completed.
    pub peak: Option<Peak>,
    /// Start of the running month, as printed (`YYMM01000000X`).
    pub month_start: Tst,
    /// Meter-clock instant of the next month start, ms since the epoch.
    pub next_month_meter_ms: i64,
    /// `0-0:98.1.0`, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Demand in W of `mj` imported within one quarter: floor(E_Wh x 4).
pub(crate) fn demand_w(mj: u64) -> u32 {
    u32::try_from(mj / MJ_PER_DEMAND_W).unwrap_or(u32::MAX)
}

/// Start of the quarter containing meter instant `m` (quarters are aligned to UTC quarter
/// hours, which are Belgian quarter hours because the offsets are whole hours).
pub(crate) fn quarter_start(m: i64) -> i64 {
    m.div_euclid(QUARTER_MS).saturating_mul(QUARTER_MS)
}

impl DemandState {
    /// `1-0:1.6.0` as printed, including the form chosen for a month without a peak yet.
    pub(crate) fn peak_readout(&self, empty: EmptyPeak) -> Peak {
        match (self.peak, empty) {
            (Some(p), _) => p,
            (None, EmptyPeak::Invalid) => Peak {
                at: Tst::INVALID,
                w: 0,
            },
            (None, EmptyPeak::MonthStart) => Peak {
                at: self.month_start,
                w: 0,
            },
        }
    }

    /// Ends the running quarter: its demand competes for the month's peak (the earliest of
    /// equal quarters keeps the peak), then a new quarter starts at `new_start`.
    pub(crate) fn close_quarter(&mut self, stamp_rule: PeakStamp, new_start: i64) {
        let w = demand_w(self.quarter_import_mj);
        let at_ms = match stamp_rule {
            PeakStamp::Start => self.quarter_start_meter_ms,
            PeakStamp::End => self.quarter_start_meter_ms.saturating_add(QUARTER_MS),
        };
        if self.peak.is_none_or(|p| w > p.w) {
            self.peak = Some(Peak {
                at: crate::SimTime(at_ms).tst(),
                w,
            });
        }
        self.quarter_start_meter_ms = new_start;
        self.quarter_import_mj = 0;
        self.current_w = 0;
    }

    /// Adds import energy to the running quarter.
    pub(crate) fn add_import(&mut self, mj: u64) {
        self.quarter_import_mj = self.quarter_import_mj.saturating_add(mj);
        self.current_w = demand_w(self.quarter_import_mj);
    }

    /// Closes the running month at `period` (the new month's first instant, as printed):
    /// pushes (period, peak stamp, peak) and restarts the peak.
    pub(crate) fn close_month(&mut self, period: Tst, keep_stale_head: bool) {
        let peak = self.peak.unwrap_or(Peak {
            at: Tst::INVALID,
            w: 0,
        });
        self.history.push(HistoryEntry {
            period,
            at: peak.at,
            w: peak.w,
        });
        while self.history.len() > HISTORY_LEN {
            let stale_head = self.history.first().is_some_and(|e| e.at == Tst::INVALID);
            let drop_at = if keep_stale_head && stale_head { 1 } else { 0 };
            self.history.remove(drop_at);
        }
        self.peak = None;
        self.month_start = period;
    }
}
