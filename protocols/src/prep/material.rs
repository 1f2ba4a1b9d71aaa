//! What a protocol asks a provider for: the kind of correlation and its
//! shapes, the order and sharing of its components, and (for the dealer's
//! seeded dealing) how each party draws its random components.

use super::auth::AuthKind;
use super::Sharing;
use crate::error::Result;
use tessera_tensor::{Prg, RingTensor, Seed};

/// Shape and sharing of one component of an item.
pub(crate) type Component = (Vec<usize>, Sharing);

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
    /// Three-input AND gates on XOR-shared words
    /// ([`crate::binary::and3`]): random masks `(a, b, c)`, then `a & b`,
    /// `a & c`, `b & c` and `a & b & c`.
    AndCube(Vec<usize>),
    /// A random ring element held both additively and as XOR-shared bits.
    EdaBits(Vec<usize>),
    /// A random word, XOR-shared, and its low `nbits` bits each shared
    /// additively (an extra trailing axis of length `nbits`).
    WordBits(Vec<usize>, u32),
    /// A comparison's material ([`crate::compare`]) for `len` elements
    /// against `k` thresholds (1 to [`MAX_THRESHOLDS`]) whose trees have
    /// `nodes` nodes in all ([`crate::compare::NodePlan`]): a random `r`
    /// (additive), the nodes' random masks and random packed bits `s'`, one
    /// plane per threshold (XOR-shared bit planes, `ceil(len/64)` words
    /// each), then the chunk tables of `r`, the products of the masks, the
    /// bits of `s = s' ^ r_63` shared additively, and `r * s` (the first
    /// threshold's).
    CompareTables(usize, u32, u32),
    /// A truncation by `f` bits fused with the comparison of its result
    /// with zero ([`crate::binary::relu_truncated`]): one mask `r` serves
    /// both. The components of `CompareTables(len, 1, 5)` (one threshold,
    /// zero), except that the product with `s` is of `(r mod 2^63) >> f`
    /// instead of `r`; then `(r mod 2^63) >> f` and `r >> 63` (as a
    /// truncation pair has them) and `(r >> 63) * s`.
    TruncCompare(usize, u32),
    /// The tree comparison's material (providers without cheap tables): a
    /// random `r` (additive, `len`) and random packed bits `s` (XOR-shared,
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
    /// A [`Material::RowTriple`] on the windows of images: `A` is the im2col
    /// matrix (`window`'s layout) of rows `rows` of mask `mask` (each row an
    /// image, `window.inputs()` wide), `[|I| * positions, channels *
    /// kernel^2]`; `C = A B` or, `transposed`, `C = A^T B`. A convolution of
    /// masked training images then opens only its other operand.
    WindowTriple {
        /// Id of the [`Material::Mask`].
        mask: u64,
        /// Rows of the mask (images), in order.
        rows: Vec<usize>,
        /// The windows' geometry.
        window: tessera_tensor::SlidingWindow,
        /// Columns of `B`.
        out: usize,
        /// `A^T B` instead of `A B`.
        transposed: bool,
    },
    /// A matrix triple for a product `L Y` where party `owner` holds `L [m,
    /// k]` in the clear and `Y [k, n]` is secret, made without seeing `L`:
    /// a random `A [m, k]` only the owner draws, a random `B_j [k, n]` each
    /// other party `j` draws for itself, and `C = A (sum_j B_j)`. The owner
    /// opens `L - A` to the others alone ([`crate::data::OwnedMatrix`]).
    HeldTriple {
        /// The party holding `L` (and `A`).
        owner: usize,
        /// Rows of `L`.
        m: usize,
        /// Columns of `L`, rows of `Y`.
        k: usize,
        /// Columns of `Y`.
        n: usize,
    },
    /// Authenticated material for the actively secure mode (see [`super::auth`]).
    Auth(AuthKind),
}

impl Material {
    pub(crate) fn tag(&self) -> u8 {
        match self {
            Material::Triple(_) => 1,
            Material::Square(_) => 2,
            Material::MatTriple(..) => 3,
            Material::Trunc(..) => 4,
            Material::BitTriple(..) => 5,
            Material::AndCube(_) => 26,
            Material::EdaBits(_) => 6,
            Material::WordBits(..) => 7,
            Material::CompareTables(..) => 8,
            Material::TruncCompare(..) => 25,
            Material::EdaSelect(_) => 21,
            Material::Mask { .. } => 9,
            Material::RowTriple { .. } => 10,
            Material::WindowTriple { .. } => 27,
            Material::HeldTriple { .. } => 24,
            Material::Auth(k) => match k {
                AuthKind::Triple(_) => 11,
                AuthKind::MatTriple(..) => 12,
                AuthKind::Trunc(..) => 13,
                AuthKind::Random(_) => 14,
                AuthKind::Input(..) => 15,
                AuthKind::DaBits(_) => 16,
                AuthKind::AndTriples(..) => 17,
                AuthKind::Compare(_) => 18,
                AuthKind::CompareChunks(_) => 22,
                AuthKind::CompareSelect(_) => 23,
                AuthKind::RowTriple { .. } => 19,
                AuthKind::MaskRows { .. } => 20,
            },
        }
    }

