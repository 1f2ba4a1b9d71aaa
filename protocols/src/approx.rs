//! Nonlinear functions on fixed-point secrets: exp, reciprocal, inverse
//! square root, log, sigmoid and tanh, with documented domains, errors and
//! costs (rounds for a whole tensor; see `tests/approx.rs` for the measured
//! errors on dense grids).
//!
//! The key step is exact range reduction:
//! * positive `x` is written `x = x~ * 2^e` with `x~` in `[1, 2)` by
//!   comparing it with every power of two of its range in one batch
//!   sharing one opening ([`normalize`]); then `1/x`, `1/sqrt(x)` and `ln x`
//!   are a polynomial in `x~` times (or plus) a public function of `e`, a
//!   local dot product of the comparison bits (they are monotone, so the
//!   octave's indicator is a difference of neighbours);
//! * `exp(x)` on each piece `[2k, 2k + 2)` is `(e^(k + 1/2) e^u)^2` with
//!   `|u| <= 1/2`: the piece comes from one batch of comparisons, `e^u` from
//!   one quartic for every piece.
//!
//! Polynomials are minimax fits in a variable centred on their interval, and
//! are evaluated from powers computed in `log2(degree)` batched rounds, with a
//! single truncation at the end.
//!
//! | function | domain (accuracy) | behaviour outside | bound tested on a dense grid (16 bits) | measured worst |
//! |---|---|---|---|---|
//! | [`exp`] | `[-10, 10)` | 0 below `-10` (16 bits; the true value is under 4 ulp), `exp(10)` from 10 on | `max(1e-3 |ref|, 4 ulp)` on `[-12, 10]` | 25% of the bound |
//! | [`reciprocal`] | `[0.01, 100]` (works on `(0, 2^24)`) | 0 for `x <= 0` | `max(1e-3 |ref|, 4 ulp)` | 77% of the bound at 0.01 (input quantisation) |
//! | [`inv_sqrt`] | `[0.01, 100]` (works on `(0, 2^24)`) | 0 for `x <= 0` | `max(1e-3 |ref|, 4 ulp)` | 38% of the bound |
//! | [`log`] | `[0.01, 100]` (works on `(0, 2^24)`) | `ln(2^-16)` for `x <= 0` | `max(1e-3 |ref|, 4 ulp)` | 3.1e-5 absolute |
//! | [`sigmoid`] | all reals | saturates to 0 and 1 | 1e-4 absolute on `[-10, 10]` | 4.5e-5 (at 10, the saturation) |
//! | [`tanh`] | all reals | saturates to -1 and 1 | 2e-4 absolute on `[-5, 5]` | 9.1e-5 |
//!
//! Every function is written once against [`Engine`]: the same code runs on
//! semi-honest shares and, under active security, on authenticated ones
//! (`tests/approx.rs` holds both to the bounds above, 2 and 3 parties).
//!
//! Sigmoid and tanh are a piecewise cubic ([`spline`]) whose piece is
//! picked by one batch of comparisons sharing one opening.
//!
//! Rounds and bits per element for a whole tensor (semi-honest, 2 parties,
//! asserted in `tests/approx.rs`): sigmoid and tanh 10 and 1196, exp 12
//! and 1239, reciprocal 15 and 1946, inverse sqrt 15 and 1946, log 14 and
//! 1882. (Thresholds that agree on their low bits share their first-level
//! comparison nodes: [`crate::compare::NodePlan`].)

use crate::engine::{Engine, Secret};
use crate::error::Result;

/// Minimax coefficients of `1/x` on `[1, 2]` in `t = x - 1.5` (max
/// relative error 5.1e-5: degree 5 takes the same three rounds of powers as
/// degree 6, one product fewer, and stays far inside the 1e-3 bound).
const RECIP: [f64; 6] = [
    6.667006785368e-01,
    -4.444671190245e-01,
    2.938625580335e-01,
    -1.959083720223e-01,
    1.567266976152e-01,
    -1.044844650768e-01,
];
/// Minimax coefficients of `1/sqrt(x)` on `[1, 2]` in `t = x - 1.5` (max error 9.9e-6).
const INV_SQRT: [f64; 6] = [
    8.165060093617e-01,
    -2.722022038021e-01,
    1.354170893498e-01,
    -7.469518481325e-02,
    5.093103920662e-02,
    -3.227550068042e-02,
];
/// Minimax coefficients of `ln x` on `[1, 2]` in `t = x - 1.5` (max error
/// 8.7e-6, degree 5 as [`RECIP`]).
const LN: [f64; 6] = [
    4.054567846429e-01,
    6.666964629592e-01,
    -2.216330571873e-01,
    9.802686630642e-02,
    -5.545982192605e-02,
    3.110401638646e-02,
];
/// Chebyshev interpolant of `e^u` on `[-1/2, 1/2]` (relative error 2.5e-5).
const EXP_HALF: [f64; 5] = [
    1.0,
    9.998360243544e-01,
    4.999727214658e-01,
    1.692863848896e-01,
    4.210263712312e-02,
];

