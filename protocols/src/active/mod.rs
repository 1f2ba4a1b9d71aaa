//! The actively secure mode: SPDZ2k (Cramer, Damgard, Escudero, Scholl,
//! Xing, CRYPTO 2018) over Z_2^64 with k = 64 and statistical security
//! s = 64, for any number of parties of which up to n - 1 may deviate
//! arbitrarily. The dealer is trusted (it makes the authenticated material
//! and knows the MAC key); the parties are not.
//!
//! Every secret is an [`AuthShare`]: shares of a value in Z_2^128 and of its
//! MAC under a global key no party knows. Linear operations are local.
//! Products, matrix products and truncations open only values masked by
//! the dealer's uniform randomness; every opened value is kept, with this
//! party's MAC share, until [`Active::check`] verifies them all at once
//! (SPDZ2k's batched MAC check: random 64-bit coefficients tossed after the
//! openings, then each party's `z_i = m_i - alpha_i y` committed with
//! SHA-256 before it is opened). Inputs are broadcast masked; every party
//! hashes what it received and the digests are compared in the check, so a
//! party that sends different values to different peers is caught. Results
//! are released only after a passed check: [`Active::reveal`] opens `x +
//! 2^64 t` (the random `t` hides the upper bits) and [`Active::reveal_to`]
//! opens `x + r` with `r` known to the receiver alone.
//!
//! A deviating party is caught except with probability about 2^-57 per
//! check (SPDZ2k, Theorem 1: 2^(-s + log2(s + 1))). It can still abort, and
//! choose its own inputs. Which check failed is reported; who cheated is
//! not (the honest parties cannot always tell).

mod binary;
mod bits;
mod compare;
mod data;
mod share;

pub use binary::BitShare;
pub use data::AuthData;
pub use share::AuthShare;

use crate::error::{ProtocolError, Result};
use crate::prep::auth::AuthKind;
use crate::prep::Material;
use crate::session::{PartyId, Session};
pub(crate) use binary::unpack;
use sha2::{Digest, Sha256};
pub(crate) use share::{matmul128, transpose128};
use tessera_tensor::RingTensor;

/// A test hook: this party changes one word of what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tamper {
    /// The peer whose message is changed.
    pub peer: PartyId,
    /// Which word (counting every word sent to `peer` after arming).
    pub word: u64,
    /// XORed into that word (nonzero).
    pub xor: u64,
}

/// Counters of the active mode's own work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckStats {
    /// MAC checks run.
    pub checks: u64,
    /// Elements verified by them.
    pub checked_elements: u64,
    /// Rounds spent in them.
    pub rounds: u64,
    /// Bytes this party sent for them (commitments, coins, check values,
    /// verdicts), to all peers.
    pub bytes_sent: u64,
}

/// Opened values held for the check before they are cleared.
const MAX_PENDING: usize = 1 << 22;

/// One party's view of an actively secure computation.
pub struct Active<'s> {
    sess: &'s mut Session,
    key: u128,
    /// This party's share of the binary MAC key ([`BitShare`]).
    bin_key: u64,
    /// Opened values and this party's MAC shares of them, not yet checked.
    opened: Vec<(u128, u128)>,
    /// Opened bits not yet checked, as the check's blocks (64 bits and
    /// this party's MAC shares folded to two words), and how many bits.
    opened_bit_blocks: Vec<(u64, u64)>,
    opened_bit_count: usize,
    /// The id of the next persistent mask ([`AuthData`]).
    next_mask: u64,
    /// Every broadcast value this party sent or received, in order.
    broadcasts: Sha256,
    /// Whether a broadcast arrived since the last check.
    broadcast_unchecked: bool,
    tamper: Option<Tamper>,
    sent_words: Vec<u64>,
    stats: CheckStats,
}

fn words_to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Little-endian words of a byte string (its length a multiple of 8).
fn bytes_to_words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

fn u128_words(values: &[u128]) -> Vec<u64> {
    values
        .iter()
        .flat_map(|&v| [v as u64, (v >> 64) as u64])
        .collect()
}

fn words_u128(words: &[u64]) -> Vec<u128> {
    words
        .chunks_exact(2)
        .map(|p| p[0] as u128 | (p[1] as u128) << 64)
        .collect()
}

