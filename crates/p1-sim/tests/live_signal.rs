//! SIGTERM while serving: the loop stops promptly (the frames are endless and one second
//! apart), the summary says why, and the `--link` symlink is gone. Its own test binary,
//! because it sends a signal to the whole process.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use p1_sim::live::{LiveFrame, LiveOptions, LiveSinkSpec, ReadyInfo, StopReason, serve};
use signal_hook::consts::SIGTERM;

#[test]
fn sigterm_stops_cleanly_and_removes_the_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("p1");
    let endless = (0i64..).map(|k| LiveFrame::new(k * 1000, b"/TEST\r\n\r\n!0000\r\n".to_vec()));
    let opts = LiveOptions {
        handle_signals: true,
        ..Default::default()
    };
    let sink = LiveSinkSpec::Pty {
        link: Some(link.clone()),
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        serve(endless, sink, opts, |r| {
            let _ = ready_tx.send(r.clone());
        })
    });
    let ready = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("ready");
    let ReadyInfo::Pty { path, .. } = ready else {
        panic!("not a pty: {ready:?}");
    };
    assert_eq!(std::fs::read_link(&link).ok(), Some(path));
    signal_hook::low_level::raise(SIGTERM).expect("raise");
    let summary = server.join().expect("thread").expect("summary");
    assert_eq!(summary.stopped, StopReason::Signal);
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link left behind"
    );
}
