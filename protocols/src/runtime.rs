//! The embedded runtime: n parties and the dealer as threads of one process,
//! joined by in-memory channels, each running the same per-party code that
//! runs in separate processes over the network.

use crate::channel::{Channel, MemChannel, SimulatedLink, DEFAULT_TIMEOUT};
use crate::error::ProtocolError;
use crate::prep::{Dealer, DealerClient, OtProvider, Provider};
use crate::session::{Session, Stats};
use std::time::{Duration, Instant};
use tessera_tensor::{FixedPoint, Prg, Seed};

/// Settings of an embedded run.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Number of computing parties (at least 2).
    pub parties: usize,
    /// Fixed-point encoding.
    pub fixed: FixedPoint,
    /// Seed for all randomness (shares, masks, dealer). `None` draws from the
    /// operating system. A fixed seed makes runs reproducible and is for
    /// tests and benchmarks only: whoever knows it can recompute every share.
    pub seed: Option<Seed>,
    /// How long a party waits for a message before giving up.
    pub timeout: Duration,
    /// Where the correlated randomness comes from.
    pub preprocessing: Provider,
    /// The simulated network every link (the dealer's too) goes over: none
    /// by default; a benchmark sets latency and bandwidth to show what
    /// rounds and bytes cost on a real network.
    pub link: SimulatedLink,
}

impl EmbeddedConfig {
    /// `parties` parties, default encoding, OS randomness, default timeout.
    pub fn new(parties: usize) -> Self {
        Self {
            parties,
            fixed: FixedPoint::default(),
            seed: None,
            timeout: DEFAULT_TIMEOUT,
            preprocessing: Provider::Dealer,
            link: SimulatedLink::default(),
        }
    }

    /// Takes the correlated randomness from `provider`.
    pub fn with_preprocessing(mut self, provider: Provider) -> Self {
        self.preprocessing = provider;
        self
    }

    /// Runs every link over `link`.
    pub fn over(mut self, link: SimulatedLink) -> Self {
        self.link = link;
        self
    }

    /// Uses a fixed seed (reproducible; not secure).
    pub fn with_seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }
}

/// The link to a party's preprocessing provider, as the launcher needs it.
pub enum ProviderLink {
    /// The trusted dealer, over this channel.
    Dealer(Box<dyn Channel>),
    /// Oblivious transfer among the parties, over their own links.
    Ot,
}

/// Sets up party `id`: its preprocessing provider and its session over
/// `links` (`links[p]` to party `p`, `None` at `id`). The one party setup of
/// both the embedded runtime and the distributed runner, so they cannot
/// drift apart. With OT, each link carries two streams (see
/// [`crate::channel::split`]): the online protocol's and the provider's.
pub fn launch(
    id: usize,
    fixed: FixedPoint,
    links: Vec<Option<Box<dyn Channel>>>,
    provider: ProviderLink,
    mut randomness: Prg,
) -> Result<Session, ProtocolError> {
    match provider {
        ProviderLink::Dealer(channel) => {
            let prep = DealerClient::connect(id, channel)?;
            Session::establish(id, fixed, links, randomness, Box::new(prep))
        }
        ProviderLink::Ot => {
            let (online, prep): (Vec<_>, Vec<_>) = links
                .into_iter()
                .map(|l| match l.map(crate::channel::split) {
                    Some((a, b)) => (Some(a), Some(b)),
                    None => (None, None),
                })
                .unzip();
            let ot = OtProvider::connect(id, prep, randomness.fork())?;
            Session::establish(id, fixed, online, randomness, Box::new(ot))
        }
    }
}

/// What one party returned, with its counters and time.
#[derive(Debug)]
pub struct PartyOutcome<T> {
    /// The party's return value.
    pub value: T,
    /// Its communication counters.
    pub stats: Stats,
    /// Wall time of its setup (the provider's, e.g. base OTs) and computation.
    pub elapsed: Duration,
}

/// What a run cost: each party's counters and wall time. The one cost
/// record of jobs, private inference and scenarios; reports, run output and
/// benchmarks summarise it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunCost {
    /// Each party's counters, in party order.
    pub stats: Vec<Stats>,
    /// Each party's wall time, seconds.
    pub seconds: Vec<f64>,
}

impl RunCost {
    /// The cost of a run's outcomes.
    pub fn of<T>(outs: &[PartyOutcome<T>]) -> Self {
        Self {
            stats: outs.iter().map(|o| o.stats.clone()).collect(),
            seconds: outs.iter().map(|o| o.elapsed.as_secs_f64()).collect(),
        }
    }

    /// Wall time of the slowest party.
    pub fn wall_seconds(&self) -> f64 {
        self.seconds.iter().copied().fold(0.0, f64::max)
    }
}

impl std::fmt::Display for RunCost {
    /// Wall time, then each party's [`Stats::summary`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cost: wall time {:.2} s", self.wall_seconds())?;
        for s in &self.stats {
            writeln!(f, "  party {}: {}", s.party, s.summary())?;
        }
        Ok(())
    }
}

