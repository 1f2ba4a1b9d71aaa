//! Authenticated material for the actively secure mode (SPDZ2k: Cramer,
//! Damgard, Escudero, Scholl, Xing, "SPDZ2k: Efficient MPC mod 2^k for
//! Dishonest Majority", CRYPTO 2018), made by the trusted dealer.
//!
//! Values of Z_2^64 are held in Z_2^128 (k = 64, s = 64): a secret `x` is
//! additive shares of some `x~` with `x~ = x mod 2^64`, and shares of its MAC
//! `alpha * x~ mod 2^128` under a global key `alpha`. Party `i`'s key share
//! `alpha_i` is a 64-bit word drawn from the seed it shares with the dealer,
//! so the dealer knows `alpha = sum alpha_i` and no party does. 128-bit
//! tensors travel as 64-bit word pairs `[.., 2]` (low word first), shared
//! with [`super::Sharing::Wide`].

use super::material::Component;
use super::Sharing;
use crate::active::{matmul128, transpose128, unpack};
use crate::error::Result;
use tessera_tensor::{Prg, RingTensor, Seed, TensorError};

/// A shape with the trailing word-pair axis of 128-bit values.
pub(crate) fn wide(shape: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.push(2);
    s
}

/// 128-bit values as a `[.., 2]` word-pair tensor.
pub fn to_wide(shape: &[usize], values: &[u128]) -> std::result::Result<RingTensor, TensorError> {
    let words = values
        .iter()
        .flat_map(|&v| [v as u64, (v >> 64) as u64])
        .collect();
    RingTensor::from_vec(&wide(shape), words)
}

/// The 128-bit values of a `[.., 2]` word-pair tensor.
pub fn from_wide(t: &RingTensor) -> Vec<u128> {
    t.as_slice()
        .chunks_exact(2)
        .map(|p| p[0] as u128 | (p[1] as u128) << 64)
        .collect()
}

/// `a + b` (or `a - b`) on word-pair tensors, modulo 2^128.
pub(crate) fn wide_add(a: &RingTensor, b: &RingTensor, subtract: bool) -> Result<RingTensor> {
    if a.shape() != b.shape() {
        return Err(TensorError::ShapeMismatch {
            op: "wide_add",
            left: a.shape().to_vec(),
            right: b.shape().to_vec(),
        }
        .into());
    }
    let (x, y) = (from_wide(a), from_wide(b));
    let sum: Vec<u128> = x
        .iter()
        .zip(&y)
        .map(|(&p, &q)| {
            if subtract {
                p.wrapping_sub(q)
            } else {
                p.wrapping_add(q)
            }
        })
        .collect();
    let shape = &a.shape()[..a.shape().len() - 1];
    Ok(to_wide(shape, &sum)?)
}

/// A party's shares of the two global MAC keys, or (summed by the dealer)
/// the keys themselves: `arith` for values of Z_2^128 (added), `binary`
/// for bits (XORed; see `active::binary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MacKeys {
    /// The arithmetic key (share): a 64-bit word per party, summed.
    pub arith: u128,
    /// The binary key (share): a 64-bit word per party, XORed.
    pub binary: u64,
}

/// The MAC key shares of the party whose dealer seed is `seed`: words from
/// a stream no item uses.
pub fn key_share(seed: &Seed) -> MacKeys {
    // Item index u64::MAX with a fingerprint of its own: never an item's.
    let mut prg = Prg::for_item(seed, u64::MAX, 0x6d61_632d_6b65_7973);
    let arith = prg.next_u64() as u128;
    MacKeys {
        arith,
        binary: prg.next_u64(),
    }
}

/// The dealer's keys from every party's seed.
pub(crate) fn joint_keys(seeds: &[Seed]) -> MacKeys {
    seeds.iter().fold(MacKeys::default(), |k, s| {
        let mine = key_share(s);
        MacKeys {
            arith: k.arith.wrapping_add(mine.arith),
            binary: k.binary ^ mine.binary,
        }
    })
}

