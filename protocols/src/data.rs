//! Training data: a secret matrix read again and again by rows, every batch
//! of every epoch, prepared once in one of two ways.
//!
//! * [`MaskedMatrix`] ([`mask_once`]): masked once with a persistent random
//!   mask from the provider (the SecureML trick); any provider.
//! * [`OwnedMatrix`]: each party's rows (or columns) stay in the clear on
//!   that party, and a product needs only the cross terms between the owner
//!   and the others ([`crate::prep::Preprocessing::owned_triple`] by OT, on
//!   the owner's data; a dealer's [`crate::prep::Material::HeldTriple`] on a
//!   random mask of it). Training uses it where the provider multiplies by
//!   the data itself (OT); private inference for the querier's rows, which
//!   enter one product only.
//!
//! [`DataMatrix`] is either, with the same operations.

use crate::arith::{open_masked, truncate};
use crate::error::{ProtocolError, Result};
use crate::prep::{Correlations, OwnedTriple, Triple};
use crate::session::{PartyId, Session};
use crate::share::AShare;
use tessera_tensor::{RingTensor, TensorError};

/// A secret matrix used again and again, such as training data: masked once
/// with a persistent mask `A` from the provider, so that each later product with rows of
/// it opens only the other operand. Each party keeps the public
/// `X - A` and the mask's id; its share of `X` is recomputed from them when
/// needed ([`MaskedMatrix::rows`]). Cheap to clone.
#[derive(Clone)]
pub struct MaskedMatrix {
    inner: std::sync::Arc<MaskedInner>,
}

struct MaskedInner {
    opened: RingTensor,
    mask: u64,
}

impl std::fmt::Debug for MaskedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MaskedMatrix(shape={:?})", self.shape())
    }
}

impl MaskedMatrix {
    /// Shape of the secret matrix.
    pub fn shape(&self) -> &[usize] {
        self.inner.opened.shape()
    }

    /// This party's share of rows `rows` of the matrix (local): the
    /// leader's is `(X - A)_I + A_I`, the others' just their `A_I`, drawn
    /// again from the mask's row streams. Nothing but `X - A` is stored.
    pub fn rows(&self, sess: &mut Session, rows: &[usize]) -> Result<AShare> {
        let cols = self.shape()[1];
        check_rows("MaskedMatrix::rows", rows, self.shape()[0])?;
        let mut out = Vec::with_capacity(rows.len() * cols);
        for &r in rows {
            let a = sess.prep().mask_rows(self.inner.mask, r, 1, cols)?;
            out.extend_from_slice(a.as_slice());
        }
        let a = AShare::from_share(RingTensor::from_vec(&[rows.len(), cols], out)?);
        a.add_public(sess, &self.inner.opened.select_rows(rows)?)
    }
}

fn check_rows(op: &'static str, rows: &[usize], n: usize) -> Result<()> {
    match rows.iter().find(|&&r| r >= n) {
        Some(&bad) => Err(ProtocolError::InvalidArgument {
            op,
            detail: format!("row {bad} of a {n}-row matrix"),
        }),
        None => Ok(()),
    }
}

/// Elements masked and opened per round by [`mask_once`].
const MASK_BLOCK_ELEMS: usize = 1 << 20;

/// Masks a secret matrix `x [rows, cols]` once for products with its rows
/// ([`matmul_masked_rows`]): opens `x - A` for a persistent random mask `A`
/// (`rows * cols` elements in blocks of 2^20, a round each; the only time `x`
/// is opened masked).
/// `A` is uniform and never opened, so `x - A` reveals nothing; it is the
/// SecureML trick of masking training data once for all epochs.
pub fn mask_once(sess: &mut Session, x: &AShare) -> Result<MaskedMatrix> {
    let &[rows, cols] = x.shape() else {
        return Err(ProtocolError::InvalidArgument {
            op: "mask_once",
            detail: format!("a matrix is needed, got shape {:?}", x.shape()),
        });
    };
    let id = sess.next_mask_id();
    // In blocks of about a million elements, so that masking a large data
    // set never holds more than one block's mask and messages at a time.
    let block = (MASK_BLOCK_ELEMS / cols.max(1)).max(1);
    let mut opened = Vec::with_capacity(rows * cols);
    let share = x.share().as_slice();
    for start in (0..rows).step_by(block) {
        let n = block.min(rows - start);
        let a = sess.prep().mask_rows(id, start, n, cols)?;
        let mine = &share[start * cols..(start + n) * cols];
        let masked: Vec<u64> = mine
            .iter()
            .zip(a.as_slice())
            .map(|(x, a)| x.wrapping_sub(*a))
            .collect();
        let masked = RingTensor::from_vec(&[n, cols], masked)?;
        opened.extend_from_slice(open_masked(sess, &[&masked])?[0].as_slice());
    }
    let opened = RingTensor::from_vec(&[rows, cols], opened)?;
    Ok(MaskedMatrix {
        inner: std::sync::Arc::new(MaskedInner { opened, mask: id }),
    })
}

