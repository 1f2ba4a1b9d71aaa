//! The maximum of each row of a `[rows, n]` secret by comparing every pair
//! at once: `3 + ceil(log2(n - 1)) + 1` rounds (8 for ten columns, where a
//! tournament of exact ReLUs takes four per level, 16), with a dealer's
//! comparison tables.
//!
//! All `n(n - 1)/2` differences `x_b - x_a` (`a < b`) are compared in one
//! batch of table comparisons ([`crate::compare`]), whose bits stay
//! XOR-shared: the tables give `[x_b < x_a]` without `r`'s top bit, which
//! the provider also shares as a bit. Column `a` beats column `b` if `x_a >
//! x_b`, ties going to the higher index, so exactly one column beats every
//! other; its winner bit is the AND of `n - 1` bits, by a tree of two-input
//! AND gates ([`crate::binary::and`]), one round per level. Then `max = x_0 +
//! sum_(i >= 1) w_i (x_i - x_0)`: each product selects the compared value
//! `x_i - x_0` by the winner bit in one round, masked by that pair's own
//! comparison mask and bit, as ReLU selects `x` ([`crate::binary::relu`]).
//!
//! Security: semi-honest, as the comparisons it is built from. Every
//! opened value is masked by fresh provider randomness: each pair's `c`
//! by its `r`, the node inputs by their masks, the AND gates by their
//! triples, the winner bit by the pair's random bit `s`.
//!
//! Cost for ten columns (2 parties, per row and peer): 45 comparisons
//! without their conversions (99 bits each), 72 AND gates (2 bits each) and
//! 9 selecting bits: 4608 bits, where the tournament sends 9 ReLUs (909).

use crate::arith;
use crate::binary::{and, pack_bits};
use crate::error::{ProtocolError, Result};
use crate::prep::{Correlations, Sharing};
use crate::session::Session;
use crate::share::{AShare, BShare};
use tessera_tensor::RingTensor;

/// The first `len` bits of packed words, one per entry.
fn unpack(packed: &[u64], len: usize) -> Vec<u64> {
    (0..len).map(|i| (packed[i / 64] >> (i % 64)) & 1).collect()
}

/// Row-wise maximum of `x` (`[rows, n]`, compared as signed ring values,
/// exact where the differences of a row stay below 2^63 in magnitude),
/// `[rows, 1]`. Needs comparison tables from the provider
/// ([`crate::prep::Preprocessing::deals_tables`]).
pub fn max_rows(sess: &mut Session, x: &AShare) -> Result<AShare> {
    let shape = x.shape().to_vec();
    let (rows, n) = match shape.as_slice() {
        &[rows, n] if n > 0 => (rows, n),
        _ => {
            return Err(ProtocolError::InvalidArgument {
                op: "max_rows",
                detail: format!("shape {shape:?}, not [rows, n >= 1]"),
            })
        }
    };
    if n == 1 || rows == 0 {
        return x.reshape(&[rows, 1]);
    }
    // Pairs (a, b), a < b, pair-major; those with a = 0 first, so that pair
    // b - 1 holds x_b - x_0.
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect();
    let xs = x.share().as_slice();
    let diffs: Vec<u64> = pairs
        .iter()
        .flat_map(|&(a, b)| (0..rows).map(move |r| xs[r * n + b].wrapping_sub(xs[r * n + a])))
        .collect();
    let len = diffs.len();
    let d = AShare::from_share(RingTensor::from_vec(&[len], diffs)?);
    let t = sess.prep().compare_material(len, 1)?;
    let (m, c) = crate::compare::top_bits(sess, &d, &t, &[0])?;
    // [x_b < x_a] = [a beats b], XOR-shared, one per entry.
    let beats = unpack(m.share().xor(&t.r_top)?.as_slice(), len);
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
                    let beats = &beats;
                    (0..rows).map(move |r| {
                        let bit = beats[p * rows + r];
                        // Pair (j, i) with j < i says whether j beats i.
                        if j < i {
                            bit ^ leader
                        } else {
                            bit
                        }
                    })
                })
                .collect()
        })
        .collect();
    // The AND of every candidate's factors, a level per round.
    while factors.len() > 1 {
        let half = factors.len() / 2;
        let words = width.div_ceil(64);
        let side = |from: usize| -> Vec<u64> {
            (0..half)
                .flat_map(|k| pack_bits(&factors[2 * k + from]).into_vec())
                .collect()
        };
        let (left, right) = (side(0), side(1));
        let both =
            |v: Vec<u64>| BShare::from_share(RingTensor::from_vec(&[v.len()], v).expect("1-D"));
        let anded = and(sess, &both(left), &both(right))?;
        let mut next: Vec<Vec<u64>> = anded
            .share()
            .as_slice()
            .chunks(words)
            .map(|w| unpack(w, width))
            .collect();
        if factors.len() % 2 == 1 {
            next.push(factors.pop().expect("odd one"));
        }
        factors = next;
    }
    // Open w ^ r_top ^ s' = w ^ s for pair (0, i) (the first `width`
    // entries), then w (x_i - x_0) = e d + (1 - 2e)(c s - r s), as ReLU.
    let winner = pack_bits(&factors[0]);
    let words = width.div_ceil(64);
    let valid = match width % 64 {
        0 => u64::MAX,
        used => !(u64::MAX << used),
    };
    let mut masked: Vec<u64> = (0..words)
        .map(|w| winner.as_slice()[w] ^ t.r_top.as_slice()[w] ^ t.s_packed.as_slice()[w])
        .collect();
    *masked.last_mut().expect("width > 0") &= valid;
    let masked = RingTensor::from_vec(&[words], masked)?;
    let opened = arith::open_combined(sess, &[&masked], Sharing::Binary)?.remove(0);
    let e = unpack(opened.as_slice(), width);
    let (c, s, r_s, d) = (
        c.as_slice(),
        t.s.as_slice(),
        t.r_s.as_slice(),
        d.share().as_slice(),
    );
    let mut out: Vec<u64> = (0..rows).map(|r| xs[r * n]).collect();
    for (k, &e) in e.iter().enumerate() {
        let flip = 1u64.wrapping_sub(e.wrapping_mul(2));
        let d_s = c[k].wrapping_mul(s[k]).wrapping_sub(r_s[k]);
        let picked = e.wrapping_mul(d[k]).wrapping_add(flip.wrapping_mul(d_s));
        out[k % rows] = out[k % rows].wrapping_add(picked);
    }
    Ok(AShare::from_share(RingTensor::from_vec(&[rows, 1], out)?))
}
