//! Comparison under active security: the most significant bit of a secret
//! in Z_2^64, as an authenticated 0/1 value, by the bit decomposition of
//! [`super::bits`] reduced to one output.
//!
//! `msb(x) = c_63 xor r_63 xor B_63`, with `B_63` the borrow out of the low
//! 63 bits of `c - r`. The XOR with `r_63` folds into the borrow scan as a
//! 64th position with generate `r_63` and propagate `1 - 2 r_63`: combined
//! over the rest it gives `r_63 + (1 - 2 r_63) B_63 = r_63 xor B_63`. The
//! scan pruned to that one output is a tree of 63 combinations: 120
//! products of Z_2^128 per element and 6 rounds, 7 with the opening (the
//! full-prefix Sklansky form with a separate XOR took 255 and 9).

use super::{Active, AuthShare};
use crate::error::Result;

/// Bits below the top one.
const LOW: usize = 63;

impl Active<'_> {
    /// 1 where the secret (as a signed 64-bit value) is negative, else 0,
    /// authenticated. Seven rounds.
    pub fn msb(&mut self, x: &AuthShare) -> Result<AuthShare> {
        let len = x.len();
        let (c, bits) = self.open_masked_bits(x)?;
        let (g, p) = self.borrow_pairs(&c, &bits, LOW)?;
        let r63 = bits.select_cols(&[LOW])?;
        let top_p = self.add_public(&r63.mul_public_scalar(2).neg(), &vec![1; len])?;
        let g = AuthShare::concat(&[&g, &r63], 1)?;
        let p = AuthShare::concat(&[&p, &top_p], 1)?;
        let (g, _) = self.scan(g, p, &[LOW], &[])?;
        let u = g.select_cols(&[LOW])?.reshape(&[len])?;
        // msb = c_63 xor u = c_63 + (1 - 2 c_63) u.
        let c63: Vec<u128> = c.iter().map(|&v| (v >> LOW) as u128).collect();
        let flip: Vec<u128> = c63.iter().map(|&b| 1u128.wrapping_sub(2 * b)).collect();
        let out = self.add_public(&u.mul_public(&flip)?, &c63)?;
        out.reshape(x.shape())
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
