//! Comparison under active security: the most significant bit of a secret
//! in Z_2^64, as an authenticated 0/1 value, through authenticated bits
//! ([`super::binary`]).
//!
//! Open `c = x + r` for the dealer's random `r` of Z_2^128 (uniform, so
//! the opening hides all of `x`). Then `msb(x) = c_63 xor r_63 xor B`, with
//! `B = [c mod 2^63 < r mod 2^63]` the borrow out of the low 63 bits of
//! `c - r`.
//!
//! The 64 bits fall in 16 chunks of four. For a public chunk `u` of `c`
//! and the secret chunk `p` of `r`, the pair `([u < p], [u = p])` is a
//! boolean function of `p`'s four bits, so it is a sum (XOR) of products
//! of those bits: the algebraic normal form of its truth table, whose
//! coefficients are public (they depend on `u` alone). The dealer
//! authenticates the 11 products of two to four bits of each chunk
//! ([`AuthKind::CompareChunks`](crate::prep::auth::AuthKind)), so every
//! chunk's pair is a local sum: no round, no opened bit. The top chunk's
//! pair is `(r_63 xor [u' < p'], [u' = p'])` on its three low bits, which
//! folds the XOR with `r_63` into the result (as the semi-honest tables do,
//! [`crate::compare`]).
//!
//! A tree of four levels then combines the 16 pairs, `(l_hi xor e_hi
//! l_lo, e_hi e_lo)`, the two ANDs of a node sharing the mask of `e_hi`,
//! and a daBit brings the bit back to an arithmetic value. Six rounds (the
//! opening, four levels, the conversion); per element and peer: 128 bits
//! for `c`, 44 opened bits in the tree, one to convert (the tree over all
//! 64 bits took eight rounds and 189 bits). Several thresholds share the
//! opening and the products (`x - t + r = c - t`), and their trees share
//! subtrees where the thresholds' digits agree ([`crate::shared_tree`]:
//! a node picks per element, by a public borrow, between two keyed
//! children); each costs only its own nodes and its conversion.

use super::binary::BitShare;
use super::bits::Masked;
use super::{Active, AuthShare};
use crate::error::Result;
use crate::prep::auth::{AuthKind, CHUNK_MONOMIALS, MONOMIALS_PER_WORD};
use crate::shared_tree::{low, TreePlan};

/// Chunks per 64-bit word.
const CHUNKS: usize = 16;

/// The algebraic normal form of a function of a chunk's four bits: bit `S`
/// of the result is the coefficient of the product of the bits in `S`.
fn normal_form(truth: impl Fn(u8) -> bool) -> u16 {
    let mut a: u16 = (0..16u8).fold(0, |w, p| w | (truth(p) as u16) << p);
    // The Moebius transform: a[S] ^= a[S without i], for each bit i.
    for i in 0..4 {
        for s in (0..16u16).filter(|s| s & (1 << i) != 0) {
            a ^= ((a >> (s ^ (1 << i))) & 1) << s;
        }
    }
    a
}

/// The normal forms of a chunk's (less, equal) pair for each public chunk
/// value `u`: the top chunk's on its low three bits, its less with `p_3`.
struct ChunkForms {
    less: [u16; 16],
    equal: [u16; 16],
    top_less: [u16; 16],
    top_equal: [u16; 16],
}

impl ChunkForms {
    fn new() -> Self {
        let each = |f: &dyn Fn(u8, u8) -> bool| -> [u16; 16] {
            std::array::from_fn(|u| normal_form(|p| f(u as u8, p)))
        };
        Self {
            less: each(&|u, p| u < p),
            equal: each(&|u, p| u == p),
            top_less: each(&|u, p| (p >> 3 == 1) ^ (u & 7 < p & 7)),
            top_equal: each(&|u, p| u & 7 == p & 7),
        }
    }
}

