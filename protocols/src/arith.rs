//! Arithmetic protocols on additive shares: input, reveal, Beaver products,
//! matrix products and fixed-point truncation.
//!
//! Costs per party (n parties, one element = 64 bits; "open" = send to every peer):
//!
//! | protocol | rounds | sent per element, per peer | from the dealer (party 0) |
//! |---|---|---|---|
//! | [`share_input`] | 0 | 0 | 0 |
//! | [`reveal`] | 1 | 64 bits | 0 |
//! | [`reveal_to`] | 1 | 64 bits (others to the receiver) | 0 |
//! | [`mul`] | 1 | 128 bits | 64 bits |
//! | [`square`] | 1 | 64 bits | 64 bits |
//! | [`matmul`] `[m,k]x[k,n]` | 1 | 64 (mk + kn) bits in all | 64 mn bits |
//! | [`truncate`] | 1 | 64 bits | 128 bits |
//! | [`truncate_local`] (n = 2) | 0 | 0 | 0 |

use crate::engine::Engine;
use crate::error::{ProtocolError, Result};
use crate::prep::{Correlations, Sharing, Triple};
use crate::session::{PartyId, Session};
use crate::share::AShare;
use tessera_tensor::{wire, RingTensor};

/// Secret-shares `value`, held by `owner`, among all parties without any
/// message: each other party `j` takes the next `shape`-sized draw of the PRG
/// it shares with the owner as its share, and the owner keeps `value` minus
/// all of those. `value` must be `Some` exactly on the owner; `shape` is
/// public.
pub fn share_input(
    sess: &mut Session,
    owner: PartyId,
    value: Option<&RingTensor>,
    shape: &[usize],
) -> Result<AShare> {
    if owner >= sess.n() {
        return Err(ProtocolError::InvalidArgument {
            op: "share_input",
            detail: format!("owner {owner} is not a party (n = {})", sess.n()),
        });
    }
    if sess.id() != owner {
        if value.is_some() {
            return Err(ProtocolError::InvalidArgument {
                op: "share_input",
                detail: format!("party {} passed a value owned by party {owner}", sess.id()),
            });
        }
        return Ok(AShare::from_share(sess.shared_prg(owner).uniform(shape)));
    }
    let value = value.ok_or_else(|| ProtocolError::InvalidArgument {
        op: "share_input",
        detail: format!("owner {owner} passed no value"),
    })?;
    if value.shape() != shape {
        return Err(ProtocolError::InvalidArgument {
            op: "share_input",
            detail: format!("value has shape {:?}, declared {shape:?}", value.shape()),
        });
    }
    let mut mine = value.clone();
    let peers: Vec<_> = sess.peers().collect();
    for p in peers {
        let mask = sess.shared_prg(p).uniform(shape);
        mine.sub_assign(&mask)?;
    }
    Ok(AShare::from_share(mine))
}

/// A fresh sharing of zero from the pairwise PRGs (no messages).
pub fn zero_share(sess: &mut Session, shape: &[usize]) -> Result<RingTensor> {
    let me = sess.id();
    let mut z = RingTensor::zeros(shape);
    let peers: Vec<_> = sess.peers().collect();
    for p in peers {
        let r = sess.shared_prg(p).uniform(shape);
        if me < p {
            z.add_assign(&r)?;
        } else {
            z.sub_assign(&r)?;
        }
    }
    Ok(z)
}

/// Sums the shares of several secrets in one round; returns the secrets.
/// This is the only way secrets are opened to everyone, so every call is
/// recorded under `label` in [`Session::openings`].
pub fn reveal_many(sess: &mut Session, xs: &[&AShare], label: &str) -> Result<Vec<RingTensor>> {
    let shares: Vec<&RingTensor> = xs.iter().map(|x| x.share()).collect();
    let opened = open_combined(sess, &shares, Sharing::Arithmetic)?;
    for x in xs {
        sess.note_opening(label, x.shape(), None);
    }
    if sess.is_dry() {
        return Ok(xs.iter().map(|x| RingTensor::zeros(x.shape())).collect());
    }
    Ok(opened)
}

