//! Distributed deployment: one process per party (and one for the dealer),
//! each on its own host, joined by mutually authenticated TLS.
//!
//! A TOML job file describes the job and every endpoint; each process reads
//! it, uses only its own key and data, connects to the others (in any start
//! order), checks in a handshake that every endpoint runs the same job with a
//! compatible version, and then runs the same per-party program as the
//! embedded mode.

mod handshake;
mod job_file;
mod keygen;
mod runners;

use handshake::*;
pub use job_file::*;
pub use keygen::keygen;
pub use runners::*;

use crate::models::{party_main, Dataset, JobSpec, ModelKind, PartyShape, Split, TrainConfig};
use crate::protocols::channel::SimulatedLink;
use crate::protocols::prep::{Dealer, Provider};
use crate::protocols::runtime::{launch, ProviderLink};
use crate::protocols::tls::{connect_all, LinkOptions, TlsChannel, TlsIdentity};
use crate::protocols::{Channel, Session, Stats};
use crate::tensor::{FixedPoint, Prg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Version of the wire protocol and job format checked at the handshake.
pub const PROTOCOL_VERSION: &str = concat!("tessera-", env!("CARGO_PKG_VERSION"), "/wire-1");

/// Errors of a distributed run, each naming the file, field or peer.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The job file cannot be used.
    #[error("job file {path}: {reason}")]
    JobFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A peer runs a different job or version.
    #[error("{peer} runs a different job: {detail}")]
    Mismatch {
        /// The peer.
        peer: String,
        /// The field that differs and both values.
        detail: String,
    },
    /// Networking failed.
    #[error("{0}")]
    Net(String),
    /// The computation failed.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

/// Certificate name of party `i`.
pub fn party_name(i: usize) -> String {
    format!("party-{i}")
}