/// The subsets of a 4-bit chunk with at least two members, as masks: the
/// products of `r`'s bits that [`AuthKind::CompareChunks`] authenticates.
pub(crate) const CHUNK_MONOMIALS: [u8; 11] = [3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15];

/// Monomials of a 64-bit word's 16 chunks.
pub(crate) const MONOMIALS_PER_WORD: usize = 16 * CHUNK_MONOMIALS.len();

/// The monomials of each 4-bit chunk of `r`, chunk-major, lowest first,
/// as 176 bits packed in three words.
fn chunk_monomials(r: u64) -> [u64; 3] {
    let mut out = [0u64; 3];
    for q in 0..16 {
        let nibble = (r >> (4 * q)) as u8 & 15;
        for (t, &m) in CHUNK_MONOMIALS.iter().enumerate() {
            let i = CHUNK_MONOMIALS.len() * q + t;
            out[i / 64] |= ((nibble & m == m) as u64) << (i % 64);
        }
    }
    out
}

/// The binary MACs of records of `width` bits, each packed in whole words
/// (`width.div_ceil(64)` per record): the key where a bit is 1.
fn bit_macs_of(records: &[u64], width: usize, key: u64) -> Vec<u64> {
    if width == 0 {
        return Vec::new();
    }
    let per = width.div_ceil(64);
    records
        .chunks_exact(per)
        .flat_map(|rec| {
            (0..width).map(move |i| ((rec[i / 64] >> (i % 64)) & 1).wrapping_neg() & key)
        })
        .collect()
}

/// Records of `width` bits, each packed in `words(width)` whole words, as
/// one bit string packed 64 to a word.
fn repack(words: &[u64], width: usize) -> Vec<u64> {
    let per = width.div_ceil(64);
    let records = words.len() / per;
    let mut out = vec![0u64; (records * width).div_ceil(64)];
    for (k, record) in words.chunks_exact(per).enumerate() {
        for i in 0..width {
            let bit = (record[i / 64] >> (i % 64)) & 1;
            let at = k * width + i;
            out[at / 64] |= bit << (at % 64);
        }
    }
    out
}

/// Which authenticated item, with its shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// A Beaver triple `(a, b, a * b)` elementwise.
    Triple(Vec<usize>),
    /// A matrix triple `(A [m, k], B [k, n], A B)`.
    MatTriple(usize, usize, usize),
    /// A truncation pair for `f` bits: `r`, `((r mod 2^64) mod 2^63) >> f`
    /// and bit 63 of `r`.
    Trunc(Vec<usize>, u32),
    /// A random value known to no party (to mask outputs).
    Random(Vec<usize>),
    /// A random value known to party `owner` (to input, and to open to it).
    Input(Vec<usize>, usize),
    /// Authenticated AND triples of bits `(a, b_k, a & b_k)` for `k` in
    /// `1..=fanout`, one bit per entry (the low bit of an XOR-shared word),
    /// each with its binary MAC.
    AndTriples(Vec<usize>, u32),
    /// For a comparison: a random `r` of Z_2^128 with its 64 low bits as
    /// authenticated binary bits `[.., 64]`, and a random bit `b` both
    /// binary and arithmetic (a daBit) to bring the result back.
    Compare(Vec<usize>),
    /// A [`AuthKind::Compare`] item whose `r` also comes with the products
    /// of its bits within each 4-bit chunk ([`CHUNK_MONOMIALS`] per chunk,
    /// 176 per element), authenticated: each chunk's comparison with a
    /// public word is then a local sum of them.
    CompareChunks(Vec<usize>),
    /// A [`AuthKind::CompareChunks`] item that also authenticates `r b`,
    /// the product of `r` (all 128 bits) and the daBit `b`: the comparison's
    /// bit then selects `x` locally (ReLU), as the semi-honest tables do.
    CompareSelect(Vec<usize>),
    /// Rows `rows` of persistent authenticated mask `mask` (`cols` wide),
    /// with their MACs: training data is opened once as `X - A`.
    MaskRows {
        /// Which mask (the same rows in every item that names it).
        mask: u64,
        /// Row indices.
        rows: Vec<usize>,
        /// Width.
        cols: usize,
    },
    /// A matrix triple whose left factor is rows of a persistent mask:
    /// `(A_rows, B, A_rows B)` (or `A_rows^T B` if `transposed`), all
    /// authenticated; only `W - B` is opened to multiply data rows by `W`.
    RowTriple {
        /// Which mask.
        mask: u64,
        /// Row indices.
        rows: Vec<usize>,
        /// The mask's width.
        cols: usize,
        /// Columns of `B`.
        out: usize,
        /// Whether the rows enter transposed.
        transposed: bool,
    },
    /// Random bits, each held both as an authenticated binary bit and as
    /// an authenticated 0/1 value of Z_2^128 (daBits), to bring bits
    /// computed in the binary domain back to arithmetic.
    DaBits(Vec<usize>),
}

