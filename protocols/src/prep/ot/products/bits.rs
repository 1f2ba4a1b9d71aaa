//! Bitwise correlations by correlated OT: AND triples with fan-out, and
//! XOR-shared bits made additive (random bits, edaBits and truncation
//! pairs).

use super::super::iknp::{CotShape, Op, Width};
use super::super::{OtProvider, MAX_BATCH_OTS};
use crate::error::Result;

/// Random ring elements with their bits XOR-shared, and for truncation
/// pairs the two derived parts (see [`OtProvider::eda`]).
#[derive(Default)]
pub(super) struct Eda {
    pub(super) r: Vec<u64>,
    pub(super) words: Vec<u64>,
    pub(super) low: Vec<u64>,
    pub(super) msb: Vec<u64>,
}

/// Several bit-packed words per element, one vector each (the `b_l` or `c_l`
/// of AND triples).
pub(super) type Words = Vec<Vec<u64>>;

impl OtProvider {
    /// XOR shares of `a & b_l` for words `a` and `b_1..b_k` (XOR-shared):
    /// one OT per bit of `a`, carrying that bit of every `b_l`.
    pub(super) fn and_fanout(&mut self, a: &[u64], bs: &[&[u64]]) -> Result<Vec<Vec<u64>>> {
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
                width: Width::Fixed(k as u32),
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
                choice,
                corr,
                &mut |_: usize, j: usize, y: &[u64]| apply(j, y),
                &mut |_: usize, j: usize, x: &[u64]| apply(j, x),
            )?;
        }
        Ok(out)
    }

    /// AND triples for two parties from random OT, with nothing sent but
    /// the IKNP matrices: for each bit of `a`, this party chooses with its
    /// bit and the peer's pair of random messages `(m0, m1)` defines the
    /// peer's bits of every `b_l` as `m0 ^ m1` (bit `l`), so the receiver's
    /// `m_a = m0 ^ a (m0 ^ m1)` and the sender's `m0` share `a b` exactly
    /// (Beaver's OT-based AND triples). Returns `b_1..b_k` and
    /// `c_l = a & b_l`, this party's XOR shares.
    pub(super) fn and_triples_pair(&mut self, a: &[u64], k: usize) -> Result<(Words, Words)> {
        let words = a.len();
        let mut b = vec![vec![0u64; words]; k];
        let mut cross = vec![vec![0u64; words]; k];
        let slab = (MAX_BATCH_OTS / 64).max(1);
        for start in (0..words).step_by(slab) {
            let end = (start + slab).min(words);
            let n = (end - start) * 64;
            let res = self.random_ots(n, |j| (a[start + j / 64] >> (j % 64)) & 1)?;
            let (_, got, m0, m1) = &res[0];
            for j in 0..n {
                let (w, bit) = (start + j / 64, j % 64);
                let mine = (m0[j] ^ m1[j]) as u64;
                let share = (m0[j] ^ got[j]) as u64;
                for l in 0..k {
                    b[l][w] |= ((mine >> l) & 1) << bit;
                    cross[l][w] ^= ((share >> l) & 1) << bit;
                }
            }
        }
        let c = b
            .iter()
            .zip(cross)
            .map(|(bl, xl)| {
                a.iter()
                    .zip(bl)
                    .zip(xl)
                    .map(|((a, b), x)| (a & b) ^ x)
                    .collect()
            })
            .collect();
        Ok((b, c))
    }

    /// Additive shares of bits given as XOR shares (`bits[i]` is 0 or 1),
    /// and of their products with the additively shared `times`: starting
    /// from `b = 0, p = 0`, each party `j` in turn folds in its bit `b_j` by
    /// `b <- b + b_j - 2 b b_j` and `p <- p + b_j (t - 2p)` (so `p = t b`
    /// throughout). Both products have the private bit `b_j` as one factor:
    /// one OT per element with every other party, carrying two words. Bit
    /// `i` is only needed modulo `2^width(i)` (the caller's use of it:
    /// `2^k b_k` needs `64 - k` bits), so only that many are sent.
    pub(super) fn bits_to_arith(
        &mut self,
        bits: &[u64],
        width: &[u32],
        times: Option<&[u64]>,
    ) -> Result<(Vec<u64>, Vec<u64>)> {
        let me = self.id;
        let n = self.peers.len();
        let len = bits.len();
        if n == 2 && times.is_none() {
            return Ok((self.bits_to_arith_pair(bits, width)?, Vec::new()));
        }
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
                    width: Width::Cycle {
                        table: width,
                        offset: start,
                    },
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
                    choice,
                    corr,
                    &mut |_: usize, i: usize, y: &[u64]| {
                        let mut q = cell.borrow_mut();
                        for (k, y) in y.iter().enumerate() {
                            let at = (start + i) * v + k;
                            q[at] = q[at].wrapping_add(*y);
                        }
                    },
                    &mut |_: usize, i: usize, x: &[u64]| {
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

    /// [`Self::bits_to_arith`] for two parties: `b = b0 + b1 - 2 b0 b1`, and
    /// either party can hold the choice of `b0 b1`, so each chooses for half
    /// of the bits (bit `2i + 1` party 0, bit `2i` party 1) and both
    /// directions run at once: the work is even instead of all the sending
    /// on party 0 and all the receiving on party 1.
    pub(super) fn bits_to_arith_pair(&mut self, bits: &[u64], width: &[u32]) -> Result<Vec<u64>> {
        let me = self.id;
        let peer = 1 - me;
        let len = bits.len();
        // Bit index of OT `i` where party `q` chooses.
        let bit_of = |q: usize, i: usize| 2 * i + (1 - q);
        let pairs = len.div_ceil(2);
        // Widths of a pair of bits: the larger of the two.
        let table: Vec<u32> = (0..width.len().div_ceil(2))
            .map(|i| {
                let w0 = width[(2 * i) % width.len()];
                let w1 = width[(2 * i + 1) % width.len()];
                w0.max(w1)
            })
            .collect();
        let mut prod = vec![0u64; len];
        let slab = MAX_BATCH_OTS;
        for start in (0..pairs).step_by(slab) {
            let end = (start + slab).min(pairs);
            let shape = CotShape {
                n: end - start,
                v: 1,
                op: Op::Add,
                width: Width::Cycle {
                    table: &table,
                    offset: start,
                },
            };
            // An odd length leaves the last OT of one direction without a
            // bit: it chooses 0 and correlates 0, and its output is dropped.
            let bit = |q: usize, i: usize| bits.get(bit_of(q, start + i)).copied().unwrap_or(0);
            let cell = std::cell::RefCell::new(&mut prod);
            self.cot(
                &shape,
                &[peer],
                &[peer],
                |i: usize| bit(me, i),
                |i: usize, c: &mut [u64]| c[0] = bit(peer, i),
                |_: usize, i: usize, y: &[u64]| {
                    if let Some(q) = cell.borrow_mut().get_mut(bit_of(me, start + i)) {
                        *q = q.wrapping_add(y[0]);
                    }
                },
                |_: usize, i: usize, x: &[u64]| {
                    if let Some(q) = cell.borrow_mut().get_mut(bit_of(peer, start + i)) {
                        *q = q.wrapping_sub(x[0]);
                    }
                },
            )?;
        }
        Ok(bits
            .iter()
            .zip(&prod)
            .map(|(b, p)| b.wrapping_sub(p.wrapping_mul(2)))
            .collect())
    }

    /// A random word per element, XOR-shared, and additive shares of its low
    /// `nbits` bits (element-major, `nbits` per element), bit `k` correct
    /// modulo `2^width(k)`. Made a slab of elements at a time, so memory
    /// stays bounded; `each(words, bits)` receives every slab.
    pub(super) fn word_bits(
        &mut self,
        len: usize,
        nbits: usize,
        width: impl Fn(usize) -> u32,
        mut each: impl FnMut(&[u64], &[u64]),
    ) -> Result<()> {
        let slab = (MAX_BATCH_OTS / nbits.max(1)).max(1);
        for start in (0..len).step_by(slab) {
            let words = self.local.next_u64_vec((start + slab).min(len) - start);
            let bits: Vec<u64> = words
                .iter()
                .flat_map(|&w| (0..nbits).map(move |i| (w >> i) & 1))
                .collect();
            let table: Vec<u32> = (0..nbits).map(&width).collect();
            let arith = self.bits_to_arith(&bits, &table, None)?.0;
            each(&words, &arith);
        }
        Ok(())
    }

    /// Random `r` as additive shares with its bits XOR-shared (as words),
    /// and for a truncation by `f` bits also `(r mod 2^63) >> f` and
    /// `r >> 63`. Bit `k` is made additive only to the width its uses need:
    /// `64 - k` for `r`, `64 - k + f` for the truncated part, 64 for the top bit.
    pub(super) fn eda(&mut self, len: usize, trunc: Option<usize>) -> Result<Eda> {
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
}
