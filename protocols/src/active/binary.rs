//! Authenticated bits for the active mode's comparisons: XOR shares of bits
//! with MACs under a global binary key, so that a comparison costs about
//! what the semi-honest one does online (one opened bit per AND input)
//! instead of 128-bit arithmetic products.
//!
//! A bit `x` is held as XOR shares `x_i` and MAC shares `m_i` with `XOR_i
//! m_i = x * alpha` for a global 64-bit key `alpha = XOR_i alpha_i` no
//! party knows (the MACs of "TinyOT"-style bit sharing, Nielsen, Nordholt,
//! Orlandi and Burra, CRYPTO 2012, with a global key as in SPDZ over
//! GF(2^k) fields, Damgard, Pastro, Smart and Zakarias, CRYPTO 2012). XOR
//! and AND with public bits are local; AND of two secrets is a Beaver
//! product with the dealer's authenticated triples, opening two bits.
//!
//! The check of opened bits (inside [`Active::check`]): every 64
//! consecutive opened bits `d_(b,t)` form a word `Q_b`, read as a
//! polynomial over GF(2); with coefficients `chi_b` of GF(2^64) tossed
//! after the openings, party `i` sends `sigma_i = sum_b chi_b (XOR_t m_(i,b,t)
//! x^t) + alpha_i sum_b chi_b Q_b` (reduced modulo `x^64 + x^4 + x^3 + x +
//! 1`), and the `sigma_i` must XOR to zero. A party that flips opened bits
//! of block `b` (error polynomial `E_b != 0`, degree below 64, so nonzero
//! in the field) must add `alpha E_b` to the MACs without knowing `alpha`:
//! it succeeds with probability about `2^-64` per check.

use super::Active;
use crate::error::{ProtocolError, Result};
use crate::prep::auth::AuthKind;
use tessera_tensor::RingTensor;

/// This party's authenticated XOR shares of a vector of bits: one bit
/// (0 or 1) and one MAC share per entry. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BitShare {
    pub(crate) bits: Vec<u64>,
    pub(crate) macs: Vec<u64>,
}

impl std::fmt::Debug for BitShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitShare(len={})", self.bits.len())
    }
}

impl BitShare {
    /// From the dealer's tensors: bits in the low bit of each word.
    pub(crate) fn from_parts(bits: &RingTensor, macs: &RingTensor) -> Self {
        Self {
            bits: bits.as_slice().iter().map(|v| v & 1).collect(),
            macs: macs.as_slice().to_vec(),
        }
    }

    /// From the dealer's tensors: bits packed 64 to a word, one MAC each.
    pub(crate) fn from_packed(words: &RingTensor, macs: &RingTensor) -> Self {
        Self {
            bits: unpack(words.as_slice(), macs.len()),
            macs: macs.as_slice().to_vec(),
        }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// True if there are no bits.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// `self ^ other` (local).
    pub fn xor(&self, other: &Self) -> Result<Self> {
        if self.len() != other.len() {
            return Err(ProtocolError::InvalidArgument {
                op: "bit xor",
                detail: format!("{} bits against {}", self.len(), other.len()),
            });
        }
        let zip = |a: &[u64], b: &[u64]| a.iter().zip(b).map(|(x, y)| x ^ y).collect();
        Ok(Self {
            bits: zip(&self.bits, &other.bits),
            macs: zip(&self.macs, &other.macs),
        })
    }

    /// `self & c` for public bits `c` (local).
    pub fn and_public(&self, c: &[u64]) -> Self {
        let keep = |v: &[u64]| {
            v.iter()
                .zip(c)
                .map(|(x, b)| x & (b & 1).wrapping_neg())
                .collect()
        };
        Self {
            bits: keep(&self.bits),
            macs: keep(&self.macs),
        }
    }

    /// The entries at even positions, then those at odd ones (local).
    pub fn split_pairs(&self) -> (Self, Self) {
        let half = |v: &[u64], from: usize| v.iter().skip(from).step_by(2).copied().collect();
        let part = |from| Self {
            bits: half(&self.bits, from),
            macs: half(&self.macs, from),
        };
        (part(0), part(1))
    }

    /// The bits at the given positions (local).
    pub fn select(&self, at: &[usize]) -> Self {
        Self {
            bits: at.iter().map(|&i| self.bits[i]).collect(),
            macs: at.iter().map(|&i| self.macs[i]).collect(),
        }
    }

    /// The bits at the given positions, 0 (with MAC 0) where `None`.
    pub fn select_or_zero(&self, at: &[Option<usize>]) -> Self {
        let pick = |v: &[u64]| at.iter().map(|i| i.map_or(0, |i| v[i])).collect();
        Self {
            bits: pick(&self.bits),
            macs: pick(&self.macs),
        }
    }

    /// A copy with the bits at positions `at` replaced by `new`'s.
    pub fn replace(&self, at: &[usize], new: &Self) -> Self {
        let mut out = self.clone();
        for (k, &i) in at.iter().enumerate() {
            out.bits[i] = new.bits[k];
            out.macs[i] = new.macs[k];
        }
        out
    }

    /// Bits concatenated (local).
    pub fn concat(parts: &[&Self]) -> Self {
        Self {
            bits: parts.iter().flat_map(|p| p.bits.iter().copied()).collect(),
            macs: parts.iter().flat_map(|p| p.macs.iter().copied()).collect(),
        }
    }
}

/// Up to 64 bits (0/1 words) as one word, lowest first.
fn pack_word(bits: &[u64]) -> u64 {
    bits.iter()
        .enumerate()
        .fold(0, |w, (i, b)| w | (b & 1) << i)
}

/// Bits (0/1 words) packed 64 to a word, lowest first.
pub(crate) fn pack(bits: &[u64]) -> Vec<u64> {
    bits.chunks(64).map(pack_word).collect()
}

/// The first `len` bits of packed words.
pub(crate) fn unpack(words: &[u64], len: usize) -> Vec<u64> {
    (0..len).map(|i| (words[i / 64] >> (i % 64)) & 1).collect()
}

/// Carry-less product of two 64-bit polynomials (low, high words), without
/// branching on either operand.
fn clmul(a: u64, b: u64) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, 0u64);
    for i in 0..64 {
        let take = ((a >> i) & 1).wrapping_neg();
        lo ^= (b << i) & take;
        if i > 0 {
            hi ^= (b >> (64 - i)) & take;
        }
    }
    (lo, hi)
}