impl AuthKind {
    /// The random components (values, drawn), then the determined ones
    /// (their MACs and the values computed from them), with their sharing:
    /// 128-bit values as word pairs, bits and bit MACs as XOR-shared words.
    pub(crate) fn layout(&self) -> (Vec<Component>, Vec<Component>) {
        use Sharing::{Binary, Wide};
        let w = |s: &[usize]| (wide(s), Wide);
        let b = |s: &[usize]| (s.to_vec(), Binary);
        match self {
            AuthKind::Triple(s) => (vec![w(s), w(s)], vec![w(s); 4]),
            AuthKind::MatTriple(m, k, n) => {
                let (a, bm, c) = (w(&[*m, *k]), w(&[*k, *n]), w(&[*m, *n]));
                (vec![a.clone(), bm.clone()], vec![c.clone(), a, bm, c])
            }
            AuthKind::Trunc(s, _) => (vec![w(s)], vec![w(s); 5]),
            AuthKind::Random(s) | AuthKind::Input(s, _) => (vec![w(s)], vec![w(s)]),
            AuthKind::DaBits(s) => {
                let n: usize = s.iter().product();
                // b packed; then its binary MACs, b as a 128-bit value, its MAC.
                (vec![b(&[n.div_ceil(64)])], vec![b(s), w(s), w(s)])
            }
            AuthKind::MaskRows { rows, cols, .. } => {
                (vec![w(&[rows.len(), *cols])], vec![w(&[rows.len(), *cols])])
            }
            AuthKind::RowTriple {
                rows,
                cols,
                out,
                transposed,
                ..
            } => {
                let m = rows.len();
                let a = w(&[m, *cols]);
                let (bm, c) = if *transposed {
                    (w(&[m, *out]), w(&[*cols, *out]))
                } else {
                    (w(&[*cols, *out]), w(&[m, *out]))
                };
                // A rows, B; then C, the MACs of A, B and C.
                (vec![a.clone(), bm.clone()], vec![c.clone(), a, bm, c])
            }
            AuthKind::AndTriples(s, fanout) => {
                let f = *fanout as usize;
                // Bits packed 64 to a word; one MAC per bit.
                let n: usize = s.iter().product();
                let words = b(&[n.div_ceil(64)]);
                // a, b_k; then c_k, the MACs of a, of the b_k, of the c_k.
                (
                    vec![words.clone(); 1 + f],
                    [vec![words; f], vec![b(s); 1 + 2 * f]].concat(),
                )
            }
            AuthKind::Compare(s) | AuthKind::CompareChunks(s) | AuthKind::CompareSelect(s) => {
                let mut bits = s.clone();
                bits.push(64);
                // r, b; then r's MAC, r's low word as XOR-shared bits and
                // their MACs, b as a 128-bit value and its MAC, b's binary MAC.
                let mut determined = vec![w(s), b(s), b(&bits), w(s), w(s), b(s)];
                if let AuthKind::CompareChunks(_) | AuthKind::CompareSelect(_) = self {
                    // The chunks' monomials, packed, then their MACs.
                    let n = s.iter().fold(1usize, |a, &d| a.saturating_mul(d));
                    let mut monomials = s.clone();
                    monomials.push(MONOMIALS_PER_WORD);
                    determined.push(b(&[n.saturating_mul(MONOMIALS_PER_WORD).div_ceil(64)]));
                    determined.push(b(&monomials));
                }
                if let AuthKind::CompareSelect(_) = self {
                    // r b and its MAC.
                    determined.push(w(s));
                    determined.push(w(s));
                }
                (vec![w(s), b(s)], determined)
            }
        }
    }

