//! Proof of solvency.
//!
//! A firm's books are spread over several custodians: the firm itself keeps
//! its liabilities and some assets, custodians hold assets for it. Each
//! holder's line items stay with it. Jointly they open only whether total
//! assets cover total liabilities, or, if asked, which reserve-ratio bucket
//! `assets / liabilities` falls in (public boundaries such as 1, 1.1, 1.5).
//! The totals themselves are never opened. Everyone, including an auditor
//! party holding no books, learns the same one number.

use super::{on_engine, role_of, run_parties, Cost, MpcOptions, PartyView};
use crate::models::{CsvTable, ModelError, Result};
use crate::protocols::engine::{Engine, Secret};
use crate::protocols::Result as PResult;
use crate::tensor::RingTensor;
use ndarray::ArrayD;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Whether a line item is owned or owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// Something the firm owns.
    Asset,
    /// Something the firm owes.
    Liability,
}

/// One holder's line items.
#[derive(Debug, Clone)]
pub struct Books {
    /// Where they came from.
    pub path: PathBuf,
    /// `(item name, kind, amount)`, amounts non-negative.
    pub items: Vec<(String, Kind, f64)>,
}

impl Books {
    /// Reads a CSV with header `item,kind,amount`; `kind` is `asset` or
    /// `liability`, `amount` a non-negative number.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, &e))?;
        Self::parse(path, &text)
    }

    /// Parses CSV text (see [`Books::from_csv`]); `path` is used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let t = CsvTable::parse(path, text)?;
        if t.names != ["item", "kind", "amount"] {
            return Err(ModelError::Row {
                path: path.to_path_buf(),
                line: 1,
                reason: format!(
                    "the header must be 'item,kind,amount', found '{}'",
                    t.names.join(",")
                ),
            });
        }
        let mut items = Vec::new();
        for (r, f) in t.rows.iter().enumerate() {
            let kind = match f[1].as_str() {
                "asset" => Kind::Asset,
                "liability" => Kind::Liability,
                k => {
                    return Err(t.error(r, 1, format!("'{k}' is neither 'asset' nor 'liability'")))
                }
            };
            let amount = t.number(r, 2, &f[2])?;
            if amount < 0.0 {
                return Err(t.error(r, 2, format!("{amount} must be a non-negative number")));
            }
            items.push((f[0].clone(), kind, amount));
        }
        Ok(Books {
            path: path.to_path_buf(),
            items,
        })
    }

    /// Total assets and total liabilities of these books.
    pub fn totals(&self) -> (f64, f64) {
        self.items
            .iter()
            .fold((0.0, 0.0), |(a, l), (_, k, v)| match k {
                Kind::Asset => (a + v, l),
                Kind::Liability => (a, l + v),
            })
    }
}

/// What is opened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Reveal {
    /// Only whether assets >= liabilities.
    Solvent,
    /// The index of the reserve-ratio bucket: 0 below the first boundary,
    /// `i` between boundary `i - 1` and `i`, the count above the last.
    /// Boundaries are fractions `(numerator, denominator)`, increasing.
    Bucket(Vec<(u32, u32)>),
}

impl Reveal {
    /// The boundaries compared against (`[1/1]` for [`Reveal::Solvent`]).
    pub fn boundaries(&self) -> Vec<(u32, u32)> {
        match self {
            Reveal::Solvent => vec![(1, 1)],
            Reveal::Bucket(b) => b.clone(),
        }
    }
}

/// The answer, and what every party saw.
#[derive(Debug, Clone, Serialize)]
pub struct SolvencyOutcome {
    /// The opened bucket index (for [`Reveal::Solvent`]: 1 solvent, 0 not).
    pub bucket: usize,
    /// What each party learned: the same single number.
    pub views: Vec<PartyView>,
    /// Bytes, rounds and time.
    pub cost: Cost,
}

impl SolvencyOutcome {
    /// Whether assets cover liabilities, given the boundaries used.
    pub fn solvent(&self, reveal: &Reveal) -> bool {
        let b = reveal.boundaries();
        // Buckets at or above the boundary 1/1 mean solvent.
        match b.iter().position(|&(p, q)| p == q) {
            Some(i) => self.bucket > i,
            None => self.bucket == b.len(),
        }
    }
}