impl<'s> Active<'s> {
    /// Starts the active mode on a session: takes this party's MAC key share
    /// from the provider (only the dealer makes authenticated material).
    pub fn new(sess: &'s mut Session) -> Result<Self> {
        let keys = sess.prep().mac_key_share()?;
        let n = sess.n();
        Ok(Self {
            sess,
            key: keys.arith,
            bin_key: keys.binary,
            opened: Vec::new(),
            opened_bit_blocks: Vec::new(),
            opened_bit_count: 0,
            // Apart from the semi-honest masks' ids.
            next_mask: 1 << 63,
            broadcasts: Sha256::new(),
            broadcast_unchecked: false,
            tamper: None,
            sent_words: vec![0; n],
            stats: CheckStats::default(),
        })
    }

    /// The underlying session.
    pub fn session(&mut self) -> &mut Session {
        self.sess
    }

    /// The fixed-point encoding in use.
    pub fn fixed_point(&self) -> tessera_tensor::FixedPoint {
        self.sess.fixed()
    }

    /// The check counters so far.
    pub fn check_stats(&self) -> CheckStats {
        self.stats
    }

    /// Test hook: from now on, change one word sent to a peer (see [`Tamper`]).
    pub fn tamper(&mut self, t: Tamper) {
        self.sent_words = vec![0; self.sess.n()];
        self.tamper = Some(t);
    }

    /// Words sent to `peer` by this layer since the session started (or
    /// since the tamper hook was armed).
    pub fn words_sent(&self, peer: PartyId) -> u64 {
        self.sent_words[peer]
    }

    /// Sends words to one peer, through the tamper hook.
    fn send(&mut self, peer: PartyId, mut words: Vec<u64>) -> Result<()> {
        if let Some(t) = self.tamper.filter(|t| t.peer == peer) {
            let from = self.sent_words[peer];
            if (from..from + words.len() as u64).contains(&t.word) {
                words[(t.word - from) as usize] ^= t.xor;
            }
        }
        self.sent_words[peer] += words.len() as u64;
        self.sess.send_bytes(peer, words_to_bytes(&words))
    }

    /// Receives exactly `len` words from a peer.
    fn recv(&mut self, peer: PartyId, len: usize) -> Result<Vec<u64>> {
        let bytes = self.sess.recv_bytes(peer)?;
        if bytes.len() != len * 8 {
            return Err(ProtocolError::Malformed {
                party: self.sess.id(),
                peer: format!("party {peer}"),
                detail: format!("{} bytes where {} words were due", bytes.len(), len),
            });
        }
        Ok(bytes_to_words(&bytes))
    }

    /// Every party sends `mine(peer)` to every peer; returns what each peer
    /// sent (`len` words each), indexed by party (own entry empty). One round.
    fn exchange(&mut self, mine: &[u64], len: usize) -> Result<Vec<Vec<u64>>> {
        let peers: Vec<_> = self.sess.peers().collect();
        for &p in &peers {
            self.send(p, mine.to_vec())?;
        }
        let mut got = vec![Vec::new(); self.sess.n()];
        for &p in &peers {
            got[p] = self.recv(p, len)?;
        }
        self.sess.count_round();
        Ok(got)
    }

    /// Takes authenticated material: value and MAC pairs in the item's order.
    fn take(&mut self, kind: AuthKind) -> Result<Vec<RingTensor>> {
        self.sess.prep().take(&Material::Auth(kind))
    }

    /// Opens shares (in Z_2^128) in one round and keeps them for the check.
    fn open(&mut self, xs: &[&AuthShare]) -> Result<Vec<Vec<u128>>> {
        if self.opened.len() >= MAX_PENDING {
            // Bounds memory: verify what is waiting before opening more.
            self.check()?;
        }
        let mine: Vec<u128> = xs.iter().flat_map(|x| x.value.iter().copied()).collect();
        let words = u128_words(&mine);
        let got = self.exchange(&words, words.len())?;
        let mut sum = mine;
        for theirs in got.iter().filter(|g| !g.is_empty()) {
            for (s, v) in sum.iter_mut().zip(words_u128(theirs)) {
                *s = s.wrapping_add(v);
            }
        }
        let macs = xs.iter().flat_map(|x| x.mac.iter().copied());
        self.opened.extend(sum.iter().copied().zip(macs));
        let mut at = 0;
        Ok(xs
            .iter()
            .map(|x| {
                let part = sum[at..at + x.len()].to_vec();
                at += x.len();
                part
            })
            .collect())
    }

    /// Public values (one per element) added to a secret (local).
    pub fn add_public(&self, x: &AuthShare, c: &[u128]) -> Result<AuthShare> {
        x.add_public_values(c, self.sess.is_leader(), self.key)
    }

    /// This party's id.
    pub fn party(&self) -> PartyId {
        self.sess.id()
    }

    /// A public ring tensor as an authenticated share (no messages).
    pub fn public(&self, t: &RingTensor) -> AuthShare {
        AuthShare::public(t.shape(), t.as_slice(), self.sess.is_leader(), self.key)
    }

