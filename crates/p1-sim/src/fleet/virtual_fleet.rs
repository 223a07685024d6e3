//! `VirtualFleet`: a live fleet on a background thread, for other programs' tests, beside
//! [`crate::live::VirtualMeter`]. Every meter's port or pty is open when
//! [`VirtualFleet::prepare`] returns, so readers can attach before the first telegram;
//! dropping the fleet stops it and removes the pty symlinks.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use p1_scenario::Fleet;

use super::live::{FleetLiveOptions, FleetServer, FleetSummary, MeterEndpoint};
use super::{FleetOutput, Selection, Shard};
use crate::error::CliError;
use crate::live::{LiveError, ReadyInfo};

/// A live fleet on a background thread.
///
/// ```no_run
/// use p1_scenario::{Fleet, Scenario};
/// use p1_sim::fleet::{FleetLiveOptions, FleetOutput, VirtualFleet};
/// let fleet = Fleet::of_scenario(Scenario::quickstart(), "quickstart", 10, 1)?;
/// let out = FleetOutput::Tcp { host: "127.0.0.1".into(), base: 19_000 };
/// let mut meters = VirtualFleet::prepare(&fleet, None, &out, None, FleetLiveOptions::default())?;
/// for addr in meters.addrs() { println!("reader: connect to {addr}"); }
/// meters.start();
/// let summary = meters.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VirtualFleet {
    endpoints: Vec<MeterEndpoint>,
    stop: Arc<AtomicBool>,
    pending: Option<(FleetServer, FleetLiveOptions)>,
    thread: Option<JoinHandle<Result<FleetSummary, LiveError>>>,
}

impl VirtualFleet {
    /// Opens every meter of `fleet` (or of `shard`) on `out` (`tcp:HOST:BASE` or `pty`,
    /// with symlinks in `link_dir`), sending nothing until [`start`](Self::start).
    /// `opts.stop` is replaced by the fleet's own flag.
    pub fn prepare(
        fleet: &Fleet,
        shard: Option<Shard>,
        out: &FleetOutput,
        link_dir: Option<&Path>,
        opts: FleetLiveOptions,
    ) -> Result<VirtualFleet, CliError> {
        let stop = Arc::new(AtomicBool::new(false));
        let opts = FleetLiveOptions {
            stop: Some(Arc::clone(&stop)),
            handle_signals: false,
            ..opts
        };
        let selection = Selection::new(fleet.len(), shard, None);
        let server = FleetServer::open(fleet, selection, out, link_dir, &opts, None)?;
        Ok(VirtualFleet {
            endpoints: server.endpoints().to_vec(),
            stop,
            pending: Some((server, opts)),
            thread: None,
        })
    }

    /// Starts sending (once; later calls do nothing).
    pub fn start(&mut self) -> Result<(), LiveError> {
        if let Some((server, opts)) = self.pending.take() {
            let thread = std::thread::Builder::new()
                .name("p1sim-fleet".into())
                .spawn(move || server.run(&opts))
                .map_err(|e| LiveError::Thread(e.to_string()))?;
            self.thread = Some(thread);
        }
        Ok(())
    }

    /// Every meter's index, equipment id and port or pty, in index order.
    pub fn endpoints(&self) -> &[MeterEndpoint] {
        &self.endpoints
    }

    /// The TCP addresses, in index order (empty for ptys).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.endpoints
            .iter()
            .filter_map(|e| match e.ready {
                ReadyInfo::Tcp { addr } => Some(addr),
                _ => None,
            })
            .collect()
    }

    /// Whether every meter has sent its last telegram (or the fleet stopped).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// Stops the fleet now and reports.
    pub fn stop(mut self) -> Result<FleetSummary, LiveError> {
        self.stop.store(true, Ordering::SeqCst);
        self.start()?;
        self.wait()
    }

    /// Starts if not started, waits until every meter has finished, and reports.
    pub fn join(mut self) -> Result<FleetSummary, LiveError> {
        self.start()?;
        self.wait()
    }

    fn wait(&mut self) -> Result<FleetSummary, LiveError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(LiveError::Thread("panicked".into())),
            None => Err(LiveError::Thread("not started".into())),
        }
    }
}

impl Drop for VirtualFleet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
