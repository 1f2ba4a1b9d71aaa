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

use super::{mask_rows, Material, Preprocessing};
use crate::channel::{Channel, NetError};
use crate::error::{ProtocolError, Result};
use iknp::{CotShape, ExtReceiver, ExtSender, Op, KAPPA};
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

/// Random ring elements with their bits XOR-shared, and for truncation
/// pairs the two derived parts (see [`OtProvider::eda`]).
#[derive(Default)]
struct Eda {
    r: Vec<u64>,
    words: Vec<u64>,
    low: Vec<u64>,
    msb: Vec<u64>,
}

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
        choice: &dyn Fn(usize) -> u64,
        corr: &dyn Fn(usize, &mut [u64]),
        got: &mut dyn FnMut(usize, usize, &[u64]),
        kept: &mut dyn FnMut(usize, usize, &[u64]),
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
                let (u, state) = peer.receiver.start(shape, choice);
                let bytes = iknp::to_bytes(&u);
                sent += bytes.len() as u64;
                peer.channel.send(bytes).map_err(|e| net(p, e))?;
                pending.push((p, state));
            }
            let mut batches = Vec::new();
            for &p in send_to {
                let peer = self.peers[p].as_mut().expect("a peer");
                let frame = peer.channel.recv().map_err(|e| net(p, e))?;
                received += frame.len() as u64;
                let words = iknp::from_bytes(&frame, KAPPA * shape.n.div_ceil(128) * 2)
                    .map_err(|e| bad(p, e))?;
                drop(frame);
                batches.push((p, peer.sender.begin(&words, shape).map_err(|e| bad(p, e))?));
            }
            for c in 0..iknp::chunks(shape) {
                for (p, batch) in batches.iter_mut() {
                    let p = *p;
                    let frame = batch.respond_chunk(c, shape, corr, |j, x| kept(p, j, x));
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

    fn others(&self) -> Vec<usize> {
        (0..self.peers.len()).filter(|&p| p != self.id).collect()
    }

    /// This party's share of the cross terms `sum over peers p of
    /// (R_me * S_p + R_p * S_me)`: elementwise (`k == 0`: `R`, `S` and the
    /// result have `rows` entries) or as matrix products (`R [rows, k]`,
    /// `S [k, v]`, result `[rows, v]`). Gilboa: one OT per bit of `R`.
    fn cross(&mut self, r: &[u64], s: &[u64], rows: usize, k: usize, v: usize) -> Result<Vec<u64>> {
        let elementwise = k == 0;
        let (kk, vv) = if elementwise { (1, 1) } else { (k, v) };
        let mut out = vec![0u64; rows * vv];
        let per_row = kk * 64;
        let slab = (MAX_BATCH_OTS / per_row).max(1);
        let peers = self.others();
        for start in (0..rows).step_by(slab) {
            let end = (start + slab).min(rows);
            let r_slab = &r[start * kk..end * kk];
            let out_slab = &mut out[start * vv..end * vv];
            let shape = CotShape {
                n: (end - start) * per_row,
                v: vv,
                op: Op::Add,
                width: &|j| 64 - (j % 64) as u32,
            };
            let choice = |j: usize| (r_slab[j / 64] >> (j % 64)) & 1;
            let corr = |j: usize, c: &mut [u64]| {
                let idx = j / 64;
                if elementwise {
                    c[0] = s[start + idx];
                } else {
                    let l = idx % kk;
                    c.copy_from_slice(&s[l * vv..(l + 1) * vv]);
                }
            };
            let acc = std::cell::RefCell::new(out_slab);
            let add = |j: usize, y: &[u64], sign: bool| {
                let row = j / 64 / kk;
                let t = (j % 64) as u32;
                let mut o = acc.borrow_mut();
                for (o, &y) in o[row * vv..(row + 1) * vv].iter_mut().zip(y) {
                    let term = y << t;
                    *o = if sign {
                        o.wrapping_sub(term)
                    } else {
                        o.wrapping_add(term)
                    };
                }
            };
            self.cot(
                &shape,
                &peers,
                &peers,
                &choice,
                &corr,
                &mut |_, j, y| add(j, y, false),
                &mut |_, j, x| add(j, x, true),
            )?;
        }
        Ok(out)
    }

    /// Shares of `A B` for this party's share `a` of `A [m, k]` and `b` of
    /// `B [k, n]`: its local product plus the cross terms, bit-decomposing
    /// whichever operand needs fewer OTs.
    fn matmul(&mut self, a: &RingTensor, b: &RingTensor) -> Result<RingTensor> {
        let (m, k, n) = a.matmul_dims(b)?;
        let mut c = a.matmul(b)?;
        let cross = if m <= n {
            RingTensor::from_vec(&[m, n], self.cross(a.as_slice(), b.as_slice(), m, k, n)?)?
        } else {
            let bt = b.transpose();
            let at = a.transpose();
            RingTensor::from_vec(&[n, m], self.cross(bt.as_slice(), at.as_slice(), n, k, m)?)?
                .transpose()
        };
        c.add_assign(&cross)?;
        Ok(c)
    }

    /// Shares of `a * b` elementwise.
    fn mul(&mut self, a: &RingTensor, b: &RingTensor) -> Result<RingTensor> {
        let mut c = a.mul(b)?;
        let cross = self.cross(b.as_slice(), a.as_slice(), a.len(), 0, 1)?;
        c.add_assign(&RingTensor::from_vec(a.shape(), cross)?)?;
        Ok(c)
    }

    /// XOR shares of `a & b_l` for words `a` and `b_1..b_k` (XOR-shared):
    /// one OT per bit of `a`, carrying that bit of every `b_l`.
    fn and_fanout(&mut self, a: &[u64], bs: &[&[u64]]) -> Result<Vec<Vec<u64>>> {
        let k = bs.len();
        let words = a.len();
        let mut out: Vec<Vec<u64>> = bs
            .iter()
            .map(|b| a.iter().zip(b.iter()).map(|(x, y)| x & y).collect())
            .collect();
        let peers = self.others();
        let slab = (MAX_BATCH_OTS / 64).max(1);
        for start in (0..words).step_by(slab) {
            let end = (start + slab).min(words);
            let shape = CotShape {
                n: (end - start) * 64,
                v: 1,
                op: Op::Xor,
                width: &|_| k as u32,
            };
            let choice = |j: usize| (a[start + j / 64] >> (j % 64)) & 1;
            let corr = |j: usize, c: &mut [u64]| {
                let (w, bit) = (start + j / 64, j % 64);
                c[0] = bs
                    .iter()
                    .enumerate()
                    .fold(0, |acc, (l, b)| acc | (((b[w] >> bit) & 1) << l));
            };
            let acc = std::cell::RefCell::new(&mut out);
            let apply = |j: usize, y: &[u64]| {
                let (w, bit) = (start + j / 64, j % 64);
                let mut o = acc.borrow_mut();
                for (l, ol) in o.iter_mut().enumerate() {
                    ol[w] ^= ((y[0] >> l) & 1) << bit;
                }
            };
            self.cot(
                &shape,
                &peers,
                &peers,
                &choice,
                &corr,
                &mut |_, j, y| apply(j, y),
                &mut |_, j, x| apply(j, x),
            )?;
        }
        Ok(out)
    }

    /// Additive shares of bits given as XOR shares (`bits[i]` is 0 or 1),
    /// and of their products with the additively shared `times`: starting
    /// from `b = 0, p = 0`, each party `j` in turn folds in its bit `b_j` by
    /// `b <- b + b_j - 2 b b_j` and `p <- p + b_j (t - 2p)` (so `p = t b`
    /// throughout). Both products have the private bit `b_j` as one factor:
    /// one OT per element with every other party, carrying two words. Bit
    /// `i` is only needed modulo `2^width(i)` (the caller's use of it:
    /// `2^k b_k` needs `64 - k` bits), so only that many are sent.
    fn bits_to_arith(
        &mut self,
        bits: &[u64],
        width: &(dyn Fn(usize) -> u32 + Sync),
        times: Option<&[u64]>,
    ) -> Result<(Vec<u64>, Vec<u64>)> {
        let me = self.id;
        let n = self.peers.len();
        let len = bits.len();
        let t = times.unwrap_or(&[]);
        let v = if times.is_some() { 2 } else { 1 };
        let mut acc = vec![0u64; len];
        let mut p = vec![0u64; if times.is_some() { len } else { 0 }];
        for j in 0..n {
            if j == 0 && times.is_none() {
                // b = 0 before party 0's bit: no product to make.
                if me == 0 {
                    acc.copy_from_slice(bits);
                }
                continue;
            }
            let (recv_from, send_to) = if me == j {
                (self.others(), vec![])
            } else {
                (vec![], vec![j])
            };
            // Product shares start with the local terms (party j's own).
            let mut prod: Vec<u64> = vec![0; len * v];
            if me == j {
                for i in 0..len {
                    prod[i * v] = acc[i].wrapping_mul(bits[i]);
                    if v == 2 {
                        prod[i * v + 1] = bits[i].wrapping_mul(t[i].wrapping_sub(p[i] << 1));
                    }
                }
            }
            for start in (0..len).step_by(MAX_BATCH_OTS) {
                let end = (start + MAX_BATCH_OTS).min(len);
                let shape = CotShape {
                    n: end - start,
                    v,
                    op: Op::Add,
                    width: &|i| width(start + i),
                };
                let choice = |i: usize| bits[start + i];
                let (a, pp) = (&acc, &p);
                let corr = |i: usize, c: &mut [u64]| {
                    let i = start + i;
                    c[0] = a[i];
                    if v == 2 {
                        c[1] = t[i].wrapping_sub(pp[i] << 1);
                    }
                };
                let cell = std::cell::RefCell::new(&mut prod);
                self.cot(
                    &shape,
                    &recv_from,
                    &send_to,
                    &choice,
                    &corr,
                    &mut |_, i, y| {
                        let mut q = cell.borrow_mut();
                        for (k, y) in y.iter().enumerate() {
                            let at = (start + i) * v + k;
                            q[at] = q[at].wrapping_add(*y);
                        }
                    },
                    &mut |_, i, x| {
                        let mut q = cell.borrow_mut();
                        for (k, x) in x.iter().enumerate() {
                            let at = (start + i) * v + k;
                            q[at] = q[at].wrapping_sub(*x);
                        }
                    },
                )?;
            }
            for i in 0..len {
                let own = if me == j { bits[i] } else { 0 };
                acc[i] = acc[i].wrapping_add(own).wrapping_sub(prod[i * v] << 1);
                if v == 2 {
                    p[i] = p[i].wrapping_add(prod[i * v + 1]);
                }
            }
        }
        Ok((acc, p))
    }

    /// A random word per element, XOR-shared, and additive shares of its low
    /// `nbits` bits (element-major, `nbits` per element), bit `k` correct
    /// modulo `2^width(k)`. Made a slab of elements at a time, so memory
    /// stays bounded; `each(words, bits)` receives every slab.
    fn word_bits(
        &mut self,
        len: usize,
        nbits: usize,
        width: impl Fn(usize) -> u32 + Sync,
        mut each: impl FnMut(&[u64], &[u64]),
    ) -> Result<()> {
        let slab = (MAX_BATCH_OTS / nbits.max(1)).max(1);
        for start in (0..len).step_by(slab) {
            let words = self.local.next_u64_vec((start + slab).min(len) - start);
            let bits: Vec<u64> = words
                .iter()
                .flat_map(|&w| (0..nbits).map(move |i| (w >> i) & 1))
                .collect();
            let arith = self.bits_to_arith(&bits, &|i| width(i % nbits), None)?.0;
            each(&words, &arith);
        }
        Ok(())
    }

    /// Random `r` as additive shares with its bits XOR-shared (as words),
    /// and for a truncation by `f` bits also `(r mod 2^63) >> f` and
    /// `r >> 63`. Bit `k` is made additive only to the width its uses need:
    /// `64 - k` for `r`, `64 - k + f` for the truncated part, 64 for the top bit.
    fn eda(&mut self, len: usize, trunc: Option<usize>) -> Result<Eda> {
        let width = |k: usize| match trunc {
            Some(_) if k == 63 => 64,
            Some(f) if k >= f => (64 - k + f).min(64) as u32,
            _ => 64 - k as u32,
        };
        let mut out = Eda::default();
        let f = trunc.unwrap_or(0);
        self.word_bits(len, 64, width, |words, bits| {
            out.words.extend_from_slice(words);
            for b in bits.chunks_exact(64) {
                out.r.push(
                    b.iter()
                        .enumerate()
                        .fold(0u64, |acc, (i, &x)| acc.wrapping_add(x << i)),
                );
                if trunc.is_some() {
                    out.low
                        .push((f..63).fold(0u64, |acc, i| acc.wrapping_add(b[i] << (i - f))));
                    out.msb.push(b[63]);
                }
            }
        })?;
        Ok(out)
    }

    /// Makes one item (every party in the same order).
    fn make(&mut self, item: &Material) -> Result<Vec<RingTensor>> {
        let shape_of = |s: &[usize]| s.iter().product::<usize>();
        Ok(match item {
            Material::Triple(s) => {
                let a = self.local.uniform(s);
                let b = self.local.uniform(s);
                let c = self.mul(&a, &b)?;
                vec![a, b, c]
            }
            Material::Square(s) => {
                let a = self.local.uniform(s);
                let c = self.mul(&a, &a)?;
                vec![a, c]
            }
            Material::MatTriple(m, k, n) => {
                let a = self.local.uniform(&[*m, *k]);
                let b = self.local.uniform(&[*k, *n]);
                let c = self.matmul(&a, &b)?;
                vec![a, b, c]
            }
            Material::Trunc(s, f) => {
                let e = self.eda(shape_of(s), Some(*f as usize))?;
                vec![
                    RingTensor::from_vec(s, e.r)?,
                    RingTensor::from_vec(s, e.low)?,
                    RingTensor::from_vec(s, e.msb)?,
                ]
            }
            Material::BitTriple(s, fanout) => {
                let a = self.local.uniform(s);
                let bs: Vec<RingTensor> = (0..*fanout).map(|_| self.local.uniform(s)).collect();
                let refs: Vec<&[u64]> = bs.iter().map(|b| b.as_slice()).collect();
                let cs = self.and_fanout(a.as_slice(), &refs)?;
                let mut out = vec![a];
                out.extend(bs);
                for c in cs {
                    out.push(RingTensor::from_vec(s, c)?);
                }
                out
            }
            Material::EdaBits(s) => {
                let e = self.eda(shape_of(s), None)?;
                vec![
                    RingTensor::from_vec(s, e.r)?,
                    RingTensor::from_vec(s, e.words)?,
                ]
            }
            Material::WordBits(s, nbits) => {
                let (mut words, mut bits) = (Vec::new(), Vec::new());
                self.word_bits(
                    shape_of(s),
                    *nbits as usize,
                    |_| 64,
                    |w, b| {
                        words.extend_from_slice(w);
                        bits.extend_from_slice(b);
                    },
                )?;
                let mut bshape = s.clone();
                bshape.push(*nbits as usize);
                vec![
                    RingTensor::from_vec(s, words)?,
                    RingTensor::from_vec(&bshape, bits)?,
                ]
            }
            Material::EdaSelect(len) => {
                let Eda { r, words, .. } = self.eda(*len, None)?;
                let s_words = self.local.next_u64_vec(len.div_ceil(64));
                let s_bits: Vec<u64> = (0..*len)
                    .map(|i| (s_words[i / 64] >> (i % 64)) & 1)
                    .collect();
                let (s_arith, r_s) = self.bits_to_arith(&s_bits, &|_| 64, Some(&r))?;
                let s_arith = RingTensor::from_vec(&[*len], s_arith)?;
                let r_s = RingTensor::from_vec(&[*len], r_s)?;
                let r = RingTensor::from_vec(&[*len], r)?;
                vec![
                    r,
                    RingTensor::from_vec(&[s_words.len()], s_words)?,
                    RingTensor::from_vec(&[*len], words)?,
                    s_arith,
                    r_s,
                ]
            }
            Material::Mask {
                id,
                start,
                rows,
                cols,
            } => vec![mask_rows(
                &self.mask_seed,
                *id,
                *cols,
                *start..*start + *rows,
            )],
            Material::RowTriple {
                mask,
                rows,
                cols,
                out,
                transposed,
            } => {
                let a = mask_rows(&self.mask_seed, *mask, *cols, rows.iter().copied());
                let b_rows = if *transposed { rows.len() } else { *cols };
                let b = self.local.uniform(&[b_rows, *out]);
                let c = if *transposed {
                    self.matmul(&a.transpose(), &b)?
                } else {
                    self.matmul(&a, &b)?
                };
                vec![a, b, c]
            }
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MemChannel;
    use crate::prep::Sharing;

    /// Runs `f` on `n` connected providers (threads, in-memory links).
    fn run<T: Send>(n: usize, f: impl Fn(&mut OtProvider) -> T + Sync) -> Vec<T> {
        let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = MemChannel::pair(Duration::from_secs(20));
                links[i][j] = Some(Box::new(a));
                links[j][i] = Some(Box::new(b));
            }
        }
        let f = &f;
        std::thread::scope(|s| {
            let hs: Vec<_> = links
                .into_iter()
                .enumerate()
                .map(|(id, chans)| {
                    s.spawn(move || {
                        let prg = Prg::from_seed([id as u8 + 1; 32]);
                        let mut p = OtProvider::connect(id, chans, prg).unwrap();
                        f(&mut p)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn combine(parts: &[&RingTensor], sharing: Sharing) -> RingTensor {
        let mut acc = parts[0].clone();
        for p in &parts[1..] {
            match sharing {
                Sharing::Arithmetic => acc.add_assign(p).unwrap(),
                Sharing::Binary => acc.xor_assign(p).unwrap(),
            }
        }
        acc
    }

    #[test]
    fn receiver_gets_exactly_the_chosen_messages() {
        // Party 1 chooses; party 0's correlation c_j; y_j = x_j ^ r_j c_j.
        let n_ots = 1000;
        let outs = run(2, |p| {
            let shape = CotShape {
                n: n_ots,
                v: 3,
                op: Op::Xor,
                width: &|j| 1 + (j % 64) as u32,
            };
            let res = std::cell::RefCell::new(vec![vec![0u64; 3]; n_ots]);
            let (recv, send): (Vec<usize>, Vec<usize>) = if p.id == 1 {
                (vec![0], vec![])
            } else {
                (vec![], vec![1])
            };
            p.cot(
                &shape,
                &recv,
                &send,
                &|j| (j as u64 * 7 / 3) & 1,
                &|j, c| {
                    for (k, c) in c.iter_mut().enumerate() {
                        *c = (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 + k as u64);
                    }
                },
                &mut |_, j, y| res.borrow_mut()[j].copy_from_slice(y),
                &mut |_, j, x| res.borrow_mut()[j].copy_from_slice(x),
            )
            .unwrap();
            res.into_inner()
        });
        for j in 0..n_ots {
            let w = 1 + (j % 64) as u32;
            let m = mask(w);
            let r = (j as u64 * 7 / 3) & 1;
            for k in 0..3 {
                let c = (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 + k as u64) & m;
                assert_eq!(outs[1][j][k], outs[0][j][k] ^ (c * r), "OT {j} word {k}");
                assert_eq!(outs[0][j][k] & !m, 0);
            }
        }
    }

    fn mask(w: u32) -> u64 {
        if w >= 64 {
            u64::MAX
        } else {
            (1 << w) - 1
        }
    }

    #[test]
    fn every_correlation_holds_for_2_3_and_5_parties() {
        let items = vec![
            Material::Triple(vec![3, 5]),
            Material::Square(vec![7]),
            Material::MatTriple(3, 4, 5),
            Material::MatTriple(6, 2, 3),
            Material::Trunc(vec![9], 16),
            Material::BitTriple(vec![4], 3),
            Material::EdaBits(vec![5]),
            Material::WordBits(vec![2], 10),
            Material::EdaSelect(70),
            Material::RowTriple {
                mask: 1,
                rows: vec![4, 1, 1],
                cols: 3,
                out: 2,
                transposed: false,
            },
            Material::RowTriple {
                mask: 1,
                rows: vec![0, 2],
                cols: 3,
                out: 4,
                transposed: true,
            },
        ];
        for n in [2, 3, 5] {
            let outs = run(n, |p| {
                let mut shares: Vec<Vec<RingTensor>> =
                    items.iter().map(|m| p.take(m).unwrap()).collect();
                // The rows of the mask as drawn for the row triples.
                shares.push(
                    p.take(&Material::Mask {
                        id: 1,
                        start: 0,
                        rows: 5,
                        cols: 3,
                    })
                    .unwrap(),
                );
                shares
            });
            let secret = |i: usize, c: usize, sharing| {
                combine(&outs.iter().map(|o| &o[i][c]).collect::<Vec<_>>(), sharing)
            };
            use Sharing::*;
            for (i, item) in items.iter().enumerate() {
                let (random, determined) = item.layout();
                let secrets: Vec<RingTensor> = random
                    .iter()
                    .map(|c| c.1)
                    .enumerate()
                    .map(|(c, sh)| secret(i, c, sh))
                    .collect();
                let expect = item.determine(&secrets).unwrap();
                for (c, (_, sh)) in determined.iter().enumerate() {
                    let got = secret(i, random.len() + c, *sh);
                    assert_eq!(got, expect[c], "{item:?} component {c}, n = {n}");
                }
            }
            // Row triples use the rows of the persistent mask.
            let mask = secret(items.len(), 0, Arithmetic);
            let a = secret(9, 0, Arithmetic);
            assert_eq!(a, mask.select_rows(&[4, 1, 1]).unwrap());
        }
    }

    #[test]
    fn shares_are_uniform() {
        // Each party's share of c in a Beaver triple: every bit is 1 about
        // half the time (4096 samples per bit: 6 sigma is 0.047).
        let outs = run(2, |p| p.take(&Material::Triple(vec![4096])).unwrap());
        for party in &outs {
            let c = party[2].as_slice();
            for bit in 0..64 {
                let ones = c.iter().filter(|&&w| (w >> bit) & 1 == 1).count() as f64;
                let frac = ones / c.len() as f64;
                assert!((frac - 0.5).abs() < 0.047, "bit {bit}: {frac}");
            }
        }
    }

    #[test]
    fn a_peer_that_drops_out_is_named() {
        let outs = run(2, |p| {
            if p.id == 1 {
                p.peers[0] = None; // drops the link to party 0
                return String::new();
            }
            p.take(&Material::Triple(vec![8])).unwrap_err().to_string()
        });
        assert!(
            outs[0].contains("party 1 (OT preprocessing)"),
            "{}",
            outs[0]
        );
    }
}