    /// Adds a public ring scalar to every element (local).
    pub fn add_public_scalar(&self, x: &AuthShare, c: u64) -> Result<AuthShare> {
        self.add_public(x, &vec![c as u128; x.len()])
    }

    /// Secret-shares `value`, held by `owner`, with MACs: the owner
    /// broadcasts `value - r` for a dealer mask `r` only it knows. One round.
    pub fn input(
        &mut self,
        owner: PartyId,
        value: Option<&RingTensor>,
        shape: &[usize],
    ) -> Result<AuthShare> {
        let me = self.sess.id();
        if owner >= self.sess.n() || (me == owner) != value.is_some() {
            return Err(ProtocolError::InvalidArgument {
                op: "active input",
                detail: format!("party {me}: owner {owner} must pass the value, and only it"),
            });
        }
        let m = self.take(AuthKind::Input(shape.to_vec(), owner))?;
        let r = AuthShare::from_parts(&m[0], &m[1]);
        let len = r.len();
        let delta: Vec<u128> = match value {
            Some(v) => {
                if v.shape() != shape {
                    return Err(ProtocolError::InvalidArgument {
                        op: "active input",
                        detail: format!("value of shape {:?}, declared {shape:?}", v.shape()),
                    });
                }
                // Only the owner's share of r is nonzero: it knows r.
                v.as_slice()
                    .iter()
                    .zip(&r.value)
                    .map(|(&x, &rv)| (x as u128).wrapping_sub(rv))
                    .collect()
            }
            None => Vec::new(),
        };
        let delta = if me == owner {
            let words = u128_words(&delta);
            let peers: Vec<_> = self.sess.peers().collect();
            for p in peers {
                self.send(p, words.clone())?;
            }
            delta
        } else {
            words_u128(&self.recv(owner, 2 * len)?)
        };
        self.sess.count_round();
        self.broadcasts.update((owner as u64).to_le_bytes());
        self.broadcasts.update(words_to_bytes(&u128_words(&delta)));
        self.broadcast_unchecked = true;
        self.add_public(&r, &delta)
    }

    /// Elementwise product of two secrets (Beaver, one round; no truncation).
    pub fn mul(&mut self, x: &AuthShare, y: &AuthShare) -> Result<AuthShare> {
        let t = self.take(AuthKind::Triple(x.shape.clone()))?;
        let (a, b) = (
            AuthShare::from_parts(&t[0], &t[3]),
            AuthShare::from_parts(&t[1], &t[4]),
        );
        let c = AuthShare::from_parts(&t[2], &t[5]);
        let (d, e) = (x.sub(&a)?, y.sub(&b)?);
        let opened = self.open(&[&d, &e])?;
        let (d, e) = (&opened[0], &opened[1]);
        // x y = c + d b + e a + d e
        let z = c.add(&b.mul_public(d)?)?.add(&a.mul_public(e)?)?;
        let de: Vec<u128> = d.iter().zip(e).map(|(p, q)| p.wrapping_mul(*q)).collect();
        self.add_public(&z, &de)
    }

    /// Matrix product `[m, k] x [k, n]` of two secrets (one round).
    pub fn matmul(&mut self, x: &AuthShare, y: &AuthShare) -> Result<AuthShare> {
        let (&[m, k], &[k2, n]) = (x.shape(), y.shape()) else {
            return Err(ProtocolError::InvalidArgument {
                op: "active matmul",
                detail: format!("{:?} x {:?}: two matrices", x.shape(), y.shape()),
            });
        };
        if k != k2 {
            return Err(ProtocolError::InvalidArgument {
                op: "active matmul",
                detail: format!("{:?} x {:?}: inner sizes differ", x.shape(), y.shape()),
            });
        }
        let t = self.take(AuthKind::MatTriple(m, k, n))?;
        let (a, b) = (
            AuthShare::from_parts(&t[0], &t[3]),
            AuthShare::from_parts(&t[1], &t[4]),
        );
        let c = AuthShare::from_parts(&t[2], &t[5]);
        let opened = self.open(&[&x.sub(&a)?, &y.sub(&b)?])?;
        let (d, e) = (&opened[0], &opened[1]);
        // X Y = C + D B + A E + D E, on values and MACs alike.
        let mm = |l: &[u128], r: &[u128], lk: usize| matmul128(l, r, m, lk, n);
        let z = AuthShare {
            shape: vec![m, n],
            value: add3(&c.value, &mm(d, &b.value, k), &mm(&a.value, e, k)),
            mac: add3(&c.mac, &mm(d, &b.mac, k), &mm(&a.mac, e, k)),
        };
        self.add_public(&z, &mm(d, e, k))
    }

