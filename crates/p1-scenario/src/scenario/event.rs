//! `[[event]]`: the raw table, the action table (which parameters each action needs or
//! accepts) and the conversion into time-ordered [`Event`]s.

use std::fmt;
use std::ops::Range;

use p1_meter::{Command, SimTime};
use p1_wire::{Breaker, Version};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::meter::{RawMbus, mbus_config, mbus_span};
use super::{Ctx, check_channel};
use crate::error::{ScenarioError, suggest};
use crate::loads::LoadSpec;
use crate::schema::{Fuse, Limiter};
use crate::units::{At, Duration, Money, Ratio};

/// The action table: every event action (`action = "snake_case_name"`) with the
/// parameters it needs and those it also accepts. A new action is one entry here, one arm
/// in [`convert_action`] (or [`meter_command`]) and its section in `docs/scenarios.md`.
macro_rules! actions {
    ($($variant:ident: needs [$($need:ident),*], accepts [$($opt:ident),*];)+) => {
        /// Event actions.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub(crate) enum Action {
            $($variant,)+
        }

        impl Action {
            /// Every action, in table order.
            #[cfg(test)]
            const ALL: &'static [Action] = &[$(Action::$variant),+];

            /// The parameters this action needs, and those it accepts besides.
            fn params(self) -> (&'static [&'static str], &'static [&'static str]) {
                match self {
                    $(Action::$variant => (&[$(stringify!($need)),*], &[$(stringify!($opt)),*]),)+
                }
            }
        }
    };
}

actions! {
    RemoteDisconnect: needs [], accepts [];
    Release: needs [], accepts [];
    RemoteConnect: needs [], accepts [];
    Button: needs [], accepts [held];
    SetLimiter: needs [limiter_kw], accepts [];
    SetFuse: needs [fuse_a], accepts [];
    TopUp: needs [amount_eur], accepts [];
    PortDisable: needs [], accepts [];
    PortEnable: needs [], accepts [];
    PowerFail: needs [], accepts [];
    PowerRestore: needs [], accepts [];
    MbusCouple: needs [device], accepts [];
    MbusDecouple: needs [channel], accepts [];
    MbusRemove: needs [channel], accepts [];
    MbusReplace: needs [channel, device], accepts [];
    GasValve: needs [channel, valve], accepts [];
    ClockJump: needs [by], accepts [];
    TextMessage: needs [text], accepts [];
    LoadEnable: needs [load], accepts [];
    LoadDisable: needs [load], accepts [];
    LoadScale: needs [load, factor], accepts [];
    Press: needs [], accepts [held];
    Hold: needs [], accepts [held];
    Error: needs [on], accepts [];
    Network: needs [registered], accepts [signal];
}

/// The parameters an `[[event]]` may carry (which ones apply is the action table's
/// business): declared once, giving both the raw struct's fields and their names.
macro_rules! event_params {
    ($($name:ident: $ty:ty,)+) => {
        /// One `[[event]]`.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct RawEvent {
            pub at: Spanned<At>,
            pub action: Spanned<Action>,
            $(pub $name: Option<Spanned<$ty>>,)+
        }

        impl RawEvent {
            /// Names of all parameters.
            #[cfg(test)]
            const PARAMS: &'static [&'static str] = &[$(stringify!($name)),+];

            /// The parameters written in this event, in declaration order, with their spans.
            fn given(&self) -> Vec<(&'static str, Range<usize>)> {
                let mut v = Vec::new();
                $(if let Some(p) = &self.$name {
                    v.push((stringify!($name), p.span()));
                })+
                v
            }
        }
    };
}

event_params! {
    held: Duration,
    limiter_kw: Limiter,
    fuse_a: Fuse,
    amount_eur: Money,
    channel: i64,
    device: RawMbus,
    by: Duration,
    text: String,
    load: String,
    factor: Ratio,
    valve: Valve,
    on: bool,
    registered: bool,
    signal: i64,
}

/// A valve or breaker state: 0, 1, 2 or `"disconnected"`, `"connected"`, `"ready"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Valve(pub Breaker);

