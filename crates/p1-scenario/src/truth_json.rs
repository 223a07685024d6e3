//! The hand-written JSON of the truth record's hot parts: [`Readout`] and [`MeterState`]
//! written through a [`Json`] sink with no allocation and no `core::fmt`, as exactly the
//! bytes `serde_json::to_writer` prints for their derived `Serialize` (same key order,
//! numbers, escapes and `null`s). The derive stays the definition: the property tests
//! below compare the two on random values, and the golden truth files pin the result.
//!
//! The writers tell the sink which bytes are fixed by the code path (keys, brackets:
//! [`Json::raw`]) and which are values, and announce every branch they take on a value
//! ([`Json::choice`]). A `Vec<u8>` writes everything; [`crate::json_runs::RunCopier`]
//! uses the split to copy what did not change from the previous line.
//!
//! A field added to one of these types must be added here too; the tests fail until it is.

use p1_meter::{
    Capture, ChannelStatus, CutReason, DemandState, Load, MbusKind, MbusState, MeterState,
    PhaseLoad, PrepaidState,
};
use p1_wire::{
    Breaker, HistoryEntry, MbusCapture, MbusReadout, Model, Peak, PhaseReadout, Readout, Tst,
};
use serde::Serialize;

/// Where JSON goes, piece by piece.
///
/// The contract the writers keep, which [`crate::json_runs::RunCopier`] relies on: the
/// bytes passed to `raw` depend only on the code path, and the code path depends only on
/// the values passed to `choice` before it. So two calls sequences with equal choices
/// produce equal `raw` bytes at equal places, and differ only in the values.
pub(crate) trait Json {
    /// Bytes the code path fixes: keys, punctuation, brackets.
    fn raw(&mut self, bytes: &'static [u8]);
    /// A branch on a value (an option's presence, an array's length, an enum variant
    /// with fields): announced before any `raw` of the branch. Writes nothing.
    fn choice(&mut self, c: u64);
    /// An unsigned integer in decimal.
    fn uint(&mut self, v: u128);
    /// A signed integer in decimal.
    fn int(&mut self, v: i128);
    /// A timestamp as a JSON string.
    fn tst(&mut self, t: Tst);
    /// A fixed text as a JSON string, not escaped (enum names).
    fn name(&mut self, name: &'static str);
    /// `true` or `false`.
    fn boolean(&mut self, b: bool);
    /// Any text as a JSON string, escaped.
    fn string(&mut self, s: &str);
    /// Octets as one JSON string of upper-case hex digit pairs.
    fn hex(&mut self, octets: &[u8]);
    /// Bytes that are already JSON (a whole value).
    fn json(&mut self, bytes: &[u8]);
    /// `v` as serde_json's compact form.
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T);
}

impl Json for Vec<u8> {
    #[inline(always)]
    fn raw(&mut self, bytes: &'static [u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline(always)]
    fn choice(&mut self, _: u64) {}
    #[inline]
    fn uint(&mut self, v: u128) {
        uint(self, v);
    }
    #[inline]
    fn int(&mut self, v: i128) {
        int(self, v);
    }
    #[inline]
    fn tst(&mut self, t: Tst) {
        tst(self, t);
    }
    #[inline]
    fn name(&mut self, name: &'static str) {
        self.push(b'"');
        self.extend_from_slice(name.as_bytes());
        self.push(b'"');
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.extend_from_slice(if b { b"true" } else { b"false" });
    }
    #[inline]
    fn string(&mut self, s: &str) {
        string(self, s);
    }
    fn hex(&mut self, octets: &[u8]) {
        hex(self, octets);
    }
    #[inline]
    fn json(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        // Plain data with string keys into a Vec: serializing cannot fail.
        let _ = serde_json::to_writer(self, v);
    }
}

/// Two decimal digits of 0..=99, for writing integers two digits at a time.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `v` in decimal, as serde_json prints an unsigned integer.
pub(crate) fn uint(out: &mut Vec<u8>, v: u128) {
    // u128::MAX has 39 digits.
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    let mut v = v;
    // Above u64, one digit pair at a time in u128 (rare: only the prepaid credit).
    while v > u128::from(u64::MAX) {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    let mut v = v as u64;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[at..]);
}

/// Appends `v` in decimal, `-` first when negative, as serde_json prints a signed integer.
pub(crate) fn int(out: &mut Vec<u8>, v: i128) {
    if v < 0 {
        out.push(b'-');
    }
    uint(out, v.unsigned_abs());
}

/// Appends `s` as a JSON string exactly as serde_json writes it: `"` and `\\` escaped,
/// control characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00xx`, everything else
/// (non-ASCII included) as it is.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs an escape (text runs between the
        // telegram's CR LF are 20 to 100 bytes long).
        if let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        i += 1;
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0C => b"\\f",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i - 1]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// How many bytes longer [`string`] prints `b` than the byte itself: 1 for `"`, `\\`
/// and the control characters with a short escape, 5 for the other control characters
/// (`\u00xx`), 0 for everything else.
pub(crate) fn escape_extra(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0C => 1,
        0x00..=0x1F => 5,
        _ => 0,
    }
}

