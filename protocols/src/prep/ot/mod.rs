//! Dealer-free preprocessing: the computing parties make every correlation
//! themselves, pairwise, from oblivious transfer over their own links.
//!
//! * [`base`]: Chou-Orlandi base OTs over Ristretto (once per pair and direction).
//! * [`iknp`]: IKNP OT extension with the tweakable correlation-robust hash
//!   of Guo et al.; correlated OT with truncated, bit-packed corrections.
//! * Here: Gilboa's multiplication (Gilboa, CRYPTO 1999) on correlated OT
//!   turns the parties' random shares into products: for a secret `r` of one
//!   party and `s` of another, OT `t` chooses with bit `t` of `r` between `x`
//!   and `x + s` (only the low `64 - t` bits matter, so only those are sent),
//!   and `sum_t 2^t y_t - sum_t 2^t x_t = r s`. A matrix product `R S` uses
//!   one OT per bit of `R`'s entries with a whole row of `S` as correlation.
//!   Beaver, square and matrix triples, triples on rows of a persistent mask,
//!   and AND triples (OT on bits, XOR correlations) come from these cross
//!   terms, one batch per item with every peer in both directions (one round
//!   trip). Random bits shared both ways (for edaBits and truncation pairs)
//!   convert XOR shares to additive ones one party at a time
//!   (`b <- b + b_j - 2 b b_j`, the product again by OT), carrying a
//!   product `r b` along where ReLU's material needs one.
//!
//! **Security:** semi-honest, dishonest majority: any n-1 colluding parties
//! learn nothing about the remaining party's shares, under the assumptions
//! of the base OT (CDH in Ristretto, SHA-256 as a random oracle) and of the
//! hash (fixed-key AES as a random permutation). No dealer exists. Each
//! party's shares are drawn from its own randomness, so they are uniform.

pub mod base;
pub mod iknp;
mod owned;
mod products;
#[cfg(test)]
mod tests;

use super::{Material, Preprocessing};
use crate::channel::{Channel, NetError};
use crate::error::{ProtocolError, Result};
use iknp::{CotShape, ExtReceiver, ExtSender, KAPPA};
use std::time::{Duration, Instant};
use tessera_tensor::{Prg, RingTensor, Seed};

/// Statement printed by every run whose material comes from OT.
pub const OT_TRUST: &str = "no dealer: the parties make their correlated randomness \
themselves by oblivious transfer; an attacker must corrupt all n computing parties \
to learn any party's data (semi-honest security)";

/// Most OTs one batch holds before it is split: bounds memory (16 bytes of
/// IKNP matrix row per OT on each side, 4 MiB here) so that buffers are
/// reused from batch to batch instead of fresh pages zeroed by the kernel.
const MAX_BATCH_OTS: usize = 1 << 18;

struct Peer {
    channel: Box<dyn Channel>,
    /// This party as extension sender to the peer.
    sender: ExtSender,
    /// This party as extension receiver from the peer.
    receiver: ExtReceiver,
}

/// A party's end of OT-based preprocessing.
///
/// Every item is made when taken (or ahead of time, after
/// [`Preprocessing::plan`]), by one batch of correlated OTs with every peer.
/// All parties take items in the same order (SPMD), so the batches line up.
pub struct OtProvider {
    id: usize,
    peers: Vec<Option<Peer>>,
    local: Prg,
    /// Keys this party's shares of persistent masks (private).
    mask_seed: Seed,
    sent: u64,
    received: u64,
    busy: Duration,
    planned: std::collections::VecDeque<Material>,
    made: std::collections::VecDeque<(Material, Vec<RingTensor>)>,
}

impl std::fmt::Debug for OtProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtProvider")
            .field("party", &self.id)
            .finish()
    }
}

/// The session id of the base OTs whose sender is `from`.
fn sid(from: usize, to: usize) -> Vec<u8> {
    format!("tessera-iknp/{from}->{to}").into_bytes()
}