/// Ring product of rows `rows` of a masked matrix with a secret `y`:
/// `x[rows] y`, or `x[rows]^T y` if `transposed` (one round, opening only
/// `y - B`). With `x = E + A` (`E` public): `E_I y + A_I (y - B) + A_I B`,
/// the last from the dealer. No truncation: see [`DataMatrix::matmul_rows_fixed`].
pub fn matmul_masked_rows(
    sess: &mut Session,
    x: &MaskedMatrix,
    rows: &[usize],
    y: &AShare,
    transposed: bool,
) -> Result<AShare> {
    let [n, cols] = [x.shape()[0], x.shape()[1]];
    check_rows("matmul_masked_rows", rows, n)?;
    let want = if transposed { rows.len() } else { cols };
    let out = other_operand("matmul_masked_rows", [rows.len(), cols], want, y)?;
    let t = sess
        .prep()
        .row_triple(x.inner.mask, rows, cols, out, transposed)?;
    let Triple { a: a_rows, b, c } = &t;
    let f = open_masked(sess, &[&y.share().sub(b)?])?.remove(0);
    let e_rows = x.inner.opened.select_rows(rows)?;
    let times = |l: &RingTensor, r: &RingTensor| match transposed {
        true => l.transpose().matmul(r),
        false => l.matmul(r),
    };
    // x_I y = E_I y + A_I (y - B) + A_I B: public E_I times this party's
    // share of y, this party's share of A_I times the public y - B, and C.
    let mut z = times(&e_rows, y.share())?;
    z.add_assign(&times(a_rows, &f)?)?;
    z.add_assign(c)?;
    Ok(AShare::from_share(z))
}

/// The product of the im2col matrix of images `rows` of a masked matrix
/// (each row an image in `window`'s layout) with a secret `y`: `W y`, or
/// `W^T y` if `transposed`, for `W = im2col(x[rows])` (one round, opening
/// only `y - B`, as [`matmul_masked_rows`]: `W = im2col(E_I) + im2col(A_I)`,
/// the first public, the second the triple's `A`). A convolution of masked
/// training images thus never opens its windows, which are `kernel^2` times
/// as many entries as the images.
pub fn matmul_masked_windows(
    sess: &mut Session,
    x: &MaskedMatrix,
    rows: &[usize],
    window: tessera_tensor::SlidingWindow,
    y: &AShare,
    transposed: bool,
) -> Result<AShare> {
    const OP: &str = "matmul_masked_windows";
    let [n, inputs] = [x.shape()[0], x.shape()[1]];
    check_rows(OP, rows, n)?;
    let bad_window = || ProtocolError::InvalidArgument {
        op: OP,
        detail: format!("{window:?} does not fit images of {inputs} entries"),
    };
    if window.inputs() != inputs {
        return Err(bad_window());
    }
    let [m, k] = window.shape(rows.len(), false).ok_or_else(bad_window)?;
    let want = if transposed { m } else { k };
    let out = other_operand(OP, [m, k], want, y)?;
    let t = sess
        .prep()
        .window_triple(x.inner.mask, rows, window, out, transposed)?;
    let Triple { a, b, c } = &t;
    let f = open_masked(sess, &[&y.share().sub(b)?])?.remove(0);
    let e = window.im2col(&x.inner.opened.select_rows(rows)?)?;
    let times = |l: &RingTensor, r: &RingTensor| match transposed {
        true => l.transpose().matmul(r),
        false => l.matmul(r),
    };
    let mut z = times(&e, y.share())?;
    z.add_assign(&times(a, &f)?)?;
    z.add_assign(c)?;
    Ok(AShare::from_share(z))
}

/// A matrix whose blocks of rows (`axis` 0) or columns (`axis` 1) are each
/// held in the clear by one party, in party order: its secret sharing is
/// the trivial one (the owner's share is its block, the others' zero), and
/// products with it use [`crate::prep::Preprocessing::owned_triple`].
/// Cheap to clone.
#[derive(Clone)]
pub struct OwnedMatrix {
    inner: std::sync::Arc<OwnedInner>,
    /// Products take held triples from every provider ([`OwnedMatrix::held_triples`]).
    held: bool,
}