/// Whether any of the eight bytes of `w` is a control character (below 0x20), `"` or
/// `\\`: the word tests "some byte is below n" (`(w - n·ONES) & !w & HIGH`, exact as to
/// whether one exists for n up to 0x80) for 0x20 and for zero after XOR with `"` and `\\`.
/// `false` is exact; `true` may flag a word only to have its first byte looked at.
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
    below_space || zero_in(w ^ (ONES * b'"' as u64)) || zero_in(w ^ (ONES * b'\\' as u64))
}

/// A timestamp as its JSON string (digits and S/W only: nothing to escape).
pub(crate) fn tst(out: &mut Vec<u8>, t: Tst) {
    out.push(b'"');
    t.write_to(out);
    out.push(b'"');
}

/// Octets as a JSON string of upper-case hex pairs (nothing to escape).
pub(crate) fn hex(out: &mut Vec<u8>, octets: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    for &b in octets {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
    out.push(b'"');
}

/// Appends `s` as a JSON string, or `null`.
pub(crate) fn opt_string<J: Json>(j: &mut J, s: Option<&str>) {
    opt(j, s, |j, s| j.string(s));
}

/// Appends `v`, or `null`, with `write` for the value.
pub(crate) fn opt<J: Json, T>(j: &mut J, v: Option<T>, write: impl FnOnce(&mut J, T)) {
    j.choice(u64::from(v.is_some()));
    match v {
        Some(v) => write(j, v),
        None => j.raw(b"null"),
    }
}

/// Appends `[a,b,...]` with `write` for each item.
fn array<J: Json, T>(j: &mut J, items: &[T], write: impl Fn(&mut J, &T)) {
    j.choice(items.len() as u64);
    j.raw(b"[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            j.raw(b",");
        }
        write(j, item);
    }
    j.raw(b"]");
}

fn u64s<J: Json>(j: &mut J, v: &[u64]) {
    array(j, v, |j, &v| j.uint(v.into()));
}

fn breaker<J: Json>(j: &mut J, b: Breaker) {
    j.name(match b {
        Breaker::Disconnected => "disconnected",
        Breaker::Connected => "connected",
        Breaker::ReadyForReconnection => "ready_for_reconnection",
    });
}

fn phase_readout<J: Json>(j: &mut J, p: &PhaseReadout) {
    j.raw(b"{\"import_w\":");
    j.uint(p.import_w.into());
    j.raw(b",\"export_w\":");
    j.uint(p.export_w.into());
    j.raw(b",\"voltage_dv\":");
    j.uint(p.voltage_dv.into());
    j.raw(b",\"current_ca\":");
    j.uint(p.current_ca.into());
    j.raw(b"}");
}

