//! Comparison via binary sharing: XOR-shared words, AND gates, the most
//! significant bit of an additive secret, bit-to-arithmetic conversion, and
//! on them ReLU and sign tests.
//!
//! Costs per element, per party and peer (2 parties; measured by the tests):
//!
//! | protocol | rounds | sent | from the dealer (party 0) |
//! |---|---|---|---|
//! | [`and`] | 1 | 128 bits per word | 64 bits per word |
//! | [`a2b`] (all 64 bits) | 7 | 1 472 bits | 960 bits |
//! | [`msb`], [`less_than_zero`], [`greater_than_zero`] | 4 | 100 bits | 494 bits |
//! | [`relu`], [`relu_with_mask`] | 4 | 100 bits | 494 bits |
//! | [`bits_to_arith`] (k bits) | 1 | k bits | 64 k bits |
//!
//! [`msb`] and ReLU come from [`crate::compare`]: `x + r` opened, the
//! borrow out of the low 63 bits of `c - r` from dealt 4-bit lookup tables
//! and two levels of four-input AND gates, and the resulting bit either
//! made additive or, for ReLU, made to select `x` in the same round: the
//! comparison's own mask `r` masks the product, so only one more bit per
//! element is opened. Without a dealer the borrow comes from a tree of
//! two-input AND gates instead: 8 rounds and 253 bits
//! ([`crate::prep::Preprocessing::deals_tables`]).

use crate::arith;
use crate::error::Result;
use crate::prep::{Correlations, Sharing, MAX_FANOUT, MAX_THRESHOLDS};
use crate::session::Session;
use crate::share::{AShare, BShare};
use tessera_tensor::RingTensor;

/// Opens XOR-shared words (one round). Internal: every caller masks first.
fn open_xor(sess: &mut Session, parts: &[&RingTensor]) -> Result<Vec<RingTensor>> {
    arith::open_combined(sess, parts, Sharing::Binary)
}

/// Bitwise AND of XOR-shared words with a dealer AND triple (one round).
pub fn and(sess: &mut Session, x: &BShare, y: &BShare) -> Result<BShare> {
    Ok(and_fanout(sess, x, &[y])?.remove(0))
}

/// `x & y_i` for every `y_i` in one round. The products share one mask for
/// `x`, so `k` products open `k + 1` words, not `2 k`.
pub fn and_fanout(sess: &mut Session, x: &BShare, ys: &[&BShare]) -> Result<Vec<BShare>> {
    if let Some(y) = ys.iter().find(|y| y.shape() != x.shape()) {
        return Err(tessera_tensor::TensorError::ShapeMismatch {
            op: "and",
            left: x.shape().to_vec(),
            right: y.shape().to_vec(),
        }
        .into());
    }
    if ys.is_empty() || ys.len() > MAX_FANOUT as usize {
        return Err(crate::ProtocolError::InvalidArgument {
            op: "and_fanout",
            detail: format!("{} right operands (1 to {MAX_FANOUT})", ys.len()),
        });
    }
    let k = ys.len();
    let t = sess.prep().and_triples(x.shape(), k as u32)?;
    let (a, bs, cs) = (&t.a, &t.b, &t.c);
    let mut masked = vec![x.share().xor(a)?];
    for (y, b) in ys.iter().zip(bs) {
        masked.push(y.share().xor(b)?);
    }
    let opened = open_xor(sess, &masked.iter().collect::<Vec<_>>())?;
    let d = &opened[0];
    // x & y = c ^ (d & b) ^ (e & a) (^ d & e on party 0)
    (0..k)
        .map(|i| {
            let e = &opened[i + 1];
            let mut z = cs[i].xor(&d.and(&bs[i])?)?.xor(&e.and(a)?)?;
            if sess.is_leader() {
                z.xor_assign(&d.and(e)?)?;
            }
            Ok(BShare::from_share(z))
        })
        .collect()
}