    /// Shapes and sharings of the random components, then of the determined ones.
    pub(crate) fn layout(&self) -> (Vec<Component>, Vec<Component>) {
        use Sharing::*;
        match self {
            Material::Auth(k) => k.layout(),
            Material::Triple(s) => (
                vec![(s.clone(), Arithmetic), (s.clone(), Arithmetic)],
                vec![(s.clone(), Arithmetic)],
            ),
            Material::Square(s) => (vec![(s.clone(), Arithmetic)], vec![(s.clone(), Arithmetic)]),
            Material::MatTriple(m, k, n) | Material::HeldTriple { m, k, n, .. } => (
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
            Material::AndCube(s) => (vec![(s.clone(), Binary); 3], vec![(s.clone(), Binary); 4]),
            Material::EdaBits(s) => (vec![(s.clone(), Arithmetic)], vec![(s.clone(), Binary)]),
            Material::WordBits(s, nbits) => {
                let mut bits = s.clone();
                bits.push(*nbits as usize);
                (vec![(s.clone(), Binary)], vec![(bits, Arithmetic)])
            }
            Material::CompareTables(len, k, nodes) => {
                use crate::compare::{NODE_PRODUCTS, NODE_VARS, TABLE_WORDS};
                let (words, k, nodes) = (len.div_ceil(64), *k as usize, *nodes as usize);
                (
                    vec![
                        (vec![*len], Arithmetic),
                        (vec![nodes * NODE_VARS, words], Binary),
                        (vec![k * words], Binary),
                    ],
                    vec![
                        (vec![TABLE_WORDS, *len], Binary),
                        (vec![nodes * NODE_PRODUCTS, words], Binary),
                        (vec![k * *len], Arithmetic),
                        (vec![*len], Arithmetic),
                        (vec![words], Binary),
                    ],
                )
            }
            Material::TruncCompare(len, _) => {
                let (random, mut determined) = Material::CompareTables(*len, 1, 5).layout();
                determined.extend(std::iter::repeat_n((vec![*len], Arithmetic), 3));
                (random, determined)
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
            Material::WindowTriple {
                rows,
                window,
                out,
                transposed,
                ..
            } => {
                // Checked when decoded; an impossible window has no entries.
                let [m, k] = window.shape(rows.len(), false).unwrap_or([0, 0]);
                let (b, c) = if *transposed {
                    (vec![m, *out], vec![k, *out])
                } else {
                    (vec![k, *out], vec![m, *out])
                };
                (
                    vec![(vec![m, k], Arithmetic), (b, Arithmetic)],
                    vec![(c, Arithmetic)],
                )
            }
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

    /// The data rows an item is about, if it is about rows of a persistent
    /// mask (what changes from one training step to the next).
    pub(crate) fn data_rows_mut(&mut self) -> Option<&mut Vec<usize>> {
        match self {
            Material::RowTriple { rows, .. }
            | Material::WindowTriple { rows, .. }
            | Material::Auth(AuthKind::RowTriple { rows, .. } | AuthKind::MaskRows { rows, .. }) => {
                Some(rows)
            }
            _ => None,
        }
    }

    /// The party whose own draws make up part of the item while the others
    /// draw zeros (an input's mask, a held triple's `A`), if any: a dealer
    /// checks that it names a party.
    pub(crate) fn holder(&self) -> Option<usize> {
        match self {
            Material::HeldTriple { owner, .. } | Material::Auth(AuthKind::Input(_, owner)) => {
                Some(*owner)
            }
            _ => None,
        }
    }

    /// Whether the dealer sends anything for this item (determined components).
    pub(crate) fn is_dealt(&self) -> bool {
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

    /// The determined components' secret values from the random components'
    /// secrets (and, for authenticated items, the MAC key).
    pub(crate) fn determine(
        &self,
        random: &[RingTensor],
        keys: super::auth::MacKeys,
    ) -> Result<Vec<RingTensor>> {
        Ok(match self {
            Material::Auth(k) => k.determine(random, keys)?,
            Material::Triple(_) => vec![random[0].mul(&random[1])?],
            Material::Square(_) => vec![random[0].mul(&random[0])?],
            Material::MatTriple(..) | Material::HeldTriple { .. } => {
                vec![random[0].matmul(&random[1])?]
            }
            Material::Trunc(_, f) => {
                let low = random[0].map(|r| (r & (u64::MAX >> 1)) >> f);
                let msb = random[0].map(|r| r >> 63);
                vec![low, msb]
            }
            Material::BitTriple(..) => random[1..]
                .iter()
                .map(|b| random[0].and(b))
                .collect::<std::result::Result<_, _>>()?,
            Material::AndCube(_) => {
                let [a, b, c] = [&random[0], &random[1], &random[2]];
                let ab = a.and(b)?;
                let abc = ab.and(c)?;
                vec![ab, a.and(c)?, b.and(c)?, abc]
            }
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
            }
            | Material::WindowTriple {
                transposed: false, ..
            } => vec![random[0].matmul(&random[1])?],
            Material::RowTriple {
                transposed: true, ..
            }
            | Material::WindowTriple {
                transposed: true, ..
            } => vec![random[0].transpose().matmul(&random[1])?],
            Material::CompareTables(len, k, nodes) => {
                let w = len.div_ceil(64);
                let words = random[2].as_slice();
                // The opened planes mask the bits without r_63; the
                // additive bits are of s = s' ^ r_63.
                let r = random[0].as_slice();
                let s: Vec<u64> = (0..*k as usize * len)
                    .map(|j| {
                        let e = j % len;
                        ((words[(j / len) * w + e / 64] >> (e % 64)) ^ (r[e] >> 63)) & 1
                    })
                    .collect();
                let r_s: Vec<u64> = random[0]
                    .as_slice()
                    .iter()
                    .zip(&s)
                    .map(|(r, s)| r.wrapping_mul(*s))
                    .collect();
                let tables = crate::compare::deal_tables(random[0].as_slice());
                let products = crate::compare::mask_products(random[1].as_slice(), w);
                let planes = *nodes as usize * crate::compare::NODE_PRODUCTS;
                // r's top bits, packed, for protocols that keep the bit
                // XOR-shared (the row maximum).
                let mut top = vec![0u64; w];
                for (e, v) in r.iter().enumerate() {
                    top[e / 64] |= (v >> 63) << (e % 64);
                }
                vec![
                    RingTensor::from_vec(&[crate::compare::TABLE_WORDS, *len], tables)?,
                    RingTensor::from_vec(&[planes, w], products)?,
                    RingTensor::from_vec(&[s.len()], s)?,
                    RingTensor::from_vec(&[*len], r_s)?,
                    RingTensor::from_vec(&[w], top)?,
                ]
            }
            Material::TruncCompare(len, f) => {
                let mut out = Material::CompareTables(*len, 1, 5).determine(random, keys)?;
                // A truncation pair's parts of r, then each times s.
                let pair = Material::Trunc(vec![*len], *f).determine(&random[..1], keys)?;
                let mut parts = pair.into_iter();
                let (Some(low), Some(msb)) = (parts.next(), parts.next()) else {
                    return Err(crate::ProtocolError::Preprocessing(
                        "a truncation pair without its two parts".into(),
                    ));
                };
                out[3] = low.mul(&out[2])?;
                let msb_s = msb.mul(&out[2])?;
                out.extend([low, msb, msb_s]);
                out
            }
            Material::EdaSelect(len) => {
                let words = random[1].as_slice();
                let s: Vec<u64> = (0..*len).map(|i| (words[i / 64] >> (i % 64)) & 1).collect();
                let s = RingTensor::from_vec(&[*len], s)?;
                let r_s = random[0].mul(&s)?;
                vec![random[0].clone(), s, r_s]
            }
        })
    }

    /// This party's draws of the random components of item `k` under
    /// `seed`, from the item's own stream, except rows of a persistent mask,
    /// which come from their rows' streams. Returns the item's stream where
    /// the determined components (parties other than 0) continue.
    pub(crate) fn draw_random(&self, seed: &Seed, k: u64, party: usize) -> (Vec<RingTensor>, Prg) {
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
            Material::WindowTriple {
                mask, rows, window, ..
            } => vec![
                window_rows(seed, *mask, window, rows),
                prg.uniform(&random[1].0),
            ],
            Material::Auth(kind) => kind.draw(seed, &mut prg, party),
            // The owner draws A alone, the others their own B_j (the
            // secrets are the sums, so zero stands for "not drawn").
            Material::HeldTriple { owner, m, k, n } if party == *owner => {
                vec![prg.uniform(&[*m, *k]), RingTensor::zeros(&[*k, *n])]
            }
            Material::HeldTriple { m, k, n, .. } => {
                vec![RingTensor::zeros(&[*m, *k]), prg.uniform(&[*k, *n])]
            }
            _ => draw(&mut prg, &random),
        };
        (drawn, prg)
    }

    /// A 64-bit fingerprint of the item (FNV-1a of its encoding): it picks the
    /// PRG stream, so a mispredicted item never shares randomness with the
    /// item actually used at the same position.
    pub(crate) fn fingerprint(&self) -> u64 {
        fnv1a(self.encode())
    }
}

/// FNV-1a of a byte string: the tags that pick PRG streams.
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(crate) fn draw(prg: &mut Prg, shapes: &[Component]) -> Vec<RingTensor> {
    shapes.iter().map(|(s, _)| prg.uniform(s)).collect()
}

/// The im2col matrix of rows `rows` of this party's share of persistent
/// mask `mask`, whose rows are images in `window`'s layout (checked when
/// decoded: an impossible window gives an empty matrix).
pub(crate) fn window_rows(
    seed: &Seed,
    mask: u64,
    window: &tessera_tensor::SlidingWindow,
    rows: &[usize],
) -> RingTensor {
    let images = mask_rows(seed, mask, window.inputs(), rows.iter().copied());
    window
        .im2col(&images)
        .unwrap_or_else(|_| RingTensor::zeros(&[0, 0]))
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
