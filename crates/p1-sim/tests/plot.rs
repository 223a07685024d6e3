//! `p1sim plot` end to end through the real binary: the SVG is well-formed XML holding
//! the series, labels and marks the scenario implies, with the 1.6.0 peak marked at the
//! quarter the truth file names (read from the golden truth record, not from the
//! plotter); a decoded capture plots the same peak; the PNG decodes, has the size asked
//! for and is not blank; bad arguments exit 2 with a clear message.

mod common;

use std::path::Path;

use common::p1sim;

fn plot(args: &[&str], out: &Path) -> Vec<u8> {
    let mut all = vec!["plot"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out.to_str().expect("utf-8")]);
    let o = p1sim(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).expect("picture written")
}

/// Every `<text>` of the SVG: (x, y, content trimmed).
fn texts(svg: &str) -> Vec<(f64, f64, String)> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let num = |a: &str| n.attribute(a).and_then(|v| v.parse().ok()).unwrap_or(-1.0);
            (
                num("x"),
                num("y"),
                n.text().unwrap_or_default().trim().to_owned(),
            )
        })
        .collect()
}

fn has(texts: &[(f64, f64, String)], label: &str) -> bool {
    texts.iter().any(|t| t.2 == label)
}

fn truth(name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(common::root().join(format!("golden/{name}.truth.jsonl")))
        .expect("golden truth");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("truth line"))
        .collect()
}

/// The label the plot must give the peak of `record`'s 1.6.0: its stamp (`YYMMDDhhmmssX`)
/// is the end of the quarter (the default `peak_stamp`), so the quarter starts 15 minutes
/// earlier. Computed from the stamp's digits here, independently of the plotter.
fn expected_peak(record: &serde_json::Value) -> (String, String) {
    let peak = &record["readout"]["demand"]["peak"];
    let at = peak["at"].as_str().expect("peak at");
    let w = peak["w"].as_u64().expect("peak w");
    let (hh, mm): (u32, u32) = (at[6..8].parse().unwrap(), at[8..10].parse().unwrap());
    let end = hh * 60 + mm;
    let start = (end + 24 * 60 - 15) % (24 * 60);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // A quarter ending at 00:00 started on the previous day; not the case in the fixture.
    assert!(
        end >= 15,
        "test assumes the quarter starts on the stamp's day"
    );
    let month = months[at[2..4].parse::<usize>().unwrap() - 1];
    let label = format!(
        "peak {}.{:03} kW, quarter {} {month} {:02}:{:02}-{hh:02}:{mm:02}",
        w / 1000,
        w % 1000,
        &at[4..6],
        start / 60,
        start % 60
    );
    (label, format!("{hh:02}:{mm:02}"))
}

#[test]
fn month_rollover_svg_holds_series_marks_and_the_peak_at_its_quarter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = plot(
        &["scenarios/month-rollover.toml"],
        &dir.path().join("m.svg"),
    );
    let texts = texts(&String::from_utf8(svg).expect("utf-8 SVG"));
    for label in [
        "import 1-0:1.7.0",
        "export 1-0:2.7.0",
        "quarter demand 1-0:1.4.0",
        "month peak 1-0:1.6.0",
        "breaker 1 connected, 0-0:96.3.10",
        "power (kW), export below 0",
        "demand (kW)",
        "month 2026-02",
        "Belgian local time (Europe/Brussels), 2026-01-31 23:40 to 2026-02-01 00:35",
    ] {
        assert!(has(&texts, label), "no {label:?} in {texts:?}");
    }
    let records = truth("month-rollover");
    // The whole run is in the night tariff: the band and its legend are there.
    assert!(records.iter().all(|r| r["readout"]["tariff"] == 2));
    assert!(has(&texts, "tariff 2 (night), 0-0:96.14.0"));
    // The peak the last telegram states, labelled with its quarter, and drawn at the
    // x of the tick of its stamp.
    let (label, tick) = expected_peak(records.last().expect("records"));
    let peak = texts.iter().find(|t| t.2 == label);
    let tick = texts.iter().find(|t| t.2 == tick);
    let (Some(peak), Some(tick)) = (peak, tick) else {
        panic!("no {label:?} or its tick in {texts:?}");
    };
    assert!(
        (peak.0 - tick.0).abs() <= 1.0,
        "peak drawn at x {} but its stamp's tick is at x {}",
        peak.0,
        tick.0
    );
    // No per-phase series unless asked for; with --phases, all three.
    assert!(!has(&texts, "L1 import 1-0:21.7.0"));
    let svg = plot(
        &["scenarios/month-rollover.toml", "--phases"],
        &dir.path().join("p.svg"),
    );
    let texts = self::texts(&String::from_utf8(svg).expect("utf-8"));
    for l in [
        "L1 import 1-0:21.7.0",
        "L2 export 1-0:42.7.0",
        "L3 import 1-0:61.7.0",
    ] {
        assert!(has(&texts, l), "no {l:?}");
    }
}

