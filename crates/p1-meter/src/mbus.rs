//! M-Bus sub-meters (gas, water) on channels 1 to 4: their live index, their capture
//! schedule (period, phase and deterministic jitter), the last capture the E-meter repeats,
//! and the channel's status (live, decoupled, stale after a replacement).

use p1_wire::{Breaker, MbusCapture, MbusReadout, Tst, Version};
use serde::Serialize;

use crate::{MbusConfig, MbusField, MbusKind};

/// ml·ms/h per dm³: the flow accumulator counts ml/h x ms, so one litre is this much.
const ACC_PER_DM3: u128 = 1000 * 3_600_000;
/// ml·ms/h per ml.
const ACC_PER_ML: u128 = 3_600_000;

/// What a channel is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// The device transmits and the E-meter captures it.
    Live,
    /// The device no longer communicates: valve `0` and `(632525252525W)(00000.000)`.
    Decoupled,
    /// The device was replaced by one on another channel: the channel keeps printing its
    /// last capture forever (spec §5, dsmrreader-5) and its device no longer counts.
    Stale,
}

/// One capture the E-meter took from a sub-meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capture {
    /// True instant of the capture, ms since the epoch.
    pub true_ms: i64,
    /// Meter-clock local time of the capture, as printed.
    pub at: Tst,
    /// Index captured, dm³.
    pub dm3: u64,
}

/// Serializable state of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MbusState {
    /// Channel 1 to 4.
    pub channel: u8,
    /// Device kind.
    pub kind: MbusKind,
    /// Equipment id (ASCII).
    pub equipment_id: String,
    /// Channel status.
    pub status: ChannelStatus,
    /// Valve state (gas only; `None` for other kinds).
    pub valve: Option<Breaker>,
    /// The capture the telegram repeats, if any has been taken yet.
    pub last_capture: Option<Capture>,
    /// The device's own index right now, ml (not yet captured).
    pub live_ml: u64,
    /// The device's own index right now, dm³ (truncated).
    pub live_dm3: u64,
    /// True instant of the next capture, if the channel is live.
    pub next_capture_ms: Option<i64>,
}

/// One channel at run time.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) cfg: MbusConfig,
    pub(crate) status: ChannelStatus,
    pub(crate) valve: Breaker,
    pub(crate) last: Option<Capture>,
    /// Flow integral, ml/h x ms.
    acc: u128,
    /// Hash of the equipment id, seed of the jitter.
    seed: u64,
    /// `cfg.capture_phase()`, worked out once (a channel's configuration never changes).
    phase: i64,
    /// `(from, at)`: the first capture strictly after any instant of `from..at` is `at`
    /// (captures depend on the configuration only), so [`Channel::next_capture_at`]
    /// answers without recomputing the schedule between two captures.
    next: (i64, i64),
}

/// SplitMix64 finaliser: a fixed, well-mixed function of its input (Steele et al., 2014).
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the id bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The default capture phase of the device `id` with capture period `period` ms (> 0):
/// a hash of the id modulo the period. It mixes the id's hash once more than the jitter
/// does (`splitmix64(seed ^ k)`), so phase and jitter are not the same number.
pub(crate) fn default_phase(id: &str, period: i64) -> i64 {
    let h = splitmix64(splitmix64(fnv1a(id.as_bytes())));
    let period = u64::try_from(period.max(1)).unwrap_or(1);
    i64::try_from(h % period).unwrap_or(0)
}

/// The M-Bus channels of an e-MUCS meter.
pub const MBUS_CHANNELS: std::ops::RangeInclusive<u8> = 1..=4;

/// `channel` as an M-Bus channel number: the one channel rule, for devices and for
/// anything that names a channel (a flow, an event).
pub fn check_channel(channel: i64) -> Result<u8, String> {
    u8::try_from(channel)
        .ok()
        .filter(|c| MBUS_CHANNELS.contains(c))
        .ok_or_else(|| format!("M-Bus channels are 1 to 4, found {channel}"))
}

