//! Comparisons of one secret with many public thresholds by trees of AND
//! gates that share their subtrees: the path of [`crate::binary::less_than_each`]
//! for providers without tables (OT).
//!
//! After opening `c = x + r` for an edaBit `r`, threshold `t` needs the
//! borrow `[(c - t)_low < r_low]` of the low 63 bits, which a tree over
//! (less, equal) pairs gives (as in [`crate::compare::tree_top_bits`]). A
//! node covering bits `[lo, hi)` (width `w`) compares a public word with
//! `r`'s bits there; here the word is `((c - a) >> lo) - s` (mod 2^w) for a
//! key `(a, s)`. Its halves are keys again: the low one `(a, s mod 2^(w/2))`,
//! the high one `(a, (s >> w/2) + b)` with the borrow
//! `b = [((c - a) >> lo) mod 2^(w/2) < s mod 2^(w/2)]`, public per element,
//! so a node with both high keys picks per element (locally: both parties
//! select their shares alike).
//!
//! A threshold's root is `(t mod 2^m, t - t mod 2^m)` for a split `m`:
//! `m = 64` is its own tree (`c - t` itself); `m = 0` keys every node by
//! the part of `t` it covers, so thresholds that share digits share nodes.
//! The 42 powers of two of the reciprocal's octave need 333 internal nodes
//! this way, not 42 x 63 = 2646. [`TreePlan`] takes the cheapest of: every
//! threshold at 64, every one at 0, and each in turn at the split that adds
//! fewest nodes.
//!
//! Security as for the tree: every AND gate opens its inputs masked by a
//! fresh AND triple; which nodes exist depends only on the public
//! thresholds, and the selections only on the opened `c`.

use crate::binary::{and, and_fanout};
use crate::error::Result;
use crate::session::Session;
use crate::share::BShare;
use std::collections::HashMap;
use tessera_tensor::RingTensor;

/// Levels above the leaves: widths 2, 4, ... 64.
const LEVELS: usize = 6;
/// Splits a threshold's root may take.
const SPLITS: [u32; 9] = [0, 8, 16, 24, 32, 40, 48, 56, 64];

/// A node's key `(index within its level, a, s)`: it compares the bits of
/// `((c - a) >> lo) - s` in its range.
pub(crate) type Key = (usize, u64, u64);

