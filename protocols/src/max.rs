//! The maximum of each row of a `[rows, n]` secret by comparing every pair
//! at once: `3 + ceil(log3(n - 1)) + 1` rounds (6 for ten columns, where a
//! tournament of exact ReLUs takes four per level, 16), with a dealer's
//! comparison tables.
//!
//! All `n(n - 1)/2` differences `x_a - x_b` (`a < b`) are compared in one
//! batch of table comparisons ([`crate::compare`]), whose bits stay
//! XOR-shared: the tables give `[x_a < x_b]` without `r`'s top bit, which
//! the provider also shares as a bit. Column `a` beats column `b` if `x_a >
//! x_b`, ties going to the lower index (as plaintext argmax), so exactly
//! one column beats every other; its winner bit is the AND of `n - 1` bits,
//! by a tree of three-input AND gates ([`crate::binary::and3`]), one round
//! per level. Then `max = x_0 - sum_(i >= 1) w_i (x_0 - x_i)`: each product
//! selects the compared value `x_0 - x_i` by the winner bit in one round,
//! masked by that pair's own comparison mask and bit, as ReLU selects `x`
//! ([`crate::binary::relu`]); the argmax ([`argmax_rows`]) is the winner
//! bits themselves, converted in that round.
//!
//! Security: semi-honest, as the comparisons it is built from. Every
//! opened value is masked by fresh provider randomness: each pair's `c`
//! by its `r`, the node inputs by their masks, the AND gates by their
//! triples, the winner bit by the pair's random bit `s`.
//!
//! Cost for ten columns (2 parties, per row and peer): 45 comparisons
//! without their conversions (99 bits each), 36 three-input AND gates (3
//! bits each) and 9 selecting bits: 4572 bits, where the tournament sends 9
//! ReLUs (909).

use crate::binary::{additive_bits, and3, pack_bits, unpack_bits};
use crate::error::{ProtocolError, Result};
use crate::prep::{CompareMaterial, Correlations};
use crate::session::Session;
use crate::share::{AShare, BShare};
use tessera_tensor::RingTensor;

/// A row-wise comparison of every pair: each candidate column's winner
/// bit, XOR-shared, and what selecting by it needs.
struct Winners {
    rows: usize,
    n: usize,
    /// Bits of candidates 1..n, at `(i - 1) * rows + r` (candidate 0 wins
    /// where none of them does).
    winner: Vec<u64>,
    /// The pairs' comparison material, openings and compared values
    /// (`x_a - x_b`, pair-major; pair `i - 1` is `(0, i)`).
    t: CompareMaterial,
    c: RingTensor,
    d: AShare,
}

/// The shape `[rows, n]` of a row-wise operation's input.
fn rows_and_cols(x: &AShare, op: &'static str) -> Result<(usize, usize)> {
    match *x.shape() {
        [rows, n] if n > 0 => Ok((rows, n)),
        _ => Err(ProtocolError::InvalidArgument {
            op,
            detail: format!("shape {:?}, not [rows, n >= 1]", x.shape()),
        }),
    }
}

