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
use std::sync::OnceLock;
use tessera_tensor::RingTensor;

/// Chunks of 4 bits covering the low 63 bits.
pub(crate) const CHUNKS: usize = 16;
/// Words of tables per element: 16 chunks of 16 bits.
pub(crate) const TABLE_WORDS: usize = CHUNKS / 4;
/// Nodes per threshold: four over the chunks, one over those four.
pub(crate) const NODES: usize = 5;
/// Masked inputs of a node: `e3 e2 e1 e0 l2 l1 l0`.
pub(crate) const NODE_VARS: usize = 7;
/// Dealt mask products per node.
pub(crate) const NODE_PRODUCTS: usize = 22;

const LOW: u64 = u64::MAX >> 1;

/// A node's monomials over its inputs (bit `i` for input `i` of
/// `e3 e2 e1 e0 l2 l1 l0`): `e3 l2`, `e3 e2 l1`, `e3 e2 e1 l0` (less) and
/// `e3 e2 e1 e0` (equal).
const MONOMIALS: [u8; 4] = [0b001_0001, 0b010_0011, 0b100_0111, 0b000_1111];

/// The subsets of two or more inputs whose mask products a node needs, in
/// the order the provider deals them.
pub(crate) fn node_subsets() -> &'static [u8] {
    static SUBSETS: OnceLock<Vec<u8>> = OnceLock::new();
    SUBSETS.get_or_init(|| {
        let mut all: Vec<u8> = MONOMIALS
            .iter()
            .flat_map(|&m| (1..=m).filter(move |t| t & m == *t && t.count_ones() >= 2))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    })
}

/// The less-than table of chunk value `rho` (bit `v` is `[v < rho]`).
fn less_table(rho: u64) -> u64 {
    (1u64 << rho) - 1
}

/// The dealer's tables for masks `r`: per element, 16 chunks of `[v <
/// rho]` (bit `v`), four chunks per word. (The equal table is not dealt:
/// `[v == rho] = [v - 1 < rho] ^ [v < rho]`, with `[-1 < rho] = 1`.)
pub(crate) fn deal_tables(r: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; r.len() * TABLE_WORDS];
    for (row, &r) in out.chunks_exact_mut(TABLE_WORDS).zip(r) {
        let low = r & LOW;
        for k in 0..CHUNKS {
            let rho = (low >> (4 * k)) & 15;
            row[k / 4] |= less_table(rho) << (16 * (k % 4));
        }
    }
    out
}

/// The products of the masks (`NODE_VARS` planes of `words` words per
/// node) over every node's subsets, in the clear (the dealer's part).
pub(crate) fn mask_products(masks: &[u64], words: usize) -> Vec<u64> {
    let plane = |p: usize| &masks[p * words..(p + 1) * words];
    let nodes = masks.len().checked_div(NODE_VARS * words).unwrap_or(0);
    let mut out = Vec::with_capacity(nodes * NODE_PRODUCTS * words);
    for node in 0..nodes {
        for &t in node_subsets() {
            let mut acc = vec![u64::MAX; words];
            for i in (0..NODE_VARS).filter(|i| t >> i & 1 == 1) {
                for (a, m) in acc.iter_mut().zip(plane(node * NODE_VARS + i)) {
                    *a &= m;
                }
            }
            out.extend(acc);
        }
    }
    out
}

