//! The per-telegram yardstick (a benchmark, not a test): in one run it times
//!
//! 1. a bare loop written for this benchmark only: it formats a fixed T211 + gas + water
//!    telegram of the quickstart's size (the same objects, 98.1.0 with two entries) with
//!    hand-rolled digit writing and a slice-by-16 CRC-16/ARC into a reused buffer: the
//!    physical limit for this work;
//! 2. [`Simulation`] of the quickstart meter plus its encoded telegram, for the same number
//!    of telegrams, through the buffer-reusing path `p1sim run` uses;
//! 3. the same with the truth record serialised for every telegram;
//!
//! and prints telegrams per second and the ratios 2/1 and 3/1 (higher is better; 1.0 would
//! be as fast as the bare loop). It also times `p1sim verify`'s decoder over the stream of
//! step 2, in bytes per second against the bare loop's bytes per second, and the
//! simulation step alone (`step`: phase 2 without the encoder, i.e. the stepping and the
//! meter's snapshot at each telegram instant, in ns per telegram).
//!
//! Each figure is the best of 5 rounds (the phases take turns). Run:
//! `cargo bench -p p1-sim --bench yardstick` (about 20 s; `-- N` sets the count, 50 000).

// A benchmark measures real time; the crate's clock ban is for its library code.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use p1_scenario::{Scenario, Simulation, TruthWriter};
use p1_wire::Decoder;

/// CRC-16/ARC with a 16-slice table, as the bare loop's "best case".
const CRC16: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_ARC);

/// Appends `v` as exactly `width` zero-padded decimal digits (the low digits of `v`).
fn digits(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    for slot in tmp[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&tmp[..width]);
}

/// Appends a fixed-point value: `int` digits, `.`, `dec` digits, then `unit`.
fn fixed(out: &mut Vec<u8>, v: u64, int: usize, dec: usize, unit: &[u8]) {
    let scale = 10u64.pow(dec as u32);
    digits(out, v / scale, int);
    out.push(b'.');
    digits(out, v % scale, dec);
    out.extend_from_slice(unit);
}

/// Appends a `YYMMDDhhmmssS` timestamp from seconds since 2026-06-15 12:00:00.
fn tst(out: &mut Vec<u8>, secs: u64) {
    let (h, m, s) = (12 + secs / 3600 % 12, secs / 60 % 60, secs % 60);
    out.extend_from_slice(b"260615");
    digits(out, h, 2);
    digits(out, m, 2);
    digits(out, s, 2);
    out.push(b'S');
}

fn line(out: &mut Vec<u8>, obis: &[u8]) {
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(obis);
    out.push(b'(');
}