struct OwnedInner {
    shape: [usize; 2],
    axis: usize,
    /// Party `p` holds indices `bounds[p]..bounds[p + 1]` along `axis`.
    bounds: Vec<usize>,
    /// This party's block, if it holds one.
    mine: Option<RingTensor>,
}

impl std::fmt::Debug for OwnedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OwnedMatrix(shape={:?}, axis={})",
            self.inner.shape, self.inner.axis
        )
    }
}

/// One owner's part of a product with rows of an [`OwnedMatrix`]: its
/// matrix `L [m, k]` (on the owner), the rows of the other operand it
/// multiplies, and the rows of the result it adds to.
struct Part {
    owner: PartyId,
    left: Option<RingTensor>,
    m: usize,
    y_rows: Vec<usize>,
    out_rows: Vec<usize>,
}

impl OwnedMatrix {
    /// Joins the parties' blocks: `extents[p]` is party `p`'s number of rows
    /// (`axis` 0) or columns (`axis` 1), `other` the shared length of the
    /// other axis, and `mine` this party's block (`None` if its extent is 0).
    pub fn new(
        sess: &Session,
        axis: usize,
        extents: &[usize],
        other: usize,
        mine: Option<RingTensor>,
    ) -> Result<Self> {
        let bad = |detail: String| ProtocolError::InvalidArgument {
            op: "OwnedMatrix::new",
            detail,
        };
        if axis > 1 || extents.len() != sess.n() {
            return Err(bad(format!(
                "axis {axis} with {} extents for {} parties",
                extents.len(),
                sess.n()
            )));
        }
        let mut bounds = vec![0];
        for e in extents {
            bounds.push(bounds.last().expect("non-empty") + e);
        }
        let own = extents[sess.id()];
        let want = if axis == 0 {
            [own, other]
        } else {
            [other, own]
        };
        let mine = match mine {
            Some(m) if m.shape() == want => Some(m),
            None if own == 0 => None,
            got => {
                return Err(bad(format!(
                    "party {}'s block must be {want:?}, got {:?}",
                    sess.id(),
                    got.map(|m| m.shape().to_vec())
                )))
            }
        };
        let total = bounds[sess.n()];
        let shape = if axis == 0 {
            [total, other]
        } else {
            [other, total]
        };
        Ok(Self {
            inner: std::sync::Arc::new(OwnedInner {
                shape,
                axis,
                bounds,
                mine,
            }),
            held: false,
        })
    }

    /// Products take held triples ([`crate::prep::Material::HeldTriple`])
    /// from every provider, not only from one that may not see the owners'
    /// data: material that does not depend on the matrix, so a provider
    /// can make it before the matrix exists (a query's rows, each used in
    /// one product), at the cost of opening the masked block per product.
    pub fn held_triples(mut self) -> Self {
        self.held = true;
        self
    }

    /// Shape of the whole matrix.
    pub fn shape(&self) -> &[usize] {
        &self.inner.shape
    }

    /// This party's share of rows `rows` (local, no communication): its own
    /// entries where it holds them, zero elsewhere.
    pub fn rows(&self, sess: &Session, rows: &[usize]) -> Result<AShare> {
        let [n, cols] = self.inner.shape;
        check_rows("OwnedMatrix::rows", rows, n)?;
        let mut out = RingTensor::zeros(&[rows.len(), cols]);
        let me = sess.id();
        let (lo, hi) = (self.inner.bounds[me], self.inner.bounds[me + 1]);
        if let Some(mine) = &self.inner.mine {
            let src = mine.as_slice();
            let dst = out.as_mut_slice();
            for (q, &r) in rows.iter().enumerate() {
                if self.inner.axis == 0 {
                    if (lo..hi).contains(&r) {
                        let from = (r - lo) * cols;
                        dst[q * cols..(q + 1) * cols].copy_from_slice(&src[from..from + cols]);
                    }
                } else {
                    let w = hi - lo;
                    dst[q * cols + lo..q * cols + hi].copy_from_slice(&src[r * w..(r + 1) * w]);
                }
            }
        }
        Ok(AShare::from_share(out))
    }