/// XOR shares of the top bits of `y - t` but for `r_63` (which the material
/// folds into the mask of the opening that follows), for flat `y` and each
/// threshold `t` of `thresholds`, packed 64 to a word (`[k * words]`, threshold `i`'s
/// planes at `i * words`), and the opened `c = y + r`. Three rounds.
///
/// The thresholds share one mask `r` and its tables: `y - t + r = c - t`
/// is public for every `t`, so each further threshold costs only its nodes'
/// openings (35 bits) and masks. Every opening stays masked by fresh
/// randomness, so sharing `r` reveals nothing more.
pub(crate) fn top_bits(
    sess: &mut Session,
    y: &AShare,
    mat: &CompareMaterial,
    thresholds: &[u64],
) -> Result<(BShare, RingTensor)> {
    let len = y.len();
    let words = len.div_ceil(64);
    let k = thresholds.len();
    let masked = y.share().reshape(&[len])?.add(&mat.r)?;
    let c = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
    let shifted: Vec<Vec<u64>> = thresholds
        .iter()
        .map(|&t| c.as_slice().iter().map(|v| v.wrapping_sub(t)).collect())
        .collect();
    let (mut lt, mut eq) = (Vec::new(), Vec::new());
    for public in &shifted {
        let (l, e) = look_up(public, mat.tables.as_slice(), words, sess.is_leader());
        lt.extend(l);
        eq.extend(e);
    }
    let (masks, products) = (mat.masks.as_slice(), mat.products.as_slice());
    let split = 4 * k * NODE_VARS * words;
    let split_p = 4 * k * NODE_PRODUCTS * words;
    let (l1, e1) = combine(
        sess,
        (&lt, &eq),
        4 * k,
        words,
        (&masks[..split], &products[..split_p]),
    )?;
    let (mut bits, _) = combine(
        sess,
        (&l1, &e1),
        k,
        words,
        (&masks[split..], &products[split_p..]),
    )?;
    if sess.is_leader() {
        for (i, public) in shifted.iter().enumerate() {
            for (w, chunk) in public.chunks(64).enumerate() {
                let top = chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |acc, (j, v)| acc | ((v >> 63) << j));
                bits[i * words + w] ^= top;
            }
        }
    }
    let bits = RingTensor::from_vec(&[k * words], bits)?;
    Ok((BShare::from_share(bits), c))
}

/// Shares of each chunk's (less, equal) pair: the table at the public
/// chunk of `c` and the one below it, as 16 planes of `words` words each.
fn look_up(c: &[u64], tables: &[u64], words: usize, leader: bool) -> (Vec<u64>, Vec<u64>) {
    let mut lt = vec![0u64; CHUNKS * words];
    let mut eq = vec![0u64; CHUNKS * words];
    for (i, (&c, row)) in c.iter().zip(tables.chunks_exact(TABLE_WORDS)).enumerate() {
        let (word, bit) = (i / 64, i % 64);
        let low = c & LOW;
        for k in 0..CHUNKS {
            let v = (low >> (4 * k)) & 15;
            // Bit 0 of `t` is `[-1 < rho] = 1`, held by the leader.
            let t = ((row[k / 4] >> (16 * (k % 4))) & 0xffff) << 1 | leader as u64;
            lt[k * words + word] |= ((t >> (v + 1)) & 1) << bit;
            eq[k * words + word] |= (((t >> v) ^ (t >> (v + 1))) & 1) << bit;
        }
    }
    (lt, eq)
}

/// One level of `groups` nodes (one round): child `j` of group `g` is plane
/// `4 g + j` of `less` and `equal` (child 3 the most significant). Returns
/// each group's (less, equal) planes.
fn combine(
    sess: &mut Session,
    children: (&[u64], &[u64]),
    groups: usize,
    words: usize,
    dealt: (&[u64], &[u64]),
) -> Result<(Vec<u64>, Vec<u64>)> {
    let masked = node_inputs(children, groups, words, dealt.0);
    let masked = RingTensor::from_vec(&[masked.len()], masked)?;
    let opened = arith::open_combined(sess, &[&masked], Sharing::Binary)?.remove(0);
    let leader = sess.is_leader();
    Ok(node_outputs(
        children.0,
        groups,
        words,
        dealt,
        opened.as_slice(),
        leader,
    ))
}

/// The plane of `v` at `p`.
fn plane(v: &[u64], p: usize, words: usize) -> &[u64] {
    &v[p * words..(p + 1) * words]
}