fn peak<J: Json>(j: &mut J, p: &Peak) {
    j.raw(b"{\"at\":");
    j.tst(p.at);
    j.raw(b",\"w\":");
    j.uint(p.w.into());
    j.raw(b"}");
}

fn history_entry<J: Json>(j: &mut J, h: &HistoryEntry) {
    j.raw(b"{\"period\":");
    j.tst(h.period);
    j.raw(b",\"at\":");
    j.tst(h.at);
    j.raw(b",\"w\":");
    j.uint(h.w.into());
    j.raw(b"}");
}

fn mbus_readout<J: Json>(j: &mut J, m: &MbusReadout) {
    j.raw(b"{\"channel\":");
    j.uint(m.channel.into());
    j.raw(b",\"device_type\":");
    j.uint(m.device_type.into());
    j.raw(b",\"equipment_id\":");
    j.string(&m.equipment_id);
    j.raw(b",\"valve\":");
    opt(j, m.valve, breaker);
    j.raw(b",\"capture\":");
    match m.capture {
        MbusCapture::Reading { at, dm3 } => {
            j.choice(1);
            j.raw(b"{\"reading\":{\"at\":");
            j.tst(at);
            j.raw(b",\"dm3\":");
            j.uint(dm3.into());
            j.raw(b"}}");
        }
        MbusCapture::Silent => {
            j.choice(0);
            j.name("silent");
        }
    }
    j.raw(b"}");
}

/// Appends `r` as `serde_json::to_writer` prints it.
pub(crate) fn readout<J: Json>(j: &mut J, r: &Readout) {
    j.raw(b"{\"model\":");
    j.name(match r.model {
        Model::S211 => "S211",
        Model::T211 => "T211",
    });
    // The version is a string of its code's digits.
    j.raw(b",\"version\":\"");
    j.uint(r.version.code().into());
    j.raw(b"\",\"equipment_id\":");
    j.string(&r.equipment_id);
    j.raw(b",\"time\":");
    j.tst(r.time);
    j.raw(b",\"import_wh\":");
    u64s(j, &r.import_wh);
    j.raw(b",\"export_wh\":");
    u64s(j, &r.export_wh);
    j.raw(b",\"tariff\":");
    j.uint(r.tariff.into());
    j.raw(b",\"demand\":");
    opt(j, r.demand.as_ref(), |j, d| {
        j.raw(b"{\"current_w\":");
        j.uint(d.current_w.into());
        j.raw(b",\"peak\":");
        peak(j, &d.peak);
        j.raw(b",\"history\":");
        array(j, &d.history, history_entry);
        j.raw(b"}");
    });
    j.raw(b",\"import_w\":");
    j.uint(r.import_w.into());
    j.raw(b",\"export_w\":");
    j.uint(r.export_w.into());
    j.raw(b",\"phases\":");
    array(j, &r.phases, phase_readout);
    j.raw(b",\"breaker\":");
    breaker(j, r.breaker);
    j.raw(b",\"limiter_hw\":");
    j.uint(r.limiter_hw.into());
    j.raw(b",\"fuse_a\":");
    j.uint(r.fuse_a.into());
    j.raw(b",\"message\":");
    j.hex(&r.message);
    j.raw(b",\"mbus\":");
    array(j, &r.mbus, mbus_readout);
    j.raw(b"}");
}

fn demand_state<J: Json>(j: &mut J, d: &DemandState) {
    j.raw(b"{\"quarter_start_meter_ms\":");
    j.int(d.quarter_start_meter_ms.into());
    j.raw(b",\"quarter_import_mj\":");
    j.uint(d.quarter_import_mj.into());
    j.raw(b",\"current_w\":");
    j.uint(d.current_w.into());
    j.raw(b",\"peak\":");
    opt(j, d.peak.as_ref(), peak);
    j.raw(b",\"month_start\":");
    j.tst(d.month_start);
    j.raw(b",\"next_month_meter_ms\":");
    j.int(d.next_month_meter_ms.into());
    j.raw(b",\"history\":");
    array(j, &d.history, history_entry);
    j.raw(b"}");
}

