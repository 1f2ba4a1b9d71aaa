//! A party's session: who it is, its links to the other parties, its
//! randomness, its preprocessing provider and its communication counters.

use crate::channel::Channel;
use crate::error::{ProtocolError, Result};
use crate::prep::{Material, Preprocessing};
use serde::Serialize;
use tessera_tensor::{wire, FixedPoint, Prg, RingTensor, Seed};

/// Index of a computing party, `0..n`.
pub type PartyId = usize;

pub use crate::channel::MAX_MESSAGE_ELEMS;

/// Communication counters of one party.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    /// This party's id.
    pub party: PartyId,
    /// Bytes sent to each party (own entry is 0).
    pub bytes_sent: Vec<u64>,
    /// Bytes received from each party (own entry is 0).
    pub bytes_received: Vec<u64>,
    /// Communication rounds: protocol steps that wait for peers' messages.
    pub rounds: u64,
    /// Bytes received for preprocessing: from the dealer, or from the other
    /// parties by oblivious transfer (not counted in `bytes_received`).
    pub preprocessing_bytes: u64,
    /// Bytes sent for preprocessing (to the other parties, by oblivious
    /// transfer; 0 with the dealer). Not counted in `bytes_sent`.
    pub preprocessing_bytes_sent: u64,
    /// Seconds spent on preprocessing during the computation: waiting for the
    /// dealer, or making material by oblivious transfer.
    pub preprocessing_wait_s: f64,
    /// Seconds spent blocked receiving from peers: their compute that this
    /// party waited for, plus the messages' latency and transfer.
    pub peer_wait_s: f64,
}

impl Stats {
    /// These counters with the waits counted since `before` only (the
    /// online phase's, after an offline one); bytes and rounds stay whole.
    pub fn waits_since(&self, before: &Stats) -> Stats {
        Stats {
            preprocessing_wait_s: self.preprocessing_wait_s - before.preprocessing_wait_s,
            peer_wait_s: self.peer_wait_s - before.peer_wait_s,
            ..self.clone()
        }
    }
    /// Total bytes sent to other parties.
    pub fn total_sent(&self) -> u64 {
        self.bytes_sent.iter().sum()
    }
    /// Total bytes received from other parties.
    pub fn total_received(&self) -> u64 {
        self.bytes_received.iter().sum()
    }

    /// One line for people: online traffic and rounds, then the
    /// preprocessing traffic, from the dealer or by the parties' own OT.
    pub fn summary(&self) -> String {
        let prep = if self.preprocessing_bytes_sent > 0 {
            format!(
                "preprocessing by OT: sent {}, received {}, {:.2} s",
                human_bytes(self.preprocessing_bytes_sent),
                human_bytes(self.preprocessing_bytes),
                self.preprocessing_wait_s
            )
        } else {
            format!("{} from the dealer", human_bytes(self.preprocessing_bytes))
        };
        format!(
            "sent {}, received {}, {} rounds; {prep}",
            human_bytes(self.total_sent()),
            human_bytes(self.total_received()),
            self.rounds
        )
    }
}

/// A byte count for people: `1.50 MiB`, `12.0 KiB`, `300 B`.
pub fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.2} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// What a party opened: recorded for every reveal so that tests and users
/// can audit that only declared outputs were ever opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opening {
    /// What the value is, as named by the caller.
    pub label: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Who learned it: `None` for every party, `Some(p)` for party `p` only.
    pub to: Option<PartyId>,
}

struct Link {
    channel: Box<dyn Channel>,
    /// PRG keyed by the seed this party shares with the peer.
    shared: Prg,
}

/// One party's state in a computation.
///
/// All protocols take `&mut Session`. It holds no other party's shares; the
/// embedded runtime gives every party thread its own session. `Debug` prints
/// only public facts.
pub struct Session {
    id: PartyId,
    n: usize,
    fixed: FixedPoint,
    links: Vec<Option<Link>>,
    local: Prg,
    prep: Box<dyn Preprocessing>,
    stats: Stats,
    openings: Vec<Opening>,
    transcript: Option<Vec<(PartyId, Vec<u8>)>>,
    /// A dry run ([`plan`]): nothing is sent, and what would be received is zeros.
    dry: bool,
    /// Persistent masks made so far (their ids).
    masks: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("n", &self.n)
            .field("frac_bits", &self.fixed.frac_bits())
            .field("preprocessing", &self.prep.model())
            .finish()
    }
}

