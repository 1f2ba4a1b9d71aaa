//! Typed correlations: what the online protocols take from a provider, one
//! struct of this party's shares per kind. Protocols ask through
//! [`Correlations`] (implemented for every [`Preprocessing`]) and name the
//! parts they use; the providers deal in [`Material`] requests and their
//! documented component order, checked here once.

use super::{Material, Preprocessing};
use crate::compare::NodePlan;
use crate::error::{ProtocolError, Result};
use tessera_tensor::RingTensor;

/// A product triple `(a, b, c)`: Beaver (`c = a * b` elementwise), matrix
/// (`c = a b`) or on rows of a persistent mask (`a` those rows).
#[derive(Clone)]
pub struct Triple {
    /// Share of the left factor.
    pub a: RingTensor,
    /// Share of the right factor.
    pub b: RingTensor,
    /// Share of the product.
    pub c: RingTensor,
}

/// Material for a product with a matrix `L` that one party holds in the
/// clear (see [`Preprocessing::owned_triple`]).
pub struct OwnedTriple {
    /// This party's own random `B_j` (`None` on the owner of `L`).
    pub b: Option<RingTensor>,
    /// Share of `sum_j L B_j` over the other parties `j`.
    pub c: RingTensor,
}

/// A square pair `(a, a * a)`.
pub struct SquarePair {
    /// Share of `a`.
    pub a: RingTensor,
    /// Share of `a * a`.
    pub aa: RingTensor,
}

/// A truncation pair for `f` bits: `r`, `(r mod 2^63) >> f` and `r >> 63`.
pub struct TruncPair {
    /// Share of `r`.
    pub r: RingTensor,
    /// Share of `(r mod 2^63) >> f`.
    pub low_shifted: RingTensor,
    /// Share of the top bit of `r`.
    pub msb: RingTensor,
}

/// AND triples of XOR-shared words sharing their left operand:
/// `c_l = a & b_l`.
pub struct AndTriples {
    /// Share of `a`.
    pub a: RingTensor,
    /// Shares of the right operands.
    pub b: Vec<RingTensor>,
    /// Shares of the products.
    pub c: Vec<RingTensor>,
}

/// Three-input AND gates' material: masks `a, b, c` and shares of their
/// products `[a b, a c, b c, a b c]`.
pub struct AndCubes {
    /// Shares of the masks.
    pub masks: [RingTensor; 3],
    /// Shares of the products, in that order.
    pub products: [RingTensor; 4],
}

/// A random ring element `r` held additively and as XOR-shared bits.
pub struct EdaBits {
    /// Additive share of `r`.
    pub r: RingTensor,
    /// XOR share of `r`'s bits (one word per element).
    pub bits: RingTensor,
}

/// A random XOR-shared word with its low bits additively shared.
pub struct WordBits {
    /// XOR share of the word.
    pub word: RingTensor,
    /// Additive shares of its low bits (an extra trailing axis).
    pub bits: RingTensor,
}

/// A comparison's material (see [`crate::compare`]).
pub struct CompareMaterial {
    /// Additive share of the mask `r`.
    pub r: RingTensor,
    /// XOR shares of the nodes' input masks (bit planes).
    pub masks: RingTensor,
    /// XOR share of the packed bits `s' = s ^ r_63` that mask the opened bit.
    pub s_packed: RingTensor,
    /// XOR shares of `r`'s chunk tables.
    pub tables: RingTensor,
    /// XOR shares of the products of the masks (bit planes).
    pub products: RingTensor,
    /// Additive shares of the bits of `s`.
    pub s: RingTensor,
    /// Additive share of `r * s` (the first threshold's `s`).
    pub r_s: RingTensor,
    /// XOR share of `r`'s top bits, packed: with them the comparison's bit
    /// can stay XOR-shared ([`crate::max`]).
    pub r_top: RingTensor,
}

/// The components of [`Material::CompareTables`], in order.
impl From<[RingTensor; 8]> for CompareMaterial {
    fn from([r, masks, s_packed, tables, products, s, r_s, r_top]: [RingTensor; 8]) -> Self {
        Self {
            r,
            masks,
            s_packed,
            tables,
            products,
            s,
            r_s,
            r_top,
        }
    }
}

/// A truncation fused with a comparison with zero
/// ([`Material::TruncCompare`]): the comparison's material on the
/// truncation's mask `r`, whose `r_s` is of the truncated part.
pub struct TruncCompareMaterial {
    /// The comparison's material, with `r_s` a share of `((r mod 2^63) >> f) s`.
    pub compare: CompareMaterial,
    /// Additive share of `(r mod 2^63) >> f`.
    pub low: RingTensor,
    /// Additive share of `r >> 63`.
    pub msb: RingTensor,
    /// Additive share of `(r >> 63) s`.
    pub msb_s: RingTensor,
}