/// Below this, [`exp`] is 0 for every encoding of up to 24 fractional bits
/// (`exp(-16)` is under 4 units of `2^-24`).
pub const EXP_MIN: f64 = -16.0;
/// From this on, [`exp`] is `exp(EXP_MAX)`.
pub const EXP_MAX: f64 = 10.0;
/// Position of the scale used to normalise: values up to `2^(NORM_TOP - f)` are handled.
const NORM_TOP: u32 = 40;

fn flat<S: Secret>(x: &S) -> Result<S> {
    x.reshape(&[x.len()])
}

/// Rows `part * len .. (part + 1) * len` of a stacked `[k * len]` secret.
fn part<S: Secret>(stacked: &S, part: usize, len: usize) -> Result<S> {
    stacked
        .reshape(&[stacked.len(), 1])?
        .select_rows(&(part * len..(part + 1) * len).collect::<Vec<_>>())?
        .reshape(&[len])
}

/// `[t, t^2, ..., t^d]` (fixed point), computed in `ceil(log2 d)` batched
/// multiplications of two rounds each.
pub fn powers<E: Engine>(e: &mut E, t: &E::Secret, d: usize) -> Result<Vec<E::Secret>> {
    let t = flat(t)?;
    let len = t.len();
    let mut pows = vec![t];
    while pows.len() < d {
        let have = pows.len();
        let next: Vec<usize> = (have + 1..=(2 * have).min(d)).collect();
        let lhs: Vec<&E::Secret> = next.iter().map(|_| &pows[have - 1]).collect();
        let rhs: Vec<&E::Secret> = next.iter().map(|k| &pows[k - have - 1]).collect();
        let prod = e.mul_fixed(&stack(&lhs)?, &stack(&rhs)?)?;
        for i in 0..next.len() {
            pows.push(part(&prod, i, len)?);
        }
    }
    Ok(pows)
}

/// Flat secrets of one length, stacked into one `[k * len]` secret.
fn stack<S: Secret>(parts: &[&S]) -> Result<S> {
    let cols: Vec<S> = parts
        .iter()
        .map(|p| p.reshape(&[p.len(), 1]))
        .collect::<Result<_>>()?;
    let refs: Vec<&S> = cols.iter().collect();
    let all = S::concat(&refs, 0)?;
    all.reshape(&[all.len()])
}

/// `sum_i c_i t^i` with public real coefficients: powers, then one truncation.
pub fn poly<E: Engine>(e: &mut E, t: &E::Secret, coeffs: &[f64]) -> Result<E::Secret> {
    let fixed = e.fixed();
    let shape = t.shape().to_vec();
    let pows = powers(e, t, coeffs.len() - 1)?;
    // Accumulate at 2f fractional bits, truncate once.
    let c0 = fixed.encode(coeffs[0])?.wrapping_shl(fixed.frac_bits());
    let mut acc = e.add_public_scalar(&pows[0].mul_public_scalar(0), c0)?;
    for (p, &c) in pows.iter().zip(&coeffs[1..]) {
        acc = acc.add(&p.mul_public_scalar(fixed.encode(c)?))?;
    }
    e.truncate(&acc)?.reshape(&shape)
}

/// `max(lo, min(x, hi))` exactly: `lo + relu(x - lo) - relu(x - hi)`.
pub fn clip<E: Engine>(e: &mut E, x: &E::Secret, lo: f64, hi: f64) -> Result<E::Secret> {
    let fixed = e.fixed();
    let shape = x.shape().to_vec();
    let x = flat(x)?;
    let len = x.len();
    let (elo, ehi) = (fixed.encode(lo)?, fixed.encode(hi)?);
    let a = e.add_public_scalar(&x, elo.wrapping_neg())?;
    let b = e.add_public_scalar(&x, ehi.wrapping_neg())?;
    let r = e.relu(&stack(&[&a, &b])?)?;
    let (ra, rb) = (part(&r, 0, len)?, part(&r, 1, len)?);
    e.add_public_scalar(&ra.sub(&rb)?, elo)?.reshape(&shape)
}