/// A 128-bit polynomial reduced modulo `x^64 + x^4 + x^3 + x + 1`.
fn reduce(lo: u64, hi: u64) -> u64 {
    // x^64 = x^4 + x^3 + x + 1; the overflow of the first fold is below x^4.
    let fold = |h: u64| h ^ (h << 1) ^ (h << 3) ^ (h << 4);
    let over = (hi >> 60) ^ (hi >> 61) ^ (hi >> 63);
    lo ^ fold(hi) ^ fold(over)
}

/// Product in GF(2^64).
pub(crate) fn gf_mul(a: u64, b: u64) -> u64 {
    let (lo, hi) = clmul(a, b);
    reduce(lo, hi)
}

/// One block of the binary check: up to 64 opened bits as a word `Q`, and
/// this party's MAC shares folded to `M = XOR_t m_t x^t` (reduced). The
/// check needs nothing else of them, so a block is all that is kept.
pub(crate) fn fold_block(opened: u64, macs: impl Iterator<Item = u64>) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, 0u64);
    for (t, m) in macs.enumerate() {
        lo ^= m << t;
        // m >> 64 would be 0; written without a branch on t.
        hi ^= (m >> 1) >> (63 - t);
    }
    (opened, reduce(lo, hi))
}

/// This party's term of the binary check over blocks of opened bits (see
/// the module doc), with coefficients from `chi`.
pub(crate) fn check_term(blocks: &[(u64, u64)], key: u64, mut chi: impl FnMut() -> u64) -> u64 {
    let (mut sigma, mut public) = (0u64, 0u64);
    for &(opened, mac) in blocks {
        let c = chi();
        sigma ^= gf_mul(c, mac);
        public ^= gf_mul(c, opened);
    }
    sigma ^ gf_mul(key, public)
}

