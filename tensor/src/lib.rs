//! Ring tensors over Z_2^64 for tessera.
//!
//! Everything secret in tessera is a tensor of `u64` with wrapping arithmetic:
//! additive shares, masked openings and fixed-point encodings all live in the
//! ring Z_2^64. This crate owns that ring tensor type and what every layer
//! above needs from it, and knows nothing of parties or networks:
//!
//! * [`RingTensor`]: elementwise ring arithmetic, broadcasting, sums, slicing,
//!   concatenation and a fast ring matrix product ([`matmul`]).
//! * [`FixedPoint`]: encoding reals as `round(x * 2^f) mod 2^64` with range
//!   checks, and the plaintext truncation that the protocols reproduce.
//! * [`Prg`]: the one seeded cryptographic PRG (AES-128 in counter mode) that draws shares,
//!   masks and dealer material.
//! * [`wire`]: compact byte encoding of tensors with limits on decoding.
//!
//! Additive secret sharing in three lines: two random-looking shares that
//! add up, in the ring, to the fixed-point encoding of a secret.
//!
//! ```
//! use tessera_tensor::{FixedPoint, Prg, RingTensor};
//!
//! let fp = FixedPoint::default(); // 16 fractional bits
//! let secret = RingTensor::from_vec(&[2], vec![fp.encode(3.25)?, fp.encode(-1.5)?])?;
//! let share0 = Prg::from_seed([7; 32]).uniform(&[2]);
//! let share1 = secret.sub(&share0)?;
//! let opened = share0.add(&share1)?;
//! assert_eq!(fp.decode(opened.as_slice()[0]), 3.25);
//! assert_eq!(fp.decode(opened.as_slice()[1]), -1.5);
//! # Ok::<(), tessera_tensor::TensorError>(())
//! ```

mod error;
mod fixed_point;
pub mod matmul;
mod prg;
mod ring;
mod window;
pub mod wire;

pub use error::TensorError;
pub use fixed_point::{readable, FixedPoint, DEFAULT_FRAC_BITS};
pub use prg::{Prg, Seed};
pub use ring::RingTensor;
pub use window::SlidingWindow;
