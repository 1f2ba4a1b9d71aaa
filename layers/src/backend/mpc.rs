//! The MPC backend: one party's view, its additive shares and its session.

use super::{same, Backend, Function, OwnedBlocks};
use crate::gather::Gather;
use crate::Result;
use ndarray::ArrayD;
use tessera_protocols::data::{self, DataMatrix};
use tessera_protocols::{arith, binary, AShare, PartyId, Session};
use tessera_tensor::RingTensor;

/// MPC: one party's view, holding its additive shares and its session.
/// Every party runs the same layer code on its own `MpcBackend`.
pub struct MpcBackend<'s> {
    sess: &'s mut Session,
}

impl<'s> MpcBackend<'s> {
    /// Wraps a party's session.
    pub fn new(sess: &'s mut Session) -> Self {
        Self { sess }
    }
    /// The underlying session.
    pub fn session(&mut self) -> &mut Session {
        self.sess
    }
}

impl super::MpcSession for MpcBackend<'_> {
    fn session(&mut self) -> &mut Session {
        self.sess
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn mac_checks(&self) -> Option<tessera_protocols::active::CheckStats> {
        None
    }
}

impl Backend for MpcBackend<'_> {
    type Tensor = AShare;
    type Data = DataMatrix;

    fn data(&mut self, x: &Self::Tensor) -> Result<Self::Data> {
        Ok(DataMatrix::Masked(data::mask_once(self.sess, x)?))
    }
    fn owned_data(&mut self, x: &Self::Tensor, owned: &OwnedBlocks<'_>) -> Result<Self::Data> {
        let by_blocks = self.sess.prep().owned_products() || owned.single_use;
        let (&[rows, cols], true) = (x.shape(), by_blocks) else {
            return self.data(x);
        };
        let other = if owned.axis == 0 { cols } else { rows };
        let mine = match owned.mine {
            Some(block) => Some(self.sess.fixed().encode_array(block)?),
            None => None,
        };
        let mut m = data::OwnedMatrix::new(self.sess, owned.axis, owned.extents, other, mine)?;
        if owned.single_use {
            m = m.held_triples();
        }
        same("owned_data", m.shape(), x.shape())?;
        Ok(DataMatrix::Owned(m))
    }
    fn matmul_wide(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::matmul(self.sess, a, b)?)
    }
    fn matmul_rows_wide(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
    ) -> Result<Self::Tensor> {
        Ok(d.matmul_rows(self.sess, rows, w, false)?)
    }
    /// One opening truncates and compares ([`binary::relu_truncated`]).
    fn relu_wide(
        &mut self,
        p: &Self::Tensor,
        bias: &Self::Tensor,
    ) -> Result<(Self::Tensor, Self::Tensor)> {
        let y = self.add_bias_wide(p, bias)?;
        let f = self.sess.fixed().frac_bits();
        Ok(binary::relu_truncated(self.sess, &y, f)?)
    }
    fn add_bias_wide(&mut self, p: &Self::Tensor, bias: &Self::Tensor) -> Result<Self::Tensor> {
        let f = self.sess.fixed().frac_bits();
        self.add(p, &bias.mul_public_scalar(1 << f))
    }
    fn data_rows(&mut self, d: &Self::Data, rows: &[usize]) -> Result<Self::Tensor> {
        Ok(d.rows(self.sess, rows)?)
    }
    fn matmul_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
        transposed: bool,
    ) -> Result<Self::Tensor> {
        Ok(d.matmul_rows_fixed(self.sess, rows, w, transposed)?)
    }

    /// Masked training images: their windows are never opened, only `w`
    /// (`data::matmul_masked_windows`); images held by their owners take the
    /// windows of their shares.
    fn matmul_windows_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        window: &tessera_tensor::SlidingWindow,
        w: &Self::Tensor,
        product: super::WindowProduct,
    ) -> Result<Self::Tensor> {
        let DataMatrix::Masked(m) = d else {
            return super::windows_times(self, d, rows, window, w, product);
        };
        let transposed = product == super::WindowProduct::Transposed;
        let p = data::matmul_masked_windows(self.sess, m, rows, *window, w, transposed)?;
        match product {
            super::WindowProduct::Wide => Ok(p),
            _ => Ok(arith::truncate(self.sess, &p)?),
        }
    }

    fn name(&self) -> &'static str {
        "mpc"
    }
    fn shape(&self, t: &Self::Tensor) -> Vec<usize> {
        t.shape().to_vec()
    }
    fn input(
        &mut self,
        owner: PartyId,
        data: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Self::Tensor> {
        let encoded = match data {
            Some(d) if self.sess.id() == owner => {
                same("input", d.shape(), shape)?;
                Some(self.sess.fixed().encode_array(d)?)
            }
            _ => None,
        };
        Ok(arith::share_input(
            self.sess,
            owner,
            encoded.as_ref(),
            shape,
        )?)
    }
    /// Ring integers 0 and 1, as ReLU's masks are.
    fn public_mask(&mut self, bits: &ArrayD<bool>) -> Result<Self::Tensor> {
        let leader = self.sess.is_leader();
        let share = bits.iter().map(|&b| u64::from(b && leader)).collect();
        Ok(AShare::from_share(RingTensor::from_vec(
            bits.shape(),
            share,
        )?))
    }
    fn public(&mut self, data: &ArrayD<f64>) -> Result<Self::Tensor> {
        let enc = self.sess.fixed().encode_array(data)?;
        let share = if self.sess.is_leader() {
            enc
        } else {
            RingTensor::zeros(data.shape())
        };
        Ok(AShare::from_share(share))
    }
    fn add(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.add(b)?)
    }
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sub(b)?)
    }
    fn neg(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.neg())
    }
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::mul_fixed(self.sess, a, b)?)
    }
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::square_fixed(self.sess, a)?)
    }
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::matmul_fixed(self.sess, a, b)?)
    }
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        Ok(arith::scale(self.sess, a, c)?)
    }
    /// Every product in one round, every truncation in one more.
    fn matmul_each(
        &mut self,
        pairs: &[(&Self::Tensor, &Self::Tensor)],
    ) -> Result<Vec<Self::Tensor>> {
        let wide = arith::matmul_many(self.sess, pairs)?;
        Ok(arith::truncate_many(
            self.sess,
            &wide.iter().collect::<Vec<_>>(),
        )?)
    }
    /// One truncation for all.
    fn scale_each(&mut self, xs: &[&Self::Tensor], c: f64) -> Result<Vec<Self::Tensor>> {
        let enc = self.sess.fixed().encode(c)?;
        let products: Vec<AShare> = xs.iter().map(|x| x.mul_public_scalar(enc)).collect();
        Ok(arith::truncate_many(
            self.sess,
            &products.iter().collect::<Vec<_>>(),
        )?)
    }
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        let enc = self.sess.fixed().encode(c)?;
        Ok(a.add_public_scalar(self.sess, enc))
    }
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.transpose())
    }
    fn sum_rows(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(0)?)
    }
    fn select_rows(&mut self, a: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_rows(rows)?)
    }
    fn concat(&mut self, parts: &[&Self::Tensor], axis: usize) -> Result<Self::Tensor> {
        Ok(AShare::concat(parts, axis)?)
    }
    fn relu(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(binary::relu(self.sess, a)?)
    }
    fn positive(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        let bit = binary::greater_than_zero(self.sess, a)?;
        Ok(bit.mul_public_scalar(self.sess.fixed().one()))
    }
    /// The mask is 0/1 as integers, so applying it needs no truncation.
    fn relu_with_mask(&mut self, a: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        Ok(binary::relu_with_mask(self.sess, a)?)
    }
    fn mul_mask(&mut self, a: &Self::Tensor, mask: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(arith::mul(self.sess, a, mask)?)
    }
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(1)?)
    }
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_cols(cols)?)
    }
    fn gather(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        // Zero where nothing maps is a valid share of zero on every party.
        let out = g.apply(a.share().as_slice(), "gather")?;
        Ok(AShare::from_share(RingTensor::from_vec(&g.shape, out)?))
    }
    fn scatter_add(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        let src = g.scatter(a.share().as_slice(), u64::wrapping_add, "scatter_add")?;
        Ok(AShare::from_share(RingTensor::from_vec(&g.source, src)?))
    }
    fn apply(&mut self, f: Function, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(f.approximate(&mut *self.sess, a)?)
    }
    /// With a dealer's tables, every pair at once: 6 rounds for ten
    /// columns where the tournament takes 16 (`tessera_protocols::max`).
    fn max_rows(&mut self, a: &Self::Tensor) -> Result<Option<Self::Tensor>> {
        if self.sess.prep().deals_tables() {
            Ok(Some(tessera_protocols::max::max_rows(self.sess, a)?))
        } else {
            Ok(None)
        }
    }
    /// With a dealer's tables, the winner bits of [`Backend::max_rows`]'s
    /// comparisons: 6 rounds for ten columns where the tournament takes 16.
    fn argmax_rows(&mut self, a: &Self::Tensor) -> Result<Option<(Self::Tensor, Self::Tensor)>> {
        if !self.sess.prep().deals_tables() {
            return Ok(None);
        }
        let (hot, index) = tessera_protocols::max::argmax_rows(self.sess, a)?;
        let one = self.sess.fixed().one();
        Ok(Some((
            hot.mul_public_scalar(one),
            index.mul_public_scalar(one),
        )))
    }
    /// With a dealer's tables, [`Backend::max_rows`] and the winner bits
    /// as the integer 0/1 mask [`Backend::mul_mask`] takes, from one set of
    /// comparisons.
    fn max_and_winner_rows(
        &mut self,
        a: &Self::Tensor,
    ) -> Result<Option<(Self::Tensor, Self::Tensor)>> {
        if !self.sess.prep().deals_tables() {
            return Ok(None);
        }
        Ok(Some(tessera_protocols::max::max_and_argmax_rows(
            self.sess, a,
        )?))
    }
    fn cheapest_sigmoid(&mut self) -> crate::SigmoidKind {
        if self.session().prep().deals_tables() {
            crate::SigmoidKind::Accurate
        } else {
            crate::SigmoidKind::Polynomial
        }
    }
    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        Ok(self.sess.prep().step_boundary(next_rows)?)
    }
    fn reveal(&mut self, a: &Self::Tensor, label: &str) -> Result<ArrayD<f64>> {
        let v = arith::reveal(self.sess, a, label)?;
        Ok(self.sess.fixed().decode_tensor(&v))
    }
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>> {
        let v = arith::reveal_to(self.sess, a, to, label)?;
        let fixed = self.sess.fixed();
        Ok(v.map(|v| fixed.decode_tensor(&v)))
    }
}
