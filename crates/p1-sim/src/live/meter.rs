//! `VirtualMeter`: [`serve`](super::serve) on a background thread, for other programs'
//! tests. Open a pty or a TCP port, optionally hold it until the reader is attached, then
//! stream; dropping the meter stops it and removes the pty symlink.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use p1_scenario::{Scenario, Simulation};

use super::{LiveError, LiveFrame, LiveOptions, LiveSinkSpec, LiveSummary, ReadyInfo, serve};

/// A live meter on a background thread.
///
/// ```no_run
/// use p1_sim::live::{LiveFrame, LiveOptions, Pacing, VirtualMeter};
/// let frames = (0..10).map(|k| LiveFrame::new(k * 1000, b"/TEST\r\n\r\n!0000\r\n".to_vec()));
/// let opts = LiveOptions { pacing: Pacing::Speed(10.0), ..Default::default() };
/// let meter = VirtualMeter::spawn_pty(frames, opts)?;
/// println!("reader: open {}", meter.path().map(|p| p.display().to_string()).unwrap_or_default());
/// let summary = meter.join()?;
/// # Ok::<(), p1_sim::live::LiveError>(())
/// ```
pub struct VirtualMeter {
    ready: ReadyInfo,
    stop: Arc<AtomicBool>,
    go: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Result<LiveSummary, LiveError>>>,
}

impl VirtualMeter {
    /// Opens `sink` on a new thread and waits until it is ready, but sends nothing until
    /// [`start`](Self::start): attach readers first to receive frame 0. `opts.stop` is
    /// replaced by the meter's own flag.
    pub fn prepare<I>(frames: I, sink: LiveSinkSpec, opts: LiveOptions) -> Result<Self, LiveError>
    where
        I: IntoIterator<Item = LiveFrame>,
        I::IntoIter: Send + 'static,
    {
        let frames = frames.into_iter();
        let stop = Arc::new(AtomicBool::new(false));
        let opts = LiveOptions {
            stop: Some(Arc::clone(&stop)),
            ..opts
        };
        let (ready_tx, ready_rx) = mpsc::channel::<ReadyInfo>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("p1sim-live".into())
            .spawn(move || {
                serve(frames, sink, opts, move |ready| {
                    let _ = ready_tx.send(ready.clone());
                    // Returns on start() or when the meter is dropped (sender gone); in the
                    // latter case the stop flag is already set and nothing is sent.
                    let _ = go_rx.recv();
                })
            })
            .map_err(|e| LiveError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(ready) => Ok(Self {
                ready,
                stop,
                go: Some(go_tx),
                thread: Some(thread),
            }),
            // The thread ended before being ready: report its error.
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(LiveError::Thread("ended before it was ready".into())),
                Err(_) => Err(LiveError::Thread("panicked".into())),
            },
        }
    }

    /// [`prepare`](Self::prepare) then [`start`](Self::start).
    pub fn spawn<I>(frames: I, sink: LiveSinkSpec, opts: LiveOptions) -> Result<Self, LiveError>
    where
        I: IntoIterator<Item = LiveFrame>,
        I::IntoIter: Send + 'static,
    {
        let mut m = Self::prepare(frames, sink, opts)?;
        m.start();
        Ok(m)
    }

    /// A started meter playing `scenario` on `sink`: the library form of
    /// `p1sim run SCENARIO --out pty|tcp:...`. The scenario is checked before anything
    /// is opened.
    ///
    /// ```no_run
    /// use p1_scenario::Scenario;
    /// use p1_sim::live::{LiveOptions, LiveSinkSpec, VirtualMeter};
    /// let scenario = Scenario::from_path("scenarios/dst-autumn.toml".as_ref())
    ///     .map_err(|e| e.to_string())?;
    /// let meter = VirtualMeter::from_scenario(&scenario, LiveSinkSpec::Pty { link: None }, LiveOptions::default())?;
    /// let path = meter.path().expect("a pty"); // hand it to the code under test
    /// # let _ = path;
    /// // Dropping `meter` stops it.
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_scenario(
        scenario: &Scenario,
        sink: LiveSinkSpec,
        opts: LiveOptions,
    ) -> Result<Self, LiveError> {
        let sim = Simulation::new(scenario);
        Self::spawn(sim.map(LiveFrame::from), sink, opts)
    }

    /// A started meter on a new pseudo-terminal; see [`path`](Self::path).
    pub fn spawn_pty<I>(frames: I, opts: LiveOptions) -> Result<Self, LiveError>
    where
        I: IntoIterator<Item = LiveFrame>,
        I::IntoIter: Send + 'static,
    {
        Self::spawn(frames, LiveSinkSpec::Pty { link: None }, opts)
    }

    /// A started meter on a free TCP port of 127.0.0.1; see [`addr`](Self::addr).
    pub fn spawn_tcp<I>(frames: I, opts: LiveOptions) -> Result<Self, LiveError>
    where
        I: IntoIterator<Item = LiveFrame>,
        I::IntoIter: Send + 'static,
    {
        let sink = LiveSinkSpec::Tcp {
            bind: "127.0.0.1:0".into(),
        };
        Self::spawn(frames, sink, opts)
    }

    /// Lets a prepared meter send frame 0 now. Does nothing the second time.
    pub fn start(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }

    /// What the destination reported when it opened.
    pub fn ready(&self) -> &ReadyInfo {
        &self.ready
    }

    /// The pty slave path (None for other destinations).
    pub fn path(&self) -> Option<&Path> {
        match &self.ready {
            ReadyInfo::Pty { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The bound TCP address (None for other destinations).
    pub fn addr(&self) -> Option<SocketAddr> {
        match &self.ready {
            ReadyInfo::Tcp { addr } => Some(*addr),
            _ => None,
        }
    }

    /// Whether the frames have run out (or the thread stopped).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops now (within about 20 ms) and returns the summary.
    pub fn stop(mut self) -> Result<LiveSummary, LiveError> {
        self.stop.store(true, Ordering::SeqCst);
        self.go = None;
        self.take_result()
    }

    /// Starts if needed, waits until the frames run out (plus the drain time), and returns
    /// the summary.
    pub fn join(mut self) -> Result<LiveSummary, LiveError> {
        self.start();
        self.take_result()
    }

    fn take_result(&mut self) -> Result<LiveSummary, LiveError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(LiveError::Thread("panicked".into())),
            None => Err(LiveError::Thread("already joined".into())),
        }
    }
}

impl Drop for VirtualMeter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.go = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
