//! The TOML job file: its sections, defaults and checks, and what every
//! endpoint must agree on.

use super::*;

/// The job section: what is trained, shared by every endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    /// linear, logistic, softmax or mlp.
    pub model: ModelKind,
    /// rows or columns.
    pub split: Split,
    /// Passes over the training data.
    #[serde(default = "defaults::epochs")]
    pub epochs: usize,
    /// SGD learning rate.
    #[serde(default = "defaults::learning_rate")]
    pub learning_rate: f64,
    /// Minibatch size.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: usize,
    /// Public seed for the split and batch order.
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Fraction of rows held out for testing.
    #[serde(default = "defaults::test_fraction")]
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
    #[serde(default = "defaults::epoch_eval")]
    pub epoch_eval: bool,
    /// An MLP's convolutional stages (a CNN), e.g.
    /// `[{ channels = 8, kernel = 5, pool = 2 }]`.
    #[serde(default)]
    pub convolutions: Vec<crate::models::ConvSpec>,
    /// The images' `[channels, height, width]`, for a CNN.
    #[serde(default)]
    pub image: Option<[usize; 3]>,
    /// Fixes every share and mask from this seed: reproducible, NOT secure.
    #[serde(default)]
    pub insecure_mpc_seed: Option<u64>,
}

/// Defaults of the job section: those of [`TrainConfig::default`], the
/// same the command line and the `Job` builder start from.
mod defaults {
    use crate::models::TrainConfig;
    pub(super) fn epochs() -> usize {
        TrainConfig::default().epochs
    }
    pub(super) fn learning_rate() -> f64 {
        TrainConfig::default().learning_rate
    }
    pub(super) fn batch_size() -> usize {
        TrainConfig::default().batch_size
    }
    pub(super) fn seed() -> u64 {
        TrainConfig::default().seed
    }
    pub(super) fn test_fraction() -> f64 {
        TrainConfig::default().test_fraction
    }
    pub(super) fn epoch_eval() -> bool {
        TrainConfig::default().epoch_eval
    }
}
pub(crate) fn default_frac_bits() -> u32 {
    crate::tensor::DEFAULT_FRAC_BITS
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

pub(crate) fn default_output() -> crate::models::InferOutput {
    crate::models::InferOutput::Class
}
pub(crate) fn default_predictions() -> PathBuf {
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

pub(crate) fn default_connect() -> f64 {
    30.0
}
pub(crate) fn default_recv() -> f64 {
    60.0
}

impl NetworkSection {
    /// The simulated link the figures describe.
    pub(crate) fn link(&self) -> Result<SimulatedLink, String> {
        SimulatedLink::from_figures(self.delay_ms, self.rate_mbps)
            .map_err(|e| format!("[network]: {e}"))
    }

    /// Refuses timeouts that are not positive and finite, and link figures
    /// [`SimulatedLink::from_figures`] refuses.
    fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("connect_timeout_s", self.connect_timeout_s),
            ("recv_timeout_s", self.recv_timeout_s),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                return Err(format!(
                    "[network] {name} = {v}: give a number of seconds above 0, at most 86400"
                ));
            }
        }
        self.link().map(|_| ())
    }
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
    /// What the parties are trusted to do: `"semi-honest"` (default) or
    /// `"active"` (SPDZ2k MACs; linear and logistic regression with the
    /// dealer so far).
    #[serde(default)]
    pub security: crate::models::Security,
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
        file.network.check().map_err(bad)?;
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
    pub(crate) fn dealer(&self) -> Option<&EndpointSection> {
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
            convolutions: j.convolutions.clone(),
            image: j.image,
        };
        let mut spec = JobSpec::new(self.party.len(), j.split, train);
        spec.label_party = j.label_party;
        spec.frac_bits = j.frac_bits;
        spec.preprocessing = self.preprocessing;
        spec.security = self.security;
        if !j.model_receivers.is_empty() {
            spec.model_receivers = j.model_receivers.clone();
        }
        spec
    }

    /// What every endpoint must agree on: the job, the protocol version and
    /// every endpoint's address (not local paths such as keys and data).
    pub(crate) fn public_description(&self) -> serde_json::Value {
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

    pub(crate) fn options(&self) -> LinkOptions {
        let n = &self.network;
        LinkOptions {
            connect_deadline: Duration::from_secs_f64(n.connect_timeout_s),
            recv_timeout: Duration::from_secs_f64(n.recv_timeout_s),
            // `load` checked the figures.
            link: n.link().unwrap_or_default(),
            ..LinkOptions::default()
        }
    }

    pub(crate) fn address(&self, a: &str) -> Result<SocketAddr, DeployError> {
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
    pub(crate) fn endpoints(&self) -> Result<Vec<(String, SocketAddr)>, DeployError> {
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
