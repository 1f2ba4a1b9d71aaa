//! The top bit of a secret in four rounds, from dealt lookup tables and
//! four-input AND gates; and, for a provider that cannot make tables
//! cheaply (OT), in eight by a tree of two-input AND gates
//! (`tree_top_bits`).
//!
//! To learn the top bit of `x`, the parties open `c = x + r` for a random
//! `r` (round 1). The top bit of `x = c - r` is `c_63 ^ r_63 ^ b`, where the
//! borrow `b = [c_low < r_low]` compares the public low 63 bits of `c` with
//! the secret ones of `r`. Both are cut into sixteen 4-bit chunks. For each
//! chunk `rho` of `r`, the parties hold XOR shares of the 16-entry table
//! `[v < rho]` over all chunk values `v`: looking up the public chunk of `c`
//! (and the entry below it: `[v == rho] = [v - 1 < rho] ^ [v < rho]`) gives
//! shares of that chunk's (less, equal) pair with no communication. (The table idea is the one-time truth tables of Ishai,
//! Kushilevitz, Meldgaard, Orlandi and Paskin-Cherniavsky, TCC 2013, on
//! chunks small enough that the tables stay short.)
//!
//! The sixteen pairs are combined four at a time: a node's
//! `less = l3 ^ e3 l2 ^ e3 e2 l1 ^ e3 e2 e1 l0` and `equal = e3 e2 e1 e0`
//! (chunk 3 the most significant). Its monomials have up to four factors,
//! all taken in one round: each of the seven inputs is opened masked by a
//! dealt random bit `a_i`, and the dealer also shares the products of the
//! masks over every subset a monomial needs (22 per node), so that
//! `prod (d_i ^ a_i)` expands into public factors times dealt shares.
//! Four nodes (round 2) and then one (round 3) give the borrow. Round 4
//! opens the bit masked by a random `s'` to turn it into an additive share,
//! or to select `x` by it ([`crate::binary::relu`]); `r_63` is folded into
//! that mask (the provider shares `s = s' ^ r_63` additively).
//!
//! Security: every opened value is masked by fresh uniform randomness from
//! the provider (`r` for `c`, the `a_i` for the node inputs, `s'` for the
//! bit), so the openings are uniform and independent of the inputs
//! (semi-honest, as the protocols built on them). Several thresholds reuse
//! `r` and its tables but never an opening's mask.
//!
//! Per element and party (2 parties): 4 rounds, 100 bits sent (64 for `c`,
//! 28 and 7 for the two levels of nodes, 1 for the bit); from the provider,
//! 256 bits of tables (the equal table follows from the less table), 35
//! mask and 110 product bits, and the select's `s`, its additive bits and
//! `r s`.

use crate::arith;
use crate::binary::{and, and_fanout, pack_bits};
use crate::error::Result;
use crate::prep::{CompareMaterial, Sharing};
use crate::session::Session;
use crate::share::{AShare, BShare};
use crate::shared_tree::pack;
use std::sync::OnceLock;
use tessera_tensor::RingTensor;

/// Chunks of 4 bits covering the low 63 bits.
pub(crate) const CHUNKS: usize = 16;
/// Words of tables per element: 16 chunks of 16 bits.
pub(crate) const TABLE_WORDS: usize = CHUNKS / 4;
/// Node groups of four chunks (16 bits; the last one 15).
const GROUPS: usize = CHUNKS / 4;
/// Masked inputs of a node: `e3 e2 e1 e0 l2 l1 l0`.
pub(crate) const NODE_VARS: usize = 7;
/// Dealt mask products per node.
pub(crate) const NODE_PRODUCTS: usize = 22;

const LOW: u64 = u64::MAX >> 1;

mod nodes;
mod plan;
mod tables;
mod tree;

use nodes::{combine, plane};
pub use plan::NodePlan;
use tables::MONOMIALS;
pub(crate) use tables::{deal_tables, mask_products, node_subsets};
pub(crate) use tree::tree_top_bits;

/// XOR shares of the top bits of `y - t` but for `r_63` (which the material
/// folds into the mask of the opening that follows), for flat `y` and each
/// threshold `t` of the plan, packed 64 to a word (`[k * words]`, threshold
/// `i`'s planes at `i * words`), and the opened `c = y + r`. Three rounds.
///
/// The thresholds share one mask `r` and its tables: `y - t + r = c - t`
/// is public for every `t`, so each further threshold costs only its top
/// node's opening (7 bits), the first-level nodes it does not share
/// ([`NodePlan`]), and masks. Every opening stays masked by fresh
/// randomness, so sharing `r` reveals nothing more.
pub(crate) fn top_bits(
    sess: &mut Session,
    y: &AShare,
    mat: &CompareMaterial,
    plan: &NodePlan,
) -> Result<(BShare, RingTensor)> {
    let masked = y.share().reshape(&[y.len()])?.add(&mat.r)?;
    let opened = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
    let bits = top_bits_of_opened(sess, &opened, mat, plan)?;
    Ok((bits, opened))
}

