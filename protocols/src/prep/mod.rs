//! Preprocessing: correlated randomness consumed by the online protocols.
//!
//! [`Preprocessing`] is the inventory a party draws from. Today its one
//! implementation is the trusted dealer ([`DealerClient`] on each party,
//! [`Dealer`] as its own role), the model CrypTen uses by default; a
//! dealer-free provider (OT or HE based, running among the parties over their
//! own channels) can implement the same trait later.
//!
//! **Seeded dealing.** The dealer shares one PRG seed with each party. For
//! every item, each party draws its shares of the *random* components (say
//! `a`, `b` of a Beaver triple) from that stream. Parties `1..n` also draw
//! their shares of the *determined* components (`c = a*b`); party 0 instead
//! receives its share of those from the dealer, chosen so that all shares add
//! up. So the dealer sends data to party 0 only, and only the determined
//! components: one ring element per Beaver triple.
//!
//! **Trust.** The dealer knows every party's shares of the material, so it
//! must not collude with any party and must not see any online message. It
//! never sees inputs or outputs.

use crate::channel::Channel;
use crate::error::{ProtocolError, Result};
use tessera_tensor::{wire, Prg, RingTensor, Seed};

pub mod ot;
pub use ot::{OtProvider, OT_TRUST};

/// How the shares of a component combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Additive shares modulo 2^64.
    Arithmetic,
    /// XOR shares of bit-packed words.
    Binary,
}

/// The most words one [`Material::BitTriple`] ANDs with the same word.
pub const MAX_FANOUT: u32 = 8;

/// Shape and sharing of one component of an item.
type Component = (Vec<usize>, Sharing);

