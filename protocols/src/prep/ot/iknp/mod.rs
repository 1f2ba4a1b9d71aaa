//! OT extension: IKNP (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003) turns
//! 128 base OTs into any number of correlated OTs at the cost of symmetric
//! crypto, and a correlation-robust hash turns those into correlated OTs
//! with arbitrary (truncated) correlations.
//!
//! The extension *receiver* holds both seeds of each of the 128 base OTs
//! (it was their sender); the extension *sender* holds one seed per column,
//! chosen by the bits of its secret `delta`. For choice bits `r` the receiver
//! sends `u_l = G(k0_l) ^ G(k1_l) ^ r` for every column `l`; the sender gets
//! `q_l = G(k_{delta_l}) ^ delta_l u_l`, so after transposing, row `j` has
//! `q_j = t_j ^ r_j delta`. Message `m_b` of OT `j` is `H(j, q_j ^ b delta)`,
//! and the receiver knows `H(j, t_j) = m_{r_j}` only.
//!
//! `H` is the tweakable correlation-robust hash from fixed-key AES of Guo,
//! Katz, Wang and Yu (IEEE S&P 2020, eprint 2019/074):
//! `H(i, x) = pi(pi(x) ^ i) ^ pi(x)`, with a unique tweak `i` per OT and
//! output block. Longer outputs use further tweaks of the same OT.
//!
//! **Correlated OT** (Gilboa's multiplication needs it): the sender's output
//! is `x = m_0` and it sends `d = x + c - m_1`, so the receiver's
//! `y = m_r + r d = x + r c`. Every word is reduced to a width `w` (the
//! caller's: Gilboa's `t`-th OT needs only `64 - t` bits) and `d` is sent
//! bit-packed at that width.
//!
//! **Security:** semi-honest, given secure base OTs and `H` correlation
//! robust (fixed-key AES modelled as a random permutation). The secret bits
//! (`delta`, choices) never branch: they select through masks.

mod bits;
mod primitives;

use super::base::Key;
use bits::{BitReader, BitWriter};
pub use primitives::transpose64;
use primitives::{transpose, ColumnPrg, Tccr};

/// Base OTs per extension: the computational security parameter.
pub const KAPPA: usize = 128;

/// OTs processed per chunk: one frame of corrections each.
const CHUNK_BLOCKS: usize = 1 << 14;

/// How a correlation is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `y = x + r c` modulo `2^w`.
    Add,
    /// `y = x ^ r c`.
    Xor,
}

/// The extension sender's state with one peer (the base-OT receiver).
pub struct ExtSender {
    delta: u128,
    columns: Vec<ColumnPrg>,
    /// Index of the next OT (the hash tweak), the same on both sides.
    next: u64,
}

/// The extension receiver's state with one peer (the base-OT sender).
pub struct ExtReceiver {
    columns: Vec<(ColumnPrg, ColumnPrg)>,
    next: u64,
}

impl ExtSender {
    /// From the secret `delta` and the base-OT keys chosen by its bits.
    pub fn new(delta: u128, keys: &[Key]) -> Self {
        Self {
            delta,
            columns: keys.iter().map(ColumnPrg::new).collect(),
            next: 0,
        }
    }
}

impl Drop for ExtSender {
    fn drop(&mut self) {
        self.delta = 0;
    }
}

impl ExtReceiver {
    /// From both keys of each base OT.
    pub fn new(keys: &[(Key, Key)]) -> Self {
        Self {
            columns: keys
                .iter()
                .map(|(a, b)| (ColumnPrg::new(a), ColumnPrg::new(b)))
                .collect(),
            next: 0,
        }
    }
}

/// The width mask of a `w`-bit word.
fn mask(w: u32) -> u64 {
    if w >= 64 {
        u64::MAX
    } else {
        (1u64 << w) - 1
    }
}

/// What a batch of correlated OTs looks like: `n` OTs of `v` words each,
/// OT `j` reduced to `width.of(j)` bits.
pub struct CotShape<'a> {
    /// Number of OTs.
    pub n: usize,
    /// Words per OT.
    pub v: usize,
    /// How correlations combine.
    pub op: Op,
    /// Bits kept of every word of each OT (1 to 64).
    pub width: Width<'a>,
}

/// Bits kept of the words of OT `j`, by rule (no call per OT).
#[derive(Clone, Copy)]
pub enum Width<'a> {
    /// The same for every OT.
    Fixed(u32),
    /// Gilboa's products: OT `j` carries bit `t = j mod 64` of a factor, so
    /// only the low `64 - t` bits of its correlation matter.
    Gilboa,
    /// `table[(offset + j) mod table.len()]`.
    Cycle {
        /// Widths, repeating.
        table: &'a [u32],
        /// Position of OT 0 in the table.
        offset: usize,
    },
}