/// The octave thresholds `2^0 .. 2^(NORM_TOP + 1)` of an encoding.
fn octave_thresholds() -> Vec<u64> {
    (0..=NORM_TOP + 1).map(|j| 1u64 << j).collect()
}

/// Range reduction of positive `x`: returns `x~` in `[1, 2)` (fixed point)
/// and the comparison bits `b_j = [x < 2^j]` of its encoding for `j` in
/// `0..=NORM_TOP + 1` (`[len, NORM_TOP + 2]`, 0/1 integers), all from one
/// batch of comparisons sharing one opening. The octave of `x` is the `i`
/// with `b_(i+1) - b_i = 1`, so a public function of it is a local dot
/// product of the bits ([`by_octave`]). For `x <= 0`, or from
/// `2^(NORM_TOP + 1 - f)` on, `x~` is 0.
pub fn normalize<E: Engine>(e: &mut E, x: &E::Secret) -> Result<(E::Secret, E::Secret)> {
    let f = e.fixed().frac_bits();
    let x = flat(x)?;
    let below = e.less_than_each(&x, &octave_thresholds())?;
    let scale: Vec<u64> = (0..=NORM_TOP).map(|i| 1u64 << (NORM_TOP - i)).collect();
    let m = below.weigh(&telescope(&scale))?;
    let xm = e.mul(&x, &m)?;
    let xt = e.truncate_bits(&xm, NORM_TOP - f)?;
    Ok((xt, below))
}

/// Coefficients on the bits `b_j = [x < 2^j]` ([`normalize`]) of `sum_i
/// g_i [2^i <= x < 2^(i+1)]` over the octaves `i` in `0..=NORM_TOP`: the
/// bits are monotone, so the sum telescopes to `sum_j (g_(j-1) - g_j) b_j`
/// (0 below the first octave and above the last).
fn telescope(g: &[u64]) -> Vec<u64> {
    let at = |i: usize| g.get(i).copied().unwrap_or(0);
    (0..=NORM_TOP as usize + 1)
        .map(|j| {
            let below = if j == 0 { 0 } else { at(j - 1) };
            below.wrapping_sub(at(j))
        })
        .collect()
}

/// [`telescope`]d constants `g(2^(i - f))` for each octave `i`, encoded.
fn by_octave<E: Engine>(e: &E, g: impl Fn(i32) -> f64) -> Result<Vec<u64>> {
    let fixed = e.fixed();
    let f = fixed.frac_bits() as i32;
    let values: Vec<u64> = (0..=NORM_TOP as i32)
        .map(|i| fixed.encode(g(i - f)))
        .collect::<std::result::Result<_, _>>()?;
    Ok(telescope(&values))
}

/// `1/x` for `x > 0`: `poly(x~) * 2^-e`. Returns 0 for `x <= 0`.
pub fn reciprocal<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    let shape = x.shape().to_vec();
    let (xt, below) = normalize(e, x)?;
    let centred = e.add_public_scalar(&xt, e.fixed().encode(-1.5)?)?;
    let r = poly(e, &centred, &RECIP)?;
    let g = below.weigh(&by_octave(e, |k| 2f64.powi(-k))?)?;
    e.mul_fixed(&r, &g)?.reshape(&shape)
}

/// `1/sqrt(x)` for `x > 0`: `poly(x~) * 2^(-e/2)`. Returns 0 for `x <= 0`.
pub fn inv_sqrt<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    let shape = x.shape().to_vec();
    let (xt, below) = normalize(e, x)?;
    let centred = e.add_public_scalar(&xt, e.fixed().encode(-1.5)?)?;
    let r = poly(e, &centred, &INV_SQRT)?;
    let g = below.weigh(&by_octave(e, |k| 2f64.powf(-k as f64 / 2.0))?)?;
    e.mul_fixed(&r, &g)?.reshape(&shape)
}