impl MbusConfig {
    /// Checks the device for a meter running `firmware`: the one place M-Bus device
    /// settings are checked (for the configured devices by [`crate::Meter::new`], for
    /// devices coupled later by the commands that couple them, and by a scenario that
    /// wants a coupling event's device checked where it is written).
    pub fn validate(&self, firmware: Version) -> Result<(), (MbusField, String)> {
        check_channel(i64::from(self.channel)).map_err(|m| (MbusField::Channel, m))?;
        let (digit, what) = match self.kind {
            MbusKind::Gas => ('7', "a gas meter"),
            MbusKind::Water => ('8', "a water meter"),
            MbusKind::Other(t) => {
                return Err((
                    MbusField::Kind,
                    format!(
                        "e-MUCS P1 carries gas (3) and water (7) devices only, found device \
                         type {t}"
                    ),
                ));
            }
        };
        check_equipment_id(&self.equipment_id, digit, what)
            .map_err(|m| (MbusField::EquipmentId, m))?;
        if self.kind == MbusKind::Water && !firmware.has_water() {
            return Err((
                MbusField::Kind,
                format!(
                    "water meters are published from firmware 50216, this meter runs {}",
                    firmware.code()
                ),
            ));
        }
        // The E-meter repeats the line once a second; faster captures would be invisible
        // and would make time stepping cost one iteration per capture.
        if self.capture_period_ms < 1000 {
            return Err((
                MbusField::CapturePeriod,
                format!(
                    "the capture period is at least 1 s, found {} ms",
                    self.capture_period_ms
                ),
            ));
        }
        if self.capture_jitter_ms < 0 || self.capture_jitter_ms >= self.capture_period_ms {
            return Err((
                MbusField::CaptureJitter,
                format!(
                    "expected 0 <= jitter < capture period ({} ms), found {} ms",
                    self.capture_period_ms, self.capture_jitter_ms
                ),
            ));
        }
        Ok(())
    }
}

/// Checks a 14-character ASCII equipment id whose first character is the medium digit
/// of `what` (e.g. "a gas meter").
pub(crate) fn check_equipment_id(id: &str, medium: char, what: &str) -> Result<(), String> {
    // The rule counts printable ASCII characters (bytes on the wire): name the first
    // other one rather than a character count that may well be 14.
    if let Some((n, c)) = id.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
        let kind = if c.is_ascii() {
            format!("unprintable character {c:?}")
        } else {
            format!("non-ASCII character `{c}`")
        };
        return Err(format!(
            "an equipment id is 14 ASCII characters, all printable; `{id}` has the {kind} \
             at position {}",
            n + 1
        ));
    }
    if id.len() != 14 {
        return Err(format!(
            "an equipment id is 14 ASCII characters, all printable; `{id}` has {}",
            id.len()
        ));
    }
    if !id.starts_with(medium) {
        let first = id.chars().next().unwrap_or(' ');
        let named = match first {
            '1' => " (electricity)",
            '7' => " (gas)",
            '8' => " (water)",
            _ => "",
        };
        return Err(format!(
            "{what}'s equipment id starts with its medium digit {medium}; `{id}` starts with \
             {first}{named}"
        ));
    }
    Ok(())
}

impl Channel {
    /// A device coupled at true instant `now`. With `backdate`, the device is taken to have
    /// been captured on its schedule before `now` already (a meter found running), so the
    /// telegram starts with its latest capture at or before `now` showing the initial index.
    pub(crate) fn new(cfg: MbusConfig, now: i64, offset: i64, backdate: bool) -> Channel {
        let seed = fnv1a(cfg.equipment_id.as_bytes());
        let acc = u128::from(cfg.initial_dm3) * ACC_PER_DM3;
        let phase = cfg.capture_phase();
        let mut ch = Channel {
            cfg,
            status: ChannelStatus::Live,
            valve: Breaker::Connected,
            last: None,
            acc,
            seed,
            phase,
            next: (0, 0),
        };
        ch.sync_next_capture(now);
        if backdate {
            let t = ch.latest_capture_at_or_before(now);
            ch.last = Some(Capture {
                true_ms: t,
                at: crate::SimTime(t.saturating_add(offset)).tst(),
                dm3: ch.live_dm3(),
            });
        }
        ch
    }

