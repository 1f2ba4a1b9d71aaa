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
//! of linear and logistic regression).
//!
//! ```
//! use tessera::models::{partition, run_job_embedded, Dataset, JobSpec, Split, TrainConfig};
//!
//! let text = "a,b,label\n0,1,0\n1,0,1\n0,2,0\n2,0,1\n0,3,0\n3,0,1\n0,4,0\n4,0,1\n";
//! let data = Dataset::parse(std::path::Path::new("toy.csv"), text).unwrap();
//! let parts = partition(&data, 2, Split::Columns, 0).unwrap();
//! let spec = JobSpec::new(2, Split::Columns, TrainConfig { test_fraction: 0.0, ..Default::default() });
//! let report = run_job_embedded(&spec, &parts, None).unwrap();
//! let model = report.model().unwrap();
//! assert_eq!(model.metrics.train.accuracy, Some(1.0));
//! ```

pub mod deploy;
pub mod report;
pub mod scenarios;
pub use tessera_layers as layers;
pub use tessera_models as models;
pub use tessera_protocols as protocols;
pub use tessera_tensor as tensor;

pub use report::human_bytes;