impl Active<'_> {
    /// 1 where the secret (as a signed 64-bit value) is negative, else 0,
    /// authenticated. Six rounds.
    pub fn msb(&mut self, x: &AuthShare) -> Result<AuthShare> {
        let masked = self.open_masked(x, true)?;
        let bit = self.top_bits(&masked.c, &masked)?;
        self.bits_to_arith(&bit, &masked.b_bits, &masked.b_arith)?
            .reshape(x.shape())
    }

    /// `[x < t]` for each element of flat `x` and each public threshold
    /// `t` (as signed 64-bit values), authenticated, `[len, k]`: one
    /// opening of `x + r` and one set of chunk products serve every
    /// threshold (`x - t + r = c - t`), and the thresholds' trees share
    /// their subtrees ([`crate::shared_tree`], over chunks). Six rounds.
    pub fn less_than_each(&mut self, x: &AuthShare, thresholds: &[u64]) -> Result<AuthShare> {
        let (len, k) = (x.len(), thresholds.len());
        let masked = self.open_masked(x, true)?;
        let c = &masked.c;
        let plan = TreePlan::new(thresholds, CHUNK_LEVEL);
        let forms = ChunkForms::new();
        // Leaves: a chunk key's pair for every element, local.
        let (mut less, mut equal): (Vec<BitShare>, Vec<BitShare>) = plan.levels[CHUNK_LEVEL]
            .iter()
            .map(|&(q, a, s)| {
                let top = q == CHUNKS - 1;
                let (l, e): (Vec<_>, Vec<_>) = (0..len)
                    .map(|e| {
                        let terms = chunk_terms(&masked, e, q, self.sess.is_leader(), self.bin_key);
                        let v = ((c[e].wrapping_sub(a) >> (4 * q)).wrapping_sub(s) & 15) as usize;
                        let (lf, ef) = if top {
                            (forms.top_less[v], forms.top_equal[v])
                        } else {
                            (forms.less[v], forms.equal[v])
                        };
                        (form_sum(&terms, lf), form_sum(&terms, ef))
                    })
                    .unzip();
                (from_pairs(l), from_pairs(e))
            })
            .unzip();
        for level in CHUNK_LEVEL + 1..=6 {
            let half = 1u32 << (level - 1);
            let (mut less_hi, mut eq_hi, mut less_lo, mut eq_lo) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (&(n, a, s), &(lo, h0, h1)) in plan.levels[level].iter().zip(&plan.links[level - 1])
            {
                if h0 == h1 {
                    less_hi.push(less[h0].clone());
                    eq_hi.push(equal[h0].clone());
                } else {
                    let lo_bit = n as u32 * 2 * half;
                    let s_lo = low(s, half);
                    let pick: Vec<bool> = c
                        .iter()
                        .map(|&c| low(c.wrapping_sub(a) >> lo_bit, half) < s_lo)
                        .collect();
                    less_hi.push(select(&less[h0], &less[h1], &pick));
                    eq_hi.push(select(&equal[h0], &equal[h1], &pick));
                }
                less_lo.push(less[lo].clone());
                eq_lo.push(equal[lo].clone());
            }
            let (less_hi, eq_hi) = (concat(&less_hi), concat(&eq_hi));
            let (less_lo, eq_lo) = (concat(&less_lo), concat(&eq_lo));
            if level < 6 {
                let mut both = self.and_fanout(&eq_hi, &[&less_lo, &eq_lo])?;
                equal = split(&both.remove(1), len);
                less = split(&less_hi.xor(&both[0])?, len);
            } else {
                let prod = self.and_fanout(&eq_hi, &[&less_lo])?;
                less = split(&less_hi.xor(&prod[0])?, len);
            }
        }
        // Element-major, with each threshold's public (c - t)_63.
        let mut bits = BitShare {
            bits: Vec::with_capacity(len * k),
            macs: Vec::with_capacity(len * k),
        };
        let mut u63 = Vec::with_capacity(len * k);
        for (e, &ce) in c.iter().enumerate() {
            for (&t, &root) in thresholds.iter().zip(&plan.roots) {
                bits.bits.push(less[root].bits[e]);
                bits.macs.push(less[root].macs[e]);
                u63.push(ce.wrapping_sub(t) >> 63);
            }
        }
        let bits = self.xor_public(&bits, &u63)?;
        self.bits_as_values(&bits, len, k)
    }

    /// The top bits of `u_e - r_e` for public words `u` (one per element of
    /// `r`): local chunk pairs, then four rounds of the tree.
    fn top_bits(&mut self, u: &[u64], masked: &Masked) -> Result<BitShare> {
        let (mut less, mut eq) = self.chunk_pairs(u, masked);
        let mut width = CHUNKS;
        while width > 1 {
            // Neighbours within a comparison: the odd one is higher.
            let (less_lo, less_hi) = less.split_pairs();
            let (eq_lo, eq_hi) = eq.split_pairs();
            if width > 2 {
                let mut both = self.and_fanout(&eq_hi, &[&less_lo, &eq_lo])?;
                eq = both.remove(1);
                less = less_hi.xor(&both[0])?;
            } else {
                less = less_hi.xor(&self.and_fanout(&eq_hi, &[&less_lo])?[0])?;
            }
            width /= 2;
        }
        let u63: Vec<u64> = u.iter().map(|v| v >> 63).collect();
        self.xor_public(&less, &u63)
    }

    /// Every comparison's 16 (less, equal) pairs, chunk-major within it:
    /// sums of the constant 1, `r`'s bits and the dealt products, as the
    /// public chunk of `u` selects (local).
    fn chunk_pairs(&self, u: &[u64], masked: &Masked) -> (BitShare, BitShare) {
        let forms = ChunkForms::new();
        let leader = self.sess.is_leader();
        let n = u.len() * CHUNKS;
        let (mut less, mut eq) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (e, &u) in u.iter().enumerate() {
            for q in 0..CHUNKS {
                let terms = chunk_terms(masked, e, q, leader, self.bin_key);
                let nibble = (u >> (4 * q)) as usize & 15;
                let (l, eqs) = if q == CHUNKS - 1 {
                    (forms.top_less[nibble], forms.top_equal[nibble])
                } else {
                    (forms.less[nibble], forms.equal[nibble])
                };
                less.push(form_sum(&terms, l));
                eq.push(form_sum(&terms, eqs));
            }
        }
        (from_pairs(less), from_pairs(eq))
    }

    /// 1 where the secret is positive, else 0 (`msb(-x)`), authenticated.
    pub fn greater_than_zero(&mut self, x: &AuthShare) -> Result<AuthShare> {
        self.msb(&x.neg())
    }

    /// `max(x, 0)` and the 0/1 mask `[x > 0]`: six rounds. The comparison's
    /// mask `r` doubles as the product's: `y = -x` is opened as `c = y + r`,
    /// and the bit `m` comes back through the daBit `b` as `m = e + b -
    /// 2 e b` with `e` opened, so `x m = r m - c m = e r + (1 - 2 e) r b -
    /// c m`: local, given the dealt `r b` ([`AuthKind::CompareSelect`];
    /// before, a Beaver product: one more round and 256 more bits).
    pub fn relu_with_mask(&mut self, x: &AuthShare) -> Result<(AuthShare, AuthShare)> {
        let (shape, len) = (x.shape().to_vec(), x.len());
        let y = x.neg().reshape(&[len])?;
        let masked = self.open_masked_as(&y, AuthKind::CompareSelect(vec![len]))?;
        let bit = self.top_bits(&masked.c, &masked)?;
        let (e, m) = self.bits_to_arith_opened(&bit, &masked.b_bits, &masked.b_arith)?;
        let e: Vec<u128> = e.iter().map(|&b| b as u128).collect();
        let flip: Vec<u128> = e.iter().map(|&b| 1u128.wrapping_sub(2 * b)).collect();
        let rb = masked
            .rb
            .as_ref()
            .expect("CompareSelect material deals r b");
        let relu = masked
            .r
            .mul_public(&e)?
            .add(&rb.mul_public(&flip)?)?
            .sub(&m.mul_public(&masked.c_wide)?)?;
        Ok((relu.reshape(&shape)?, m.reshape(&shape)?))
    }
}
/// The level of [`TreePlan`] whose nodes are 4-bit chunks.
const CHUNK_LEVEL: usize = 2;

