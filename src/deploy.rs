//! Distributed deployment: one process per party (and one for the dealer),
//! each on its own host, joined by mutually authenticated TLS.
//!
//! A TOML job file describes the job and every endpoint; each process reads
//! it, uses only its own key and data, connects to the others (in any start
//! order), checks in a handshake that every endpoint runs the same job with a
//! compatible version, and then runs the same per-party program as the
//! embedded mode.

use crate::models::{party_main, Dataset, JobSpec, ModelKind, PartyShape, Split, TrainConfig};
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

/// The job section: what is trained, shared by every endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// linear, logistic, softmax or mlp.
    pub model: ModelKind,
    /// rows or columns.
    pub split: Split,
    /// Passes over the training data.
    pub epochs: usize,
    /// SGD learning rate.
    pub learning_rate: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Public seed for the split and batch order.
    pub seed: u64,
    /// Fraction of rows held out for testing.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Party holding the labels in a split by columns.
    #[serde(default)]
    pub label_party: usize,
    /// Parties receiving the model (default: all).
    #[serde(default)]
    pub model_receivers: Vec<usize>,
    /// Fixed-point fractional bits.
    #[serde(default = "default_frac_bits")]
    pub frac_bits: u32,
    /// Classes of a softmax model.
    #[serde(default)]
    pub classes: usize,
    /// Hidden widths of an MLP.
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Polynomial ReLU degree of an MLP.
    #[serde(default)]
    pub relu_degree: Option<u8>,
    /// SGD momentum.
    #[serde(default)]
    pub momentum: f64,
    /// Evaluate on the held-out rows after every epoch (one more opening per epoch).
    #[serde(default)]
    pub epoch_eval: bool,
    /// Fixes every share and mask from this seed: reproducible, NOT secure.
    #[serde(default)]
    pub insecure_mpc_seed: Option<u64>,
}

fn default_test_fraction() -> f64 {
    0.2
}
fn default_frac_bits() -> u32 {
    16
}

/// A private-inference job: the owner's model scores the querier's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceSection {
    /// The model file, on the owner's host.
    pub model: PathBuf,
    /// Party holding the model.
    pub owner: usize,
    /// Party holding the rows (its `data` file) and receiving the predictions.
    pub querier: usize,
    /// "class" or "scores".
    #[serde(default = "default_output")]
    pub output: crate::models::InferOutput,
    /// Where the querier writes the predictions (CSV).
    #[serde(default = "default_predictions")]
    pub out: PathBuf,
    /// Fixes every share and mask from this seed: reproducible, NOT secure.
    #[serde(default)]
    pub insecure_mpc_seed: Option<u64>,
}

fn default_output() -> crate::models::InferOutput {
    crate::models::InferOutput::Class
}
fn default_predictions() -> PathBuf {
    PathBuf::from("predictions.csv")
}

/// One endpoint: where it listens and its certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSection {
    /// `host:port` it listens on and peers dial.
    pub address: String,
    /// Its certificate (PEM), signed by the job's CA.
    pub cert: PathBuf,
    /// Its private key (PEM); only this endpoint's host needs the file.
    pub key: PathBuf,
    /// A party's CSV file (parties only).
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// Where a party writes the model it receives (default `model-party-I.json`).
    #[serde(default)]
    pub model_out: Option<PathBuf>,
}

/// Timeouts and the simulated link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Seconds to keep dialing peers that have not started yet.
    #[serde(default = "default_connect")]
    pub connect_timeout_s: f64,
    /// Seconds a receive waits before the peer counts as lost.
    #[serde(default = "default_recv")]
    pub recv_timeout_s: f64,
    /// Simulated one-way latency in milliseconds.
    #[serde(default)]
    pub delay_ms: f64,
    /// Simulated bandwidth in megabits per second (0: unlimited).
    #[serde(default)]
    pub rate_mbps: f64,
}

fn default_connect() -> f64 {
    30.0
}
fn default_recv() -> f64 {
    60.0
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            connect_timeout_s: default_connect(),
            recv_timeout_s: default_recv(),
            delay_ms: 0.0,
            rate_mbps: 0.0,
        }
    }
}

/// The CA every certificate must chain to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// CA certificate (PEM).
    pub ca: PathBuf,
}

