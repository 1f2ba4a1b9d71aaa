use crate::{RingTensor, TensorError};
use ndarray::ArrayD;

/// A number for a message: plain where that is short, otherwise in
/// scientific notation (never 300 digits).
pub fn readable(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e16).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Fractional bits used unless a job configures otherwise.
pub const DEFAULT_FRAC_BITS: u32 = 16;

/// Fixed-point encoding of reals in Z_2^64: `x -> round(x * 2^f) mod 2^64`.
///
/// Two limits matter (both shown in every encode error):
///
/// * [`FixedPoint::limit`] `= 2^(62 - f)`: the largest magnitude that can be
///   encoded at all, with one bit of headroom so that adding two encoded
///   values never wraps. With f = 16 that is about 7.0e13.
/// * [`FixedPoint::product_limit`] `= 2^(31 - f)`: values below it can be
///   multiplied with each other and truncated without wrap-around (the
///   product carries `2f` fractional bits and must stay below `2^62`). With
///   f = 16 that is 32768. Data that enters products (features, weights) is
///   checked against this bound when it is loaded.
///
/// The plaintext arithmetic here ([`FixedPoint::mul`], [`FixedPoint::truncate`])
/// is the reference that the MPC protocols reproduce: exactly for additions
/// and ring products, and within one unit in the last place for truncation.
///
/// ```
/// use tessera_tensor::FixedPoint;
///
/// let fp = FixedPoint::new(16)?;
/// let (a, b) = (fp.encode(1.5)?, fp.encode(-2.25)?);
/// assert_eq!(fp.decode(fp.mul(a, b)), -3.375);
/// assert!(fp.encode(f64::NAN).is_err());
/// assert!(fp.encode(1e15).is_err()); // beyond 2^(62-16)
/// # Ok::<(), tessera_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedPoint {
    frac_bits: u32,
}

impl Default for FixedPoint {
    fn default() -> Self {
        Self {
            frac_bits: DEFAULT_FRAC_BITS,
        }
    }
}

impl FixedPoint {
    /// An encoding with `frac_bits` fractional bits; 1..=24 are accepted so
    /// that products of in-range values keep some integer bits.
    pub fn new(frac_bits: u32) -> Result<Self, TensorError> {
        if !(1..=24).contains(&frac_bits) {
            return Err(TensorError::Encode {
                value: frac_bits as f64,
                frac_bits,
                reason: "the number of fractional bits must be between 1 and 24".into(),
            });
        }
        Ok(Self { frac_bits })
    }

    /// Number of fractional bits `f`.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// The encoding of 1.0, `2^f`.
    pub fn one(&self) -> u64 {
        1u64 << self.frac_bits
    }

    /// Largest magnitude accepted by [`FixedPoint::encode`].
    pub fn limit(&self) -> f64 {
        2f64.powi(62 - self.frac_bits as i32)
    }

    /// Largest magnitude whose pairwise products truncate safely.
    pub fn product_limit(&self) -> f64 {
        2f64.powi(31 - self.frac_bits as i32)
    }

    /// The resolution `2^-f`.
    pub fn ulp(&self) -> f64 {
        2f64.powi(-(self.frac_bits as i32))
    }

    /// Encodes `x`, rounding to nearest; NaN, infinities and values beyond
    /// [`FixedPoint::limit`] are errors that name the value and the limit.
    pub fn encode(&self, x: f64) -> Result<u64, TensorError> {
        self.encode_within(x, self.limit())
    }

    /// Encodes `x`, rejecting magnitudes at or beyond `bound` (at most [`FixedPoint::limit`]).
    pub fn encode_within(&self, x: f64, bound: f64) -> Result<u64, TensorError> {
        let bound = bound.min(self.limit());
        if x.is_nan() {
            return Err(self.encode_error(x, "NaN is not a number".into()));
        }
        if x.is_infinite() {
            return Err(self.encode_error(x, "infinity cannot be encoded".into()));
        }
        if x.abs() >= bound {
            return Err(self.encode_error(
                x,
                format!("its magnitude is not below the limit {}", readable(bound)),
            ));
        }
        let scaled = (x * self.one() as f64).round();
        Ok(scaled as i64 as u64)
    }

