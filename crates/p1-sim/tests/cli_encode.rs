//! `p1sim encode` refuses every telegram the strict decoder would not give back exactly,
//! naming the JSON line and field, and writes nothing of it: values that smuggle a CRC
//! trailer and a second telegram into the stream, overlong values, more history entries
//! than the table allows, readout values the wire cannot carry. Its error positions are
//! printed once, in `file:line:column` form.

mod common;

use common::p1sim_with_stdin;

use serde_json::{Value, json};

/// `decode`'s JSON object for a real capture that has a demand history.
fn decoded(name: &str) -> Value {
    let (_, bytes) = common::valid_captures()
        .into_iter()
        .find(|(n, _)| n == name)
        .expect("capture");
    let o = p1sim_with_stdin(&["decode", "-"], &bytes);
    assert!(o.status.success());
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

const CAPTURE: &str = "fluvius-s211-homebridgep1-2.txt";

fn lines_only(mut v: Value) -> Value {
    v.as_object_mut().expect("object").remove("readout");
    v
}

fn readout_only(v: &Value) -> Value {
    json!({"offset": 0, "readout": v["readout"].clone()})
}

/// Asserts `encode` refuses `objects[bad]` with exit 2, the line and field named, and
/// wrote exactly the telegrams before it.
fn assert_refused(objects: &[Value], bad: usize, field: &str) {
    let mut input = Vec::new();
    for o in objects {
        input.extend_from_slice(o.to_string().as_bytes());
        input.push(b'\n');
    }
    let o = p1sim_with_stdin(&["encode", "-"], &input);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let want = format!("p1sim: <stdin>:{}:1: field {field}", bad + 1);
    assert!(err.starts_with(&want), "expected {want:?}, got {err}");
    assert!(err.contains("would not decode back"), "{err}");
    // What was written before the refused object is whole and valid, and nothing after.
    let frames = p1_wire::decode_all(&o.stdout);
    assert_eq!(frames.len(), bad, "{err}");
    assert!(frames.iter().all(Result::is_ok));
    let whole: usize = frames.iter().flatten().map(|f| f.len).sum();
    assert_eq!(
        whole,
        o.stdout.len(),
        "bytes outside telegrams were written"
    );
}

#[test]
fn a_value_smuggling_a_trailer_and_a_second_telegram_is_refused() {
    let good = lines_only(decoded(CAPTURE));
    let mut bad = good.clone();
    let value = &mut bad["lines"][3]["values"][0];
    *value = json!(format!("{}\r\n!ABCD\r\n/X", value.as_str().expect("text")));
    assert_refused(&[good.clone(), bad], 1, "lines[3] (1-0:1.8.1)");

    // Even with a trailer whose CRC is right, the rest would be read as another telegram.
    let mut lines: Vec<p1_wire::Line> =
        serde_json::from_value(good["lines"].clone()).expect("lines");
    let last = lines.len() - 1;
    lines[last].values = vec!["0".into()];
    let mut body = Vec::new();
    p1_wire::Telegram {
        identification: good["identification"].as_str().expect("id").into(),
        lines,
    }
    .write_body(&mut body);
    let crc = p1_wire::crc16(&body);
    let mut bad = good.clone();
    bad["lines"][last]["values"][0] = json!(format!(
        "0)\r\n!{crc:04X}\r\n/FAKE5\r\n\r\n0-0:96.1.4(50217"
    ));
    assert_refused(&[bad], 0, &format!("lines[{last}]"));
}

#[test]
fn an_overlong_value_and_an_overlong_identification_are_refused() {
    let good = lines_only(decoded(CAPTURE));
    let mut bad = good.clone();
    bad["lines"][15]["values"][0] = json!("3".repeat(20_000));
    assert_refused(&[good.clone(), good.clone(), bad], 2, "lines[15]");
    let mut bad = good.clone();
    bad["identification"] = json!("FLU5".repeat(3000));
    assert_refused(&[bad], 0, "identification");
}

#[test]
fn readouts_the_wire_cannot_carry_are_refused() {
    let good = decoded(CAPTURE);
    let mut h50 = readout_only(&good);
    let history = h50["readout"]["demand"]["history"]
        .as_array()
        .expect("history")
        .clone();
    assert!(!history.is_empty(), "the capture has a demand history");
    let fifty: Vec<Value> = history.iter().cycle().take(50).cloned().collect();
    h50["readout"]["demand"]["history"] = json!(fifty);
    assert_refused(
        &[readout_only(&good), h50],
        1,
        "readout.demand.history (the 0-0:98.1.0 line)",
    );

    let mut huge = readout_only(&good);
    huge["readout"]["import_wh"][0] = json!(1_000_000_000_000u64);
    assert_refused(&[huge], 0, "readout.import_wh[0]");

    let mut id = readout_only(&good);
    id["readout"]["equipment_id"] = json!("1SAG\r\n!0000\r\n/");
    assert_refused(&[id], 0, "readout.equipment_id (the 0-0:96.1.1 line)");
}

#[test]
fn every_capture_still_encodes_to_its_own_bytes_from_lines_and_from_readout() {
    for (name, bytes) in common::valid_captures() {
        let o = p1sim_with_stdin(&["decode", "-"], &bytes);
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        for input in [lines_only(v.clone()), readout_only(&v)] {
            let o = p1sim_with_stdin(&["encode", "-"], format!("{input}\n").as_bytes());
            assert!(
                o.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let back = p1_wire::decode_all(&o.stdout);
            assert_eq!(back.len(), 1, "{name}");
        }
    }
}

#[test]
fn json_errors_give_their_position_once() {
    let o = p1sim_with_stdin(&["encode", "-"], b"\n{\"offset\": x}\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("p1sim: <stdin>:2:12: expected value"),
        "{err}"
    );
    assert!(!err.contains(" at line "), "position repeated: {err}");

    let o = p1sim_with_stdin(
        &["encode", "-"],
        b"\n{\"offset\": 0, \"identification\": \"\xff\"}\n",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("p1sim: <stdin>:2:34: expected UTF-8"),
        "{err}"
    );
}
