//! Threshold flagging across banks.
//!
//! Each bank holds transactions (`account,amount`). Jointly they flag every
//! transaction above a threshold, and every account of a public registry
//! whose balance summed over all banks exceeds a second threshold. Only the
//! flags are opened, and only to the auditor (a party holding no data).
//! Amounts, per-bank balances and combined balances stay secret; what is
//! public is the registry, the thresholds and how many transactions each
//! bank has.

use super::{column, on_engine, role_of, run_parties, Cost, MpcOptions, PartyView};
use crate::models::{Dataset, ModelError, Result};
use crate::protocols::engine::{Engine, Secret};
use crate::protocols::Result as PResult;
use crate::tensor::RingTensor;
use ndarray::ArrayD;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One bank's transactions.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Where they came from.
    pub path: PathBuf,
    /// Account number of each transaction.
    pub accounts: Vec<u64>,
    /// Signed amount of each transaction (credits positive).
    pub amounts: Vec<f64>,
    /// 1-based line of each transaction in the file.
    pub lines: Vec<usize>,
}

impl Ledger {
    /// Reads a CSV with columns `account` (a non-negative integer) and
    /// `amount`; other columns are ignored.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_dataset(Dataset::from_csv(path)?)
    }

    /// The ledger in a parsed table with `account` and `amount` columns.
    pub fn from_dataset(d: Dataset) -> Result<Self> {
        let accounts = account_numbers(&d)?;
        Ok(Ledger {
            amounts: column(&d, "amount")?.1.to_vec(),
            lines: d.lines.clone(),
            path: d.path,
            accounts,
        })
    }
}

/// Reads the `account` column as account numbers.
fn account_numbers(d: &Dataset) -> Result<Vec<u64>> {
    let (j, col) = column(d, "account")?;
    col.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
                Ok(v as u64)
            } else {
                Err(ModelError::Value {
                    path: d.path.clone(),
                    line: d.lines[i],
                    column: j + 1,
                    name: "account".into(),
                    reason: format!("{v} is not an account number (a non-negative integer)"),
                })
            }
        })
        .collect()
}

/// The public registry of account numbers (CSV with an `account` column).
pub fn read_registry(path: impl AsRef<Path>) -> Result<Vec<u64>> {
    account_numbers(&Dataset::from_csv(path)?)
}

/// The public settings of a flagging job.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggingJob {
    /// A transaction is flagged when its amount is strictly above this.
    pub transaction_threshold: f64,
    /// An account is flagged when its balance over all banks is strictly above this.
    pub balance_threshold: f64,
    /// Account numbers known to every party, in the order of the account flags.
    pub registry: Vec<u64>,
}

/// What the auditor learns, and what every party saw.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggingOutcome {
    /// Per bank, one flag per transaction in file order (the auditor's view).
    pub transaction_flags: Vec<Vec<bool>>,
    /// One flag per registry account (the auditor's view).
    pub account_flags: Vec<bool>,
    /// What each party learned: banks nothing, the auditor the two flag vectors.
    pub views: Vec<PartyView>,
    /// Bytes, rounds and time.
    pub cost: Cost,
}

/// Checks a bank's data and sums its transactions per registry account.
fn balances(job: &FlaggingJob, ledger: &Ledger, banks: usize, limit: f64) -> Result<Vec<f64>> {
    let index: HashMap<u64, usize> = job
        .registry
        .iter()
        .enumerate()
        .map(|(i, &a)| (a, i))
        .collect();
    // Every bank's values must fit the fixed-point range even once all
    // banks' shares are added.
    let bound = limit / banks as f64;
    let mut sums = vec![0.0; job.registry.len()];
    for (i, (&acct, &amt)) in ledger.accounts.iter().zip(&ledger.amounts).enumerate() {
        let at = format!("{}, line {}", ledger.path.display(), ledger.lines[i]);
        let slot = index.get(&acct).ok_or_else(|| {
            ModelError::Mismatch(format!(
                "{at}: account {acct} is not in the public registry; add it there or drop the row"
            ))
        })?;
        if amt.abs() >= bound {
            return Err(ModelError::Mismatch(format!(
                "{at}: amount {amt} is beyond {bound:.0}, the largest amount {banks} banks can add up exactly"
            )));
        }
        sums[*slot] += amt;
    }
    if let Some((i, s)) = sums.iter().enumerate().find(|(_, s)| s.abs() >= bound) {
        return Err(ModelError::Mismatch(format!(
            "{}: the balance of account {} ({s}) is beyond {bound:.0}",
            ledger.path.display(),
            job.registry[i]
        )));
    }
    Ok(sums)
}

