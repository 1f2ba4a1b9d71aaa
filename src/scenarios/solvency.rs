//! Proof of solvency.
//!
//! A firm's books are spread over several custodians: the firm itself keeps
//! its liabilities and some assets, custodians hold assets for it. Each
//! holder's line items stay with it. Jointly they open only whether total
//! assets cover total liabilities, or, if asked, which reserve-ratio bucket
//! `assets / liabilities` falls in (public boundaries such as 1, 1.1, 1.5).
//! The totals themselves are never opened. Everyone, including an auditor
//! party holding no books, learns the same one number.

use super::{role_of, run_parties, Cost, MpcOptions, PartyView};
use crate::layers::{Backend, MpcBackend};
use crate::models::{CsvTable, ModelError, Result};
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
        let mut b = MpcBackend::new(sess);
        let mut total = None;
        for holder in 0..holders {
            let t = b.input(holder, mine.as_ref().filter(|_| holder == me), &[2])?;
            total = Some(match total {
                None => t,
                Some(s) => b.add(&s, &t)?,
            });
        }
        let total = total.expect("at least one holder");
        let (assets, liabilities) = (b.select_rows(&total, &[0])?, b.select_rows(&total, &[1])?);
        // q*A - p*L >= 0  <=>  q*A - p*L + 1 ulp > 0; integer factors are exact.
        let one_ulp = 1.0 / sess_scale(&mut b);
        let mut diffs = Vec::new();
        for &(p, q) in &bounds {
            let d = assets
                .mul_public_scalar(q as u64)
                .sub(&liabilities.mul_public_scalar(p as u64))?;
            diffs.push(b.add_scalar(&d, one_ulp)?);
        }
        let refs: Vec<_> = diffs.iter().collect();
        let all = b.concat(&refs, 0)?;
        let above = b.positive(&all)?;
        let bucket = b.sum_rows(&above.reshape(&[bounds.len(), 1])?)?;
        let label = match reveal {
            Reveal::Solvent => "solvent (assets >= liabilities)",
            Reveal::Bucket(_) => "reserve-ratio bucket",
        };
        Ok(b.reveal(&bucket, label)?.iter().sum::<f64>().round() as usize)
    })?;
    Ok(SolvencyOutcome {
        bucket: values[0],
        views,
        cost,
    })
}

/// 2^f, the number of ring units in 1.0.
fn sess_scale(b: &mut MpcBackend<'_>) -> f64 {
    (b.session().fixed().frac_bits() as f64).exp2()
}
