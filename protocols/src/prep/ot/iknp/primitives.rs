//! The symmetric building blocks of the extension: the AES-CTR expansion of
//! each base-OT seed, the bit-matrix transpose, and the tweakable
//! correlation-robust hash `H(i, x) = pi(pi(x) ^ i) ^ pi(x)` from fixed-key
//! AES (Guo, Katz, Wang, Yu, eprint 2019/074).

use super::super::base::Key;
use super::KAPPA;
use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;

/// The public key of the fixed-key AES permutation (any fixed value works;
/// these are the first hex digits of pi).
const FIXED_KEY: [u8; 16] = [
    0x24, 0x3f, 0x6a, 0x88, 0x85, 0xa3, 0x08, 0xd3, 0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x44,
];

/// The AES-CTR expansion of one base-OT seed (one column of the IKNP matrix).
pub(super) struct ColumnPrg {
    cipher: Aes128,
    counter: u64,
    /// Counter blocks, kept between calls.
    blocks: Vec<Block>,
}

impl ColumnPrg {
    pub(super) fn new(key: &Key) -> Self {
        Self {
            cipher: Aes128::new(GenericArray::from_slice(key)),
            counter: 0,
            blocks: Vec::new(),
        }
    }

    /// Fills `out` (an even number of words) with the next stream words.
    pub(super) fn fill(&mut self, out: &mut [u64]) {
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
pub(super) fn transpose(cols: &[u64], w: usize) -> Vec<u128> {
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
pub(super) struct Tccr {
    pi: Aes128,
    /// Scratch blocks, kept between calls (fresh pages cost more than the hashing).
    pis: Vec<Block>,
    blocks: Vec<Block>,
}

pub(super) type Block = GenericArray<u8, aes::cipher::consts::U16>;

impl Tccr {
    pub(super) fn new() -> Self {
        Self {
            pi: Aes128::new(GenericArray::from_slice(&FIXED_KEY)),
            pis: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// [`Self::hash`] with one block per row (tweak `first + j` for row
    /// `j`), as whole blocks: the messages of random OTs.
    pub(super) fn hash_blocks(&mut self, rows: &[u128], first: u64) -> Vec<u128> {
        self.pis.clear();
        self.pis
            .extend(rows.iter().map(|&x| GenericArray::from(x.to_le_bytes())));
        self.pi.encrypt_blocks(&mut self.pis);
        self.blocks.clear();
        self.blocks
            .extend(self.pis.iter().enumerate().map(|(j, p)| {
                let t = (first + j as u64) as u128;
                GenericArray::from((u128::from_le_bytes((*p).into()) ^ t).to_le_bytes())
            }));
        self.pi.encrypt_blocks(&mut self.blocks);
        self.blocks
            .iter()
            .zip(&self.pis)
            .map(|(b, p)| u128::from_le_bytes((*b).into()) ^ u128::from_le_bytes((*p).into()))
            .collect()
    }

    /// `blocks(j)` output blocks for row `j` (OT `first + j`, block `c`
    /// tweaked by `c` in the high half), as words into `out`; row `j`'s words
    /// start at `at[j]`.
    pub(super) fn hash(
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
}