/// `x & y & z` of XOR-shared words in one round, with a dealer's masks
/// `a, b, c` and shares of their products (`Material::AndCube`): opens
/// `d = x ^ a`, `e = y ^ b`, `g = z ^ c`; then `x y z = d e g ^ d e c ^ d g b
/// ^ e g a ^ d (b c) ^ e (a c) ^ g (a b) ^ a b c`, every term a public word
/// ANDed with a share (the first on the leader only). A tree of them ANDs
/// `k` words in `ceil(log3 k)` rounds, where two-input gates take
/// `ceil(log2 k)`.
pub fn and3(sess: &mut Session, x: &BShare, y: &BShare, z: &BShare) -> Result<BShare> {
    for other in [y, z] {
        if other.shape() != x.shape() {
            return Err(tessera_tensor::TensorError::ShapeMismatch {
                op: "and3",
                left: x.shape().to_vec(),
                right: other.shape().to_vec(),
            }
            .into());
        }
    }
    let t = sess.prep().and_cubes(x.shape())?;
    let [a, b, c] = &t.masks;
    let masked = [x.share().xor(a)?, y.share().xor(b)?, z.share().xor(c)?];
    let opened = open_xor(sess, &masked.iter().collect::<Vec<_>>())?;
    let (d, e, g) = (
        opened[0].as_slice(),
        opened[1].as_slice(),
        opened[2].as_slice(),
    );
    let [ab, ac, bc, abc] = t.products.each_ref().map(|p| p.as_slice());
    let (a, b, c) = (a.as_slice(), b.as_slice(), c.as_slice());
    let leader = if sess.is_leader() { u64::MAX } else { 0 };
    let out: Vec<u64> = (0..d.len())
        .map(|i| {
            let (d, e, g) = (d[i], e[i], g[i]);
            (d & e & g & leader)
                ^ (d & e & c[i])
                ^ (d & g & b[i])
                ^ (e & g & a[i])
                ^ (d & bc[i])
                ^ (e & ac[i])
                ^ (g & ab[i])
                ^ abc[i]
        })
        .collect();
    Ok(BShare::from_share(RingTensor::from_vec(x.shape(), out)?))
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
    let eda = sess.prep().eda_bits(x.shape())?;
    let (r_arith, r_bits) = (&eda.r, BShare::from_share(eda.bits));
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
/// as a signed ring element), as an additive share of 0 or 1. Four rounds
/// (see [`crate::compare`]).
pub fn msb(sess: &mut Session, x: &AShare) -> Result<AShare> {
    Ok(select(sess, x, false)?.0)
}

/// `[x < t]` for each element of `x` and each public threshold `t` (ring
/// encodings, compared as signed; exact where `|x - t| < 2^63`), as additive
/// shares of 0/1, `[len, k]` (row `e` holds element `e`'s bits). Four
/// rounds for any number of thresholds (1 to [`MAX_THRESHOLDS`]); each one
/// after the first costs 36 more bits per element, not 100 (the thresholds
/// share one opening of `x + r`). Without tables (OT), eight rounds, and
/// the thresholds share the opening and the edaBit `r`: each costs its
/// tree and its conversion (190 bits), not a whole comparison (253).
pub fn less_than_each(sess: &mut Session, x: &AShare, thresholds: &[u64]) -> Result<AShare> {
    let k = thresholds.len();
    if k == 0 || k > MAX_THRESHOLDS as usize {
        return Err(crate::ProtocolError::InvalidArgument {
            op: "less_than_each",
            detail: format!("{k} thresholds (1 to {MAX_THRESHOLDS})"),
        });
    }
    let len = x.len();
    let flat = x.reshape(&[len])?;
    if sess.prep().deals_tables() {
        let plan = crate::compare::NodePlan::new(thresholds);
        let t = sess.prep().compare_material(len, &plan)?;
        let (m, _) = crate::compare::top_bits(sess, &flat, &t, &plan)?;
        // Converted straight into element-major rows.
        let opened = open_xor(sess, &[&m.share().xor(&t.s_packed)?])?.remove(0);
        let (o, s) = (opened.as_slice(), t.s.as_slice());
        let (words, leader) = (len.div_ceil(64), sess.is_leader());
        let mut rows = vec![0u64; len * k];
        for (e, row) in rows.chunks_exact_mut(k).enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                let bit = (o[i * words + e / 64] >> (e % 64)) & 1;
                *v = arith_bit(bit, s[i * len + e], leader);
            }
        }
        return Ok(AShare::from_share(RingTensor::from_vec(&[len, k], rows)?));
    }
    // Without tables: trees sharing their subtrees, from one opening of
    // x + r and one edaBit r (x - t + r = c - t), then one conversion of
    // every bit.
    let bits = {
        let t = sess.prep().select_material(len)?;
        let masked = flat.share().add(&t.r)?;
        let c = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
        let r_bits = BShare::from_share(t.r_bits.clone());
        let planes = crate::shared_tree::top_bits(sess, c.as_slice(), &r_bits, thresholds)?;
        let words = len.div_ceil(64);
        let bits: Vec<u64> = planes
            .share()
            .as_slice()
            .chunks(words.max(1))
            .take(k)
            .flat_map(|plane| unpack_bits(plane, len))
            .collect();
        b2a(
            sess,
            &BShare::from_share(RingTensor::from_vec(&[k * len], bits)?),
        )?
    };
    // Threshold-major to element-major.
    let b = bits.share().as_slice();
    let mut rows = vec![0u64; len * k];
    for (e, row) in rows.chunks_exact_mut(k).enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            *v = b[i * len + e];
        }
    }
    Ok(AShare::from_share(RingTensor::from_vec(&[len, k], rows)?))
}