/// The tree comparison's material: edaBits `r` that also mask a product
/// with a random bit `s`.
pub struct SelectMaterial {
    /// Additive share of `r`.
    pub r: RingTensor,
    /// XOR share of the packed bits `s`.
    pub s_packed: RingTensor,
    /// XOR share of `r`'s bits.
    pub r_bits: RingTensor,
    /// Additive shares of the bits of `s`.
    pub s: RingTensor,
    /// Additive share of `r * s`.
    pub r_s: RingTensor,
}

/// Takes `item` and checks the provider returned its component count.
fn parts<const N: usize>(
    prep: &mut (impl Preprocessing + ?Sized),
    item: &Material,
) -> Result<[RingTensor; N]> {
    let got = prep.take(item)?;
    let len = got.len();
    got.try_into().map_err(|_| {
        ProtocolError::Preprocessing(format!(
            "the provider returned {len} parts for {item:?}, expected {N}"
        ))
    })
}

/// The correlations the protocols consume, by kind, from any provider.
pub trait Correlations {
    /// A Beaver triple of this shape.
    fn beaver_triple(&mut self, shape: &[usize]) -> Result<Triple>;
    /// A square pair of this shape.
    fn square_pair(&mut self, shape: &[usize]) -> Result<SquarePair>;
    /// A matrix triple `[m, k] x [k, n]`.
    fn matrix_triple(&mut self, m: usize, k: usize, n: usize) -> Result<Triple>;
    /// A [`Material::HeldTriple`] for a product with `owner`'s matrix: `a`
    /// is the owner's `A` (zero elsewhere), `b` this party's own `B_j`
    /// (zero on the owner), `c` its share of `A sum_j B_j`.
    fn held_triple(&mut self, owner: usize, dims: [usize; 3]) -> Result<Triple>;
    /// A triple on rows `rows` of persistent mask `mask` (`cols` wide): `c = a b`
    /// with `b: [cols, out]`, or `transposed`, `c = a^T b` with `b: [|rows|, out]`.
    fn row_triple(
        &mut self,
        mask: u64,
        rows: &[usize],
        cols: usize,
        out: usize,
        transposed: bool,
    ) -> Result<Triple>;
    /// [`Correlations::row_triple`] on the im2col matrix of rows `rows` of
    /// persistent mask `mask` (images in `window`'s layout).
    fn window_triple(
        &mut self,
        mask: u64,
        rows: &[usize],
        window: tessera_tensor::SlidingWindow,
        out: usize,
        transposed: bool,
    ) -> Result<Triple>;
    /// Rows `start..start + rows` of this party's share of persistent mask `id`.
    fn mask_rows(&mut self, id: u64, start: usize, rows: usize, cols: usize) -> Result<RingTensor>;
    /// A truncation pair for `f` bits.
    fn trunc_pair(&mut self, shape: &[usize], f: u32) -> Result<TruncPair>;
    /// AND triples with `fanout` right operands.
    fn and_triples(&mut self, shape: &[usize], fanout: u32) -> Result<AndTriples>;
    /// Three-input AND gates' material of this shape.
    fn and_cubes(&mut self, shape: &[usize]) -> Result<AndCubes>;
    /// EdaBits of this shape.
    fn eda_bits(&mut self, shape: &[usize]) -> Result<EdaBits>;
    /// A random word with its low `nbits` bits additively shared.
    fn word_bits(&mut self, shape: &[usize], nbits: u32) -> Result<WordBits>;
    /// The tree comparison's material for `len` elements.
    fn select_material(&mut self, len: usize) -> Result<SelectMaterial>;
    /// A comparison's material for `len` elements against the thresholds
    /// of `plan`.
    fn compare_material(&mut self, len: usize, plan: &NodePlan) -> Result<CompareMaterial>;
    /// A truncation by `f` bits fused with the comparison of its result
    /// with zero, for `len` elements.
    fn trunc_compare(&mut self, len: usize, f: u32) -> Result<TruncCompareMaterial>;
}

impl<P: Preprocessing + ?Sized> Correlations for P {
    fn beaver_triple(&mut self, shape: &[usize]) -> Result<Triple> {
        let [a, b, c] = parts(self, &Material::Triple(shape.to_vec()))?;
        Ok(Triple { a, b, c })
    }

    fn square_pair(&mut self, shape: &[usize]) -> Result<SquarePair> {
        let [a, aa] = parts(self, &Material::Square(shape.to_vec()))?;
        Ok(SquarePair { a, aa })
    }