impl OtProvider {
    /// Runs the base OTs with every peer (`channels[p]` links to party `p`,
    /// `None` at this party's index), both directions at once: three
    /// messages per pair.
    pub fn connect(
        id: usize,
        channels: Vec<Option<Box<dyn Channel>>>,
        mut randomness: Prg,
    ) -> Result<Self> {
        let start = Instant::now();
        let mut sent = 0u64;
        let mut received = 0u64;
        let net = |peer: usize, e: NetError| ProtocolError::Net {
            party: id,
            peer: format!("party {peer} (OT preprocessing)"),
            error: e,
        };
        let bad = |peer: usize, detail: String| ProtocolError::Malformed {
            party: id,
            peer: format!("party {peer} (OT preprocessing)"),
            detail,
        };
        let mut channels = channels;
        // 1. As base-OT sender (extension receiver): publish A.
        let mut senders = Vec::new();
        for (p, ch) in channels.iter_mut().enumerate() {
            if let Some(ch) = ch {
                let (s, first) = base::BaseSender::start(&mut randomness, &sid(id, p));
                sent += first.len() as u64;
                ch.send(first).map_err(|e| net(p, e))?;
                senders.push(Some(s));
            } else {
                senders.push(None);
            }
        }
        // 2. As base-OT receiver (extension sender): answer with delta's bits.
        let mut ext_senders = Vec::new();
        for (p, ch) in channels.iter_mut().enumerate() {
            let Some(ch) = ch else {
                ext_senders.push(None);
                continue;
            };
            let first = ch.recv().map_err(|e| net(p, e))?;
            received += first.len() as u64;
            let delta = (randomness.next_u64() as u128) | ((randomness.next_u64() as u128) << 64);
            let choices: Vec<u8> = (0..KAPPA).map(|l| ((delta >> l) & 1) as u8).collect();
            let (answer, keys) = base::receive(&mut randomness, &sid(p, id), &first, &choices)
                .map_err(|e| bad(p, e))?;
            sent += answer.len() as u64;
            ch.send(answer).map_err(|e| net(p, e))?;
            ext_senders.push(Some(ExtSender::new(delta, &keys)));
        }
        // 3. Both keys of each base OT sent.
        let mut peers = Vec::new();
        for (p, ch) in channels.into_iter().enumerate() {
            let Some(mut channel) = ch else {
                peers.push(None);
                continue;
            };
            let answer = channel.recv().map_err(|e| net(p, e))?;
            received += answer.len() as u64;
            let pairs = senders[p]
                .as_ref()
                .expect("a sender per peer")
                .finish(&answer, KAPPA)
                .map_err(|e| bad(p, e))?;
            peers.push(Some(Peer {
                channel,
                sender: ext_senders[p].take().expect("an extension sender per peer"),
                receiver: ExtReceiver::new(&pairs),
            }));
        }
        let mask_seed = randomness.next_seed();
        Ok(Self {
            id,
            peers,
            local: randomness,
            mask_seed,
            sent,
            received,
            busy: start.elapsed(),
            planned: Default::default(),
            made: Default::default(),
        })
    }

    /// One batch of correlated OTs: as receiver with every peer in
    /// `recv_from` (choices `choice(j)`, outputs to `got(peer, j, y)`), as
    /// sender to every peer in `send_to` (correlation `corr(j)`, outputs to
    /// `kept(peer, j, x)`). One message each way per pair.
    #[allow(clippy::too_many_arguments)]
    fn cot(
        &mut self,
        shape: &CotShape,
        recv_from: &[usize],
        send_to: &[usize],
        choice: impl Fn(usize) -> u64,
        corr: impl Fn(usize, &mut [u64]),
        mut got: impl FnMut(usize, usize, &[u64]),
        mut kept: impl FnMut(usize, usize, &[u64]),
    ) -> Result<()> {
        let id = self.id;
        let who = |p: usize| format!("party {p} (OT preprocessing)");
        let net = |p: usize, error: NetError| ProtocolError::Net {
            party: id,
            peer: who(p),
            error,
        };
        let bad = |p: usize, detail: String| ProtocolError::Malformed {
            party: id,
            peer: who(p),
            detail,
        };
        let (mut sent, mut received) = (0u64, 0u64);
        let result = (|| -> Result<()> {
            // Every receiver's matrix goes out first; then chunk by chunk,
            // each party answers its peers and reads their answers, so only a
            // chunk or two of corrections is ever in flight.
            let mut pending = Vec::new();
            for &p in recv_from {
                let peer = self.peers[p].as_mut().expect("a peer");
                let (bytes, state) = peer.receiver.start(shape, &choice);
                sent += bytes.len() as u64;
                peer.channel.send(bytes).map_err(|e| net(p, e))?;
                pending.push((p, state));
            }
            let mut batches = Vec::new();
            for &p in send_to {
                let peer = self.peers[p].as_mut().expect("a peer");
                let frame = peer.channel.recv().map_err(|e| net(p, e))?;
                received += frame.len() as u64;
                batches.push((p, peer.sender.begin(&frame, shape).map_err(|e| bad(p, e))?));
            }
            for c in 0..iknp::chunks(shape) {
                for (p, batch) in batches.iter_mut() {
                    let p = *p;
                    let frame = batch.respond_chunk(c, shape, &corr, |j, x| kept(p, j, x));
                    sent += frame.len() as u64;
                    let peer = self.peers[p].as_mut().expect("a peer");
                    peer.channel.send(frame).map_err(|e| net(p, e))?;
                }
                for (p, state) in pending.iter_mut() {
                    let p = *p;
                    let peer = self.peers[p].as_mut().expect("a peer");
                    let frame = peer.channel.recv().map_err(|e| net(p, e))?;
                    received += frame.len() as u64;
                    let expect = iknp::chunk_bytes(shape, c);
                    if frame.len() != expect {
                        return Err(bad(
                            p,
                            format!(
                                "OT corrections frame of {} bytes, expected {expect}",
                                frame.len()
                            ),
                        ));
                    }
                    state.finish_chunk(c, shape, &frame, |j, y| got(p, j, y));
                }
            }
            Ok(())
        })();
        self.sent += sent;
        self.received += received;
        result
    }

