//! The hand-written JSON of the truth record's hot parts: [`Readout`] and [`MeterState`]
//! written straight into a byte buffer, with no allocation and no `core::fmt`, as exactly
//! the bytes `serde_json::to_writer` prints for their derived `Serialize` (same key order,
//! numbers, escapes and `null`s). The derive stays the definition: the property tests
//! below compare the two on random values, and the golden truth files pin the result.
//!
//! A field added to one of these types must be added here too; the tests fail until it is.

use p1_meter::{
    Capture, ChannelStatus, CutReason, DemandState, Load, MbusKind, MbusState, MeterState,
    PhaseLoad, PrepaidState,
};
use p1_wire::{
    Breaker, HistoryEntry, MbusCapture, MbusReadout, Model, Peak, PhaseReadout, Readout, Tst,
};

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

/// Appends `s` as a JSON string, or `null`.
pub(crate) fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `v`, or `null`, with `write` for the value.
fn opt<T>(out: &mut Vec<u8>, v: Option<T>, write: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        Some(v) => write(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `[a,b,...]` with `write` for each item.
fn array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    write: impl Fn(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

/// A timestamp as its JSON string (digits and S/W only: nothing to escape).
fn tst(out: &mut Vec<u8>, t: Tst) {
    out.push(b'"');
    t.write_to(out);
    out.push(b'"');
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn u64s(out: &mut Vec<u8>, v: &[u64]) {
    array(out, v, |out, &v| uint(out, v.into()));
}

/// A unit enum variant as serde writes it: its (renamed) name as a string.
fn name(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

fn breaker(out: &mut Vec<u8>, b: Breaker) {
    name(
        out,
        match b {
            Breaker::Disconnected => "disconnected",
            Breaker::Connected => "connected",
            Breaker::ReadyForReconnection => "ready_for_reconnection",
        },
    );
}

fn phase_readout(out: &mut Vec<u8>, p: &PhaseReadout) {
    out.extend_from_slice(b"{\"import_w\":");
    uint(out, p.import_w.into());
    out.extend_from_slice(b",\"export_w\":");
    uint(out, p.export_w.into());
    out.extend_from_slice(b",\"voltage_dv\":");
    uint(out, p.voltage_dv.into());
    out.extend_from_slice(b",\"current_ca\":");
    uint(out, p.current_ca.into());
    out.push(b'}');
}

fn peak(out: &mut Vec<u8>, p: &Peak) {
    out.extend_from_slice(b"{\"at\":");
    tst(out, p.at);
    out.extend_from_slice(b",\"w\":");
    uint(out, p.w.into());
    out.push(b'}');
}

fn history_entry(out: &mut Vec<u8>, h: &HistoryEntry) {
    out.extend_from_slice(b"{\"period\":");
    tst(out, h.period);
    out.extend_from_slice(b",\"at\":");
    tst(out, h.at);
    out.extend_from_slice(b",\"w\":");
    uint(out, h.w.into());
    out.push(b'}');
}

fn mbus_readout(out: &mut Vec<u8>, m: &MbusReadout) {
    out.extend_from_slice(b"{\"channel\":");
    uint(out, m.channel.into());
    out.extend_from_slice(b",\"device_type\":");
    uint(out, m.device_type.into());
    out.extend_from_slice(b",\"equipment_id\":");
    string(out, &m.equipment_id);
    out.extend_from_slice(b",\"valve\":");
    opt(out, m.valve, breaker);
    out.extend_from_slice(b",\"capture\":");
    match m.capture {
        MbusCapture::Reading { at, dm3 } => {
            out.extend_from_slice(b"{\"reading\":{\"at\":");
            tst(out, at);
            out.extend_from_slice(b",\"dm3\":");
            uint(out, dm3.into());
            out.extend_from_slice(b"}}");
        }
        MbusCapture::Silent => name(out, "silent"),
    }
    out.push(b'}');
}

/// Appends `r` as `serde_json::to_writer` prints it.
pub(crate) fn readout(out: &mut Vec<u8>, r: &Readout) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(b"{\"model\":");
    name(
        out,
        match r.model {
            Model::S211 => "S211",
            Model::T211 => "T211",
        },
    );
    out.extend_from_slice(b",\"version\":\"");
    uint(out, r.version.code().into());
    out.extend_from_slice(b"\",\"equipment_id\":");
    string(out, &r.equipment_id);
    out.extend_from_slice(b",\"time\":");
    tst(out, r.time);
    out.extend_from_slice(b",\"import_wh\":");
    u64s(out, &r.import_wh);
    out.extend_from_slice(b",\"export_wh\":");
    u64s(out, &r.export_wh);
    out.extend_from_slice(b",\"tariff\":");
    uint(out, r.tariff.into());
    out.extend_from_slice(b",\"demand\":");
    opt(out, r.demand.as_ref(), |out, d| {
        out.extend_from_slice(b"{\"current_w\":");
        uint(out, d.current_w.into());
        out.extend_from_slice(b",\"peak\":");
        peak(out, &d.peak);
        out.extend_from_slice(b",\"history\":");
        array(out, &d.history, history_entry);
        out.push(b'}');
    });
    out.extend_from_slice(b",\"import_w\":");
    uint(out, r.import_w.into());
    out.extend_from_slice(b",\"export_w\":");
    uint(out, r.export_w.into());
    out.extend_from_slice(b",\"phases\":");
    array(out, &r.phases, phase_readout);
    out.extend_from_slice(b",\"breaker\":");
    breaker(out, r.breaker);
    out.extend_from_slice(b",\"limiter_hw\":");
    uint(out, r.limiter_hw.into());
    out.extend_from_slice(b",\"fuse_a\":");
    uint(out, r.fuse_a.into());
    // Upper-case hex octets: nothing to escape.
    out.extend_from_slice(b",\"message\":\"");
    for &b in &r.message {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
    out.extend_from_slice(b"\",\"mbus\":");
    array(out, &r.mbus, mbus_readout);
    out.push(b'}');
}

fn demand_state(out: &mut Vec<u8>, d: &DemandState) {
    out.extend_from_slice(b"{\"quarter_start_meter_ms\":");
    int(out, d.quarter_start_meter_ms.into());
    out.extend_from_slice(b",\"quarter_import_mj\":");
    uint(out, d.quarter_import_mj.into());
    out.extend_from_slice(b",\"current_w\":");
    uint(out, d.current_w.into());
    out.extend_from_slice(b",\"peak\":");
    opt(out, d.peak.as_ref(), peak);
    out.extend_from_slice(b",\"month_start\":");
    tst(out, d.month_start);
    out.extend_from_slice(b",\"next_month_meter_ms\":");
    int(out, d.next_month_meter_ms.into());
    out.extend_from_slice(b",\"history\":");
    array(out, &d.history, history_entry);
    out.push(b'}');
}

fn prepaid(out: &mut Vec<u8>, p: &PrepaidState) {
    out.extend_from_slice(b"{\"credit_ueur\":");
    int(out, p.credit_ueur.into());
    out.extend_from_slice(b",\"credit_ueur_mj_per_kwh\":");
    int(out, p.credit_ueur_mj_per_kwh);
    out.extend_from_slice(b",\"price_ueur_per_kwh\":");
    int(out, p.price_ueur_per_kwh.into());
    out.extend_from_slice(b",\"release_at_ms\":");
    opt(out, p.release_at_ms, |out, v| int(out, v.into()));
    out.push(b'}');
}

fn capture(out: &mut Vec<u8>, c: &Capture) {
    out.extend_from_slice(b"{\"true_ms\":");
    int(out, c.true_ms.into());
    out.extend_from_slice(b",\"at\":");
    tst(out, c.at);
    out.extend_from_slice(b",\"dm3\":");
    uint(out, c.dm3.into());
    out.push(b'}');
}

fn mbus_state(out: &mut Vec<u8>, m: &MbusState) {
    out.extend_from_slice(b"{\"channel\":");
    uint(out, m.channel.into());
    out.extend_from_slice(b",\"kind\":");
    match m.kind {
        MbusKind::Gas => name(out, "gas"),
        MbusKind::Water => name(out, "water"),
        MbusKind::Other(t) => {
            out.extend_from_slice(b"{\"other\":");
            uint(out, t.into());
            out.push(b'}');
        }
    }
    out.extend_from_slice(b",\"equipment_id\":");
    string(out, &m.equipment_id);
    out.extend_from_slice(b",\"status\":");
    name(
        out,
        match m.status {
            ChannelStatus::Live => "live",
            ChannelStatus::Decoupled => "decoupled",
            ChannelStatus::Stale => "stale",
        },
    );
    out.extend_from_slice(b",\"valve\":");
    opt(out, m.valve, breaker);
    out.extend_from_slice(b",\"last_capture\":");
    opt(out, m.last_capture.as_ref(), capture);
    out.extend_from_slice(b",\"live_ml\":");
    uint(out, m.live_ml.into());
    out.extend_from_slice(b",\"live_dm3\":");
    uint(out, m.live_dm3.into());
    out.extend_from_slice(b",\"next_capture_ms\":");
    opt(out, m.next_capture_ms, |out, v| int(out, v.into()));
    out.push(b'}');
}

fn phase_load(out: &mut Vec<u8>, p: &PhaseLoad) {
    out.extend_from_slice(b"{\"power_w\":");
    int(out, p.power_w.into());
    out.extend_from_slice(b",\"voltage_dv\":");
    uint(out, p.voltage_dv.into());
    out.extend_from_slice(b",\"power_factor_permille\":");
    uint(out, p.power_factor_permille.into());
    out.push(b'}');
}

fn load(out: &mut Vec<u8>, l: &Load) {
    out.extend_from_slice(b"{\"phases\":");
    array(out, &l.phases, phase_load);
    out.extend_from_slice(b",\"mbus_ml_per_h\":");
    u64s(out, &l.mbus_ml_per_h);
    out.push(b'}');
}

/// Appends `s` as `serde_json::to_writer` prints it.
pub(crate) fn meter_state(out: &mut Vec<u8>, s: &MeterState) {
    out.extend_from_slice(b"{\"true_ms\":");
    int(out, s.true_ms.into());
    out.extend_from_slice(b",\"meter_ms\":");
    int(out, s.meter_ms.into());
    out.extend_from_slice(b",\"clock_offset_ms\":");
    int(out, s.clock_offset_ms.into());
    out.extend_from_slice(b",\"meter_time\":");
    tst(out, s.meter_time);
    out.extend_from_slice(b",\"import_mj\":");
    u64s(out, &s.import_mj);
    out.extend_from_slice(b",\"export_mj\":");
    u64s(out, &s.export_mj);
    out.extend_from_slice(b",\"import_wh\":");
    u64s(out, &s.import_wh);
    out.extend_from_slice(b",\"export_wh\":");
    u64s(out, &s.export_wh);
    out.extend_from_slice(b",\"tariff\":");
    uint(out, s.tariff.into());
    out.extend_from_slice(b",\"next_tariff_change_meter_ms\":");
    opt(out, s.next_tariff_change_meter_ms, |out, v| {
        int(out, v.into())
    });
    out.extend_from_slice(b",\"import_w\":");
    uint(out, s.import_w.into());
    out.extend_from_slice(b",\"export_w\":");
    uint(out, s.export_w.into());
    out.extend_from_slice(b",\"phases\":");
    array(out, &s.phases, phase_readout);
    out.extend_from_slice(b",\"demand\":");
    demand_state(out, &s.demand);
    out.extend_from_slice(b",\"breaker\":");
    breaker(out, s.breaker);
    out.extend_from_slice(b",\"cut_reason\":");
    opt(out, s.cut_reason, |out, c| {
        name(
            out,
            match c {
                CutReason::Remote => "remote",
                CutReason::Limiter => "limiter",
                CutReason::Fuse => "fuse",
                CutReason::Prepaid => "prepaid",
            },
        );
    });
    out.extend_from_slice(b",\"limiter_hw\":");
    uint(out, s.limiter_hw.into());
    out.extend_from_slice(b",\"fuse_a\":");
    uint(out, s.fuse_a.into());
    out.extend_from_slice(b",\"prepaid\":");
    opt(out, s.prepaid.as_ref(), prepaid);
    out.extend_from_slice(b",\"port_enabled\":");
    boolean(out, s.port_enabled);
    out.extend_from_slice(b",\"powered\":");
    boolean(out, s.powered);
    out.extend_from_slice(b",\"message\":");
    array(out, &s.message, |out, &b| uint(out, b.into()));
    out.extend_from_slice(b",\"mbus\":");
    array(out, &s.mbus, mbus_state);
    out.extend_from_slice(b",\"load\":");
    load(out, &s.load);
    out.push(b'}');
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