/// [`top_bits`] from the opened `c = y + r` (rounds 2 and 3), for a
/// protocol that opened it for another use as well.
pub(crate) fn top_bits_of_opened(
    sess: &mut Session,
    opened: &RingTensor,
    mat: &CompareMaterial,
    plan: &NodePlan,
) -> Result<BShare> {
    let len = opened.len();
    let words = len.div_ceil(64);
    let k = plan.thresholds.len();
    let first = plan.first.len();
    let c = opened.as_slice();
    let (lt, eq) = plan.leaves(c, mat.tables.as_slice(), words, sess.is_leader());
    let (masks, products) = (mat.masks.as_slice(), mat.products.as_slice());
    let split = first * NODE_VARS * words;
    let split_p = first * NODE_PRODUCTS * words;
    let (l1, e1) = combine(
        sess,
        (&lt, &eq),
        first,
        words,
        (&masks[..split], &products[..split_p]),
    )?;
    let (l1, e1) = plan.children(c, (&l1, &e1), words);
    let (mut bits, _) = combine(
        sess,
        (&l1, &e1),
        k,
        words,
        (&masks[split..], &products[split_p..]),
    )?;
    if sess.is_leader() {
        for (i, &t) in plan.thresholds.iter().enumerate() {
            let top = pack(c, |v| v.wrapping_sub(t) >> 63 == 1);
            for (b, top) in bits[i * words..(i + 1) * words].iter_mut().zip(top) {
                *b ^= top;
            }
        }
    }
    let bits = RingTensor::from_vec(&[k * words], bits)?;
    Ok(BShare::from_share(bits))
}

#[cfg(test)]
mod tests {
    use super::nodes::{node_inputs, node_outputs};
    use super::tables::less_table;
    use super::*;

    #[test]
    fn a_node_needs_22_mask_products() {
        assert_eq!(node_subsets().len(), NODE_PRODUCTS);
        assert!(node_subsets().iter().all(|t| t.count_ones() >= 2));
    }

    #[test]
    fn the_tables_hold_less_than() {
        for rho in 0..16u64 {
            for v in 0..16u64 {
                assert_eq!(less_table(rho) >> v & 1, (v < rho) as u64);
            }
        }
    }

    /// Two parties' shares of `x` (XOR), split with `prg`.
    fn split(x: &[u64], prg: &mut tessera_tensor::Prg) -> [Vec<u64>; 2] {
        let a = prg.next_u64_vec(x.len());
        let b = x.iter().zip(&a).map(|(x, a)| x ^ a).collect();
        [a, b]
    }

    /// The borrows `[(c - t)_low < r_low]` for each threshold of `plan`
    /// (threshold-major), as two parties compute them, with the dealer's
    /// tables and products split at random and the openings done by XOR.
    fn two_party_borrows(
        c: &[u64],
        r: &[u64],
        plan: &NodePlan,
        prg: &mut tessera_tensor::Prg,
    ) -> Vec<u64> {
        let words = c.len().div_ceil(64);
        let tables = split(&deal_tables(r), prg);
        let masks = prg.next_u64_vec(plan.nodes() * NODE_VARS * words);
        let products = split(&mask_products(&masks, words), prg);
        let masks = split(&masks, prg);
        let leaves: Vec<_> = (0..2)
            .map(|p| plan.leaves(c, &tables[p], words, p == 0))
            .collect();
        let level = |inputs: &[(Vec<u64>, Vec<u64>)], groups: usize, from: (usize, usize)| {
            let dealt = |p: usize| (&masks[p][from.0 * words..], &products[p][from.1 * words..]);
            let opened: Vec<u64> = (0..2)
                .map(|p| node_inputs((&inputs[p].0, &inputs[p].1), groups, words, dealt(p).0))
                .reduce(|a, b| a.iter().zip(&b).map(|(a, b)| a ^ b).collect())
                .unwrap();
            (0..2)
                .map(|p| node_outputs(&inputs[p].0, groups, words, dealt(p), &opened, p == 0))
                .collect::<Vec<_>>()
        };
        let f = plan.first.len();
        let first: Vec<_> = level(&leaves, f, (0, 0))
            .iter()
            .map(|(l, e)| plan.children(c, (l, e), words))
            .collect();
        let k = plan.thresholds().len();
        let top = level(&first, k, (f * NODE_VARS, f * NODE_PRODUCTS));
        let bits: Vec<u64> = top[0].0.iter().zip(&top[1].0).map(|(a, b)| a ^ b).collect();
        (0..k * c.len())
            .map(|i| {
                let (t, e) = (i / c.len(), i % c.len());
                (bits[t * words + e / 64] >> (e % 64)) & 1
            })
            .collect()
    }

