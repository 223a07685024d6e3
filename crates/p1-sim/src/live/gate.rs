//! [`FrameGate`]: a test hook that paces frames by the caller's say-so instead of the
//! clock, so tests of the live destinations can prove what a reader receives without
//! depending on how fast the machine schedules threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often a gated loop looks at the gate while servicing its destination.
pub(crate) const GATE_SLICE: Duration = Duration::from_millis(1);

/// Lets frames go when a test says so ([`LiveOptions::gate`](super::LiveOptions::gate)).
///
/// Frame *k* (0-based, silent frames included) is not taken before [`FrameGate::allow`]
/// has been given more than *k* and, for a [`FrameGate::lockstep`] gate, before the
/// readers have taken everything written so far; the clock of [`Pacing`](super::Pacing)
/// still applies on top (use [`Pacing::Fast`](super::Pacing::Fast) to pace by the gate
/// alone). While waiting at the gate the destination keeps being serviced (clients
/// accepted, queues flushed, unread pty input noticed), exactly as while waiting for the
/// clock. Clones share one gate.
#[derive(Debug, Clone, Default)]
pub struct FrameGate {
    allowed: Arc<AtomicU64>,
    passed: Arc<AtomicU64>,
    lockstep: bool,
}

impl FrameGate {
    /// A closed gate: no frame may go yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An open gate that holds each frame until the destination is idle (the pty's reader
    /// has read every byte written; every TCP client's queue has gone into its socket;
    /// the serial output queue is empty), so a slow or descheduled reader makes the meter
    /// wait instead of losing telegrams. A reader that never reads holds the meter until
    /// it is stopped.
    pub fn lockstep() -> Self {
        let gate = Self {
            lockstep: true,
            ..Self::default()
        };
        gate.open();
        gate
    }

    /// Whether frames also wait for the destination to be idle.
    pub(crate) fn is_lockstep(&self) -> bool {
        self.lockstep
    }

    /// Lets the first `n` frames go (never takes back an earlier allowance).
    pub fn allow(&self, n: u64) {
        self.allowed.fetch_max(n, Ordering::SeqCst);
    }

    /// Lets every frame go.
    pub fn open(&self) {
        self.allow(u64::MAX);
    }

    /// Frames that have passed the gate so far: frame `passed() - 1` has begun (its
    /// first write is made or, for silence, nothing is written).
    pub fn passed(&self) -> u64 {
        self.passed.load(Ordering::SeqCst)
    }

    /// Whether frame `index` may go.
    pub(crate) fn allows(&self, index: u64) -> bool {
        index < self.allowed.load(Ordering::SeqCst)
    }

    /// Records that one more frame went.
    pub(crate) fn pass(&self) {
        self.passed.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_only_grow_and_are_shared_by_clones() {
        let g = FrameGate::new();
        assert!(!g.allows(0));
        let c = g.clone();
        c.allow(2);
        assert!(g.allows(1) && !g.allows(2));
        g.allow(1);
        assert!(g.allows(1), "a smaller allowance took one back");
        g.open();
        assert!(g.allows(u64::MAX - 1));
        c.pass();
        assert_eq!(g.passed(), 1);
    }
}
