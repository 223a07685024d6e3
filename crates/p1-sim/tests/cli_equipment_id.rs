//! A scenario's equipment id is 14 ASCII characters: an id with a non-ASCII character is
//! refused with that character and its position named, not with a count of 14.

mod common;

use std::process::Command;

fn run_with_id(id: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(common::root().join("scenarios/quickstart.toml"))
        .expect("quickstart");
    let text = text.replace("\"1SAG3100000292\"", &format!("\"{id}\""));
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_p1sim"))
        .args(["run", path.to_str().expect("utf-8"), "--out", "/dev/null"])
        .output()
        .expect("run p1sim");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_non_ascii_equipment_id_names_the_character_not_a_count() {
    // 14 characters, 15 bytes.
    let (code, err) = run_with_id("1SAG310000029é");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("has the non-ASCII character `é` at position 14"),
        "{err}"
    );
    assert!(!err.contains("has 14"), "{err}");
    assert!(err.contains("s.toml:"), "{err}");

    let (code, err) = run_with_id("1SAG31000002");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`1SAG31000002` has 12"), "{err}");
}
