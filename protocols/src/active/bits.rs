//! Bit extraction under active security: bits of a secret in Z_2^64 as
//! authenticated 0/1 values, computed on authenticated binary bits
//! ([`super::binary`]) and brought back with daBits.
//!
//! Open `c = x + r` for the dealer's random `r` whose low 64 bits the
//! parties also hold as authenticated bits; then `x = c - r mod 2^64` and
//! `x_i = c_i xor r_i xor B_i`, with `B_i` the borrow into bit `i` of `c -
//! r`. The borrows are the prefixes of a carry-lookahead over (generate,
//! propagate) pairs `g_j = r_j and not c_j`, `p_j = r_j xor not c_j`,
//! combined by Sklansky's network, one round per level, computing only
//! what a wanted output depends on (the bit decomposition of Damgard,
//! Fitzi, Kiltz, Nielsen and Toft, TCC 2006, on MAC'd bits). Each level
//! opens three bits per combined position (the two ANDs share a mask).

use super::{Active, AuthShare, BitShare};
use crate::error::{ProtocolError, Result};
use crate::prep::auth::AuthKind;
use tessera_tensor::RingTensor;

/// One level of a scan: the positions it combines, each with its partner.
struct Level {
    /// Positions whose generate is updated.
    g: Vec<(usize, usize)>,
    /// Positions whose propagate is updated.
    p: Vec<(usize, usize)>,
}

/// Sklansky's levels over `width` positions, pruned to the combinations
/// that the wanted generate and propagate prefixes depend on.
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

/// Entry `(e, i)` of `len` rows of `width` positions, for every row.
fn spread(len: usize, width: usize, at: &[usize]) -> Vec<usize> {
    (0..len)
        .flat_map(|e| at.iter().map(move |&i| e * width + i))
        .collect()
}

/// A secret opened masked by the dealer's comparison material.
pub(super) struct Masked {
    /// The low word of `x + r`, public.
    pub c: Vec<u64>,
    /// All of `x + r` (128 bits), public.
    pub c_wide: Vec<u128>,
    /// The mask `r`, authenticated.
    pub r: AuthShare,
    /// `r b` for the daBit `b`, authenticated
    /// ([`AuthKind::CompareSelect`] only).
    pub rb: Option<AuthShare>,
    /// `r`'s low word per element (XOR-shared bits, packed), and the
    /// MACs of its 64 bits (`[len, 64]`).
    pub r_low: RingTensor,
    pub r_bit_macs: RingTensor,
    /// The daBit that brings a result back: binary, then arithmetic.
    pub b_bits: BitShare,
    pub b_arith: AuthShare,
    /// The products of `r`'s bits within each 4-bit chunk (if asked for):
    /// packed bits and their MACs.
    pub monomials: Option<(RingTensor, RingTensor)>,
}

impl Masked {
    /// `r`'s 64 low bits per element, element-major.
    pub fn r_bits(&self) -> BitShare {
        BitShare::from_packed(&self.r_low, &self.r_bit_macs)
    }
}

