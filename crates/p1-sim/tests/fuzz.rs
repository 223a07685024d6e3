//! Mutation fuzzing on stable Rust, driven by `cargo test`: seeded mutations of the real
//! captures (crates/p1-wire/tests/fixtures) through the push decoder, and of `decode`'s
//! JSON for them through `encode`.
//!
//! Beyond "never panics", each loop checks the property that makes the tool trustworthy:
//! every telegram the decoder accepts re-encodes to exactly its input bytes, and whatever
//! `encode` writes decodes back, whole, with the strict decoder (`encode` refuses
//! the rest with exit 2).
//!
//! CI runs a bounded number of inputs (the two `*_bounded` tests: 100,000 through the
//! decoder, 50,000 through `encode`). The
//! long run is `scripts/fuzz [COUNT]` (10 million by default), or
//! `P1SIM_FUZZ_COUNT=N cargo test --release -p p1-sim --test fuzz -- --ignored --nocapture`;
//! it prints the inputs tried and the panics found. Mutations are drawn from a seeded
//! `ChaCha8Rng` (`P1SIM_FUZZ_SEED`, default 1), so a failure replays exactly.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use p1_wire::Decoder;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Inputs each bounded CI loop tries.
const CI_INPUTS: u64 = 100_000;

/// Every fixture's bytes, valid or not (the invalid ones hold real-world damage).
fn corpus() -> Vec<Vec<u8>> {
    let dir = common::root().join("crates/p1-wire/tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    let out: Vec<Vec<u8>> = names
        .iter()
        .map(|p| std::fs::read(p).expect("fixture"))
        .collect();
    assert!(out.len() >= 84, "{} fixtures", out.len());
    out
}

/// Bytes that matter to the grammar, favoured by the mutations.
const SPECIAL: &[&[u8]] = &[
    b"/",
    b"!",
    b"\r\n",
    b"\r",
    b"\n",
    b"(",
    b")",
    b"*",
    b"\\",
    b"0",
    b"9",
    b"\xff",
    b"\0",
    b"!0000\r\n",
    b"\r\n/",
    b")(",
    b"*kWh",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-1",
    b"99999999999999999999",
    b"\\u0000",
    b"\\r\\n!ABCD\\r\\n/X",
];

/// Applies 1..=4 random edits to `input`: flips, overwrites, inserts, deletions,
/// duplications, splices from `others`, grammar bytes, truncation.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.random_range(1..=4u32) {
        let len = v.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..9u32) {
            0 if len > 0 => v[at] ^= 1 << rng.random_range(0..8u32),
            1 if len > 0 => v[at] = rng.random(),
            2 => {
                let s = SPECIAL[rng.random_range(0..SPECIAL.len())];
                v.splice(at..at, s.iter().copied());
            }
            3 if len > 0 => {
                let end = (at + rng.random_range(1..=64usize)).min(len);
                v.drain(at..end);
            }
            4 if len > 0 => {
                let end = (at + rng.random_range(1..=256usize)).min(len);
                let piece = v[at..end].to_vec();
                let to = rng.random_range(0..=len);
                v.splice(to..to, piece);
            }
            5 => {
                let o = &others[rng.random_range(0..others.len())];
                if !o.is_empty() {
                    let from = rng.random_range(0..o.len());
                    let end = (from + rng.random_range(1..=512usize)).min(o.len());
                    v.splice(at..at, o[from..end].iter().copied());
                }
            }
            6 => v.truncate(at),
            7 if len > 0 => {
                // A long run of one byte (floods, overlong values).
                let b = if rng.random() { v[at] } else { b'/' };
                let n = rng.random_range(1..=2048usize);
                v.splice(at..at, std::iter::repeat_n(b, n));
            }
            _ => {
                let s = SPECIAL[rng.random_range(0..SPECIAL.len())];
                let end = (at + s.len()).min(len);
                v.splice(at..end, s.iter().copied());
            }
        }
    }
    v
}