/// A whole job file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// What is trained (for a training job).
    #[serde(default)]
    pub job: Option<JobSection>,
    /// What is predicted (for a private-inference job).
    #[serde(default)]
    pub inference: Option<InferenceSection>,
    /// The CA.
    pub tls: TlsSection,
    /// Timeouts and link simulation.
    #[serde(default)]
    pub network: NetworkSection,
    /// Where the correlated randomness comes from: `"dealer"` (default; needs
    /// the `[dealer]` section) or `"ot"` (the parties make it; no dealer).
    #[serde(default)]
    pub preprocessing: Provider,
    /// The dealer (with `preprocessing = "dealer"` only).
    #[serde(default)]
    pub dealer: Option<EndpointSection>,
    /// The parties, in id order.
    pub party: Vec<EndpointSection>,
    /// Directory of the file (relative paths are resolved against it).
    #[serde(skip)]
    pub base: PathBuf,
}

impl JobFile {
    /// Reads and checks a job file.
    pub fn load(path: &Path) -> Result<Self, DeployError> {
        let bad = |reason: String| DeployError::JobFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut file: JobFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        file.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        match (&file.job, &file.inference) {
            (Some(_), None) => {
                file.spec().validate().map_err(|e| bad(e.to_string()))?;
                for (i, p) in file.party.iter().enumerate() {
                    if p.data.is_none() {
                        return Err(bad(format!("[[party]] {i} has no data file")));
                    }
                }
            }
            (None, Some(inf)) => {
                let n = file.party.len();
                if inf.owner >= n || inf.querier >= n || inf.owner == inf.querier {
                    return Err(bad(format!("[inference] owner {} and querier {} must be two different parties among {n}", inf.owner, inf.querier)));
                }
                if file.party[inf.querier].data.is_none() {
                    return Err(bad(format!("the querier, [[party]] {}, has no data file", inf.querier)));
                }
            }
            _ => return Err(bad("the file needs exactly one of a [job] section (training) and an [inference] section".into())),
        }
        if file.party.len() < 2 {
            return Err(bad("at least two [[party]] entries are needed".into()));
        }
        if file.preprocessing == Provider::Dealer && file.dealer.is_none() {
            return Err(bad(
                "a [dealer] section is needed (or set preprocessing = \"ot\" for no dealer)".into(),
            ));
        }
        Ok(file)
    }

    /// The dealer's section, if this job uses one.
    fn dealer(&self) -> Option<&EndpointSection> {
        self.dealer
            .as_ref()
            .filter(|_| self.preprocessing == Provider::Dealer)
    }

    /// Resolves a path of the file against its directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// The job as the models crate describes it.
    ///
    /// Panics if the file has no `[job]` section ([`JobFile::load`] checks).
    pub fn spec(&self) -> JobSpec {
        let j = self.job.as_ref().expect("a training job");
        let train = TrainConfig {
            model: j.model,
            epochs: j.epochs,
            learning_rate: j.learning_rate,
            batch_size: j.batch_size,
            seed: j.seed,
            test_fraction: j.test_fraction,
            classes: j.classes,
            hidden: j.hidden.clone(),
            relu_degree: j.relu_degree,
            momentum: j.momentum,
            epoch_eval: j.epoch_eval,
        };
        let mut spec = JobSpec::new(self.party.len(), j.split, train);
        spec.label_party = j.label_party;
        spec.frac_bits = j.frac_bits;
        spec.preprocessing = self.preprocessing;
        if !j.model_receivers.is_empty() {
            spec.model_receivers = j.model_receivers.clone();
        }
        spec
    }

    /// What every endpoint must agree on: the job, the protocol version and
    /// every endpoint's address (not local paths such as keys and data).
    fn public_description(&self) -> serde_json::Value {
        serde_json::json!({
            "version": PROTOCOL_VERSION,
            "job": self.job,
            "inference": self.inference.as_ref().map(|i| serde_json::json!({
                "owner": i.owner, "querier": i.querier, "output": i.output,
                "insecure_mpc_seed": i.insecure_mpc_seed,
            })),
            "preprocessing": self.preprocessing,
            "dealer": self.dealer().map(|d| d.address.clone()),
            "parties": self.party.iter().map(|p| p.address.clone()).collect::<Vec<_>>(),
        })
    }

    fn options(&self) -> LinkOptions {
        let n = &self.network;
        LinkOptions {
            connect_deadline: Duration::from_secs_f64(n.connect_timeout_s),
            recv_timeout: Duration::from_secs_f64(n.recv_timeout_s),
            delay: Duration::from_secs_f64(n.delay_ms / 1000.0),
            rate: (n.rate_mbps > 0.0).then(|| n.rate_mbps * 1e6 / 8.0),
            ..LinkOptions::default()
        }
    }

