//! The network between two parties.
//!
//! A [`Channel`] moves whole frames (byte messages) in order between two
//! endpoints. Everything above it is written against the trait, so the same
//! protocol code runs over the in-memory [`MemChannel`] of the embedded
//! runtime and over TCP+TLS between hosts. Any channel error is fatal for the
//! session: protocols never retry.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
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

/// A simulated network link: one-way latency and bandwidth applied to every
/// frame, so a benchmark on one machine shows what rounds and bytes cost on
/// a real network. The default is no delay and unlimited bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SimulatedLink {
    /// One-way latency added to every frame.
    pub delay: Duration,
    /// Bandwidth in bytes per second (`None` for unlimited).
    pub rate: Option<f64>,
}

impl SimulatedLink {
    /// A link of `latency_ms` one-way latency and `bandwidth_mbps` megabits
    /// per second (0 for unlimited). Refuses negative or non-finite figures.
    pub fn from_figures(latency_ms: f64, bandwidth_mbps: f64) -> Result<Self, String> {
        if !(0.0..=60_000.0).contains(&latency_ms) {
            return Err(format!(
                "latency of {latency_ms} ms: give 0 to 60000 milliseconds"
            ));
        }
        if !(bandwidth_mbps.is_finite() && bandwidth_mbps >= 0.0) {
            return Err(format!(
                "bandwidth of {bandwidth_mbps} Mbit/s: give a positive figure, or 0 for unlimited"
            ));
        }
        Ok(Self {
            delay: Duration::from_secs_f64(latency_ms / 1000.0),
            rate: (bandwidth_mbps > 0.0).then(|| bandwidth_mbps * 1e6 / 8.0),
        })
    }

    /// Whether the link adds nothing.
    pub fn is_ideal(&self) -> bool {
        self.delay.is_zero() && self.rate.is_none()
    }

    /// How long `bytes` take to put on the wire at this link's bandwidth.
    pub fn transfer_time(&self, bytes: usize) -> Duration {
        self.rate.map_or(Duration::ZERO, |r| {
            Duration::from_secs_f64(bytes as f64 / r)
        })
    }
}

/// One end of an in-memory link between two threads.
pub struct MemChannel {
    tx: Sender<(Vec<u8>, Option<Instant>)>,
    rx: Receiver<(Vec<u8>, Option<Instant>)>,
    timeout: Duration,
    link: SimulatedLink,
    /// When this end's last frame finishes going out (bandwidth queueing).
    busy_until: Instant,
}

impl MemChannel {
    /// A connected pair of in-memory channels.
    pub fn pair(timeout: Duration) -> (MemChannel, MemChannel) {
        Self::pair_over(timeout, SimulatedLink::default())
    }

    /// A connected pair over a simulated link: a frame becomes receivable
    /// once its predecessors and itself are transferred at the link's
    /// bandwidth and the latency has passed. Sending never blocks.
    pub fn pair_over(timeout: Duration, link: SimulatedLink) -> (MemChannel, MemChannel) {
        let (tx_a, rx_b) = channel();
        let (tx_b, rx_a) = channel();
        let end = |tx, rx| MemChannel {
            tx,
            rx,
            timeout,
            link,
            busy_until: Instant::now(),
        };
        (end(tx_a, rx_a), end(tx_b, rx_b))
    }
}

impl Channel for MemChannel {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), NetError> {
        let due = (!self.link.is_ideal()).then(|| {
            let start = self.busy_until.max(Instant::now());
            self.busy_until = start + self.link.transfer_time(frame.len());
            self.busy_until + self.link.delay
        });
        self.tx
            .send((frame, due))
            .map_err(|_| NetError::Disconnected)
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let (frame, due) = match poll_briefly(&self.rx) {
            Some(got) => got,
            None => self.rx.recv_timeout(self.timeout).map_err(|e| match e {
                RecvTimeoutError::Timeout => NetError::Timeout(self.timeout),
                RecvTimeoutError::Disconnected => NetError::Disconnected,
            })?,
        };
        if let Some(due) = due {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        Ok(frame)
    }
}

/// How long a receive polls, yielding the core between tries, before it
/// sleeps until the frame arrives: a peer's answer in a round often comes
/// within microseconds, and waking a sleeping thread costs tens of them.
/// Measured on logistic regression (2884 rounds, 2 parties and the dealer
/// on two cores): 115-143 ms without polling, 49-64 ms with it.
const POLL: Duration = Duration::from_micros(50);

/// The next frame if it arrives within [`POLL`]; `None` otherwise (or if
/// the sender is gone: the blocking receive then says so).
fn poll_briefly<T>(rx: &Receiver<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) if start.elapsed() >= POLL => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) => std::thread::yield_now(),
        }
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

    #[test]
    fn a_simulated_link_delays_frames_by_latency_and_size() {
        // Lower bounds only: a loaded machine may be slower, never faster.
        let link = SimulatedLink::from_figures(30.0, 8.0).unwrap();
        assert_eq!(link.rate, Some(1e6));
        let (mut a, mut b) = MemChannel::pair_over(Duration::from_secs(5), link);
        let start = Instant::now();
        a.send(vec![0; 100_000]).unwrap();
        a.send(vec![1]).unwrap();
        assert_eq!(b.recv().unwrap().len(), 100_000);
        // 100 kB at 1 MB/s, then the latency.
        assert!(start.elapsed() >= Duration::from_millis(130));
        // The second frame queued behind the first.
        assert_eq!(b.recv().unwrap(), vec![1]);
        // A reply travels the latency again.
        let sent = Instant::now();
        b.send(vec![2]).unwrap();
        assert_eq!(a.recv().unwrap(), vec![2]);
        assert!(sent.elapsed() >= Duration::from_millis(30));
        assert!(SimulatedLink::default().is_ideal());
        for (ms, mbps) in [
            (-1.0, 0.0),
            (f64::NAN, 0.0),
            (0.0, -5.0),
            (0.0, f64::INFINITY),
        ] {
            assert!(
                SimulatedLink::from_figures(ms, mbps).is_err(),
                "{ms} {mbps}"
            );
        }
    }
}