/// `ln x` for `x > 0`: `poly(x~) + e ln 2`. Returns `ln(2^-f)` for `x <=
/// 0`, and `ln 2^(NORM_TOP + 1 - f)` from there on.
pub fn log<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    let fixed = e.fixed();
    let shape = x.shape().to_vec();
    let (xt, below) = normalize(e, x)?;
    let centred = e.add_public_scalar(&xt, fixed.encode(-1.5)?)?;
    let r = poly(e, &centred, &LN)?;
    // Keep the polynomial only where x~ is meaningful (in some octave).
    let valid = below.weigh(&telescope(&[1; NORM_TOP as usize + 1]))?;
    let r = e.mul(&r, &valid)?;
    let ln2 = std::f64::consts::LN_2;
    let floor = fixed.encode(-(fixed.frac_bits() as f64) * ln2)?;
    let top = fixed.encode((NORM_TOP + 1 - fixed.frac_bits()) as f64 * ln2)?;
    // The octave's e ln 2; below the first (x <= 0, b_0 = 1) the floor;
    // above the last (b_last = 0) the top, as `top - top b_last`.
    let mut weights = by_octave(e, |k| k as f64 * ln2)?;
    weights[0] = weights[0].wrapping_add(floor);
    let last = weights.len() - 1;
    weights[last] = weights[last].wrapping_sub(top);
    let exps = e.add_public_scalar(&below.weigh(&weights)?, top)?;
    r.add(&exps)?.reshape(&shape)
}

/// `e^x`: on each piece `[2k, 2k + 2)`, `e^x = (e^(k + 1/2) e^u)^2` with
/// `u = (x - 2k - 1) / 2` in `[-1/2, 1/2)`, where `e^u` is one quartic
/// (`EXP_HALF`) for every piece. One batch of comparisons picks the
/// piece, whose centre and `e^(k + 1/2)` are then local; the quartic, one
/// product by `e^(k + 1/2)` and the square follow (12 rounds, 1420 bits per
/// element for 16 fractional bits). Below the lowest piece (`-10` for 16
/// fractional bits, where `e^x` is under 4 units of `2^-f`) the result is 0;
/// from [`EXP_MAX`] on it is `e^EXP_MAX`.
pub fn exp<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    exp_by_pieces(e, x, EXP_MAX as i32, 2)
}

/// `e^x` for `x <= 0` (1 from 0 on; below the lowest piece 0, as [`exp`]):
/// what softmax needs once the row maximum is subtracted. Pieces of width 1
/// need no square at the end: 10 rounds, 1228 bits per element for 16
/// fractional bits.
pub fn exp_nonpositive<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    exp_by_pieces(e, x, 0, 1)
}

/// `e^x` on pieces of `width` 1 or 2 from the lowest one (where `e^x`
/// reaches 4 units of `2^-f`) up to `hi`: on `[lo + w i, lo + w (i + 1))`
/// with centre `c`, `e^x = (e^(c/w) e^u)^w` with `u = (x - c) / w` in
/// `[-1/2, 1/2)`.
fn exp_by_pieces<E: Engine>(e: &mut E, x: &E::Secret, hi: i32, width: i32) -> Result<E::Secret> {
    let f = e.fixed().frac_bits();
    let shape = x.shape().to_vec();
    let x = flat(x)?;
    // The lowest threshold (a multiple of the width) where e^x reaches 4
    // units: e^lo >= 2^(2 - f).
    let lo = -width * ((f as f64 - 2.0) * std::f64::consts::LN_2 / width as f64).ceil() as i32;
    let thresholds: Vec<u64> = (lo..=hi)
        .step_by(width as usize)
        .map(|t| e.fixed().encode(t as f64))
        .collect::<std::result::Result<_, _>>()?;
    let below = e.less_than_each(&x, &thresholds)?;
    // Pieces: below lo (0), the centres of [t, t + width), from hi on.
    let centres: Vec<f64> = (lo..hi)
        .step_by(width as usize)
        .map(|t| t as f64 + width as f64 / 2.0)
        .collect();
    let with_ends = |below_lo: f64, piece: &dyn Fn(f64) -> f64, above_hi: f64| -> Vec<f64> {
        std::iter::once(below_lo)
            .chain(centres.iter().map(|&c| piece(c)))
            .chain(std::iter::once(above_hi))
            .collect()
    };
    let w = width as f64;
    // Scales: the quartic at f + 16 bits, e^(c/w) at 37 - f, so that their
    // product (below 2^61) fits; before squaring the root at 22 bits.
    const POLY_BITS: u32 = 16;
    let scale_e = 37u32.saturating_sub(f).max(8);
    let product_bits = scale_e + f + POLY_BITS;
    let root_bits = if width == 2 { 22 } else { f };
    let (centres, growths) = (
        with_ends(0.0, &|c| c, 0.0),
        with_ends(0.0, &|c| (c / w).exp(), 0.0),
    );
    let tops = with_ends(0.0, &|_| 0.0, (hi as f64 / w).exp());
    let [centre, growth, top] = select_pieces(
        e,
        &below,
        [(&centres, f), (&growths, scale_e), (&tops, product_bits)],
    )?;
    // p(v) = sum_j a_j (v / w)^j, v = x - centre, untruncated.
    let v = x.sub(&centre)?;
    let pows = powers(e, &v, EXP_HALF.len() - 1)?;
    let mut p = e.add_public_scalar(
        &v.mul_public_scalar(0),
        (EXP_HALF[0] * 2f64.powi((f + POLY_BITS) as i32)).round() as u64,
    )?;
    for (j, (pow, a)) in pows.iter().zip(&EXP_HALF[1..]).enumerate() {
        let c = a / w.powi(j as i32 + 1) * 2f64.powi(POLY_BITS as i32);
        p = p.add(&pow.mul_public_scalar(c.round() as i64 as u64))?;
    }
    let q = e.mul(&growth, &p)?.add(&top)?;
    let q = e.truncate_bits(&q, product_bits - root_bits)?;
    if width == 1 {
        return q.reshape(&shape);
    }
    let sq = e.mul(&q, &q)?;
    e.truncate_bits(&sq, 2 * root_bits - f)?.reshape(&shape)
}