    /// The determined components' secrets from the random ones' and the key:
    /// triples `[c, mac a, mac b, mac c]`, truncation pairs `[mac r, low,
    /// mac low, msb, mac msb]`, random values `[mac r]`.
    pub(crate) fn determine(
        &self,
        random: &[RingTensor],
        keys: MacKeys,
    ) -> Result<Vec<RingTensor>> {
        let key = keys.arith;
        let mac = |v: &[u128]| -> Vec<u128> { v.iter().map(|x| x.wrapping_mul(key)).collect() };
        // A bit's binary MAC: the key where the bit is 1.
        let bit_mac = |t: &RingTensor| t.map(|v| (v & 1).wrapping_neg() & keys.binary);
        let shape_of = |t: &RingTensor| t.shape()[..t.shape().len() - 1].to_vec();
        let pack = |t: &RingTensor, v: &[u128]| to_wide(&shape_of(t), v);
        Ok(match self {
            AuthKind::Triple(_) | AuthKind::MatTriple(..) | AuthKind::RowTriple { .. } => {
                let (a, b) = (from_wide(&random[0]), from_wide(&random[1]));
                let c: Vec<u128> = match self {
                    AuthKind::RowTriple {
                        rows,
                        cols,
                        out,
                        transposed,
                        ..
                    } => {
                        let m = rows.len();
                        if *transposed {
                            matmul128(&transpose128(&a, m, *cols), &b, *cols, m, *out)
                        } else {
                            matmul128(&a, &b, m, *cols, *out)
                        }
                    }
                    AuthKind::Triple(_) => {
                        a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect()
                    }
                    AuthKind::MatTriple(m, k, n) => matmul128(&a, &b, *m, *k, *n),
                    _ => unreachable!("triples only"),
                };
                // C's shape is the first determined component's.
                let c_wide = &self.layout().1[0].0;
                let c_shape = &c_wide[..c_wide.len() - 1];
                vec![
                    to_wide(c_shape, &c)?,
                    pack(&random[0], &mac(&a))?,
                    pack(&random[1], &mac(&b))?,
                    to_wide(c_shape, &mac(&c))?,
                ]
            }
            AuthKind::Trunc(_, f) => {
                let r = from_wide(&random[0]);
                let low: Vec<u128> = r
                    .iter()
                    .map(|&v| (((v as u64) & (u64::MAX >> 1)) >> f) as u128)
                    .collect();
                let msb: Vec<u128> = r.iter().map(|&v| ((v as u64) >> 63) as u128).collect();
                let t = &random[0];
                vec![
                    pack(t, &mac(&r))?,
                    pack(t, &low)?,
                    pack(t, &mac(&low))?,
                    pack(t, &msb)?,
                    pack(t, &mac(&msb))?,
                ]
            }
            AuthKind::Random(_) | AuthKind::Input(..) | AuthKind::MaskRows { .. } => {
                vec![pack(&random[0], &mac(&from_wide(&random[0])))?]
            }
            AuthKind::AndTriples(s, fanout) => {
                let n: usize = s.iter().product();
                // One MAC per bit of packed words.
                let macs = |t: &RingTensor| -> Result<RingTensor> {
                    Ok(RingTensor::from_vec(
                        s,
                        bit_macs_of(t.as_slice(), n, keys.binary),
                    )?)
                };
                let a = &random[0];
                let bs = &random[1..=*fanout as usize];
                let cs: Vec<RingTensor> = bs
                    .iter()
                    .map(|b| a.zip_with(b, "and triple", |x, y| x & y))
                    .collect::<std::result::Result<_, _>>()?;
                let mut out = cs.clone();
                out.push(macs(a)?);
                for t in bs.iter().chain(&cs) {
                    out.push(macs(t)?);
                }
                out
            }
            AuthKind::Compare(_) | AuthKind::CompareChunks(_) | AuthKind::CompareSelect(_) => {
                let r = from_wide(&random[0]);
                let shape = shape_of(&random[0]);
                let mut bits_shape = shape.clone();
                bits_shape.push(64);
                // r's low word: its 64 bits, XOR-shared.
                let low: Vec<u64> = r.iter().map(|&v| v as u64).collect();
                let bit_macs =
                    RingTensor::from_vec(&bits_shape, bit_macs_of(&low, 64, keys.binary))?;
                let low = RingTensor::from_vec(&shape, low)?;
                let b: Vec<u128> = random[1]
                    .as_slice()
                    .iter()
                    .map(|&v| (v & 1) as u128)
                    .collect();
                let mut out = vec![
                    pack(&random[0], &mac(&r))?,
                    low,
                    bit_macs,
                    pack(&random[0], &b)?,
                    pack(&random[0], &mac(&b))?,
                    bit_mac(&random[1]),
                ];
                if let AuthKind::CompareChunks(_) | AuthKind::CompareSelect(_) = self {
                    // 176 monomial bits per element: two words and 48 bits.
                    let words: Vec<[u64; 3]> =
                        r.iter().map(|&v| chunk_monomials(v as u64)).collect();
                    let flat: Vec<u64> = words.iter().flatten().copied().collect();
                    let mut s = shape.clone();
                    s.push(MONOMIALS_PER_WORD);
                    out.push(RingTensor::from_vec(
                        &[(r.len() * MONOMIALS_PER_WORD).div_ceil(64)],
                        repack(&flat, MONOMIALS_PER_WORD),
                    )?);
                    out.push(RingTensor::from_vec(
                        &s,
                        bit_macs_of(&flat, MONOMIALS_PER_WORD, keys.binary),
                    )?);
                }
                if let AuthKind::CompareSelect(_) = self {
                    let rb: Vec<u128> = r.iter().zip(&b).map(|(r, b)| r.wrapping_mul(*b)).collect();
                    out.push(pack(&random[0], &rb)?);
                    out.push(pack(&random[0], &mac(&rb))?);
                }
                out
            }
            AuthKind::DaBits(s) => {
                let n: usize = s.iter().product();
                let wide_bits: Vec<u128> = unpack(random[0].as_slice(), n)
                    .into_iter()
                    .map(|v| v as u128)
                    .collect();
                vec![
                    RingTensor::from_vec(s, bit_macs_of(random[0].as_slice(), n, keys.binary))?,
                    to_wide(s, &wide_bits)?,
                    to_wide(s, &mac(&wide_bits))?,
                ]
            }
        })
    }

    /// Party `party`'s draws of the random components: uniform, except an
    /// input mask, which only its owner draws (the others hold zero).
    pub(crate) fn draw(&self, seed: &Seed, prg: &mut Prg, party: usize) -> Vec<RingTensor> {
        let (random, _) = self.layout();
        // Mask rows come from their rows' own streams (two words per value).
        let mask = |id: u64, rows: &[usize], cols: usize| -> RingTensor {
            let t = super::material::mask_rows(seed, id, 2 * cols, rows.iter().copied());
            t.reshape(&wide(&[rows.len(), cols])).expect("same size")
        };
        match self {
            AuthKind::Input(_, owner) if party != *owner => {
                random.iter().map(|(s, _)| RingTensor::zeros(s)).collect()
            }
            AuthKind::MaskRows {
                mask: id,
                rows,
                cols,
            } => vec![mask(*id, rows, *cols)],
            AuthKind::RowTriple {
                mask: id,
                rows,
                cols,
                ..
            } => vec![mask(*id, rows, *cols), prg.uniform(&random[1].0)],
            _ => random.iter().map(|(s, _)| prg.uniform(s)).collect(),
        }
    }
}