impl Active<'_> {
    /// Public bits as an authenticated share (party 0 holds them; every
    /// party's MAC share is its key share where the bit is 1).
    pub fn public_bits(&self, bits: &[u64]) -> BitShare {
        let leader = self.sess.is_leader();
        BitShare {
            bits: bits
                .iter()
                .map(|b| if leader { b & 1 } else { 0 })
                .collect(),
            macs: bits
                .iter()
                .map(|b| (b & 1).wrapping_neg() & self.bin_key)
                .collect(),
        }
    }

    /// `x ^ c` for public bits `c` (local).
    pub fn xor_public(&self, x: &BitShare, c: &[u64]) -> Result<BitShare> {
        x.xor(&self.public_bits(c))
    }

    /// Opens packed bit words in one round: `mine` holds segments of
    /// `lens[i]` bits, each padded to whole words. Returns the XOR of every
    /// party's words. A peer that sets padding bits sent a malformed message.
    fn open_words(&mut self, mine: Vec<u64>, lens: &[usize]) -> Result<Vec<u64>> {
        if self.opened_bit_count >= super::MAX_PENDING {
            self.check()?;
        }
        let got = self.exchange(&mine, mine.len())?;
        let mut sum = mine;
        for (p, theirs) in got.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
            let mut at = 0;
            for &len in lens {
                let words = len.div_ceil(64);
                let spare = match len % 64 {
                    0 => 0,
                    used => u64::MAX << used,
                };
                if theirs[at + words - 1] & spare != 0 {
                    return Err(ProtocolError::Malformed {
                        party: self.sess.id(),
                        peer: format!("party {p}"),
                        detail: format!("opened bits with padding set past bit {len}"),
                    });
                }
                at += words;
            }
            for (s, v) in sum.iter_mut().zip(theirs) {
                *s ^= v;
            }
        }
        Ok(sum)
    }

    /// Keeps opened words (`len` bits) for the check, with this party's MAC
    /// share of bit `i` given by `mac(i)`.
    fn record_opened(&mut self, words: &[u64], len: usize, mac: impl Fn(usize) -> u64) {
        for (w, &word) in words.iter().enumerate() {
            let end = (64 * w + 64).min(len);
            self.opened_bit_blocks
                .push(fold_block(word, (64 * w..end).map(&mac)));
        }
        self.opened_bit_count += len;
    }

    /// Opens bits in one round (packed 64 to a word) and keeps them, with
    /// this party's MAC shares, for the check.
    fn open_bits(&mut self, xs: &[&BitShare]) -> Result<Vec<Vec<u64>>> {
        let lens: Vec<usize> = xs.iter().map(|x| x.len()).collect();
        let mine = xs.iter().flat_map(|x| pack(&x.bits)).collect();
        let sum = self.open_words(mine, &lens)?;
        let mut at = 0;
        let mut out = Vec::with_capacity(xs.len());
        for x in xs {
            let words = &sum[at..at + x.len().div_ceil(64)];
            self.record_opened(words, x.len(), |i| x.macs[i]);
            out.push(unpack(words, x.len()));
            at += words.len();
        }
        Ok(out)
    }

    /// `x & y_k` for every `y_k` in one round, with authenticated triples
    /// sharing one mask for `x`: `k` products open `k + 1` bits per entry.
    pub fn and_fanout(&mut self, x: &BitShare, ys: &[&BitShare]) -> Result<Vec<BitShare>> {
        let len = x.len();
        let k = ys.len();
        if ys.iter().any(|y| y.len() != len) || k == 0 {
            return Err(ProtocolError::InvalidArgument {
                op: "bit and",
                detail: format!("{len} bits against {k} operands of other lengths"),
            });
        }
        let m = self.take(AuthKind::AndTriples(vec![len], k as u32))?;
        // Packed a, b_1..b_k, c_1..c_k; one MAC per bit of a, b_k, c_k.
        let packed = |i: usize| m[i].as_slice();
        let mac = |i: usize| m[1 + 2 * k + i].as_slice();
        let words = len.div_ceil(64);
        // Operand j (x, then the y's) masked by its triple part, packed.
        let operands: Vec<&BitShare> = std::iter::once(x).chain(ys.iter().copied()).collect();
        let mut mine = Vec::with_capacity((k + 1) * words);
        for (j, o) in operands.iter().enumerate() {
            let mask = packed(j);
            mine.extend(o.bits.chunks(64).zip(mask).map(|(b, m)| pack_word(b) ^ m));
            // The masks' padding bits are random: the opened padding is 0.
            if !len.is_multiple_of(64) {
                *mine.last_mut().expect("len > 0") &= !(u64::MAX << (len % 64));
            }
        }
        let opened = self.open_words(mine, &vec![len; k + 1])?;
        for (j, o) in operands.iter().enumerate() {
            let mask_mac = mac(j);
            let part = &opened[j * words..(j + 1) * words];
            self.record_opened(part, len, |i| o.macs[i] ^ mask_mac[i]);
        }
        let d = &opened[..words];
        let (leader, key) = ((self.sess.is_leader() as u64).wrapping_neg(), self.bin_key);
        let (a, a_mac) = (packed(0), mac(0));
        // x & y = c ^ (d & b) ^ (e & a) ^ (d & e), on packed bits, then on
        // the MACs bit by bit (the public d & e: party 0's bit, every
        // party's key share).
        Ok((0..k)
            .map(|j| {
                let e = &opened[(j + 1) * words..(j + 2) * words];
                let (b, c) = (packed(1 + j), packed(1 + k + j));
                let (b_mac, c_mac) = (mac(1 + j), mac(1 + k + j));
                let z: Vec<u64> = (0..words)
                    .map(|w| c[w] ^ (d[w] & b[w]) ^ (e[w] & a[w]) ^ (leader & d[w] & e[w]))
                    .collect();
                let macs = (0..len)
                    .map(|i| {
                        let bit = |v: &[u64]| ((v[i / 64] >> (i % 64)) & 1).wrapping_neg();
                        let (dm, em) = (bit(d), bit(e));
                        c_mac[i] ^ (dm & b_mac[i]) ^ (em & a_mac[i]) ^ (dm & em & key)
                    })
                    .collect();
                BitShare {
                    bits: unpack(&z, len),
                    macs,
                }
            })
            .collect())
    }

    /// Opens `x ^ b` for the binary half of a daBit `b` and returns `x` as
    /// an authenticated arithmetic 0/1 value: `v + b (1 - 2 v)`. One round.
    pub(super) fn bits_to_arith(
        &mut self,
        x: &BitShare,
        b_bits: &BitShare,
        b_arith: &super::AuthShare,
    ) -> Result<super::AuthShare> {
        Ok(self.bits_to_arith_opened(x, b_bits, b_arith)?.1)
    }

    /// [`Self::bits_to_arith`], also returning the opened `e = x ^ b`.
    pub(super) fn bits_to_arith_opened(
        &mut self,
        x: &BitShare,
        b_bits: &BitShare,
        b_arith: &super::AuthShare,
    ) -> Result<(Vec<u64>, super::AuthShare)> {
        let v = self.open_bits(&[&x.xor(b_bits)?])?.remove(0);
        let flip: Vec<u128> = v
            .iter()
            .map(|&b| 1u128.wrapping_sub(2 * b as u128))
            .collect();
        let public: Vec<u128> = v.iter().map(|&b| b as u128).collect();
        let arith = self.add_public(&b_arith.mul_public(&flip)?, &public)?;
        Ok((v, arith))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_product_is_commutative_distributive_and_reduces() {
        let xs = [0u64, 1, 2, 0x1b, u64::MAX, 1 << 63, 0x0123_4567_89ab_cdef];
        for &a in &xs {
            for &b in &xs {
                assert_eq!(gf_mul(a, b), gf_mul(b, a));
                for &c in &xs {
                    assert_eq!(gf_mul(a, b ^ c), gf_mul(a, b) ^ gf_mul(a, c));
                }
            }
            assert_eq!(gf_mul(a, 1), a);
        }
        // x^63 * x = x^64 = x^4 + x^3 + x + 1.
        assert_eq!(gf_mul(1 << 63, 2), 0b11011);
    }

    #[test]
    fn honest_shares_pass_the_check_and_a_flipped_bit_does_not() {
        let (k0, k1) = (0x9e37_79b9_7f4a_7c15u64, 0xdead_beef_0bad_f00du64);
        let key = k0 ^ k1;
        let bits: Vec<u64> = (0..150).map(|i| (i * 7 % 3 == 0) as u64).collect();
        let m0: Vec<u64> = (0..150u64)
            .map(|i| i.wrapping_mul(0x2545_f491_4f6c_dd1d))
            .collect();
        let m1: Vec<u64> = bits
            .iter()
            .zip(&m0)
            .map(|(b, m)| m ^ (b.wrapping_neg() & key))
            .collect();
        let coins = |seed: u64| {
            let mut s = seed;
            move || {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s
            }
        };
        // Blocks of 64 bits, the last one partial, as `record_opened` keeps them.
        let blocks = |bits: &[u64], macs: &[u64]| -> Vec<(u64, u64)> {
            bits.chunks(64)
                .zip(macs.chunks(64))
                .map(|(b, m)| fold_block(pack_word(b), m.iter().copied()))
                .collect()
        };
        let term =
            |bits: &[u64], macs: &[u64], key: u64| check_term(&blocks(bits, macs), key, coins(5));
        assert_eq!(term(&bits, &m0, k0) ^ term(&bits, &m1, k1), 0);
        // Any single flipped bit, in a full block or in the partial one.
        for at in [0, 63, 64, 77, 149] {
            let mut flipped = bits.clone();
            flipped[at] ^= 1;
            assert_ne!(
                term(&flipped, &m0, k0) ^ term(&flipped, &m1, k1),
                0,
                "bit {at}"
            );
        }
    }
}