/// Sigmoid's cubic pieces on `[0, 10)`: (upper end, centre, coefficients
/// in `x - centre`), Chebyshev interpolants (worst error 2.5e-5 each); the
/// first is centred on 0 and also covers `[-0.625, 0)`. Negative `x`
/// mirror them: `sigmoid(x) = 1 - sigmoid(-x)`.
const SIGMOID_PIECES: [(f64, f64, [f64; 4]); 6] = [
    (
        0.625,
        0.0,
        [5.0e-01, 2.499617816505e-01, 0.0, -2.004675437988e-02],
    ),
    (
        1.515625,
        1.0703125,
        [
            7.446322430876e-01,
            1.901460108665e-01,
            -4.554597985516e-02,
            -4.574850493969e-03,
        ],
    ),
    (
        3.125,
        2.3203125,
        [
            9.105440700574e-01,
            8.147592367707e-02,
            -3.343065397828e-02,
            6.651850432732e-03,
        ],
    ),
    (
        4.609375,
        3.8671875,
        [
            9.795344928076e-01,
            2.006601916758e-02,
            -9.958012322179e-03,
            2.982184845605e-03,
        ],
    ),
    (
        6.671875,
        5.640625,
        [
            9.964822435577e-01,
            3.521787836699e-03,
            -1.902692701477e-03,
            6.035452411414e-04,
        ],
    ),
    (
        10.0,
        8.3359375,
        [
            9.997707580885e-01,
            2.376029636409e-04,
            -1.496035485427e-04,
            4.568951490005e-05,
        ],
    ),
];

/// A piece of a [`spline`]: centre and cubic coefficients in `x - centre`.
type Piece = (f64, [f64; 4]);

/// Fractional bits of a spline's selected coefficients.
const SPLINE_COEFF_BITS: u32 = 32;