/// Opens `x` to every party (one round). `label` names the value in the
/// session's record of openings.
pub fn reveal(sess: &mut Session, x: &AShare, label: &str) -> Result<RingTensor> {
    Ok(reveal_many(sess, &[x], label)?.remove(0))
}

/// Opens `x` to party `to` only (one round): the others re-randomise their
/// shares with a fresh zero-sharing and send them to `to`. Returns the secret
/// on `to` and `None` elsewhere.
pub fn reveal_to(
    sess: &mut Session,
    x: &AShare,
    to: PartyId,
    label: &str,
) -> Result<Option<RingTensor>> {
    if to >= sess.n() {
        return Err(ProtocolError::InvalidArgument {
            op: "reveal_to",
            detail: format!("party {to} does not exist (n = {})", sess.n()),
        });
    }
    let z = zero_share(sess, x.shape())?;
    let mine = x.share().add(&z)?;
    sess.note_opening(label, x.shape(), Some(to));
    sess.count_round();
    if sess.id() != to {
        sess.send_tensor(to, &mine)?;
        return Ok(None);
    }
    let mut sum = mine;
    let peers: Vec<_> = sess.peers().collect();
    for p in peers {
        let s = sess.recv_tensor(p, x.shape())?;
        sum.add_assign(&s)?;
    }
    if sess.is_dry() {
        return Ok(Some(RingTensor::zeros(x.shape())));
    }
    Ok(Some(sum))
}

/// Opens several tensors in one round: every party sends its shares of all
/// of them in one message and combines what it receives. Internal: callers
/// either mask first (Beaver products, truncation, comparison) or record the
/// opening ([`reveal_many`]).
pub(crate) fn open_combined(
    sess: &mut Session,
    parts: &[&RingTensor],
    sharing: Sharing,
) -> Result<Vec<RingTensor>> {
    let tagged: Vec<(&RingTensor, Sharing)> = parts.iter().map(|&p| (p, sharing)).collect();
    open_mixed(sess, &tagged)
}

/// [`open_combined`] for parts shared in different ways (one round).
///
/// The parts go out as one frame, written straight from the shares, and each
/// peer's frame is combined into the result as it is decoded: no
/// intermediate tensors, since openings carry most of the bytes.
pub(crate) fn open_mixed(
    sess: &mut Session,
    parts: &[(&RingTensor, Sharing)],
) -> Result<Vec<RingTensor>> {
    let total: usize = parts.iter().map(|(x, _)| x.len()).sum();
    let mine: Vec<&[u64]> = parts.iter().map(|(x, _)| x.as_slice()).collect();
    sess.send_to_peers(wire::encode_concat(&[total], &mine))?;
    // Each part's own share, to which every peer's is added in place.
    let mut acc: Vec<Vec<u64>> = mine.iter().map(|m| m.to_vec()).collect();
    let peers: Vec<_> = sess.peers().collect();
    for p in peers {
        let frame = sess.recv_frame(p, &[total])?;
        let body = wire::body_of(&frame, &[total]).expect("checked on receipt");
        let mut words = body
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")));
        for (dst, (_, sharing)) in acc.iter_mut().zip(parts) {
            match sharing {
                Sharing::Arithmetic => dst
                    .iter_mut()
                    .zip(&mut words)
                    .for_each(|(a, b)| *a = a.wrapping_add(b)),
                Sharing::Binary => dst.iter_mut().zip(&mut words).for_each(|(a, b)| *a ^= b),
                Sharing::Wide => {
                    for pair in dst.chunks_exact_mut(2) {
                        let (lo, hi) = (words.next().unwrap_or(0), words.next().unwrap_or(0));
                        let v = (pair[0] as u128 | (pair[1] as u128) << 64)
                            .wrapping_add(lo as u128 | (hi as u128) << 64);
                        pair[0] = v as u64;
                        pair[1] = (v >> 64) as u64;
                    }
                }
            }
        }
    }
    sess.count_round();
    acc.into_iter()
        .zip(parts)
        .map(|(v, (x, _))| Ok(RingTensor::from_vec(x.shape(), v)?))
        .collect()
}

