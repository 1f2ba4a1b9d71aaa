//! Comparison via binary sharing: XOR-shared words, AND gates, the most
//! significant bit of an additive secret, bit-to-arithmetic conversion, and
//! on them ReLU and sign tests.
//!
//! Costs per element, per party and peer (n parties):
//!
//! | protocol | rounds | sent | from the dealer (party 0) |
//! |---|---|---|---|
//! | [`and`] | 1 | 128 bits per word | 64 bits per word |
//! | [`a2b`] | 7 | 1 472 bits | 960 bits |
//! | [`msb`] | 8 | 1 473 bits | 1 024 bits |
//! | [`bits_to_arith`] (k bits) | 1 | k bits | 64 k bits |
//! | [`relu`] | 9 | 1 601 bits | 1 088 bits |
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

/// Bit decomposition: XOR shares of the 64 bits of each element of `x`
/// (seven rounds).
///
/// Opens `c = x + r` for dealer edaBits `r`, then subtracts `r` from the
/// public `c` bitwise: the borrow into every bit comes from a Kogge-Stone
/// prefix over (generate, propagate) = `(!c & r, !(c ^ r))`, six levels of
/// AND gates on whole words, one round each.
pub fn a2b(sess: &mut Session, x: &AShare) -> Result<BShare> {
    let out_shape = x.shape().to_vec();
    let x = &x.reshape(&[x.len()])?;
    let eda = sess.prep().take(&Material::EdaBits(x.shape().to_vec()))?;
    let (r_arith, r_bits) = (&eda[0], BShare::from_share(eda[1].clone()));
    let masked = x.share().add(r_arith)?;
    let c = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
    let not_c = c.map(|v| !v);
    let mut g = r_bits.and_public(&not_c)?;
    let mut p = r_bits.xor_public(sess, &not_c)?;
    let mut s = 1u32;
    while s < 64 {
        let g_lo = g.map_linear(|v| v << s);
        if s == 32 {
            g = g.xor(&and(sess, &p, &g_lo)?)?;
        } else {
            let p_lo = p.map_linear(|v| v << s);
            let prod = and(
                sess,
                &BShare::concat(&[&p, &p], 0)?,
                &BShare::concat(&[&g_lo, &p_lo], 0)?,
            )?;
            let half = g.len();
            g = g.xor(&prod.select_rows(&(0..half).collect::<Vec<_>>())?)?;
            p = prod.select_rows(&(half..2 * half).collect::<Vec<_>>())?;
        }
        s *= 2;
    }
    // x = c ^ r ^ borrow, with the borrow into bit i out of bits below it.
    let bits = r_bits
        .xor(&g.map_linear(|v| v << 1))?
        .xor_public(sess, &c)?;
    bits.reshape(&out_shape)
}

/// The most significant bit of each element of `x` (1 where `x` is negative
/// as a signed ring element), as an additive share of 0 or 1. Eight rounds.
pub fn msb(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let bits = a2b(sess, x)?;
    b2a(sess, &bits.map_linear(|v| v >> 63))
}

/// Converts XOR-shared bits (bit 0 of each word) to additive shares of 0/1
/// (one round; the opened bits are packed 64 per word).
pub fn b2a(sess: &mut Session, bits: &BShare) -> Result<AShare> {
    let shape = bits.shape().to_vec();
    let out = bits_to_arith(sess, bits, 1)?;
    out.reshape(&shape)
}

/// Additive shares of the low `nbits` bits of XOR-shared words, as 0/1
/// integers along a new trailing axis (one round). A dealer random word `w`
/// with its bits shared additively masks the opening: bit = m + w - 2 m w.
pub fn bits_to_arith(sess: &mut Session, words: &BShare, nbits: u32) -> Result<AShare> {
    if !(1..=64).contains(&nbits) {
        return Err(crate::ProtocolError::InvalidArgument {
            op: "bits_to_arith",
            detail: format!("{nbits} bits per word"),
        });
    }
    let shape = words.shape().to_vec();
    let rb = sess
        .prep()
        .take(&Material::WordBits(shape.clone(), nbits))?;
    let (w, w_bits) = (&rb[0], &rb[1]);
    let low = if nbits == 64 {
        u64::MAX
    } else {
        (1u64 << nbits) - 1
    };
    let masked = words.share().xor(w)?.map(|v| v & low);
    let m: Vec<u64> = if nbits == 1 {
        let packed = pack_bits(masked.as_slice());
        let opened = open_xor(sess, &[&packed])?.remove(0);
        unpack_bits(opened.as_slice(), masked.len())
    } else {
        open_xor(sess, &[&masked])?.remove(0).into_vec()
    };
    let nb = nbits as usize;
    let m_bits: Vec<u64> = m
        .iter()
        .flat_map(|&v| (0..nb).map(move |i| (v >> i) & 1))
        .collect();
    let m_bits = RingTensor::from_vec(w_bits.shape(), m_bits)?;
    let sign = m_bits.map(|v| 1u64.wrapping_sub(v.wrapping_mul(2)));
    let mut out = w_bits.mul(&sign)?;
    if sess.is_leader() {
        out.add_assign(&m_bits)?;
    }
    Ok(AShare::from_share(out))
}

/// Bitwise OR of XOR-shared words: `a ^ b ^ (a & b)` (one round).
pub fn or(sess: &mut Session, a: &BShare, b: &BShare) -> Result<BShare> {
    let both = and(sess, a, b)?;
    a.xor(b)?.xor(&both)
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

/// The sign of each element: 1, 0 or -1 (as an additive share of an
/// integer): `[x > 0] - [x < 0]`, both comparisons in one batch (eight rounds).
pub fn sign(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let shape = x.shape().to_vec();
    let flat = x.reshape(&[x.len()])?;
    let len = flat.len();
    let bits = msb(sess, &AShare::concat(&[&flat.neg(), &flat], 0)?)?;
    let pos = bits.select_rows(&(0..len).collect::<Vec<_>>())?;
    let neg = bits.select_rows(&(len..2 * len).collect::<Vec<_>>())?;
    pos.sub(&neg)?.reshape(&shape)
}

/// `max(x, 0)` elementwise, exact: `x * (1 - msb(x))` (nine rounds).
///
/// ```
/// use tessera_protocols::{arith, binary, runtime::{run_embedded, EmbeddedConfig}, ProtocolError};
/// use tessera_tensor::FixedPoint;
///
/// let fp = FixedPoint::default();
/// let out = run_embedded(&EmbeddedConfig::new(3), |s| -> Result<Vec<f64>, ProtocolError> {
///     let mine = fp.encode_array(&ndarray::arr1(&[-2.5, 0.0, 4.0]).into_dyn())?;
///     let x = arith::share_input(s, 2, (s.id() == 2).then_some(&mine), &[3])?;
///     let y = binary::relu(s, &x)?;
///     Ok(arith::reveal(s, &y, "relu")?.as_slice().iter().map(|&v| fp.decode(v)).collect())
/// }).unwrap();
/// assert_eq!(out[0].value, [0.0, 0.0, 4.0]);
/// ```
pub fn relu(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let neg = msb(sess, x)?;
    let pos = neg.neg().add_public_scalar(sess, 1);
    arith::mul(sess, x, &pos)
}