/// A piecewise cubic: `pieces[j]` on `[thresholds[j - 1], thresholds[j])`
/// (ascending thresholds; the first piece below the first threshold, the
/// last at or above the last). One batch of comparisons against every
/// threshold (sharing one opening) picks the piece: its centre and
/// coefficients are then public constants times 0/1 bits, local. The powers
/// of `x - centre` follow, and one product by the coefficients with a
/// single truncation. Semi-honest: 10 rounds and 64 + 36 k + 832 bits per
/// element for `k` thresholds.
pub fn spline<E: Engine>(
    e: &mut E,
    x: &E::Secret,
    thresholds: &[f64],
    pieces: &[Piece],
) -> Result<E::Secret> {
    let fixed = e.fixed();
    let f = fixed.frac_bits();
    let shape = x.shape().to_vec();
    let x = flat(x)?;
    let len = x.len();
    let m = thresholds.len();
    debug_assert_eq!(pieces.len(), m + 1);
    let ts: Vec<u64> = thresholds
        .iter()
        .map(|&t| fixed.encode(t))
        .collect::<std::result::Result<_, _>>()?;
    let below = e.less_than_each(&x, &ts)?;
    // Each piece's centre and coefficients, in one pass over the bits.
    let of = |param: &dyn Fn(&Piece) -> f64| -> Vec<f64> { pieces.iter().map(param).collect() };
    let (centres, c0) = (of(&|p| p.0), of(&|p| p.1[0]));
    let (c1, c2, c3) = (of(&|p| p.1[1]), of(&|p| p.1[2]), of(&|p| p.1[3]));
    let c = SPLINE_COEFF_BITS;
    let [centre, a1, a2, a3, mut acc] = select_pieces(
        e,
        &below,
        [(&centres, f), (&c1, c), (&c2, c), (&c3, c), (&c0, c + f)],
    )?;
    let u = x.sub(&centre)?;
    let pows = powers(e, &u, 3)?;
    let rhs: Vec<&E::Secret> = pows.iter().collect();
    let terms = e.mul(&stack(&[&a1, &a2, &a3])?, &stack(&rhs)?)?;
    for k in 0..3 {
        acc = acc.add(&part(&terms, k, len)?)?;
    }
    e.truncate_bits(&acc, SPLINE_COEFF_BITS)?.reshape(&shape)
}

/// For each `(values, scale)`: `values[j]` (encoded at `scale` fractional
/// bits) where `x` lies in piece `j`, given `below = [len, m]` with
/// `below[e, i] = [x_e < t_i]` for ascending thresholds: `v_m + sum_i [x <
/// t_i] (v_i - v_{i+1})`, local dot products per element (one pass over
/// `below` for all of them). The differences are of encodings, so they
/// telescope exactly: a piece's zero stays exactly zero, however large
/// what it multiplies.
fn select_pieces<E: Engine, const N: usize>(
    e: &mut E,
    below: &E::Secret,
    pieces: [(&[f64], u32); N],
) -> Result<[E::Secret; N]> {
    // Magnitudes below 2^(62 - scale): exact enough as f64, no overflow.
    let encs: Vec<Vec<u64>> = pieces
        .iter()
        .map(|(values, scale)| {
            values
                .iter()
                .map(|v| (v * 2f64.powi(*scale as i32)).round() as i64 as u64)
                .collect()
        })
        .collect();
    let steps: Vec<Vec<u64>> = encs
        .iter()
        .map(|enc| {
            (0..enc.len() - 1)
                .map(|i| enc[i].wrapping_sub(enc[i + 1]))
                .collect()
        })
        .collect();
    let sets: Vec<&[u64]> = steps.iter().map(|s| s.as_slice()).collect();
    let selected: Vec<E::Secret> = below
        .weigh_each(&sets)?
        .iter()
        .zip(&encs)
        .map(|(w, enc)| e.add_public_scalar(w, enc[enc.len() - 1]))
        .collect::<Result<_>>()?;
    selected
        .try_into()
        .map_err(|_| crate::ProtocolError::InvalidArgument {
            op: "select_pieces",
            detail: "one selection per set of values".into(),
        })
}

/// Chebyshev cubic of `1/t` on `[1, sqrt 2)` in `t - RECIP_CENTRE`
/// (relative error 1.1e-4): every half-octave piece of
/// [`reciprocal_in_range`] is this one, scaled.
const RECIP_HALF_OCTAVE: [f64; 4] = [
    8.283346790376e-01,
    -6.862149164827e-01,
    5.857210686395e-01,
    -4.852272207963e-01,
];
/// Centre of [`RECIP_HALF_OCTAVE`]'s interval, `(1 + sqrt 2) / 2`.
const RECIP_CENTRE: f64 = 1.2071067811865475;

