//! A comparison's material ([`crate::compare`]) made by the parties: the
//! mask `r` as edaBits, its chunk tables from the algebraic normal form of
//! `[v < rho]` and `[v == rho]` over the XOR-shared bits of each chunk, and
//! the nodes' mask products, all from AND gates by OT (same security as the
//! parent module's other correlations).

use super::products::Eda;
use super::OtProvider;
use crate::compare::{
    node_subsets, table_anf, CHUNKS, NODES, NODE_PRODUCTS, NODE_VARS, TABLE_WORDS,
};
use crate::error::Result;
use tessera_tensor::RingTensor;

/// Subsets of two or more of a chunk's four bits, in increasing order.
fn chunk_subsets() -> Vec<u8> {
    (0..16u8).filter(|s| s.count_ones() >= 2).collect()
}

impl OtProvider {
    /// This party's shares of [`crate::prep::Material::CompareTables`].
    pub(super) fn compare_tables(&mut self, len: usize, k: usize) -> Result<Vec<RingTensor>> {
        let words = len.div_ceil(64);
        let Eda {
            r, words: r_words, ..
        } = self.eda(len, None)?;
        let s_words = self.local.next_u64_vec(k * words);
        // Shares of s = s' ^ r_63, bit by bit.
        let s_bits: Vec<u64> = (0..k * len)
            .map(|j| {
                let e = j % len;
                ((s_words[(j / len) * words + e / 64] >> (e % 64)) ^ (r_words[e] >> 63)) & 1
            })
            .collect();
        // The first threshold's bits also times r (ReLU's product).
        let (mut s_arith, r_s) = self.bits_to_arith(&s_bits[..len], &[64], Some(&r))?;
        if k > 1 {
            s_arith.extend(self.bits_to_arith(&s_bits[len..], &[64], None)?.0);
        }
        let nodes = k * NODES;
        let masks = self.local.next_u64_vec(nodes * NODE_VARS * words);
        let mask_groups: Vec<Vec<&[u64]>> = (0..nodes)
            .map(|n| {
                (0..NODE_VARS)
                    .map(|i| &masks[(n * NODE_VARS + i) * words..][..words])
                    .collect()
            })
            .collect();
        let products: Vec<u64> = self
            .subset_products(&mask_groups, node_subsets(), words)?
            .into_iter()
            .flatten()
            .flatten()
            .collect();

        let tables = self.chunk_tables(&r_words, words)?;
        Ok(vec![
            RingTensor::from_vec(&[len], r)?,
            RingTensor::from_vec(&[nodes * NODE_VARS, words], masks)?,
            RingTensor::from_vec(&[k * words], s_words)?,
            RingTensor::from_vec(&[len, TABLE_WORDS], tables)?,
            RingTensor::from_vec(&[nodes * NODE_PRODUCTS, words], products)?,
            RingTensor::from_vec(&[k * len], s_arith)?,
            RingTensor::from_vec(&[len], r_s)?,
        ])
    }

    /// Shares of the chunk tables of the mask whose XOR-shared bits are
    /// `r_words` (one word per element), laid out as the dealer's.
    fn chunk_tables(&mut self, r_words: &[u64], words: usize) -> Result<Vec<u64>> {
        let len = r_words.len();
        // Bit planes of r: plane p holds bit p of every element.
        let mut planes = vec![0u64; 64 * words];
        for (i, &w) in r_words.iter().enumerate() {
            for p in 0..64 {
                planes[p * words + i / 64] |= ((w >> p) & 1) << (i % 64);
            }
        }
        let zero = vec![0u64; words];
        let bit = |p: usize| -> &[u64] {
            if p < 63 {
                &planes[p * words..][..words]
            } else {
                &zero
            }
        };
        let chunk_bits: Vec<Vec<&[u64]>> = (0..CHUNKS)
            .map(|k| (0..4).map(|j| bit(4 * k + j)).collect())
            .collect();
        let subsets = chunk_subsets();
        let products = self.subset_products(&chunk_bits, &subsets, words)?;
        let anf = table_anf();
        let leader = self.id == 0;
        let mut out = vec![0u64; len * TABLE_WORDS];
        for k in 0..CHUNKS {
            // The share of the monomial over bit set `s`.
            let monomial = |s: u16, w: usize| -> u64 {
                match s.count_ones() {
                    0 => leader as u64 * u64::MAX,
                    1 => chunk_bits[k][s.trailing_zeros() as usize][w],
                    _ => {
                        let at = subsets.binary_search(&(s as u8)).expect("a subset");
                        products[k][at][w]
                    }
                }
            };
            for (v, &poly) in anf.iter().enumerate() {
                let shift = 16 * (k % 4) + v;
                for w in 0..words {
                    let plane = (0..16u16)
                        .filter(|s| poly >> s & 1 == 1)
                        .fold(0u64, |acc, s| acc ^ monomial(s, w));
                    for i in 0..64.min(len - 64 * w) {
                        let e = 64 * w + i;
                        out[e * TABLE_WORDS + k / 4] |= ((plane >> i) & 1) << shift;
                    }
                }
            }
        }
        Ok(out)
    }

    /// XOR shares of `prod_{i in t} v_i` for every subset `t` of `subsets`
    /// (increasing, two or more variables each, and closed under dropping
    /// the highest variable), for each group of variable planes: `[group]
    /// [subset]` planes. One batch of AND gates per subset size.
    fn subset_products(
        &mut self,
        groups: &[Vec<&[u64]>],
        subsets: &[u8],
        words: usize,
    ) -> Result<Vec<Vec<Vec<u64>>>> {
        let mut out = vec![vec![Vec::new(); subsets.len()]; groups.len()];
        let max = subsets.iter().map(|t| t.count_ones()).max().unwrap_or(0);
        for size in 2..=max {
            let wanted: Vec<usize> = (0..subsets.len())
                .filter(|&i| subsets[i].count_ones() == size)
                .collect();
            let (mut left, mut right) = (Vec::new(), Vec::new());
            for (g, vars) in groups.iter().enumerate() {
                for &i in &wanted {
                    let t = subsets[i];
                    let top = 7 - t.leading_zeros() as usize;
                    let rest = t & !(1 << top);
                    if size == 2 {
                        left.extend_from_slice(vars[rest.trailing_zeros() as usize]);
                    } else {
                        let at = subsets.binary_search(&rest).expect("closed subsets");
                        left.extend_from_slice(&out[g][at]);
                    }
                    right.extend_from_slice(vars[top]);
                }
            }
            let made = self.and_fanout(&left, &[&right])?.remove(0);
            let mut planes = made.chunks_exact(words.max(1));
            for group in out.iter_mut() {
                for &i in &wanted {
                    group[i] = if words == 0 {
                        Vec::new()
                    } else {
                        planes.next().expect("one plane per subset").to_vec()
                    };
                }
            }
        }
        Ok(out)
    }
}
