//! Comparison via binary sharing: XOR-shared words, AND gates, the most
//! significant bit of an additive secret, bit-to-arithmetic conversion, and
//! on them ReLU and sign tests.
//!
//! Costs per element, per party and peer (n parties):
//!
//! | protocol | rounds | sent | from the dealer (party 0) |
//! |---|---|---|---|
//! | [`and`] | 1 | 128 bits per word | 64 bits per word |
//! | [`msb`] | 8 | 1 472 bits | 1 024 bits |
//! | [`relu`] | 9 | 1 600 bits | 1 088 bits |
//!
//! [`msb`] opens `x + r` for a dealer-supplied random `r` that the parties
//! hold both additively and as XOR-shared bits ("edaBits"). The top bit of
//! `x = c - r` is then `c_63 ^ r_63 ^ borrow`, and the borrow out of the low
//! 63 bits, `[c_low < r_low]`, is a comparison of a public word with a secret
//! one: a carry-lookahead tree of depth 6 over bit-packed (generate,
//! propagate) words, one round per level. The secret bit is converted to an
//! additive share with a dealer random bit in one more round.

use crate::arith;
use crate::error::Result;
use crate::prep::{Material, Sharing};
use crate::session::Session;
use crate::share::{AShare, BShare};
use tessera_tensor::RingTensor;

/// Opens XOR-shared words (one round). Internal: every caller masks first.
fn open_xor(sess: &mut Session, parts: &[&RingTensor]) -> Result<Vec<RingTensor>> {
    arith::open_combined(sess, parts, Sharing::Binary)
}

/// Bitwise AND of XOR-shared words with a dealer AND triple (one round).
pub fn and(sess: &mut Session, x: &BShare, y: &BShare) -> Result<BShare> {
    if x.shape() != y.shape() {
        return Err(tessera_tensor::TensorError::ShapeMismatch {
            op: "and",
            left: x.shape().to_vec(),
            right: y.shape().to_vec(),
        }
        .into());
    }
    let t = sess.prep().take(&Material::BitTriple(x.shape().to_vec()))?;
    let (a, b, c) = (&t[0], &t[1], &t[2]);
    let opened = open_xor(sess, &[&x.share().xor(a)?, &y.share().xor(b)?])?;
    let (d, e) = (&opened[0], &opened[1]);
    // x & y = c ^ (d & b) ^ (e & a) (^ d & e on party 0)
    let mut z = c.xor(&d.and(b)?)?.xor(&e.and(a)?)?;
    if sess.is_leader() {
        z.xor_assign(&d.and(e)?)?;
    }
    Ok(BShare::from_share(z))
}

/// Bit positions that hold a node of the carry tree after the level with stride `s`.
fn level_mask(s: u32) -> u64 {
    // positions p with p mod 2s == 2s - 1
    let period = 2 * s;
    let mut m = 0u64;
    let mut p = period - 1;
    while p < 64 {
        m |= 1 << p;
        p += period;
    }
    m
}