#[test]
fn a_decoded_capture_plots_the_same_peak() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = plot(
        &["--telegrams", "golden/month-rollover.p1"],
        &dir.path().join("t.svg"),
    );
    let texts = texts(&String::from_utf8(svg).expect("utf-8"));
    let (label, _) = expected_peak(truth("month-rollover").last().expect("records"));
    assert!(has(&texts, &label), "no {label:?} in {texts:?}");
    assert!(has(&texts, "golden/month-rollover.p1 (decoded capture)"));
}

/// The October peak of a Fluvius export, read from the CSV itself: the quarter with the
/// most offtake (day + night), its demand in W (Wh x 4) and its `From`/`Until` times.
fn export_october_peak(csv: &str) -> (u64, String, String, String) {
    let mut best: (u64, String, String, String) = (0, String::new(), String::new(), String::new());
    let mut current: Option<((String, String), String, u64)> = None;
    let mut close = |q: Option<((String, String), String, u64)>| {
        if let Some(((date, from), until, wh)) = q {
            if date.ends_with("/10/2023") && wh * 4 > best.0 {
                best = (wh * 4, date[..2].to_owned(), from, until);
            }
        }
    };
    for line in csv.lines().skip(1) {
        let c: Vec<&str> = line.split(';').collect();
        if c.len() < 10 || !c[7].starts_with("Offtake") {
            continue;
        }
        let key = (c[0].to_owned(), c[1][..5].to_owned());
        let (int, frac) = c[8].split_once(',').expect("kWh with a decimal comma");
        let wh = int.parse::<u64>().expect("kWh") * 1000 + frac.parse::<u64>().expect("Wh");
        match &mut current {
            Some((k, _, sum)) if *k == key => *sum += wh,
            _ => {
                close(current.take());
                current = Some((key, c[3][..5].to_owned(), wh));
            }
        }
    }
    close(current);
    best
}

#[test]
fn a_fluvius_export_plots_as_replay_plays_it() {
    let export = "scenarios/data/fluvius-electricity-2023-10-26.csv";
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = plot(&["--replay", export], &dir.path().join("r.svg"));
    let texts = texts(&String::from_utf8(svg).expect("utf-8"));
    let csv = std::fs::read_to_string(common::root().join(export)).expect("export");
    let (w, day, from, until) = export_october_peak(&csv);
    let label = format!(
        "peak {}.{:03} kW, quarter {day} Oct {from}-{until}",
        w / 1000,
        w % 1000
    );
    assert!(has(&texts, &label), "no {label:?} in {texts:?}");
    assert!(has(&texts, "winter time begins (-1 h)") && has(&texts, "month 2023-11"));
    assert!(has(
        &texts,
        &format!("{export} (Fluvius export, as p1sim replay plays it)")
    ));
}

