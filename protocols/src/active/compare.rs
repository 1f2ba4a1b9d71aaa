//! Comparison under active security: the most significant bit of a secret
//! in Z_2^64, as an authenticated 0/1 value, through authenticated bits
//! ([`super::binary`]).
//!
//! Open `c = x + r` for the dealer's random `r` of Z_2^128 (uniform, so
//! the opening hides all of `x`), whose low 64 bits the parties also hold
//! as authenticated bits. Then `msb(x) = c_63 xor r_63 xor B`, with `B` the
//! borrow out of the low 63 bits of `c - r`: a tree of six levels over
//! (less, equal) pairs, `(l_hi xor e_hi l_lo, e_hi e_lo)`, whose leaves
//! are `(r_j and not c_j, r_j xor not c_j)` and, for bit 63, `(r_63, 1)`,
//! which folds the XOR with `r_63` into the tree. The two ANDs of a node
//! share the mask of `e_hi`. A daBit brings the bit back to an arithmetic
//! value. Per element and peer: 128 bits for `c`, 189 opened bits, eight
//! rounds (the semi-honest comparison: 253 bits, eight rounds).

use super::{Active, AuthShare};
use crate::error::Result;

impl Active<'_> {
    /// 1 where the secret (as a signed 64-bit value) is negative, else 0,
    /// authenticated. Eight rounds.
    pub fn msb(&mut self, x: &AuthShare) -> Result<AuthShare> {
        let (c, r_bits, b_bits, b_arith) = self.open_masked(x)?;
        let bit = self.top_bits(&c, &r_bits)?;
        self.bits_to_arith(&bit, &b_bits, &b_arith)?
            .reshape(x.shape())
    }

    /// `[x < t]` for each element of flat `x` and each public threshold
    /// `t` (as signed 64-bit values), authenticated, `[len, k]`: one
    /// opening of `x + r` serves every threshold (`x - t + r = c - t`), so
    /// each further threshold costs only its tree and conversion, not the
    /// 128 bits of an opening. Eight rounds.
    pub fn less_than_each(&mut self, x: &AuthShare, thresholds: &[u64]) -> Result<AuthShare> {
        let (len, k) = (x.len(), thresholds.len());
        let (c, r_bits, _, _) = self.open_masked(x)?;
        let shifted: Vec<u64> = c
            .iter()
            .flat_map(|&v| thresholds.iter().map(move |&t| v.wrapping_sub(t)))
            .collect();
        let at: Vec<usize> = (0..len)
            .flat_map(|e| (0..k).flat_map(move |_| 64 * e..64 * (e + 1)))
            .collect();
        let bits = self.top_bits(&shifted, &r_bits.select(&at))?;
        self.bits_as_values(&bits, len, k)
    }

    /// The top bits of `c_j - r_j` for public words `c` and the bits of the
    /// secret `r` (64 per word, word-major): six rounds of the tree.
    fn top_bits(
        &mut self,
        c: &[u64],
        r_bits: &super::binary::BitShare,
    ) -> Result<super::binary::BitShare> {
        // Leaves, element-major, 64 per element: less = r_j and not c_j,
        // equal = r_j xor not c_j below the top; (r_63, 1) at the top.
        let (mut not_c, mut low) = (Vec::new(), Vec::new());
        for &cv in c {
            for j in 0..64 {
                let top = j == 63;
                not_c.push(if top { 1 } else { !(cv >> j) & 1 });
                low.push(!top as u64);
            }
        }
        let mut less = r_bits.and_public(&not_c);
        let mut eq = self.xor_public(&r_bits.and_public(&low), &not_c)?;
        let mut width = 64;
        while width > 1 {
            // Pairs of neighbours within an element: the odd one is higher.
            let pairs = less.len() / 2;
            let odd: Vec<usize> = (0..pairs).map(|i| 2 * i + 1).collect();
            let even: Vec<usize> = (0..pairs).map(|i| 2 * i).collect();
            let (less_hi, less_lo) = (less.select(&odd), less.select(&even));
            let (eq_hi, eq_lo) = (eq.select(&odd), eq.select(&even));
            if width > 2 {
                let mut both = self.and_fanout(&eq_hi, &[&less_lo, &eq_lo])?;
                eq = both.remove(1);
                less = less_hi.xor(&both[0])?;
            } else {
                less = less_hi.xor(&self.and_fanout(&eq_hi, &[&less_lo])?[0])?;
            }
            width /= 2;
        }
        let c63: Vec<u64> = c.iter().map(|v| v >> 63).collect();
        self.xor_public(&less, &c63)
    }

    /// 1 where the secret is positive, else 0 (`msb(-x)`), authenticated.
    pub fn greater_than_zero(&mut self, x: &AuthShare) -> Result<AuthShare> {
        self.msb(&x.neg())
    }

    /// `max(x, 0)` and the 0/1 mask `[x > 0]`: ten rounds.
    pub fn relu_with_mask(&mut self, x: &AuthShare) -> Result<(AuthShare, AuthShare)> {
        let mask = self.greater_than_zero(x)?;
        Ok((self.mul(x, &mask)?, mask))
    }
}
