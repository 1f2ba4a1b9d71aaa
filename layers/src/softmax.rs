//! Maximum, argmax and softmax along the last axis of a `[rows, classes]`
//! matrix, and the fused softmax cross-entropy gradient. Written with backend
//! operations only, so they run in plaintext and under MPC; max and argmax
//! are exact (comparisons, and products with exact 0/1 masks).

use crate::{Backend, Function, Result};

fn cols(range: impl Iterator<Item = usize>) -> Vec<usize> {
    range.collect()
}

/// One level of a pairwise tournament over `k` candidates: returns `[rows, k/2]`
/// masks, 1 where the left of each pair is at least the right.
fn left_wins<B: Backend>(
    b: &mut B,
    v: &B::Tensor,
    pairs: usize,
) -> Result<(B::Tensor, B::Tensor, B::Tensor)> {
    let left = b.select_cols(v, &cols((0..pairs).map(|i| 2 * i)))?;
    let right = b.select_cols(v, &cols((0..pairs).map(|i| 2 * i + 1)))?;
    let diff = b.sub(&right, &left)?;
    let right_wins = b.positive(&diff)?;
    let neg = b.neg(&right_wins)?;
    let ge = b.add_scalar(&neg, 1.0)?;
    Ok((ge, left, right))
}

/// Row-wise maximum `[rows, n] -> [rows, 1]`, by a tree of exact comparisons.
pub fn max_cols<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    let mut v = x.clone();
    let mut k = b.shape(x)[1];
    while k > 1 {
        let pairs = k / 2;
        let left = b.select_cols(&v, &cols((0..pairs).map(|i| 2 * i)))?;
        let right = b.select_cols(&v, &cols((0..pairs).map(|i| 2 * i + 1)))?;
        // max(a, c) = c + relu(a - c)
        let d = b.sub(&left, &right)?;
        let r = b.relu(&d)?;
        let mut next = b.add(&right, &r)?;
        if k % 2 == 1 {
            let last = b.select_cols(&v, &[k - 1])?;
            next = b.concat(&[&next, &last], 1)?;
        }
        v = next;
        k = pairs + k % 2;
    }
    Ok(v)
}

/// Row-wise argmax as a one-hot matrix `[rows, n]` (ties go to the lower
/// index, as in plaintext). Carries each candidate's one-hot row through the
/// same tournament as [`max_cols`].
pub fn argmax_cols<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    let shape = b.shape(x);
    let (rows, n) = (shape[0], shape[1]);
    let mut eye = ndarray::Array2::<f64>::zeros((rows, n * n));
    for r in 0..rows {
        for c in 0..n {
            eye[[r, c * n + c]] = 1.0;
        }
    }
    let mut hot = b.public(&eye.into_dyn())?;
    let mut v = x.clone();
    let mut k = n;
    while k > 1 {
        let pairs = k / 2;
        let (ge, left, right) = left_wins(b, &v, pairs)?;
        let block = |c: usize| (c * n..(c + 1) * n).collect::<Vec<_>>();
        let hot_l = b.select_cols(&hot, &cols((0..pairs).flat_map(|i| block(2 * i))))?;
        let hot_r = b.select_cols(&hot, &cols((0..pairs).flat_map(|i| block(2 * i + 1))))?;
        let ge_wide = b.select_cols(
            &ge,
            &cols((0..pairs).flat_map(|i| std::iter::repeat_n(i, n))),
        )?;
        // winner = right + ge * (left - right), for values and one-hots in one product
        let dv = b.sub(&left, &right)?;
        let dh = b.sub(&hot_l, &hot_r)?;
        let masks = b.concat(&[&ge, &ge_wide], 1)?;
        let diffs = b.concat(&[&dv, &dh], 1)?;
        let prod = b.mul(&masks, &diffs)?;
        let pv = b.select_cols(&prod, &cols(0..pairs))?;
        let ph = b.select_cols(&prod, &cols(pairs..pairs + pairs * n))?;
        let mut nv = b.add(&right, &pv)?;
        let mut nh = b.add(&hot_r, &ph)?;
        if k % 2 == 1 {
            let lv = b.select_cols(&v, &[k - 1])?;
            let lh = b.select_cols(&hot, &block(k - 1))?;
            nv = b.concat(&[&nv, &lv], 1)?;
            nh = b.concat(&[&nh, &lh], 1)?;
        }
        v = nv;
        hot = nh;
        k = pairs + k % 2;
    }
    Ok(hot)
}

/// Softmax along rows, with the row maximum subtracted first so that every
/// exponent is at most 0 and the denominator lies in `[1, n]`.
pub fn softmax<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    let n = b.shape(x)[1];
    let m = max_cols(b, x)?;
    let m_wide = b.select_cols(&m, &vec![0; n])?;
    let z = b.sub(x, &m_wide)?;
    let e = b.apply(Function::Exp, &z)?;
    let s = b.sum_cols(&e)?;
    let r = b.apply(Function::Reciprocal, &s)?;
    let r_wide = b.select_cols(&r, &vec![0; n])?;
    b.mul(&e, &r_wide)
}

/// Softmax probabilities and the gradient of the mean cross-entropy with
/// respect to the logits, `(softmax(z) - y) / rows`, for one-hot `y`.
pub fn softmax_cross_entropy<B: Backend>(
    b: &mut B,
    logits: &B::Tensor,
    onehot: &B::Tensor,
) -> Result<(B::Tensor, B::Tensor)> {
    let rows = b.shape(logits)[0].max(1);
    let p = softmax(b, logits)?;
    let d = b.sub(&p, onehot)?;
    let g = b.scale(&d, 1.0 / rows as f64)?;
    Ok((p, g))
}