    /// Checks every threshold's borrow against the plaintext one.
    fn check_borrows(c: &[u64], r: &[u64], thresholds: &[u64], prg: &mut tessera_tensor::Prg) {
        let plan = NodePlan::new(thresholds);
        let got = two_party_borrows(c, r, &plan, prg);
        for (ti, &t) in thresholds.iter().enumerate() {
            for i in 0..c.len() {
                let shifted = c[i].wrapping_sub(t);
                let want = ((shifted & LOW) < (r[i] & LOW)) as u64;
                assert_eq!(
                    got[ti * c.len() + i],
                    want,
                    "t = {t:#x}, c = {:#x}, r = {:#x}",
                    c[i],
                    r[i]
                );
            }
        }
    }

    #[test]
    fn thresholds_share_first_level_nodes_where_their_low_groups_agree() {
        let powers: Vec<u64> = (0..42).map(|j| 1u64 << j).collect();
        // Group 0: 2^0..2^15 and 0; group 1: 2^0..2^15 and 0 (2^16 and up
        // need none; a borrow is the same as 2^16); group 2: 0, 1 (borrow or
        // 2^32) and 2^1..2^9; group 3: 0 and 1.
        assert_eq!(NodePlan::new(&powers).nodes(), 17 + 17 + 11 + 2 + 42);
        assert_eq!(NodePlan::new(&[0]).nodes(), 5);
        assert_eq!(NodePlan::new(&[1 << 48, 1 << 48]).nodes(), 4 + 2);
        // A lone threshold with low bits reads the groups of c - t.
        assert_eq!(NodePlan::new(&[7]).nodes(), 4 + 1);
        // Here the borrow's two nodes are cheaper than a fifth of c - t.
        // Group 1 of 0 and 2^16 serves both borrows of 2^15: two nodes each
        // for groups 0 to 3, not a third for group 1.
        assert_eq!(NodePlan::new(&[0, 1 << 16, 1 << 15]).nodes(), 8 + 3);
        let mut prg = tessera_tensor::Prg::from_seed([9; 32]);
        let mut c = prg.next_u64_vec(150);
        let r = prg.next_u64_vec(150);
        // Words right at each threshold, and at the borrows' edges.
        for (i, j) in [0, 1, 15, 16, 17, 31, 32, 33, 41, 47, 48]
            .iter()
            .enumerate()
        {
            c[i] = r[i].wrapping_add(1 << j);
            c[20 + i] = r[20 + i].wrapping_add(1 << j).wrapping_sub(1);
            c[40 + i] = (r[40 + i] & !0xffff_ffff) | (1 << (j % 32));
            c[60 + i] = 1 << j;
        }
        check_borrows(&c, &r, &powers, &mut prg);
        let mut mixed = prg.next_u64_vec(20);
        mixed.extend([
            0,
            1,
            u64::MAX,
            1 << 63,
            LOW,
            0xffff,
            0x1_0000,
            0x1_0000_0000,
        ]);
        mixed.extend([(-8i64 << 16) as u64, (-2i64 << 16) as u64, 3 << 15]);
        check_borrows(&c, &r, &mixed, &mut prg);
    }

    #[test]
    fn the_borrow_is_exact_where_long_prefixes_agree() {
        let mut prg = tessera_tensor::Prg::from_seed([5; 32]);
        let (mut c, mut r) = (Vec::new(), Vec::new());
        // Public and secret words that agree on their top 0 to 63 bits,
        // differing below in either direction, equal, and the extremes.
        for agree in 0..64 {
            for _ in 0..6 {
                let base = prg.next_u64();
                let noise = prg.next_u64() >> agree.max(1);
                let keep = if agree == 0 {
                    0
                } else {
                    u64::MAX << (64 - agree)
                };
                c.push(base);
                r.push((base & keep) | (noise & !keep));
            }
        }
        for (a, b) in [
            (0, 0),
            (0, LOW),
            (LOW, 0),
            (LOW, LOW),
            (u64::MAX, 1 << 63),
            (1, 0),
        ] {
            c.push(a);
            r.push(b);
        }
        check_borrows(&c, &r, &[0], &mut prg);
    }
}