/// A kind of correlated randomness, with its shape parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// Beaver triple `(a, b, a*b)` elementwise.
    Triple(Vec<usize>),
    /// Square pair `(a, a*a)`.
    Square(Vec<usize>),
    /// Matrix triple `(A [m,k], B [k,n], A*B)`.
    MatTriple(usize, usize, usize),
    /// Truncation pair for `f` bits: `(r, (r mod 2^63) >> f, r >> 63)`.
    Trunc(Vec<usize>, u32),
    /// AND triples of XOR-shared words sharing their left operand, for one
    /// word ANDed with `fanout` others in one round:
    /// `(a, b_1..b_k, a & b_1..a & b_k)`.
    BitTriple(Vec<usize>, u32),
    /// A random ring element held both additively and as XOR-shared bits.
    EdaBits(Vec<usize>),
    /// A random word, XOR-shared, and its low `nbits` bits each shared
    /// additively (an extra trailing axis of length `nbits`).
    WordBits(Vec<usize>, u32),
    /// EdaBits that also mask a product with a secret bit, for ReLU: a random
    /// `r` (additive, `len`) and random packed bits `s` (XOR-shared,
    /// `ceil(len/64)` words), then `r`'s bits XOR-shared, the bits of `s`
    /// shared additively, and `r * s`.
    EdaSelect(usize),
    /// A persistent random mask `A [rows, cols]` for data reused every epoch
    /// (opened once as `X - A`). Its row `i` is drawn from a stream of its own,
    /// keyed by the mask's id (unique in the session) and `i`, so later
    /// triples can use any rows of it. Nothing is dealt: the mask is every
    /// party's draws added up.
    Mask {
        /// The mask's id.
        id: u64,
        /// First row drawn.
        start: usize,
        /// Rows drawn (`start..start + rows`).
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A matrix triple on rows of a persistent mask: `A_I` (rows `rows` of
    /// mask `mask`, `cols` wide), a fresh `B`, and `C = A_I B` (`B: [cols,
    /// out]`) or, `transposed`, `C = A_I^T B` (`B: [|I|, out]`).
    RowTriple {
        /// Id of the [`Material::Mask`].
        mask: u64,
        /// Rows of the mask, in order.
        rows: Vec<usize>,
        /// Width of the mask.
        cols: usize,
        /// Columns of `B`.
        out: usize,
        /// `A_I^T B` instead of `A_I B`.
        transposed: bool,
    },
}

impl Material {
    fn tag(&self) -> u8 {
        match self {
            Material::Triple(_) => 1,
            Material::Square(_) => 2,
            Material::MatTriple(..) => 3,
            Material::Trunc(..) => 4,
            Material::BitTriple(..) => 5,
            Material::EdaBits(_) => 6,
            Material::WordBits(..) => 7,
            Material::EdaSelect(_) => 8,
            Material::Mask { .. } => 9,
            Material::RowTriple { .. } => 10,
        }
    }

    /// Shapes and sharings of the random components, then of the determined ones.
    fn layout(&self) -> (Vec<Component>, Vec<Component>) {
        use Sharing::*;
        match self {
            Material::Triple(s) => (
                vec![(s.clone(), Arithmetic), (s.clone(), Arithmetic)],
                vec![(s.clone(), Arithmetic)],
            ),
            Material::Square(s) => (vec![(s.clone(), Arithmetic)], vec![(s.clone(), Arithmetic)]),
            Material::MatTriple(m, k, n) => (
                vec![(vec![*m, *k], Arithmetic), (vec![*k, *n], Arithmetic)],
                vec![(vec![*m, *n], Arithmetic)],
            ),
            Material::Trunc(s, _) => (
                vec![(s.clone(), Arithmetic)],
                vec![(s.clone(), Arithmetic), (s.clone(), Arithmetic)],
            ),
            Material::BitTriple(s, fanout) => (
                vec![(s.clone(), Binary); 1 + *fanout as usize],
                vec![(s.clone(), Binary); *fanout as usize],
            ),
            Material::EdaBits(s) => (vec![(s.clone(), Arithmetic)], vec![(s.clone(), Binary)]),
            Material::WordBits(s, nbits) => {
                let mut bits = s.clone();
                bits.push(*nbits as usize);
                (vec![(s.clone(), Binary)], vec![(bits, Arithmetic)])
            }
            Material::EdaSelect(len) => (
                vec![(vec![*len], Arithmetic), (vec![len.div_ceil(64)], Binary)],
                vec![
                    (vec![*len], Binary),
                    (vec![*len], Arithmetic),
                    (vec![*len], Arithmetic),
                ],
            ),
            Material::Mask { rows, cols, .. } => (vec![(vec![*rows, *cols], Arithmetic)], vec![]),
            Material::RowTriple {
                rows,
                cols,
                out,
                transposed,
                ..
            } => {
                let m = rows.len();
                let (b, c) = if *transposed {
                    (vec![m, *out], vec![*cols, *out])
                } else {
                    (vec![*cols, *out], vec![m, *out])
                };
                (
                    vec![(vec![m, *cols], Arithmetic), (b, Arithmetic)],
                    vec![(c, Arithmetic)],
                )
            }
        }
    }

    /// Whether the dealer sends anything for this item (determined components).
    fn is_dealt(&self) -> bool {
        !self.layout().1.is_empty()
    }

    /// Zeros in the shapes of every component (what a dry run hands out).
    pub(crate) fn zeros(&self) -> Vec<RingTensor> {
        let (random, determined) = self.layout();
        random
            .iter()
            .chain(&determined)
            .map(|(s, _)| RingTensor::zeros(s))
            .collect()
    }

    /// The determined components' secret values from the random components' secrets.
    fn determine(&self, random: &[RingTensor]) -> Result<Vec<RingTensor>> {
        Ok(match self {
            Material::Triple(_) => vec![random[0].mul(&random[1])?],
            Material::Square(_) => vec![random[0].mul(&random[0])?],
            Material::MatTriple(..) => vec![random[0].matmul(&random[1])?],
            Material::Trunc(_, f) => {
                let low = random[0].map(|r| (r & (u64::MAX >> 1)) >> f);
                let msb = random[0].map(|r| r >> 63);
                vec![low, msb]
            }
            Material::BitTriple(..) => random[1..]
                .iter()
                .map(|b| random[0].and(b))
                .collect::<std::result::Result<_, _>>()?,
            Material::EdaBits(_) => vec![random[0].clone()],
            Material::WordBits(_, nbits) => {
                let nbits = *nbits as usize;
                let mut shape = random[0].shape().to_vec();
                shape.push(nbits);
                let bits = random[0]
                    .as_slice()
                    .iter()
                    .flat_map(|&w| (0..nbits).map(move |i| (w >> i) & 1))
                    .collect();
                vec![RingTensor::from_vec(&shape, bits)?]
            }
            Material::Mask { .. } => vec![],
            Material::RowTriple {
                transposed: false, ..
            } => vec![random[0].matmul(&random[1])?],
            Material::RowTriple {
                transposed: true, ..
            } => vec![random[0].transpose().matmul(&random[1])?],
            Material::EdaSelect(len) => {
                let words = random[1].as_slice();
                let s: Vec<u64> = (0..*len).map(|i| (words[i / 64] >> (i % 64)) & 1).collect();
                let s = RingTensor::from_vec(&[*len], s)?;
                let r_s = random[0].mul(&s)?;
                vec![random[0].clone(), s, r_s]
            }
        })
    }

    fn encode(&self) -> Vec<u8> {
        if let Material::RowTriple {
            mask,
            rows,
            cols,
            out,
            transposed,
        } = self
        {
            // tag, transposed, then mask, cols, out, |I| and the rows as u64.
            let mut enc = vec![self.tag(), *transposed as u8];
            for v in [*mask, *cols as u64, *out as u64, rows.len() as u64] {
                enc.extend_from_slice(&v.to_le_bytes());
            }
            for &r in rows {
                enc.extend_from_slice(&(r as u64).to_le_bytes());
            }
            return enc;
        }
        let (dims, f): (Vec<usize>, u32) = match self {
            Material::MatTriple(m, k, n) => (vec![*m, *k, *n], 0),
            Material::Trunc(s, f) | Material::WordBits(s, f) | Material::BitTriple(s, f) => {
                (s.clone(), *f)
            }
            Material::EdaSelect(len) => (vec![*len], 0),
            Material::Mask {
                id,
                start,
                rows,
                cols,
            } => (vec![*id as usize, *start, *rows, *cols], 0),
            Material::RowTriple { .. } => unreachable!("encoded above"),
            Material::Triple(s) | Material::Square(s) | Material::EdaBits(s) => (s.clone(), 0),
        };
        let mut out = vec![self.tag(), f as u8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Option<Material>, String> {
        let [tag, f, nd, rest @ ..] = bytes else {
            return Err("request shorter than its header".into());
        };
        if *tag == 0 {
            return Ok(None);
        }
        if *tag == 10 {
            return Self::decode_row_triple(*f, bytes).map(Some);
        }
        let nd = *nd as usize;
        if nd > wire::MAX_DIMS || rest.len() != nd * 8 {
            return Err(format!(
                "request with {nd} dimensions and {} bytes",
                rest.len()
            ));
        }
        let dims: Vec<usize> = rest
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as usize)
            .collect();
        let max = crate::session::MAX_MESSAGE_ELEMS;
        let fits = |ds: &[usize]| {
            ds.iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .is_some_and(|c| c <= max)
        };
        Ok(Some(match (*tag, dims.as_slice()) {
            (3, &[m, k, n]) if fits(&[m, k]) && fits(&[k, n]) && fits(&[m, n]) => {
                Material::MatTriple(m, k, n)
            }
            (3, _) => return Err("bad matrix triple request".into()),
            _ if !fits(&dims) => return Err("request too large".into()),
            (1, _) => Material::Triple(dims),
            (2, _) => Material::Square(dims),
            (4, _) if (1..64).contains(f) => Material::Trunc(dims, *f as u32),
            (5, _) if (1..=MAX_FANOUT).contains(&(*f as u32)) => {
                Material::BitTriple(dims, *f as u32)
            }
            (8, &[len]) => Material::EdaSelect(len),
            (9, &[id, start, rows, cols]) if fits(&[rows, cols]) => Material::Mask {
                id: id as u64,
                start,
                rows,
                cols,
            },
            (6, _) => Material::EdaBits(dims),
            (7, _) if (1..=64).contains(f) => Material::WordBits(dims, *f as u32),
            _ => return Err(format!("unknown request tag {tag}")),
        }))
    }
}

impl Material {
    fn decode_row_triple(transposed: u8, bytes: &[u8]) -> std::result::Result<Material, String> {
        let words: Vec<u64> = bytes[2..]
            .chunks(8)
            .map(|c| {
                c.try_into()
                    .map(u64::from_le_bytes)
                    .map_err(|_| "row triple request of odd length".to_string())
            })
            .collect::<std::result::Result<_, _>>()?;
        let [mask, cols, out, m, rows @ ..] = words.as_slice() else {
            return Err("row triple request shorter than its header".into());
        };
        let max = crate::session::MAX_MESSAGE_ELEMS as u64;
        let too_big = |a: u64, b: u64| !matches!(a.checked_mul(b), Some(v) if v <= max);
        if transposed > 1
            || rows.len() as u64 != *m
            || too_big(*m, *cols)
            || too_big(*cols, *out)
            || too_big(*m, *out)
        {
            return Err("bad row triple request".into());
        }
        Ok(Material::RowTriple {
            mask: *mask,
            rows: rows.iter().map(|&r| r as usize).collect(),
            cols: *cols as usize,
            out: *out as usize,
            transposed: transposed == 1,
        })
    }

    /// This party's draws of the random components of item `k` under
    /// `seed`, from the item's own stream, except rows of a persistent mask,
    /// which come from their rows' streams. Returns the item's stream where
    /// the determined components (parties other than 0) continue.
    fn draw_random(&self, seed: &Seed, k: u64) -> (Vec<RingTensor>, Prg) {
        let (random, _) = self.layout();
        let mut prg = Prg::for_item(seed, k, self.fingerprint());
        let drawn = match self {
            Material::Mask {
                id,
                start,
                rows,
                cols,
            } => vec![mask_rows(seed, *id, *cols, *start..*start + *rows)],
            Material::RowTriple {
                mask, rows, cols, ..
            } => vec![
                mask_rows(seed, *mask, *cols, rows.iter().copied()),
                prg.uniform(&random[1].0),
            ],
            _ => draw(&mut prg, &random),
        };
        (drawn, prg)
    }

    /// A 64-bit fingerprint of the item (FNV-1a of its encoding): it picks the
    /// PRG stream, so a mispredicted item never shares randomness with the
    /// item actually used at the same position.
    fn fingerprint(&self) -> u64 {
        fnv1a(self.encode())
    }
}

/// FNV-1a of a byte string: the tags that pick PRG streams.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn draw(prg: &mut Prg, shapes: &[Component]) -> Vec<RingTensor> {
    shapes.iter().map(|(s, _)| prg.uniform(s)).collect()
}

/// Rows `rows` of this party's share of persistent mask `mask` (`cols` wide).
pub(crate) fn mask_rows(
    seed: &Seed,
    mask: u64,
    cols: usize,
    rows: impl ExactSizeIterator<Item = usize>,
) -> RingTensor {
    // A leading byte no item encoding starts with keeps these tags apart
    // from item fingerprints.
    let tag = fnv1a(
        [200u8]
            .into_iter()
            .chain(mask.to_le_bytes())
            .chain((cols as u64).to_le_bytes()),
    );
    let m = rows.len();
    let mut out = RingTensor::zeros(&[m, cols]);
    if cols > 0 {
        for (dst, r) in out.as_mut_slice().chunks_exact_mut(cols).zip(rows) {
            Prg::for_item(seed, r as u64, tag).fill(dst);
        }
    }
    out
}

/// Source of correlated randomness for one party.
///
/// Items must be requested in the same order by every party (SPMD code does
/// this naturally); each returns this party's shares of the components, in the
/// order listed by [`Material`].
pub trait Preprocessing: Send {
    /// Who is trusted for this material, in words for run reports.
    fn model(&self) -> &'static str;
    /// This party's shares of one item.
    fn take(&mut self, item: &Material) -> Result<Vec<RingTensor>>;
    /// Marks the start of a repeated unit of work (a training step): a
    /// provider may prepare the next units' material ahead of time, assuming
    /// they ask for what the last one did, on the data rows in `next_rows`
    /// (this step's, then the following ones', as far as known).
    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        let _ = next_rows;
        Ok(())
    }
    /// Announces the items about to be taken, in order (found by a dry run
    /// of the same computation, [`crate::session::plan`]): a provider may
    /// make them all ahead of time.
    fn plan(&mut self, items: &[Material]) -> Result<()> {
        let _ = items;
        Ok(())
    }
    /// Makes every item announced so far (by [`Preprocessing::plan`]) now:
    /// party 0 waits for the dealer's parts, every party expands its own
    /// shares. An offline phase, after which the planned computation neither
    /// waits for the provider nor spends time on its material.
    fn make_ahead(&mut self) -> Result<()> {
        Ok(())
    }
    /// Bytes received from the provider so far.
    fn bytes_received(&self) -> u64;
    /// Bytes this party sent for preprocessing so far (to other parties or
    /// a dealer).
    fn bytes_sent(&self) -> u64 {
        0
    }
    /// Seconds this party spent waiting for the provider so far.
    fn wait_seconds(&self) -> f64 {
        0.0
    }
    /// Signals that no more material will be requested.
    fn finish(&mut self) -> Result<()>;
}