    /// Each owner's part of `x[rows] y` (or `x[rows]^T y`), skipping owners
    /// with nothing to multiply.
    fn parts(&self, me: PartyId, rows: &[usize], transposed: bool) -> Result<Vec<Part>> {
        let OwnedInner {
            axis, bounds, mine, ..
        } = &*self.inner;
        let mut parts = Vec::new();
        for owner in 0..bounds.len() - 1 {
            let (lo, hi) = (bounds[owner], bounds[owner + 1]);
            // The owner's matrix L, built only on the owner.
            let block = |sel: &dyn Fn(&RingTensor) -> Result<RingTensor>| -> Result<_> {
                match (owner == me, mine) {
                    (true, Some(x)) => Ok(Some(sel(x)?)),
                    _ => Ok(None),
                }
            };
            let part = if *axis == 0 {
                // Rows split: the batch rows this owner holds.
                let (pos, local): (Vec<usize>, Vec<usize>) = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| (lo..hi).contains(*r))
                    .map(|(q, r)| (q, r - lo))
                    .unzip();
                let l = block(&|x| Ok(x.select_rows(&local)?))?;
                let cols = self.inner.shape[1];
                match transposed {
                    // x_I y: its rows of the result.
                    false => Part {
                        owner,
                        left: l,
                        m: pos.len(),
                        y_rows: (0..cols).collect(),
                        out_rows: pos,
                    },
                    // x_I^T y: a term of every row of the result.
                    true => Part {
                        owner,
                        left: l.map(|l| l.transpose()),
                        m: cols,
                        y_rows: pos,
                        out_rows: (0..cols).collect(),
                    },
                }
            } else {
                // Columns split: the owner's columns of every batch row.
                let l = block(&|x| Ok(x.select_rows(rows)?))?;
                match transposed {
                    false => Part {
                        owner,
                        left: l,
                        m: rows.len(),
                        y_rows: (lo..hi).collect(),
                        out_rows: (0..rows.len()).collect(),
                    },
                    true => Part {
                        owner,
                        left: l.map(|l| l.transpose()),
                        m: hi - lo,
                        y_rows: (0..rows.len()).collect(),
                        out_rows: (lo..hi).collect(),
                    },
                }
            };
            if part.m > 0 && !part.y_rows.is_empty() {
                parts.push(part);
            }
        }
        Ok(parts)
    }
}

/// Ring product of rows `rows` of an owned matrix with a secret `y`:
/// `x[rows] y`, or `x[rows]^T y` if `transposed` (one round). For each
/// owner's part `L`: every other party `j` sends the owner `Y_j - B_j`
/// (uniform, as `B_j` is `j`'s alone), and the owner adds
/// `L (Y_owner + sum_j (Y_j - B_j))` to its share of `sum_j L B_j`.
/// With a held triple (dealer), the material is `A sum_j B_j` for the
/// owner's random `A`, and the owner also sends each `j` the uniform
/// `L - A`, from which `j` adds `(L - A) B_j`. Either way each party
/// computes one matrix product (a matrix triple takes two), and nothing is
/// opened beyond values masked by one party's own randomness. No truncation: see
/// [`DataMatrix::matmul_rows_fixed`].
pub fn matmul_owned_rows(
    sess: &mut Session,
    x: &OwnedMatrix,
    rows: &[usize],
    y: &AShare,
    transposed: bool,
) -> Result<AShare> {
    let [n, cols] = x.inner.shape;
    check_rows("matmul_owned_rows", rows, n)?;
    let want = if transposed { rows.len() } else { cols };
    let out_len = if transposed { cols } else { rows.len() };
    let width = other_operand("matmul_owned_rows", [rows.len(), cols], want, y)?;
    let me = sess.id();
    let peers: Vec<PartyId> = sess.peers().collect();
    let parts = x.parts(me, rows, transposed)?;
    // A provider that may see an owner's matrix (OT between the owner and
    // each other party) multiplies by it directly; a dealer may not, so it
    // makes the triple on a random `A` and the owner also sends `L - A`
    // (as every provider does for a matrix made with `held_triples`).
    let held = x.held || !sess.prep().owned_products();
    // Material first, for every part in order (the same on every party).
    let mut triples: Vec<OwnedTriple> = Vec::with_capacity(parts.len());
    let mut masks: Vec<Option<RingTensor>> = Vec::with_capacity(parts.len());
    for p in &parts {
        let dims = [p.m, p.y_rows.len(), width];
        if held {
            let Triple { a, b, c } = sess.prep().held_triple(p.owner, dims)?;
            let owner = p.owner == me;
            masks.push(owner.then_some(a));
            triples.push(OwnedTriple {
                b: (!owner).then_some(b),
                c,
            });
        } else {
            masks.push(None);
            triples.push(sess.prep().owned_triple(p.owner, p.left.as_ref(), dims)?);
        }
    }
    // One round: each party sends its masked rows of y to every other
    // owner, and the owner of a held triple sends its masked matrix.
    let mine: Vec<RingTensor> = parts
        .iter()
        .map(|p| y.share().select_rows(&p.y_rows))
        .collect::<std::result::Result<_, _>>()?;
    for (((p, t), y_p), a) in parts.iter().zip(&triples).zip(&mine).zip(&masks) {
        if let (false, Some(b)) = (p.owner == me, &t.b) {
            sess.send_tensor(p.owner, &y_p.sub(b)?)?;
        }
        if let (Some(l), Some(a)) = (&p.left, a) {
            let e = l.sub(a)?;
            for &j in &peers {
                sess.send_tensor(j, &e)?;
            }
        }
    }
    let mut out = RingTensor::zeros(&[out_len, width]);
    for ((p, t), y_p) in parts.iter().zip(&triples).zip(&mine) {
        let mut z = t.c.clone();
        match (p.owner == me, &p.left, &t.b) {
            (true, Some(l), _) => {
                let mut y_sum = y_p.clone();
                for &j in &peers {
                    y_sum.add_assign(&sess.recv_tensor(j, y_p.shape())?)?;
                }
                z.add_assign(&l.matmul(&y_sum)?)?;
            }
            (false, _, Some(b)) if held => {
                // (L - A) B_j: this party's term of L B_j.
                let e = sess.recv_tensor(p.owner, &[p.m, p.y_rows.len()])?;
                z.add_assign(&e.matmul(b)?)?;
            }
            _ => {}
        }
        add_rows(&mut out, &p.out_rows, &z);
    }
    sess.count_round();
    Ok(AShare::from_share(out))
}