/// The 16 terms of chunk `q` of element `e`'s mask, by monomial: the
/// constant 1 (held by the leader), `r`'s bits and the dealt products, each
/// a bit and its MAC share.
fn chunk_terms(masked: &Masked, e: usize, q: usize, leader: bool, key: u64) -> [(u64, u64); 16] {
    let (r_words, r_macs) = (masked.r_low.as_slice(), masked.r_bit_macs.as_slice());
    let (p_words, p_macs) = masked
        .monomials
        .as_ref()
        .map(|(w, m)| (w.as_slice(), m.as_slice()))
        .expect("comparison material with the chunks' products");
    let mut terms = [(0u64, 0u64); 16];
    terms[0] = (leader as u64, key);
    for j in 0..4 {
        let i = 64 * e + 4 * q + j;
        terms[1 << j] = ((r_words[e] >> (4 * q + j)) & 1, r_macs[i]);
    }
    for (t, &s) in CHUNK_MONOMIALS.iter().enumerate() {
        let i = MONOMIALS_PER_WORD * e + CHUNK_MONOMIALS.len() * q + t;
        terms[s as usize] = ((p_words[i / 64] >> (i % 64)) & 1, p_macs[i]);
    }
    terms
}

/// The XOR of the terms a normal form selects.
fn form_sum(terms: &[(u64, u64); 16], form: u16) -> (u64, u64) {
    let mut rest = form;
    let (mut b, mut m) = (0, 0);
    while rest != 0 {
        let (tb, tm) = terms[rest.trailing_zeros() as usize];
        b ^= tb;
        m ^= tm;
        rest &= rest - 1;
    }
    (b, m)
}

