//! Joint training jobs: what is trained, how the data is split among the
//! parties, and the per-party program that trains it under MPC.

mod partition;
mod party;
mod runners;
mod standardise;

pub use partition::*;
pub use party::*;
pub use runners::*;
use standardise::*;

use crate::data::{train_test_indices, Dataset};
use crate::error::{ModelError, Result};
use crate::infer::SharedModel;
use crate::model::{Metrics, SavedModel, Scaling};
pub use crate::spec::*;
use crate::train::{
    evaluate, evaluate_data, fit_observed, ignore_events, Evaluation, Fitted, Observer,
};
use ndarray::{Array2, ArrayD, Axis};
use serde::{Deserialize, Serialize};
use tessera_layers::{
    ActiveBackend, Backend, F32Backend, FixedBackend, MpcBackend, MpcSession, OwnedBlocks,
};
use tessera_protocols::channel::SimulatedLink;
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig, RunCost};
use tessera_protocols::{Opening, Session};
use tessera_tensor::FixedPoint;
