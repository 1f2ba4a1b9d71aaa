//! Bit extraction under active security: the bits of a secret in Z_2^64 as
//! authenticated 0/1 values, from the dealer's random bits.
//!
//! Method (the arithmetic bit decomposition of Damgard, Fitzi, Kiltz,
//! Nielsen and Toft, TCC 2006, on SPDZ2k shares; every AND is a Beaver
//! product of authenticated 0/1 values, so every step is MAC-checked):
//! open `c = x + r + 2^64 t` for a random `r` given by its authenticated
//! bits and a random `t` that hides the upper half. Then `x = c - r mod
//! 2^64`, and with `B_i = [c mod 2^i < r mod 2^i]` the borrow into bit `i`,
//! `x_i = c_i - r_i + 2 B_(i+1) - B_i` exactly (from `x mod 2^(i+1) = c mod
//! 2^(i+1) - r mod 2^(i+1) + 2^(i+1) B_(i+1)`): linear once the borrows are
//! known. The borrows are the prefixes of a carry-lookahead over (generate,
//! propagate) pairs `g_j = [c_j = 0] r_j` and `p_j = [c_j = r_j]`, both
//! linear in `r_j`, combined by Sklansky's network (one round per level),
//! computing only the products that a wanted output depends on: all
//! prefixes for a decomposition, a tree of 63 combinations for one borrow.

use super::{Active, AuthShare};
use crate::error::{ProtocolError, Result};
use crate::prep::auth::AuthKind;
use tessera_tensor::RingTensor;

/// The columns of `base` at `cols` replaced by those of `new` (local).
fn with_cols(base: &AuthShare, cols: &[usize], new: &AuthShare) -> Result<AuthShare> {
    let (rows, width) = (base.shape()[0], base.shape()[1]);
    let k = cols.len();
    let mut from = vec![None; width];
    for (j, &c) in cols.iter().enumerate() {
        from[c] = Some(j);
    }
    let both = AuthShare::concat(&[new, base], 1)?;
    let index: Vec<Option<usize>> = (0..rows)
        .flat_map(|r| {
            let from = &from;
            (0..width).map(move |c| Some(r * (k + width) + from[c].unwrap_or(k + c)))
        })
        .collect();
    both.gather(&[rows, width], &index)
}

/// One level of a scan: the combinations it computes.
struct Level {
    /// Positions whose generate is updated, with their partners.
    g: Vec<(usize, usize)>,
    /// Positions whose propagate is updated, with their partners.
    p: Vec<(usize, usize)>,
}

/// Sklansky's levels over `width` positions, pruned to the products that
/// the wanted generate and propagate prefixes depend on.
fn plan(width: usize, want_g: &[usize], want_p: &[usize]) -> Vec<Level> {
    let mut halves = Vec::new();
    let mut h = 1;
    while h < width {
        halves.push(h);
        h *= 2;
    }
    let (mut need_g, mut need_p) = (vec![false; width], vec![false; width]);
    want_g.iter().for_each(|&i| need_g[i] = true);
    want_p.iter().for_each(|&i| need_p[i] = true);
    let mut levels = Vec::new();
    for &h in halves.iter().rev() {
        let (mut before_g, mut before_p) = (need_g.clone(), need_p.clone());
        let mut level = Level {
            g: Vec::new(),
            p: Vec::new(),
        };
        for i in (0..width).filter(|i| i % (2 * h) >= h) {
            let j = i - i % (2 * h) + h - 1;
            before_g[i] = false;
            before_p[i] = false;
            if need_g[i] {
                level.g.push((i, j));
                (before_g[i], before_p[i], before_g[j]) = (true, true, true);
            }
            if need_p[i] {
                level.p.push((i, j));
                (before_p[i], before_p[j]) = (true, true);
            }
        }
        levels.push(level);
        (need_g, need_p) = (before_g, before_p);
    }
    levels.reverse();
    levels
}