    /// Jitter of capture number `k`, 0..=capture_jitter_ms.
    fn jitter(&self, k: i64) -> i64 {
        let span = self.cfg.capture_jitter_ms.max(0) as u64 + 1;
        (splitmix64(self.seed ^ (k as u64)) % span) as i64
    }

    /// True instant of capture number `k`: `k * period + phase + jitter(k)`. Strictly
    /// increasing in `k` because the jitter is smaller than the period.
    fn capture_time(&self, k: i64) -> i64 {
        let period = self.cfg.capture_period_ms.max(1);
        k.saturating_mul(period)
            .saturating_add(self.phase)
            .saturating_add(self.jitter(k))
    }

    fn index_near(&self, t: i64) -> i64 {
        let period = self.cfg.capture_period_ms.max(1);
        t.saturating_sub(self.phase).div_euclid(period)
    }

    /// [`Channel::next_capture_after`] `t`, from the cached next capture when `t` lies
    /// before it and no earlier than the instant it was found for.
    pub(crate) fn next_capture_at(&self, t: i64) -> i64 {
        let (from, at) = self.next;
        if from <= t && t < at {
            at
        } else {
            self.next_capture_after(t)
        }
    }

    /// Makes the cache of [`Channel::next_capture_at`] answer for `t` and the instants
    /// after it, up to the capture: called where the meter's time moves.
    pub(crate) fn sync_next_capture(&mut self, t: i64) {
        let (from, at) = self.next;
        if !(from <= t && t < at) {
            self.next = (t, self.next_capture_after(t));
        }
    }

    /// The first capture instant strictly after `t`.
    pub(crate) fn next_capture_after(&self, t: i64) -> i64 {
        let k0 = self.index_near(t);
        (k0.saturating_sub(1)..=k0.saturating_add(1))
            .map(|k| self.capture_time(k))
            .find(|&c| c > t)
            .unwrap_or(i64::MAX)
    }

    /// The last capture instant at or before `t`.
    fn latest_capture_at_or_before(&self, t: i64) -> i64 {
        let k0 = self.index_near(t);
        (k0.saturating_sub(1)..=k0.saturating_add(1))
            .rev()
            .map(|k| self.capture_time(k))
            .find(|&c| c <= t)
            .unwrap_or(t)
    }

    /// Whether the physical device still counts flow (a stale channel's device is gone; a
    /// closed gas valve stops the flow).
    fn flows(&self) -> bool {
        self.status != ChannelStatus::Stale && self.valve == Breaker::Connected
    }

    /// Adds `ml_per_h` flowing for `dt_ms`.
    pub(crate) fn integrate(&mut self, ml_per_h: u64, dt_ms: i64) {
        if self.flows() && dt_ms > 0 {
            self.acc = self
                .acc
                .saturating_add(u128::from(ml_per_h) * dt_ms as u128);
        }
    }

    fn live_ml(&self) -> u64 {
        u64::try_from(self.acc / ACC_PER_ML).unwrap_or(u64::MAX)
    }

    fn live_dm3(&self) -> u64 {
        u64::try_from(self.acc / ACC_PER_DM3).unwrap_or(u64::MAX)
    }

    /// Whether the E-meter captures this channel at all.
    pub(crate) fn captures(&self) -> bool {
        self.status == ChannelStatus::Live
    }

    /// Takes a capture at true instant `t` (meter clock offset `offset`).
    pub(crate) fn capture(&mut self, t: i64, offset: i64) {
        self.last = Some(Capture {
            true_ms: t,
            at: crate::SimTime(t.saturating_add(offset)).tst(),
            dm3: self.live_dm3(),
        });
    }

