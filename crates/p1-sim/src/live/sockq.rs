//! How many bytes a TCP socket's kernel send queue still holds: written by us, not yet
//! acknowledged by the peer (`SIOCOUTQ`). The TCP destination uses it to keep a stalled
//! client's backlog to one telegram: without it, the kernel's buffers would hand a
//! resumed client many stale telegrams before current data.
//!
//! rustix has no safe wrapper for this `ioctl`, so this file holds the workspace's one
//! `unsafe` call; the test below checks it against a real stalled socket.

use std::ffi::c_int;
use std::net::TcpStream;

/// Bytes written to `stream` that the peer has not acknowledged yet.
///
/// Linux numbers `SIOCOUTQ` (= `TIOCOUTQ`, linux/sockios.h) 0x5411 on these
/// architectures; elsewhere (mips, powerpc, sparc, alpha) the stub below says `None`.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
#[allow(unsafe_code)]
pub(crate) fn unacknowledged(stream: &TcpStream) -> Option<usize> {
    const SIOCOUTQ: rustix::ioctl::Opcode = 0x5411;
    // SAFETY: on Linux, SIOCOUTQ on a TCP socket (tcp_ioctl) writes exactly one `int`
    // through the argument pointer and nothing else (put_user(answ, (int __user *)arg));
    // Getter passes a pointer to a `MaybeUninit<c_int>` it owns and reads it back only
    // after the call succeeded. `stream` is a live socket borrowed for the call, and the
    // cfg above limits the opcode to the architectures where SIOCOUTQ is 0x5411.
    let n =
        unsafe { rustix::ioctl::ioctl(stream, rustix::ioctl::Getter::<SIOCOUTQ, c_int>::new()) };
    n.ok().and_then(|n| usize::try_from(n).ok())
}

/// Where `SIOCOUTQ` has another number: unknown, so only our own queue bounds a client.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
)))]
pub(crate) fn unacknowledged(_stream: &TcpStream) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn counts_what_a_stalled_peer_has_not_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut peer = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut ours, _) = listener.accept().expect("accept");
        assert_eq!(unacknowledged(&ours), Some(0));
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
        let held = unacknowledged(&ours).expect("SIOCOUTQ");
        assert!(held > 0 && held <= written, "held {held} of {written}");
        // Once the peer reads everything, nothing is left unacknowledged.
        let mut got = 0usize;
        let mut buf = vec![0u8; 65536];
        ours.set_nonblocking(false).expect("blocking");
        while got < written {
            got += peer.read(&mut buf).expect("read");
        }
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while unacknowledged(&ours) != Some(0) {
            assert!(std::time::Instant::now() < give_up, "never acknowledged");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