/// Adds row `q` of `z` to row `at[q]` of `out`.
fn add_rows(out: &mut RingTensor, at: &[usize], z: &RingTensor) {
    let w = out.shape()[1];
    let (dst, src) = (out.as_mut_slice(), z.as_slice());
    for (q, &r) in at.iter().enumerate() {
        for (o, v) in dst[r * w..(r + 1) * w]
            .iter_mut()
            .zip(&src[q * w..(q + 1) * w])
        {
            *o = o.wrapping_add(*v);
        }
    }
}

/// Checks that `y` is a matrix with `want` rows; returns its width.
fn other_operand(op: &'static str, x: [usize; 2], want: usize, y: &AShare) -> Result<usize> {
    match y.shape() {
        &[r, w] if r == want => Ok(w),
        &[_, _] => Err(TensorError::ShapeMismatch {
            op,
            left: x.to_vec(),
            right: y.shape().to_vec(),
        }
        .into()),
        other => Err(ProtocolError::InvalidArgument {
            op,
            detail: format!("the other operand must be a matrix, got {other:?}"),
        }),
    }
}

/// Training data prepared either way, with one set of operations.
#[derive(Clone, Debug)]
pub enum DataMatrix {
    /// Masked once ([`mask_once`]).
    Masked(MaskedMatrix),
    /// Held in the clear by its owners ([`OwnedMatrix`]).
    Owned(OwnedMatrix),
}

impl DataMatrix {
    /// Shape of the matrix.
    pub fn shape(&self) -> &[usize] {
        match self {
            DataMatrix::Masked(m) => m.shape(),
            DataMatrix::Owned(o) => o.shape(),
        }
    }

    /// This party's share of rows `rows` (local).
    pub fn rows(&self, sess: &mut Session, rows: &[usize]) -> Result<AShare> {
        match self {
            DataMatrix::Masked(m) => m.rows(sess, rows),
            DataMatrix::Owned(o) => o.rows(sess, rows),
        }
    }

    /// `x[rows] y` (or `x[rows]^T y`) in the ring (one round).
    pub fn matmul_rows(
        &self,
        sess: &mut Session,
        rows: &[usize],
        y: &AShare,
        transposed: bool,
    ) -> Result<AShare> {
        match self {
            DataMatrix::Masked(m) => matmul_masked_rows(sess, m, rows, y, transposed),
            DataMatrix::Owned(o) => matmul_owned_rows(sess, o, rows, y, transposed),
        }
    }

    /// [`DataMatrix::matmul_rows`] then truncation: fixed-point values (two rounds).
    pub fn matmul_rows_fixed(
        &self,
        sess: &mut Session,
        rows: &[usize],
        y: &AShare,
        transposed: bool,
    ) -> Result<AShare> {
        let p = self.matmul_rows(sess, rows, y, transposed)?;
        truncate(sess, &p)
    }
}