    fn matrix_triple(&mut self, m: usize, k: usize, n: usize) -> Result<Triple> {
        let [a, b, c] = parts(self, &Material::MatTriple(m, k, n))?;
        Ok(Triple { a, b, c })
    }

    fn held_triple(&mut self, owner: usize, [m, k, n]: [usize; 3]) -> Result<Triple> {
        let [a, b, c] = parts(self, &Material::HeldTriple { owner, m, k, n })?;
        Ok(Triple { a, b, c })
    }

    fn row_triple(
        &mut self,
        mask: u64,
        rows: &[usize],
        cols: usize,
        out: usize,
        transposed: bool,
    ) -> Result<Triple> {
        let item = Material::RowTriple {
            mask,
            rows: rows.to_vec(),
            cols,
            out,
            transposed,
        };
        let [a, b, c] = parts(self, &item)?;
        Ok(Triple { a, b, c })
    }

    fn window_triple(
        &mut self,
        mask: u64,
        rows: &[usize],
        window: tessera_tensor::SlidingWindow,
        out: usize,
        transposed: bool,
    ) -> Result<Triple> {
        let item = Material::WindowTriple {
            mask,
            rows: rows.to_vec(),
            window,
            out,
            transposed,
        };
        let [a, b, c] = parts(self, &item)?;
        Ok(Triple { a, b, c })
    }

    fn mask_rows(&mut self, id: u64, start: usize, rows: usize, cols: usize) -> Result<RingTensor> {
        let item = Material::Mask {
            id,
            start,
            rows,
            cols,
        };
        let [a] = parts(self, &item)?;
        Ok(a)
    }

    fn trunc_pair(&mut self, shape: &[usize], f: u32) -> Result<TruncPair> {
        let [r, low_shifted, msb] = parts(self, &Material::Trunc(shape.to_vec(), f))?;
        Ok(TruncPair {
            r,
            low_shifted,
            msb,
        })
    }

    fn and_triples(&mut self, shape: &[usize], fanout: u32) -> Result<AndTriples> {
        let item = Material::BitTriple(shape.to_vec(), fanout);
        let mut got = self.take(&item)?;
        let k = fanout as usize;
        if got.len() != 1 + 2 * k {
            return Err(ProtocolError::Preprocessing(format!(
                "the provider returned {} parts for {item:?}, expected {}",
                got.len(),
                1 + 2 * k
            )));
        }
        let c = got.split_off(1 + k);
        let b = got.split_off(1);
        let a = got.pop().expect("counted");
        Ok(AndTriples { a, b, c })
    }

    fn and_cubes(&mut self, shape: &[usize]) -> Result<AndCubes> {
        let [a, b, c, ab, ac, bc, abc] = parts(self, &Material::AndCube(shape.to_vec()))?;
        Ok(AndCubes {
            masks: [a, b, c],
            products: [ab, ac, bc, abc],
        })
    }

    fn eda_bits(&mut self, shape: &[usize]) -> Result<EdaBits> {
        let [r, bits] = parts(self, &Material::EdaBits(shape.to_vec()))?;
        Ok(EdaBits { r, bits })
    }

    fn word_bits(&mut self, shape: &[usize], nbits: u32) -> Result<WordBits> {
        let [word, bits] = parts(self, &Material::WordBits(shape.to_vec(), nbits))?;
        Ok(WordBits { word, bits })
    }

    fn select_material(&mut self, len: usize) -> Result<SelectMaterial> {
        let [r, s_packed, r_bits, s, r_s] = parts(self, &Material::EdaSelect(len))?;
        Ok(SelectMaterial {
            r,
            s_packed,
            r_bits,
            s,
            r_s,
        })
    }

    fn compare_material(&mut self, len: usize, plan: &NodePlan) -> Result<CompareMaterial> {
        let (k, nodes) = (plan.thresholds().len() as u32, plan.nodes() as u32);
        let got: [RingTensor; 8] = parts(self, &Material::CompareTables(len, k, nodes))?;
        Ok(CompareMaterial::from(got))
    }

    fn trunc_compare(&mut self, len: usize, f: u32) -> Result<TruncCompareMaterial> {
        let [r, masks, s_packed, tables, products, s, r_s, r_top, low, msb, msb_s] =
            parts(self, &Material::TruncCompare(len, f))?;
        let compare = [r, masks, s_packed, tables, products, s, r_s, r_top];
        Ok(TruncCompareMaterial {
            compare: CompareMaterial::from(compare),
            low,
            msb,
            msb_s,
        })
    }
}
