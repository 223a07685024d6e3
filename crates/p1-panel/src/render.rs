//! [`render_text`]: a [`PanelView`] as a plain-text frame, ASCII only, always the same
//! number of lines and columns, for snapshot tests, `p1sim panel --script` and the TUI.
//!
//! Like the segments of a real LCD, an indicator that is dark is printed as blanks of the
//! same width, so every indicator keeps its column.

use crate::view::{Blink, PanelView, ScreenMode, Tariff};

/// Inner width of the LCD box.
const W: usize = 44;

fn boxed(out: &mut String, content: &str) {
    out.push_str("| ");
    out.push_str(content);
    for _ in content.chars().count()..W {
        out.push(' ');
    }
    out.push_str(" |\n");
}

/// `text` when lit, blanks of the same width when dark.
fn seg(lit: bool, text: &str) -> String {
    if lit {
        text.to_owned()
    } else {
        " ".repeat(text.chars().count())
    }
}

/// The frame: the LCD box (screen and indicators), then one line per LED.
pub fn render_text(v: &PanelView) -> String {
    let mut out = String::new();
    let rule = format!("+{}+\n", "-".repeat(W + 2));
    out.push_str(&rule);
    let lit = v.mode != ScreenMode::Off;
    if !lit {
        let why = if v.powered {
            "(screen dark)"
        } else {
            "(no mains power)"
        };
        boxed(&mut out, "");
        boxed(&mut out, &format!("{why:^W$}"));
        for _ in 0..4 {
            boxed(&mut out, "");
        }
    } else {
        let (code, value, dim) = match &v.screen {
            Some(s) => {
                let value = if s.unit.is_empty() {
                    s.value.clone()
                } else {
                    format!("{} {}", s.value, s.unit)
                };
                (s.code.clone(), value, s.dim)
            }
            None => (String::new(), String::new(), false),
        };
        let dim = seg(dim, "DIM");
        boxed(&mut out, &format!("{code:<w$}{dim}", w = W - 3));
        boxed(&mut out, &format!("{value:>w$}", w = W - 4));
        let i = &v.indicators;
        let tariff = match i.tariff {
            Tariff::Day => "T1   ",
            Tariff::Night => "   T2",
        };
        let mut phases = String::new();
        for p in &i.phases {
            let label = if p.asterisk {
                format!("{}*", p.name)
            } else {
                format!("{} ", p.name)
            };
            phases.push_str(&seg(p.lit, &label));
            phases.push(' ');
        }
        boxed(
            &mut out,
            &format!(
                "{tariff}  {phases:<12}  {} {}  {}",
                seg(i.importing, "P+"),
                seg(i.exporting, "P-"),
                seg(i.error, "F"),
            ),
        );
        let bars: String = (0..i.signal_max)
            .map(|k| if k < i.signal { '#' } else { '.' })
            .collect();
        boxed(
            &mut out,
            &format!(
                "P1 {:<3}  {}  signal {bars} {}/{}",
                if i.port_enabled { "on" } else { "off" },
                seg(i.network_registered, "NET"),
                i.signal,
                i.signal_max,
            ),
        );
        let bd = match i.breaker_disconnect {
            Blink::Off => "",
            Blink::Steady => "BD",
            Blink::Blinking => "BD (blinking)",
        };
        boxed(
            &mut out,
            &format!(
                "{}  breaker {:<6}  {bd}",
                seg(i.prepaid, "prepaid"),
                if i.breaker_closed { "closed" } else { "open" },
            ),
        );
        boxed(&mut out, "");
    }
    out.push_str(&rule);
    for (name, led, unit) in [
        ("control LED", &v.control_led, "kWh"),
        ("blind LED  ", &v.blind_led, "kvarh"),
    ] {
        out.push_str(&format!(
            "  {name} ({}) {:>8} pulses at {} imp/{unit}\n",
            if led.lit { '*' } else { ' ' },
            led.pulses,
            led.constant,
        ));
    }
    out
}