/// `1/x` for `x` in `[1, hi]`, as a [`spline`] over half-octaves: on
/// `[a, a sqrt 2)`, `1/x = (1/a) g(x/a)` for one cubic `g`, so the pieces
/// are one set of constants, scaled. 10 rounds, and `64 + 36 k + 832` bits
/// per element for `k = ceil(2 log2 hi) + 1` thresholds (8 for `hi` = 10).
/// Relative error about 2e-4 in the range; below 1 the result is 1, above
/// `hi` it is `1/hi`. What softmax needs:
/// its denominators lie in `[1, classes]`. `hi` is at most 2^20.
pub fn reciprocal_in_range<E: Engine>(e: &mut E, x: &E::Secret, hi: f64) -> Result<E::Secret> {
    let bad = |detail: String| crate::ProtocolError::InvalidArgument {
        op: "reciprocal_in_range",
        detail,
    };
    if !(1.0..=(1u64 << 20) as f64).contains(&hi) {
        return Err(bad(format!("upper end {hi}: give 1 to 2^20")));
    }
    // Half-octave pieces from 1, the last cut short at hi.
    let k = (2.0 * hi.log2()).ceil() as i32;
    let starts: Vec<f64> = (0..k).map(|j| 2f64.powf(j as f64 / 2.0)).collect();
    let ends: Vec<f64> = starts.iter().copied().chain(std::iter::once(hi)).collect();
    let c = RECIP_HALF_OCTAVE;
    let pieces: Vec<Piece> = std::iter::once((0.0, [1.0, 0.0, 0.0, 0.0]))
        .chain(starts.iter().map(|&a| {
            (
                a * RECIP_CENTRE,
                [c[0] / a, c[1] / (a * a), c[2] / a.powi(3), c[3] / a.powi(4)],
            )
        }))
        .chain(std::iter::once((0.0, [1.0 / hi, 0.0, 0.0, 0.0])))
        .collect();
    spline(e, x, &ends, &pieces)
}

/// Logistic sigmoid, a piecewise cubic on `[-10, 10)` (12 thresholds,
/// [`spline`]) and 0 below, 1 above. Accurate to 1e-4 everywhere
/// (`sigmoid(-10) < 4.6e-5`).
///
/// ```
/// use tessera_protocols::{approx, arith, runtime::{run_embedded, EmbeddedConfig}, ProtocolError};
/// use tessera_tensor::FixedPoint;
///
/// let fp = FixedPoint::default();
/// let xs = [-3.0, 0.0, 0.5, 1000.0];
/// let out = run_embedded(&EmbeddedConfig::new(2), |s| -> Result<Vec<f64>, ProtocolError> {
///     let mine = fp.encode_array(&ndarray::arr1(&xs).into_dyn())?;
///     let x = arith::share_input(s, 0, (s.id() == 0).then_some(&mine), &[4])?;
///     let y = approx::sigmoid(s, &x)?;
///     Ok(arith::reveal(s, &y, "sigmoid")?.as_slice().iter().map(|&v| fp.decode(v)).collect())
/// }).unwrap();
/// for (x, y) in xs.iter().zip(&out[0].value) {
///     assert!((y - 1.0 / (1.0 + (-x).exp())).abs() < 1e-4);
/// }
/// ```
pub fn sigmoid<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    let (thresholds, pieces) = sigmoid_pieces();
    spline(e, x, &thresholds, &pieces)
}

/// [`SIGMOID_PIECES`] mirrored onto the negative side, with the saturated
/// ends: 12 ascending thresholds and 13 pieces.
fn sigmoid_pieces() -> (Vec<f64>, Vec<Piece>) {
    let ends = SIGMOID_PIECES.iter().map(|p| p.0);
    let thresholds: Vec<f64> = ends.clone().rev().map(|t| -t).chain(ends).collect();
    // sigmoid(x) = 1 - sigmoid(-x): in u = x + centre, the odd powers keep
    // their sign and the even ones flip.
    let mirrored = SIGMOID_PIECES[1..]
        .iter()
        .rev()
        .map(|&(_, centre, c)| (-centre, [1.0 - c[0], c[1], -c[2], c[3]]));
    let pieces: Vec<Piece> = std::iter::once((0.0, [0.0; 4]))
        .chain(mirrored)
        .chain(SIGMOID_PIECES.iter().map(|&(_, centre, c)| (centre, c)))
        .chain(std::iter::once((0.0, [1.0, 0.0, 0.0, 0.0])))
        .collect();
    (thresholds, pieces)
}

/// Hyperbolic tangent `2 sigmoid(2x) - 1`. Accurate to 2e-4; saturates to ±1.
pub fn tanh<E: Engine>(e: &mut E, x: &E::Secret) -> Result<E::Secret> {
    let s = sigmoid(e, &x.mul_public_scalar(2))?;
    let minus_one = e.fixed().one().wrapping_neg();
    e.add_public_scalar(&s.mul_public_scalar(2), minus_one)
}
