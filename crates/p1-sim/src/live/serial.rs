//! The serial destination: a real UART (e.g. a USB adapter wired to a P1 reader) opened at
//! 115200 8N1 with the `serialport` crate, written without blocking the clock.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

use super::outbox::{Outbox, Release};
use super::{LiveError, LiveSummary, ReadyInfo, Sink};

/// Largest single write. `serialport` waits for POLLOUT, which a tty reports while fewer
/// than 256 bytes are pending and it has room; writing no more than that then never blocks
/// on a blocking descriptor.
const MAX_WRITE: usize = 256;

/// The open port and its queue.
pub(crate) struct SerialSink {
    device: String,
    port: Box<dyn SerialPort>,
    out: Outbox,
    rel: Release,
}

/// `serialport`'s writer reports "not writable within the timeout" as `TimedOut`; the
/// outbox expects `WouldBlock`.
struct NonBlocking<'a>(&'a mut dyn SerialPort);

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(MAX_WRITE);
        match self.0.write(&buf[..n]) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(io::ErrorKind::WouldBlock.into()),
            r => r,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SerialSink {
    /// Opens `device` at 115200 8N1, no flow control.
    pub(crate) fn open(device: &str) -> Result<Self, LiveError> {
        let port = serialport::new(device, 115_200)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(Duration::ZERO)
            .open()
            .map_err(|e| LiveError::Serial {
                device: device.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self {
            device: device.to_owned(),
            port,
            out: Outbox::new(1),
            rel: Release::default(),
        })
    }

    pub(crate) fn ready(&self) -> ReadyInfo {
        ReadyInfo::Serial {
            device: self.device.clone(),
        }
    }

    fn err(&self, message: impl ToString) -> LiveError {
        LiveError::Serial {
            device: self.device.clone(),
            message: message.to_string(),
        }
    }

    fn flush_out(&mut self, timeout: Duration) -> Result<(), LiveError> {
        self.port.set_timeout(timeout).map_err(|e| self.err(e))?;
        let r = self
            .out
            .flush(&mut NonBlocking(self.port.as_mut()), self.rel, |_| {});
        r.map_err(|e| self.err(e))
    }
}

impl Sink for SerialSink {
    fn begin(&mut self, telegram: Arc<[u8]>) -> Result<(), LiveError> {
        if !self.out.is_empty() {
            // The previous telegram is still not out a full period later: abandon it.
            self.out.discard_all();
            self.port
                .clear(ClearBuffer::Output)
                .map_err(|e| self.err(e))?;
        }
        self.rel = Release {
            id: self.rel.id + 1,
            upto: 0,
        };
        self.out.push(self.rel.id, telegram);
        Ok(())
    }

    fn release(&mut self, upto: usize) -> Result<(), LiveError> {
        self.rel.upto = upto;
        self.flush_out(Duration::ZERO)
    }

    fn wait(&mut self, timeout: Duration) -> Result<(), LiveError> {
        if self.out.has_writable(self.rel) {
            // Blocks at most `timeout` waiting for the device to accept bytes.
            self.flush_out(timeout)
        } else {
            std::thread::sleep(timeout);
            Ok(())
        }
    }

    fn is_idle(&mut self) -> Result<bool, LiveError> {
        let queued = self.port.bytes_to_write().unwrap_or(0);
        Ok(self.out.is_empty() && queued == 0)
    }

    fn finish(&mut self, summary: &mut LiveSummary) -> Result<(), LiveError> {
        self.out.discard_all();
        summary.written += self.out.completed;
        summary.dropped += self.out.dropped;
        summary.bytes += self.out.bytes;
        Ok(())
    }
}