/// Where a job's correlated randomness comes from, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A trusted dealer (a separate process or thread): fastest, but it must
    /// collude with no computing party.
    #[default]
    Dealer,
    /// The parties themselves, by oblivious transfer: no one else is trusted.
    Ot,
}

impl Provider {
    /// The name used on the command line and in job files.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Dealer => "dealer",
            Provider::Ot => "ot",
        }
    }

    /// Who is trusted, in words for run reports.
    pub fn trust(self) -> &'static str {
        match self {
            Provider::Dealer => DEALER_TRUST,
            Provider::Ot => OT_TRUST,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "dealer" => Ok(Provider::Dealer),
            "ot" => Ok(Provider::Ot),
            other => Err(format!(
                "unknown preprocessing '{other}': use 'dealer' (a trusted dealer) or 'ot' (no dealer)"
            )),
        }
    }
}

/// Statement printed by every run that uses the dealer.
pub const DEALER_TRUST: &str = "trusted dealer: a separate party generates Beaver triples, \
truncation pairs and random bits; it must not collude with any computing party \
(semi-honest security, dishonest majority among the computing parties otherwise)";

/// Encodes a batch of requests: count, then (index, length, item) each.
fn encode_batch(items: &[(u64, Material)]) -> Vec<u8> {
    let mut out = (items.len() as u32).to_le_bytes().to_vec();
    for (k, item) in items {
        let enc = item.encode();
        out.extend_from_slice(&k.to_le_bytes());
        out.extend_from_slice(&(enc.len() as u32).to_le_bytes());
        out.extend_from_slice(&enc);
    }
    out
}

