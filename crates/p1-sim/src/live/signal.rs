//! SIGINT/SIGTERM handling while serving: the first signal sets a flag that the pacing loop
//! polls (so it stops cleanly, removes the symlink and returns its summary); a second one
//! exits at once with status 130. Afterwards the signals behave as by default again.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::SigId;
use signal_hook::consts::{SIGINT, SIGTERM};

/// While true, a signal that reaches no other action gets the default behaviour
/// (terminate). Registered once per process, armed whenever no `serve` is listening.
static DEFAULT_WHEN_IDLE: AtomicBool = AtomicBool::new(false);
static DEFAULT_INSTALLED: std::sync::Once = std::sync::Once::new();

/// Exit status for the second signal, as shells report an interrupted command.
const FORCED_EXIT: i32 = 130;

/// Our handlers, registered for the life of one `serve` call.
pub(crate) struct SignalGuard {
    ids: Vec<SigId>,
}

impl SignalGuard {
    /// Makes SIGINT and SIGTERM set `flag` (and a second one exit).
    pub(crate) fn install(flag: &Arc<AtomicBool>) -> io::Result<Self> {
        let mut once_err = None;
        DEFAULT_INSTALLED.call_once(|| {
            for sig in [SIGINT, SIGTERM] {
                if let Err(e) =
                    signal_hook::flag::register_conditional_default(sig, &DEFAULT_WHEN_IDLE)
                {
                    once_err = Some(e);
                }
            }
        });
        if let Some(e) = once_err {
            return Err(e);
        }
        let mut guard = Self { ids: Vec::new() };
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the shutdown check runs before the flag is set, so only a
            // signal arriving when the flag is already up exits.
            guard
                .ids
                .push(signal_hook::flag::register_conditional_shutdown(
                    sig,
                    FORCED_EXIT,
                    Arc::clone(flag),
                )?);
            guard
                .ids
                .push(signal_hook::flag::register(sig, Arc::clone(flag))?);
        }
        DEFAULT_WHEN_IDLE.store(false, Ordering::SeqCst);
        Ok(guard)
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        DEFAULT_WHEN_IDLE.store(true, Ordering::SeqCst);
    }
}