/// `v mod 2^bits` (`bits` up to 64).
pub(crate) fn low(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// The children of node `key` at `level`: the low half, and the high half
/// without and with a borrow from the low one.
pub(crate) fn children(level: usize, (n, a, s): Key) -> (Key, Key, Key) {
    let half = 1u32 << (level - 1);
    let lo_bit = n as u32 * 2 * half;
    let (mid, hi) = (lo_bit + half, lo_bit + 2 * half);
    let s_lo = low(s, half);
    let s_hi = low(s >> half, half);
    let lo = (2 * n, low(a, mid), s_lo);
    let hi0 = (2 * n + 1, low(a, hi), s_hi);
    let hi1 = if s_lo != 0 {
        (2 * n + 1, low(a, hi), low(s_hi + 1, half))
    } else {
        hi0
    };
    (lo, hi0, hi1)
}

/// Which nodes every level needs, and how they link.
#[derive(Debug, Clone)]
pub(crate) struct TreePlan {
    /// The leaves' level: 0 for bits, 2 for the 4-bit chunks of active
    /// security ([`crate::active`]).
    pub(crate) leaf_level: usize,
    /// Keys per level (width `2^level`), roots at level 6; none below the
    /// leaves.
    pub(crate) levels: Vec<Vec<Key>>,
    /// Per level from 1: each node's (low, high, high with borrow) child
    /// (none at and below the leaves).
    pub(crate) links: Vec<Vec<(usize, usize, usize)>>,
    /// Each threshold's root at level 6.
    pub(crate) roots: Vec<usize>,
}

impl TreePlan {
    /// The cheapest of the three rules for `thresholds`, with leaves at
    /// `leaf_level`.
    pub(crate) fn new(thresholds: &[u64], leaf_level: usize) -> Self {
        let root = |t: u64, m: u32| (0, low(t, m), t.wrapping_sub(low(t, m)));
        let direct: Vec<Key> = thresholds.iter().map(|&t| root(t, 64)).collect();
        let keyed: Vec<Key> = thresholds.iter().map(|&t| root(t, 0)).collect();
        let mut greedy: Vec<Key> = Vec::new();
        let mut seen: Vec<HashMap<Key, usize>> = vec![HashMap::new(); LEVELS + 1];
        for &t in thresholds {
            let best = SPLITS
                .iter()
                .map(|&m| root(t, m))
                .min_by_key(|&r| {
                    closure(&[r], &seen, leaf_level)
                        .0
                        .iter()
                        .map(|l| l.len())
                        .sum::<usize>()
                })
                .expect("splits");
            greedy.push(best);
            seen = closure(&greedy, &[], leaf_level).1;
        }
        [direct, keyed, greedy]
            .iter()
            .map(|roots| Self::from_roots(roots, leaf_level))
            .min_by_key(|p| p.internal_nodes())
            .expect("three rules")
    }

    fn from_roots(roots: &[Key], leaf_level: usize) -> Self {
        let (levels, index) = closure(roots, &[], leaf_level);
        let links = (1..=LEVELS)
            .map(|level| {
                if level <= leaf_level {
                    return Vec::new();
                }
                levels[level]
                    .iter()
                    .map(|&key| {
                        let (lo, h0, h1) = children(level, key);
                        let at = |k: Key| index[level - 1][&k];
                        (at(lo), at(h0), at(h1))
                    })
                    .collect()
            })
            .collect();
        let roots = roots.iter().map(|r| index[LEVELS][r]).collect();
        Self {
            leaf_level,
            levels,
            links,
            roots,
        }
    }

    /// Nodes above the leaves: each costs one or two AND gates.
    pub(crate) fn internal_nodes(&self) -> usize {
        self.levels[self.leaf_level + 1..]
            .iter()
            .map(|l| l.len())
            .sum()
    }
}

/// Keys per level, and each key's position in its level.
type Levels = (Vec<Vec<Key>>, Vec<HashMap<Key, usize>>);

/// The keys `roots` need on every level down to `leaf_level` that `known`
/// does not already hold (all of them if `known` is empty), and their
/// positions.
fn closure(roots: &[Key], known: &[HashMap<Key, usize>], leaf_level: usize) -> Levels {
    let mut levels: Vec<Vec<Key>> = vec![Vec::new(); LEVELS + 1];
    let mut index: Vec<HashMap<Key, usize>> = vec![HashMap::new(); LEVELS + 1];
    let mut add = |level: usize, key: Key, levels: &mut Vec<Vec<Key>>| {
        let old = known.get(level).is_some_and(|k| k.contains_key(&key));
        if !old && !index[level].contains_key(&key) {
            index[level].insert(key, levels[level].len());
            levels[level].push(key);
        }
    };
    for &r in roots {
        add(LEVELS, r, &mut levels);
    }
    for level in (leaf_level + 1..=LEVELS).rev() {
        for i in 0..levels[level].len() {
            let (lo, h0, h1) = children(level, levels[level][i]);
            for k in [lo, h0, h1] {
                add(level - 1, k, &mut levels);
            }
        }
    }
    (levels, index)
}

/// XOR shares of the top bits of `c - t - r` for public `c` and `r`'s bits
/// (`r_bits`, one XOR-shared word per element), for each threshold `t` of
/// the plan: `k` planes of `ceil(len / 64)` words (bit `e` of plane `i` for
/// element `e` and threshold `i`). Six rounds.
pub(crate) fn top_bits(
    sess: &mut Session,
    c: &[u64],
    r_bits: &BShare,
    thresholds: &[u64],
) -> Result<BShare> {
    let plan = TreePlan::new(thresholds, 0);
    let words = c.len().div_ceil(64);
    let r = planes_of(r_bits.share().as_slice(), words);
    let leader = sess.is_leader();
    // Leaves: bit p of (c - a) ^ s against r_p; bit 63 is the identity.
    let (mut less, mut equal) = (Vec::new(), Vec::new());
    for &(p, a, s) in &plan.levels[0] {
        let r_p = &r[p * words..(p + 1) * words];
        if p == 63 {
            less.extend(std::iter::repeat_n(0, words));
            equal.extend(std::iter::repeat_n(
                if leader { u64::MAX } else { 0 },
                words,
            ));
            continue;
        }
        let v = pack(c, |c| ((c.wrapping_sub(a) >> p) ^ s) & 1 == 1);
        less.extend(r_p.iter().zip(&v).map(|(r, v)| r & !v));
        equal.extend(
            r_p.iter()
                .zip(&v)
                .map(|(r, v)| if leader { r ^ !v } else { *r }),
        );
    }
    for level in 1..=LEVELS {
        let half = 1u32 << (level - 1);
        let plane = |v: &[u64], i: usize| v[i * words..(i + 1) * words].to_vec();
        let (mut less_hi, mut eq_hi, mut less_lo, mut eq_lo) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (&(n, a, s), &(lo, h0, h1)) in plan.levels[level].iter().zip(&plan.links[level - 1]) {
            let (l0, e0) = (plane(&less, h0), plane(&equal, h0));
            if h0 == h1 {
                less_hi.extend(l0);
                eq_hi.extend(e0);
            } else {
                let lo_bit = n as u32 * 2 * half;
                let s_lo = low(s, half);
                let borrow = pack(c, |c| low(c.wrapping_sub(a) >> lo_bit, half) < s_lo);
                let (l1, e1) = (plane(&less, h1), plane(&equal, h1));
                for w in 0..words {
                    let b = borrow[w];
                    less_hi.push((l0[w] & !b) | (l1[w] & b));
                    eq_hi.push((e0[w] & !b) | (e1[w] & b));
                }
            }
            less_lo.extend(plane(&less, lo));
            eq_lo.extend(plane(&equal, lo));
        }
        let shared = |v: Vec<u64>| -> Result<BShare> {
            let n = v.len();
            Ok(BShare::from_share(RingTensor::from_vec(&[n], v)?))
        };
        let (eq_hi, less_lo) = (shared(eq_hi)?, shared(less_lo)?);
        let less_hi = shared(less_hi)?;
        if level < LEVELS {
            let both = and_fanout(sess, &eq_hi, &[&less_lo, &shared(eq_lo)?])?;
            less = less_hi.xor(&both[0])?.share().as_slice().to_vec();
            equal = both[1].share().as_slice().to_vec();
        } else {
            less = less_hi
                .xor(&and(sess, &eq_hi, &less_lo)?)?
                .share()
                .as_slice()
                .to_vec();
        }
    }
    // The top bit of c - t - r: the borrow, r_63, and (c - t)_63.
    let r_top = &r[63 * words..64 * words];
    let mut out = Vec::with_capacity(thresholds.len() * words);
    for (&t, &root) in thresholds.iter().zip(&plan.roots) {
        let top = pack(c, |c| c.wrapping_sub(t) >> 63 == 1);
        for w in 0..words {
            let public = if leader { top[w] } else { 0 };
            out.push(less[root * words + w] ^ r_top[w] ^ public);
        }
    }
    let n = out.len();
    Ok(BShare::from_share(RingTensor::from_vec(&[n], out)?))
}

/// `f` of every element, packed 64 to a word.
pub(crate) fn pack(c: &[u64], f: impl Fn(u64) -> bool) -> Vec<u64> {
    c.chunks(64)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u64, |acc, (i, &v)| acc | ((f(v) as u64) << i))
        })
        .collect()
}

