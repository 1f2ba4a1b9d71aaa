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
        // Leaves, element-major, 64 per element: less = r_j and not c_j,
        // equal = r_j xor not c_j below the top; (r_63, 1) at the top.
        let (mut not_c, mut low) = (Vec::new(), Vec::new());
        for &cv in &c {
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
        let bit = self.xor_public(&less, &c63)?;
        self.bits_to_arith(&bit, &b_bits, &b_arith)?
            .reshape(x.shape())
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