/// Every bank's amounts and account balances as secrets, compared with the
/// thresholds at once; the flags (ring integers 0/1) are opened to the
/// auditor alone, which gets `(transaction flags, account flags)`.
fn flag<E: Engine>(
    e: &mut E,
    counts: &[usize],
    (total, accounts, auditor): (usize, usize, usize),
    job: &FlaggingJob,
    local: Option<&(&Ledger, Vec<f64>)>,
) -> PResult<Option<(RingTensor, RingTensor)>> {
    let me = e.id();
    let fixed = e.fixed();
    let mut amounts = Vec::new();
    let mut combined: Option<E::Secret> = None;
    for (bank, &n) in counts.iter().enumerate() {
        let mine = local.filter(|_| bank == me);
        let amt = mine
            .map(|(l, _)| {
                fixed.encode_array(
                    &ArrayD::from_shape_vec(vec![n, 1], l.amounts.clone()).expect("n values"),
                )
            })
            .transpose()?;
        amounts.push(e.input(bank, amt.as_ref(), &[n, 1])?);
        let bal = mine
            .map(|(_, s)| {
                fixed.encode_array(
                    &ArrayD::from_shape_vec(vec![accounts, 1], s.clone())
                        .expect("one sum per account"),
                )
            })
            .transpose()?;
        let bal = e.input(bank, bal.as_ref(), &[accounts, 1])?;
        combined = Some(match combined {
            None => bal,
            Some(c) => c.add(&bal)?,
        });
    }
    let refs: Vec<_> = amounts.iter().collect();
    let all_amounts = E::Secret::concat(&refs, 0)?;
    let over_t = e.add_public_scalar(&all_amounts, fixed.encode(-job.transaction_threshold)?)?;
    let combined = combined.expect("one bank");
    let over_b = e.add_public_scalar(&combined, fixed.encode(-job.balance_threshold)?)?;
    // One comparison for every transaction and account at once.
    let flags = e.positive(&E::Secret::concat(&[&over_t, &over_b], 0)?)?;
    let t_flags = flags.select_rows(&(0..total).collect::<Vec<_>>())?;
    let a_flags = flags.select_rows(&(total..total + accounts).collect::<Vec<_>>())?;
    let t = e.reveal_to(
        &t_flags,
        auditor,
        "transaction flags (amount above threshold)",
    )?;
    let a = e.reveal_to(
        &a_flags,
        auditor,
        "account flags (combined balance above threshold)",
    )?;
    Ok(t.zip(a))
}

/// Runs the job: bank `i` is party `i` and holds `ledgers[i]`; the auditor
/// is the last party. `mpc` picks the preprocessing and may fix all MPC randomness (tests only).
pub fn run(job: &FlaggingJob, ledgers: &[Ledger], mpc: MpcOptions) -> Result<FlaggingOutcome> {
    let banks = ledgers.len();
    if banks == 0 {
        return Err(ModelError::Config(
            "flagging needs at least one bank".into(),
        ));
    }
    for t in [job.transaction_threshold, job.balance_threshold] {
        if !t.is_finite() {
            return Err(ModelError::Config(format!("threshold {t} is not a number")));
        }
    }
    let auditor = banks;
    let counts: Vec<usize> = ledgers.iter().map(|l| l.amounts.len()).collect();
    let total: usize = counts.iter().sum();
    let accounts = job.registry.len();
    let mut roles: Vec<String> = ledgers.iter().map(|l| role_of(&l.path)).collect();
    roles.push("auditor".into());
    let (values, views, cost) = run_parties(&roles, mpc, |sess| {
        let me = sess.id();
        let limit = sess.fixed().limit();
        // Each bank checks its own data before anything is sent.
        let local = match ledgers.get(me) {
            Some(l) if me < banks => Some((l, balances(job, l, banks, limit)?)),
            _ => None,
        };
        let (mpc_security, sizes) = (mpc.security, (total, accounts, auditor));
        on_engine!(
            sess,
            mpc_security,
            flag(&counts, sizes, job, local.as_ref())
        )
    })?;
    let (t, a) = values[auditor]
        .clone()
        .ok_or_else(|| ModelError::Config("the auditor received no flags".into()))?;
    let t: Vec<bool> = t.as_slice().iter().map(|&v| v == 1).collect();
    let mut transaction_flags = Vec::new();
    let mut at = 0;
    for n in counts {
        transaction_flags.push(t[at..at + n].to_vec());
        at += n;
    }
    Ok(FlaggingOutcome {
        transaction_flags,
        account_flags: a.as_slice().iter().map(|&v| v == 1).collect(),
        views,
        cost,
    })
}