pub(crate) fn open_masked(sess: &mut Session, masked: &[&RingTensor]) -> Result<Vec<RingTensor>> {
    open_combined(sess, masked, Sharing::Arithmetic)
}

fn same_shape(op: &'static str, x: &AShare, y: &AShare) -> Result<()> {
    if x.shape() != y.shape() {
        return Err(tessera_tensor::TensorError::ShapeMismatch {
            op,
            left: x.shape().to_vec(),
            right: y.shape().to_vec(),
        }
        .into());
    }
    Ok(())
}

/// Elementwise ring product of two secrets with a Beaver triple (one round).
/// No truncation: use [`mul_fixed`] for fixed-point values.
pub fn mul(sess: &mut Session, x: &AShare, y: &AShare) -> Result<AShare> {
    same_shape("mul", x, y)?;
    let Triple { a, b, c } = sess.prep().beaver_triple(x.shape())?;
    // [`beaver`] for the elementwise product, in one pass each way (the
    // polynomials of every nonlinear function run on whole tensors).
    let minus = |v: &AShare, m: &RingTensor| -> Result<RingTensor> {
        let out = (v.share().as_slice().iter())
            .zip(m.as_slice())
            .map(|(v, m)| v.wrapping_sub(*m))
            .collect();
        Ok(RingTensor::from_vec(x.shape(), out)?)
    };
    let opened = open_masked(sess, &[&minus(x, &a)?, &minus(y, &b)?])?;
    let (d, e) = (opened[0].as_slice(), opened[1].as_slice());
    // The leader folds d e into d (b + e).
    let leader = sess.is_leader() as u64;
    let z = (c.as_slice().iter())
        .zip(a.as_slice().iter().zip(b.as_slice()))
        .zip(d.iter().zip(e))
        .map(|((&c, (&a, &b)), (&d, &e))| {
            let b = b.wrapping_add(e.wrapping_mul(leader));
            c.wrapping_add(d.wrapping_mul(b))
                .wrapping_add(a.wrapping_mul(e))
        })
        .collect();
    Ok(AShare::from_share(RingTensor::from_vec(x.shape(), z)?))
}

/// Elementwise ring square of a secret with a square pair (one round).
pub fn square(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let t = sess.prep().square_pair(x.shape())?;
    let (a, c) = (&t.a, &t.aa);
    let d_mine = x.share().sub(a)?;
    let d = open_masked(sess, &[&d_mine])?.remove(0);
    // x^2 = c + 2 d a + d^2
    let mut z = c.add(&d.mul(a)?.mul_scalar(2))?;
    if sess.is_leader() {
        z.add_assign(&d.mul(&d)?)?;
    }
    Ok(AShare::from_share(z))
}

/// Ring matrix product `[m,k] x [k,n]` of two secrets with a matrix triple
/// (one round, opening `m*k + k*n` elements).
pub fn matmul(sess: &mut Session, x: &AShare, y: &AShare) -> Result<AShare> {
    Ok(matmul_many(sess, &[(x, y)])?.remove(0))
}

/// Several ring matrix products in one round (a layer's backward pass needs
/// two, from the same gradient), each with its own matrix triple: Beaver's
/// trick opens every `d = x - a` and `e = y - b` together, then each party
/// computes `c + d (b + e) + a e` (the `d e` term folded in by the leader).
pub fn matmul_many(sess: &mut Session, pairs: &[(&AShare, &AShare)]) -> Result<Vec<AShare>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let mut triples = Vec::with_capacity(pairs.len());
    let mut masked = Vec::with_capacity(2 * pairs.len());
    for (x, y) in pairs {
        let (m, k, n) = x.share().matmul_dims(y.share())?;
        let t = sess.prep().matrix_triple(m, k, n)?;
        masked.push(x.share().sub(&t.a)?);
        masked.push(y.share().sub(&t.b)?);
        triples.push(t);
    }
    let opened = open_masked(sess, &masked.iter().collect::<Vec<_>>())?;
    let leader = sess.is_leader();
    triples
        .iter()
        .zip(opened.chunks_exact(2))
        .map(|(Triple { a, b, c }, de)| {
            let (d, e) = (&de[0], &de[1]);
            let b_plus_e;
            let right = if leader {
                b_plus_e = b.add(e)?;
                &b_plus_e
            } else {
                b
            };
            let d_times = d.matmul(right)?;
            let mut z = c.add(&d_times)?;
            z.add_assign(&a.matmul(e)?)?;
            Ok(AShare::from_share(z))
        })
        .collect()
}