impl Active<'_> {
    /// Inclusive prefix combination of (generate, propagate) bits, `len`
    /// rows of `width` positions (row-major): afterwards position `i` of
    /// the generates is `G_(0..=i)` where wanted (`want_g`), and likewise
    /// the propagates; other positions are stale. One round per level.
    fn scan(
        &mut self,
        (mut g, mut p): (BitShare, BitShare),
        width: usize,
        want_g: &[usize],
        want_p: &[usize],
    ) -> Result<(BitShare, BitShare)> {
        let len = p.len() / width;
        for level in plan(width, want_g, want_p) {
            // G_i ^= P_i & G_j and P_i &= P_j: both products share P_i's
            // mask; a position that needs only one still gets both.
            let mut at: Vec<(usize, usize)> = level.g.iter().chain(&level.p).copied().collect();
            at.sort_unstable();
            at.dedup();
            if at.is_empty() {
                continue;
            }
            let (mine, theirs): (Vec<usize>, Vec<usize>) = at.into_iter().unzip();
            let (mine, theirs) = (spread(len, width, &mine), spread(len, width, &theirs));
            let both = if want_g.is_empty() {
                self.and_fanout(&p.select(&mine), &[&p.select(&theirs)])?
            } else {
                self.and_fanout(&p.select(&mine), &[&g.select(&theirs), &p.select(&theirs)])?
            };
            if !want_g.is_empty() {
                g = g.replace(&mine, &g.select(&mine).xor(&both[0])?);
            }
            p = p.replace(&mine, both.last().expect("one product at least"));
        }
        Ok((g, p))
    }

    /// Opens `c = x + r` for the dealer's comparison material (with the
    /// chunks' monomials if `chunks`): the low word of `c` per element,
    /// and the parts of `r` ([`Masked`]).
    pub(super) fn open_masked(&mut self, x: &AuthShare, chunks: bool) -> Result<Masked> {
        let len = x.len();
        self.open_masked_as(
            x,
            if chunks {
                AuthKind::CompareChunks(vec![len])
            } else {
                AuthKind::Compare(vec![len])
            },
        )
    }

    /// [`Self::open_masked`] with the material `kind` (one of the
    /// comparison kinds).
    pub(super) fn open_masked_as(&mut self, x: &AuthShare, kind: AuthKind) -> Result<Masked> {
        let len = x.len();
        let select = matches!(kind, AuthKind::CompareSelect(_));
        let chunks = select || matches!(kind, AuthKind::CompareChunks(_));
        let mut m = self.take(kind)?;
        // r, b; then r's MAC, r's bits (packed: one word per element), their
        // MACs, b (128-bit), its MAC, b's binary MAC; the monomials (packed)
        // and their MACs; r b and its MAC.
        let r = AuthShare::from_parts(&m[0], &m[2]);
        let c_wide = self.open(&[&x.reshape(&[len])?.add(&r)?])?.remove(0);
        let c = c_wide.iter().map(|&v| v as u64).collect();
        let rb = if select {
            let mac = m.pop().expect("r b's MAC");
            Some(AuthShare::from_parts(&m.pop().expect("r b"), &mac))
        } else {
            None
        };
        let b_bits = BitShare::from_parts(&m[1], &m[7]);
        let b_arith = AuthShare::from_parts(&m[5], &m[6]);
        let monomials = if chunks {
            let macs = m.pop().expect("the products' MACs");
            Some((m.pop().expect("the products"), macs))
        } else {
            None
        };
        let mut rest = m.drain(3..5);
        let (r_low, r_bit_macs) = (rest.next(), rest.next());
        Ok(Masked {
            c,
            c_wide,
            r,
            rb,
            r_low: r_low.expect("r's bits"),
            r_bit_macs: r_bit_macs.expect("their MACs"),
            b_bits,
            b_arith,
            monomials,
        })
    }

    /// The bits of `x` at positions `from..width` of every element, binary:
    /// `c xor r` with the borrows of `c - r` there.
    fn binary_bits(&mut self, x: &AuthShare, from: usize, width: usize) -> Result<BitShare> {
        let len = x.len();
        let masked = self.open_masked(x, false)?;
        let (c, r_all) = (&masked.c, masked.r_bits());
        let r_bits = r_all.select(&spread(len, 64, &(0..width).collect::<Vec<_>>()));
        let bit = |k: usize| (c[k / width] >> (k % width)) & 1;
        let not_c: Vec<u64> = (0..len * width).map(|k| 1 ^ bit(k)).collect();
        let g = r_bits.and_public(&not_c);
        let p = self.xor_public(&r_bits, &not_c)?;
        // B_(i+1) = G_(0..=i); B_0 = 0.
        let want: Vec<usize> = (from.saturating_sub(1)..width.saturating_sub(1)).collect();
        let (g, _) = self.scan((g, p), width, &want, &[])?;
        // B_i = G_(0..=i-1) at each output position, B_0 = 0.
        let at: Vec<Option<usize>> = (0..len)
            .flat_map(|e| (from..width).map(move |i| i.checked_sub(1).map(|j| e * width + j)))
            .collect();
        let borrow = g.select_or_zero(&at);
        let out = spread(len, width, &(from..width).collect::<Vec<_>>());
        let c_out: Vec<u64> = out.iter().map(|&k| bit(k)).collect();
        let cr = self.xor_public(&r_bits.select(&out), &c_out)?;
        cr.xor(&borrow)
    }

    /// Authenticated bits brought to arithmetic 0/1 values, `[len, count]`.
    pub(super) fn bits_as_values(
        &mut self,
        bits: &BitShare,
        len: usize,
        count: usize,
    ) -> Result<AuthShare> {
        let m = self.take(AuthKind::DaBits(vec![bits.len()]))?;
        let b_bits = BitShare::from_packed(&m[0], &m[1]);
        let b_arith = AuthShare::from_parts(&m[2], &m[3]);
        self.bits_to_arith(bits, &b_bits, &b_arith)?
            .reshape(&[len, count])
    }

    /// Bits `from .. from + count` of each element of `x` (as a 64-bit
    /// value), as authenticated 0/1 values `[len, count]`: one opening, one
    /// round per scan level, one to convert.
    pub fn bits(&mut self, x: &AuthShare, from: u32, count: u32) -> Result<AuthShare> {
        let (from, count) = (from as usize, count as usize);
        if count == 0 || from + count > 64 {
            return Err(ProtocolError::InvalidArgument {
                op: "active bits",
                detail: format!("bits {from}..{} of a 64-bit value", from + count),
            });
        }
        let b = self.binary_bits(x, from, from + count)?;
        self.bits_as_values(&b, x.len(), count)
    }
}
