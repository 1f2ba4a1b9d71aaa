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

use super::base::Key;
use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;

/// Base OTs per extension: the computational security parameter.
pub const KAPPA: usize = 128;

/// OTs processed per chunk: one frame of corrections each.
const CHUNK_BLOCKS: usize = 1 << 14;

/// The public key of the fixed-key AES permutation (any fixed value works;
/// these are the first hex digits of pi).
const FIXED_KEY: [u8; 16] = [
    0x24, 0x3f, 0x6a, 0x88, 0x85, 0xa3, 0x08, 0xd3, 0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x44,
];

/// How a correlation is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `y = x + r c` modulo `2^w`.
    Add,
    /// `y = x ^ r c`.
    Xor,
}

/// The AES-CTR expansion of one base-OT seed (one column of the IKNP matrix).
struct ColumnPrg {
    cipher: Aes128,
    counter: u64,
    /// Counter blocks, kept between calls.
    blocks: Vec<Block>,
}

impl ColumnPrg {
    fn new(key: &Key) -> Self {
        Self {
            cipher: Aes128::new(GenericArray::from_slice(key)),
            counter: 0,
            blocks: Vec::new(),
        }
    }

    /// Fills `out` (an even number of words) with the next stream words.
    fn fill(&mut self, out: &mut [u64]) {
        let counter = self.counter;
        self.blocks.clear();
        self.blocks.extend(
            (0..out.len() as u64 / 2)
                .map(|i| GenericArray::from(((counter + i) as u128).to_le_bytes())),
        );
        self.counter += self.blocks.len() as u64;
        self.cipher.encrypt_blocks(&mut self.blocks);
        for (o, b) in out.chunks_exact_mut(2).zip(&self.blocks) {
            o[0] = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
            o[1] = u64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
        }
    }
}