/// Fixed-point truncation by `f` bits with a dealer truncation pair (one round,
/// any number of parties).
///
/// **Bound:** for a secret `x` with `|x| < 2^62` (as a signed ring element),
/// the result is `floor(x / 2^f)` or `floor(x / 2^f) + 1`: at most one unit in
/// the last place above the plaintext reference, never a large error. The
/// opened value `x + 2^62 + r` is uniform because `r` is uniform over the
/// whole ring. Method: the carry out of the low 63 bits of `x + 2^62 + r` is
/// the top bit of the opened value XOR the top bit of `r`, which the dealer
/// shares; it corrects the wrap-around exactly (the "one-bit error"
/// truncation of Escudero et al., CRYPTO 2020).
pub fn truncate(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let f = sess.fixed().frac_bits();
    truncate_bits(sess, x, f)
}

/// [`truncate`] of several secrets in one round (one opening of all of
/// them, flattened end to end).
pub fn truncate_many(sess: &mut Session, xs: &[&AShare]) -> Result<Vec<AShare>> {
    match xs {
        [] => return Ok(Vec::new()),
        [x] => return Ok(vec![truncate(sess, x)?]),
        _ => {}
    }
    let flat: Vec<u64> = xs
        .iter()
        .flat_map(|x| x.share().as_slice().iter().copied())
        .collect();
    let len = flat.len();
    let all = truncate(
        sess,
        &AShare::from_share(RingTensor::from_vec(&[len], flat)?),
    )?;
    let mut rest = all.share().as_slice();
    xs.iter()
        .map(|x| {
            let (mine, tail) = rest.split_at(x.len());
            rest = tail;
            Ok(AShare::from_share(RingTensor::from_vec(
                x.shape(),
                mine.to_vec(),
            )?))
        })
        .collect()
}

/// [`truncate`] by any number of bits `1..=62` (one round; same bound).
pub fn truncate_bits(sess: &mut Session, x: &AShare, f: u32) -> Result<AShare> {
    if !(1..=62).contains(&f) {
        return Err(ProtocolError::InvalidArgument {
            op: "truncate_bits",
            detail: format!("cannot truncate by {f} bits"),
        });
    }
    let t = sess.prep().trunc_pair(x.shape(), f)?;
    let leader = sess.is_leader();
    // One pass each way (the tensors are whole layers' outputs).
    let c = open_for_truncation(sess, x, &t.r)?;
    let out: Vec<u64> = (c.as_slice().iter())
        .zip(t.msb.as_slice())
        .zip(t.low_shifted.as_slice())
        .map(|((&c, &r_msb), &r_low_shifted)| {
            let (public, sign) = truncation_terms(c, f);
            let share = (r_msb.wrapping_mul(sign) << (63 - f)).wrapping_sub(r_low_shifted);
            share.wrapping_add(if leader { public } else { 0 })
        })
        .collect();
    Ok(AShare::from_share(RingTensor::from_vec(x.shape(), out)?))
}

/// What a truncation adds to a value before opening it masked, so that
/// `x + 2^62` is non-negative for `|x| < 2^62`.
pub(crate) const TRUNC_BIAS: u64 = 1 << 62;