    fn address(&self, a: &str) -> Result<SocketAddr, DeployError> {
        use std::net::ToSocketAddrs;
        a.to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(|| DeployError::JobFile {
                path: self.base.clone(),
                reason: format!("cannot resolve address '{a}'"),
            })
    }

    /// Every endpoint's certificate name and address.
    fn endpoints(&self) -> Result<Vec<(String, SocketAddr)>, DeployError> {
        let mut v: Vec<(String, SocketAddr)> = Vec::new();
        for (i, p) in self.party.iter().enumerate() {
            v.push((party_name(i), self.address(&p.address)?));
        }
        if let Some(d) = self.dealer() {
            v.push(("dealer".into(), self.address(&d.address)?));
        }
        Ok(v)
    }
}

/// Certificate name of party `i`.
pub fn party_name(i: usize) -> String {
    format!("party-{i}")
}

/// First field where two JSON values differ, as a path, with both values.
fn first_difference(
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
    path: &str,
) -> Option<String> {
    use serde_json::Value;
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                first_difference(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &p,
                )
            })
        }
        (a, b) if a != b => Some(format!("field '{path}': ours is {a}, theirs is {b}")),
        _ => None,
    }
}

/// The handshake message of one endpoint.
#[derive(Serialize, Deserialize)]
struct Hello {
    job: serde_json::Value,
    shape: Option<PartyShape>,
    /// In private inference, the owner's public model architecture.
    #[serde(default)]
    arch: Option<crate::models::InferSpec>,
}

/// Links to every peer, and each peer's declared data shape.
type Handshaken = (
    HashMap<String, TlsChannel>,
    HashMap<String, (Option<PartyShape>, Option<crate::models::InferSpec>)>,
);

/// Connects, sends our hello on every link and checks every peer's.
fn handshake(
    file: &JobFile,
    me: &str,
    my_address: &str,
    cert: &Path,
    key: &Path,
    shape: Option<PartyShape>,
    arch: Option<crate::models::InferSpec>,
) -> Result<Handshaken, DeployError> {
    let identity = TlsIdentity::load(&file.path(&file.tls.ca), &file.path(cert), &file.path(key))
        .map_err(|e| DeployError::Net(e.to_string()))?;
    let listener = TcpListener::bind(file.address(my_address)?)
        .map_err(|e| DeployError::Net(format!("{me}: cannot listen on {my_address}: {e}")))?;
    let peers: Vec<(String, SocketAddr)> = file
        .endpoints()?
        .into_iter()
        .filter(|(n, _)| n != me)
        .collect();
    tracing::info!(
        endpoint = me,
        listen = my_address,
        peers = peers.len(),
        "connecting over mutual TLS"
    );
    let mut links = connect_all(me, listener, &peers, &identity, &file.options())
        .map_err(|e| DeployError::Net(format!("{me}: {e}")))?;
    tracing::info!(
        endpoint = me,
        "connected; checking every endpoint runs the same job"
    );
    let ours = file.public_description();
    let hello = serde_json::to_vec(&Hello {
        job: ours.clone(),
        shape,
        arch,
    })
    .expect("hello serialises");
    for (name, link) in links.iter_mut() {
        link.send(hello.clone()).map_err(|e| {
            DeployError::Net(format!("{me}: lost {name} during the handshake: {e}"))
        })?;
    }
    let mut shapes = HashMap::new();
    for (name, _) in &peers {
        let link = links.get_mut(name).expect("linked");
        let frame = link
            .recv()
            .map_err(|e| DeployError::Net(format!("{me}: no handshake from {name}: {e}")))?;
        let theirs: Hello = serde_json::from_slice(&frame).map_err(|e| DeployError::Mismatch {
            peer: name.clone(),
            detail: format!("unreadable handshake ({e}); is it a tessera endpoint?"),
        })?;
        if let Some(detail) = first_difference(&ours, &theirs.job, "") {
            return Err(DeployError::Mismatch {
                peer: name.clone(),
                detail,
            });
        }
        shapes.insert(name.clone(), (theirs.shape, theirs.arch));
    }
    Ok((links, shapes))
}