impl Width<'_> {
    /// Bits of OT `j`.
    #[inline]
    pub fn of(&self, j: usize) -> u32 {
        match *self {
            Width::Fixed(w) => w,
            Width::Gilboa => 64 - (j % 64) as u32,
            Width::Cycle { table, offset } => table[(offset + j) % table.len()],
        }
    }
}

impl CotShape<'_> {
    /// OTs after padding to whole 128-bit blocks of the IKNP matrix.
    fn padded(&self) -> usize {
        self.n.div_ceil(128) * 128
    }
    /// OTs per chunk (the unit of one corrections frame).
    fn chunk(&self) -> usize {
        (CHUNK_BLOCKS / self.v.div_ceil(2)).max(1)
    }
}

/// Hash blocks for `v` words (every word a full pad: cheaper to make by
/// AES than to cut to its width).
fn blocks_for(v: usize) -> usize {
    v.div_ceil(2)
}

/// The receiver's half of a batch after its first message: the rows `t_j`
/// and the choices, waiting for the sender's corrections.
pub struct PendingReceive {
    rows: Vec<u128>,
    choices: Vec<u64>,
    first: u64,
    tccr: Tccr,
    hashed: Vec<u64>,
}

impl ExtReceiver {
    /// Starts a batch with choice bit `choice(j)` (0 or 1) for OT `j`.
    /// Returns the message for the sender (the matrix `u`, column by column,
    /// little-endian words).
    pub fn start(
        &mut self,
        shape: &CotShape,
        choice: impl Fn(usize) -> u64,
    ) -> (Vec<u8>, PendingReceive) {
        let n = shape.padded();
        let w = n / 64;
        let mut choices = vec![0u64; w];
        for j in 0..shape.n {
            choices[j / 64] |= (choice(j) & 1) << (j % 64);
        }
        let mut t = vec![0u64; KAPPA * w];
        let mut other = vec![0u64; w];
        // The message, written as bytes directly (no second copy).
        let mut u = Vec::with_capacity(KAPPA * w * 8);
        for (l, (g0, g1)) in self.columns.iter_mut().enumerate() {
            let tl = &mut t[l * w..(l + 1) * w];
            g0.fill(tl);
            g1.fill(&mut other);
            for ((o, t), r) in other.iter().zip(tl.iter()).zip(&choices) {
                u.extend_from_slice(&(o ^ t ^ r).to_le_bytes());
            }
        }
        let first = self.next;
        self.next += n as u64;
        (
            u,
            PendingReceive {
                rows: transpose(&t, w),
                choices,
                first,
                tccr: Tccr::new(),
                hashed: Vec::new(),
            },
        )
    }
}

impl PendingReceive {
    /// Random OT: the chosen 128-bit message of each of the first `n` OTs,
    /// `H(j, t_j)`.
    pub fn random_messages(&mut self, n: usize) -> Vec<u128> {
        self.tccr.hash_blocks(&self.rows[..n], self.first)
    }

    /// Chunk `c` of the batch: reads the sender's corrections `frame` (its
    /// length must be [`chunk_bytes`]) and hands `y_j` (the `v` words of
    /// OT `j`) to `out`.
    pub fn finish_chunk(
        &mut self,
        c: usize,
        shape: &CotShape,
        frame: &[u8],
        mut out: impl FnMut(usize, &[u64]),
    ) {
        let (v, chunk) = (shape.v, shape.chunk());
        let (start, end) = (c * chunk, ((c + 1) * chunk).min(shape.n));
        let mut reader = BitReader::new(frame);
        let (mut hashed, mut at) = (std::mem::take(&mut self.hashed), Vec::new());
        self.tccr.hash(
            &self.rows[start..end],
            self.first + start as u64,
            |_| blocks_for(v),
            &mut hashed,
            &mut at,
        );
        let mut y = vec![0u64; v];
        for j in start..end {
            let w = shape.width.of(j);
            let m = mask(w);
            let r = 0u64.wrapping_sub((self.choices[j / 64] >> (j % 64)) & 1);
            let pad = &hashed[at[j - start]..at[j - start] + v];
            match shape.op {
                Op::Add => {
                    for (y, h) in y.iter_mut().zip(pad) {
                        *y = h.wrapping_add(reader.pull(w) & r) & m;
                    }
                }
                Op::Xor => {
                    for (y, h) in y.iter_mut().zip(pad) {
                        *y = (h ^ (reader.pull(w) & r)) & m;
                    }
                }
            }
            out(j, &y);
        }
        self.hashed = hashed;
    }
}

/// Chunks (one corrections frame each) of a batch of this shape.
pub fn chunks(shape: &CotShape) -> usize {
    shape.n.div_ceil(shape.chunk())
}

/// Bytes of chunk `c`'s corrections frame.
pub fn chunk_bytes(shape: &CotShape, c: usize) -> usize {
    let chunk = shape.chunk();
    chunk_words(shape, c * chunk, ((c + 1) * chunk).min(shape.n)) * 8
}