/// The 64 bit planes of words: plane `p` (at `p * words`) holds bit `p` of
/// every word, packed 64 words to a plane word.
fn planes_of(v: &[u64], words: usize) -> Vec<u64> {
    let mut out = vec![0u64; 64 * words];
    for (w, chunk) in v.chunks(64).enumerate() {
        let mut block = [0u64; 64];
        block[..chunk.len()].copy_from_slice(chunk);
        crate::prep::ot::iknp::transpose64(&mut block);
        for (p, &b) in block.iter().enumerate() {
            out[p * words + w] = b;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public word a key compares, from its definition.
    fn word(level: usize, (n, a, s): Key, c: u64) -> u64 {
        let w = 1u32 << level;
        low((c.wrapping_sub(a) >> (n as u32 * w)).wrapping_sub(s), w)
    }

    #[test]
    fn a_nodes_halves_are_its_children_under_the_public_borrow() {
        let mut prg = tessera_tensor::Prg::from_seed([3; 32]);
        for _ in 0..2000 {
            let level = 1 + (prg.next_u64() % LEVELS as u64) as usize;
            let n = (prg.next_u64() % (1 << (LEVELS - level))) as usize;
            let hi = (n as u32 + 1) << level;
            let key = (n, low(prg.next_u64(), hi), low(prg.next_u64(), 1 << level));
            let c = prg.next_u64();
            let (lo, h0, h1) = children(level, key);
            let half = 1u32 << (level - 1);
            let v = word(level, key, c);
            assert_eq!(word(level - 1, lo, c), low(v, half));
            let borrow =
                low(c.wrapping_sub(key.1) >> (n as u32 * 2 * half), half) < low(key.2, half);
            let hi_key = if borrow { h1 } else { h0 };
            assert_eq!(word(level - 1, hi_key, c), v >> half, "{key:?} {c:#x}");
        }
    }

    #[test]
    fn powers_of_two_share_most_of_their_trees() {
        let powers: Vec<u64> = (0..42).map(|j| 1u64 << j).collect();
        let shared = TreePlan::new(&powers, 0).internal_nodes();
        // Every node a power needs, in any of its levels, is keyed by 0, 1 or
        // one power of two of its width: well under a fifth of 42 trees.
        assert!(shared * 5 < 42 * 63, "{shared} nodes");
        // One threshold alone costs one tree; equal thresholds share it.
        assert_eq!(TreePlan::new(&[12345], 0).internal_nodes(), 63);
        assert_eq!(TreePlan::new(&[7, 7], 0).internal_nodes(), 63);
        assert!(TreePlan::new(&[3 << 16, 5 << 16], 0).internal_nodes() < 2 * 63);
        // Over 4-bit chunks, a tree has 15 nodes.
        assert_eq!(TreePlan::new(&[12345], 2).internal_nodes(), 15);
        let chunked = TreePlan::new(&powers, 2).internal_nodes();
        assert!(chunked * 3 < 42 * 15, "{chunked} nodes");
    }
}