/// Compares every pair of each row (`n >= 2`, `rows >= 1`) and ANDs each
/// candidate's wins: `3 + ceil(log3(n - 1))` rounds. Column `a` beats
/// column `b` if `x_a > x_b`, ties going to the lower index (as plaintext
/// argmax), so exactly one column wins.
fn winners(sess: &mut Session, x: &AShare, rows: usize, n: usize) -> Result<Winners> {
    // Pairs (a, b), a < b, pair-major; those with a = 0 first, so that pair
    // i - 1 holds x_0 - x_i.
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect();
    let xs = x.share().as_slice();
    let diffs: Vec<u64> = pairs
        .iter()
        .flat_map(|&(a, b)| (0..rows).map(move |r| xs[r * n + a].wrapping_sub(xs[r * n + b])))
        .collect();
    let len = diffs.len();
    let d = AShare::from_share(RingTensor::from_vec(&[len], diffs)?);
    let plan = crate::compare::NodePlan::new(&[0]);
    let t = sess.prep().compare_material(len, &plan)?;
    let (m, c) = crate::compare::top_bits(sess, &d, &t, &plan)?;
    // [x_a < x_b] = [b beats a], XOR-shared, one per entry.
    let loses = unpack_bits(m.share().xor(&t.r_top)?.as_slice(), len);
    let pair_of = |a: usize, b: usize| {
        let (lo, hi) = (a.min(b), a.max(b));
        // Index of (lo, hi) among the pairs.
        lo * n - lo * (lo + 1) / 2 + (hi - lo - 1)
    };
    // Factor j of candidate i (i >= 1), at (i - 1) * rows + r: [i beats j].
    let leader = sess.is_leader() as u64;
    let width = (n - 1) * rows;
    let mut factors: Vec<Vec<u64>> = (0..n - 1)
        .map(|f| {
            (1..n)
                .flat_map(|i| {
                    let j = if f < i { f } else { f + 1 };
                    let p = pair_of(i, j);
                    let loses = &loses;
                    (0..rows).map(move |r| {
                        let bit = loses[p * rows + r];
                        // Pair (j, i) with j < i says whether i beats j;
                        // pair (i, j) whether j beats i.
                        if j < i {
                            bit
                        } else {
                            bit ^ leader
                        }
                    })
                })
                .collect()
        })
        .collect();
    // The AND of every candidate's factors, three to a gate, a level per
    // round. A last pair is completed by a shared 1 (all ones on the
    // leader); a last single factor waits for the next level.
    let words = width.div_ceil(64);
    let one = vec![leader.wrapping_neg(); words];
    while factors.len() > 1 {
        let gates = factors.len() / 3 + usize::from(factors.len() % 3 == 2);
        let input = |j: usize| -> Result<BShare> {
            let v: Vec<u64> = (0..gates)
                .flat_map(|g| match factors.get(3 * g + j) {
                    Some(f) => pack_bits(f).into_vec(),
                    None => one.clone(),
                })
                .collect();
            Ok(BShare::from_share(RingTensor::from_vec(&[v.len()], v)?))
        };
        let anded = and3(sess, &input(0)?, &input(1)?, &input(2)?)?;
        let mut next: Vec<Vec<u64>> = anded
            .share()
            .as_slice()
            .chunks(words)
            .map(|w| unpack_bits(w, width))
            .collect();
        if factors.len() % 3 == 1 {
            next.push(factors.pop().expect("a last single factor"));
        }
        factors = next;
    }
    Ok(Winners {
        rows,
        n,
        winner: factors.remove(0),
        t,
        c,
        d,
    })
}

impl Winners {
    /// Opens each winner bit masked by its pair's bit (`w ^ r_top ^ s' = w
    /// ^ s`, one round): returns the opened `e` and the bits as additive
    /// shares of 0/1, `e + s - 2 e s`.
    fn open(&self, sess: &mut Session) -> Result<(Vec<u64>, AShare)> {
        let width = self.winner.len();
        let words = width.div_ceil(64);
        let valid = match width % 64 {
            0 => u64::MAX,
            used => !(u64::MAX << used),
        };
        // The first `width` bits only: the candidates' pairs (0, i).
        let first = |t: &RingTensor| -> Result<RingTensor> {
            let mut w = t.as_slice()[..words].to_vec();
            *w.last_mut().expect("width > 0") &= valid;
            Ok(RingTensor::from_vec(&[words], w)?)
        };
        let m = BShare::from_share(pack_bits(&self.winner).xor(&first(&self.t.r_top)?)?);
        let s = RingTensor::from_vec(&[width], self.t.s.as_slice()[..width].to_vec())?;
        additive_bits(sess, &m, (&first(&self.t.s_packed)?, &s), width)
    }

    /// The row maxima from the opened winner bits `e`: `max = x_0 - sum_i
    /// w_i (x_0 - x_i)`, each product as ReLU selects, `w d = e d + (1 -
    /// 2e) d s` with `d s = c s - r s` (local).
    fn max(&self, x: &AShare, e: &[u64]) -> Result<AShare> {
        let (rows, n) = (self.rows, self.n);
        let (c, s, r_s, d) = (
            self.c.as_slice(),
            self.t.s.as_slice(),
            self.t.r_s.as_slice(),
            self.d.share().as_slice(),
        );
        let xs = x.share().as_slice();
        let mut out: Vec<u64> = (0..rows).map(|r| xs[r * n]).collect();
        for (k, &e) in e.iter().enumerate() {
            let flip = 1u64.wrapping_sub(e.wrapping_mul(2));
            let d_s = c[k].wrapping_mul(s[k]).wrapping_sub(r_s[k]);
            let picked = e.wrapping_mul(d[k]).wrapping_add(flip.wrapping_mul(d_s));
            out[k % rows] = out[k % rows].wrapping_sub(picked);
        }
        Ok(AShare::from_share(RingTensor::from_vec(&[rows, 1], out)?))
    }

