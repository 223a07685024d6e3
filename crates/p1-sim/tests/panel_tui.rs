//! End to end: the real `p1sim panel` TUI in a kernel pseudo-terminal (rustix, no tmux).
//! Key presses go in through the master side, the screen comes back through a vt100
//! emulator; the same run serves P1 on TCP, and the 3-second hold typed on the keyboard
//! must turn `0-0:96.3.10(2)` into `(1)` in the telegrams.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::num::NonZeroU16;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, Winsize};

const ROWS: NonZeroU16 = NonZeroU16::new(30).expect("non-zero");
const COLS: NonZeroU16 = NonZeroU16::new(100).expect("non-zero");

/// A prepaid S211, topped up and released at the start (breaker 2); shared with
/// panel_script.rs.
const READY: &str = include_str!("data/panel-ready.toml");

/// The TUI process on a pty, its screen as a vt100 emulator sees it.
struct Tui {
    child: Child,
    master: File,
    screen: Arc<Mutex<vt100::Parser>>,
}

impl Tui {
    fn spawn(args: &[&str]) -> Tui {
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        rustix::pty::grantpt(&master).expect("grantpt");
        rustix::pty::unlockpt(&master).expect("unlockpt");
        let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
        let path = PathBuf::from(OsString::from_vec(name.into_bytes()));
        let slave = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("open slave");
        termios::tcsetwinsize(
            &slave,
            Winsize {
                ws_row: ROWS.get(),
                ws_col: COLS.get(),
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("window size");
        let slave = File::from(slave);
        let stdio = |f: &File| Stdio::from(f.try_clone().expect("dup slave"));
        let child = Command::new(env!("CARGO_BIN_EXE_p1sim"))
            .args(args)
            .env("TERM", "xterm-256color")
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave))
            .spawn()
            .expect("spawn p1sim panel");
        drop(slave);
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let mut reader = master.try_clone().expect("dup master");
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child has exited and the slave is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("screen").process(&buf[..n]);
            }
        });
        Tui {
            child,
            master,
            screen,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().expect("screen").screen().contents()
    }

    /// Waits until the screen satisfies `want`; a generous deadline turns a bug into a
    /// failure with the screen shown, not a hang.
    fn wait_for(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.contents();
            if want(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {what}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn key(&mut self, k: &[u8]) {
        self.master.write_all(k).expect("type a key");
        self.master.flush().expect("flush");
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // Only if a failed assertion left it running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads telegrams from the TCP P1 stream on a thread; the breaker codes in order.
fn p1_reader(addr: &str) -> Arc<Mutex<Vec<u8>>> {
    let mut stream = TcpStream::connect(addr).expect("connect to P1");
    let codes = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&codes);
    std::thread::spawn(move || {
        let mut decoder = p1_wire::Decoder::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            decoder.feed(&buf[..n], &mut |r| {
                if let Ok(f) = r {
                    out.lock().expect("codes").push(f.readout.breaker.code());
                }
            });
        }
    });
    codes
}

#[test]
fn keys_drive_the_real_tui_and_the_hold_reaches_p1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("ready.toml");
    std::fs::write(&scenario, READY).expect("write scenario");
    let mut tui = Tui::spawn(&[
        "panel",
        scenario.to_str().expect("utf-8 path"),
        "--out",
        "tcp:127.0.0.1:0",
    ]);

    let text = tui.wait_for("the dark screen and the P1 address", |s| {
        s.contains("(screen dark)") && s.contains("P1: tcp:")
    });
    let addr = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("P1: tcp:"))
        .expect("P1 address line")
        .trim()
        .to_owned();
    let codes = p1_reader(&addr);

    tui.key(b" ");
    tui.wait_for("the lit home screen", |s| {
        s.contains("BD (blinking)") && s.contains("breaker open")
    });
    tui.key(b" ");
    tui.wait_for("1.8.1", |s| {
        s.contains("1.8.1") && s.contains("000812.440 kWh")
    });
    tui.key(b"\r");
    tui.wait_for("1.8.2 after enter", |s| s.contains("1.8.2"));

    // Telegrams so far say 2 (ready).
    let deadline = Instant::now() + Duration::from_secs(30);
    while codes.lock().expect("codes").is_empty() {
        assert!(Instant::now() < deadline, "no telegram on P1");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(codes.lock().expect("codes").iter().all(|&c| c == 2));

    // The held press: the panel shows the breaker closed, and P1 follows.
    tui.key(b"h");
    tui.wait_for("the breaker closed", |s| s.contains("breaker closed"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = codes.lock().expect("codes").clone();
        if seen.last() == Some(&1) {
            // Never back: 2 ... 2 then 1 ... 1.
            let first_one = seen.iter().position(|&c| c == 1).unwrap_or(seen.len());
            assert!(seen[..first_one].iter().all(|&c| c == 2), "{seen:?}");
            assert!(seen[first_one..].iter().all(|&c| c == 1), "{seen:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "P1 never showed 96.3.10(1): {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    tui.key(b"q");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = tui.child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    // The line left on the terminal says the user quit, not why the P1 server stopped.
    let text = tui.wait_for("the quit summary", |s| {
        s.contains("p1sim: panel quit (q) at ")
    });
    assert!(
        !text.contains("stop requested") && !text.contains("end of scenario"),
        "{text}"
    );
    assert!(
        text.contains("telegrams written, 0 dropped, 1 clients"),
        "{text}"
    );
}