/// Rewrites the CRC after every `/`..`!` span that has four characters after its `!`,
/// so mutated content gets past the CRC and reaches the object checks.
fn fix_crcs(v: &mut [u8]) {
    let mut from = 0;
    while let Some(start) = v[from..].iter().position(|&b| b == b'/').map(|i| from + i) {
        let Some(bang) = v[start..]
            .iter()
            .position(|&b| b == b'!')
            .map(|i| start + i)
        else {
            return;
        };
        if bang + 5 <= v.len() {
            let crc = format!("{:04X}", p1_wire::crc16(&v[start..=bang]));
            v[bang + 1..bang + 5].copy_from_slice(crc.as_bytes());
        }
        from = bang + 1;
    }
}

/// What a loop found.
#[derive(Debug, Default)]
struct Findings {
    inputs: u64,
    /// Inputs accepted whole (a telegram decoded, or every JSON line encoded).
    accepted: u64,
    panics: u64,
    /// The first few failures: seed-reproducible descriptions.
    examples: Vec<String>,
}

impl Findings {
    fn fail(&mut self, what: String) {
        self.panics += 1;
        if self.examples.len() < 5 {
            self.examples.push(what);
        }
    }
}

/// Decodes `bytes` fed in random chunks; checks positions and that every accepted frame
/// re-encodes to its own bytes.
fn check_decoder(rng: &mut ChaCha8Rng, bytes: &[u8]) -> Result<bool, String> {
    let mut decoder = Decoder::new();
    let mut results = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.random_range(1..=rest.len().min(2048));
        decoder.feed(&rest[..n], &mut |r| results.push(r));
        rest = &rest[n..];
    }
    decoder.finish(&mut |r| results.push(r));
    let any_ok = results.iter().any(Result::is_ok);
    for r in results {
        match r {
            Ok(f) => {
                let got = bytes
                    .get(f.offset..f.offset + f.len)
                    .ok_or("frame out of range")?;
                if f.telegram.to_bytes() != got {
                    return Err(format!("accepted frame at {} does not re-encode", f.offset));
                }
            }
            Err(e) => {
                if e.offset > bytes.len() || e.line == 0 || e.column == 0 {
                    return Err(format!("bad position in {e}"));
                }
            }
        }
    }
    Ok(any_ok)
}

fn fuzz_decoder(count: u64, seed: u64) -> Findings {
    let corpus = corpus();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut found = Findings::default();
    for i in 0..count {
        let base = &corpus[rng.random_range(0..corpus.len())];
        let mut input = mutate(&mut rng, base, &corpus);
        if rng.random() {
            fix_crcs(&mut input);
        }
        let mut chunks = ChaCha8Rng::seed_from_u64(seed ^ i);
        found.inputs += 1;
        match catch_unwind(AssertUnwindSafe(|| check_decoder(&mut chunks, &input))) {
            Ok(Ok(accepted)) => found.accepted += u64::from(accepted),
            Ok(Err(why)) => found.fail(format!("seed {seed} input {i}: {why}")),
            Err(_) => found.fail(format!("seed {seed} input {i}: panic")),
        }
    }
    found
}