/// Every holder's totals as secrets, `q A - p L >= 0` for each boundary
/// `p / q` compared at once; only the count of boundaries passed is opened.
fn prove<E: Engine>(
    e: &mut E,
    holders: usize,
    mine: Option<&RingTensor>,
    bounds: &[(u32, u32)],
    reveal: &Reveal,
) -> PResult<usize> {
    let me = e.id();
    let mut total: Option<E::Secret> = None;
    for holder in 0..holders {
        let t = e.input(holder, mine.filter(|_| holder == me), &[2])?;
        total = Some(match total {
            None => t,
            Some(s) => s.add(&t)?,
        });
    }
    let total = total.expect("at least one holder").reshape(&[2, 1])?;
    let (assets, liabilities) = (total.select_rows(&[0])?, total.select_rows(&[1])?);
    // q*A - p*L >= 0  <=>  q*A - p*L + 1 ulp > 0; integer factors are exact.
    let mut diffs = Vec::new();
    for &(p, q) in bounds {
        let d = assets
            .mul_public_scalar(q as u64)
            .sub(&liabilities.mul_public_scalar(p as u64))?;
        diffs.push(e.add_public_scalar(&d, 1)?);
    }
    let refs: Vec<_> = diffs.iter().collect();
    let above = e.positive(&E::Secret::concat(&refs, 0)?)?;
    let bucket = above.sum_axis(0)?;
    let label = match reveal {
        Reveal::Solvent => "solvent (assets >= liabilities)",
        Reveal::Bucket(_) => "reserve-ratio bucket",
    };
    Ok(e.reveal(&bucket, label)?.as_slice()[0] as usize)
}

/// Runs the proof: holder `i` is party `i`; with `auditor`, one more party
/// without books joins and learns the answer too. `mpc` picks the preprocessing and may fix all MPC
/// randomness (tests only).
pub fn run(
    books: &[Books],
    reveal: &Reveal,
    auditor: bool,
    mpc: MpcOptions,
) -> Result<SolvencyOutcome> {
    let bounds = reveal.boundaries();
    if bounds.is_empty()
        || bounds.iter().any(|&(p, q)| p == 0 || q == 0)
        || bounds
            .windows(2)
            .any(|w| w[0].0 as u64 * w[1].1 as u64 >= w[1].0 as u64 * w[0].1 as u64)
    {
        return Err(ModelError::Config(format!(
            "reserve-ratio boundaries {bounds:?} must be positive fractions in increasing order"
        )));
    }
    let holders = books.len();
    let mut roles: Vec<String> = books.iter().map(|b| role_of(&b.path)).collect();
    if auditor {
        roles.push("auditor".into());
    }
    if roles.len() < 2 {
        return Err(ModelError::Config(
            "a proof needs at least two parties: add a custodian or the auditor".into(),
        ));
    }
    let max_factor = bounds.iter().map(|&(p, q)| p.max(q)).max().unwrap_or(1) as f64;
    let (values, views, cost) = run_parties(&roles, mpc, |sess| {
        let me = sess.id();
        // q*A - p*L must stay inside the fixed-point range.
        let bound = sess.fixed().limit() / (holders as f64 * max_factor);
        let mine = match books.get(me) {
            Some(bk) => {
                let (a, l) = bk.totals();
                if a.max(l) >= bound {
                    return Err(ModelError::Mismatch(format!(
                        "{}: totals {a} / {l} are beyond {bound:.0}, the largest this proof handles with {holders} holders; \
                         state amounts in thousands",
                        bk.path.display()
                    )));
                }
                Some(ArrayD::from_shape_vec(vec![2], vec![a, l]).expect("two totals"))
            }
            None => None,
        };
        let mine = mine
            .map(|m| sess.fixed().encode_array(&m))
            .transpose()
            .map_err(crate::protocols::ProtocolError::from)?;
        let security = mpc.security;
        on_engine!(
            sess,
            security,
            prove(holders, mine.as_ref(), &bounds, reveal)
        )
    })?;
    Ok(SolvencyOutcome {
        bucket: values[0],
        views,
        cost,
    })
}