/// Decodes a batch of requests (an empty batch means "done").
fn decode_batch(bytes: &[u8]) -> std::result::Result<Vec<(u64, Material)>, String> {
    let (count, mut rest) = bytes
        .split_first_chunk::<4>()
        .ok_or("request shorter than its header")?;
    let count = u32::from_le_bytes(*count) as usize;
    if count > 1 << 20 {
        return Err(format!("batch of {count} requests"));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let (k, r) = rest.split_first_chunk::<8>().ok_or("truncated request")?;
        let (len, r) = r.split_first_chunk::<4>().ok_or("truncated request")?;
        let len = u32::from_le_bytes(*len) as usize;
        if r.len() < len {
            return Err("truncated request".into());
        }
        let (enc, r) = r.split_at(len);
        let item = Material::decode(enc)?.ok_or("empty item in a batch")?;
        items.push((u64::from_le_bytes(*k), item));
        rest = r;
    }
    if !rest.is_empty() {
        return Err("trailing bytes after a batch".into());
    }
    Ok(items)
}

/// Items per request when a whole plan is asked for: one, so each comes back
/// as soon as the dealer has made it.
const PLAN_BATCH: usize = 1;

/// A party's end of the trusted dealer.
///
/// Item `k` of the run is drawn from its own PRG stream (seeded by the
/// dealer's seed, `k` and the item's fingerprint). Party 0 asks the dealer
/// for its determined components; from the second training step on it asks
/// for the next two steps' worth at once, predicted from the step before, so
/// the dealer's work and the round trip overlap with computation. A
/// misprediction is detected item by item and falls back to asking.
pub struct DealerClient {
    party: usize,
    seed: Seed,
    next: u64,
    channel: Box<dyn Channel>,
    received: u64,
    finished: bool,
    waited: std::time::Duration,
    /// Party 0: batches sent and not yet answered, oldest first.
    pending: std::collections::VecDeque<Vec<(u64, Material)>>,
    /// Party 0: answered items not yet taken.
    ready: std::collections::HashMap<u64, (Material, Vec<RingTensor>)>,
    /// Party 0: items taken since the last step boundary.
    history: Vec<Material>,
    /// Party 0: items of the last complete step.
    pattern: Vec<Material>,
    /// Party 0: every index below this has been requested.
    requested_until: u64,
    /// Items announced by `plan`, from index `planned_from` on.
    planned: Vec<Material>,
    planned_from: u64,
    /// Items made ahead by `make_ahead`, by index.
    made: std::collections::HashMap<u64, (Material, Vec<RingTensor>)>,
}