    /// The one-hot `[rows, n]` and the index `[rows, 1]` from the winner
    /// bits as additive shares (local).
    fn one_hot(&self, sess: &Session, bits: &AShare) -> Result<(AShare, AShare)> {
        let (rows, n) = (self.rows, self.n);
        let leader = sess.is_leader() as u64;
        let mut hot = vec![0u64; rows * n];
        let mut index = vec![0u64; rows];
        for (k, &b) in bits.share().as_slice().iter().enumerate() {
            let (i, r) = (k / rows + 1, k % rows);
            hot[r * n + i] = b;
            index[r] = index[r].wrapping_add((i as u64).wrapping_mul(b));
        }
        // Column 0 wins where no other does.
        for r in 0..rows {
            let others = (1..n).fold(0u64, |acc, i| acc.wrapping_add(hot[r * n + i]));
            hot[r * n] = leader.wrapping_sub(others);
        }
        Ok((
            AShare::from_share(RingTensor::from_vec(&[rows, n], hot)?),
            AShare::from_share(RingTensor::from_vec(&[rows, 1], index)?),
        ))
    }
}

/// The one-hot and index of a row-wise argmax with at most one column.
fn trivial_argmax(sess: &Session, rows: usize, n: usize) -> Result<(AShare, AShare)> {
    let leader = sess.is_leader() as u64;
    Ok((
        AShare::from_share(RingTensor::from_vec(&[rows, n], vec![leader; rows * n])?),
        AShare::from_share(RingTensor::zeros(&[rows, 1])),
    ))
}

/// Row-wise maximum of `x` (`[rows, n]`, compared as signed ring values,
/// exact where the differences of a row stay below 2^63 in magnitude),
/// `[rows, 1]`. Needs comparison tables from the provider
/// ([`crate::prep::Preprocessing::deals_tables`]).
pub fn max_rows(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let (rows, n) = rows_and_cols(x, "max_rows")?;
    if n == 1 || rows == 0 {
        return x.reshape(&[rows, 1]);
    }
    let w = winners(sess, x, rows, n)?;
    let (e, _) = w.open(sess)?;
    w.max(x, &e)
}

/// Row-wise argmax of `x` (`[rows, n]`, ties to the lower index, as
/// plaintext), as a one-hot `[rows, n]` and the index `[rows, 1]`, both
/// ring integers: the winner bits of [`max_rows`]'s comparisons, converted
/// in its last round with no product (6 rounds for ten columns; a
/// tournament: 16). Needs comparison tables from the provider.
pub fn argmax_rows(sess: &mut Session, x: &AShare) -> Result<(AShare, AShare)> {
    let (rows, n) = rows_and_cols(x, "argmax_rows")?;
    if n == 1 || rows == 0 {
        return trivial_argmax(sess, rows, n);
    }
    let w = winners(sess, x, rows, n)?;
    let (_, bits) = w.open(sess)?;
    w.one_hot(sess, &bits)
}

/// [`max_rows`] and the one-hot of [`argmax_rows`] together, in the rounds
/// of either: both follow from the same opened winner bits. Max pooling in
/// training needs both (the maximum forward, the winner backward); taking
/// the maximum as the one-hot's product with `x` would cost another round.
pub fn max_and_argmax_rows(sess: &mut Session, x: &AShare) -> Result<(AShare, AShare)> {
    let (rows, n) = rows_and_cols(x, "max_and_argmax_rows")?;
    if n == 1 || rows == 0 {
        return Ok((x.reshape(&[rows, 1])?, trivial_argmax(sess, rows, n)?.0));
    }
    let w = winners(sess, x, rows, n)?;
    let (e, bits) = w.open(sess)?;
    Ok((w.max(x, &e)?, w.one_hot(sess, &bits)?.0))
}
