//! Comparison under active security: the most significant bit of a secret
//! in Z_2^64, as an authenticated 0/1 value, from the dealer's random bits.
//!
//! Method (the arithmetic bit decomposition of Damgard, Fitzi, Kiltz,
//! Nielsen and Toft, TCC 2006, on SPDZ2k shares; every AND is a Beaver
//! product of authenticated 0/1 values, so every step is MAC-checked):
//! open `c = x + r + 2^64 t` for a random `r` given by its authenticated
//! bits and a random `t` that hides the upper half; then `x = c - r mod
//! 2^64` and `msb(x) = c_63 xor r_63 xor b`, where `b` is the borrow out of
//! the low 63 bits of `c - r`, that is `[c mod 2^63 < r mod 2^63]`:
//! `b = sum_i [c_i = 0] r_i prod_(j > i) [c_j = r_j]` (the terms exclude
//! one another). The suffix products take a Sklansky scan: 6 rounds and
//! 191 products (Kogge-Stone's took 321). In all 9 rounds, and 255 products
//! of Z_2^128 per element.

use super::{Active, AuthShare};
use crate::error::Result;
use crate::prep::auth::AuthKind;

/// Bits below the top one.
const LOW: usize = 63;

impl Active<'_> {
    /// 1 where the secret (as a signed 64-bit value) is negative, else 0,
    /// authenticated. Nine rounds.
    pub fn msb(&mut self, x: &AuthShare) -> Result<AuthShare> {
        let len = x.len();
        let flat = x.reshape(&[len])?;
        let m = self.take(AuthKind::Bits(vec![len]))?;
        let bits = AuthShare::from_parts(&m[2], &m[3]).reshape(&[len, 64])?;
        let t = AuthShare::from_parts(&m[1], &m[4]);
        // r = sum 2^i r_i, exactly (each bit is 0 or 1).
        let weights: Vec<u128> = (0..len * 64).map(|i| 1u128 << (i % 64)).collect();
        let r = bits.mul_public(&weights)?.sum_axis(1)?.reshape(&[len])?;
        let masked = flat.add(&r)?.add(&t.map_linear(|v| v << 64))?;
        let c: Vec<u64> = self.open(&[&masked])?[0]
            .iter()
            .map(|&v| v as u64)
            .collect();
        let bit_of = |i: usize, j: usize| ((c[i] >> j) & 1) as u128;
        let low = bits.select_cols(&(0..LOW).collect::<Vec<_>>())?;
        // eq_j = [c_j = r_j] = (1 - c_j) + (2 c_j - 1) r_j: linear.
        let sign: Vec<u128> = (0..len * LOW)
            .map(|k| (2 * bit_of(k / LOW, k % LOW)).wrapping_sub(1))
            .collect();
        // [c_i = 0] per element and bit: eq's offset, and g's factor below.
        let zero_c: Vec<u128> = (0..len * LOW)
            .map(|k| 1 - bit_of(k / LOW, k % LOW))
            .collect();
        let eq = self.add_public(&low.mul_public(&sign)?, &zero_c)?;
        // Inclusive suffix products p_i = prod_(j >= i) eq_j by Sklansky's
        // scan: at each level, every position in the lower half of a block
        // takes the product of the upper half (held by its first position).
        let mut p = eq;
        let mut half = 1;
        while half < LOW {
            let (low_half, partner): (Vec<usize>, Vec<usize>) = (0..LOW)
                .filter(|i| i % (2 * half) < half && i - i % (2 * half) + half < LOW)
                .map(|i| (i, i - i % (2 * half) + half))
                .unzip();
            let prod = self.mul(&p.select_cols(&low_half)?, &p.select_cols(&partner)?)?;
            // Back in place: products where computed, the old columns elsewhere.
            let mut order = vec![None; LOW];
            for (k, &i) in low_half.iter().enumerate() {
                order[i] = Some(k);
            }
            let both = AuthShare::concat(&[&prod, &p], 1)?;
            let computed = low_half.len();
            let width = computed + LOW;
            let index: Vec<Option<usize>> = (0..len)
                .flat_map(|row| {
                    let order = &order;
                    (0..LOW).map(move |i| Some(row * width + order[i].unwrap_or(computed + i)))
                })
                .collect();
            p = both.gather(&[len, LOW], &index)?;
            half *= 2;
        }
        // Exclusive: s_i = p_(i+1), and s_62 = 1.
        let ones = self.public_ones(len);
        let after = p.select_cols(&(1..LOW).collect::<Vec<_>>())?;
        let s = AuthShare::concat(&[&after, &ones], 1)?;
        // g_i = [c_i = 0] r_i, linear; the borrow is sum_i g_i s_i.
        let g = low.mul_public(&zero_c)?;
        let borrow = self.mul(&g, &s)?.sum_axis(1)?.reshape(&[len])?;
        // msb = c_63 xor r_63 xor borrow.
        let r63 = bits.select_cols(&[LOW])?.reshape(&[len])?;
        let both = self.mul(&r63, &borrow)?;
        let u = r63.add(&borrow)?.sub(&both.mul_public_scalar(2))?;
        let c63: Vec<u128> = (0..len).map(|i| bit_of(i, LOW)).collect();
        let flip: Vec<u128> = c63.iter().map(|&b| 1u128.wrapping_sub(2 * b)).collect();
        let out = self.add_public(&u.mul_public(&flip)?, &c63)?;
        out.reshape(x.shape())
    }

    /// A public `[len, 1]` tensor of ones.
    fn public_ones(&self, len: usize) -> AuthShare {
        let t = tessera_tensor::RingTensor::from_vec(&[len, 1], vec![1; len])
            .expect("consistent shape");
        self.public(&t)
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
