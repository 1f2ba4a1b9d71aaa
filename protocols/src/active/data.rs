//! Training data under active security, masked once: the data `X` is
//! opened as `D = X - A` for a persistent authenticated mask `A` from the
//! dealer, whose rows the dealer can give again in later items. A product
//! of data rows with a secret `W` then opens only `W - B` (a row triple
//! `(A_rows, B, A_rows B)`), as the semi-honest [`crate::data`] does, and
//! every step stays authenticated: `D_rows W` is a public matrix times a
//! secret (local on values and MACs), `A_rows (W - B) + A_rows B` a Beaver
//! product.

use super::{matmul128, transpose128, Active, AuthShare};
use crate::error::{ProtocolError, Result};
use crate::prep::auth::AuthKind;
use std::sync::Arc;

/// Data rows masked once: the public `D = X - A` and which mask `A` is.
#[derive(Clone)]
pub struct AuthData {
    masked: Arc<Vec<u128>>,
    rows: usize,
    cols: usize,
    mask: u64,
}

impl std::fmt::Debug for AuthData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthData([{}, {}])", self.rows, self.cols)
    }
}

impl AuthData {
    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// Rows of `D`, `[m, cols]`, after checking the indices.
    fn masked_rows(&self, rows: &[usize]) -> Result<Vec<u128>> {
        if let Some(r) = rows.iter().find(|&&r| r >= self.rows) {
            return Err(ProtocolError::InvalidArgument {
                op: "data rows",
                detail: format!("row {r} of {} rows", self.rows),
            });
        }
        let c = self.cols;
        Ok(rows
            .iter()
            .flat_map(|&r| self.masked[r * c..(r + 1) * c].iter().copied())
            .collect())
    }
}

impl Active<'_> {
    /// Opens `x - A` for a fresh persistent mask `A` (one round, checked
    /// with the rest).
    pub fn mask_data(&mut self, x: &AuthShare) -> Result<AuthData> {
        let &[rows, cols] = x.shape() else {
            return Err(ProtocolError::InvalidArgument {
                op: "mask data",
                detail: format!("a matrix, not {:?}", x.shape()),
            });
        };
        let mask = self.next_mask;
        self.next_mask += 1;
        let m = self.take(AuthKind::MaskRows {
            mask,
            rows: (0..rows).collect(),
            cols,
        })?;
        let a = AuthShare::from_parts(&m[0], &m[1]);
        let masked = self.open(&[&x.sub(&a)?])?.remove(0);
        Ok(AuthData {
            masked: Arc::new(masked),
            rows,
            cols,
            mask,
        })
    }

    /// Rows of masked data as a secret: `D_rows + A_rows` (no messages).
    pub fn data_rows(&mut self, d: &AuthData, rows: &[usize]) -> Result<AuthShare> {
        let public = d.masked_rows(rows)?;
        let m = self.take(AuthKind::MaskRows {
            mask: d.mask,
            rows: rows.to_vec(),
            cols: d.cols,
        })?;
        self.add_public(&AuthShare::from_parts(&m[0], &m[1]), &public)
    }

    /// `X_rows W` (or `X_rows^T W` if `transposed`) for masked data `X`
    /// and a secret `W`, no truncation: opens only `W - B` (one round).
    pub fn matmul_rows(
        &mut self,
        d: &AuthData,
        rows: &[usize],
        w: &AuthShare,
        transposed: bool,
    ) -> Result<AuthShare> {
        let (m, cols) = (rows.len(), d.cols);
        let (inner, outer) = if transposed { (m, cols) } else { (cols, m) };
        let out = match w.shape() {
            &[k, out] if k == inner => out,
            other => {
                return Err(ProtocolError::InvalidArgument {
                    op: "data rows product",
                    detail: format!("rows [{m}, {cols}] (transposed {transposed}) times {other:?}"),
                })
            }
        };
        let public = d.masked_rows(rows)?;
        let t = self.take(AuthKind::RowTriple {
            mask: d.mask,
            rows: rows.to_vec(),
            cols,
            out,
            transposed,
        })?;
        // A, B; then C, the MACs of A, B and C.
        let a = AuthShare::from_parts(&t[0], &t[3]);
        let b = AuthShare::from_parts(&t[1], &t[4]);
        let c = AuthShare::from_parts(&t[2], &t[5]);
        let e = self.open(&[&w.sub(&b)?])?.remove(0);
        let left = |v: &[u128]| {
            if transposed {
                transpose128(v, m, cols)
            } else {
                v.to_vec()
            }
        };
        let (dl, al, aml) = (left(&public), left(&a.value), left(&a.mac));
        let mm = |l: &[u128], r: &[u128]| matmul128(l, r, outer, inner, out);
        // D W on values and MACs (public times secret), then A E (secret
        // times public), then C.
        let z = AuthShare {
            shape: vec![outer, out],
            value: mm(&dl, &w.value),
            mac: mm(&dl, &w.mac),
        };
        let ae = AuthShare {
            shape: vec![outer, out],
            value: mm(&al, &e),
            mac: mm(&aml, &e),
        };
        z.add(&ae)?.add(&c)
    }
}
