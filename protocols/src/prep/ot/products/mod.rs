//! The correlations themselves, from batches of correlated OT: Gilboa
//! products (Beaver, square, matrix and row triples), AND triples with
//! fan-out, and XOR-shared bits made additive (edaBits, truncation pairs,
//! random bits, ReLU's select material). See the parent module for the
//! protocols and their security.
//!
//! [`gilboa`] holds the arithmetic products, [`bits`] the bitwise ones and
//! the conversions; this module makes each item from them.

mod bits;
mod gilboa;

use bits::Eda;

use super::OtProvider;
use crate::error::Result;
use crate::prep::{mask_rows, window_rows, Material};
use tessera_tensor::RingTensor;

impl OtProvider {
    /// Makes one item (every party in the same order).
    pub(super) fn make(&mut self, item: &Material) -> Result<Vec<RingTensor>> {
        let shape_of = |s: &[usize]| s.iter().product::<usize>();
        Ok(match item {
            Material::Auth(_) => {
                return Err(crate::ProtocolError::Preprocessing(
                    "authenticated material (active security) is made by the dealer; \
                     the parties cannot make it by OT yet"
                        .into(),
                ))
            }
            Material::Triple(s) => {
                let a = self.local.uniform(s);
                let b = self.local.uniform(s);
                let c = self.mul(&a, &b)?;
                vec![a, b, c]
            }
            Material::Square(s) => {
                let a = self.local.uniform(s);
                let once = self.cross_once(a.as_slice(), a.as_slice(), a.len())?;
                let mut c = a.mul(&a)?;
                c.add_assign(&RingTensor::from_vec(s, once)?.mul_scalar(2))?;
                vec![a, c]
            }
            Material::MatTriple(m, k, n) => {
                let a = self.local.uniform(&[*m, *k]);
                let b = self.local.uniform(&[*k, *n]);
                let c = self.matmul(&a, &b)?;
                vec![a, b, c]
            }
            Material::HeldTriple { owner, m, k, n } => {
                // The owned product's cross terms, on a random A.
                let dims = [*m, *k, *n];
                if self.id == *owner {
                    let a = self.local.uniform(&[*m, *k]);
                    let t = self.owned(*owner, Some(&a), dims)?;
                    vec![a, RingTensor::zeros(&[*k, *n]), t.c]
                } else {
                    let t = self.owned(*owner, None, dims)?;
                    let b = t.b.ok_or_else(|| {
                        crate::ProtocolError::Preprocessing("an owned triple without B_j".into())
                    })?;
                    vec![RingTensor::zeros(&[*m, *k]), b, t.c]
                }
            }
            Material::Trunc(s, f) => {
                let e = self.eda(shape_of(s), Some(*f as usize))?;
                vec![
                    RingTensor::from_vec(s, e.r)?,
                    RingTensor::from_vec(s, e.low)?,
                    RingTensor::from_vec(s, e.msb)?,
                ]
            }
            Material::BitTriple(s, fanout) => {
                let a = self.local.uniform(s);
                let (bs, cs) = if self.peers.len() == 2 {
                    self.and_triples_pair(a.as_slice(), *fanout as usize)?
                } else {
                    let bs: Vec<Vec<u64>> = (0..*fanout)
                        .map(|_| self.local.next_u64_vec(a.len()))
                        .collect();
                    let refs: Vec<&[u64]> = bs.iter().map(|b| b.as_slice()).collect();
                    let cs = self.and_fanout(a.as_slice(), &refs)?;
                    (bs, cs)
                };
                let mut out = vec![a];
                for b in bs {
                    out.push(RingTensor::from_vec(s, b)?);
                }
                for c in cs {
                    out.push(RingTensor::from_vec(s, c)?);
                }
                out
            }
            Material::EdaBits(s) => {
                let e = self.eda(shape_of(s), None)?;
                vec![
                    RingTensor::from_vec(s, e.r)?,
                    RingTensor::from_vec(s, e.words)?,
                ]
            }
            Material::WordBits(s, nbits) => {
                let (mut words, mut bits) = (Vec::new(), Vec::new());
                self.word_bits(
                    shape_of(s),
                    *nbits as usize,
                    |_| 64,
                    |w, b| {
                        words.extend_from_slice(w);
                        bits.extend_from_slice(b);
                    },
                )?;
                let mut bshape = s.clone();
                bshape.push(*nbits as usize);
                vec![
                    RingTensor::from_vec(s, words)?,
                    RingTensor::from_vec(&bshape, bits)?,
                ]
            }
            Material::EdaSelect(len) => {
                let Eda { r, words, .. } = self.eda(*len, None)?;
                let s_words = self.local.next_u64_vec(len.div_ceil(64));
                let s_bits: Vec<u64> = (0..*len)
                    .map(|i| (s_words[i / 64] >> (i % 64)) & 1)
                    .collect();
                let (s_arith, r_s) = self.bits_to_arith(&s_bits, &[64], Some(&r))?;
                let s_arith = RingTensor::from_vec(&[*len], s_arith)?;
                let r_s = RingTensor::from_vec(&[*len], r_s)?;
                let r = RingTensor::from_vec(&[*len], r)?;
                vec![
                    r,
                    RingTensor::from_vec(&[s_words.len()], s_words)?,
                    RingTensor::from_vec(&[*len], words)?,
                    s_arith,
                    r_s,
                ]
            }
            Material::CompareTables(..) | Material::TruncCompare(..) | Material::AndCube(_) => {
                return Err(crate::ProtocolError::Preprocessing(
                    "comparison tables and the all-pairs maximum's AND gates are made by the \
                     dealer; with OT comparisons take edaBits for the tree (see \
                     Preprocessing::deals_tables)"
                        .into(),
                ))
            }
            Material::Mask {
                id,
                start,
                rows,
                cols,
            } => vec![mask_rows(
                &self.mask_seed,
                *id,
                *cols,
                *start..*start + *rows,
            )],
            Material::RowTriple {
                mask,
                rows,
                cols,
                out,
                transposed,
            } => {
                let a = mask_rows(&self.mask_seed, *mask, *cols, rows.iter().copied());
                self.triple_on(a, *out, *transposed)?
            }
            Material::WindowTriple {
                mask,
                rows,
                window,
                out,
                transposed,
            } => {
                let a = window_rows(&self.mask_seed, *mask, window, rows);
                self.triple_on(a, *out, *transposed)?
            }
        })
    }

    /// A triple on a given `A` (rows of a mask, or their windows): a fresh
    /// `B` and shares of `C = A B`, or `A^T B` if `transposed`.
    fn triple_on(
        &mut self,
        a: RingTensor,
        out: usize,
        transposed: bool,
    ) -> Result<Vec<RingTensor>> {
        let (m, k) = (a.shape()[0], a.shape()[1]);
        let b = self.local.uniform(&[if transposed { m } else { k }, out]);
        let c = match transposed {
            true => self.matmul(&a.transpose(), &b)?,
            false => self.matmul(&a, &b)?,
        };
        Ok(vec![a, b, c])
    }
}