impl Active<'_> {
    /// Opens `x + r + 2^64 t` for the dealer's random bits of `r`: returns
    /// the low word of the opening per element and the bits `[len, 64]`.
    pub(super) fn open_masked_bits(&mut self, x: &AuthShare) -> Result<(Vec<u64>, AuthShare)> {
        let len = x.len();
        let m = self.take(AuthKind::Bits(vec![len]))?;
        let bits = AuthShare::from_parts(&m[2], &m[3]).reshape(&[len, 64])?;
        let t = AuthShare::from_parts(&m[1], &m[4]);
        // r = sum 2^i r_i, exactly (each bit is 0 or 1).
        let weights: Vec<u128> = (0..len * 64).map(|i| 1u128 << (i % 64)).collect();
        let r = bits.mul_public(&weights)?.sum_axis(1)?.reshape(&[len])?;
        let masked = x
            .reshape(&[len])?
            .add(&r)?
            .add(&t.map_linear(|v| v << 64))?;
        let c = self.open(&[&masked])?.remove(0);
        Ok((c.into_iter().map(|v| v as u64).collect(), bits))
    }

    /// Inclusive prefix combination of (generate, propagate) columns
    /// `[len, width]`: afterwards column `i` of the generates is
    /// `G_(0..=i)` where wanted (`want_g`), and likewise the propagates
    /// (`want_p`); other columns are stale. One round per level.
    pub(super) fn scan(
        &mut self,
        mut g: AuthShare,
        mut p: AuthShare,
        want_g: &[usize],
        want_p: &[usize],
    ) -> Result<(AuthShare, AuthShare)> {
        let width = p.shape()[1];
        for level in plan(width, want_g, want_p) {
            let pick = |pairs: &[(usize, usize)], which: fn(&(usize, usize)) -> usize| {
                pairs.iter().map(which).collect::<Vec<usize>>()
            };
            let (gi, gj) = (pick(&level.g, |x| x.0), pick(&level.g, |x| x.1));
            let (pi, pj) = (pick(&level.p, |x| x.0), pick(&level.p, |x| x.1));
            // (G, P)_i <- (G_i + P_i G_j, P_i P_j), all products in one round.
            let lhs = AuthShare::concat(&[&p.select_cols(&gi)?, &p.select_cols(&pi)?], 1)?;
            let rhs = AuthShare::concat(&[&g.select_cols(&gj)?, &p.select_cols(&pj)?], 1)?;
            let (kg, kp) = (gi.len(), pi.len());
            if kg + kp == 0 {
                continue;
            }
            let prod = self.mul(&lhs, &rhs)?;
            let new_g = g
                .select_cols(&gi)?
                .add(&prod.select_cols(&(0..kg).collect::<Vec<_>>())?)?;
            let new_p = prod.select_cols(&(kg..kg + kp).collect::<Vec<_>>())?;
            g = with_cols(&g, &gi, &new_g)?;
            p = with_cols(&p, &pi, &new_p)?;
        }
        Ok((g, p))
    }

    /// The borrow pairs of `c - r` over bits `0..width`: `g_j = [c_j = 0]
    /// r_j` and `p_j = [c_j = r_j] = (1 - c_j) + (2 c_j - 1) r_j`.
    pub(super) fn borrow_pairs(
        &self,
        c: &[u64],
        bits: &AuthShare,
        width: usize,
    ) -> Result<(AuthShare, AuthShare)> {
        let r = bits.select_cols(&(0..width).collect::<Vec<_>>())?;
        let bit = |k: usize| ((c[k / width] >> (k % width)) & 1) as u128;
        let n = c.len() * width;
        let zero_c: Vec<u128> = (0..n).map(|k| 1 - bit(k)).collect();
        let sign: Vec<u128> = (0..n).map(|k| (2 * bit(k)).wrapping_sub(1)).collect();
        let g = r.mul_public(&zero_c)?;
        let p = self.add_public(&r.mul_public(&sign)?, &zero_c)?;
        Ok((g, p))
    }

    /// Bits `from .. from + count` of each element of `x` (as a 64-bit
    /// value), as authenticated 0/1 values `[len, count]`. One opening, then
    /// one round per level of a scan over `from + count` positions.
    pub fn bits(&mut self, x: &AuthShare, from: u32, count: u32) -> Result<AuthShare> {
        let (from, count) = (from as usize, count as usize);
        if count == 0 || from + count > 64 {
            return Err(ProtocolError::InvalidArgument {
                op: "active bits",
                detail: format!("bits {from}..{} of a 64-bit value", from + count),
            });
        }
        let len = x.len();
        let width = from + count;
        let (c, r) = self.open_masked_bits(x)?;
        let (g, p) = self.borrow_pairs(&c, &r, width)?;
        // Column k of `borrows` is B_k = G_(0..=k-1), with B_0 = 0.
        let (g, _) = self.scan(
            g,
            p,
            &(from.saturating_sub(1)..width).collect::<Vec<_>>(),
            &[],
        )?;
        let zero = self.public(&RingTensor::zeros(&[len, 1]));
        let borrows = AuthShare::concat(&[&zero, &g], 1)?;
        let upper = borrows.select_cols(&(from + 1..=width).collect::<Vec<_>>())?;
        let lower = borrows.select_cols(&(from..width).collect::<Vec<_>>())?;
        // x_i = c_i - r_i + 2 B_(i+1) - B_i
        let ri = r.select_cols(&(from..width).collect::<Vec<_>>())?;
        let ci: Vec<u128> = (0..len * count)
            .map(|k| ((c[k / count] >> (from + k % count)) & 1) as u128)
            .collect();
        let linear = upper.mul_public_scalar(2).sub(&lower)?.sub(&ri)?;
        self.add_public(&linear, &ci)
    }

    /// One-hot position of the leading one among bits 0..=62 of each
    /// element, authenticated (`[len, 63]`; all zero for 0). From the
    /// bits, the suffix products `S_i = prod_(j >= i) (1 - x_j)` by a scan
    /// (reversed), and `h_i = S_(i+1) - S_i`.
    pub fn leading_one(&mut self, x: &AuthShare) -> Result<AuthShare> {
        const W: usize = 63;
        let len = x.len();
        let bits = self.bits(x, 0, W as u32)?;
        let reversed: Vec<usize> = (0..W).rev().collect();
        let ones = vec![1u128; len * W];
        let q = self
            .add_public(&bits.neg(), &ones)?
            .select_cols(&reversed)?;
        let unused = q.clone();
        let (_, s) = self.scan(unused, q, &[], &(0..W).collect::<Vec<_>>())?;
        let s = s.select_cols(&reversed)?;
        // S_63 = 1 (the empty product).
        let one = self.public(&RingTensor::from_vec(&[len, 1], vec![1; len])?);
        let next = AuthShare::concat(&[&s.select_cols(&(1..W).collect::<Vec<_>>())?, &one], 1)?;
        next.sub(&s)
    }
}