/// One telegram of the bare loop for second `k`, replacing `out`'s content.
fn bare_telegram(out: &mut Vec<u8>, k: u64) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.clear();
    out.extend_from_slice(b"/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n0-0:96.1.1(");
    for b in b"1SAG3100000292" {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.extend_from_slice(b")\r\n0-0:1.0.0(");
    tst(out, k);
    for (i, obis) in [&b"1-0:1.8.1"[..], b"1-0:1.8.2", b"1-0:2.8.1", b"1-0:2.8.2"]
        .into_iter()
        .enumerate()
    {
        out.push(b')');
        line(out, obis);
        fixed(out, 4_213_379 + k / 4 + i as u64 * 1_000_000, 6, 3, b"*kWh");
    }
    out.extend_from_slice(b")\r\n0-0:96.14.0(0001)\r\n1-0:1.4.0(");
    fixed(out, 1000 + k % 3000, 2, 3, b"*kW");
    out.extend_from_slice(b")\r\n1-0:1.6.0(");
    tst(out, 0);
    out.extend_from_slice(b")(");
    fixed(out, 4215, 2, 3, b"*kW");
    out.extend_from_slice(b")\r\n0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(");
    for (period, w) in [(1u64, 3870u64), (2, 4102)] {
        tst(out, period);
        out.extend_from_slice(b")(");
        tst(out, period * 7);
        out.extend_from_slice(b")(");
        fixed(out, w, 2, 3, b"*kW");
        out.extend_from_slice(if period == 1 { b")(" } else { b")" });
    }
    let p = k % 5000;
    for obis in [&b"1-0:1.7.0"[..], b"1-0:2.7.0"] {
        line(out, obis);
        fixed(out, p, 2, 3, b"*kW");
        out.push(b')');
    }
    for obis in [
        &b"1-0:21.7.0"[..],
        b"1-0:41.7.0",
        b"1-0:61.7.0",
        b"1-0:22.7.0",
        b"1-0:42.7.0",
        b"1-0:62.7.0",
    ] {
        line(out, obis);
        fixed(out, p / 3, 2, 3, b"*kW");
        out.push(b')');
    }
    for obis in [&b"1-0:32.7.0"[..], b"1-0:52.7.0", b"1-0:72.7.0"] {
        line(out, obis);
        fixed(out, 2300 + k % 40, 3, 1, b"*V");
        out.push(b')');
    }
    for obis in [&b"1-0:31.7.0"[..], b"1-0:51.7.0", b"1-0:71.7.0"] {
        line(out, obis);
        fixed(out, p / 7, 3, 2, b"*A");
        out.push(b')');
    }
    out.extend_from_slice(
        b"\r\n0-0:96.3.10(1)\r\n0-0:17.0.0(999.9*kW)\r\n1-0:31.4.0(999*A)\r\n0-0:96.13.0()",
    );
    out.extend_from_slice(b"\r\n0-1:24.1.0(003)\r\n0-1:96.1.1(");
    for b in b"7FLO4100000123" {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.extend_from_slice(b")\r\n0-1:24.4.0(1)\r\n0-1:24.2.3(");
    tst(out, k / 300 * 300);
    out.extend_from_slice(b")(");
    fixed(out, 1_843_512 + k / 300, 5, 3, b"*m3");
    out.extend_from_slice(b")\r\n0-2:24.1.0(007)\r\n0-2:96.1.1(");
    for b in b"8SAG4100000456" {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.extend_from_slice(b")\r\n0-2:24.2.1(");
    tst(out, k / 300 * 300);
    out.extend_from_slice(b")(");
    fixed(out, 412_087 + k / 300, 5, 3, b"*m3");
    out.extend_from_slice(b")\r\n!");
    let crc = CRC16.checksum(out);
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((crc >> shift) & 15)]);
    }
    out.extend_from_slice(b"\r\n");
}

/// The quickstart meter, stretched to `n` telegrams (one a second).
fn scenario(n: u64) -> Scenario {
    const QUICKSTART: &str = include_str!("../../../scenarios/quickstart.toml");
    let text = QUICKSTART.replace("duration = \"10m\"", &format!("duration = \"{n}s\""));
    assert_ne!(text, QUICKSTART, "the quickstart has `duration = \"10m\"`");
    Scenario::parse("scenarios/quickstart.toml", &text).expect("quickstart is valid")
}

