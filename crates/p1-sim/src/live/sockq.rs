//! How many bytes a TCP socket's kernel send queue holds that have not been sent yet
//! (`SIOCOUTQNSD`): bytes the client's receive window has no room for. The TCP destination
//! uses it to keep a stalled client's backlog to one telegram: without it, the kernel's
//! buffers would hand a resumed client many stale telegrams before current data. Bytes
//! sent but not yet acknowledged do not count: they are on the line, and a client's
//! delayed acknowledgements must not cost it telegrams.
//!
//! rustix has no safe wrapper for this `ioctl`, so this file holds the workspace's one
//! `unsafe` call; the test below checks it against a real stalled socket.

use std::ffi::c_int;
use std::net::TcpStream;

/// Bytes written to `stream` that the kernel has not sent yet, or `None` where it cannot
/// say (then only our own queue bounds a client).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn unsent(stream: &TcpStream) -> Option<usize> {
    /// linux/sockios.h; a generic socket ioctl, the same number on every architecture.
    const SIOCOUTQNSD: rustix::ioctl::Opcode = 0x894B;
    // SAFETY: on Linux, SIOCOUTQNSD on a TCP socket (tcp_ioctl) writes exactly one `int`
    // through the argument pointer and nothing else (put_user(answ, (int __user *)arg));
    // on another socket type it fails without writing. Getter passes a pointer to a
    // `MaybeUninit<c_int>` it owns and reads it back only after the call succeeded, and
    // `stream` is a live socket borrowed for the duration of the call.
    let n =
        unsafe { rustix::ioctl::ioctl(stream, rustix::ioctl::Getter::<SIOCOUTQNSD, c_int>::new()) };
    n.ok().and_then(|n| usize::try_from(n).ok())
}

/// Elsewhere the kernel cannot say.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unsent(_stream: &TcpStream) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn counts_what_a_stalled_peer_has_no_room_for() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut peer = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut ours, _) = listener.accept().expect("accept");
        assert_eq!(unsent(&ours), Some(0));
        // Fill the peer's receive window and our send queue.
        ours.set_nonblocking(true).expect("non-blocking");
        let chunk = [b'x'; 65536];
        let mut written = 0usize;
        loop {
            match ours.write(&chunk) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        let held = unsent(&ours).expect("SIOCOUTQNSD");
        assert!(held > 0 && held <= written, "held {held} of {written}");
        // Once the peer reads everything, nothing is left unsent.
        let mut got = 0usize;
        let mut buf = vec![0u8; 65536];
        ours.set_nonblocking(false).expect("blocking");
        while got < written {
            got += peer.read(&mut buf).expect("read");
        }
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while unsent(&ours) != Some(0) {
            assert!(std::time::Instant::now() < give_up, "never sent");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
