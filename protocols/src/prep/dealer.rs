//! The trusted dealer: a separate party that makes every correlation.
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

use super::material::draw;
use super::{Material, Preprocessing, Sharing};
use crate::channel::Channel;
use crate::error::{ProtocolError, Result};
use tessera_tensor::{wire, Prg, RingTensor, Seed};

/// Statement printed by every run that uses the dealer.
pub const DEALER_TRUST: &str =
    "trusted dealer: a separate party generates Beaver triples, comparison tables, \
truncation pairs and random bits; it must not collude with any computing party \
(otherwise any n - 1 computing parties together learn nothing)";

/// Encodes a batch of requests: count, then (index, length, item) each.
pub(crate) fn encode_batch(items: &[(u64, Material)]) -> Vec<u8> {
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
pub(crate) fn decode_batch(bytes: &[u8]) -> std::result::Result<Vec<(u64, Material)>, String> {
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
/// dealer's seed, `k` and the item's fingerprint). What differs between the
/// parties is their [`Role`]: party 0 receives the determined components
/// from the dealer, the others expand everything from the seed.
pub struct DealerClient {
    party: usize,
    seed: Seed,
    next: u64,
    /// Items announced by `plan`, from index `planned_from` on.
    planned: Vec<Material>,
    planned_from: u64,
    /// The end of the last plan: until then the plan, not the last step,
    /// says what comes next, and nothing is prefetched.
    planned_until: u64,
    /// Items made ahead by `make_ahead`, by index.
    made: std::collections::HashMap<u64, (Material, Vec<RingTensor>)>,
    role: Role,
}

/// What a party does besides drawing from its seed.
enum Role {
    /// Party 0: asks the dealer for the determined components.
    Receiver(Box<DealerLink>),
    /// Parties 1..n: draw every component themselves; the link only carried
    /// the seed, and stays open so the dealer sees the job end with party 0.
    Expander { _link: Box<dyn Channel> },
}

/// Party 0's conversation with the dealer. From the second training step
/// on it asks for the next two steps' worth at once, predicted from the
/// step before, so the dealer's work and the round trip overlap with
/// computation; a misprediction is detected item by item and falls back to
/// asking.
struct DealerLink {
    channel: Box<dyn Channel>,
    received: u64,
    finished: bool,
    waited: std::time::Duration,
    /// Batches sent and not yet answered, oldest first.
    pending: std::collections::VecDeque<Vec<(u64, Material)>>,
    /// Answered items not yet taken.
    ready: std::collections::HashMap<u64, (Material, Vec<RingTensor>)>,
    /// Items taken since the last step boundary.
    history: Vec<Material>,
    /// The rows of the step in `history` (`None`: not given).
    history_rows: Option<usize>,
    /// Items of the last complete step of each size (rows per step).
    patterns: std::collections::HashMap<Option<usize>, Vec<Material>>,
    /// Every index below this has been requested.
    requested_until: u64,
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
        let role = if party == 0 {
            Role::Receiver(Box::new(DealerLink {
                channel,
                received: 0,
                finished: false,
                waited: std::time::Duration::ZERO,
                pending: Default::default(),
                ready: Default::default(),
                history: Vec::new(),
                history_rows: None,
                patterns: Default::default(),
                requested_until: 0,
            }))
        } else {
            Role::Expander { _link: channel }
        };
        Ok(Self {
            party,
            seed,
            next: 0,
            planned: Vec::new(),
            planned_from: 0,
            planned_until: 0,
            made: Default::default(),
            role,
        })
    }

    /// This party's shares of item `k`: its own draws, and for party 0 the
    /// dealer's part of the determined components.
    fn make(&mut self, k: u64, item: &Material) -> Result<Vec<RingTensor>> {
        let (_, determined) = item.layout();
        let (mut out, mut prg) = item.draw_random(&self.seed, k, self.party);
        match &mut self.role {
            Role::Expander { .. } => out.extend(draw(&mut prg, &determined)),
            Role::Receiver(link) if item.is_dealt() => out.extend(link.fetch(k, item)?),
            Role::Receiver(_) => {}
        }
        Ok(out)
    }
}

impl DealerLink {
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
                    wire::decode_prefix(rest, crate::channel::MAX_MESSAGE_ELEMS).map_err(|e| {
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

    /// The determined components of item `k`.
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

    /// At a step boundary (`next` the index of the next item): asks ahead
    /// for the items of the coming steps, each predicted from the last step
    /// of its size. `next_rows` are the data rows of this step and the next
    /// ones, as far as the caller knows them: those steps, up to two, and
    /// none past them (a training run's last batch, which may be smaller,
    /// then the job's end). Without them, two steps like the last.
    fn prefetch(&mut self, next: u64, next_rows: &[&[usize]]) -> Result<()> {
        if !self.history.is_empty() {
            let items = std::mem::take(&mut self.history);
            self.patterns.insert(self.history_rows, items);
        }
        self.history_rows = next_rows.first().map(|r| r.len());
        // Drop answers that were never used (mispredictions of past steps).
        self.ready.retain(|&k, _| k >= next);
        let sizes: Vec<Option<usize>> = match next_rows {
            [] => vec![None; 2],
            known => known.iter().take(2).map(|r| Some(r.len())).collect(),
        };
        let from = self.requested_until.max(next);
        let mut k = next;
        let mut batch = Vec::new();
        for (step, size) in sizes.iter().enumerate() {
            // A step of a size not seen yet: its items are unknown.
            let Some(pattern) = self.patterns.get(size) else {
                break;
            };
            for item in pattern {
                if k >= from && item.is_dealt() {
                    let mut item = item.clone();
                    if let (Some(rows), Some(rows_then)) =
                        (item.data_rows_mut(), next_rows.get(step))
                    {
                        *rows = rows_then.to_vec();
                    }
                    batch.push((k, item));
                }
                k += 1;
            }
        }
        self.request(batch)
    }

    /// Asks for a whole plan starting at index `next`, one item per
    /// request, so the first come back while the dealer makes the rest.
    fn request_plan(&mut self, next: u64, items: &[Material]) -> Result<()> {
        let from = next.max(self.requested_until);
        let skip = (from - next) as usize;
        let numbered: Vec<(u64, Material)> = items
            .iter()
            .enumerate()
            .skip(skip)
            .filter(|(_, m)| m.is_dealt())
            .map(|(i, m)| (next + i as u64, m.clone()))
            .collect();
        for chunk in numbered.chunks(PLAN_BATCH) {
            self.request(chunk.to_vec())?;
        }
        Ok(())
    }

    /// Collects outstanding answers, so the dealer is never left writing,
    /// then tells it the job is done.
    fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        while !self.pending.is_empty() {
            self.receive_batch()?;
        }
        self.channel
            .send(encode_batch(&[]))
            .map_err(|e| dealer_net(0, e))
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
        if let Role::Receiver(link) = &mut self.role {
            link.history.push(item.clone());
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
        match &mut self.role {
            // Prefetching past a plan's end would ask for items the job
            // never takes (its last step has no next one).
            Role::Receiver(_) if next < self.planned_until => Ok(()),
            Role::Receiver(link) => link.prefetch(next, next_rows),
            Role::Expander { .. } => Ok(()),
        }
    }

    /// Party 0 asks for the whole plan at once.
    fn plan(&mut self, items: &[Material]) -> Result<()> {
        self.planned = items.to_vec();
        self.planned_from = self.next;
        self.planned_until = self.next + items.len() as u64;
        match &mut self.role {
            Role::Receiver(link) => link.request_plan(self.next, items),
            Role::Expander { .. } => Ok(()),
        }
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

    fn mac_key_share(&self) -> Result<super::auth::MacKeys> {
        Ok(super::auth::key_share(&self.seed))
    }

    fn deals_tables(&self) -> bool {
        true
    }

    fn bytes_received(&self) -> u64 {
        // The seed, and party 0's answers.
        32 + match &self.role {
            Role::Receiver(link) => link.received,
            Role::Expander { .. } => 0,
        }
    }

    fn wait_seconds(&self) -> f64 {
        match &self.role {
            Role::Receiver(link) => link.waited.as_secs_f64(),
            Role::Expander { .. } => 0.0,
        }
    }

    fn finish(&mut self) -> Result<()> {
        match &mut self.role {
            Role::Receiver(link) => link.finish(),
            Role::Expander { .. } => Ok(()),
        }
    }
}

/// The trusted dealer's role: deals seeds, then answers party 0's requests.
pub struct Dealer {
    pub(crate) seeds: Vec<Seed>,
    pub(crate) channels: Vec<Box<dyn Channel>>,
    pub(crate) sent: u64,
}

impl Dealer {
    /// Sends a fresh seed to each party (`channels[p]` links to party `p`).
    pub fn start(mut channels: Vec<Box<dyn Channel>>, mut randomness: Prg) -> Result<Self> {
        let mut seeds = Vec::with_capacity(channels.len());
        let mut sent = 0;
        for (p, ch) in channels.iter_mut().enumerate() {
            let seed = randomness.next_seed();
            ch.send(seed.to_vec())
                .map_err(|e| ProtocolError::DealerNet { party: p, error: e })?;
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
        let parties = self.seeds.len();
        if let Some(p) = item.holder().filter(|&p| p >= parties) {
            return Err(ProtocolError::DealerMalformed {
                party: 0,
                detail: format!("a request held by party {p}, of {parties} parties"),
            });
        }
        let (random, determined) = item.layout();
        let (per_party_random, mut prgs): (Vec<Vec<RingTensor>>, Vec<Prg>) = self
            .seeds
            .iter()
            .enumerate()
            .map(|(p, s)| item.draw_random(s, k, p))
            .unzip();
        let secrets: Vec<RingTensor> = (0..random.len())
            .map(|c| combine(per_party_random.iter().map(|v| &v[c]), random[c].1))
            .collect::<Result<_>>()?;
        let keys = super::auth::joint_keys(&self.seeds);
        let determined_secrets = item.determine(&secrets, keys)?;
        let others: Vec<Vec<RingTensor>> =
            prgs[1..].iter_mut().map(|p| draw(p, &determined)).collect();
        determined
            .iter()
            .zip(determined_secrets)
            .enumerate()
            .map(|(c, ((_, sharing), mut share))| {
                for o in &others {
                    match sharing {
                        Sharing::Arithmetic => share.sub_assign(&o[c])?,
                        Sharing::Binary => share.xor_assign(&o[c])?,
                        Sharing::Wide => share = super::auth::wide_add(&share, &o[c], true)?,
                    }
                }
                Ok(share)
            })
            .collect()
    }

    /// Serves party 0 until it says the job is done. Returns the number of
    /// bytes sent. Party 0 leaving without saying so means the job failed:
    /// that is an error (the dealer then exits non-zero).
    pub fn serve(mut self) -> Result<u64> {
        let net = |e| ProtocolError::DealerNet { party: 0, error: e };
        loop {
            let req = self.channels[0].recv().map_err(net)?;
            let items = decode_batch(&req)
                .map_err(|detail| ProtocolError::DealerMalformed { party: 0, detail })?;
            if items.is_empty() {
                return Ok(self.sent);
            }
            let dealt = items
                .iter()
                .map(|(k, item)| self.deal(*k, item))
                .collect::<Result<Vec<_>>>()?;
            // Sized once: grown piece by piece, a batch of many megabytes
            // was copied at every doubling.
            let mut reply = Vec::with_capacity(dealt.iter().flatten().map(wire::encoded_len).sum());
            for s in dealt.iter().flatten() {
                wire::encode_into(s, &mut reply);
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
            Sharing::Wide => acc = super::auth::wide_add(&acc, p, false)?,
        }
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MemChannel;
    use std::time::Duration;

    #[test]
    fn a_request_held_by_a_party_that_does_not_exist_is_refused() {
        let (mut ends, mut keep) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let (dealer_end, party_end) = MemChannel::pair(Duration::from_secs(1));
            ends.push(Box::new(dealer_end) as Box<dyn Channel>);
            keep.push(party_end);
        }
        let dealer = Dealer::start(ends, Prg::from_seed([1; 32])).unwrap();
        let held = |owner| Material::HeldTriple {
            owner,
            m: 2,
            k: 3,
            n: 4,
        };
        // Party 0 gets the determined part: its share of C.
        assert_eq!(dealer.deal(0, &held(1)).unwrap().len(), 1);
        let err = dealer.deal(1, &held(2)).unwrap_err().to_string();
        assert!(err.contains("held by party 2, of 2 parties"), "{err}");
    }
}
