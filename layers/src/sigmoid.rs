use crate::{Backend, Result};

/// Inputs are clipped to `[-SIGMOID_CLIP, SIGMOID_CLIP]` before the polynomial.
pub const SIGMOID_CLIP: f64 = 6.0;

/// Largest error of [`Sigmoid::apply`] against the exact logistic function,
/// over the whole real line, on every backend (16 fractional bits). The
/// polynomial alone is within 2.7e-3 (minimax fit); clipping costs at most
/// `sigmoid(-6) = 2.5e-3`, absorbed by the fit at the ends; fixed-point
/// rounding adds under 1e-4. Tested on a dense grid in `tests/`.
pub const SIGMOID_MAX_ERROR: f64 = 3.5e-3;

/// Odd minimax coefficients of `sigmoid(6 t) - 1/2` on `t in [-1, 1]`, for
/// `t, t^3, t^5, t^7, t^9`.
const COEFFS: [f64; 5] = [
    1.4637821494,
    -3.4221805762,
    5.9652791792,
    -5.40951153,
    1.9028788414,
];

/// Logistic sigmoid, approximated so that it needs only comparisons and
/// products: clip to `[-6, 6]` (two exact ReLUs), then an odd degree-9
/// polynomial in `t = x / 6` by Horner's rule in `t^2`. Saturates correctly:
/// large inputs give values within [`SIGMOID_MAX_ERROR`] of 0 or 1, never
/// garbage. Cost under MPC: 2 comparisons and 7 fixed-point products, 17
/// rounds for a whole tensor: more than the accurate spline
/// (`Function::Sigmoid`, 10 rounds), which logistic regression uses.
/// As a layer, use `ActivationLayer` with `Activation::Sigmoid(SigmoidKind::Polynomial)`.
pub struct Sigmoid<B: Backend>(std::marker::PhantomData<B>);

impl<B: Backend> Sigmoid<B> {
    /// The approximated sigmoid of `x`, elementwise.
    pub fn apply(b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        // clip(x) = x - relu(x - c) + relu(-x - c), both ReLUs in one batch.
        let shape = b.shape(x);
        let rows = shape.first().copied().unwrap_or(0);
        let above = b.add_scalar(x, -SIGMOID_CLIP)?;
        let neg = b.neg(x)?;
        let below = b.add_scalar(&neg, -SIGMOID_CLIP)?;
        let both = b.concat(&[&above, &below], 0)?;
        let r = b.relu(&both)?;
        let over = b.select_rows(&r, &(0..rows).collect::<Vec<_>>())?;
        let under = b.select_rows(&r, &(rows..2 * rows).collect::<Vec<_>>())?;
        let clipped = b.sub(x, &over)?;
        let clipped = b.add(&clipped, &under)?;
        let t = b.scale(&clipped, 1.0 / SIGMOID_CLIP)?;
        let u = b.square(&t)?;
        // q = c1 + u (c3 + u (c5 + u (c7 + u c9)))
        let mut q = b.scale(&u, COEFFS[4])?;
        for &c in COEFFS[1..4].iter().rev() {
            let shifted = b.add_scalar(&q, c)?;
            q = b.mul(&shifted, &u)?;
        }
        let q = b.add_scalar(&q, COEFFS[0])?;
        let y = b.mul(&t, &q)?;
        b.add_scalar(&y, 0.5)
    }
}