/// Each group's inputs `e3 e2 e1 e0 l2 l1 l0`, masked: what a level opens.
fn node_inputs(
    (less, equal): (&[u64], &[u64]),
    groups: usize,
    words: usize,
    masks: &[u64],
) -> Vec<u64> {
    (0..groups)
        .flat_map(|g| {
            let c = 4 * g;
            [
                plane(equal, c + 3, words),
                plane(equal, c + 2, words),
                plane(equal, c + 1, words),
                plane(equal, c, words),
                plane(less, c + 2, words),
                plane(less, c + 1, words),
                plane(less, c, words),
            ]
        })
        .flatten()
        .zip(masks)
        .map(|(v, a)| v ^ a)
        .collect()
}

/// Each group's (less, equal) from the opened masked inputs `d`: a
/// monomial `prod_{i in m} (d_i ^ a_i)` is the XOR over subsets `t` of `m`
/// of `(prod_{i in m \ t} d_i) & A_t`, with `A_{}` = 1 on the leader,
/// `A_{i}` the mask and larger `A_t` the dealt products.
fn node_outputs(
    less: &[u64],
    groups: usize,
    words: usize,
    (masks, products): (&[u64], &[u64]),
    d: &[u64],
    leader: bool,
) -> (Vec<u64>, Vec<u64>) {
    let subsets = node_subsets();
    let (mut out_less, mut out_equal) = (Vec::new(), Vec::new());
    for g in 0..groups {
        let var = |i: usize| g * NODE_VARS + i;
        let monomial = |m: u8| {
            let mut acc = vec![0u64; words];
            let mut t = m;
            loop {
                let public: Vec<usize> = (0..NODE_VARS)
                    .filter(|i| (m & !t) >> i & 1 == 1)
                    .map(|i| var(i) * words)
                    .collect();
                let share = match t.count_ones() {
                    0 => None,
                    1 => Some(plane(masks, var(t.trailing_zeros() as usize), words)),
                    _ => {
                        let at = subsets.binary_search(&t).expect("a dealt subset");
                        Some(plane(products, g * NODE_PRODUCTS + at, words))
                    }
                };
                if t != 0 || leader {
                    for (w, a) in acc.iter_mut().enumerate() {
                        let p = public.iter().fold(u64::MAX, |p, &o| p & d[o + w]);
                        *a ^= p & share.map_or(u64::MAX, |s| s[w]);
                    }
                }
                if t == 0 {
                    break;
                }
                t = (t - 1) & m;
            }
            acc
        };
        let mut l = plane(less, 4 * g + 3, words).to_vec();
        for &m in &MONOMIALS[..3] {
            for (a, b) in l.iter_mut().zip(monomial(m)) {
                *a ^= b;
            }
        }
        out_less.extend(l);
        out_equal.extend(monomial(MONOMIALS[3]));
    }
    (out_less, out_equal)
}

/// The tree comparison, for providers that cannot make tables cheaply
/// ([`crate::prep::Preprocessing::deals_tables`]): XOR shares of the top
/// bit of every element of `x`, packed 64 to a word, and the opened
/// `c = x + r`, from edaBits (`r` additively, `r_bits` XOR-shared). Seven
/// rounds, 252 bits per element.
///
/// The top bit of `x = c - r` is `c_63 ^ r_63 ^ [c_low < r_low]`; the
/// borrow comes from a tree: each node holds (less, equal) of its bit
/// range, and a parent is `(l_hi ^ e_hi & l_lo, e_hi & e_lo)`. The bits of a
/// level are packed densely across elements (64, 32, ... 2 per element), and
/// the two ANDs of a node share the mask of `e_hi`, so level `j` opens
/// `3 * 64 / 2^j` bits per element, the last one 2.
pub(crate) fn tree_top_bits(
    sess: &mut Session,
    x: &AShare,
    r_arith: &RingTensor,
    r_bits: &RingTensor,
) -> Result<(BShare, RingTensor)> {
    let len = x.len();
    let x = x.reshape(&[len])?;
    let masked = x.share().add(r_arith)?;
    let c = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
    Ok((tree_from_opened(sess, &c, r_bits)?, c))
}