impl<'de> Deserialize<'de> for Valve {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Valve, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Valve;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0, 1, 2, \"disconnected\", \"connected\" or \"ready\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Valve, E> {
                u8::try_from(v)
                    .ok()
                    .and_then(Breaker::from_code)
                    .map(Valve)
                    .ok_or_else(|| E::custom(format!("a valve state is 0, 1 or 2, found {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Valve, E> {
                match v {
                    "disconnected" => Ok(Valve(Breaker::Disconnected)),
                    "connected" => Ok(Valve(Breaker::Connected)),
                    "ready" => Ok(Valve(Breaker::ReadyForReconnection)),
                    _ => Err(E::custom(format!(
                        "unknown valve state `{v}`: expected \"disconnected\", \"connected\" \
                         or \"ready\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Something that happens at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: SimTime,
    /// What.
    pub action: EventAction,
    /// Line of the `[[event]]` in the scenario file.
    pub line: usize,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// A command to the meter.
    Meter(Command),
    /// The named load starts contributing.
    LoadEnable(String),
    /// The named load stops contributing.
    LoadDisable(String),
    /// The named load's power and flow are multiplied by `permille` / 1000.
    LoadScale {
        /// Load name.
        load: String,
        /// Factor, per-mille.
        permille: i64,
    },
    /// Something done at the front panel.
    Panel(PanelAction),
}

/// What a panel event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelAction {
    /// The button is released at the event's instant after being held `held_ms`
    /// (`press` and `hold`); the panel decides whether the meter gets a
    /// [`Command::Button`] (only while the breaker is ready for reconnection).
    Press {
        /// How long the button was held, ms.
        held_ms: i64,
    },
    /// The `F` (serious error) indicator is set or cleared.
    Error(bool),
    /// Network registration and signal bars.
    Network {
        /// Registered on the communication network.
        registered: bool,
        /// Signal bars; `None`: all bars while registered, none otherwise.
        signal: Option<u8>,
    },
}

/// Default hold of a `press` event, ms: a short press.
pub const DEFAULT_PRESS_MS: i64 = 200;

/// The `held` of a button event, positive, or `default`.
fn held(ctx: &Ctx<'_>, e: &RawEvent, default: i64) -> Result<i64, ScenarioError> {
    match &e.held {
        Some(h) if h.get_ref().0 <= 0 => {
            Err(ctx.err(&h.span(), "the button is held for a positive time"))
        }
        Some(h) => Ok(h.get_ref().0),
        None => Ok(default),
    }
}

/// What events are checked against: the scenario's start, loads, the meter's firmware (for
/// coupled devices) and the panel's signal bars.
pub(super) struct EventContext<'a> {
    pub start: SimTime,
    pub loads: &'a [LoadSpec],
    pub firmware: Version,
    pub signal_max: u8,
}

/// Converts one `[[event]]` into an [`Event`] appended to `out` (sorted later).
pub(super) fn convert_event(
    ctx: &Ctx<'_>,
    event: &Spanned<RawEvent>,
    with: &EventContext<'_>,
    out: &mut Vec<Event>,
) -> Result<(), ScenarioError> {
    let start = with.start;
    let e = event.get_ref();
    let at = e.at.get_ref().resolve(start);
    if at < start {
        return Err(ctx.err(&e.at.span(), "this event is before the scenario's `start`"));
    }
    let line = crate::error::line_col(ctx.text, event.span().start).0;
    check_params(ctx, event)?;
    let action = convert_action(ctx, event, with)?;
    out.push(Event { at, action, line });
    Ok(())
}

/// Checks the event's parameters against the action table: nothing that does not apply,
/// nothing missing.
fn check_params(ctx: &Ctx<'_>, event: &Spanned<RawEvent>) -> Result<(), ScenarioError> {
    let e = event.get_ref();
    let (needs, optional) = e.action.get_ref().params();
    let given = e.given();
    let action_name = ctx.text[e.action.span()].trim_matches(['"', '\'']);
    for (name, span) in &given {
        if !needs.contains(name) && !optional.contains(name) {
            let takes: Vec<String> = needs
                .iter()
                .chain(optional)
                .map(|n| format!("`{n}`"))
                .collect();
            let takes = if takes.is_empty() {
                "nothing".to_owned()
            } else {
                takes.join(", ")
            };
            return Err(ctx.err(
                span,
                format!("`{name}` does not apply to action `{action_name}`, which takes {takes}"),
            ));
        }
    }
    for need in needs {
        if !given.iter().any(|(n, _)| n == need) {
            return Err(ctx.err(
                &event.span(),
                format!("action `{action_name}` needs `{need}`"),
            ));
        }
    }
    Ok(())
}

/// What the event does: load and panel actions here, meter commands in [`meter_command`].
/// Parameters have been checked against the action table.
fn convert_action(
    ctx: &Ctx<'_>,
    event: &Spanned<RawEvent>,
    with: &EventContext<'_>,
) -> Result<EventAction, ScenarioError> {
    let (loads, signal_max) = (with.loads, with.signal_max);
    let e = event.get_ref();
    let load_name = || -> Result<String, ScenarioError> {
        let Some(l) = &e.load else {
            return Err(ctx.err(&event.span(), "missing `load`"));
        };
        let name = l.get_ref();
        if loads.iter().any(|s| &s.name == name) {
            return Ok(name.clone());
        }
        let hint = suggest(name, loads.iter().map(|s| s.name.as_str()));
        Err(ctx
            .err(&l.span(), format!("no load named `{name}`"))
            .with_suggestion(hint))
    };
    Ok(match *e.action.get_ref() {
        Action::Press => EventAction::Panel(PanelAction::Press {
            held_ms: held(ctx, e, DEFAULT_PRESS_MS)?,
        }),
        Action::Hold => EventAction::Panel(PanelAction::Press {
            held_ms: held(ctx, e, p1_meter::BUTTON_HOLD_MS)?,
        }),
        Action::Error => {
            let on = e.on.as_ref().is_some_and(|o| *o.get_ref());
            EventAction::Panel(PanelAction::Error(on))
        }
        Action::Network => {
            let registered = e.registered.as_ref().is_some_and(|r| *r.get_ref());
            let signal = match &e.signal {
                None => None,
                Some(s) => match u8::try_from(*s.get_ref()) {
                    Ok(v) if v <= signal_max => Some(v),
                    _ => {
                        return Err(ctx.err(
                            &s.span(),
                            format!(
                                "signal bars are 0 to {signal_max} (the panel's `signal_max`), \
                                 found {}",
                                s.get_ref()
                            ),
                        ));
                    }
                },
            };
            EventAction::Panel(PanelAction::Network { registered, signal })
        }
        Action::LoadEnable => EventAction::LoadEnable(load_name()?),
        Action::LoadDisable => EventAction::LoadDisable(load_name()?),
        Action::LoadScale => {
            let permille = e.factor.as_ref().map_or(1000, |f| f.get_ref().0);
            if permille < 0 {
                let span = e.factor.as_ref().map_or(event.span(), Spanned::span);
                return Err(ctx.err(&span, "a scale factor cannot be negative"));
            }
            EventAction::LoadScale {
                load: load_name()?,
                permille,
            }
        }
        _ => EventAction::Meter(meter_command(ctx, event, with.firmware)?),
    })
}

/// The meter command of a meter action.
fn meter_command(
    ctx: &Ctx<'_>,
    event: &Spanned<RawEvent>,
    firmware: Version,
) -> Result<Command, ScenarioError> {
    let e = event.get_ref();
    let channel = || -> Result<u8, ScenarioError> {
        match &e.channel {
            Some(c) => check_channel(ctx, c).map(|c| c as u8),
            None => Err(ctx.err(&event.span(), "missing `channel`")),
        }
    };
    let action = *e.action.get_ref();
    Ok(match action {
        Action::RemoteDisconnect => Command::RemoteDisconnect,
        Action::Release => Command::Release,
        Action::RemoteConnect => Command::RemoteConnect,
        Action::Button => Command::Button {
            held_ms: held(ctx, e, p1_meter::BUTTON_HOLD_MS)?,
        },
        Action::SetLimiter => Command::SetLimiter {
            hw: e.limiter_kw.as_ref().map_or(9999, |l| l.get_ref().0),
        },
        Action::SetFuse => Command::SetFuse {
            a: e.fuse_a.as_ref().map_or(999, |f| f.get_ref().0),
        },
        Action::TopUp => Command::TopUp {
            ueur: e.amount_eur.as_ref().map_or(0, |m| m.get_ref().0),
        },
        Action::PortDisable => Command::Port { enabled: false },
        Action::PortEnable => Command::Port { enabled: true },
        Action::PowerFail => Command::PowerFail,
        Action::PowerRestore => Command::PowerRestore,
        Action::MbusCouple | Action::MbusReplace => {
            let Some(dev) = &e.device else {
                return Err(ctx.err(&event.span(), "missing `device`"));
            };
            // Checked where it is written, by the rule the meter applies when coupling.
            let cfg = mbus_config(dev.get_ref());
            cfg.validate(firmware)
                .map_err(|(field, m)| ctx.err(&mbus_span(dev, field), m))?;
            if action == Action::MbusCouple {
                return Ok(Command::MbusCouple(cfg));
            }
            let old_channel = channel()?;
            if old_channel == cfg.channel {
                return Err(ctx.err(
                    &dev.get_ref().channel.span(),
                    "the new device goes on another channel than the one it replaces \
                     (to exchange a device in place, use `mbus_couple` on its channel)",
                ));
            }
            Command::MbusReplace {
                old_channel,
                new: cfg,
            }
        }
        Action::GasValve => Command::GasValve {
            channel: channel()?,
            state: e
                .valve
                .as_ref()
                .map_or(Breaker::Connected, |v| v.get_ref().0),
        },
        Action::MbusDecouple => Command::MbusDecouple {
            channel: channel()?,
        },
        Action::MbusRemove => Command::MbusRemove {
            channel: channel()?,
        },
        Action::ClockJump => Command::ClockJump {
            by_ms: e.by.as_ref().map_or(0, |b| b.get_ref().0),
        },
        Action::TextMessage => Command::TextMessage {
            bytes: e
                .text
                .as_ref()
                .map(|t| t.get_ref().as_bytes().to_vec())
                .unwrap_or_default(),
        },
        Action::LoadEnable
        | Action::LoadDisable
        | Action::LoadScale
        | Action::Press
        | Action::Hold
        | Action::Error
        | Action::Network => {
            return Err(ctx.err(&e.action.span(), "not a meter action"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action table names only parameters an event can carry.
    #[test]
    fn action_table_names_real_parameters() {
        for action in Action::ALL {
            let (needs, optional) = action.params();
            for p in needs.iter().chain(optional) {
                assert!(RawEvent::PARAMS.contains(p), "{action:?} names `{p}`");
            }
        }
    }
}
