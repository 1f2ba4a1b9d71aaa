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
/// Node groups of four chunks (16 bits; the last one 15).
const GROUPS: usize = CHUNKS / 4;
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

/// The nodes of a batch of thresholds' trees. Group `q` of the chunks
/// (bits `16q..16q + 16`) of `c - t` is `c_q - t_q - b` (mod 2^16), where the
/// borrow `b = [c mod 2^16q < t mod 2^16q]` is public. A first-level node
/// is keyed by `(q, a, s)` and reads the group of `((c - a) >> 16q) - s`:
/// * `(q, 0, t_q + b)`, when each element picks the node its borrow
///   selects: thresholds that agree on `t_q` or `t_q + 1` share these;
/// * `(q, t mod 2^16q, t_q)`, the group of `c - t` itself: one node,
///   shared only with thresholds equal below `2^(16q + 16)`.
///
/// Per group, thresholds without low bits (no borrow) take the first kind,
/// and the others whichever adds fewer nodes. The octave's powers of two
/// `2^0 .. 2^41` need 47 first-level nodes instead of 168; a single
/// threshold needs its four.
#[derive(Debug, Clone)]
pub struct NodePlan {
    thresholds: Vec<u64>,
    /// Each first-level node, in the order of the material.
    first: Vec<NodeKey>,
    /// Per threshold and group: the first-level node without a borrow and
    /// with one (the same where the node does not depend on it).
    pick: Vec<[(usize, usize); GROUPS]>,
}

impl NodePlan {
    /// The plan of `thresholds` (ring encodings).
    pub fn new(thresholds: &[u64]) -> Self {
        let mut first: Vec<NodeKey> = Vec::new();
        let mut pick = vec![[(0, 0); GROUPS]; thresholds.len()];
        for q in 0..GROUPS {
            // The fewest nodes of three rules for the thresholds that may
            // borrow: all pick by their borrow, none does, or each does
            // where that adds fewer nodes, in order.
            let (nodes, picks) = [Rule::Borrow, Rule::Direct, Rule::Greedy]
                .into_iter()
                .map(|rule| group_plan(thresholds, q, rule))
                .min_by_key(|(nodes, _)| nodes.len())
                .expect("three rules");
            let from = first.len();
            first.extend(nodes);
            for (p, (a, b)) in pick.iter_mut().zip(picks) {
                p[q] = (from + a, from + b);
            }
        }
        Self {
            thresholds: thresholds.to_vec(),
            first,
            pick,
        }
    }

    /// The thresholds, in order.
    pub fn thresholds(&self) -> &[u64] {
        &self.thresholds
    }

    /// Nodes in all: the shared first level, then one top node per threshold.
    pub fn nodes(&self) -> usize {
        self.first.len() + self.thresholds.len()
    }

    /// Each first-level node's four (less, equal) leaves: the tables at the
    /// chunks of its public group and the entries below them (`[v ==
    /// rho] = [v - 1 < rho] ^ [v < rho]`), as planes `4 g + j` (chunk `j` of
    /// node `g`) of `words` words.
    fn leaves(
        &self,
        c: &[u64],
        tables: &[u64],
        words: usize,
        leader: bool,
    ) -> (Vec<u64>, Vec<u64>) {
        let planes = 4 * self.first.len();
        let mut lt = vec![0u64; planes * words];
        let mut eq = vec![0u64; planes * words];
        // Bit 0 of a table is `[-1 < rho] = 1`, held by the leader.
        let one = leader as u64;
        for (g, &(q, a, s)) in self.first.iter().enumerate() {
            for (w, block) in c.chunks(64).enumerate() {
                let (mut rows, mut values) = ([0u64; 64], [0u64; 64]);
                for (bit, &c) in block.iter().enumerate() {
                    rows[bit] = tables[(64 * w + bit) * TABLE_WORDS + q];
                    values[bit] = (c.wrapping_sub(a) >> (16 * q)).wrapping_sub(s) & group_mask(q);
                }
                let (l, e) = leaf_words(&rows, &values, one);
                let valid = u64::MAX >> (64 - block.len());
                for j in 0..4 {
                    lt[(4 * g + j) * words + w] = l[j] & valid;
                    eq[(4 * g + j) * words + w] = e[j] & valid;
                }
            }
        }
        (lt, eq)
    }

    /// The children of every threshold's top node, from the first level's
    /// (less, equal) planes: per element, the node its public borrow picks
    /// (local: both parties select their shares alike).
    fn children(
        &self,
        c: &[u64],
        (less, equal): (&[u64], &[u64]),
        words: usize,
    ) -> (Vec<u64>, Vec<u64>) {
        let planes = GROUPS * self.thresholds.len();
        let (mut lt, mut eq) = (
            Vec::with_capacity(planes * words),
            Vec::with_capacity(planes * words),
        );
        for (&t, pick) in self.thresholds.iter().zip(&self.pick) {
            for (q, &(plain, borrowed)) in pick.iter().enumerate() {
                let low = (1u64 << (16 * q)) - 1;
                let borrows: Vec<u64> = if plain == borrowed {
                    vec![0; words]
                } else {
                    c.chunks(64)
                        .map(|chunk| {
                            chunk.iter().enumerate().fold(0u64, |acc, (i, v)| {
                                acc | (((v & low) < (t & low)) as u64) << i
                            })
                        })
                        .collect()
                };
                for (out, v) in [(&mut lt, less), (&mut eq, equal)] {
                    let (a, b) = (plane(v, plain, words), plane(v, borrowed, words));
                    out.extend((0..words).map(|w| (a[w] & !borrows[w]) | (b[w] & borrows[w])));
                }
            }
        }
        (lt, eq)
    }
}

