//! Maximum, argmax and softmax along the last axis of a `[rows, classes]`
//! matrix, and the fused softmax cross-entropy gradient. Written with backend
//! operations only, so they run in plaintext and under MPC; max and argmax
//! are exact (comparisons, and products with exact 0/1 masks).

use crate::{Backend, Function, Result};

fn cols(range: impl Iterator<Item = usize>) -> Vec<usize> {
    range.collect()
}

/// Row-wise maximum `[rows, n] -> [rows, 1]`, exact: the backend's own
/// protocol if it has one ([`Backend::max_rows`]), else a tree of
/// comparisons.
pub fn max_cols<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    if let Some(m) = b.max_rows(x)? {
        return Ok(m);
    }
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
/// index, as in plaintext).
pub fn argmax_cols<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    if let Some((hot, _)) = b.argmax_rows(x)? {
        return Ok(hot);
    }
    Ok(one_hot_tournament(b, x, false)?.1)
}

/// Row-wise maximum `[rows, 1]` and its winner (ties to the lower index)
/// as a mask `[rows, n]` for [`Backend::mul_mask`], together: by the
/// backend's own protocol where it has one, else by the tournament, which
/// carries the maximum along with the winner (its payload, the identity's
/// rows as a mask, moves by exact masks).
pub fn max_and_winner_cols<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<(B::Tensor, B::Tensor)> {
    if let Some(both) = b.max_and_winner_rows(x)? {
        return Ok(both);
    }
    one_hot_tournament(b, x, true)
}

/// The tournament with the identity's rows as payload: the maximum and the
/// one-hot, as a mask for [`Backend::mul_mask`] if `mask`, else as numbers.
fn one_hot_tournament<B: Backend>(
    b: &mut B,
    x: &B::Tensor,
    mask: bool,
) -> Result<(B::Tensor, B::Tensor)> {
    let shape = b.shape(x);
    let (rows, n) = (shape[0], shape[1]);
    let eye = ndarray::Array2::from_shape_fn((rows, n * n), |(_, i)| i / n == i % n).into_dyn();
    let hot = match mask {
        true => b.public_mask(&eye)?,
        false => b.public(&eye.mapv(f64::from))?,
    };
    tournament(b, x, hot, n)
}

/// Row-wise argmax as the class index `[rows, 1]` (0..n, ties to the lower
/// index): the same tournament as [`argmax_cols`], carrying one number per
/// candidate instead of a one-hot row, so a tenth of the products for ten
/// classes.
pub fn argmax_index_cols<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    if let Some((_, index)) = b.argmax_rows(x)? {
        return Ok(index);
    }
    let shape = b.shape(x);
    let (rows, n) = (shape[0], shape[1]);
    let index = ndarray::Array2::from_shape_fn((rows, n), |(_, i)| i as f64);
    let index = b.public(&index.into_dyn())?;
    Ok(tournament(b, x, index, 1)?.1)
}

/// A pairwise tournament over the `n` columns of `x`: candidate `c` carries
/// columns `c * width..(c + 1) * width` of `payload`, and each round's winner
/// passes its payload on. Exact: the winner's value is `left + relu(right -
/// left)`, and its payload moves by the exact 0/1 mask of that ReLU.
/// Returns the row maxima and the winners' payloads.
fn tournament<B: Backend>(
    b: &mut B,
    x: &B::Tensor,
    mut payload: B::Tensor,
    width: usize,
) -> Result<(B::Tensor, B::Tensor)> {
    let mut v = x.clone();
    let mut k = b.shape(x)[1];
    while k > 1 {
        let pairs = k / 2;
        let left = b.select_cols(&v, &cols((0..pairs).map(|i| 2 * i)))?;
        let right = b.select_cols(&v, &cols((0..pairs).map(|i| 2 * i + 1)))?;
        let block = |c: usize| (c * width..(c + 1) * width).collect::<Vec<_>>();
        let pay_l = b.select_cols(&payload, &cols((0..pairs).flat_map(|i| block(2 * i))))?;
        let pay_r = b.select_cols(&payload, &cols((0..pairs).flat_map(|i| block(2 * i + 1))))?;
        // The right wins only if strictly larger, so ties go to the left.
        let d = b.sub(&right, &left)?;
        let (gain, right_wins) = b.relu_with_mask(&d)?;
        let wide = b.select_cols(
            &right_wins,
            &cols((0..pairs).flat_map(|i| std::iter::repeat_n(i, width))),
        )?;
        let dp = b.sub(&pay_r, &pay_l)?;
        let moved = b.mul_mask(&dp, &wide)?;
        let mut nv = b.add(&left, &gain)?;
        let mut np = b.add(&pay_l, &moved)?;
        if k % 2 == 1 {
            let lv = b.select_cols(&v, &[k - 1])?;
            let lp = b.select_cols(&payload, &block(k - 1))?;
            nv = b.concat(&[&nv, &lv], 1)?;
            np = b.concat(&[&np, &lp], 1)?;
        }
        v = nv;
        payload = np;
        k = pairs + k % 2;
    }
    Ok((v, payload))
}

/// Softmax along rows, with the row maximum subtracted first so that every
/// exponent is at most 0 and the denominator lies in `[1, n]`.
pub fn softmax<B: Backend>(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
    let n = b.shape(x)[1];
    let m = max_cols(b, x)?;
    let m_wide = b.select_cols(&m, &vec![0; n])?;
    let z = b.sub(x, &m_wide)?;
    // Every exponent is at most 0.
    let e = b.apply(Function::ExpNonPositive, &z)?;
    let s = b.sum_cols(&e)?;
    // The denominator lies in [1, n]: e^0 = 1 for the maximum.
    let r = b.apply(Function::ReciprocalUpTo(n as u32), &s)?;
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