/// The top bits of `c - r` for public words `c` and XOR-shared words
/// `r_bits` (one per comparison): the six levels of [`tree_top_bits`]'s
/// tree, packed 64 to a word. Several thresholds share one opening by
/// passing `c - t` for each with the same `r` repeated.
pub(crate) fn tree_from_opened(
    sess: &mut Session,
    c: &RingTensor,
    r_bits: &RingTensor,
) -> Result<BShare> {
    const LOW: u64 = u64::MAX >> 1;
    let r_bits = BShare::from_share(r_bits.clone());
    let not_c_low = c.map(|v| !v & LOW);
    // Leaves: less = !c & r, equal = !(c ^ r) on bits 0..63; bit 63 is the
    // identity (less 0, equal 1).
    let mut less = r_bits.and_public(&not_c_low)?;
    let mut equal = r_bits
        .map_linear(|v| v & LOW)
        .xor_public(sess, &not_c_low.map(|v| v | !LOW))?;
    for level in 0..6 {
        let (less_hi, less_lo) = (half_stream(&less, true), half_stream(&less, false));
        let (eq_hi, eq_lo) = (half_stream(&equal, true), half_stream(&equal, false));
        if level < 5 {
            let both = and_fanout(sess, &eq_hi, &[&less_lo, &eq_lo])?;
            less = less_hi.xor(&both[0])?;
            equal = both[1].clone();
        } else {
            less = less_hi.xor(&and(sess, &eq_hi, &less_lo)?)?;
        }
    }
    let top = |t: &RingTensor| pack_bits(&t.as_slice().iter().map(|v| v >> 63).collect::<Vec<_>>());
    less.xor(&BShare::from_share(top(r_bits.share())))?
        .xor_public(sess, &top(c))
}

/// The even-indexed bits of a word, gathered into its low 32 bits.
fn even_bits(w: u64) -> u64 {
    let mut x = w & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    (x | (x >> 16)) & 0x0000_0000_ffff_ffff
}

/// Every other bit of a packed bit stream (odd positions if `odd`), packed
/// again. Linear, so it applies to XOR shares locally.
fn half_stream(x: &BShare, odd: bool) -> BShare {
    let shift = odd as u32;
    let words: Vec<u64> = x
        .share()
        .as_slice()
        .chunks(2)
        .map(|c| {
            let lo = even_bits(c[0] >> shift);
            let hi = c.get(1).map_or(0, |&w| even_bits(w >> shift));
            lo | (hi << 32)
        })
        .collect();
    let len = words.len();
    BShare::from_share(RingTensor::from_vec(&[len], words).expect("1-D"))
}

#[cfg(test)]
mod tests {
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

    /// The borrow `[c_low < r_low]` as two parties compute it, with
    /// the dealer's tables and products split at random and the openings
    /// done by XOR.
    fn two_party_borrow(c: &[u64], r: &[u64], prg: &mut tessera_tensor::Prg) -> Vec<u64> {
        let words = c.len().div_ceil(64);
        let tables = split(&deal_tables(r), prg);
        let masks = prg.next_u64_vec(NODES * NODE_VARS * words);
        let products = split(&mask_products(&masks, words), prg);
        let masks = split(&masks, prg);
        let leaves: Vec<_> = (0..2)
            .map(|p| look_up(c, &tables[p], words, p == 0))
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
        let first = level(&leaves, 4, (0, 0));
        let top = level(&first, 1, (4 * NODE_VARS, 4 * NODE_PRODUCTS));
        let bits: Vec<u64> = top[0].0.iter().zip(&top[1].0).map(|(a, b)| a ^ b).collect();
        (0..c.len())
            .map(|i| (bits[i / 64] >> (i % 64)) & 1)
            .collect()
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
        let got = two_party_borrow(&c, &r, &mut prg);
        for i in 0..c.len() {
            let want = ((c[i] & LOW) < (r[i] & LOW)) as u64;
            assert_eq!(got[i], want, "c = {:#x}, r = {:#x}", c[i], r[i]);
        }
    }
}