/// This party's additive share of `e ^ s` for the opened bit `e` and its
/// share of the bit `s`: `e + s - 2 e s` (the leader adds `e`).
fn arith_bit(e: u64, s: u64, leader: bool) -> u64 {
    let flip = 1u64.wrapping_sub(e.wrapping_mul(2));
    flip.wrapping_mul(s)
        .wrapping_add(if leader { e } else { 0 })
}

/// Opens the packed bits `m` masked by `s_packed` (one round; planes of
/// `plane` bits, each packed into `ceil(plane / 64)` words) and returns the
/// opened `e = m ^ s_packed`, one per bit, and the bits `e ^ s` as additive
/// shares of 0/1, `e + s - 2 e s`, for the additively shared `s`.
pub(crate) fn additive_bits(
    sess: &mut Session,
    m: &BShare,
    (s_packed, s): (&RingTensor, &RingTensor),
    plane: usize,
) -> Result<(Vec<u64>, AShare)> {
    let opened = open_xor(sess, &[&m.share().xor(s_packed)?])?.remove(0);
    let words = plane.div_ceil(64);
    let planes = s.len().checked_div(plane).unwrap_or(0);
    let e: Vec<u64> = (0..planes)
        .flat_map(|i| unpack_bits(&opened.as_slice()[i * words..], plane))
        .collect();
    let leader = sess.is_leader();
    let bits: Vec<u64> = e
        .iter()
        .zip(s.as_slice())
        .map(|(&e, &s)| arith_bit(e, s, leader))
        .collect();
    let bits = RingTensor::from_vec(&[e.len()], bits)?;
    Ok((e, AShare::from_share(bits)))
}

