//! The headless panel script (`p1sim panel --script`): steps separated by `;` or new
//! lines, parsed with their column so a mistake is reported where it is.
//!
//! ```text
//! press [DURATION]        short press, held DURATION (default 200ms); time moves on by it
//! hold [DURATION]         long press, held DURATION (default 3s); time moves on by it
//! wait DURATION           time moves on
//! error on|off            the F (serious error) indicator
//! network on [BARS]|off   network registration, with the signal strength (default max)
//! ```
//!
//! DURATION is one or more `<integer><unit>` with unit `ms`, `s`, `m` or `h` (`1m30s`).

use std::fmt;

/// Default hold time of `press`, ms.
pub const DEFAULT_PRESS_MS: i64 = 200;
/// Default hold time of `hold`, ms (the reconnection gesture).
pub const DEFAULT_HOLD_MS: i64 = p1_meter::BUTTON_HOLD_MS;

/// One script step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A press released after `held_ms`.
    Press {
        /// Hold time, ms.
        held_ms: i64,
        /// Written as `hold`.
        long: bool,
    },
    /// Time passes.
    Wait {
        /// ms.
        ms: i64,
    },
    /// The F indicator.
    Error(bool),
    /// Network registration and signal bars (`None` = all bars).
    Network {
        /// Registered.
        registered: bool,
        /// Bars.
        signal: Option<u8>,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Press { held_ms, long } => {
                write!(
                    f,
                    "{} {}",
                    if *long { "hold" } else { "press" },
                    ms_text(*held_ms)
                )
            }
            Step::Wait { ms } => write!(f, "wait {}", ms_text(*ms)),
            Step::Error(on) => write!(f, "error {}", if *on { "on" } else { "off" }),
            Step::Network {
                registered: true,
                signal: Some(s),
            } => write!(f, "network on {s}"),
            Step::Network {
                registered: true,
                signal: None,
            } => f.write_str("network on"),
            Step::Network { .. } => f.write_str("network off"),
        }
    }
}

/// `1500` -> `1.500s`, `3000` -> `3s`, `200` -> `200ms`.
pub fn ms_text(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// A script mistake: 1-based column in the script text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was expected.
    pub message: String,
}

/// Parses a duration such as `10s`, `500ms`, `1m30s`.
fn duration(word: &str) -> Result<i64, String> {
    let bad = || format!("expected a duration such as 10s, 500ms or 1m30s, found `{word}`");
    let mut total: i64 = 0;
    let mut rest = word;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return Err(bad());
        };
        rest = &rest[len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration `{word}` is too long"))?;
    }
    Ok(total)
}

/// Parses the whole script.
pub fn parse(text: &str) -> Result<Vec<Step>, ScriptError> {
    let mut steps = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let mut offset = 0;
        for part in line.split(';') {
            let part_start = offset;
            offset += part.len() + 1;
            // Words with their 1-based columns.
            let mut words: Vec<(usize, &str)> = Vec::new();
            let mut col = part_start;
            for w in part.split(' ') {
                if !w.trim().is_empty() {
                    let lead = w.len() - w.trim_start().len();
                    words.push((col + lead + 1, w.trim()));
                }
                col += w.len() + 1;
            }
            let Some(&(c0, verb)) = words.first() else {
                continue;
            };
            let err = |column: usize, message: String| ScriptError {
                line: line_no + 1,
                column,
                message,
            };
            let arg = |i: usize| words.get(i).copied();
            let dur = |i: usize, default: Option<i64>| match (arg(i), default) {
                (Some((c, w)), _) => duration(w).map_err(|m| err(c, m)),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(err(
                    c0,
                    format!("`{verb}` needs a duration, e.g. `{verb} 10s`"),
                )),
            };
            let max_args = match verb {
                "press" | "hold" | "wait" | "error" => 2,
                "network" => 3,
                _ => 0,
            };
            if let Some(&(c, w)) = words.get(max_args.max(1)) {
                if max_args > 0 {
                    return Err(err(c, format!("unexpected `{w}` after `{verb}`")));
                }
            }
            let step = match verb {
                "press" => Step::Press {
                    held_ms: dur(1, Some(DEFAULT_PRESS_MS))?,
                    long: false,
                },
                "hold" => Step::Press {
                    held_ms: dur(1, Some(DEFAULT_HOLD_MS))?,
                    long: true,
                },
                "wait" => Step::Wait { ms: dur(1, None)? },
                "error" => match arg(1) {
                    Some((_, "on")) => Step::Error(true),
                    Some((_, "off")) => Step::Error(false),
                    other => {
                        let c = other.map_or(c0, |(c, _)| c);
                        return Err(err(c, "expected `error on` or `error off`".into()));
                    }
                },
                "network" => match (arg(1), arg(2)) {
                    (Some((_, "on")), None) => Step::Network {
                        registered: true,
                        signal: None,
                    },
                    (Some((_, "on")), Some((c, n))) => match n.parse::<u8>() {
                        Ok(s) => Step::Network {
                            registered: true,
                            signal: Some(s),
                        },
                        Err(_) => {
                            return Err(err(c, format!("expected signal bars 0-9, found `{n}`")));
                        }
                    },
                    (Some((_, "off")), None) => Step::Network {
                        registered: false,
                        signal: None,
                    },
                    (other, _) => {
                        let c = other.map_or(c0, |(c, _)| c);
                        return Err(err(
                            c,
                            "expected `network on [BARS]` or `network off`".into(),
                        ));
                    }
                },
                _ => {
                    return Err(err(
                        c0,
                        format!(
                            "unknown step `{verb}`: expected press, hold, wait, error or network"
                        ),
                    ));
                }
            };
            steps.push(step);
        }
    }
    if steps.is_empty() {
        return Err(ScriptError {
            line: 1,
            column: 1,
            message: "the script has no steps".into(),
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let steps = parse("press; press; wait 10s; hold 3s").expect("valid");
        assert_eq!(
            steps,
            [
                Step::Press {
                    held_ms: 200,
                    long: false
                },
                Step::Press {
                    held_ms: 200,
                    long: false
                },
                Step::Wait { ms: 10_000 },
                Step::Press {
                    held_ms: 3000,
                    long: true
                },
            ]
        );
    }

    #[test]
    fn parses_every_form() {
        let steps =
            parse("press 1s\nhold\nwait 1m30s; wait 250ms\nerror on; network on 3; network off")
                .expect("valid");
        assert_eq!(steps.len(), 7);
        assert_eq!(steps[2], Step::Wait { ms: 90_000 });
        assert_eq!(steps[3], Step::Wait { ms: 250 });
        assert_eq!(
            steps[5],
            Step::Network {
                registered: true,
                signal: Some(3)
            }
        );
    }

    #[test]
    fn reports_the_column_of_a_mistake() {
        let e = parse("press; wiat 10s").expect_err("typo");
        assert_eq!((e.line, e.column), (1, 8));
        assert!(e.message.contains("unknown step `wiat`"));
        let e = parse("press; wait 10x").expect_err("bad unit");
        assert_eq!((e.line, e.column), (1, 13));
        let e = parse("wait").expect_err("no duration");
        assert_eq!((e.line, e.column), (1, 1));
        let e = parse("press 1s 2s").expect_err("extra word");
        assert_eq!((e.line, e.column), (1, 10));
        assert!(parse(" ; ").is_err());
    }
}