/// The most significant bit of each element of `x` (1 where `x` is negative
/// as a signed ring element), as an additive share of 0 or 1. Eight rounds.
pub fn msb(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let out_shape = x.shape().to_vec();
    let x = &x.reshape(&[x.len()])?;
    let shape = x.shape().to_vec();
    let eda = sess.prep().take(&Material::EdaBits(shape.clone()))?;
    let (r_arith, r_bits) = (&eda[0], BShare::from_share(eda[1].clone()));
    // Round 1: open c = x + r; it is uniform.
    let masked = x.share().add(r_arith)?;
    let c = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
    let low = u64::MAX >> 1;
    // Borrow out of the low 63 bits of c - r, i.e. [r_low > c_low]:
    // generate g_i = r_i & !c_i, propagate p_i = !(r_i ^ c_i), bit 63 neutral (g=0, p=1).
    let not_c = c.map(|v| !v);
    let mut g = r_bits.and_public(&not_c.map(|v| v & low))?;
    let mut p = r_bits.xor_public(sess, &not_c)?.map_linear(|v| v & low);
    if sess.is_leader() {
        p = p.map_linear(|v| v | (1 << 63));
    }
    // Carry-lookahead tree: after stride s, node at position q covers bits q-2s+1..=q.
    let mut s = 1u32;
    while s < 64 {
        let g_lo = g.map_linear(|v| v << s);
        if s == 32 {
            let pg = and(sess, &p, &g_lo)?;
            g = g.xor(&pg)?;
        } else {
            let p_lo = p.map_linear(|v| v << s);
            let both_l = BShare::concat(&[&p, &p], 0)?;
            let both_r = BShare::concat(&[&g_lo, &p_lo], 0)?;
            let prod = and(sess, &both_l, &both_r)?;
            let half = g.shape()[0];
            let pg = prod.select_rows(&(0..half).collect::<Vec<_>>())?;
            let pp = prod.select_rows(&(half..2 * half).collect::<Vec<_>>())?;
            let keep = level_mask(s);
            g = g.xor(&pg)?.map_linear(|v| v & keep);
            p = pp.map_linear(|v| v & keep);
        }
        s *= 2;
    }
    // msb(x) = c_63 ^ r_63 ^ borrow, as a bit in position 0.
    let bit = r_bits
        .xor(&g)?
        .map_linear(|v| v >> 63)
        .xor_public(sess, &c.map(|v| v >> 63))?;
    b2a(sess, &bit)?.reshape(&out_shape)
}

/// Converts XOR-shared bits (bit 0 of each word) to additive shares of 0/1,
/// with a dealer random bit (one round; the opened bits are packed 64 per word).
pub fn b2a(sess: &mut Session, bits: &BShare) -> Result<AShare> {
    let shape = bits.shape().to_vec();
    let rb = sess.prep().take(&Material::RandBit(shape.clone()))?;
    let (w, b_arith) = (&rb[0], &rb[1]);
    let masked = bits.share().xor(w)?;
    let packed = pack_bits(masked.as_slice());
    let opened = open_xor(sess, &[&packed])?.remove(0);
    let m = RingTensor::from_vec(&shape, unpack_bits(opened.as_slice(), masked.len()))?;
    // bit = m ^ b = m + b - 2 m b
    let sign = m.map(|v| 1u64.wrapping_sub(v.wrapping_mul(2)));
    let mut out = b_arith.mul(&sign)?;
    if sess.is_leader() {
        out.add_assign(&m)?;
    }
    Ok(AShare::from_share(out))
}

fn pack_bits(words: &[u64]) -> RingTensor {
    let packed: Vec<u64> = words
        .chunks(64)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |acc, (i, &w)| acc | ((w & 1) << i))
        })
        .collect();
    let len = packed.len();
    RingTensor::from_vec(&[len], packed).expect("1-D")
}

fn unpack_bits(packed: &[u64], len: usize) -> Vec<u64> {
    (0..len).map(|i| (packed[i / 64] >> (i % 64)) & 1).collect()
}

/// 1 where `x < 0`, else 0 (additive share of an integer, not fixed point).
pub fn less_than_zero(sess: &mut Session, x: &AShare) -> Result<AShare> {
    msb(sess, x)
}

/// 1 where `x > 0`, else 0 (additive share of an integer). Exact for every
/// ring element except `-2^63`, which has no negation (and is far outside any
/// encodable fixed-point value).
pub fn greater_than_zero(sess: &mut Session, x: &AShare) -> Result<AShare> {
    msb(sess, &x.neg())
}

/// `max(x, 0)` elementwise, exact: `x * (1 - msb(x))` (nine rounds).
pub fn relu(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let neg = msb(sess, x)?;
    let pos = neg.neg().add_public_scalar(sess, 1);
    arith::mul(sess, x, &pos)
}
