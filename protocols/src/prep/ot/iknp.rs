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
const CHUNK_BLOCKS: usize = 1 << 15;

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
}

impl ColumnPrg {
    fn new(key: &Key) -> Self {
        Self {
            cipher: Aes128::new(GenericArray::from_slice(key)),
            counter: 0,
        }
    }

    /// Fills `out` (an even number of words) with the next stream words.
    fn fill(&mut self, out: &mut [u64]) {
        let mut blocks: Vec<_> = (0..out.len() / 2)
            .map(|i| GenericArray::from(((self.counter + i as u64) as u128).to_le_bytes()))
            .collect();
        self.counter += blocks.len() as u64;
        self.cipher.encrypt_blocks(&mut blocks);
        for (o, b) in out.chunks_exact_mut(2).zip(&blocks) {
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
        for k in 0..64 {
            if k & j == 0 {
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
/// per column): row `j` holds bit `j` of every column.
fn transpose(cols: &[u64], w: usize) -> Vec<u128> {
    let mut rows = vec![0u128; w * 64];
    let mut block = [0u64; 64];
    for word in 0..w {
        for half in 0..2 {
            for (i, b) in block.iter_mut().enumerate() {
                *b = cols[(half * 64 + i) * w + word];
            }
            transpose64(&mut block);
            for (r, b) in rows[word * 64..(word + 1) * 64].iter_mut().zip(&block) {
                *r |= (*b as u128) << (64 * half);
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

    /// `vblocks` output blocks for each row (OT `first + j` for row `j`, block
    /// `c` tweaked by `c` in the high half), as words into `out`.
    fn hash(&mut self, rows: &[u128], first: u64, vblocks: usize, out: &mut Vec<u64>) {
        self.pis.clear();
        self.pis
            .extend(rows.iter().map(|&x| GenericArray::from(x.to_le_bytes())));
        self.pi.encrypt_blocks(&mut self.pis);
        self.blocks.clear();
        for (j, p) in self.pis.iter().enumerate() {
            let p = u128::from_le_bytes((*p).into());
            for c in 0..vblocks {
                let tweak = (first + j as u64) as u128 | ((c as u128) << 64);
                self.blocks
                    .push(GenericArray::from((p ^ tweak).to_le_bytes()));
            }
        }
        self.pi.encrypt_blocks(&mut self.blocks);
        out.clear();
        for (i, b) in self.blocks.iter().enumerate() {
            let p = u128::from_le_bytes(self.pis[i / vblocks].into());
            let h = u128::from_le_bytes((*b).into()) ^ p;
            out.push(h as u64);
            out.push((h >> 64) as u64);
        }
    }
}

/// The extension sender's state with one peer (the base-OT receiver).
pub struct ExtSender {
    delta: u128,
    columns: Vec<ColumnPrg>,
    /// Index of the next OT (the hash tweak), the same on both sides.
    next: u64,
    tccr: Tccr,
}

/// The extension receiver's state with one peer (the base-OT sender).
pub struct ExtReceiver {
    columns: Vec<(ColumnPrg, ColumnPrg)>,
    next: u64,
    tccr: Tccr,
}

impl ExtSender {
    /// From the secret `delta` and the base-OT keys chosen by its bits.
    pub fn new(delta: u128, keys: &[Key]) -> Self {
        Self {
            delta,
            columns: keys.iter().map(ColumnPrg::new).collect(),
            next: 0,
            tccr: Tccr::new(),
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
            tccr: Tccr::new(),
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
/// OT `j` reduced to `width(j)` bits.
pub struct CotShape<'a> {
    /// Number of OTs.
    pub n: usize,
    /// Words per OT.
    pub v: usize,
    /// How correlations combine.
    pub op: Op,
    /// Bits kept of every word of OT `j` (1 to 64).
    pub width: &'a (dyn Fn(usize) -> u32 + Sync),
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

/// Packs values of varying widths densely into words.
#[derive(Default)]
struct BitWriter {
    out: Vec<u64>,
    acc: u128,
    bits: u32,
}

impl BitWriter {
    fn push(&mut self, v: u64, w: u32) {
        self.acc |= (v as u128) << self.bits;
        self.bits += w;
        if self.bits >= 64 {
            self.out.push(self.acc as u64);
            self.acc >>= 64;
            self.bits -= 64;
        }
    }
    fn finish(mut self) -> Vec<u64> {
        if self.bits > 0 {
            self.out.push(self.acc as u64);
        }
        self.out
    }
}

struct BitReader<'a> {
    words: &'a [u64],
    acc: u128,
    bits: u32,
}

impl BitReader<'_> {
    fn pull(&mut self, w: u32) -> Result<u64, String> {
        if self.bits < w {
            let (&next, rest) = self
                .words
                .split_first()
                .ok_or("correlation frame shorter than announced")?;
            self.acc |= (next as u128) << self.bits;
            self.bits += 64;
            self.words = rest;
        }
        let v = self.acc as u64 & mask(w);
        self.acc >>= w;
        self.bits -= w;
        Ok(v)
    }
}

/// Little-endian bytes of words (the wire form of every OT message).
pub fn to_bytes(words: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(words.len() * 8);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// Words of a frame that must hold exactly `expect` of them.
pub fn from_bytes(bytes: &[u8], expect: usize) -> Result<Vec<u64>, String> {
    if bytes.len() != expect * 8 {
        return Err(format!(
            "OT frame of {} bytes, expected {}",
            bytes.len(),
            expect * 8
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

/// The receiver's half of a batch after its first message: the rows `t_j`
/// and the choices, waiting for the sender's corrections.
pub struct PendingReceive {
    rows: Vec<u128>,
    choices: Vec<u64>,
    first: u64,
}

impl ExtReceiver {
    /// Starts a batch with choice bit `choice(j)` (0 or 1) for OT `j`.
    /// Returns the message for the sender (the matrix `u`, column by column).
    pub fn start(
        &mut self,
        shape: &CotShape,
        choice: impl Fn(usize) -> u64,
    ) -> (Vec<u64>, PendingReceive) {
        let n = shape.padded();
        let w = n / 64;
        let mut choices = vec![0u64; w];
        for j in 0..shape.n {
            choices[j / 64] |= (choice(j) & 1) << (j % 64);
        }
        let mut t = vec![0u64; KAPPA * w];
        let mut u = vec![0u64; KAPPA * w];
        for (l, (g0, g1)) in self.columns.iter_mut().enumerate() {
            let (tl, ul) = (&mut t[l * w..(l + 1) * w], &mut u[l * w..(l + 1) * w]);
            g0.fill(tl);
            g1.fill(ul);
            for ((u, t), r) in ul.iter_mut().zip(tl.iter()).zip(&choices) {
                *u ^= t ^ r;
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
            },
        )
    }

    /// Finishes a batch: reads one corrections frame per chunk from `frames`
    /// and hands `y_j` (the `v` words of OT `j`) to `out`.
    pub fn finish(
        &mut self,
        pending: PendingReceive,
        shape: &CotShape,
        mut frames: impl FnMut(usize) -> Result<Vec<u64>, String>,
        mut out: impl FnMut(usize, &[u64]),
    ) -> Result<(), String> {
        let (v, chunk) = (shape.v, shape.chunk());
        let vblocks = v.div_ceil(2);
        let mut hashed = Vec::new();
        let mut y = vec![0u64; v];
        for start in (0..shape.n).step_by(chunk) {
            let end = (start + chunk).min(shape.n);
            let expect = chunk_words(shape, start, end);
            let frame = frames(expect)?;
            let mut reader = BitReader {
                words: &frame,
                acc: 0,
                bits: 0,
            };
            self.tccr.hash(
                &pending.rows[start..end],
                pending.first + start as u64,
                vblocks,
                &mut hashed,
            );
            for j in start..end {
                let w = (shape.width)(j);
                let m = mask(w);
                let r = 0u64.wrapping_sub((pending.choices[j / 64] >> (j % 64)) & 1);
                let h = &hashed[(j - start) * vblocks * 2..];
                for k in 0..v {
                    let d = reader.pull(w)? & r;
                    y[k] = match shape.op {
                        Op::Add => h[k].wrapping_add(d) & m,
                        Op::Xor => (h[k] ^ d) & m,
                    };
                }
                out(j, &y);
            }
            if !reader.words.is_empty() {
                return Err("correlation frame longer than announced".into());
            }
        }
        Ok(())
    }
}

/// Words in the corrections frame of OTs `start..end`.
pub fn chunk_words(shape: &CotShape, start: usize, end: usize) -> usize {
    let bits: usize = (start..end)
        .map(|j| (shape.width)(j) as usize)
        .sum::<usize>()
        * shape.v;
    bits.div_ceil(64)
}

impl ExtSender {
    /// Answers a batch: from the receiver's matrix `u`, hands each OT's
    /// correlation request to `corr` (fill the `v` words of OT `j`), its
    /// output `x_j` to `out`, and each chunk's corrections frame to `emit`.
    pub fn respond(
        &mut self,
        u: &[u64],
        shape: &CotShape,
        mut corr: impl FnMut(usize, &mut [u64]),
        mut out: impl FnMut(usize, &[u64]),
        mut emit: impl FnMut(Vec<u64>) -> Result<(), String>,
    ) -> Result<(), String> {
        let n = shape.padded();
        let w = n / 64;
        if u.len() != KAPPA * w {
            return Err(format!(
                "OT extension matrix of {} words, expected {}",
                u.len(),
                KAPPA * w
            ));
        }
        let mut q = vec![0u64; KAPPA * w];
        for (l, g) in self.columns.iter_mut().enumerate() {
            let ql = &mut q[l * w..(l + 1) * w];
            g.fill(ql);
            let bit = 0u64.wrapping_sub(((self.delta >> l) & 1) as u64);
            for (q, u) in ql.iter_mut().zip(&u[l * w..(l + 1) * w]) {
                *q ^= u & bit;
            }
        }
        let rows = transpose(&q, w);
        let first = self.next;
        self.next += n as u64;
        let (v, chunk) = (shape.v, shape.chunk());
        let vblocks = v.div_ceil(2);
        let (mut h0, mut h1, mut r1) = (Vec::new(), Vec::new(), Vec::new());
        let mut c = vec![0u64; v];
        let mut x = vec![0u64; v];
        for start in (0..shape.n).step_by(chunk) {
            let end = (start + chunk).min(shape.n);
            let r0 = &rows[start..end];
            r1.clear();
            r1.extend(r0.iter().map(|q| q ^ self.delta));
            self.tccr.hash(r0, first + start as u64, vblocks, &mut h0);
            self.tccr.hash(&r1, first + start as u64, vblocks, &mut h1);
            let mut writer = BitWriter::default();
            for j in start..end {
                let wj = (shape.width)(j);
                let m = mask(wj);
                corr(j, &mut c);
                let off = (j - start) * vblocks * 2;
                for k in 0..v {
                    x[k] = h0[off + k] & m;
                    let d = match shape.op {
                        Op::Add => x[k].wrapping_add(c[k]).wrapping_sub(h1[off + k]),
                        Op::Xor => x[k] ^ c[k] ^ h1[off + k],
                    };
                    writer.push(d & m, wj);
                }
                out(j, &x);
            }
            emit(writer.finish())?;
        }
        Ok(())
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
        let mut wr = BitWriter::default();
        for &(v, w) in &vals {
            wr.push(v, w);
        }
        let words = wr.finish();
        assert_eq!(words.len(), (64 * 65 / 2usize).div_ceil(64));
        let mut rd = BitReader {
            words: &words,
            acc: 0,
            bits: 0,
        };
        for &(v, w) in &vals {
            assert_eq!(rd.pull(w).unwrap(), v);
        }
        assert!(rd.pull(64).is_err());
    }
}
