//! The MPC layer of tessera: networks, party sessions, preprocessing and the
//! protocols that compute on additively secret-shared ring tensors.
//!
//! * [`channel`]: the [`Channel`] trait (frames between two parties) and its
//!   in-memory implementation.
//! * [`session`]: a party's [`Session`] (id, n, links, pairwise PRGs,
//!   counters, record of openings).
//! * [`share`]: [`AShare`] (additive mod 2^64) and [`BShare`] (XOR) shares.
//! * [`prep`]: the [`Preprocessing`] trait and the trusted dealer.
//! * [`arith`]: input, reveal, Beaver products, matrix products, truncation.
//! * [`data`]: training data read by rows: masked once, or owned in the clear.
//! * [`binary`]: AND gates, most significant bit, comparison, ReLU.
//! * [`engine`]: the seam ([`engine::Engine`]) that lets one protocol run
//!   on semi-honest and on authenticated shares.
//! * [`approx`]: exp, reciprocal, sigmoid and friends, for both modes.
//! * [`runtime`]: the embedded runtime running all parties as threads.
//!
//! **Security model.** Semi-honest parties, dishonest majority: a party's
//! inputs stay hidden even if all other computing parties collude, provided
//! the dealer colludes with none of them (see [`prep::DEALER_TRUST`]). Only
//! values passed to [`arith::reveal`] or [`arith::reveal_to`] are opened, and
//! each opening is recorded in [`Session::openings`].
//!
//! ```
//! use tessera_protocols::{arith, runtime::{run_embedded, EmbeddedConfig}, ProtocolError};
//! use tessera_tensor::RingTensor;
//!
//! // Party 0 holds 6, party 1 holds 7; they learn only the product.
//! let out = run_embedded(&EmbeddedConfig::new(2), |sess| -> Result<u64, ProtocolError> {
//!     let mine = RingTensor::from_vec(&[1], vec![6 + sess.id() as u64])?;
//!     let x = arith::share_input(sess, 0, (sess.id() == 0).then_some(&mine), &[1])?;
//!     let y = arith::share_input(sess, 1, (sess.id() == 1).then_some(&mine), &[1])?;
//!     let z = arith::mul(sess, &x, &y)?;
//!     Ok(arith::reveal(sess, &z, "product")?.as_slice()[0])
//! })
//! .unwrap();
//! assert_eq!(out[0].value, 42);
//! assert_eq!(out[1].value, 42);
//! ```

pub mod active;
pub mod approx;
pub mod arith;
pub mod binary;
pub mod channel;
pub mod compare;
pub mod data;
pub mod engine;
mod error;
pub mod max;
pub mod prep;
pub mod runtime;
pub mod session;
pub mod share;
mod shared_tree;
pub mod tls;

pub use channel::{Channel, NetError};
pub use error::{ProtocolError, Result};
pub use prep::Preprocessing;
pub use session::{Opening, PartyId, Session, Stats};
pub use share::{AShare, BShare};
