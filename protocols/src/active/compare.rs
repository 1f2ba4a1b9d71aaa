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
//! opening and the products (`x - t + r = c - t`): each costs only its
//! leaves, its tree and its conversion.

use super::binary::BitShare;
use super::bits::Masked;
use super::{Active, AuthShare};
use crate::error::Result;
use crate::prep::auth::{CHUNK_MONOMIALS, MONOMIALS_PER_WORD};

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
        let bit = self.top_bits(&masked.c, 1, &masked)?;
        self.bits_to_arith(&bit, &masked.b_bits, &masked.b_arith)?
            .reshape(x.shape())
    }

    /// `[x < t]` for each element of flat `x` and each public threshold
    /// `t` (as signed 64-bit values), authenticated, `[len, k]`: one
    /// opening of `x + r` and one set of chunk products serve every
    /// threshold (`x - t + r = c - t`). Six rounds.
    pub fn less_than_each(&mut self, x: &AuthShare, thresholds: &[u64]) -> Result<AuthShare> {
        let (len, k) = (x.len(), thresholds.len());
        let masked = self.open_masked(x, true)?;
        let shifted: Vec<u64> = masked
            .c
            .iter()
            .flat_map(|&v| thresholds.iter().map(move |&t| v.wrapping_sub(t)))
            .collect();
        let bits = self.top_bits(&shifted, k, &masked)?;
        self.bits_as_values(&bits, len, k)
    }

    /// The top bits of `u_j - r` for public words `u` (`per` of them for
    /// each element of `r`, element-major): local chunk pairs, then four
    /// rounds of the tree.
    fn top_bits(&mut self, u: &[u64], per: usize, masked: &Masked) -> Result<BitShare> {
        let (mut less, mut eq) = self.chunk_pairs(u, per, masked);
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
    /// public chunk of `u` selects (local). A chunk's 16 terms are read
    /// once and serve every threshold.
    fn chunk_pairs(&self, u: &[u64], per: usize, masked: &Masked) -> (BitShare, BitShare) {
        let forms = ChunkForms::new();
        // The terms of each form, per public chunk value: regular, then top.
        let terms_of = |forms: &[u16; 16]| -> Vec<Vec<usize>> {
            forms
                .iter()
                .map(|&f| (0..16).filter(|s| f >> s & 1 == 1).collect())
                .collect()
        };
        let (less_terms, eq_terms) = (terms_of(&forms.less), terms_of(&forms.equal));
        let (top_less_terms, top_eq_terms) =
            (terms_of(&forms.top_less), terms_of(&forms.top_equal));
        let (r_words, r_macs) = (masked.r_low.as_slice(), masked.r_bit_macs.as_slice());
        let (p_words, p_macs) = masked
            .monomials
            .as_ref()
            .map(|(w, m)| (w.as_slice(), m.as_slice()))
            .expect("comparison material with the chunks' products");
        let one = (self.sess.is_leader() as u64, self.bin_key);
        let n = u.len() * CHUNKS;
        let (mut less, mut eq) = (vec![(0u64, 0u64); n], vec![(0u64, 0u64); n]);
        let mut terms = [(0u64, 0u64); 16];
        terms[0] = one;
        for e in 0..u.len() / per {
            for q in 0..CHUNKS {
                for j in 0..4 {
                    let i = 64 * e + 4 * q + j;
                    terms[1 << j] = ((r_words[e] >> (4 * q + j)) & 1, r_macs[i]);
                }
                for (t, &s) in CHUNK_MONOMIALS.iter().enumerate() {
                    let i = MONOMIALS_PER_WORD * e + CHUNK_MONOMIALS.len() * q + t;
                    terms[s as usize] = ((p_words[i / 64] >> (i % 64)) & 1, p_macs[i]);
                }
                let sum = |list: &[usize]| {
                    list.iter().fold((0, 0), |(b, m), &s| {
                        let (tb, tm) = terms[s];
                        (b ^ tb, m ^ tm)
                    })
                };
                let (l, eqs) = if q == CHUNKS - 1 {
                    (&top_less_terms, &top_eq_terms)
                } else {
                    (&less_terms, &eq_terms)
                };
                for j in e * per..(e + 1) * per {
                    let nibble = (u[j] >> (4 * q)) as usize & 15;
                    less[j * CHUNKS + q] = sum(&l[nibble]);
                    eq[j * CHUNKS + q] = sum(&eqs[nibble]);
                }
            }
        }
        let split = |v: Vec<(u64, u64)>| {
            let (bits, macs) = v.into_iter().unzip();
            BitShare { bits, macs }
        };
        (split(less), split(eq))
    }

    /// 1 where the secret is positive, else 0 (`msb(-x)`), authenticated.
    pub fn greater_than_zero(&mut self, x: &AuthShare) -> Result<AuthShare> {
        self.msb(&x.neg())
    }

    /// `max(x, 0)` and the 0/1 mask `[x > 0]`: seven rounds.
    pub fn relu_with_mask(&mut self, x: &AuthShare) -> Result<(AuthShare, AuthShare)> {
        let mask = self.greater_than_zero(x)?;
        Ok((self.mul(x, &mask)?, mask))
    }
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