impl DealerClient {
    /// Connects to the dealer: receives this party's seed.
    pub fn connect(party: usize, mut channel: Box<dyn Channel>) -> Result<Self> {
        let seed = channel.recv().map_err(|e| dealer_net(party, e))?;
        let seed: Seed = seed.try_into().map_err(|_| ProtocolError::Malformed {
            party,
            peer: "the dealer".into(),
            detail: "seed must be 32 bytes".into(),
        })?;
        Ok(Self {
            party,
            seed,
            next: 0,
            channel,
            received: 32,
            finished: false,
            waited: std::time::Duration::ZERO,
            pending: Default::default(),
            ready: Default::default(),
            history: Vec::new(),
            pattern: Vec::new(),
            requested_until: 0,
            planned: Vec::new(),
            planned_from: 0,
            made: Default::default(),
        })
    }

    fn request(&mut self, items: Vec<(u64, Material)>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.channel
            .send(encode_batch(&items))
            .map_err(|e| dealer_net(0, e))?;
        self.requested_until = self
            .requested_until
            .max(items.last().map_or(0, |(k, _)| k + 1));
        self.pending.push_back(items);
        Ok(())
    }

    /// Receives the oldest outstanding batch into `ready`.
    fn receive_batch(&mut self) -> Result<()> {
        let items = self.pending.pop_front().expect("a batch is outstanding");
        let start = std::time::Instant::now();
        let reply = self.channel.recv().map_err(|e| dealer_net(0, e))?;
        self.waited += start.elapsed();
        self.received += reply.len() as u64;
        let mut rest = reply.as_slice();
        for (k, item) in items {
            let (_, determined) = item.layout();
            let mut shares = Vec::with_capacity(determined.len());
            for (shape, _) in &determined {
                let (t, r) =
                    wire::decode_prefix(rest, crate::session::MAX_MESSAGE_ELEMS).map_err(|e| {
                        ProtocolError::Malformed {
                            party: 0,
                            peer: "the dealer".into(),
                            detail: e.to_string(),
                        }
                    })?;
                if t.shape() != shape.as_slice() {
                    return Err(ProtocolError::Preprocessing(format!(
                        "dealer sent shape {:?}, expected {shape:?}",
                        t.shape()
                    )));
                }
                shares.push(t);
                rest = r;
            }
            self.ready.insert(k, (item, shares));
        }
        Ok(())
    }

