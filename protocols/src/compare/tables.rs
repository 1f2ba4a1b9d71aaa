//! The dealer's side of table comparisons: `r`'s chunk tables, the
//! subsets of node inputs whose mask products a node needs, and those
//! products.

use super::*;

/// A node's monomials over its inputs (bit `i` for input `i` of
/// `e3 e2 e1 e0 l2 l1 l0`): `e3 l2`, `e3 e2 l1`, `e3 e2 e1 l0` (less) and
/// `e3 e2 e1 e0` (equal).
pub(super) const MONOMIALS: [u8; 4] = [0b001_0001, 0b010_0011, 0b100_0111, 0b000_1111];

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
pub(super) fn less_table(rho: u64) -> u64 {
    (1u64 << rho) - 1
}

/// The dealer's tables for masks `r`: per element, 16 chunks of `[v <
/// rho]` (bit `v`), four chunks per word, group-major (`[TABLE_WORDS,
/// len]`: a group's words are contiguous, so a first-level node reads its
/// group's tables in one sequential pass). (The equal table is not dealt:
/// `[v == rho] = [v - 1 < rho] ^ [v < rho]`, with `[-1 < rho] = 1`.)
pub(crate) fn deal_tables(r: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; r.len() * TABLE_WORDS];
    for (q, words) in out.chunks_exact_mut(r.len().max(1)).enumerate() {
        for (word, &r) in words.iter_mut().zip(r) {
            let group = (r & LOW) >> (16 * q);
            for k in 0..4 {
                let rho = (group >> (4 * k)) & 15;
                *word |= less_table(rho) << (16 * k);
            }
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