    /// `n` random OTs with every peer, this party receiving with choice bits
    /// `choice(j)` and sending (no correlation, nothing sent but the IKNP
    /// matrix): for benchmarks and tests of the extension itself. Returns,
    /// per peer, the messages received and the message pairs sent.
    #[allow(clippy::type_complexity)]
    pub fn random_ots(
        &mut self,
        n: usize,
        choice: impl Fn(usize) -> u64,
    ) -> Result<Vec<(usize, Vec<u128>, Vec<u128>, Vec<u128>)>> {
        let shape = CotShape {
            n,
            v: 1,
            op: iknp::Op::Xor,
            width: iknp::Width::Fixed(64),
        };
        let id = self.id;
        let net = |p: usize, error: NetError| ProtocolError::Net {
            party: id,
            peer: format!("party {p} (OT preprocessing)"),
            error,
        };
        let peers = self.others();
        let mut pending = Vec::new();
        for &p in &peers {
            let peer = self.peers[p].as_mut().expect("a peer");
            let (bytes, state) = peer.receiver.start(&shape, &choice);
            self.sent += bytes.len() as u64;
            peer.channel.send(bytes).map_err(|e| net(p, e))?;
            pending.push((p, state));
        }
        let mut out = Vec::new();
        for (p, mut state) in pending {
            let peer = self.peers[p].as_mut().expect("a peer");
            let frame = peer.channel.recv().map_err(|e| net(p, e))?;
            self.received += frame.len() as u64;
            let mut batch =
                peer.sender
                    .begin(&frame, &shape)
                    .map_err(|e| ProtocolError::Malformed {
                        party: id,
                        peer: format!("party {p} (OT preprocessing)"),
                        detail: e,
                    })?;
            let (m0, m1) = batch.random_messages(n);
            out.push((p, state.random_messages(n), m0, m1));
        }
        Ok(out)
    }

    fn others(&self) -> Vec<usize> {
        (0..self.peers.len()).filter(|&p| p != self.id).collect()
    }
}

impl Preprocessing for OtProvider {
    fn model(&self) -> &'static str {
        OT_TRUST
    }

    fn take(&mut self, item: &Material) -> Result<Vec<RingTensor>> {
        if let Some((made, _)) = self.made.front() {
            if made == item {
                let (_, shares) = self.made.pop_front().expect("checked");
                return Ok(shares);
            }
            // The computation left its plan: what was made ahead is unusable
            // (every party sees the same mismatch, as all run the same code).
            self.made.clear();
        }
        let start = Instant::now();
        let out = self.make(item);
        self.busy += start.elapsed();
        out
    }

    fn plan(&mut self, items: &[Material]) -> Result<()> {
        self.planned.extend(items.iter().cloned());
        Ok(())
    }

    fn make_ahead(&mut self) -> Result<()> {
        let start = Instant::now();
        while let Some(item) = self.planned.pop_front() {
            let shares = self.make(&item)?;
            self.made.push_back((item, shares));
        }
        self.busy += start.elapsed();
        Ok(())
    }

    fn owned_products(&self) -> bool {
        true
    }

    fn owned_triple(
        &mut self,
        owner: usize,
        left: Option<&RingTensor>,
        dims: [usize; 3],
    ) -> Result<super::OwnedTriple> {
        let start = Instant::now();
        let out = self.owned(owner, left, dims);
        self.busy += start.elapsed();
        out
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }

    fn wait_seconds(&self) -> f64 {
        self.busy.as_secs_f64()
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