    /// This party's shares of item `k`: its own draws, and for party 0 the
    /// dealer's part of the determined components.
    fn make(&mut self, k: u64, item: &Material) -> Result<Vec<RingTensor>> {
        let (_, determined) = item.layout();
        let (mut out, mut prg) = item.draw_random(&self.seed, k);
        if self.party != 0 {
            out.extend(draw(&mut prg, &determined));
        } else if item.is_dealt() {
            out.extend(self.fetch(k, item)?);
        }
        Ok(out)
    }

    /// Party 0's determined components of item `k`.
    fn fetch(&mut self, k: u64, item: &Material) -> Result<Vec<RingTensor>> {
        loop {
            if let Some((predicted, shares)) = self.ready.remove(&k) {
                if &predicted == item {
                    return Ok(shares);
                }
                // Mispredicted: ask for the real item at this position.
                self.request(vec![(k, item.clone())])?;
            } else if self.pending.is_empty() || k >= self.requested_until {
                self.request(vec![(k, item.clone())])?;
            }
            self.receive_batch()?;
        }
    }
}

fn dealer_net(party: usize, error: crate::channel::NetError) -> ProtocolError {
    ProtocolError::Net {
        party,
        peer: "the dealer".into(),
        error,
    }
}

impl Preprocessing for DealerClient {
    fn model(&self) -> &'static str {
        DEALER_TRUST
    }

    fn take(&mut self, item: &Material) -> Result<Vec<RingTensor>> {
        let k = self.next;
        self.next += 1;
        if self.party == 0 {
            self.history.push(item.clone());
        }
        match self.made.remove(&k) {
            Some((made, shares)) if &made == item => Ok(shares),
            _ => self.make(k, item),
        }
    }

    fn step_boundary(&mut self, next_rows: &[&[usize]]) -> Result<()> {
        // Items made ahead and passed over (a plan that did not match).
        let next = self.next;
        self.made.retain(|&k, _| k >= next);
        if self.party != 0 {
            return Ok(());
        }
        if !self.history.is_empty() {
            self.pattern = std::mem::take(&mut self.history);
        }
        // Drop answers that were never used (mispredictions of past steps).
        let next = self.next;
        self.ready.retain(|&k, _| k >= next);
        let m = self.pattern.len() as u64;
        if m == 0 {
            return Ok(());
        }
        // Keep two steps' worth requested ahead, predicted from the last step.
        let from = self.requested_until.max(self.next);
        let until = self.next + 2 * m;
        let batch: Vec<(u64, Material)> = (from..until)
            .map(|k| {
                let step = ((k - self.next) / m) as usize;
                let mut item = self.pattern[((k - self.next) % m) as usize].clone();
                if let (Material::RowTriple { rows, .. }, Some(next)) =
                    (&mut item, next_rows.get(step))
                {
                    *rows = next.to_vec();
                }
                (k, item)
            })
            .filter(|(_, item)| item.is_dealt())
            .collect();
        self.request(batch)
    }

    /// Party 0 asks for the whole plan at once, one item per request, so
    /// the first items come back while the dealer makes the rest.
    fn plan(&mut self, items: &[Material]) -> Result<()> {
        self.planned = items.to_vec();
        self.planned_from = self.next;
        if self.party != 0 {
            return Ok(());
        }
        let from = self.next.max(self.requested_until);
        let skip = (from - self.next) as usize;
        let numbered: Vec<(u64, Material)> = items
            .iter()
            .enumerate()
            .skip(skip)
            .filter(|(_, m)| m.is_dealt())
            .map(|(i, m)| (self.next + i as u64, m.clone()))
            .collect();
        for chunk in numbered.chunks(PLAN_BATCH) {
            self.request(chunk.to_vec())?;
        }
        Ok(())
    }

    fn make_ahead(&mut self) -> Result<()> {
        let from = self.planned_from.max(self.next);
        let items = std::mem::take(&mut self.planned);
        for (i, item) in items.iter().enumerate() {
            let k = self.planned_from + i as u64;
            if k >= from && !self.made.contains_key(&k) {
                let shares = self.make(k, item)?;
                self.made.insert(k, (item.clone(), shares));
            }
        }
        Ok(())
    }

    fn bytes_received(&self) -> u64 {
        self.received
    }

    fn wait_seconds(&self) -> f64 {
        self.waited.as_secs_f64()
    }

    fn finish(&mut self) -> Result<()> {
        if self.party == 0 && !self.finished {
            self.finished = true;
            // Collect outstanding answers so the dealer is never left writing.
            while !self.pending.is_empty() {
                self.receive_batch()?;
            }
            self.channel
                .send(encode_batch(&[]))
                .map_err(|e| dealer_net(0, e))?;
        }
        Ok(())
    }
}

