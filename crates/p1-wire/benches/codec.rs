//! Throughput of the encoder and the verifying decoder (`cargo bench -p p1-wire`).
//!
//! Encodes a representative large T211 readout (gas, water, full 98.1.0 history) and a
//! small S211 one, and decodes a 10 000-telegram stream of real captures; prints the
//! median of several runs. A benchmark, not a test: nothing here asserts a speed.

// A benchmark measures real time; the crate's clock ban (clippy.toml) is for its library.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use p1_wire::{Decoder, Readout, decode_all};

const CAPTURES: &[&[u8]] = &[
    include_bytes!("../tests/fixtures/fluvius-t211-arduinodsmrtest-1.txt"),
    include_bytes!("../tests/fixtures/fluvius-t211-creadme-1.txt"),
    include_bytes!("../tests/fixtures/fluvius-s211-dsmrhub-1.txt"),
    include_bytes!("../tests/fixtures/fluvius-s211-p1logger-1.txt"),
];

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `f` (which processes `items` items of `bytes` bytes in total) 7 times.
fn bench(name: &str, items: usize, bytes: usize, mut f: impl FnMut()) {
    f();
    let secs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let s = median(secs);
    println!(
        "{name:<34} {:>10.0} telegrams/s {:>8.1} MB/s",
        items as f64 / s,
        bytes as f64 / s / 1e6
    );
}

fn readouts() -> Vec<Readout> {
    CAPTURES
        .iter()
        .map(|c| {
            decode_all(c)[0]
                .clone()
                .map(|f| f.readout)
                .expect("capture decodes")
        })
        .collect()
}

fn main() {
    let rs = readouts();
    let n = 10_000;
    for (r, label) in rs.iter().zip([
        "T211 50217 13-month",
        "T211 50217 gas",
        "S211 50217",
        "S211 50215",
    ]) {
        let size = r.to_bytes().len();
        let mut buf = Vec::with_capacity(4096);
        bench(&format!("encode {label} ({size} B)"), n, n * size, || {
            for _ in 0..n {
                buf.clear();
                black_box(r).write_to(&mut buf);
                black_box(&buf);
            }
        });
    }
    let mut stream = Vec::new();
    for i in 0..n {
        stream.extend_from_slice(CAPTURES[i % CAPTURES.len()]);
    }
    bench("verify (decode + CRC + typed) mix", n, stream.len(), || {
        let mut ok = 0usize;
        let mut d = Decoder::new();
        for chunk in stream.chunks(64 * 1024) {
            d.feed_checked(black_box(chunk), &mut |r| ok += usize::from(r.is_ok()));
        }
        d.finish_checked(&mut |_| {});
        assert_eq!(ok, n);
    });
}
