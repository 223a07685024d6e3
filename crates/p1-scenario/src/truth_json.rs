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
    for (i, &b) in bytes.iter().enumerate() {
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
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