impl Session {
    /// Sets up a session over connected channels (`channels[p]` links to
    /// party `p`, `None` at this party's own index). Agrees on a pairwise PRG
    /// seed with every peer (the lower id draws it and sends it: one round).
    pub fn establish(
        id: PartyId,
        fixed: FixedPoint,
        channels: Vec<Option<Box<dyn Channel>>>,
        mut randomness: Prg,
        prep: Box<dyn Preprocessing>,
    ) -> Result<Self> {
        let n = channels.len();
        if n < 2 || id >= n || channels[id].is_some() {
            return Err(ProtocolError::InvalidArgument {
                op: "Session::establish",
                detail: format!(
                    "party {id} of {n}: need n >= 2 and a channel to every other party"
                ),
            });
        }
        let mut links = Vec::with_capacity(n);
        let mut stats = Stats {
            party: id,
            bytes_sent: vec![0; n],
            bytes_received: vec![0; n],
            ..Stats::default()
        };
        for (peer, ch) in channels.into_iter().enumerate() {
            let Some(mut channel) = ch else {
                if peer != id {
                    return Err(ProtocolError::InvalidArgument {
                        op: "Session::establish",
                        detail: format!("no channel to party {peer}"),
                    });
                }
                links.push(None);
                continue;
            };
            let seed: Seed = if id < peer {
                let seed = randomness.next_seed();
                channel.send(seed.to_vec()).map_err(|e| net(id, peer, e))?;
                stats.bytes_sent[peer] += 32;
                seed
            } else {
                let bytes = channel.recv().map_err(|e| net(id, peer, e))?;
                stats.bytes_received[peer] += bytes.len() as u64;
                bytes.try_into().map_err(|_| ProtocolError::Malformed {
                    party: id,
                    peer: format!("party {peer}"),
                    detail: "pairwise seed must be 32 bytes".into(),
                })?
            };
            links.push(Some(Link {
                channel,
                shared: Prg::from_seed(seed),
            }));
        }
        stats.rounds = 1;
        Ok(Self {
            id,
            n,
            fixed,
            links,
            local: randomness.fork(),
            prep,
            stats,
            openings: Vec::new(),
            transcript: None,
            dry: false,
            masks: 0,
        })
    }

    /// This party's id.
    pub fn id(&self) -> PartyId {
        self.id
    }

    /// Number of computing parties.
    pub fn n(&self) -> usize {
        self.n
    }

    /// True in a dry run ([`plan`]): a reveal there gives zeros, so that
    /// what a program does with revealed values (standardise by revealed
    /// moments, check a revealed loss) sees the all-zero data it is run on,
    /// not the noise of one party's masks.
    pub(crate) fn is_dry(&self) -> bool {
        self.dry
    }

    /// True for the party that adds public constants to its share.
    pub fn is_leader(&self) -> bool {
        self.id == 0
    }

    /// The fixed-point encoding in use.
    pub fn fixed(&self) -> FixedPoint {
        self.fixed
    }

    /// The preprocessing provider.
    pub fn prep(&mut self) -> &mut dyn Preprocessing {
        self.prep.as_mut()
    }

    /// Which preprocessing model this session trusts, in words.
    pub fn trust_statement(&self) -> String {
        self.prep.model().to_string()
    }

