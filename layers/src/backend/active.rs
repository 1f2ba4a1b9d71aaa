//! The actively secure MPC backend: one party's authenticated shares
//! (SPDZ2k, [`tessera_protocols::active`]). Linear algebra, products,
//! truncation, comparisons (ReLU, max, argmax) and the approximated
//! functions (the same [`tessera_protocols::approx`] code as semi-honest,
//! on authenticated shares) are available, so every layer trains and
//! infers, with every opening checked before it is released.

use super::{same, Backend, Function};
use crate::gather::Gather;
use crate::Result;
use ndarray::ArrayD;
use tessera_protocols::active::{Active, AuthData, AuthShare, CheckStats};
use tessera_protocols::engine::Engine;
use tessera_protocols::{PartyId, Session};

/// Active security: one party's view, its authenticated shares and its
/// session. Every party runs the same layer code on its own `ActiveBackend`.
pub struct ActiveBackend<'s> {
    a: Active<'s>,
}

impl<'s> ActiveBackend<'s> {
    /// Wraps a party's session; the provider must make authenticated
    /// material (the dealer).
    pub fn new(sess: &'s mut Session) -> Result<Self> {
        Ok(Self {
            a: Active::new(sess)?,
        })
    }
    /// The underlying session.
    pub fn session(&mut self) -> &mut Session {
        self.a.session()
    }
    /// The MAC checks run so far.
    pub fn check_stats(&self) -> CheckStats {
        self.a.check_stats()
    }
    /// The active layer itself (for a final check, or the test hook).
    pub fn active(&mut self) -> &mut Active<'s> {
        &mut self.a
    }
    fn frac_bits(&mut self) -> u32 {
        self.a.session().fixed().frac_bits()
    }
}

impl super::MpcSession for ActiveBackend<'_> {
    fn session(&mut self) -> &mut Session {
        self.a.session()
    }
    fn finish(&mut self) -> Result<()> {
        Ok(self.a.check()?)
    }
    fn mac_checks(&self) -> Option<CheckStats> {
        Some(self.a.check_stats())
    }
}

impl Backend for ActiveBackend<'_> {
    type Tensor = AuthShare;
    /// Masked once: later products with its rows open only the other factor.
    type Data = AuthData;

    fn name(&self) -> &'static str {
        "active mpc"
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
        let me = self.a.session().id();
        let encoded = match data {
            Some(d) if me == owner => {
                same("input", d.shape(), shape)?;
                Some(self.a.session().fixed().encode_array(d)?)
            }
            _ => None,
        };
        Ok(self.a.input(owner, encoded.as_ref(), shape)?)
    }
    /// Ring integers 0 and 1, as ReLU's masks are.
    fn public_mask(&mut self, bits: &ArrayD<bool>) -> Result<Self::Tensor> {
        let ints: Vec<u64> = bits.iter().map(|&b| u64::from(b)).collect();
        Ok(self
            .a
            .public(&tessera_tensor::RingTensor::from_vec(bits.shape(), ints)?))
    }
    fn public(&mut self, data: &ArrayD<f64>) -> Result<Self::Tensor> {
        let enc = self.a.session().fixed().encode_array(data)?;
        Ok(self.a.public(&enc))
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
        Ok(self.a.mul_fixed(a, b)?)
    }
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.a.mul_fixed(a, a)?)
    }
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.a.matmul_fixed(a, b)?)
    }
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        Ok(Engine::scale(&mut self.a, a, c)?)
    }
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        let enc = self.a.session().fixed().encode(c)?;
        Ok(self.a.add_public_scalar(a, enc)?)
    }
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.transpose()?)
    }
    fn sum_rows(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(0)?)
    }
    fn select_rows(&mut self, a: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_rows(rows)?)
    }
    fn concat(&mut self, parts: &[&Self::Tensor], axis: usize) -> Result<Self::Tensor> {
        Ok(AuthShare::concat(parts, axis)?)
    }
    fn relu(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.a.relu_with_mask(a)?.0)
    }
    fn positive(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        let one = self.a.session().fixed().one();
        Ok(self.a.greater_than_zero(a)?.mul_public_scalar(one))
    }
    /// The mask is 0/1 as integers, so applying it needs no truncation.
    fn relu_with_mask(&mut self, a: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        Ok(self.a.relu_with_mask(a)?)
    }
    fn mul_mask(&mut self, a: &Self::Tensor, mask: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.a.mul(a, mask)?)
    }
    fn sum_cols(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(a.sum_axis(1)?)
    }
    fn select_cols(&mut self, a: &Self::Tensor, cols: &[usize]) -> Result<Self::Tensor> {
        Ok(a.select_cols(cols)?)
    }
    fn gather(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        Ok(a.gather(&g.shape, &g.index)?)
    }
    fn scatter_add(&mut self, a: &Self::Tensor, g: &Gather) -> Result<Self::Tensor> {
        Ok(a.scatter_add(&g.source, &g.index)?)
    }
    fn apply(&mut self, f: Function, a: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(f.approximate(&mut self.a, a)?)
    }
    fn reveal(&mut self, a: &Self::Tensor, label: &str) -> Result<ArrayD<f64>> {
        let v = self.a.reveal(a, label)?;
        Ok(self.a.session().fixed().decode_tensor(&v))
    }
    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        Ok(self.a.session().prep().step_boundary(next_rows)?)
    }
    fn chunk_entries(&self) -> usize {
        1 << 15
    }
    fn cheapest_sigmoid(&mut self) -> crate::SigmoidKind {
        crate::SigmoidKind::Polynomial
    }
    fn data(&mut self, x: &Self::Tensor) -> Result<Self::Data> {
        Ok(self.a.mask_data(x)?)
    }
    fn data_rows(&mut self, d: &Self::Data, rows: &[usize]) -> Result<Self::Tensor> {
        Ok(self.a.data_rows(d, rows)?)
    }
    fn matmul_rows(
        &mut self,
        d: &Self::Data,
        rows: &[usize],
        w: &Self::Tensor,
        transposed: bool,
    ) -> Result<Self::Tensor> {
        let p = self.a.matmul_rows(d, rows, w, transposed)?;
        let f = self.frac_bits();
        Ok(self.a.truncate(&p, f)?)
    }
    fn reveal_to(
        &mut self,
        a: &Self::Tensor,
        to: PartyId,
        label: &str,
    ) -> Result<Option<ArrayD<f64>>> {
        let v = self.a.reveal_to(a, to, label)?;
        let fixed = self.a.session().fixed();
        Ok(v.map(|v| fixed.decode_tensor(&v)))
    }
}