    fn encode_error(&self, value: f64, reason: String) -> TensorError {
        TensorError::Encode {
            value,
            frac_bits: self.frac_bits,
            reason,
        }
    }

    /// The real number an encoding stands for (as a signed value).
    pub fn decode(&self, v: u64) -> f64 {
        v as i64 as f64 / self.one() as f64
    }

    /// Plaintext truncation: arithmetic shift right by `f` (rounds toward -inf).
    pub fn truncate(&self, v: u64) -> u64 {
        ((v as i64) >> self.frac_bits) as u64
    }

    /// Plaintext fixed-point product: ring product, then truncation.
    pub fn mul(&self, a: u64, b: u64) -> u64 {
        self.truncate(a.wrapping_mul(b))
    }

    /// Encodes every element of an array.
    pub fn encode_array(&self, x: &ArrayD<f64>) -> Result<RingTensor, TensorError> {
        self.encode_array_within(x, self.limit())
    }

    /// Encodes every element, rejecting magnitudes at or beyond `bound`.
    pub fn encode_array_within(
        &self,
        x: &ArrayD<f64>,
        bound: f64,
    ) -> Result<RingTensor, TensorError> {
        let data = x
            .iter()
            .map(|&v| self.encode_within(v, bound))
            .collect::<Result<Vec<_>, _>>()?;
        RingTensor::from_vec(x.shape(), data)
    }

    /// Decodes every element of a ring tensor.
    pub fn decode_tensor(&self, t: &RingTensor) -> ArrayD<f64> {
        t.view().mapv(|v| self.decode(v))
    }

    /// Truncates every element of a ring tensor (plaintext reference).
    pub fn truncate_tensor(&self, t: &RingTensor) -> RingTensor {
        t.map(|v| self.truncate(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixed::types::I48F16;
    use proptest::prelude::*;

    #[test]
    fn rejects_nan_infinity_and_out_of_range() {
        let fp = FixedPoint::default();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e14, -1e14] {
            let err = fp.encode(bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("16 fractional bits"), "{msg}");
        }
        let msg = fp.encode(1e14).unwrap_err().to_string();
        assert!(msg.contains("70368744177664"), "limit named: {msg}");
        assert!(fp.encode_within(40000.0, fp.product_limit()).is_err());
        assert!(fp.encode_within(30000.0, fp.product_limit()).is_ok());
        assert!(FixedPoint::new(0).is_err());
        assert!(FixedPoint::new(25).is_err());
    }

    #[test]
    fn edge_values() {
        let fp = FixedPoint::default();
        let lim = fp.limit();
        let below = lim - 1.0;
        assert_eq!(fp.decode(fp.encode(below).unwrap()), below);
        assert_eq!(fp.decode(fp.encode(-below).unwrap()), -below);
        assert_eq!(fp.encode(fp.ulp()).unwrap(), 1);
        assert_eq!(fp.encode(-fp.ulp()).unwrap(), u64::MAX);
        assert_eq!(fp.encode(0.0).unwrap(), 0);
    }

    proptest! {
        #[test]
        fn encoding_matches_the_fixed_crate(x in -30000.0f64..30000.0) {
            let fp = FixedPoint::default();
            let ours = fp.encode(x).unwrap() as i64;
            let reference = I48F16::from_num(x).to_bits();
            // `fixed` rounds to nearest with ties to even; we round half away from zero.
            prop_assert!((ours - reference).abs() <= 1);
            prop_assert!((fp.decode(ours as u64) - x).abs() <= fp.ulp() / 2.0 + 1e-12);
        }

        #[test]
        fn product_matches_the_fixed_crate(a in -180.0f64..180.0, b in -180.0f64..180.0) {
            let fp = FixedPoint::default();
            let (ea, eb) = (fp.encode(a).unwrap(), fp.encode(b).unwrap());
            let ours = fp.mul(ea, eb) as i64;
            let fa = I48F16::from_bits(ea as i64);
            let fb = I48F16::from_bits(eb as i64);
            // `fixed` multiplies exactly (32 fractional bits); dropping 16 of them rounds toward -inf.
            let wide = fa.wide_mul(fb);
            let reference: i128 = wide.to_bits() >> 16;
            prop_assert_eq!(ours as i128, reference);
        }
    }
}