/// Transposes a 64x64 bit matrix in place: bit `c` of word `r` moves to bit
/// `r` of word `c` (the recursive block swap, six passes of word operations).
pub fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_ffff_ffff;
    while j != 0 {
        for base in (0..64).step_by(2 * j) {
            for k in base..base + j {
                let t = ((a[k] >> j) ^ a[k + j]) & m;
                a[k] ^= t << j;
                a[k + j] ^= t;
            }
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// Rows of a `KAPPA x (64 w)` bit matrix stored column by column (`w` words
/// per column): row `j` holds bit `j` of every column. Columns are read a
/// tile of words at a time (contiguous), then each 64x64 block transposed
/// in cache.
fn transpose(cols: &[u64], w: usize) -> Vec<u128> {
    const TILE: usize = 16;
    let mut rows = vec![0u128; w * 64];
    let mut tile = [[0u64; TILE]; KAPPA];
    let mut block = [0u64; 64];
    for word0 in (0..w).step_by(TILE) {
        let width = TILE.min(w - word0);
        for (l, t) in tile.iter_mut().enumerate() {
            t[..width].copy_from_slice(&cols[l * w + word0..l * w + word0 + width]);
        }
        for dw in 0..width {
            let word = word0 + dw;
            let out = &mut rows[word * 64..(word + 1) * 64];
            for half in 0..2 {
                for (i, b) in block.iter_mut().enumerate() {
                    *b = tile[half * 64 + i][dw];
                }
                transpose64(&mut block);
                for (r, b) in out.iter_mut().zip(&block) {
                    *r |= (*b as u128) << (64 * half);
                }
            }
        }
    }
    rows
}

/// The tweakable correlation-robust hash `H(i, x) = pi(pi(x) ^ i) ^ pi(x)`.
struct Tccr {
    pi: Aes128,
    /// Scratch blocks, kept between calls (fresh pages cost more than the hashing).
    pis: Vec<Block>,
    blocks: Vec<Block>,
}

type Block = GenericArray<u8, aes::cipher::consts::U16>;

impl Tccr {
    fn new() -> Self {
        Self {
            pi: Aes128::new(GenericArray::from_slice(&FIXED_KEY)),
            pis: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// `blocks(j)` output blocks for row `j` (OT `first + j`, block `c`
    /// tweaked by `c` in the high half), as words into `out`; row `j`'s words
    /// start at `at[j]`.
    fn hash(
        &mut self,
        rows: &[u128],
        first: u64,
        blocks: impl Fn(usize) -> usize,
        out: &mut Vec<u64>,
        at: &mut Vec<usize>,
    ) {
        self.pis.clear();
        self.pis
            .extend(rows.iter().map(|&x| GenericArray::from(x.to_le_bytes())));
        self.pi.encrypt_blocks(&mut self.pis);
        self.blocks.clear();
        at.clear();
        for (j, p) in self.pis.iter().enumerate() {
            at.push(self.blocks.len() * 2);
            let p = u128::from_le_bytes((*p).into());
            let tweak = (first + j as u64) as u128;
            for c in 0..blocks(j) {
                let t = tweak | ((c as u128) << 64);
                self.blocks.push(GenericArray::from((p ^ t).to_le_bytes()));
            }
        }
        self.pi.encrypt_blocks(&mut self.blocks);
        out.clear();
        out.reserve(self.blocks.len() * 2);
        let mut b = self.blocks.iter();
        for (j, p) in self.pis.iter().enumerate() {
            let p = u128::from_le_bytes((*p).into());
            for _ in 0..blocks(j) {
                let h = u128::from_le_bytes((*b.next().expect("counted")).into()) ^ p;
                out.push(h as u64);
                out.push((h >> 64) as u64);
            }
        }
    }
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

/// Packs values of varying widths densely into little-endian words, into
/// a frame sized up front.
struct BitWriter {
    out: Vec<u8>,
    at: usize,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    fn with_capacity(bytes: usize) -> Self {
        Self {
            out: vec![0; bytes],
            at: 0,
            acc: 0,
            bits: 0,
        }
    }
    #[inline]
    fn emit(&mut self, word: u64) {
        match self.out.get_mut(self.at..self.at + 8) {
            Some(dst) => dst.copy_from_slice(&word.to_le_bytes()),
            None => self.out.extend_from_slice(&word.to_le_bytes()),
        }
        self.at += 8;
    }
    /// Appends the low `w` bits of `v` (`v < 2^w`, `1 <= w <= 64`).
    #[inline]
    fn push(&mut self, v: u64, w: u32) {
        self.acc |= v << self.bits;
        let total = self.bits + w;
        if total >= 64 {
            let full = self.acc;
            self.emit(full);
            // The bits of v that did not fit (none if it ended exactly).
            self.acc = if self.bits == 0 {
                0
            } else {
                v >> (64 - self.bits)
            };
            self.bits = total - 64;
        } else {
            self.bits = total;
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            let last = self.acc;
            self.emit(last);
        }
        self.out.truncate(self.at);
        self.out
    }
}

/// Reads values of varying widths from little-endian words. Frames are
/// length-checked before reading, so a read past the end (which cannot
/// happen then) gives zeros rather than a branch per value.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u64,
    bits: u32,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            acc: 0,
            bits: 0,
        }
    }
    /// The next `w` bits (`1 <= w <= 64`).
    #[inline]
    fn pull(&mut self, w: u32) -> u64 {
        if self.bits >= w {
            let v = self.acc & mask(w);
            self.acc = if w == 64 { 0 } else { self.acc >> w };
            self.bits -= w;
            return v;
        }
        let next = self
            .bytes
            .get(self.pos..self.pos + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        self.pos += 8;
        let v = (self.acc | (next << self.bits)) & mask(w);
        let used = w - self.bits;
        self.acc = if used == 64 { 0 } else { next >> used };
        self.bits = 64 - used;
        v
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
        let (mut h, mut at) = (Vec::new(), Vec::new());
        self.tccr
            .hash(&self.rows[..n], self.first, |_| 1, &mut h, &mut at);
        h.chunks_exact(2)
            .map(|w| w[0] as u128 | (w[1] as u128) << 64)
            .collect()
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
        let (mut h, mut at) = (Vec::new(), Vec::new());
        self.tccr.hash(rows, self.first, |_| 1, &mut h, &mut at);
        let m0 = h
            .chunks_exact(2)
            .map(|w| w[0] as u128 | (w[1] as u128) << 64)
            .collect();
        self.tccr.hash(&r1, self.first, |_| 1, &mut h, &mut at);
        let m1 = h
            .chunks_exact(2)
            .map(|w| w[0] as u128 | (w[1] as u128) << 64)
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose64_matches_the_definition() {
        let mut prg = tessera_tensor::Prg::from_seed([9; 32]);
        let mut a = [0u64; 64];
        prg.fill(&mut a);
        let orig = a;
        transpose64(&mut a);
        for r in 0..64 {
            for c in 0..64 {
                assert_eq!((a[c] >> r) & 1, (orig[r] >> c) & 1);
            }
        }
    }

    #[test]
    fn bits_pack_and_unpack_at_any_width() {
        let vals: Vec<(u64, u32)> = (1..=64u32)
            .map(|w| (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(w as u64) & mask(w), w))
            .collect();
        let mut wr = BitWriter::with_capacity(0);
        for &(v, w) in &vals {
            wr.push(v, w);
        }
        let words = wr.finish();
        assert_eq!(words.len(), (64 * 65 / 2usize).div_ceil(64) * 8);
        let mut rd = BitReader::new(&words);
        for &(v, w) in &vals {
            assert_eq!(rd.pull(w), v);
        }
        assert_eq!(rd.pull(64), 0, "past the end reads zeros");
    }
}