/// Opens `x + 2^62 + r` for a truncation's mask `r` (one round; one pass to
/// mask).
pub(crate) fn open_for_truncation(
    sess: &mut Session,
    x: &AShare,
    r: &RingTensor,
) -> Result<RingTensor> {
    let bias = if sess.is_leader() { TRUNC_BIAS } else { 0 };
    let masked: Vec<u64> = (x.share().as_slice().iter())
        .zip(r.as_slice())
        .map(|(&x, &r)| x.wrapping_add(r).wrapping_add(bias))
        .collect();
    let masked = RingTensor::from_vec(x.shape(), masked)?;
    Ok(open_masked(sess, &[&masked])?.remove(0))
}

/// The truncation by `f` bits from the opened `c = x + 2^62 + r`: its
/// public part `P` and the sign `1 - 2 c_63` of `r_63` in the carry out of
/// the low 63 bits (`c_63 ^ r_63`, with `c_63` public), so that
/// `x >> f = P + (sign r_63) 2^(63 - f) - ((r mod 2^63) >> f)`.
pub(crate) fn truncation_terms(c: u64, f: u32) -> (u64, u64) {
    let c_msb = c >> 63;
    let sign = 1u64.wrapping_sub(c_msb.wrapping_mul(2));
    let public = ((c & (u64::MAX >> 1)) >> f)
        .wrapping_add(c_msb << (63 - f))
        .wrapping_sub(TRUNC_BIAS >> f);
    (public, sign)
}

/// Two-party local truncation (SecureML): party 0 shifts its share, party 1
/// shifts the negation of its share. No communication.
///
/// **Bound:** if `|x| < 2^l`, the result is within one unit of `x / 2^f`
/// except with probability at most `2^(l + 1 - 64)` per element, in which case
/// it is wrong by about `2^(64 - f)` (a gross error). With 16 fractional bits
/// and products up to 2^40 that is about 1 in 8 million elements, which is why
/// [`truncate`] is the default everywhere.
pub fn truncate_local(sess: &mut Session, x: &AShare) -> Result<AShare> {
    if sess.n() != 2 {
        return Err(ProtocolError::InvalidArgument {
            op: "truncate_local",
            detail: format!("needs exactly 2 parties, the session has {}", sess.n()),
        });
    }
    let f = sess.fixed().frac_bits();
    let out = if sess.is_leader() {
        x.share().map(|v| v >> f)
    } else {
        x.share().map(|v| (v.wrapping_neg() >> f).wrapping_neg())
    };
    Ok(AShare::from_share(out))
}

/// Fixed-point elementwise product: [`mul`] then [`truncate`] (two rounds).
pub fn mul_fixed(sess: &mut Session, x: &AShare, y: &AShare) -> Result<AShare> {
    let p = mul(sess, x, y)?;
    truncate(sess, &p)
}

/// Fixed-point square: [`square`] then [`truncate`] (two rounds).
pub fn square_fixed(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let p = square(sess, x)?;
    truncate(sess, &p)
}

/// Fixed-point matrix product: [`matmul`] then [`truncate`] (two rounds).
pub fn matmul_fixed(sess: &mut Session, x: &AShare, y: &AShare) -> Result<AShare> {
    let p = matmul(sess, x, y)?;
    truncate(sess, &p)
}

/// Multiplies by a public fixed-point tensor (broadcast allowed), then truncates (one round).
pub fn mul_public_fixed(sess: &mut Session, x: &AShare, c: &RingTensor) -> Result<AShare> {
    let p = x.mul_public(c)?;
    truncate(sess, &p)
}

/// Multiplies by a public real constant, then truncates (one round).
pub fn scale(sess: &mut Session, x: &AShare, c: f64) -> Result<AShare> {
    let enc = sess.fixed().encode(c)?;
    truncate(sess, &x.mul_public_scalar(enc))
}

/// [`Engine::mul_fraction`] on semi-honest shares: `x num / den`, more
/// accurately than [`scale`] (one round).
pub fn mul_fraction(
    sess: &mut Session,
    x: &AShare,
    num: u64,
    den: u64,
    bound: f64,
) -> Result<AShare> {
    Engine::mul_fraction(sess, x, num, den, bound)
}