#[test]
fn dst_prepaid_and_mbus_scenarios_show_their_marks_and_panels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = plot(&["scenarios/dst-autumn.toml"], &dir.path().join("d.svg"));
    let texts = texts(&String::from_utf8(svg).expect("utf-8"));
    assert!(has(&texts, "winter time begins (-1 h)"), "{texts:?}");

    let svg = plot(&["scenarios/prepaid.toml"], &dir.path().join("p.svg"));
    let texts = self::texts(&String::from_utf8(svg).expect("utf-8"));
    let records = truth("prepaid");
    let saw = |code: &str| records.iter().any(|r| r["state"]["breaker"] == code);
    assert!(saw("disconnected") && saw("ready_for_reconnection"));
    for l in [
        "prepaid credit",
        "credit (EUR)",
        "breaker 0 disconnected",
        "breaker 2 ready for reconnection",
        "top up",
    ] {
        assert!(has(&texts, l), "no {l:?} in {texts:?}");
    }

    let svg = plot(&["scenarios/water-first.toml"], &dir.path().join("w.svg"));
    let texts = self::texts(&String::from_utf8(svg).expect("utf-8"));
    assert!(has(&texts, "water (m³)"), "{texts:?}");
}

#[test]
fn long_spans_draw_a_bounded_number_of_telegrams_per_column() {
    // 35 040 quarter-hour instants on a 200-pixel picture: at most 64 per column, so one
    // in three is drawn, which the axis says.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("y.svg");
    let o = p1sim(&[
        "plot",
        "scenarios/year-15min.toml",
        "--size",
        "200x400",
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("plotted 11680 telegrams"), "{err}");
    let quiet = dir.path().join("q.svg");
    let o = p1sim(&["-q", "plot", "-o", quiet.to_str().expect("utf-8")]);
    assert!(o.status.success() && o.stderr.is_empty());
    let svg = std::fs::read_to_string(&out).expect("svg");
    let texts = texts(&svg);
    assert!(
        texts
            .iter()
            .any(|t| t.2.ends_with("; 1 telegram in 3 drawn (one per 45 min)")),
        "{texts:?}"
    );
    // Both DST changes and the twelve month starts of 2026 after January are marked.
    assert!(has(&texts, "summer time begins (+1 h)") && has(&texts, "winter time begins (-1 h)"));
    assert_eq!(
        texts.iter().filter(|t| t.2.starts_with("month 20")).count(),
        12
    );
}

#[test]
fn the_png_decodes_has_the_size_asked_for_and_is_not_blank() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = plot(
        &["scenarios/prepaid.toml", "--size", "800x600"],
        &dir.path().join("p.png"),
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!((info.width, info.height), (800, 600));
    let px = info.buffer_size() / (info.width * info.height) as usize;
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let white = pixels
        .iter()
        .filter(|p| p.iter().take(3).all(|&c| c == 255))
        .count();
    assert!(white < pixels.len() * 95 / 100, "almost all white");
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort();
    colours.dedup();
    assert!(colours.len() > 20, "only {} colours", colours.len());
    // Text was rasterised from the embedded font: black pixels of the title row.
    let title_rows = &pixels[..info.width as usize * 30];
    assert!(title_rows.iter().any(|p| p.iter().take(3).all(|&c| c < 60)));
}

#[test]
fn bad_arguments_exit_2_with_what_was_expected() {
    for (args, expected) in [
        (vec!["plot", "-o", "x.jpg"], ".svg or .png"),
        (
            vec!["plot", "--from", "soon", "-o", "x.svg"],
            "expected a Belgian local time",
        ),
        (
            vec!["plot", "--from", "2030-01-01", "-o", "x.svg"],
            "nothing to draw",
        ),
        (
            vec!["plot", "--size", "10x10", "-o", "x.svg"],
            "between 200",
        ),
    ] {
        let o = p1sim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!common::root().join("x.svg").exists());
    }
    // An output that cannot be written is an output error (3), named.
    let o = p1sim(&["plot", "-o", "/nonexistent-dir/x.svg"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("/nonexistent-dir"), "{err}");
    // A capture without telegrams has nothing to draw.
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.p1");
    std::fs::write(&empty, b"no telegram here\r\n").expect("write");
    let o = p1sim(&[
        "plot",
        "--telegrams",
        empty.to_str().expect("utf-8"),
        "-o",
        dir.path().join("e.svg").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no valid telegram"));
}