    /// Communication counters so far (including preprocessing bytes).
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.preprocessing_bytes = self.prep.bytes_received();
        s.preprocessing_bytes_sent = self.prep.bytes_sent();
        s.preprocessing_wait_s = self.prep.wait_seconds();
        s
    }

    /// Every value this party took part in opening, in order.
    pub fn openings(&self) -> &[Opening] {
        &self.openings
    }

    /// Starts recording every frame this party receives from other parties
    /// (for tests that inspect what a party sees).
    pub fn record_transcript(&mut self) {
        self.transcript = Some(Vec::new());
    }

    /// The frames recorded since [`Session::record_transcript`], with their sender.
    pub fn transcript(&self) -> &[(PartyId, Vec<u8>)] {
        self.transcript.as_deref().unwrap_or(&[])
    }

    /// This party's private randomness.
    pub fn local_prg(&mut self) -> &mut Prg {
        &mut self.local
    }

    /// The PRG shared with `peer` (both draw the same stream in the same order).
    pub fn shared_prg(&mut self, peer: PartyId) -> &mut Prg {
        &mut self.links[peer]
            .as_mut()
            .expect("shared_prg: no link to self")
            .shared
    }

    pub(crate) fn note_opening(&mut self, label: &str, shape: &[usize], to: Option<PartyId>) {
        // Public facts only: what was opened and to whom, never the value.
        tracing::debug!(party = self.id, label, ?shape, ?to, "opened");
        self.openings.push(Opening {
            label: label.to_string(),
            shape: shape.to_vec(),
            to,
        });
    }

    /// A fresh id for a persistent mask (the same on every party, since every
    /// party makes its masks in the same order).
    pub(crate) fn next_mask_id(&mut self) -> u64 {
        self.masks += 1;
        self.masks
    }

    /// Peers of this party in id order.
    pub fn peers(&self) -> impl Iterator<Item = PartyId> + '_ {
        let me = self.id;
        (0..self.n).filter(move |&p| p != me)
    }

    /// Sends one frame to every peer (copied for all but the last).
    pub(crate) fn send_to_peers(&mut self, frame: Vec<u8>) -> Result<()> {
        let peers: Vec<_> = self.peers().collect();
        if let Some((&last, rest)) = peers.split_last() {
            for &p in rest {
                self.send_bytes(p, frame.clone())?;
            }
            self.send_bytes(last, frame)?;
        }
        Ok(())
    }

    /// Sends one frame to `peer`.
    pub fn send_bytes(&mut self, peer: PartyId, frame: Vec<u8>) -> Result<()> {
        let me = self.id;
        let len = frame.len() as u64;
        let link = self.links[peer].as_mut().expect("send to self");
        if !self.dry {
            link.channel.send(frame).map_err(|e| net(me, peer, e))?;
        }
        self.stats.bytes_sent[peer] += len;
        Ok(())
    }

    /// Receives one frame from `peer`.
    pub fn recv_bytes(&mut self, peer: PartyId) -> Result<Vec<u8>> {
        let me = self.id;
        let link = self.links[peer].as_mut().expect("recv from self");
        let start = std::time::Instant::now();
        let frame = link.channel.recv().map_err(|e| net(me, peer, e))?;
        self.stats.peer_wait_s += start.elapsed().as_secs_f64();
        self.stats.bytes_received[peer] += frame.len() as u64;
        if let Some(t) = self.transcript.as_mut() {
            t.push((peer, frame.clone()));
        }
        Ok(frame)
    }

    /// Sends a tensor to `peer`.
    pub fn send_tensor(&mut self, peer: PartyId, t: &RingTensor) -> Result<()> {
        self.send_bytes(peer, wire::encode(t))
    }

    /// Receives a tensor from `peer`, checking that it has the expected shape.
    pub fn recv_tensor(&mut self, peer: PartyId, shape: &[usize]) -> Result<RingTensor> {
        let frame = self.recv_frame(peer, shape)?;
        let t = wire::decode(&frame, MAX_MESSAGE_ELEMS).map_err(|e| self.malformed(peer, e))?;
        Ok(t)
    }

    /// Receives the frame of a tensor of `shape` from `peer`, checked: its
    /// elements are [`wire::body_of`] it (a dry run hands out zeros).
    pub(crate) fn recv_frame(&mut self, peer: PartyId, shape: &[usize]) -> Result<Vec<u8>> {
        if self.dry {
            let frame = wire::encode(&RingTensor::zeros(shape));
            self.stats.bytes_received[peer] += frame.len() as u64;
            return Ok(frame);
        }
        let frame = self.recv_bytes(peer)?;
        wire::body_of(&frame, shape).map_err(|e| self.malformed(peer, e))?;
        Ok(frame)
    }

    fn malformed(&self, peer: PartyId, detail: impl ToString) -> ProtocolError {
        ProtocolError::Malformed {
            party: self.id,
            peer: format!("party {peer}"),
            detail: detail.to_string(),
        }
    }

    /// One round: sends `mine` to every peer and receives a tensor of the same
    /// shape from each. Returns the received tensors indexed by party (own
    /// index holds `mine`).
    pub fn exchange(&mut self, mine: &RingTensor) -> Result<Vec<RingTensor>> {
        self.send_to_peers(wire::encode(mine))?;
        let mut out = Vec::with_capacity(self.n);
        for p in 0..self.n {
            if p == self.id {
                out.push(mine.clone());
            } else {
                out.push(self.recv_tensor(p, mine.shape())?);
            }
        }
        self.stats.rounds += 1;
        Ok(out)
    }

    /// Waits until every party has reached this point (one round of empty
    /// messages): marks the end of an offline phase.
    pub fn sync(&mut self) -> Result<()> {
        self.exchange(&RingTensor::zeros(&[0]))?;
        Ok(())
    }

    /// The offline phase of a planned run: the provider makes `items` (a
    /// [`plan`], cut to size by [`fitting_plan`]), then every party waits
    /// for all, so the online phase starts together. Returns its seconds.
    pub fn make_ahead(&mut self, items: &[Material]) -> Result<f64> {
        let start = std::time::Instant::now();
        self.prep.plan(items)?;
        self.prep.make_ahead()?;
        self.sync()?;
        Ok(start.elapsed().as_secs_f64())
    }

    /// Counts one communication round for a step that did not go through
    /// [`Session::exchange`] (for example a reveal to one party).
    pub(crate) fn count_round(&mut self) {
        self.stats.rounds += 1;
    }

    /// Ends the session: tells the preprocessing provider that no more
    /// material is needed.
    pub fn finish(&mut self) -> Result<()> {
        self.prep.finish()
    }
}