fn prepaid<J: Json>(j: &mut J, p: &PrepaidState) {
    j.raw(b"{\"credit_ueur\":");
    j.int(p.credit_ueur.into());
    j.raw(b",\"credit_ueur_mj_per_kwh\":");
    j.int(p.credit_ueur_mj_per_kwh);
    j.raw(b",\"price_ueur_per_kwh\":");
    j.int(p.price_ueur_per_kwh.into());
    j.raw(b",\"release_at_ms\":");
    opt(j, p.release_at_ms, |j, v| j.int(v.into()));
    j.raw(b"}");
}

fn capture<J: Json>(j: &mut J, c: &Capture) {
    j.raw(b"{\"true_ms\":");
    j.int(c.true_ms.into());
    j.raw(b",\"at\":");
    j.tst(c.at);
    j.raw(b",\"dm3\":");
    j.uint(c.dm3.into());
    j.raw(b"}");
}

fn mbus_state<J: Json>(j: &mut J, m: &MbusState) {
    j.raw(b"{\"channel\":");
    j.uint(m.channel.into());
    j.raw(b",\"kind\":");
    match m.kind {
        MbusKind::Gas => {
            j.choice(0);
            j.name("gas");
        }
        MbusKind::Water => {
            j.choice(1);
            j.name("water");
        }
        MbusKind::Other(t) => {
            j.choice(2);
            j.raw(b"{\"other\":");
            j.uint(t.into());
            j.raw(b"}");
        }
    }
    j.raw(b",\"equipment_id\":");
    j.string(&m.equipment_id);
    j.raw(b",\"status\":");
    j.name(match m.status {
        ChannelStatus::Live => "live",
        ChannelStatus::Decoupled => "decoupled",
        ChannelStatus::Stale => "stale",
    });
    j.raw(b",\"valve\":");
    opt(j, m.valve, breaker);
    j.raw(b",\"last_capture\":");
    opt(j, m.last_capture.as_ref(), capture);
    j.raw(b",\"live_ml\":");
    j.uint(m.live_ml.into());
    j.raw(b",\"live_dm3\":");
    j.uint(m.live_dm3.into());
    j.raw(b",\"next_capture_ms\":");
    opt(j, m.next_capture_ms, |j, v| j.int(v.into()));
    j.raw(b"}");
}

fn phase_load<J: Json>(j: &mut J, p: &PhaseLoad) {
    j.raw(b"{\"power_w\":");
    j.int(p.power_w.into());
    j.raw(b",\"voltage_dv\":");
    j.uint(p.voltage_dv.into());
    j.raw(b",\"power_factor_permille\":");
    j.uint(p.power_factor_permille.into());
    j.raw(b"}");
}

fn load<J: Json>(j: &mut J, l: &Load) {
    j.raw(b"{\"phases\":");
    array(j, &l.phases, phase_load);
    j.raw(b",\"mbus_ml_per_h\":");
    u64s(j, &l.mbus_ml_per_h);
    j.raw(b"}");
}

