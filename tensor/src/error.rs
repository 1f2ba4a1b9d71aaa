use thiserror::Error;

/// Errors from ring tensor operations, encoding and decoding.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorError {
    /// Two operands have shapes the operation cannot combine.
    #[error("{op}: shapes {left:?} and {right:?} do not match")]
    ShapeMismatch {
        /// The operation that was attempted.
        op: &'static str,
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
    },
    /// A shape does not hold the given number of elements.
    #[error("shape {shape:?} does not hold {len} elements")]
    BadShape {
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements supplied.
        len: usize,
    },
    /// An index or axis is out of range.
    #[error("{op}: index {index} out of range for length {len}")]
    OutOfRange {
        /// The operation that was attempted.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The length of the indexed dimension.
        len: usize,
    },
    /// A real number cannot be encoded in fixed point.
    #[error("cannot encode {} in fixed point with {frac_bits} fractional bits: {reason}", crate::readable(*.value))]
    Encode {
        /// The value that was rejected.
        value: f64,
        /// Fractional bits of the encoding.
        frac_bits: u32,
        /// Why it was rejected, including the limit.
        reason: String,
    },
    /// Bytes received from the wire do not form a valid tensor.
    #[error("malformed tensor bytes: {0}")]
    Wire(String),
    /// A sliding window that does not fit its images.
    #[error("{0}")]
    Window(String),
}