/// The master PRG of a run: from the insecure seed (reproducible, identical to
/// the embedded mode's) or from the operating system.
fn master_prg(file: &JobFile) -> Prg {
    let seed = match (&file.job, &file.inference) {
        (Some(j), _) => j.insecure_mpc_seed,
        (None, Some(i)) => i.insecure_mpc_seed,
        (None, None) => None,
    };
    match seed {
        Some(s) => {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&s.to_le_bytes());
            Prg::from_seed(k)
        }
        None => Prg::from_entropy(),
    }
}

/// What one party's run reports, written as JSON next to its model.
#[derive(Debug, Clone, Serialize)]
pub struct PartyMetrics {
    /// The party.
    pub party: usize,
    /// Peer names, in the order of the counters.
    pub peers: Vec<String>,
    /// Counters: bytes per peer, rounds, dealer bytes and wait.
    pub stats: Stats,
    /// Seconds to connect and handshake.
    pub connect_s: f64,
    /// Seconds of the computation.
    pub compute_s: f64,
    /// Of which waiting for the dealer (preprocessing).
    pub preprocessing_s: f64,
    /// Of which the rest (online).
    pub online_s: f64,
    /// Training loss per epoch.
    pub epoch_losses: Vec<f64>,
    /// Train and test quality.
    pub metrics: crate::models::Metrics,
    /// Who was trusted.
    pub trust: String,
    /// Where the model was written, if this party received it.
    pub model_path: Option<PathBuf>,
}

/// This party's session over its TLS links: the PRG derived as in the
/// embedded runtime, and the provider set up by the same launcher.
fn open_session(
    file: &JobFile,
    id: usize,
    mut links: HashMap<String, TlsChannel>,
    frac_bits: u32,
) -> Result<Session, DeployError> {
    let n = file.party.len();
    let mut master = master_prg(file);
    // The dealer's stream comes first, as in the embedded runtime.
    let _dealer_prg = master.fork();
    let prg = (0..=id).map(|_| master.fork()).last().expect("id >= 0");
    let provider = match links.remove("dealer") {
        Some(link) => ProviderLink::Dealer(Box::new(link)),
        None => ProviderLink::Ot,
    };
    let channels: Vec<Option<Box<dyn Channel>>> = (0..n)
        .map(|p| {
            if p == id {
                None
            } else {
                Some(Box::new(links.remove(&party_name(p)).expect("linked")) as Box<dyn Channel>)
            }
        })
        .collect();
    let fixed = FixedPoint::new(frac_bits).map_err(|e| DeployError::JobFile {
        path: file.base.clone(),
        reason: e.to_string(),
    })?;
    Ok(launch(id, fixed, channels, provider, prg).map_err(crate::models::ModelError::from)?)
}

/// What one party of an inference job reports.
#[derive(Debug, Clone, Serialize)]
pub struct InferMetrics {
    /// The party.
    pub party: usize,
    /// Counters.
    pub stats: Stats,
    /// Seconds to connect and handshake.
    pub connect_s: f64,
    /// Seconds of the computation.
    pub compute_s: f64,
    /// Where the predictions were written (the querier only).
    pub predictions_path: Option<PathBuf>,
    /// The predictions (the querier only).
    #[serde(skip)]
    pub predictions: Option<Vec<Vec<f64>>>,
}