/// Words in the corrections frame of OTs `start..end`.
pub fn chunk_words(shape: &CotShape, start: usize, end: usize) -> usize {
    let widths: usize = match shape.width {
        Width::Fixed(w) => (end - start) * w as usize,
        _ => (start..end).map(|j| shape.width.of(j) as usize).sum(),
    };
    (widths * shape.v).div_ceil(64)
}

/// The sender's half of a batch after the receiver's matrix arrived: the
/// rows `q_j`, answered chunk by chunk.
pub struct SendBatch {
    rows: Vec<u128>,
    delta: u128,
    first: u64,
    tccr: Tccr,
    scratch: Scratch,
}

/// Buffers a sender reuses from chunk to chunk: both pads, the rows
/// `q_j ^ delta`, and where each OT's pad words start.
#[derive(Default)]
struct Scratch {
    h0: Vec<u64>,
    h1: Vec<u64>,
    r1: Vec<u128>,
    at0: Vec<usize>,
    at1: Vec<usize>,
}

impl ExtSender {
    /// Takes the receiver's matrix `u` of a batch of this shape.
    pub fn begin(&mut self, u: &[u8], shape: &CotShape) -> Result<SendBatch, String> {
        let n = shape.padded();
        let w = n / 64;
        if u.len() != KAPPA * w * 8 {
            return Err(format!(
                "OT extension matrix of {} bytes, expected {}",
                u.len(),
                KAPPA * w * 8
            ));
        }
        let mut q = vec![0u64; KAPPA * w];
        for (l, g) in self.columns.iter_mut().enumerate() {
            let ql = &mut q[l * w..(l + 1) * w];
            g.fill(ql);
            let bit = 0u64.wrapping_sub(((self.delta >> l) & 1) as u64);
            let ul = u[l * w * 8..(l + 1) * w * 8].chunks_exact(8);
            for (q, u) in ql.iter_mut().zip(ul) {
                *q ^= u64::from_le_bytes(u.try_into().expect("8 bytes")) & bit;
            }
        }
        let first = self.next;
        self.next += n as u64;
        Ok(SendBatch {
            rows: transpose(&q, w),
            delta: self.delta,
            first,
            tccr: Tccr::new(),
            scratch: Default::default(),
        })
    }
}

impl SendBatch {
    /// Random OT: both 128-bit messages of the first `n` OTs of the batch,
    /// `H(j, q_j)` and `H(j, q_j ^ delta)`; nothing is sent.
    pub fn random_messages(&mut self, n: usize) -> (Vec<u128>, Vec<u128>) {
        let rows = &self.rows[..n];
        let r1: Vec<u128> = rows.iter().map(|q| q ^ self.delta).collect();
        let m0 = self.tccr.hash_blocks(rows, self.first);
        let m1 = self.tccr.hash_blocks(&r1, self.first);
        (m0, m1)
    }

    /// Chunk `c`: hands each OT's correlation request to `corr` (fill the
    /// `v` words of OT `j`) and its output `x_j` to `out`; returns the
    /// corrections frame for the receiver.
    pub fn respond_chunk(
        &mut self,
        c: usize,
        shape: &CotShape,
        mut corr: impl FnMut(usize, &mut [u64]),
        mut out: impl FnMut(usize, &[u64]),
    ) -> Vec<u8> {
        let (v, chunk) = (shape.v, shape.chunk());
        let (start, end) = (c * chunk, ((c + 1) * chunk).min(shape.n));
        let Scratch {
            h0,
            h1,
            r1,
            at0,
            at1,
        } = &mut self.scratch;
        let r0 = &self.rows[start..end];
        r1.clear();
        r1.extend(r0.iter().map(|q| q ^ self.delta));
        let tweak = self.first + start as u64;
        self.tccr.hash(r0, tweak, |_| blocks_for(v), h0, at0);
        self.tccr.hash(r1, tweak, |_| blocks_for(v), h1, at1);
        let mut writer = BitWriter::with_capacity(chunk_words(shape, start, end) * 8);
        let mut cs = vec![0u64; v];
        let mut x = vec![0u64; v];
        for j in start..end {
            let wj = shape.width.of(j);
            let m = mask(wj);
            corr(j, &mut cs);
            let (a0, a1) = (at0[j - start], at1[j - start]);
            let (p0, p1) = (&h0[a0..a0 + v], &h1[a1..a1 + v]);
            match shape.op {
                Op::Add => {
                    for k in 0..v {
                        x[k] = p0[k] & m;
                        let d = x[k].wrapping_add(cs[k]).wrapping_sub(p1[k]);
                        writer.push(d & m, wj);
                    }
                }
                Op::Xor => {
                    for k in 0..v {
                        x[k] = p0[k] & m;
                        writer.push((x[k] ^ cs[k] ^ p1[k]) & m, wj);
                    }
                }
            }
            out(j, &x);
        }
        writer.finish()
    }
}

impl Drop for SendBatch {
    fn drop(&mut self) {
        self.delta = 0;
    }
}