/// Runs `party_fn` on every party of an embedded job and returns the
/// outcomes in party order. If any party fails, returns the error of the
/// party that failed first in time (later failures are usually just peers
/// noticing it is gone).
pub fn run_embedded<T, E, F>(
    config: &EmbeddedConfig,
    party_fn: F,
) -> Result<Vec<PartyOutcome<T>>, E>
where
    T: Send,
    E: From<ProtocolError> + Send,
    F: Fn(&mut Session) -> Result<T, E> + Sync,
{
    let n = config.parties;
    if n < 2 {
        return Err(ProtocolError::InvalidArgument {
            op: "run_embedded",
            detail: format!("need at least 2 parties, got {n}"),
        }
        .into());
    }
    let mut master = match config.seed {
        Some(s) => Prg::from_seed(s),
        None => Prg::from_entropy(),
    };
    let dealer_seed = master.fork();
    let party_seeds: Vec<Prg> = (0..n).map(|_| master.fork()).collect();

    // Pairwise links between parties.
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = MemChannel::pair_over(config.timeout, config.link);
            links[i][j] = Some(Box::new(a));
            links[j][i] = Some(Box::new(b));
        }
    }
    let with_dealer = config.preprocessing == Provider::Dealer;
    let mut dealer_ends: Vec<Box<dyn Channel>> = Vec::with_capacity(n);
    let mut party_dealer_ends: Vec<Option<Box<dyn Channel>>> = Vec::with_capacity(n);
    for _ in 0..n {
        if with_dealer {
            let (d, p) = MemChannel::pair_over(config.timeout, config.link);
            dealer_ends.push(Box::new(d));
            party_dealer_ends.push(Some(Box::new(p)));
        } else {
            party_dealer_ends.push(None);
        }
    }

    let fixed = config.fixed;
    let party_fn = &party_fn;
    std::thread::scope(|scope| {
        // Named threads show up as such in profilers and panic messages;
        // spawning fails only where `scope.spawn` would panic too.
        let dealer = with_dealer.then(|| {
            std::thread::Builder::new()
                .name("dealer".into())
                .spawn_scoped(scope, move || {
                    let dealer = Dealer::start(std::mem::take(&mut dealer_ends), dealer_seed)?;
                    dealer.serve()
                })
                .expect("spawn the dealer thread")
        });
        let handles: Vec<_> = links
            .into_iter()
            .zip(party_dealer_ends)
            .zip(party_seeds)
            .enumerate()
            .map(|(id, ((chans, dealer_ch), prg))| {
                let thread = std::thread::Builder::new().name(format!("party-{id}"));
                let spawned =
                    thread.spawn_scoped(scope, move || -> (Result<PartyOutcome<T>, E>, Instant) {
                        // The failure time is taken before this party's channels are
                        // dropped, so a peer that only notices the loss fails later.
                        let stamp = |e: E| (e, Instant::now());
                        let run = || -> Result<PartyOutcome<T>, (E, Instant)> {
                            let link = match dealer_ch {
                                Some(ch) => ProviderLink::Dealer(ch),
                                None => ProviderLink::Ot,
                            };
                            // Setup counts: with OT it runs the base OTs.
                            let start = Instant::now();
                            let mut sess =
                                launch(id, fixed, chans, link, prg).map_err(|e| stamp(e.into()))?;
                            let value = party_fn(&mut sess).map_err(stamp)?;
                            sess.finish().map_err(|e| stamp(e.into()))?;
                            Ok(PartyOutcome {
                                value,
                                stats: sess.stats(),
                                elapsed: start.elapsed(),
                            })
                        };
                        match run() {
                            Ok(o) => (Ok(o), Instant::now()),
                            Err((e, at)) => (Err(e), at),
                        }
                    });
                spawned.expect("spawn a party thread")
            })
            .collect();
        let mut results: Vec<(Result<PartyOutcome<T>, E>, Instant)> = handles
            .into_iter()
            .enumerate()
            .map(|(party, h)| {
                h.join().unwrap_or_else(|panic| {
                    let detail = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    (
                        Err(ProtocolError::Crashed { party, detail }.into()),
                        Instant::now(),
                    )
                })
            })
            .collect();
        // The dealer's own failure matters only if no party explains it.
        let dealer_result = dealer.map(|d| d.join());
        let first_failure = results
            .iter()
            .enumerate()
            .filter(|(_, (r, _))| r.is_err())
            .min_by_key(|(_, (_, t))| *t)
            .map(|(i, _)| i);
        if let Some(i) = first_failure {
            return Err(match results.swap_remove(i).0 {
                Err(e) => e,
                Ok(_) => unreachable!("selected a failed party"),
            });
        }
        if let Some(Ok(Err(e))) = dealer_result {
            return Err(e.into());
        }
        Ok(results
            .into_iter()
            .map(|(r, _)| match r {
                Ok(o) => o,
                Err(_) => unreachable!("no party failed"),
            })
            .collect())
    })
}
