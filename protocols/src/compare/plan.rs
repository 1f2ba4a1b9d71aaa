//! Which first-level nodes a batch of thresholds needs ([`NodePlan`]),
//! and their leaves: table lookups at the public chunks.

use super::*;

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
    pub(super) thresholds: Vec<u64>,
    /// Each first-level node, in the order of the material.
    pub(super) first: Vec<NodeKey>,
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
    pub(super) fn leaves(
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
            let group = &tables[q * c.len()..(q + 1) * c.len()];
            for (w, (block, group)) in c.chunks(64).zip(group.chunks(64)).enumerate() {
                let (mut rows, mut values) = ([0u64; 64], [0u64; 64]);
                rows[..group.len()].copy_from_slice(group);
                for (bit, &c) in block.iter().enumerate() {
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
    pub(super) fn children(
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
                    pack(c, |v| (v & low) < (t & low))
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
pub(super) enum Rule {
    Borrow,
    Direct,
    Greedy,
}

/// One word of each of a first-level node's 8 leaf planes (less and equal
/// of its 4 chunks) for 64 elements, from their table words for the node's
/// group (`rows`) and the group's public values (`values`): bit `v` of a
/// chunk's table (after the leader's constant bit) is `[v < rho]`.
#[inline(always)]
pub(super) fn leaf_words_body(
    rows: &[u64; 64],
    values: &[u64; 64],
    one: u64,
) -> ([u64; 4], [u64; 4]) {
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
pub(super) fn leaf_words_avx2(
    rows: &[u64; 64],
    values: &[u64; 64],
    one: u64,
) -> ([u64; 4], [u64; 4]) {
    leaf_words_body(rows, values, one)
}

/// [`leaf_words_body`] compiled with AVX-512 (eight lanes; about a third
/// faster than AVX2 where the CPU has it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
pub(super) fn leaf_words_avx512(
    rows: &[u64; 64],
    values: &[u64; 64],
    one: u64,
) -> ([u64; 4], [u64; 4]) {
    leaf_words_body(rows, values, one)
}

/// The fastest compiled copy of [`leaf_words_body`] this CPU supports.
pub(super) fn leaf_words(rows: &[u64; 64], values: &[u64; 64], one: u64) -> ([u64; 4], [u64; 4]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU supports these AVX-512 subsets (checked just
            // above), the only requirement of calling the function; it is
            // itself safe code.
            #[allow(unsafe_code)]
            unsafe {
                return leaf_words_avx512(rows, values, one);
            }
        }
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
pub(super) type NodeKey = (usize, u64, u64);

/// Group `q`'s first-level nodes for `thresholds`, and each threshold's (no
/// borrow, borrow) node among them.
pub(super) fn group_plan(
    thresholds: &[u64],
    q: usize,
    rule: Rule,
) -> (Vec<NodeKey>, Vec<(usize, usize)>) {
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
pub(super) fn group_mask(q: usize) -> u64 {
    if q == GROUPS - 1 {
        0x7fff
    } else {
        0xffff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every compiled copy the CPU can run gives the portable one's words,
    /// for the leader and the others.
    #[test]
    fn every_compiled_leaf_lookup_agrees_with_the_portable_one() {
        let mut prg = tessera_tensor::Prg::from_seed([3; 32]);
        for round in 0..200 {
            let mut rows = [0u64; 64];
            let mut values = [0u64; 64];
            prg.fill(&mut rows);
            prg.fill(&mut values);
            if round == 0 {
                values = [u64::MAX; 64];
            }
            for one in [0, 1] {
                let want = leaf_words_body(&rows, &values, one);
                assert_eq!(leaf_words(&rows, &values, one), want);
                #[cfg(target_arch = "x86_64")]
                #[allow(unsafe_code)]
                {
                    use std::arch::is_x86_feature_detected as has;
                    if has!("avx2") {
                        // SAFETY: the CPU has AVX2 (checked).
                        assert_eq!(unsafe { leaf_words_avx2(&rows, &values, one) }, want);
                    }
                    if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq") {
                        // SAFETY: the CPU has these subsets (checked).
                        assert_eq!(unsafe { leaf_words_avx512(&rows, &values, one) }, want);
                    }
                }
            }
        }
    }
}