    /// Fixed-point truncation by `f` bits (one round), as the semi-honest
    /// [`crate::arith::truncate_bits`] on the low 64 bits: the same bound,
    /// at most one unit above `floor(x / 2^f)` for `|x| < 2^62`.
    pub fn truncate(&mut self, x: &AuthShare, f: u32) -> Result<AuthShare> {
        if !(1..=62).contains(&f) {
            return Err(ProtocolError::InvalidArgument {
                op: "active truncate",
                detail: format!("cannot truncate by {f} bits"),
            });
        }
        let t = self.take(AuthKind::Trunc(x.shape.clone(), f))?;
        let r = AuthShare::from_parts(&t[0], &t[1]);
        let low = AuthShare::from_parts(&t[2], &t[3]);
        let msb = AuthShare::from_parts(&t[4], &t[5]);
        const BIAS: u64 = 1 << 62;
        let biased = self.add_public(x, &vec![BIAS as u128; x.len()])?;
        let c = self.open(&[&biased.add(&r)?])?.remove(0);
        // carry = c_msb XOR r_msb = r_msb (1 - 2 c_msb) + c_msb
        let c64: Vec<u64> = c.iter().map(|&v| v as u64).collect();
        let sign: Vec<u128> = c64
            .iter()
            .map(|&v| 1u128.wrapping_sub(2 * (v >> 63) as u128))
            .collect();
        let carry = msb.mul_public(&sign)?;
        let out = carry.mul_public_scalar(1u64 << (63 - f)).sub(&low)?;
        let public: Vec<u128> = c64
            .iter()
            .map(|&cv| {
                let m = cv >> 63;
                (((cv & (u64::MAX >> 1)) >> f)
                    .wrapping_add(m << (63 - f))
                    .wrapping_sub(BIAS >> f)) as u128
            })
            .collect();
        self.add_public(&out, &public)
    }

    /// Fixed-point product: [`Active::mul`] then [`Active::truncate`].
    pub fn mul_fixed(&mut self, x: &AuthShare, y: &AuthShare) -> Result<AuthShare> {
        let f = self.sess.fixed().frac_bits();
        let p = self.mul(x, y)?;
        self.truncate(&p, f)
    }

    /// Fixed-point matrix product: [`Active::matmul`] then [`Active::truncate`].
    pub fn matmul_fixed(&mut self, x: &AuthShare, y: &AuthShare) -> Result<AuthShare> {
        let f = self.sess.fixed().frac_bits();
        let p = self.matmul(x, y)?;
        self.truncate(&p, f)
    }

