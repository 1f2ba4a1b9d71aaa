//! tessera: privacy-preserving machine learning with secure multi-party
//! computation.
//!
//! Several data holders train and use a model together on data that none of
//! them shows to the others. Every party's data is split into additive secret
//! shares over Z_2^64, fixed-point tensors are computed on as shares, and only
//! the results the parties agreed to reveal are opened.
//!
//! This crate re-exports the layers of the system:
//! [`tensor`] (ring tensors, fixed point, PRG), [`protocols`] (channels,
//! sessions, the trusted dealer, MPC protocols), [`layers`] (backends and
//! layers that run in plaintext and under MPC) and [`models`] (joint training
//! and private inference of linear, logistic, softmax and MLP models).
//!
//! The common path needs none of the protocol machinery: describe a
//! [`Job`], give each party its data, train, and read the model, the metrics
//! and the cost. [`scenarios`] holds complete use cases beyond training
//! (threshold flagging, proof of solvency, pooled statistics, a credit model
//! that is never opened), and [`deploy`] runs one party per process over
//! mutually authenticated TLS.
//!
//! ```
//! use tessera::{models::{Dataset, Split}, Job};
//!
//! // Two banks hold different columns of the same customers; party 0 has the labels.
//! let data = Dataset::from_csv("data/breast_cancer.csv")?;
//! let job = Job::logistic(2).split(Split::Columns).epochs(5).model_to(&[0]);
//! let trained = job.train(&job.split_dataset(&data)?)?;
//! let model = trained.model.expect("party 0 receives the model");
//! assert!(model.metrics.test.unwrap().accuracy.unwrap() > 0.9);
//! // Party 1 never received the weights: only party 0 did.
//! let p1 = &trained.report.parties[1];
//! assert!(p1.model.is_none());
//! # Ok::<(), tessera::models::ModelError>(())
//! ```

pub mod bench;
pub mod deploy;
mod job;
pub mod report;
pub mod scenarios;
pub use tessera_layers as layers;
pub use tessera_models as models;
pub use tessera_protocols as protocols;
pub use tessera_tensor as tensor;

pub use job::{infer_privately, Job, Provider, SimulatedLink, Trained};
pub use report::human_bytes;