/// A channel for dry runs, which never reach the network.
struct NoChannel;

impl Channel for NoChannel {
    fn send(&mut self, _: Vec<u8>) -> std::result::Result<(), crate::channel::NetError> {
        Err(crate::channel::NetError::Disconnected)
    }
    fn recv(&mut self) -> std::result::Result<Vec<u8>, crate::channel::NetError> {
        Err(crate::channel::NetError::Disconnected)
    }
}

/// Records the items a computation takes, handing out zeros of their shapes.
/// The dry run's provider: lists the items, answers as `provider` would.
struct Recorder(
    std::sync::Arc<std::sync::Mutex<Vec<Material>>>,
    crate::prep::Provider,
);

impl Preprocessing for Recorder {
    fn model(&self) -> &'static str {
        "dry run: no correlated randomness"
    }
    fn take(&mut self, item: &Material) -> Result<Vec<RingTensor>> {
        self.0.lock().expect("recorder lock").push(item.clone());
        Ok(item.zeros())
    }
    fn deals_tables(&self) -> bool {
        self.1 == crate::prep::Provider::Dealer
    }
    fn bytes_received(&self) -> u64 {
        0
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The most preprocessing words (per party) made ahead of a run (1 GiB):
/// a larger run has its material made as it goes.
pub const MAX_PLANNED_WORDS: usize = 1 << 27;

/// `items` if their material fits in [`MAX_PLANNED_WORDS`]; otherwise
/// none, and the run makes its material as it goes.
pub fn fitting_plan(items: Vec<Material>) -> Vec<Material> {
    let words = items
        .iter()
        .try_fold(0usize, |a, m| a.checked_add(m.elements()?));
    match words {
        Some(w) if w <= MAX_PLANNED_WORDS => items,
        _ => Vec::new(),
    }
}

/// The preprocessing items party `id` of `n` will take from `provider`
/// when it runs
/// `computation`, found by a dry run on zeros: no message leaves, no
/// randomness is drawn from any dealer. MPC code never branches on secrets,
/// so a real run with the same public shapes takes exactly these items, and
/// [`Preprocessing::plan`] can have them made ahead of time. The dry run
/// costs about the local compute of the real one.
pub fn plan<T, E>(
    id: PartyId,
    n: usize,
    fixed: FixedPoint,
    provider: crate::prep::Provider,
    computation: impl FnOnce(&mut Session) -> std::result::Result<T, E>,
) -> std::result::Result<Vec<Material>, E> {
    let items = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sess = Session {
        id,
        n,
        fixed,
        links: (0..n)
            .map(|p| {
                (p != id).then(|| Link {
                    channel: Box::new(NoChannel),
                    shared: Prg::from_seed([0; 32]),
                })
            })
            .collect(),
        local: Prg::from_seed([0; 32]),
        prep: Box::new(Recorder(items.clone(), provider)),
        stats: Stats {
            party: id,
            bytes_sent: vec![0; n],
            bytes_received: vec![0; n],
            ..Stats::default()
        },
        openings: Vec::new(),
        transcript: None,
        dry: true,
        masks: 0,
    };
    computation(&mut sess)?;
    drop(sess);
    let items = std::mem::take(&mut *items.lock().expect("recorder lock"));
    Ok(items)
}

pub(crate) fn net(me: PartyId, peer: PartyId, error: crate::channel::NetError) -> ProtocolError {
    ProtocolError::Net {
        party: me,
        peer: format!("party {peer}"),
        error,
    }
}
