use tessera_protocols::ProtocolError;
use tessera_tensor::TensorError;
use thiserror::Error;

/// Errors of layers and backends.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A protocol step failed (network, preprocessing, shapes under MPC).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A tensor operation failed (shapes, encoding).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Shapes that a layer cannot combine.
    #[error("{op}: shapes {left:?} and {right:?} do not match")]
    Shape {
        /// The operation.
        op: &'static str,
        /// Left operand's shape.
        left: Vec<usize>,
        /// Right operand's shape.
        right: Vec<usize>,
    },
    /// A layer was used out of order (for example backward before forward).
    #[error("{0}")]
    Usage(String),
}
