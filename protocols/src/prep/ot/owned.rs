//! Products with a matrix one party holds in the clear, such as its own
//! rows of training data: `L Y = L Y_owner + sum_j L (Y_j - B_j) + sum_j L B_j`,
//! where each other party `j` draws `B_j` and the Gilboa cross terms `L B_j`
//! are made between the owner and `j` alone. A matrix triple on shared
//! operands needs every ordered pair's cross terms (`n (n - 1)` products);
//! this needs `n - 1`: half as many OTs for two parties, a third for three.
//! Same protocols and assumptions as the parent module; `L` is the owner's
//! choice bits (or its correlations), which OT hides from `j`.

use super::OtProvider;
use crate::error::{ProtocolError, Result};
use crate::prep::OwnedTriple;
use tessera_tensor::RingTensor;

impl OtProvider {
    /// See [`crate::prep::Preprocessing::owned_triple`]. The operand needing
    /// fewer OTs is bit-decomposed: `L` (`m k` entries, rows of `B_j` as
    /// correlations) if `m <= n`, else each `B_j^T` (rows of `L^T`).
    pub(super) fn owned(
        &mut self,
        owner: usize,
        left: Option<&RingTensor>,
        [m, k, n]: [usize; 3],
    ) -> Result<OwnedTriple> {
        if owner >= self.peers.len() {
            return Err(ProtocolError::InvalidArgument {
                op: "owned_triple",
                detail: format!("no party {owner} among {}", self.peers.len()),
            });
        }
        let decompose_left = m <= n;
        let from_rows = |c: Vec<u64>| -> Result<RingTensor> {
            Ok(if decompose_left {
                RingTensor::from_vec(&[m, n], c)?
            } else {
                RingTensor::from_vec(&[n, m], c)?.transpose()
            })
        };
        if self.id == owner {
            let l = match left {
                Some(l) if l.shape() == [m, k] => l,
                other => {
                    return Err(ProtocolError::InvalidArgument {
                        op: "owned_triple",
                        detail: format!(
                            "the owner's matrix must be [{m}, {k}], got {:?}",
                            other.map(|l| l.shape().to_vec())
                        ),
                    })
                }
            };
            let peers = self.others();
            let c = if decompose_left {
                self.cross_with(l.as_slice(), &[], m, k, n, &peers, &[])?
            } else {
                let lt = l.transpose();
                self.cross_with(&[], lt.as_slice(), n, k, m, &[], &peers)?
            };
            Ok(OwnedTriple {
                b: None,
                c: from_rows(c)?,
            })
        } else {
            let b = self.local.uniform(&[k, n]);
            let c = if decompose_left {
                self.cross_with(&[], b.as_slice(), m, k, n, &[], &[owner])?
            } else {
                let bt = b.transpose();
                self.cross_with(bt.as_slice(), &[], n, k, m, &[owner], &[])?
            };
            Ok(OwnedTriple {
                b: Some(b),
                c: from_rows(c)?,
            })
        }
    }
}
