//! The interactive panel (ratatui + crossterm): simulated time runs at `--speed` times
//! real time; the screen, indicators and LEDs are redrawn every 50 ms; space or enter is a
//! short press, `h` a press held 3 s (released at the moment the key is hit), `q` quits.
//!
//! With `--out`, the P1 stream of the same [`Session`] is served by [`crate::live::serve`]
//! on a second thread. Both threads share the session behind a mutex and one clock: the
//! frame feed waits until the simulated clock reaches a telegram's instant before taking
//! it from the session, so any press made before that instant is already in the meter
//! when the telegram is encoded, and the panel and `0-0:96.3.10` never disagree.
//!
//! Like `live/`, this is code that reads the wall clock and sleeps; the model crates do not.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute, terminal};
use p1_meter::SimTime;
use p1_panel::{PanelConfig, render_text};
use p1_scenario::Scenario;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{PanelOptions, Session, local_text};
use crate::error::CliError;
use crate::live::{self, LiveError, LiveFrame, LiveOptions, LiveSummary, Pacing, Schedule};

/// Redraw period.
const TICK: Duration = Duration::from_millis(50);

/// Simulated time from the wall clock: `start + elapsed x speed`.
struct SimClock {
    t0: Instant,
    start_ms: i64,
    speed: f64,
    /// When each simulated instant is due, shared with the live sinks' pacing.
    schedule: Schedule,
}

impl SimClock {
    fn now(&self) -> SimTime {
        let ms = self.t0.elapsed().as_secs_f64() * 1000.0 * self.speed;
        SimTime(self.start_ms.saturating_add(ms as i64))
    }

    fn instant_of(&self, t: SimTime) -> Instant {
        self.schedule.due(t.0)
    }
}

fn lock(s: &Mutex<Session>) -> MutexGuard<'_, Session> {
    // A panic on the other thread leaves the session usable for drawing what it has.
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The P1 frames of the shared session, each taken when the simulated clock reaches it.
struct Feed {
    session: Arc<Mutex<Session>>,
    clock: Arc<SimClock>,
    stop: Arc<AtomicBool>,
}

impl Iterator for Feed {
    type Item = LiveFrame;

    fn next(&mut self) -> Option<LiveFrame> {
        let at = lock(&self.session).next_telegram_at()?;
        let due = self.clock.instant_of(at);
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(10)));
        }
        let frame = lock(&self.session).take_frame(at)?;
        Some(LiveFrame::new(frame.at.millis(), frame.bytes))
    }
}

/// Restores the terminal however the UI ends.
struct TermGuard;

impl Drop for TermGuard {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

type Server = (JoinHandle<Result<LiveSummary, LiveError>>, String);

fn start_server(
    opts: &PanelOptions,
    session: &Arc<Mutex<Session>>,
    clock: &Arc<SimClock>,
    stop: &Arc<AtomicBool>,
) -> Result<Option<Server>, CliError> {
    let Some(spec) = opts.out.clone() else {
        return Ok(None);
    };
    let feed = Feed {
        session: Arc::clone(session),
        clock: Arc::clone(clock),
        stop: Arc::clone(stop),
    };
    let live_opts = LiveOptions {
        pacing: Pacing::Speed(opts.speed),
        stop: Some(Arc::clone(stop)),
        ..LiveOptions::default()
    };
    let (tx, rx) = mpsc::channel::<String>();
    let handle = std::thread::Builder::new()
        .name("p1sim-panel-p1".into())
        .spawn(move || {
            live::serve(feed, spec, live_opts, move |ready| {
                let _ = tx.send(ready.to_string());
            })
        })
        .map_err(|e| CliError::Internal(format!("cannot start the P1 thread: {e}")))?;
    match rx.recv() {
        Ok(ready) => Ok(Some((handle, ready))),
        Err(_) => match handle.join() {
            Ok(Err(e)) => Err(CliError::Usage(e.to_string())),
            _ => Err(CliError::Internal("the P1 thread ended early".into())),
        },
    }
}

/// `p1sim panel` without `--script`.
pub(super) fn run(
    scenario: Scenario,
    cfg: PanelConfig,
    opts: &PanelOptions,
) -> Result<i32, CliError> {
    if !(opts.speed.is_finite() && opts.speed > 0.0) {
        return Err(CliError::Usage(format!(
            "--speed must be a finite number > 0, got {}",
            opts.speed
        )));
    }
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "the interactive panel needs a terminal; use --script \"press; wait 10s\" --frames for headless runs".into(),
        ));
    }
    let session = Session::new(scenario, cfg, opts.out.is_some())?;
    let start = session.start();
    let end = session.end();
    let name = session.name().to_owned();
    let session = Arc::new(Mutex::new(session));
    let t0 = Instant::now();
    let clock = Arc::new(SimClock {
        t0,
        start_ms: start.0,
        speed: opts.speed,
        schedule: Schedule::new(t0, start.0, Some(opts.speed)),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let server = start_server(opts, &session, &clock, &stop)?;
    let p1 = server
        .as_ref()
        .map_or_else(|| "not served (use --out)".to_owned(), |(_, r)| r.clone());

    let result = ui(&session, &clock, end, &name, &p1, opts.speed);
    let quit_at = clock.now().min(end);
    stop.store(true, Ordering::SeqCst);
    let served = match server {
        Some((handle, _)) => match handle.join() {
            Ok(Ok(summary)) => Some(summary),
            Ok(Err(e)) => return Err(CliError::Usage(e.to_string())),
            Err(_) => return Err(CliError::Internal("the P1 thread panicked".into())),
        },
        None => None,
    };
    let quit = result?;
    eprintln!(
        "p1sim: {}",
        quit_line(quit, quit_at, end, &p1, served.as_ref())
    );
    Ok(0)
}

/// How the user left the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quit {
    /// `q` or Esc.
    Key,
    /// Ctrl-C (raw mode turns it into a key).
    CtrlC,
}

