//! The seed use cases of tessera as small library functions, each run with
//! every party as a thread of this process (the `examples/` call them).
//!
//! * [`flagging`]: banks flag large transactions and accounts whose combined
//!   balance exceeds a threshold; only the flags reach the auditor.
//! * [`solvency`]: a firm's books, spread over custodians, prove assets cover
//!   liabilities; only the answer (or a reserve-ratio bucket) is opened.
//! * [`statistics`]: hospitals pool count, mean, variance and a histogram of
//!   one column; only those aggregates are opened.
//! * [`credit`]: banks train a credit model on their customers without
//!   opening it, then score applicants for one bank only.
//! * [`dark_pool`]: traders clear secret buy and sell orders at one price;
//!   everyone learns the price and volume, each trader only its own fills.
//!
//! Every scenario returns, for every party, the record of what was opened
//! to it ([`PartyView`]): a reader (and the tests) can check that nothing
//! beyond the declared outputs was revealed.

pub mod credit;
pub mod dark_pool;
pub mod flagging;
pub mod solvency;
pub mod statistics;

use crate::models::{ModelError, Result, Security};
use crate::protocols::prep::Provider;
use crate::protocols::runtime::{run_embedded, EmbeddedConfig, PartyOutcome};
use crate::protocols::{Opening, PartyId, Session};
use serde::Serialize;

/// What one party learned during a scenario: every value opened to it.
#[derive(Debug, Clone, Serialize)]
pub struct PartyView {
    /// The party's id.
    pub party: PartyId,
    /// Its role in the scenario, e.g. `"bank_a"` or `"auditor"`.
    pub role: String,
    /// The openings it received (to all parties, or to it alone).
    pub learned: Vec<Opening>,
}

impl PartyView {
    /// The labels of everything this party learned, in order.
    pub fn labels(&self) -> Vec<&str> {
        self.learned.iter().map(|o| o.label.as_str()).collect()
    }
}

/// What every party learned, one line per opening (repeated openings,
/// such as one loss per epoch, once with a count), and a line for parties
/// that learned nothing: for the examples and the CLI to print.
pub fn describe_views(views: &[PartyView]) -> String {
    let mut out =
        String::from("what each party learned (every opening, as recorded by the protocol):\n");
    for v in views {
        if v.learned.is_empty() {
            out += &format!("  party {} ({}): nothing\n", v.party, v.role);
            continue;
        }
        out += &format!("  party {} ({}):\n", v.party, v.role);
        let mut i = 0;
        while i < v.learned.len() {
            let o = &v.learned[i];
            let same = v.learned[i..].iter().take_while(|p| *p == o).count();
            let whom = if o.to.is_some() {
                "to it alone"
            } else {
                "to all"
            };
            let times = if same > 1 {
                format!(" x{same}")
            } else {
                String::new()
            };
            out += &format!("    - {} {:?} ({whom}){times}\n", o.label, o.shape);
            i += same;
        }
    }
    out
}

/// Counters of a scenario run: bytes and rounds per party, wall time.
pub type Cost = crate::protocols::runtime::RunCost;

/// How a scenario's parties run their MPC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MpcOptions {
    /// Fixes all MPC randomness (reproducible; for tests only, never on real data).
    pub seed: Option<[u8; 32]>,
    /// Where the correlated randomness comes from.
    pub preprocessing: Provider,
    /// Semi-honest, or active (a deviating party is caught before any
    /// result is released; the dealer makes the material).
    pub security: Security,
}

impl MpcOptions {
    /// OS randomness, with the given provider.
    pub fn with(preprocessing: Provider) -> Self {
        Self {
            preprocessing,
            ..Self::default()
        }
    }

    /// A fixed seed (insecure: for tests), with the dealer.
    pub fn seeded(seed: [u8; 32]) -> Self {
        Self {
            seed: Some(seed),
            ..Self::default()
        }
    }

    /// The same, under the given security.
    pub fn secured(self, security: Security) -> Self {
        Self { security, ..self }
    }
}

/// Runs a party's part, written once as a function generic over
/// [`crate::protocols::engine::Engine`], in the mode `security` names: on
/// the session itself (semi-honest), or on authenticated shares over it
/// (active), whose final MAC check must pass before the value is returned.
macro_rules! on_engine {
    ($sess:expr, $security:expr, $part:ident ( $($arg:expr),* $(,)? )) => {
        match $security {
            $crate::models::Security::SemiHonest => Ok($part($sess, $($arg),*)?),
            $crate::models::Security::Active => {
                let mut active = $crate::protocols::active::Active::new($sess)?;
                let value = $part(&mut active, $($arg),*)?;
                $crate::protocols::engine::Engine::finish(&mut active)?;
                Ok(value)
            }
        }
    };
}
pub(crate) use on_engine;

/// Runs `party_fn` on `roles.len()` embedded parties and collects the
/// values, each party's view and the cost.
fn run_parties<T, F>(
    roles: &[String],
    mpc: MpcOptions,
    party_fn: F,
) -> Result<(Vec<T>, Vec<PartyView>, Cost)>
where
    T: Send,
    F: Fn(&mut Session) -> Result<T> + Sync,
{
    if mpc.security == Security::Active && mpc.preprocessing != Provider::Dealer {
        return Err(ModelError::Config(format!(
            "active security takes its authenticated material from the dealer so far, not from {} preprocessing",
            mpc.preprocessing
        )));
    }
    let mut cfg = EmbeddedConfig::new(roles.len());
    cfg.seed = mpc.seed;
    cfg.preprocessing = mpc.preprocessing;
    let outs: Vec<PartyOutcome<(T, Vec<Opening>)>> = run_embedded(&cfg, |sess| {
        let v = party_fn(sess)?;
        let me = sess.id();
        let learned = sess
            .openings()
            .iter()
            .filter(|o| o.to.is_none() || o.to == Some(me))
            .cloned()
            .collect();
        Ok::<_, ModelError>((v, learned))
    })?;
    let cost = Cost::of(&outs);
    let mut values = Vec::new();
    let mut views = Vec::new();
    for (party, o) in outs.into_iter().enumerate() {
        let (v, learned) = o.value;
        values.push(v);
        views.push(PartyView {
            party,
            role: roles[party].clone(),
            learned,
        });
    }
    Ok((values, views, cost))
}

/// A name for a party from its file name: `data/bank_a.csv` -> `bank_a`.
fn role_of(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The index and values of the column named `name` of `d`, or an error
/// naming the file and the columns it has.
fn column<'a>(
    d: &'a crate::models::Dataset,
    name: &str,
) -> Result<(usize, ndarray::ArrayView1<'a, f64>)> {
    let j = d
        .feature_names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| {
            ModelError::Mismatch(format!(
                "{} has no column '{name}' (it has: {})",
                d.path.display(),
                d.feature_names.join(", ")
            ))
        })?;
    Ok((j, d.features.column(j)))
}
