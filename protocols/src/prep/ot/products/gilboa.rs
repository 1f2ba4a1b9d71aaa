//! Gilboa products by correlated OT: each party's share of the cross terms
//! of elementwise and matrix products, one OT per bit of the left operand
//! (Beaver, square, matrix and row triples are made from them).

use super::super::iknp::{CotShape, Op, Width};
use super::super::{OtProvider, MAX_BATCH_OTS};
use crate::error::Result;
use tessera_tensor::RingTensor;

impl OtProvider {
    /// This party's share of the cross terms `sum over peers p of
    /// (R_me * S_p + R_p * S_me)`: elementwise (`k == 0`: `R`, `S` and the
    /// result have `rows` entries) or as matrix products (`R [rows, k]`,
    /// `S [k, v]`, result `[rows, v]`). Gilboa: one OT per bit of `R`.
    pub(super) fn cross(
        &mut self,
        r: &[u64],
        s: &[u64],
        rows: usize,
        k: usize,
        v: usize,
    ) -> Result<Vec<u64>> {
        let peers = self.others();
        self.cross_with(r, s, rows, k, v, &peers, &peers)
    }

    /// This party's share of `sum over i < j of R_j * S_i` (elementwise):
    /// each pair once, party `j` choosing. For a square, where `R = S = a`,
    /// twice this is every cross term `a_i a_j` at half the OTs of [`Self::cross`].
    pub(super) fn cross_once(&mut self, r: &[u64], s: &[u64], rows: usize) -> Result<Vec<u64>> {
        let me = self.id;
        let lower: Vec<usize> = (0..me).collect();
        let higher: Vec<usize> = (me + 1..self.peers.len()).collect();
        self.cross_with(r, s, rows, 0, 1, &lower, &higher)
    }

    /// [`Self::cross`] with this party choosing against `recv_from` and
    /// correlating for `send_to` (`r` may be empty if it chooses against no
    /// one, `s` if it correlates for no one).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::prep::ot) fn cross_with(
        &mut self,
        r: &[u64],
        s: &[u64],
        rows: usize,
        k: usize,
        v: usize,
        recv_from: &[usize],
        send_to: &[usize],
    ) -> Result<Vec<u64>> {
        let elementwise = k == 0;
        let (kk, vv) = if elementwise { (1, 1) } else { (k, v) };
        let mut out = vec![0u64; rows * vv];
        let per_row = kk * 64;
        let slab = (MAX_BATCH_OTS / per_row).max(1);
        for start in (0..rows).step_by(slab) {
            let end = (start + slab).min(rows);
            let r_slab = r.get(start * kk..end * kk).unwrap_or_default();
            let out_slab = &mut out[start * vv..end * vv];
            let shape = CotShape {
                n: (end - start) * per_row,
                v: vv,
                op: Op::Add,
                width: Width::Gilboa,
            };
            let choice = |j: usize| (r_slab[j / 64] >> (j % 64)) & 1;
            let corr = |j: usize, c: &mut [u64]| {
                let idx = j / 64;
                if elementwise {
                    c[0] = s[start + idx];
                } else {
                    let l = idx % kk;
                    c.copy_from_slice(&s[l * vv..(l + 1) * vv]);
                }
            };
            let acc = std::cell::RefCell::new(out_slab);
            let add = |j: usize, y: &[u64], sign: bool| {
                let row = if kk == 1 { j >> 6 } else { (j >> 6) / kk };
                let t = (j % 64) as u32;
                let mut o = acc.borrow_mut();
                for (o, &y) in o[row * vv..(row + 1) * vv].iter_mut().zip(y) {
                    let term = y << t;
                    *o = if sign {
                        o.wrapping_sub(term)
                    } else {
                        o.wrapping_add(term)
                    };
                }
            };
            self.cot(
                &shape,
                recv_from,
                send_to,
                choice,
                corr,
                &mut |_: usize, j: usize, y: &[u64]| add(j, y, false),
                &mut |_: usize, j: usize, x: &[u64]| add(j, x, true),
            )?;
        }
        Ok(out)
    }

    /// Shares of `A B` for this party's share `a` of `A [m, k]` and `b` of
    /// `B [k, n]`: its local product plus the cross terms, bit-decomposing
    /// whichever operand needs fewer OTs.
    pub(super) fn matmul(&mut self, a: &RingTensor, b: &RingTensor) -> Result<RingTensor> {
        let (m, k, n) = a.matmul_dims(b)?;
        let mut c = a.matmul(b)?;
        let cross = if m <= n {
            RingTensor::from_vec(&[m, n], self.cross(a.as_slice(), b.as_slice(), m, k, n)?)?
        } else {
            let bt = b.transpose();
            let at = a.transpose();
            RingTensor::from_vec(&[n, m], self.cross(bt.as_slice(), at.as_slice(), n, k, m)?)?
                .transpose()
        };
        c.add_assign(&cross)?;
        Ok(c)
    }

    /// Shares of `a * b` elementwise.
    pub(super) fn mul(&mut self, a: &RingTensor, b: &RingTensor) -> Result<RingTensor> {
        let mut c = a.mul(b)?;
        let cross = self.cross(b.as_slice(), a.as_slice(), a.len(), 0, 1)?;
        c.add_assign(&RingTensor::from_vec(a.shape(), cross)?)?;
        Ok(c)
    }
}
