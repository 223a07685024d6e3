//! A bounded queue of whole telegrams for one non-blocking destination (a TCP client, the
//! pty master, the serial port), with the drop accounting that keeps the stream cut only at
//! telegram boundaries.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;

/// Which prefix of the telegram being paced may be written: `id` is the telegram's
/// sequence number, `upto` the released length. Older telegrams are fully released.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Release {
    pub(crate) id: u64,
    pub(crate) upto: usize,
}

#[derive(Debug)]
struct Pending {
    id: u64,
    data: Arc<[u8]>,
    sent: usize,
}

/// Telegrams queued for one destination.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<Pending>,
    cap: usize,
    /// Telegrams handed whole to the kernel.
    pub(crate) completed: u64,
    /// Telegrams dropped (evicted by the bound or discarded).
    pub(crate) dropped: u64,
    /// Bytes handed to the kernel.
    pub(crate) bytes: u64,
}

impl Outbox {
    /// A queue holding at most `cap` (at least 1) telegrams.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            cap: cap.max(1),
            completed: 0,
            dropped: 0,
            bytes: 0,
        }
    }

    /// Queues telegram `id`. When full, drops the oldest telegram not yet started (the head
    /// may be half written and must finish, or the reader would see a cut telegram).
    pub(crate) fn push(&mut self, id: u64, data: Arc<[u8]>) {
        self.push_within(id, data, self.cap);
    }

    /// [`Outbox::push`] with room for only `cap` (at least 1, at most the queue's own
    /// bound) telegrams, because others are still held downstream.
    pub(crate) fn push_within(&mut self, id: u64, data: Arc<[u8]>, cap: usize) {
        let cap = cap.clamp(1, self.cap);
        while self.queue.len() >= cap {
            let victim = match self.queue.front() {
                Some(head) if head.sent > 0 => 1,
                _ => 0,
            };
            if victim >= self.queue.len() {
                // cap is 1 and the only entry is half written: this new one is the victim.
                self.dropped += 1;
                return;
            }
            self.queue.remove(victim);
            self.dropped += 1;
        }
        self.queue.push_back(Pending { id, data, sent: 0 });
    }

    /// Whether anything is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether there are bytes that may be written now.
    pub(crate) fn has_writable(&self, rel: Release) -> bool {
        self.queue.front().is_some_and(|h| h.sent < limit(h, rel))
    }

    /// Bytes of the head telegram already handed to the kernel (0 if none or unstarted).
    pub(crate) fn head_sent(&self) -> usize {
        self.queue.front().map_or(0, |h| h.sent)
    }

    /// Counts a telegram this destination never got (it had no room downstream), and drops
    /// every queued telegram not yet started, which is older still.
    pub(crate) fn skip(&mut self) {
        let keep = usize::from(self.head_sent() > 0);
        let gone = self.queue.len() - keep;
        self.queue.truncate(keep);
        self.dropped += gone as u64 + 1;
    }

    /// Drops everything queued, counting each telegram; returns how many.
    pub(crate) fn discard_all(&mut self) -> u64 {
        let n = self.queue.len() as u64;
        self.queue.clear();
        self.dropped += n;
        n
    }

    /// Writes as much as `w` takes without blocking. Calls `done(len)` for each telegram
    /// completed. `Ok` means blocked, drained or waiting for release; `Err` is a fatal error
    /// of this destination.
    pub(crate) fn flush(
        &mut self,
        w: &mut impl Write,
        rel: Release,
        mut done: impl FnMut(usize),
    ) -> io::Result<()> {
        while let Some(head) = self.queue.front_mut() {
            let lim = limit(head, rel);
            if head.sent < lim {
                match w.write(&head.data[head.sent..lim]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        head.sent += n;
                        self.bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
                continue;
            }
            if head.sent < head.data.len() {
                return Ok(());
            }
            let len = head.data.len();
            self.queue.pop_front();
            self.completed += 1;
            done(len);
        }
        Ok(())
    }
}

fn limit(p: &Pending, rel: Release) -> usize {
    if p.id == rel.id {
        rel.upto.min(p.data.len())
    } else {
        p.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `room` bytes, then reports WouldBlock.
    struct Tight {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for Tight {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn t(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn full_queue_evicts_oldest_unstarted_and_keeps_half_written_head() {
        let mut o = Outbox::new(2);
        let mut w = Tight {
            room: 2,
            got: Vec::new(),
        };
        o.push(1, t("/AAAA!"));
        o.push(2, t("/BBBB!"));
        let rel = Release { id: 2, upto: 6 };
        o.flush(&mut w, rel, |_| {}).ok();
        assert_eq!(w.got, b"/A");
        // Queue full (head half written): telegram 2 is evicted, not the head.
        o.push(3, t("/CCCC!"));
        assert_eq!(o.dropped, 1);
        w.room = 100;
        let mut lens = Vec::new();
        o.flush(&mut w, Release { id: 3, upto: 6 }, |n| lens.push(n))
            .ok();
        assert_eq!(w.got, b"/AAAA!/CCCC!");
        assert_eq!(lens, vec![6, 6]);
        assert_eq!((o.completed, o.dropped, o.bytes), (2, 1, 12));
        assert!(o.is_empty());
    }

    #[test]
    fn release_limits_the_current_telegram_only() {
        let mut o = Outbox::new(4);
        let mut w = Tight {
            room: 100,
            got: Vec::new(),
        };
        o.push(7, t("/old!"));
        o.push(8, t("/new-telegram!"));
        let rel = Release { id: 8, upto: 4 };
        o.flush(&mut w, rel, |_| {}).ok();
        assert_eq!(w.got, b"/old!/new");
        assert!(!o.has_writable(rel));
        assert_eq!(o.head_sent(), 4);
        let rel = Release { id: 8, upto: 99 };
        assert!(o.has_writable(rel));
        o.flush(&mut w, rel, |_| {}).ok();
        assert_eq!(w.got, b"/old!/new-telegram!");
    }

    #[test]
    fn cap_one_with_started_head_drops_the_newcomer() {
        let mut o = Outbox::new(1);
        let mut w = Tight {
            room: 1,
            got: Vec::new(),
        };
        o.push(1, t("/X!"));
        o.flush(&mut w, Release { id: 1, upto: 3 }, |_| {}).ok();
        o.push(2, t("/Y!"));
        assert_eq!(o.dropped, 1);
        assert_eq!(o.discard_all(), 1);
        assert_eq!(o.dropped, 2);
    }
}