/// Runs party `id` of a private-inference job file: the owner contributes
/// its model, the querier its rows, and only the querier learns the predictions.
pub fn run_inference_party(file: &JobFile, id: usize) -> Result<InferMetrics, DeployError> {
    use crate::models::{party_infer, InferSpec, SavedModel};
    let inf = file.inference.as_ref().expect("an inference job");
    let n = file.party.len();
    let me = file.party.get(id).ok_or_else(|| DeployError::JobFile {
        path: file.base.clone(),
        reason: format!("there is no party {id} (the file lists {n})"),
    })?;
    let start = Instant::now();
    let model = if id == inf.owner {
        Some(SavedModel::load(file.path(&inf.model))?)
    } else {
        None
    };
    let rows = if id == inf.querier {
        Some(Dataset::from_csv(
            file.path(me.data.as_ref().expect("checked at load")),
        )?)
    } else {
        None
    };
    let shape = rows.as_ref().map(|d| PartyShape {
        rows: d.rows(),
        features: d.feature_names.clone(),
    });
    // The owner announces the architecture (not the weights), sized for one row.
    let arch = match &model {
        Some(m) => Some(InferSpec::new(m, n, inf.owner, inf.querier, inf.output, 1)?),
        None => None,
    };
    let name = party_name(id);
    let (links, peers) = handshake(
        file,
        &name,
        &me.address,
        &me.cert,
        &me.key,
        shape.clone(),
        arch.clone(),
    )?;
    let arch = arch
        .or_else(|| {
            peers
                .get(&party_name(inf.owner))
                .and_then(|(_, a)| a.clone())
        })
        .ok_or_else(|| DeployError::Mismatch {
            peer: party_name(inf.owner),
            detail: "the owner sent no model architecture".into(),
        })?;
    let rows_n = shape
        .or_else(|| {
            peers
                .get(&party_name(inf.querier))
                .and_then(|(s, _)| s.clone())
        })
        .ok_or_else(|| DeployError::Mismatch {
            peer: party_name(inf.querier),
            detail: "the querier sent no data shape".into(),
        })?
        .rows;
    let spec = InferSpec {
        rows: rows_n,
        ..arch
    };
    // Party 0 lists the dealer's material with a dry run, so the dealer
    // makes it while the parties compute rather than one round trip at a time.
    let fixed = crate::tensor::FixedPoint::new(spec.frac_bits)
        .map_err(|e| crate::models::ModelError::Config(e.to_string()))?;
    let plan = match (id, file.preprocessing) {
        (0, Provider::Dealer) => crate::models::plan_infer(&spec, model.as_ref(), fixed)?,
        _ => Vec::new(),
    };
    let connect_s = start.elapsed().as_secs_f64();
    let compute = Instant::now();
    let mut sess = open_session(file, id, links, spec.frac_bits)?;
    sess.prep()
        .plan(&plan)
        .map_err(crate::models::ModelError::from)?;
    let predictions = party_infer(&mut sess, &spec, model.as_ref(), rows.as_ref())?;
    sess.finish().map_err(crate::models::ModelError::from)?;
    let predictions_path = match &predictions {
        Some(p) => {
            let path = file.path(&inf.out);
            // The same file as `tessera infer --out`: a header, then a row each.
            let what = match spec.output {
                crate::models::InferOutput::Class => crate::report::Columns::Class,
                crate::models::InferOutput::Scores => crate::report::Columns::Scores,
            };
            let classes = spec.dims.last().copied().unwrap_or(1);
            let text = crate::report::predictions_csv(spec.kind, classes, p, what);
            std::fs::write(&path, text)
                .map_err(|e| DeployError::Net(format!("cannot write {}: {e}", path.display())))?;
            Some(path)
        }
        None => None,
    };
    Ok(InferMetrics {
        party: id,
        stats: sess.stats(),
        connect_s,
        compute_s: compute.elapsed().as_secs_f64(),
        predictions_path,
        predictions,
    })
}

/// Runs party `id` of a job file to the end.
pub fn run_party(file: &JobFile, id: usize) -> Result<PartyMetrics, DeployError> {
    let n = file.party.len();
    let me = file.party.get(id).ok_or_else(|| DeployError::JobFile {
        path: file.base.clone(),
        reason: format!("there is no party {id} (the file lists {n})"),
    })?;
    let start = Instant::now();
    let data = Dataset::from_csv(file.path(me.data.as_ref().expect("checked at load")))?;
    let spec = file.spec();
    crate::models::check_own_data(&spec, id, &data)?;
    let my_shape = PartyShape {
        rows: data.rows(),
        features: data.feature_names.clone(),
    };
    let name = party_name(id);
    let (links, peer_shapes) = handshake(
        file,
        &name,
        &me.address,
        &me.cert,
        &me.key,
        Some(my_shape.clone()),
        None,
    )?;
    let shapes: Vec<PartyShape> = (0..n)
        .map(|p| {
            if p == id {
                Ok(my_shape.clone())
            } else {
                peer_shapes
                    .get(&party_name(p))
                    .and_then(|(s, _)| s.clone())
                    .ok_or_else(|| DeployError::Mismatch {
                        peer: party_name(p),
                        detail: "sent no data shape".into(),
                    })
            }
        })
        .collect::<Result<_, _>>()?;
    let connect_s = start.elapsed().as_secs_f64();
    let compute = Instant::now();
    let mut sess = open_session(file, id, links, spec.frac_bits)?;
    crate::models::check_parties_shapes(&spec, &shapes)?;
    let result = party_main(&mut sess, &spec, &shapes, &data)?;
    sess.finish().map_err(crate::models::ModelError::from)?;
    let compute_s = compute.elapsed().as_secs_f64();
    let stats = sess.stats();
    let model_path = match &result.model {
        Some(m) => {
            let path = file.path(
                &me.model_out
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("model-party-{id}.json"))),
            );
            m.save(&path)?;
            Some(path)
        }
        None => None,
    };
    Ok(PartyMetrics {
        party: id,
        peers: (0..n).map(party_name).collect(),
        preprocessing_s: stats.preprocessing_wait_s,
        online_s: compute_s - stats.preprocessing_wait_s,
        stats,
        connect_s,
        compute_s,
        epoch_losses: result.epoch_losses,
        metrics: result.metrics,
        trust: result.trust,
        model_path,
    })
}