/// The trusted dealer's role: deals seeds, then answers party 0's requests.
pub struct Dealer {
    seeds: Vec<Seed>,
    channels: Vec<Box<dyn Channel>>,
    sent: u64,
}

impl Dealer {
    /// Sends a fresh seed to each party (`channels[p]` links to party `p`).
    pub fn start(mut channels: Vec<Box<dyn Channel>>, mut randomness: Prg) -> Result<Self> {
        let mut seeds = Vec::with_capacity(channels.len());
        let mut sent = 0;
        for (p, ch) in channels.iter_mut().enumerate() {
            let seed = randomness.next_seed();
            ch.send(seed.to_vec()).map_err(|e| ProtocolError::Net {
                party: p,
                peer: "the dealer".into(),
                error: e,
            })?;
            sent += 32;
            seeds.push(seed);
        }
        Ok(Self {
            seeds,
            channels,
            sent,
        })
    }

    /// Party 0's shares of the determined components of item `k`, drawing
    /// every party's streams for that item exactly as the party does.
    pub fn deal(&self, k: u64, item: &Material) -> Result<Vec<RingTensor>> {
        let (random, determined) = item.layout();
        let (per_party_random, mut prgs): (Vec<Vec<RingTensor>>, Vec<Prg>) =
            self.seeds.iter().map(|s| item.draw_random(s, k)).unzip();
        let secrets: Vec<RingTensor> = (0..random.len())
            .map(|c| combine(per_party_random.iter().map(|v| &v[c]), random[c].1))
            .collect::<Result<_>>()?;
        let determined_secrets = item.determine(&secrets)?;
        let others: Vec<Vec<RingTensor>> =
            prgs[1..].iter_mut().map(|p| draw(p, &determined)).collect();
        determined
            .iter()
            .enumerate()
            .map(|(c, (_, sharing))| {
                let mut share = determined_secrets[c].clone();
                for o in &others {
                    match sharing {
                        Sharing::Arithmetic => share.sub_assign(&o[c])?,
                        Sharing::Binary => share.xor_assign(&o[c])?,
                    }
                }
                Ok(share)
            })
            .collect()
    }