/// Seconds of one call of `f`.
fn time(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50_000);
    // Rounds run the four phases in turn and keep each one's best time, so a busy
    // machine slows all of them alike rather than whichever happened to run last.
    let rounds = 5;

    let mut buf = Vec::with_capacity(2048);
    let mut bare_bytes = 0usize;
    let mut bare = || {
        bare_bytes = 0;
        for k in 0..n {
            bare_telegram(&mut buf, black_box(k));
            bare_bytes += black_box(&buf).len();
        }
    };

    // The stream `verify` reads: the simulation's own telegrams.
    let mut stream = Vec::new();
    let mut s = Simulation::new(&scenario(n));
    while let Some(frame) = s.next_frame() {
        stream.extend_from_slice(&frame.bytes);
    }

    let mut sim_bytes = 0usize;
    let mut sim = || {
        let mut sim = Simulation::new(&scenario(n));
        sim_bytes = 0;
        while let Some(frame) = sim.next_frame() {
            sim_bytes += black_box(&frame.bytes).len();
        }
    };

    // Phase 2 without the encoder: the driver stops at each telegram instant and the
    // meter's readout and state are taken there, into reused buffers as `next_frame` does.
    let mut stepped = 0u64;
    let mut step = || {
        let mut sim = Simulation::new(&scenario(n));
        let (mut readout, mut state) = sim.meter().snapshot();
        stepped = 0;
        while sim.skip_frame().is_some() {
            sim.meter().snapshot_into(&mut readout, &mut state);
            stepped += black_box(&state).import_wh[0] & 1;
        }
    };

    let mut line = Vec::with_capacity(8192);
    let mut truth_bytes = 0usize;
    let mut truth = || {
        let mut sim = Simulation::new(&scenario(n));
        let mut writer = TruthWriter::new();
        truth_bytes = 0;
        while let Some(frame) = sim.next_frame() {
            line.clear();
            writer.write_line(frame, &mut line);
            truth_bytes += black_box(&line).len() + frame.bytes.len();
        }
    };

    let mut found = 0usize;
    let mut verify = || {
        let mut d = Decoder::new();
        found = 0;
        for chunk in stream.chunks(64 * 1024) {
            d.feed_checked(black_box(chunk), &mut |r| found += usize::from(r.is_ok()));
        }
        d.finish_checked(&mut |_| {});
    };
    // `--only PHASE` (bare, sim, truth, verify or step) runs that phase alone, for a profiler.
    let only = std::env::args().skip_while(|a| a != "--only").nth(1);
    let mut best = [f64::INFINITY; 5];
    for _ in 0..rounds {
        let phases: [(&str, &mut dyn FnMut()); 5] = [
            ("bare", &mut bare),
            ("sim", &mut sim),
            ("truth", &mut truth),
            ("verify", &mut verify),
            ("step", &mut step),
        ];
        for (b, (name, f)) in best.iter_mut().zip(phases) {
            if only.as_deref().is_none_or(|o| o == name) {
                *b = b.min(time(f));
            }
        }
    }
    if let Some(o) = only {
        println!(
            "{o} alone: {:.0} telegrams/s",
            n as f64 / best.iter().copied().fold(f64::INFINITY, f64::min)
        );
        return;
    }
    let [bare, sim, truth, verify, step] = best;
    assert_eq!(found as u64, n, "every simulated telegram verifies");
    black_box(stepped);

    let rate = |secs: f64| n as f64 / secs;
    println!(
        "{n} telegrams of the quickstart T211 (gas, water, 2-entry 98.1.0), {} B on average",
        sim_bytes as u64 / n
    );
    println!(
        "1 bare format + CRC loop       {:>10.0} telegrams/s {:>7.1} MB/s ({} B/telegram)",
        rate(bare),
        bare_bytes as f64 / bare / 1e6,
        bare_bytes as u64 / n
    );
    println!(
        "2 Simulation + encode          {:>10.0} telegrams/s  ratio 2/1 = {:.2}",
        rate(sim),
        bare / sim
    );
    println!(
        "3 Simulation + encode + truth  {:>10.0} telegrams/s  ratio 3/1 = {:.2} ({:.0} B truth+telegram)",
        rate(truth),
        bare / truth,
        truth_bytes as f64 / n as f64
    );
    println!(
        "verify (frame + CRC + typed)   {:>10.0} telegrams/s {:>7.1} MB/s  ratio to bare bytes/s = {:.2}",
        rate(verify),
        stream.len() as f64 / verify / 1e6,
        (stream.len() as f64 / verify) / (bare_bytes as f64 / bare)
    );
    println!(
        "step (2 without encoding)      {:>10.0} telegrams/s {:>7.0} ns/telegram",
        rate(step),
        step / n as f64 * 1e9
    );
}