fn from_pairs(v: Vec<(u64, u64)>) -> BitShare {
    let (bits, macs) = v.into_iter().unzip();
    BitShare { bits, macs }
}

/// `y` where `pick`, else `x` (public choices: local on bits and MACs).
fn select(x: &BitShare, y: &BitShare, pick: &[bool]) -> BitShare {
    let choose = |a: &[u64], b: &[u64]| {
        a.iter()
            .zip(b)
            .zip(pick)
            .map(|((&a, &b), &p)| if p { b } else { a })
            .collect()
    };
    BitShare {
        bits: choose(&x.bits, &y.bits),
        macs: choose(&x.macs, &y.macs),
    }
}

fn concat(parts: &[BitShare]) -> BitShare {
    BitShare {
        bits: parts.iter().flat_map(|p| p.bits.iter().copied()).collect(),
        macs: parts.iter().flat_map(|p| p.macs.iter().copied()).collect(),
    }
}

/// Consecutive parts of `len` bits.
fn split(x: &BitShare, len: usize) -> Vec<BitShare> {
    (0..x.len().checked_div(len).unwrap_or(0))
        .map(|i| BitShare {
            bits: x.bits[i * len..(i + 1) * len].to_vec(),
            macs: x.macs[i * len..(i + 1) * len].to_vec(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates a normal form at `p` directly from its definition.
    fn eval(form: u16, p: u8) -> bool {
        (0..16u8)
            .filter(|&s| form >> s & 1 == 1 && p & s == s)
            .count()
            % 2
            == 1
    }

    #[test]
    fn the_normal_forms_agree_with_their_truth_tables() {
        let forms = ChunkForms::new();
        for u in 0..16u8 {
            for p in 0..16u8 {
                let i = u as usize;
                assert_eq!(eval(forms.less[i], p), u < p, "less {u} {p}");
                assert_eq!(eval(forms.equal[i], p), u == p, "equal {u} {p}");
                assert_eq!(
                    eval(forms.top_less[i], p),
                    (p >> 3 == 1) ^ (u & 7 < p & 7),
                    "top less {u} {p}"
                );
                assert_eq!(eval(forms.top_equal[i], p), u & 7 == p & 7);
            }
        }
    }
}