/// The line printed after the panel closes: who stopped it and when (the panel always
/// ends by the user's hand: the P1 server stops because the panel told it to, so its own
/// stop reason says nothing the user needs), and what P1 delivered.
fn quit_line(
    quit: Quit,
    at: SimTime,
    end: SimTime,
    p1: &str,
    served: Option<&LiveSummary>,
) -> String {
    let how = match quit {
        Quit::Key => "quit (q)",
        Quit::CtrlC => "quit (Ctrl-C)",
    };
    let when = if at >= end {
        "after the end of the scenario".to_owned()
    } else {
        format!("at {} (simulated, Belgian time)", local_text(at))
    };
    match served {
        Some(s) => format!(
            "panel {how} {when}; P1 {p1}: {} telegrams written, {} dropped, {} clients",
            s.written, s.dropped, s.clients
        ),
        None => format!("panel {how} {when}"),
    }
}

fn ui(
    session: &Arc<Mutex<Session>>,
    clock: &SimClock,
    end: SimTime,
    name: &str,
    p1: &str,
    speed: f64,
) -> Result<Quit, CliError> {
    let term_err = |e: io::Error| CliError::Write(e);
    terminal::enable_raw_mode().map_err(term_err)?;
    let _guard = TermGuard;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide).map_err(term_err)?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout())).map_err(term_err)?;
    let mut seen_pulses = (0u64, 0u64);
    let last_instant = end.plus_ms(-1);
    loop {
        let now = clock.now().min(last_instant);
        let ended = now >= last_instant;
        let mut view = lock(session).view(now);
        // A flash shorter than a redraw would be missed: light an LED that pulsed since.
        view.control_led.lit |= view.control_led.pulses != seen_pulses.0;
        view.blind_led.lit |= view.blind_led.pulses != seen_pulses.1;
        seen_pulses = (view.control_led.pulses, view.blind_led.pulses);
        let mut lines = vec![
            Line::from(Span::styled(
                format!("p1sim panel: {name}"),
                Style::default().add_modifier(Modifier::BOLD),
            )),
            Line::from(format!(
                "{}  speed x{speed}{}",
                local_text(now),
                if ended { "  (scenario ended)" } else { "" }
            )),
            Line::from(format!("P1: {p1}")),
            Line::from(""),
        ];
        for text in render_text(&view).lines() {
            let line = if text.contains("(*)") {
                let (a, b) = text.split_once("(*)").unwrap_or((text, ""));
                Line::from(vec![
                    Span::raw(a.to_owned()),
                    Span::styled(
                        "(*)",
                        Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(b.to_owned()),
                ])
            } else {
                Line::from(text.to_owned())
            };
            lines.push(line);
        }
        lines.push(Line::from(""));
        lines.push(Line::from(
            "keys: space/enter = press   h = hold 3 s   q = quit",
        ));
        term.draw(|f| f.render_widget(Paragraph::new(lines), f.area()))
            .map_err(term_err)?;

        if !event::poll(TICK).map_err(term_err)? {
            continue;
        }
        let Event::Key(key) = event::read().map_err(term_err)? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let held = match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Ok(Quit::Key),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Ok(Quit::CtrlC);
            }
            KeyCode::Char(' ') | KeyCode::Enter => super::script::DEFAULT_PRESS_MS,
            KeyCode::Char('h' | 'H') => super::script::DEFAULT_HOLD_MS,
            _ => continue,
        };
        if !ended {
            lock(session).press(clock.now().min(last_instant), held)?;
        }
    }
}