/// Appends `s` as `serde_json::to_writer` prints it.
pub(crate) fn meter_state<J: Json>(j: &mut J, s: &MeterState) {
    j.raw(b"{\"true_ms\":");
    j.int(s.true_ms.into());
    j.raw(b",\"meter_ms\":");
    j.int(s.meter_ms.into());
    j.raw(b",\"clock_offset_ms\":");
    j.int(s.clock_offset_ms.into());
    j.raw(b",\"meter_time\":");
    j.tst(s.meter_time);
    j.raw(b",\"import_mj\":");
    u64s(j, &s.import_mj);
    j.raw(b",\"export_mj\":");
    u64s(j, &s.export_mj);
    j.raw(b",\"import_wh\":");
    u64s(j, &s.import_wh);
    j.raw(b",\"export_wh\":");
    u64s(j, &s.export_wh);
    j.raw(b",\"tariff\":");
    j.uint(s.tariff.into());
    j.raw(b",\"next_tariff_change_meter_ms\":");
    opt(j, s.next_tariff_change_meter_ms, |j, v| j.int(v.into()));
    j.raw(b",\"import_w\":");
    j.uint(s.import_w.into());
    j.raw(b",\"export_w\":");
    j.uint(s.export_w.into());
    j.raw(b",\"phases\":");
    array(j, &s.phases, phase_readout);
    j.raw(b",\"demand\":");
    demand_state(j, &s.demand);
    j.raw(b",\"breaker\":");
    breaker(j, s.breaker);
    j.raw(b",\"cut_reason\":");
    opt(j, s.cut_reason, |j, c| {
        j.name(match c {
            CutReason::Remote => "remote",
            CutReason::Limiter => "limiter",
            CutReason::Fuse => "fuse",
            CutReason::Prepaid => "prepaid",
        });
    });
    j.raw(b",\"limiter_hw\":");
    j.uint(s.limiter_hw.into());
    j.raw(b",\"fuse_a\":");
    j.uint(s.fuse_a.into());
    j.raw(b",\"prepaid\":");
    opt(j, s.prepaid.as_ref(), prepaid);
    j.raw(b",\"port_enabled\":");
    j.boolean(s.port_enabled);
    j.raw(b",\"powered\":");
    j.boolean(s.powered);
    j.raw(b",\"message\":");
    array(j, &s.message, |j, &b| j.uint(b.into()));
    j.raw(b",\"mbus\":");
    array(j, &s.mbus, mbus_state);
    j.raw(b",\"load\":");
    load(j, &s.load);
    j.raw(b"}");
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Any string, weighted towards what JSON must escape: quotes, backslashes, control
    /// characters, DEL and non-ASCII.
    fn text() -> BoxedStrategy<String> {
        prop_oneof![
            any::<String>(),
            vec(
                prop_oneof![
                    proptest::char::range('\0', '\u{7F}'),
                    Just('"'),
                    Just('\\'),
                    Just('é'),
                    Just('\u{2028}'),
                    Just('\u{1F600}'),
                ],
                0..24
            )
            .prop_map(|c| c.into_iter().collect()),
        ]
        .boxed()
    }

    /// Any timestamp, fields over 99 included (they print with three digits).
    fn any_tst() -> BoxedStrategy<Tst> {
        prop_oneof![
            p1_wire::strategies::tst(),
            any::<([u8; 6], bool)>().prop_map(|(f, dst)| Tst {
                year: f[0],
                month: f[1],
                day: f[2],
                hour: f[3],
                minute: f[4],
                second: f[5],
                dst,
            }),
        ]
        .boxed()
    }

    /// A 64-bit integer, often at or near an extreme.
    fn i64x() -> BoxedStrategy<i64> {
        prop_oneof![
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(-1),
            -1000i64..1000
        ]
        .boxed()
    }

    fn u64x() -> BoxedStrategy<u64> {
        prop_oneof![any::<u64>(), Just(u64::MAX), Just(0), 0u64..1000].boxed()
    }

    fn u32x() -> BoxedStrategy<u32> {
        prop_oneof![any::<u32>(), Just(u32::MAX), Just(0), 0u32..1000].boxed()
    }

    fn i128x() -> BoxedStrategy<i128> {
        prop_oneof![
            any::<i128>(),
            Just(i128::MIN),
            Just(i128::MAX),
            Just(i128::from(u64::MAX) + 1),
            Just(-i128::from(u64::MAX) - 1),
            -1000i128..1000
        ]
        .boxed()
    }

    fn breaker() -> BoxedStrategy<Breaker> {
        prop_oneof![
            Just(Breaker::Connected),
            Just(Breaker::Disconnected),
            Just(Breaker::ReadyForReconnection)
        ]
        .boxed()
    }

    fn phase() -> BoxedStrategy<PhaseReadout> {
        (u32x(), u32x(), u32x(), u32x())
            .prop_map(
                |(import_w, export_w, voltage_dv, current_ca)| PhaseReadout {
                    import_w,
                    export_w,
                    voltage_dv,
                    current_ca,
                },
            )
            .boxed()
    }

    fn history() -> BoxedStrategy<Vec<HistoryEntry>> {
        vec(
            (any_tst(), any_tst(), u32x()).prop_map(|(period, at, w)| HistoryEntry {
                period,
                at,
                w,
            }),
            0..4,
        )
        .boxed()
    }

    /// A readout the meter prints, then pushed past the wire's ranges: any equipment ids,
    /// any message bytes, extreme registers, odd timestamps.
    fn any_readout() -> BoxedStrategy<Readout> {
        (
            p1_wire::strategies::readout(),
            (
                text(),
                vec(text(), 4),
                any_tst(),
                [u64x(), u64x()],
                any::<u8>(),
            ),
            (u32x(), u32x(), vec(any::<u8>(), 0..8), vec(phase(), 0..4)),
        )
            .prop_map(|(mut r, (id, mbus_ids, time, import_wh, tariff), rest)| {
                let (import_w, fuse_a, message, phases) = rest;
                r.equipment_id = id;
                for (m, id) in r.mbus.iter_mut().zip(mbus_ids) {
                    m.equipment_id = id;
                }
                r.time = time;
                r.import_wh = import_wh;
                r.tariff = tariff;
                r.import_w = import_w;
                r.fuse_a = fuse_a;
                r.message = message;
                if !phases.is_empty() {
                    r.phases = phases;
                }
                r
            })
            .boxed()
    }

    fn capture() -> BoxedStrategy<Capture> {
        (i64x(), any_tst(), u64x())
            .prop_map(|(true_ms, at, dm3)| Capture { true_ms, at, dm3 })
            .boxed()
    }

    fn mbus_state() -> BoxedStrategy<MbusState> {
        let kind = prop_oneof![
            Just(MbusKind::Gas),
            Just(MbusKind::Water),
            any::<u16>().prop_map(MbusKind::Other)
        ];
        let status = prop_oneof![
            Just(ChannelStatus::Live),
            Just(ChannelStatus::Decoupled),
            Just(ChannelStatus::Stale)
        ];
        (
            (any::<u8>(), kind, text(), status),
            (
                proptest::option::of(breaker()),
                proptest::option::of(capture()),
                u64x(),
                u64x(),
                proptest::option::of(i64x()),
            ),
        )
            .prop_map(|((channel, kind, equipment_id, status), rest)| {
                let (valve, last_capture, live_ml, live_dm3, next_capture_ms) = rest;
                MbusState {
                    channel,
                    kind,
                    equipment_id,
                    status,
                    valve,
                    last_capture,
                    live_ml,
                    live_dm3,
                    next_capture_ms,
                }
            })
            .boxed()
    }

    fn demand() -> BoxedStrategy<DemandState> {
        (
            (i64x(), u64x(), u32x()),
            proptest::option::of((any_tst(), u32x()).prop_map(|(at, w)| Peak { at, w })),
            (any_tst(), i64x(), history()),
        )
            .prop_map(
                |((start, mj, current_w), peak, (month_start, next, history))| DemandState {
                    quarter_start_meter_ms: start,
                    quarter_import_mj: mj,
                    current_w,
                    peak,
                    month_start,
                    next_month_meter_ms: next,
                    history,
                },
            )
            .boxed()
    }

    fn prepaid() -> BoxedStrategy<PrepaidState> {
        (i64x(), i128x(), i64x(), proptest::option::of(i64x()))
            .prop_map(
                |(credit_ueur, exact, price_ueur_per_kwh, release_at_ms)| PrepaidState {
                    credit_ueur,
                    credit_ueur_mj_per_kwh: exact,
                    price_ueur_per_kwh,
                    release_at_ms,
                },
            )
            .boxed()
    }

    fn load() -> BoxedStrategy<Load> {
        let phase = || {
            (i64x(), u32x(), u32x()).prop_map(|(power_w, voltage_dv, pf)| PhaseLoad {
                power_w,
                voltage_dv,
                power_factor_permille: pf,
            })
        };
        (
            [phase(), phase(), phase()],
            [u64x(), u64x(), u64x(), u64x()],
        )
            .prop_map(|(phases, mbus_ml_per_h)| Load {
                phases,
                mbus_ml_per_h,
            })
            .boxed()
    }

    /// Any meter state, values well outside what a meter reaches included.
    fn any_meter_state() -> BoxedStrategy<MeterState> {
        let cut = prop_oneof![
            Just(CutReason::Remote),
            Just(CutReason::Limiter),
            Just(CutReason::Fuse),
            Just(CutReason::Prepaid)
        ];
        (
            (i64x(), i64x(), i64x(), any_tst()),
            (
                [u64x(), u64x()],
                [u64x(), u64x()],
                [u64x(), u64x()],
                [u64x(), u64x()],
            ),
            (any::<u8>(), proptest::option::of(i64x()), u32x(), u32x()),
            ([phase(), phase(), phase()], demand(), breaker()),
            (
                proptest::option::of(cut),
                u32x(),
                u32x(),
                proptest::option::of(prepaid()),
            ),
            (
                any::<(bool, bool)>(),
                vec(any::<u8>(), 0..6),
                vec(mbus_state(), 0..3),
                load(),
            ),
        )
            .prop_map(|(a, b, c, d, e, f)| {
                let (true_ms, meter_ms, clock_offset_ms, meter_time) = a;
                let (import_mj, export_mj, import_wh, export_wh) = b;
                let (tariff, next_tariff_change_meter_ms, import_w, export_w) = c;
                let (phases, demand, breaker) = d;
                let (cut_reason, limiter_hw, fuse_a, prepaid) = e;
                let ((port_enabled, powered), message, mbus, load) = f;
                MeterState {
                    true_ms,
                    meter_ms,
                    clock_offset_ms,
                    meter_time,
                    import_mj,
                    export_mj,
                    import_wh,
                    export_wh,
                    tariff,
                    next_tariff_change_meter_ms,
                    import_w,
                    export_w,
                    phases,
                    demand,
                    breaker,
                    cut_reason,
                    limiter_hw,
                    fuse_a,
                    prepaid,
                    port_enabled,
                    powered,
                    message,
                    mbus,
                    load,
                }
            })
            .boxed()
    }

    /// What `write` appends to a buffer that already holds something.
    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = b"prefix".to_vec();
        write(&mut out);
        String::from_utf8(out.split_off(6)).unwrap_or_else(|e| format!("not UTF-8: {e}"))
    }

    /// Replaces the fields of `dst` whose bit is set in `mask` with those of `src`.
    macro_rules! take_fields {
        ($dst:expr, $src:expr, $mask:expr, $($field:ident),+) => {{
            let mut bit = 0;
            $(
                if $mask >> bit & 1 == 1 {
                    $dst.$field = $src.$field.clone();
                }
                bit += 1;
            )+
            let _ = bit;
        }};
    }

    /// A truth-like line: a readout and a state in one array.
    struct Pair<'a>(&'a Readout, &'a MeterState);

    impl crate::json_runs::Line for Pair<'_> {
        fn calls<J: Json>(&self, j: &mut J) {
            j.raw(b"[");
            readout(j, self.0);
            j.raw(b",");
            meter_state(j, self.1);
            j.raw(b"]");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn readouts_are_written_as_serde_json_writes_them(r in any_readout()) {
            prop_assert_eq!(written(|out| readout(out, &r)), serde_json::to_string(&r).unwrap());
        }

        #[test]
        fn meter_states_are_written_as_serde_json_writes_them(s in any_meter_state()) {
            prop_assert_eq!(
                written(|out| meter_state(out, &s)),
                serde_json::to_string(&s).unwrap()
            );
        }

        /// Lines through one run copier are the bytes a plain buffer gets, for readouts
        /// and states that change a few fields at a time (values, options, lengths,
        /// variants) or all at once.
        #[test]
        fn run_copied_lines_are_the_plain_lines(
            first in (any_readout(), any_meter_state()),
            steps in vec((any_readout(), any_meter_state(), any::<[u64; 3]>()), 1..8),
        ) {
            let mut copier = crate::json_runs::RunCopier::default();
            let (mut r, mut s) = first;
            let mut out = Vec::new();
            for (i, (r2, s2, [a, b, c])) in steps.into_iter().enumerate() {
                if i > 0 {
                    // About one field in eight changes; one step in eight changes many.
                    let mask = if c % 8 == 0 { a } else { a & b & c };
                    take_fields!(r, r2, mask, model, version, equipment_id, time, import_wh,
                        export_wh, tariff, demand, import_w, export_w, phases, breaker,
                        limiter_hw, fuse_a, message, mbus);
                    take_fields!(s, s2, mask.rotate_left(17), true_ms, meter_ms,
                        clock_offset_ms, meter_time, import_mj, export_mj, import_wh,
                        export_wh, tariff, next_tariff_change_meter_ms, import_w, export_w,
                        phases, demand, breaker, cut_reason, limiter_hw, fuse_a, prepaid,
                        port_enabled, powered, message, mbus, load);
                }
                let mut plain = Vec::new();
                crate::json_runs::Line::calls(&Pair(&r, &s), &mut plain);
                out.clear();
                copier.write_line(&Pair(&r, &s), &mut out);
                prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&plain));
            }
        }

        #[test]
        fn strings_are_written_as_serde_json_writes_them(s in text()) {
            prop_assert_eq!(written(|out| string(out, &s)), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn integers_are_written_as_serde_json_writes_them(v in i128x(), u in any::<u128>()) {
            prop_assert_eq!(written(|out| int(out, v)), serde_json::to_string(&v).unwrap());
            prop_assert_eq!(written(|out| uint(out, u)), serde_json::to_string(&u).unwrap());
        }
    }

    #[test]
    fn a_word_needs_escaping_exactly_when_a_byte_does() {
        for b in 0..=255u8 {
            let wants = b < 0x20 || b == b'"' || b == b'\\';
            for at in 0..8 {
                for fill in [b'a', 0x7F, 0xFF, b'#', b']'] {
                    let mut w = [fill; 8];
                    w[at] = b;
                    assert_eq!(needs_escape(u64::from_le_bytes(w)), wants, "{b:#x} at {at}");
                }
            }
        }
    }

    #[test]
    fn integer_edges_are_written_as_serde_json_writes_them() {
        let mut edges: Vec<i128> = vec![i128::MIN, i128::MAX, i128::from(u64::MAX) + 1];
        let mut p: i128 = 1;
        for _ in 0..38 {
            edges.extend([p - 1, p, p + 1, -p]);
            p *= 10;
        }
        for v in edges {
            assert_eq!(written(|out| int(out, v)), v.to_string());
            assert_eq!(
                written(|out| int(out, v)),
                serde_json::to_string(&v).unwrap()
            );
        }
        assert_eq!(written(|out| uint(out, u128::MAX)), u128::MAX.to_string());
    }
}