    /// Serves party 0 until it says it is done or disconnects.
    /// Returns the number of bytes sent.
    pub fn serve(mut self) -> Result<u64> {
        let net = |e| ProtocolError::Net {
            party: 0,
            peer: "the dealer".into(),
            error: e,
        };
        loop {
            let req = match self.channels[0].recv() {
                Ok(r) => r,
                Err(crate::channel::NetError::Disconnected) => return Ok(self.sent),
                Err(e) => return Err(net(e)),
            };
            let items = decode_batch(&req).map_err(|detail| ProtocolError::Malformed {
                party: 0,
                peer: "the dealer".into(),
                detail,
            })?;
            if items.is_empty() {
                return Ok(self.sent);
            }
            let mut reply = Vec::new();
            for (k, item) in &items {
                for s in &self.deal(*k, item)? {
                    wire::encode_into(s, &mut reply);
                }
            }
            self.sent += reply.len() as u64;
            self.channels[0].send(reply).map_err(net)?;
        }
    }
}

fn combine<'a>(
    mut parts: impl Iterator<Item = &'a RingTensor>,
    sharing: Sharing,
) -> Result<RingTensor> {
    let mut acc = parts.next().expect("at least one party").clone();
    for p in parts {
        match sharing {
            Sharing::Arithmetic => acc.add_assign(p)?,
            Sharing::Binary => acc.xor_assign(p)?,
        }
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_garbage_is_rejected() {
        for m in [
            Material::Triple(vec![2, 3]),
            Material::MatTriple(4, 5, 6),
            Material::Trunc(vec![7], 16),
            Material::WordBits(vec![3], 64),
            Material::BitTriple(vec![5], 2),
            Material::EdaSelect(130),
            Material::Mask {
                id: 2,
                start: 5,
                rows: 7,
                cols: 3,
            },
            Material::RowTriple {
                mask: 4,
                rows: vec![6, 0, 2],
                cols: 3,
                out: 2,
                transposed: true,
            },
        ] {
            assert_eq!(Material::decode(&m.encode()).unwrap(), Some(m));
        }
        assert_eq!(Material::decode(&[0, 0, 0]).unwrap(), None);
        let batch = vec![
            (3, Material::Triple(vec![2])),
            (9, Material::WordBits(vec![1], 6)),
        ];
        assert_eq!(decode_batch(&encode_batch(&batch)).unwrap(), batch);
        assert!(decode_batch(&[1, 0, 0, 0, 1]).is_err());
        assert!(decode_batch(&[]).is_err());
        assert!(Material::decode(&[9, 0, 0]).is_err());
        assert!(Material::decode(&[1, 0, 2, 1]).is_err());
        let mut huge = vec![1, 0, 2];
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Material::decode(&huge).is_err());
    }
}
