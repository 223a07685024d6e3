//! Scenario files and the deterministic simulation driver of p1sim.
//!
//! A scenario (TOML, documented in `docs/scenarios.md`) describes a meter, the loads of
//! the installation behind it (constant, schedules, a seeded random household,
//! appliances, EV charging, PV with a clear-sky sun curve, gas and water flows, and
//! replays of Fluvius portal exports, whose Day/Night labels set the tariff), events
//! (operator commands, button presses, power failures, M-Bus changes, load switches) and
//! optionally the meter's front panel (`[panel]`, panel events: a [`p1_panel::Panel`]
//! driven on the same meter). [`Scenario`] parses and validates it,
//! reporting problems as `path:line:column: message` ([`ScenarioError`]);
//! [`Simulation`] runs it and yields one [`SimFrame`] per telegram instant, jumping from
//! event to event. Same scenario and seed, same bytes: randomness comes only from
//! `ChaCha8Rng` streams seeded by the scenario, time only from [`p1_meter::SimTime`].
//!
//! ```no_run
//! use p1_scenario::{Scenario, Simulation, TruthRecord};
//!
//! let scenario = Scenario::quickstart();
//! for frame in Simulation::new(&scenario) {
//!     std::io::Write::write_all(&mut std::io::stdout(), &frame.bytes)?;
//!     let truth = TruthRecord::from_frame(&frame).to_json_line();
//!     # let _ = truth;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod fleet;
mod json_runs;
mod loads;
pub mod replay;
mod scenario;
mod schema;
mod sim;
mod sun;
mod truth;
mod truth_json;
mod truth_writer;
mod units;

pub use error::{ErrorKind, ScenarioError};
pub use fleet::{Fleet, MeterIdentity};
pub use scenario::{DEFAULT_PRESS_MS, Event, EventAction, PanelAction, Scenario, Supply};
pub use sim::{INJECTED_LINE, Refusal, SimFrame, Simulation};
pub use truth::{FaultTruth, TruthRecord, TruthVerdict};
pub use truth_writer::TruthWriter;
pub use units::At;