    /// Verifies every value opened since the last check, and that every
    /// party saw the same broadcasts (five rounds: coin commitments, coins,
    /// check commitments, check values, verdicts; none if nothing arrived
    /// since the last check). An error means some party deviated; the
    /// caller must release nothing.
    pub fn check(&mut self) -> Result<()> {
        if self.opened.is_empty() && self.opened_bit_count == 0 && !self.broadcast_unchecked {
            // Everything was verified by the last check: nothing to do.
            return Ok(());
        }
        let n = self.sess.n();
        let me = self.sess.id();
        let bad = |check: &'static str, detail: String| ProtocolError::CheatingDetected {
            party: me,
            check,
            detail,
        };
        // 1-2. Toss coins for the coefficients, committed before opened.
        let mine_seed = self.sess.local_prg().next_seed();
        let commit = |bytes: &[u8]| bytes_to_words(&Sha256::digest(bytes));
        let seed_words = bytes_to_words(&mine_seed);
        let commitments = self.exchange(&commit(&mine_seed), 4)?;
        let seeds = self.exchange(&seed_words, 4)?;
        let mut joint = Sha256::new();
        for p in 0..n {
            let s = if p == me { &seed_words } else { &seeds[p] };
            if p != me && commit(&words_to_bytes(s)) != commitments[p] {
                return Err(bad(
                    "coin toss",
                    format!("party {p}'s seed does not match its commitment"),
                ));
            }
            joint.update(words_to_bytes(s));
        }
        let mut chi = tessera_tensor::Prg::from_seed(joint.finalize().into());
        // 3-4. z_i = sum chi_j m_ij - alpha_i sum chi_j x_j, with the
        // broadcasts' digest, committed, then opened; the z_i must sum to 0.
        let (mut y, mut m) = (0u128, 0u128);
        for &(x, mac) in &self.opened {
            let c = chi.next_u64() as u128;
            y = y.wrapping_add(c.wrapping_mul(x));
            m = m.wrapping_add(c.wrapping_mul(mac));
        }
        let z = m.wrapping_sub(self.key.wrapping_mul(y));
        // The opened bits' term (see `binary`), from the same coins.
        let sigma = binary::check_term(&self.opened_bit_blocks, self.bin_key, || chi.next_u64());
        let digest = bytes_to_words(&self.broadcasts.clone().finalize());
        let nonce = self.sess.local_prg().next_seed();
        let mut reveal = u128_words(&[z]);
        reveal.extend(&digest);
        reveal.extend(bytes_to_words(&nonce));
        reveal.push(sigma);
        let commitments = self.exchange(&commit(&words_to_bytes(&reveal)), 4)?;
        let reveals = self.exchange(&reveal, reveal.len())?;
        let mut verdict = Ok(());
        let (mut total, mut bit_total) = (z, sigma);
        for p in (0..n).filter(|&p| p != me) {
            if commit(&words_to_bytes(&reveals[p])) != commitments[p] {
                verdict = Err(bad(
                    "MAC check",
                    format!("party {p}'s opening does not match its commitment"),
                ));
            } else if reveals[p][2..6] != digest[..] {
                verdict = Err(bad(
                    "broadcast check",
                    format!("party {p} saw different broadcast inputs than this party"),
                ));
            }
            total = total.wrapping_add(words_u128(&reveals[p][..2])[0]);
            bit_total ^= reveals[p][10];
        }
        if verdict.is_ok() && (total != 0 || bit_total != 0) {
            verdict = Err(bad(
                "MAC check",
                format!(
                    "{} opened values and {} opened bits do not all carry valid MACs",
                    self.opened.len(),
                    self.opened_bit_count
                ),
            ));
        }
        // 5. Every party says whether its check passed, so that one honest
        // party's failure stops them all before anything is released.
        let verdicts = self.exchange(&[verdict.is_err() as u64], 1)?;
        verdict?;
        if let Some(p) = (0..n).find(|&p| p != me && verdicts[p] != [0]) {
            return Err(bad(
                "verdict",
                format!("party {p} reports that its check failed"),
            ));
        }
        self.stats.checks += 1;
        self.stats.checked_elements += (self.opened.len() + self.opened_bit_count) as u64;
        self.stats.rounds += 5;
        // 4 + 4 + 4 + 11 + 1 words to each peer.
        self.stats.bytes_sent += 24 * 8 * (n as u64 - 1);
        self.opened.clear();
        self.opened_bit_blocks.clear();
        self.opened_bit_count = 0;
        self.broadcast_unchecked = false;
        Ok(())
    }

    /// Opens `x` to every party after the check passes: `x + 2^64 t` for a
    /// random `t` is opened and verified, and only its low 64 bits are used.
    pub fn reveal(&mut self, x: &AuthShare, label: &str) -> Result<RingTensor> {
        let m = self.take(AuthKind::Random(x.shape.clone()))?;
        let t = AuthShare::from_parts(&m[0], &m[1]);
        let masked = x.add(&t.map_linear(|v| v << 64))?;
        let y = self.open(&[&masked])?.remove(0);
        self.check()?;
        self.sess.note_opening(label, &x.shape, None);
        Ok(RingTensor::from_vec(
            &x.shape,
            y.iter().map(|&v| v as u64).collect(),
        )?)
    }

    /// Opens `x` to party `to` only, after the check passes: `x + r` is
    /// opened, with `r` a dealer mask only `to` knows. Returns the secret on
    /// `to`, `None` elsewhere.
    pub fn reveal_to(
        &mut self,
        x: &AuthShare,
        to: PartyId,
        label: &str,
    ) -> Result<Option<RingTensor>> {
        let m = self.take(AuthKind::Input(x.shape.clone(), to))?;
        let r = AuthShare::from_parts(&m[0], &m[1]);
        let y = self.open(&[&x.add(&r)?])?.remove(0);
        self.check()?;
        self.sess.note_opening(label, &x.shape, Some(to));
        if self.sess.id() != to {
            return Ok(None);
        }
        // Only `to`'s share of r is nonzero: it is r.
        let v = y
            .iter()
            .zip(&r.value)
            .map(|(&yv, &rv)| yv.wrapping_sub(rv) as u64)
            .collect();
        Ok(Some(RingTensor::from_vec(&x.shape, v)?))
    }
}

fn add3(a: &[u128], b: &[u128], c: &[u128]) -> Vec<u128> {
    a.iter()
        .zip(b)
        .zip(c)
        .map(|((x, y), z)| x.wrapping_add(*y).wrapping_add(*z))
        .collect()
}