/// How [`group_plan`] treats a threshold whose borrow into a group is not
/// always 0.
#[derive(Clone, Copy)]
enum Rule {
    Borrow,
    Direct,
    Greedy,
}

/// One word of each of a first-level node's 8 leaf planes (less and equal
/// of its 4 chunks) for 64 elements, from their table words for the node's
/// group (`rows`) and the group's public values (`values`): bit `v` of a
/// chunk's table (after the leader's constant bit) is `[v < rho]`.
#[inline(always)]
fn leaf_words_body(rows: &[u64; 64], values: &[u64; 64], one: u64) -> ([u64; 4], [u64; 4]) {
    let (mut l, mut e) = ([0u64; 4], [0u64; 4]);
    for j in 0..4 {
        let (mut lj, mut ej) = (0u64, 0u64);
        for bit in 0..64 {
            let nibble = (values[bit] >> (4 * j)) & 15;
            let t = ((rows[bit] >> (16 * j)) & 0xffff) << 1 | one;
            let below = t >> nibble;
            lj |= ((below >> 1) & 1) << bit;
            ej |= ((below ^ (below >> 1)) & 1) << bit;
        }
        l[j] = lj;
        e[j] = ej;
    }
    (l, e)
}

/// [`leaf_words_body`] compiled with AVX2 (variable shifts per lane).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn leaf_words_avx2(rows: &[u64; 64], values: &[u64; 64], one: u64) -> ([u64; 4], [u64; 4]) {
    leaf_words_body(rows, values, one)
}

/// The fastest compiled copy of [`leaf_words_body`] this CPU supports.
fn leaf_words(rows: &[u64; 64], values: &[u64; 64], one: u64) -> ([u64; 4], [u64; 4]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only
            // requirement of calling a `target_feature(enable = "avx2")`
            // function; the function itself is safe code.
            #[allow(unsafe_code)]
            unsafe {
                return leaf_words_avx2(rows, values, one);
            }
        }
    }
    leaf_words_body(rows, values, one)
}

/// A first-level node `(q, a, s)`: it reads group `q` of `((c - a) >> 16q) - s`.
type NodeKey = (usize, u64, u64);

/// Group `q`'s first-level nodes for `thresholds`, and each threshold's (no
/// borrow, borrow) node among them.
fn group_plan(thresholds: &[u64], q: usize, rule: Rule) -> (Vec<NodeKey>, Vec<(usize, usize)>) {
    let mut nodes: Vec<NodeKey> = Vec::new();
    let index = |nodes: &mut Vec<_>, key| match nodes.iter().position(|&k| k == key) {
        Some(i) => i,
        None => {
            nodes.push(key);
            nodes.len() - 1
        }
    };
    let low = |t: u64| t & ((1u64 << (16 * q)) - 1);
    let group = |t: u64| (t >> (16 * q)) & 0xffff;
    let shifted = |s: u64| (q, 0, s & group_mask(q));
    let mut picks = vec![(0, 0); thresholds.len()];
    // Thresholds that never borrow first: their nodes are needed anyway.
    for (i, &t) in thresholds.iter().enumerate().filter(|(_, &t)| low(t) == 0) {
        let n = index(&mut nodes, shifted(group(t)));
        picks[i] = (n, n);
    }
    for (i, &t) in thresholds.iter().enumerate().filter(|(_, &t)| low(t) != 0) {
        let (k0, k1) = (shifted(group(t)), shifted(group(t) + 1));
        let direct = (q, low(t), group(t) & group_mask(q));
        let new = |key| !nodes.contains(&key) as usize;
        let by_borrow = match rule {
            Rule::Borrow => true,
            Rule::Direct => false,
            Rule::Greedy => new(k0) + new(k1) <= new(direct),
        };
        picks[i] = if by_borrow {
            (index(&mut nodes, k0), index(&mut nodes, k1))
        } else {
            let n = index(&mut nodes, direct);
            (n, n)
        };
    }
    (nodes, picks)
}

/// The bits of group `q` that the borrow of the low 63 bits reads.
fn group_mask(q: usize) -> u64 {
    if q == GROUPS - 1 {
        0x7fff
    } else {
        0xffff
    }
}

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
    let len = y.len();
    let words = len.div_ceil(64);
    let k = plan.thresholds.len();
    let first = plan.first.len();
    let masked = y.share().reshape(&[len])?.add(&mat.r)?;
    let opened = arith::open_combined(sess, &[&masked], Sharing::Arithmetic)?.remove(0);
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
            for (w, chunk) in c.chunks(64).enumerate() {
                let top = chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |acc, (j, v)| acc | ((v.wrapping_sub(t) >> 63) << j));
                bits[i * words + w] ^= top;
            }
        }
    }
    let bits = RingTensor::from_vec(&[k * words], bits)?;
    Ok((BShare::from_share(bits), opened))
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