/// `decode`'s JSON line for every fixture that holds a telegram.
fn json_corpus() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut out = Vec::new();
    for (k, bytes) in corpus().iter().enumerate() {
        let path = dir.path().join(format!("{k}.p1"));
        std::fs::write(&path, bytes).expect("write");
        let mut json = Vec::new();
        let _ = p1_sim::codec::decode(path.to_str().expect("utf-8"), &mut json);
        out.extend(
            json.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    assert!(out.len() >= 84);
    out
}

/// Changes one leaf of a JSON object (a string mutated as bytes, or a number set to an
/// edge value), so the input parses and reaches the encoder and its round-trip check.
fn mutate_json_leaf(rng: &mut ChaCha8Rng, line: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    use serde_json::Value;
    let Ok(mut v) = serde_json::from_slice::<Value>(line) else {
        return line.to_vec();
    };
    // Drop `readout` half the time so the `lines` path is taken, else `lines`.
    if let Value::Object(m) = &mut v {
        if rng.random() {
            m.remove("readout");
        } else {
            m.remove("lines");
        }
    }
    let mut paths = Vec::new();
    collect_paths(&v, String::new(), &mut paths);
    if paths.is_empty() {
        return line.to_vec();
    }
    let path = &paths[rng.random_range(0..paths.len())];
    if let Some(leaf) = v.pointer_mut(path) {
        *leaf = match leaf {
            Value::String(t) => {
                let bytes = mutate(rng, t.as_bytes(), others);
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => {
                const EDGES: [i64; 7] = [0, -1, 1, 9_999, 1_000_000, i64::MAX, i64::MIN];
                Value::from(EDGES[rng.random_range(0..EDGES.len())])
            }
        };
    }
    serde_json::to_vec(&v).unwrap_or_else(|_| line.to_vec())
}

/// JSON pointers of every leaf of `v`.
fn collect_paths(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| collect_paths(x, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| collect_paths(x, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

/// Runs `encode` on `input`; whatever it writes must decode back whole and valid.
fn check_encode(input: &[u8]) -> Result<bool, String> {
    let mut out = Vec::new();
    let r = p1_sim::codec::encode_stream("fuzz", &mut &input[..], &mut out);
    let frames = p1_wire::decode_all(&out);
    let whole: usize = frames.iter().flatten().map(|f| f.len).sum();
    if frames.iter().any(Result::is_err) || whole != out.len() {
        return Err(format!("encode wrote bytes verify rejects (result {r:?})"));
    }
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.exit_code() == 2 => Ok(false),
        Err(e) => Err(format!("exit {}: {e}", e.exit_code())),
    }
}

fn fuzz_encode(count: u64, seed: u64) -> Findings {
    let corpus = json_corpus();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut found = Findings::default();
    for i in 0..count {
        // One to three objects, one per line, so refusals after good lines are tried too.
        let mut input = Vec::new();
        for _ in 0..rng.random_range(1..=3u32) {
            let base = &corpus[rng.random_range(0..corpus.len())];
            let line = match rng.random_range(0..4u32) {
                0 => base.clone(),
                1 => mutate(&mut rng, base, &corpus),
                _ => mutate_json_leaf(&mut rng, base, &corpus),
            };
            input.extend_from_slice(&line);
            input.push(b'\n');
        }
        found.inputs += 1;
        match catch_unwind(AssertUnwindSafe(|| check_encode(&input))) {
            Ok(Ok(accepted)) => found.accepted += u64::from(accepted),
            Ok(Err(why)) => found.fail(format!("seed {seed} input {i}: {why}")),
            Err(_) => found.fail(format!("seed {seed} input {i}: panic")),
        }
    }
    found
}

fn assert_clean(what: &str, f: &Findings) {
    println!(
        "{what}: {} inputs ({} accepted), {} panics or failures",
        f.inputs, f.accepted, f.panics
    );
    assert_eq!(f.panics, 0, "{what}: {:#?}", f.examples);
}

#[test]
fn decoder_bounded() {
    assert_clean("decoder", &fuzz_decoder(CI_INPUTS, 1));
}

#[test]
fn encode_bounded() {
    // Each input is parsed, encoded and decoded again: half as many keep CI time modest.
    assert_clean("encode", &fuzz_encode(CI_INPUTS / 2, 1));
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The long run: `scripts/fuzz [COUNT]` (see the module docs).
#[test]
#[ignore = "long: scripts/fuzz runs it"]
fn long_run() {
    let count = env_u64("P1SIM_FUZZ_COUNT", 10_000_000);
    let seed = env_u64("P1SIM_FUZZ_SEED", 1);
    // Silence the default hook: panics are counted and the first few described.
    std::panic::set_hook(Box::new(|_| {}));
    let decoder = fuzz_decoder(count, seed);
    let encode = fuzz_encode(count / 10, seed);
    let _ = std::panic::take_hook();
    println!(
        "fuzz (seed {seed}): decoder {} inputs ({} accepted), {} panics or failures; \
         encode {} inputs ({} accepted), {} panics or failures",
        decoder.inputs,
        decoder.accepted,
        decoder.panics,
        encode.inputs,
        encode.accepted,
        encode.panics
    );
    for e in decoder.examples.iter().chain(&encode.examples) {
        println!("  {e}");
    }
    assert_eq!(decoder.panics + encode.panics, 0);
}
