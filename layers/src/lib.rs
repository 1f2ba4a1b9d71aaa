//! Layers written once and run anywhere: in plaintext `f32`, in plaintext
//! fixed point (the bit-faithful reference of the MPC arithmetic), and under
//! MPC on a party's shares.
//!
//! A [`Backend`] bundles the tensor operations layers need. Layers
//! ([`Linear`], [`Sigmoid`]), losses ([`loss`]) and the optimiser ([`Sgd`])
//! are generic over it, so the same code is tested and benchmarked against
//! plaintext.
//!
//! ```
//! use ndarray::array;
//! use tessera_layers::{Backend, F32Backend, FixedBackend, Linear, Init};
//!
//! let x = array![[1.0, 2.0], [3.0, -1.0]].into_dyn();
//! for out in [
//!     { let mut b = F32Backend; let xt = b.public(&x).unwrap();
//!       let mut l = Linear::new(&mut b, 2, 1, Init::Uniform { seed: 1 }).unwrap();
//!       let y = l.forward(&mut b, &xt).unwrap(); b.reveal(&y, "y").unwrap() },
//!     { let mut b = FixedBackend::default(); let xt = b.public(&x).unwrap();
//!       let mut l = Linear::new(&mut b, 2, 1, Init::Uniform { seed: 1 }).unwrap();
//!       let y = l.forward(&mut b, &xt).unwrap(); b.reveal(&y, "y").unwrap() },
//! ] {
//!     assert_eq!(out.shape(), &[2, 1]);
//! }
//! ```

mod activation;
mod backend;
mod conv;
mod error;
mod gather;
mod linear;
pub mod loss;
mod module;
mod optim;
mod pad;
mod sequential;
mod sigmoid;
pub mod softmax;

pub use activation::{Activation, ActivationLayer, SigmoidKind};
pub use backend::{
    ActiveBackend, Backend, F32Backend, FixedBackend, Function, MpcBackend, MpcSession,
    OwnedBlocks, WindowProduct,
};
pub use conv::{Conv2d, Pool, Pool2d, Window};
pub use error::LayerError;
pub use gather::Gather;
pub use linear::{Init, Linear};
pub use module::Module;
pub use optim::Sgd;
pub use pad::Pad2d;
pub use sequential::Sequential;
pub use sigmoid::{Sigmoid, SIGMOID_CLIP, SIGMOID_MAX_ERROR};

/// Result of a layer operation.
pub type Result<T> = std::result::Result<T, LayerError>;
