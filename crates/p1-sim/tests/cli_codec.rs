//! The codec commands end to end, through the real binary: `decode | encode` reproduces
//! every valid capture byte for byte; `verify` names each invalid one's problem and sets
//! the exit code; bad JSON input to `encode` gets its position and exit status 2.

mod common;

use common::p1sim_with_stdin;

#[test]
fn decode_then_encode_reproduces_every_valid_capture() {
    for (name, bytes) in common::valid_captures() {
        let decoded = p1sim_with_stdin(&["decode", "-"], &bytes);
        assert!(decoded.status.success(), "{name}: decode failed");
        let encoded = p1sim_with_stdin(&["encode", "-"], &decoded.stdout);
        assert!(encoded.status.success(), "{name}: encode failed");
        assert!(
            encoded.stdout == bytes,
            "{name}: bytes differ after decode | encode"
        );
    }
}

#[test]
fn a_stream_of_all_captures_with_garbage_verifies() {
    let mut stream = b"\x00\xff garbage".to_vec();
    let captures = common::valid_captures();
    for (_, bytes) in &captures {
        stream.extend_from_slice(bytes);
    }
    let out = p1sim_with_stdin(&["verify"], &stream);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches(": OK ").count(), captures.len());
    assert!(
        text.contains("10 byte(s) outside telegrams skipped"),
        "{text}"
    );
}

#[test]
fn verify_reports_what_is_wrong_and_fails() {
    let dir = common::root().join("crates/p1-wire/tests/fixtures");
    let edited = dir.join("fluvius-s211-dsmrinjector-1.txt");
    let out = p1sim_with_stdin(&["verify", edited.to_str().expect("path")], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CRC mismatch: computed BF7D over '/'..'!', telegram says B5E3"),
        "{text}"
    );

    let (_, good) = &common::valid_captures()[0];
    let lf_only: Vec<u8> = good.iter().copied().filter(|&b| b != b'\r').collect();
    let out = p1sim_with_stdin(&["verify", "-"], &lf_only);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("(line 1, column 18): expected CR LF after the identification, found \"\\n"),
        "{text}"
    );

    let out = p1sim_with_stdin(&["verify", "-"], b"no telegram here");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no telegram found"));
}

#[test]
fn encode_rejects_bad_json_with_its_position() {
    let out = p1sim_with_stdin(&["encode", "-"], b"\n{\"offset\": 0, \"lines\": [}\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("p1sim: <stdin>:2:"), "{err}");

    let out = p1sim_with_stdin(&["verify", "/nonexistent/file.p1"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_flood_of_slashes_gives_one_error_not_one_per_byte() {
    // 1 MB of '/' then a real telegram: before, verify printed one error per byte.
    let (_, capture) = common::valid_captures().remove(0);
    let mut input = vec![b'/'; 1 << 20];
    input.extend_from_slice(&capture);
    let out = p1sim_with_stdin(&["verify"], &input);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("telegram 1 at offset 0: offset 0 (line 1, column 1): expected a telegram, found 1048576 byte(s) in which 1048576 '/' start none"),
        "{text}"
    );
    assert!(text.contains("telegram 2 at offset 1048576: OK"), "{text}");
    let decoded = p1sim_with_stdin(&["decode", "-"], &input);
    assert_eq!(String::from_utf8_lossy(&decoded.stdout).lines().count(), 2);
}