    /// The channel's state; `id` is a buffer to reuse for the equipment id.
    pub(crate) fn state_with(&self, now: i64, powered: bool, mut id: String) -> MbusState {
        id.clone_from(&self.cfg.equipment_id);
        MbusState {
            channel: self.cfg.channel,
            kind: self.cfg.kind,
            equipment_id: id,
            status: self.status,
            valve: (self.cfg.kind == MbusKind::Gas).then_some(self.valve),
            last_capture: self.last,
            live_ml: self.live_ml(),
            live_dm3: self.live_dm3(),
            next_capture_ms: (self.captures() && powered).then(|| self.next_capture_at(now)),
        }
    }

    /// The channel's telegram block; `id` is a buffer to reuse for the equipment id.
    pub(crate) fn readout_with(&self, mut id: String) -> MbusReadout {
        id.clone_from(&self.cfg.equipment_id);
        let device_type = match self.cfg.kind {
            MbusKind::Gas => MbusReadout::GAS,
            MbusKind::Water => MbusReadout::WATER,
            MbusKind::Other(t) => t,
        };
        let decoupled = self.status == ChannelStatus::Decoupled;
        let valve = (self.cfg.kind == MbusKind::Gas).then_some(if decoupled {
            Breaker::Disconnected
        } else {
            self.valve
        });
        let capture = match (&self.last, decoupled) {
            (Some(c), false) => MbusCapture::Reading {
                at: c.at,
                dm3: c.dm3,
            },
            _ => MbusCapture::Silent,
        };
        MbusReadout {
            channel: self.cfg.channel,
            device_type,
            equipment_id: id,
            valve,
            capture,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The first capture strictly after `t`, by brute force over the capture numbers
    /// around `t` (each capture lies in `[k·period + phase, (k+1)·period + phase)`).
    fn first_capture_after(ch: &Channel, t: i64) -> i64 {
        let period = ch.cfg.capture_period_ms;
        let k0 = (t - ch.cfg.capture_phase()).div_euclid(period);
        (k0 - 3..=k0 + 3)
            .map(|k| k * period + ch.cfg.capture_phase() + ch.jitter(k))
            .filter(|&c| c > t)
            .min()
            .expect("a capture within three periods")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The cached next capture equals the schedule's at every instant the meter moves
        /// to, whether it steps a little, lands on a capture or just before it, jumps
        /// periods ahead, or (through a clock it does not own) goes back.
        #[test]
        fn cached_next_capture_equals_the_schedule(
            period in 1000i64..=3_600_000,
            jitter_frac in 0.0f64..1.0,
            phase in proptest::option::of(-10_000_000i64..10_000_000),
            id in "7[0-9A-Z]{13}",
            start in 0i64..4_000_000_000_000,
            moves in prop::collection::vec((0u8..6, 0i64..10_000_000), 1..60),
        ) {
            let mut cfg = MbusConfig::new(1, crate::MbusKind::Gas, &id, 0);
            cfg.capture_period_ms = period;
            cfg.capture_jitter_ms = ((period - 1) as f64 * jitter_frac) as i64;
            cfg.capture_phase_ms = phase;
            let mut ch = Channel::new(cfg, start, 0, false);
            let mut t = start;
            for (kind, d) in moves {
                prop_assert_eq!(ch.next_capture_at(t), first_capture_after(&ch, t));
                let next = ch.next_capture_at(t);
                t = match kind {
                    0 => t + d % 5000,
                    1 => next,
                    2 => next - 1,
                    3 => next + 1,
                    4 => t + d * 10,
                    _ => t - d,
                };
                // Before the meter syncs, the cache must not answer for `t` wrongly...
                prop_assert_eq!(ch.next_capture_at(t), first_capture_after(&ch, t));
                ch.sync_next_capture(t);
                // ...nor after.
                prop_assert_eq!(ch.next_capture_at(t), first_capture_after(&ch, t));
                prop_assert_eq!(ch.next_capture_after(t), first_capture_after(&ch, t));
            }
        }
    }
}