/// A comparison's bit `m` and `m x` (additive shares; four rounds, 100
/// bits per element for 2 parties). `strict`: `m = [x > 0]` (the top bit
/// of `-x`); otherwise `m = [x < 0]` (the top bit of `x`, exact on the whole
/// ring).
///
/// The comparison's mask `r` doubles as the mask of the product: it opened
/// `c = y + r` (`y = x` or `-x`), so `y s = c s - r s` for the random bit
/// `s` with `r s` dealt. Only `e = m ^ s` is opened (one bit), then
/// `m = e + s - 2 e s` and `m x = e x + (1 - 2 e) x s`, all local.
fn select(sess: &mut Session, x: &AShare, strict: bool) -> Result<(AShare, AShare)> {
    let len = x.len();
    let y = if strict { x.neg() } else { x.clone() };
    let y = y.reshape(&[len])?;
    // Tables from a dealer (4 rounds), or the tree (8 rounds).
    let (m, c, s_packed, s, r_s) = if sess.prep().deals_tables() {
        let plan = crate::compare::NodePlan::new(&[0]);
        let t = sess.prep().compare_material(len, &plan)?;
        let (m, c) = crate::compare::top_bits(sess, &y, &t, &plan)?;
        (m, c, t.s_packed, t.s, t.r_s)
    } else {
        let t = sess.prep().select_material(len)?;
        let (m, c) = crate::compare::tree_top_bits(sess, &y, &t.r, &t.r_bits)?;
        (m, c, t.s_packed, t.s, t.r_s)
    };
    let (e, bit) = additive_bits(sess, &m, (&s_packed, &s), len)?;
    let x_flat = x.share().reshape(&[len])?;
    let (c, s, r_s, xs) = (
        c.as_slice(),
        s.as_slice(),
        r_s.as_slice(),
        x_flat.as_slice(),
    );
    let prod: Vec<u64> = (0..len)
        .map(|i| {
            let flip = 1u64.wrapping_sub(e[i].wrapping_mul(2));
            let y_s = c[i].wrapping_mul(s[i]).wrapping_sub(r_s[i]);
            let x_s = if strict { y_s.wrapping_neg() } else { y_s };
            e[i].wrapping_mul(xs[i])
                .wrapping_add(flip.wrapping_mul(x_s))
        })
        .collect();
    let shape = x.shape();
    Ok((
        bit.reshape(shape)?,
        AShare::from_share(RingTensor::from_vec(shape, prod)?),
    ))
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
    let rb = sess.prep().word_bits(&shape, nbits)?;
    let (w, w_bits) = (&rb.word, &rb.bits);
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

pub(crate) fn pack_bits(words: &[u64]) -> RingTensor {
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

pub(crate) fn unpack_bits(packed: &[u64], len: usize) -> Vec<u64> {
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
/// integer): `[x > 0] - [x < 0]`, both comparisons in one batch (four rounds).
pub fn sign(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let shape = x.shape().to_vec();
    let flat = x.reshape(&[x.len()])?;
    let len = flat.len();
    let bits = msb(sess, &AShare::concat(&[&flat.neg(), &flat], 0)?)?;
    let pos = bits.select_rows(&(0..len).collect::<Vec<_>>())?;
    let neg = bits.select_rows(&(len..2 * len).collect::<Vec<_>>())?;
    pos.sub(&neg)?.reshape(&shape)
}

/// `max(x, 0)` elementwise, exact: `x - x [x < 0]` (four rounds).
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
    // x - x [x < 0]: exact on the whole ring.
    x.sub(&select(sess, x, false)?.1)
}

/// `max(x, 0)` for `x` the truncation by `f` bits of `y` (a product at
/// twice the fractional bits, `|y| < 2^62`), the truncation done inside the
/// comparison: one opening of `c = y + 2^62 + r` serves both, as the sign
/// of `x` is the sign of `y`. The result is `max(x, 0)` for `x` either
/// `floor(y / 2^f)` or one more, as [`arith::truncate_bits`] gives. Four
/// rounds and 100 bits per element for 2 parties, where a truncation then
/// [`relu`] take five and 164; a provider without tables (OT) takes the two
/// steps.
///
/// Also returns the mask `[y >= 0]` (additive shares of 0/1 integers, for
/// ReLU's backward pass), free from the comparison's bit. It is `[x >= 0]`
/// up to the truncation's last unit: the two differ only where `x` is 0, and
/// the ReLU is 0 there either way. (Without tables the mask is `[x >= 0]`.)
///
/// With `x = P + carry 2^(63 - f) - low` (`P` public from `c`, `carry =
/// c_63 ^ r_63`, `low = (r mod 2^63) >> f`), `x s` for the comparison's
/// random bit `s` is `P s + (1 - 2 c_63) (r_63 s) 2^(63 - f) - low s`, from
/// the provider's `r_63 s` and `low s`; then `x [y < 0] = e x + (1 - 2e) x
/// s` for the opened `e`, as in [`relu`].
pub fn relu_truncated(sess: &mut Session, y: &AShare, f: u32) -> Result<(AShare, AShare)> {
    if !(1..=62).contains(&f) {
        return Err(crate::ProtocolError::InvalidArgument {
            op: "relu_truncated",
            detail: format!("cannot truncate by {f} bits"),
        });
    }
    let len = y.len();
    if len == 0 || !sess.prep().deals_tables() {
        let x = arith::truncate_bits(sess, y, f)?;
        let (negative, negative_part) = select(sess, &x, false)?;
        let mask = negative.neg().add_public_scalar(sess, 1);
        return Ok((x.sub(&negative_part)?, mask));
    }
    let t = sess.prep().trunc_compare(len, f)?;
    let leader = sess.is_leader();
    let opened = arith::open_for_truncation(sess, y, &t.compare.r)?;
    // c - 2^62 = y + r: the comparison's opening.
    let shifted = opened.map(|c| c.wrapping_sub(arith::TRUNC_BIAS));
    let plan = crate::compare::NodePlan::new(&[0]);
    let m = crate::compare::top_bits_of_opened(sess, &shifted, &t.compare, &plan)?;
    let cmp = &t.compare;
    let (e, negative) = additive_bits(sess, &m, (&cmp.s_packed, &cmp.s), len)?;
    let shift = 63 - f;
    let (c, s, low_s) = (opened.as_slice(), cmp.s.as_slice(), cmp.r_s.as_slice());
    let (low, msb, msb_s) = (t.low.as_slice(), t.msb.as_slice(), t.msb_s.as_slice());
    let out: Vec<u64> = (0..len)
        .map(|i| {
            let (public, sign) = arith::truncation_terms(c[i], f);
            let x = (msb[i].wrapping_mul(sign) << shift)
                .wrapping_sub(low[i])
                .wrapping_add(if leader { public } else { 0 });
            let x_s = public
                .wrapping_mul(s[i])
                .wrapping_add(msb_s[i].wrapping_mul(sign) << shift)
                .wrapping_sub(low_s[i]);
            let flip = 1u64.wrapping_sub(e[i].wrapping_mul(2));
            let negative_part = e[i].wrapping_mul(x).wrapping_add(flip.wrapping_mul(x_s));
            x.wrapping_sub(negative_part)
        })
        .collect();
    let relu = AShare::from_share(RingTensor::from_vec(y.shape(), out)?);
    let mask = negative
        .reshape(y.shape())?
        .neg()
        .add_public_scalar(sess, 1);
    Ok((relu, mask))
}

/// `max(x, 0)` and the mask `[x > 0]` (additive shares of 0/1 integers,
/// what ReLU's backward pass multiplies by), in four rounds: the
/// comparison's bit selects `x` directly, with no separate conversion.
/// Exact for every ring element except `-2^63` (see [`greater_than_zero`]).
pub fn relu_with_mask(sess: &mut Session, x: &AShare) -> Result<(AShare, AShare)> {
    let (mask, relu) = select(sess, x, true)?;
    Ok((relu, mask))
}
