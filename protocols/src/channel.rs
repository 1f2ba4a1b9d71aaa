//! The network between two parties.
//!
//! A [`Channel`] moves whole frames (byte messages) in order between two
//! endpoints. Everything above it is written against the trait, so the same
//! protocol code runs over the in-memory [`MemChannel`] of the embedded
//! runtime and over TCP+TLS between hosts. Any channel error is fatal for the
//! session: protocols never retry.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;
use thiserror::Error;

/// Why a channel operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// The peer closed the connection or its process died.
    #[error("the peer disconnected")]
    Disconnected,
    /// Nothing arrived within the receive timeout.
    #[error("no message within {0:?}")]
    Timeout(Duration),
    /// A frame exceeded the size limit.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    Oversized {
        /// Size announced or seen.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Any other I/O failure.
    #[error("i/o error: {0}")]
    Io(String),
}

/// An ordered, reliable, frame-oriented link to one peer.
pub trait Channel: Send {
    /// Queues one frame for the peer. Must not block until the peer receives
    /// it: both ends of a link may send large frames at the same time.
    fn send(&mut self, frame: Vec<u8>) -> Result<(), NetError>;
    /// Receives the next frame, waiting at most the channel's timeout.
    fn recv(&mut self) -> Result<Vec<u8>, NetError>;
}

/// Largest tensor (in elements) accepted from a peer (or the dealer) in one
/// message.
pub const MAX_MESSAGE_ELEMS: usize = 1 << 28;

/// Default time a receive waits before reporting the peer as unresponsive.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One end of an in-memory link between two threads.
pub struct MemChannel {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    timeout: Duration,
}

impl MemChannel {
    /// A connected pair of in-memory channels.
    pub fn pair(timeout: Duration) -> (MemChannel, MemChannel) {
        let (tx_a, rx_b) = channel();
        let (tx_b, rx_a) = channel();
        (
            MemChannel {
                tx: tx_a,
                rx: rx_a,
                timeout,
            },
            MemChannel {
                tx: tx_b,
                rx: rx_b,
                timeout,
            },
        )
    }
}

impl Channel for MemChannel {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), NetError> {
        self.tx.send(frame).map_err(|_| NetError::Disconnected)
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.rx.recv_timeout(self.timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => NetError::Timeout(self.timeout),
            RecvTimeoutError::Disconnected => NetError::Disconnected,
        })
    }
}

/// Splits one link into two independent ordered streams over it, for the
/// online protocol and for preprocessing run among the parties: each frame
/// follows a one-byte frame naming its stream, and a receive on one stream
/// queues the other's frames it meets. Both halves belong to one party's
/// thread, so the shared lock is never contended.
pub fn split(channel: Box<dyn Channel>) -> (Box<dyn Channel>, Box<dyn Channel>) {
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Mux {
        channel,
        queued: [Default::default(), Default::default()],
    }));
    (
        Box::new(Stream {
            mux: shared.clone(),
            tag: 0,
        }),
        Box::new(Stream {
            mux: shared,
            tag: 1,
        }),
    )
}

struct Mux {
    channel: Box<dyn Channel>,
    queued: [std::collections::VecDeque<Vec<u8>>; 2],
}

/// One stream of a [`split`] link.
struct Stream {
    mux: std::sync::Arc<std::sync::Mutex<Mux>>,
    tag: u8,
}

impl Channel for Stream {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), NetError> {
        // The tag travels as a frame of its own: appending it to a large
        // frame would reallocate and copy it.
        let mut mux = self.mux.lock().map_err(|_| NetError::Disconnected)?;
        mux.channel.send(vec![self.tag])?;
        mux.channel.send(frame)
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let mut mux = self.mux.lock().map_err(|_| NetError::Disconnected)?;
        if let Some(f) = mux.queued[self.tag as usize].pop_front() {
            return Ok(f);
        }
        loop {
            let tag = match mux.channel.recv()?.as_slice() {
                &[t @ 0..=1] => t,
                _ => return Err(NetError::Io("expected a stream tag frame".into())),
            };
            let frame = mux.channel.recv()?;
            if tag == self.tag {
                return Ok(frame);
            }
            mux.queued[tag as usize].push_back(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_streams_keep_their_own_order() {
        let (a, b) = MemChannel::pair(Duration::from_millis(200));
        let ((mut a0, mut a1), (mut b0, mut b1)) = (split(Box::new(a)), split(Box::new(b)));
        a0.send(vec![1]).unwrap();
        a1.send(vec![2]).unwrap();
        a0.send(vec![3]).unwrap();
        assert_eq!(b1.recv().unwrap(), vec![2]);
        assert_eq!(b0.recv().unwrap(), vec![1]);
        assert_eq!(b0.recv().unwrap(), vec![3]);
        assert!(matches!(b1.recv(), Err(NetError::Timeout(_))));
    }

    #[test]
    fn frames_arrive_in_order_and_drop_is_seen() {
        let (mut a, mut b) = MemChannel::pair(Duration::from_millis(200));
        a.send(vec![1]).unwrap();
        a.send(vec![2, 3]).unwrap();
        assert_eq!(b.recv().unwrap(), vec![1]);
        assert_eq!(b.recv().unwrap(), vec![2, 3]);
        assert_eq!(b.recv(), Err(NetError::Timeout(Duration::from_millis(200))));
        drop(a);
        assert_eq!(b.recv(), Err(NetError::Disconnected));
        assert_eq!(b.send(vec![0]), Err(NetError::Disconnected));
    }
}