/// Runs the dealer of a job file until party 0 is done.
pub fn run_dealer(file: &JobFile) -> Result<u64, DeployError> {
    let Some(d) = file.dealer() else {
        return Err(DeployError::JobFile {
            path: file.base.clone(),
            reason: "this job has no dealer: preprocessing = \"ot\" makes the parties \
                     generate their correlated randomness themselves"
                .into(),
        });
    };
    let (mut links, _) = handshake(file, "dealer", &d.address, &d.cert, &d.key, None, None)?;
    let mut master = master_prg(file);
    let prg = master.fork();
    let channels: Vec<Box<dyn Channel>> = (0..file.party.len())
        .map(|p| Box::new(links.remove(&party_name(p)).expect("linked")) as Box<dyn Channel>)
        .collect();
    let dealer = Dealer::start(channels, prg).map_err(crate::models::ModelError::from)?;
    Ok(dealer.serve().map_err(crate::models::ModelError::from)?)
}

/// Writes a CA and a certificate and key for each party and the dealer into
/// `dir`, with private keys readable by their owner only, plus an example job file.
pub fn keygen(
    dir: &Path,
    parties: usize,
    preprocessing: Provider,
) -> Result<Vec<PathBuf>, DeployError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    if parties < 2 {
        return Err(DeployError::Net(format!(
            "keygen: a job needs at least 2 parties, got {parties}"
        )));
    }
    let with_dealer = preprocessing == Provider::Dealer;
    let err = |e: &dyn std::fmt::Display| DeployError::Net(format!("keygen: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    let mut written = Vec::new();
    let write = |name: &str,
                 text: &str,
                 private: bool,
                 written: &mut Vec<PathBuf>|
     -> Result<(), DeployError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| err(&format!("{}: {e}", path.display())))?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(&e))?;
        }
        written.push(path);
        Ok(())
    };
    let ca_key = KeyPair::generate().map_err(|e| err(&e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tessera job CA");
    let ca = ca_params.self_signed(&ca_key).map_err(|e| err(&e))?;
    write("ca.pem", &ca.pem(), false, &mut written)?;
    write("ca.key", &ca_key.serialize_pem(), true, &mut written)?;
    let names: Vec<String> = (0..parties)
        .map(party_name)
        .chain(with_dealer.then(|| "dealer".to_string()))
        .collect();
    for name in &names {
        let key = KeyPair::generate().map_err(|e| err(&e))?;
        let mut params = CertificateParams::new(vec![name.clone()]).map_err(|e| err(&e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, name.clone());
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(|e| err(&e))?;
        write(&format!("{name}.pem"), &cert.pem(), false, &mut written)?;
        write(
            &format!("{name}.key"),
            &key.serialize_pem(),
            true,
            &mut written,
        )?;
    }
    let mut example =
        String::from("# A tessera job: copy to each host, edit addresses and data paths.\n");
    if !with_dealer {
        example += "# No dealer: the parties make their correlated randomness by oblivious transfer.\npreprocessing = \"ot\"\n";
    }
    example += "[job]\nmodel = \"logistic\"\nsplit = \"rows\"\nepochs = 10\nlearning_rate = 0.5\nbatch_size = 32\nseed = 42\n\n[tls]\nca = \"ca.pem\"\n\n[network]\nconnect_timeout_s = 30\nrecv_timeout_s = 60\n";
    if with_dealer {
        example += "\n[dealer]\naddress = \"127.0.0.1:7100\"\ncert = \"dealer.pem\"\nkey = \"dealer.key\"\n";
    }
    for i in 0..parties {
        example += &format!("\n[[party]]\naddress = \"127.0.0.1:{}\"\ncert = \"party-{i}.pem\"\nkey = \"party-{i}.key\"\ndata = \"party-{i}.csv\"\n", 7101 + i);
    }
    write("job.example.toml", &example, false, &mut written)?;
    Ok(written)
}
