//! Dark pool trading: a uniform-price call auction on secret orders.
//!
//! Each trader holds buy and sell orders (`side`, `quantity` in whole lots,
//! `limit` price). Jointly the traders find, on a public grid of prices, the
//! price at which the most lots trade: at price `P` the demand `D(P)` is
//! every buy order with a limit of at least `P`, the supply `S(P)` every
//! sell order with a limit of at most `P`, and `min(D, S)` lots trade (the
//! lowest such price wins a tie). Everyone learns the clearing price and
//! the volume; each trader learns only its own fills: orders on the short
//! side of the book fill completely, those on the long side pro rata
//! (`quantity * volume / D` or `/ S`). No order book entry is ever opened,
//! not to an operator (there is none), not to the other traders; no total
//! beyond the volume either. Public: the price grid and how many orders each
//! trader submits.
//!
//! Cost: one batched comparison of every order against every price, one
//! batched product, a tournament over the grid (a comparison and a product
//! per level), and one reciprocal for the pro-rata ratio. Prices, lots and
//! the volume are exact; a pro-rata fill is accurate to about 1e-3 of the
//! order (the reciprocal's bound).

use super::{on_engine, role_of, run_parties, Cost, MpcOptions, PartyView};
use crate::models::{CsvTable, ModelError, Result};
use crate::protocols::approx;
use crate::protocols::engine::{Engine, Secret};
use crate::tensor::RingTensor;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The protocols' results, inside a party.
type PResult<T> = std::result::Result<T, crate::protocols::ProtocolError>;

/// Most lots in one order.
pub const MAX_LOTS: f64 = 1e6;
/// Most lots all orders together may hold: every sum of lots, and its
/// products with a ratio, stay within the fixed-point product range.
pub const MAX_TOTAL_LOTS: f64 = 1e9;
/// Most prices on the grid.
pub const MAX_PRICES: usize = 1024;
/// Most orders in one auction (all traders together).
pub const MAX_ORDERS: usize = 100_000;

/// One trader's orders.
#[derive(Debug, Clone)]
pub struct Orders {
    /// Where they came from.
    pub path: PathBuf,
    /// `true` to buy, `false` to sell.
    pub buy: Vec<bool>,
    /// Whole lots.
    pub quantity: Vec<f64>,
    /// Limit price: the most a buyer pays, the least a seller takes.
    pub limit: Vec<f64>,
}

impl Orders {
    /// Reads a CSV with columns `side` (`buy` or `sell`), `quantity` (whole
    /// lots, 1 to [`MAX_LOTS`]) and `limit` (a positive price); other
    /// columns are ignored.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_table(&CsvTable::from_csv(path)?)
    }

    /// The orders in a parsed table.
    pub fn from_table(t: &CsvTable) -> Result<Self> {
        let (cs, cq, cl) = (t.column("side")?, t.column("quantity")?, t.column("limit")?);
        let mut o = Orders {
            path: t.path.clone(),
            buy: Vec::new(),
            quantity: Vec::new(),
            limit: Vec::new(),
        };
        for (r, row) in t.rows.iter().enumerate() {
            o.buy.push(match row[cs].to_ascii_lowercase().as_str() {
                "buy" | "b" => true,
                "sell" | "s" => false,
                other => {
                    return Err(t.error(r, cs, format!("'{other}' is not a side: use buy or sell")))
                }
            });
            let q = t.number(r, cq, &row[cq])?;
            if !((1.0..=MAX_LOTS).contains(&q) && q.fract() == 0.0) {
                return Err(t.error(
                    r,
                    cq,
                    format!("{q} is not a whole number of lots from 1 to {MAX_LOTS}"),
                ));
            }
            let p = t.number(r, cl, &row[cl])?;
            if p <= 0.0 {
                return Err(t.error(r, cl, format!("{p} is not a positive price")));
            }
            o.quantity.push(q);
            o.limit.push(p);
        }
        Ok(o)
    }

    /// Number of orders.
    pub fn len(&self) -> usize {
        self.buy.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.buy.is_empty()
    }
}

/// The public settings of an auction.
#[derive(Debug, Clone, Serialize)]
pub struct DarkPoolJob {
    /// Candidate clearing prices, increasing.
    pub prices: Vec<f64>,
}

impl DarkPoolJob {
    /// The grid `low, low + tick, ..., high`.
    pub fn grid(low: f64, high: f64, tick: f64) -> Result<Self> {
        if !(low > 0.0 && high >= low && tick > 0.0 && low.is_finite() && high.is_finite()) {
            return Err(ModelError::Config(format!(
                "a price grid needs 0 < low <= high and a positive tick, got {low}, {high}, {tick}"
            )));
        }
        let n = ((high - low) / tick + 1e-9).floor() as usize + 1;
        if n > MAX_PRICES {
            return Err(ModelError::Config(format!(
                "{n} prices on the grid; at most {MAX_PRICES}"
            )));
        }
        Ok(Self {
            prices: (0..n).map(|i| low + i as f64 * tick).collect(),
        })
    }
}

/// What was learned.
#[derive(Debug, Clone, Serialize)]
pub struct DarkPoolOutcome {
    /// The clearing price (opened to all); `None` if no order can trade.
    pub price: Option<f64>,
    /// Lots traded (opened to all).
    pub volume: f64,
    /// Per trader, the fill of each of its orders in file order (each
    /// trader learns only its own).
    pub fills: Vec<Vec<f64>>,
    /// What each party learned: the price and volume, and its own fills.
    pub views: Vec<PartyView>,
    /// Bytes, rounds and time.
    pub cost: Cost,
}

/// The auction in plaintext, by the same rules: the reference the MPC
/// result is tested against (and what a trusted operator would compute).
pub fn clear_in_the_clear(
    job: &DarkPoolJob,
    books: &[Orders],
) -> (Option<f64>, f64, Vec<Vec<f64>>) {
    let all = || {
        books
            .iter()
            .flat_map(|o| (0..o.len()).map(move |i| (o.buy[i], o.quantity[i], o.limit[i])))
    };
    let depth = |p: f64| {
        let d: f64 = all()
            .filter(|&(b, _, l)| b && l >= p)
            .map(|(_, q, _)| q)
            .sum();
        let s: f64 = all()
            .filter(|&(b, _, l)| !b && l <= p)
            .map(|(_, q, _)| q)
            .sum();
        (d, s)
    };
    let (mut best, mut volume) = (0, f64::NEG_INFINITY);
    for (k, &p) in job.prices.iter().enumerate() {
        let (d, s) = depth(p);
        if d.min(s) > volume {
            (best, volume) = (k, d.min(s));
        }
    }
    if volume <= 0.0 {
        return (
            None,
            0.0,
            books.iter().map(|o| vec![0.0; o.len()]).collect(),
        );
    }
    let p = job.prices[best];
    let (d, s) = depth(p);
    let fills = books
        .iter()
        .map(|o| {
            (0..o.len())
                .map(|i| match o.buy[i] {
                    true if o.limit[i] >= p => o.quantity[i] * volume / d,
                    false if o.limit[i] <= p => o.quantity[i] * volume / s,
                    _ => 0.0,
                })
                .collect()
        })
        .collect();
    (Some(p), volume, fills)
}

/// Runs the auction: trader `i` is party `i` and holds `books[i]`.
pub fn run(job: &DarkPoolJob, books: &[Orders], mpc: MpcOptions) -> Result<DarkPoolOutcome> {
    let traders = books.len();
    let counts: Vec<usize> = books.iter().map(Orders::len).collect();
    let orders: usize = counts.iter().sum();
    let k = job.prices.len();
    if traders < 2 {
        return Err(ModelError::Config(
            "a dark pool needs at least two traders".into(),
        ));
    }
    if k == 0 || k > MAX_PRICES || job.prices.windows(2).any(|w| w[1] <= w[0]) {
        return Err(ModelError::Config(format!(
            "the price grid must hold 1 to {MAX_PRICES} increasing prices"
        )));
    }
    if orders > MAX_ORDERS {
        return Err(ModelError::Config(format!(
            "{orders} orders; at most {MAX_ORDERS} in one auction"
        )));
    }
    // Each trader's share of the lot budget, checked on its own data.
    for o in books {
        let lots: f64 = o.quantity.iter().sum();
        if lots > MAX_TOTAL_LOTS / traders as f64 {
            return Err(ModelError::Mismatch(format!(
                "{}: {lots} lots in all; each of {traders} traders may submit at most {}",
                o.path.display(),
                MAX_TOTAL_LOTS / traders as f64
            )));
        }
        if let Some(i) = (0..o.len()).find(|&i| o.limit[i] >= 1e9) {
            return Err(ModelError::Mismatch(format!(
                "{}: order {} has limit {}; prices must be below 1e9",
                o.path.display(),
                i + 1,
                o.limit[i]
            )));
        }
    }
    let roles: Vec<String> = books.iter().map(|o| role_of(&o.path)).collect();
    let (values, views, cost) = run_parties(&roles, mpc, |sess| {
        let me = sess.id();
        let security = mpc.security;
        on_engine!(sess, security, auction(job, &books[me], &counts))
    })?;
    let (index, volume) = values[0].0;
    let price = (volume > 0.0).then(|| job.prices[index]);
    Ok(DarkPoolOutcome {
        price,
        volume,
        fills: values.into_iter().map(|(_, f)| f).collect(),
        views,
        cost,
    })
}

/// One trader's part: returns the opened (price index, volume) and its own fills.
fn auction<E: Engine>(
    e: &mut E,
    job: &DarkPoolJob,
    mine: &Orders,
    counts: &[usize],
) -> PResult<((usize, f64), Vec<f64>)> {
    let fixed = e.fixed();
    let me = e.id();
    let k = job.prices.len();
    // Every trader's orders as secrets: side as the integer 0/1, lots and
    // limits in fixed point.
    let (mut side, mut lots, mut limit) = (Vec::new(), Vec::new(), Vec::new());
    for (t, &n) in counts.iter().enumerate() {
        let own = |f: &dyn Fn(usize) -> u64| {
            (t == me).then(|| RingTensor::from_vec(&[n, 1], (0..n).map(f).collect()))
        };
        let s = own(&|i| mine.buy[i] as u64).transpose()?;
        let q = own(&|i| fixed.encode(mine.quantity[i]).expect("checked")).transpose()?;
        let p = own(&|i| fixed.encode(mine.limit[i]).expect("checked")).transpose()?;
        side.push(e.input(t, s.as_ref(), &[n, 1])?);
        lots.push(e.input(t, q.as_ref(), &[n, 1])?);
        limit.push(e.input(t, p.as_ref(), &[n, 1])?);
    }
    let cat = |v: &[E::Secret]| E::Secret::concat(&v.iter().collect::<Vec<_>>(), 0);
    let (side, lots, limit) = (cat(&side)?, cat(&lots)?, cat(&limit)?);
    let n = side.len();
    // Lots to buy and to sell per order (one product of a bit and lots).
    let buy_lots = e.mul(&side, &lots)?;
    let sell_lots = lots.sub(&buy_lots)?;
    // Every order against every price, [n, k]: limit - price, and its negation.
    let spread = |x: &E::Secret| -> PResult<E::Secret> {
        let wide = E::Secret::concat(&vec![x; k], 1)?;
        Ok(wide)
    };
    let prices = RingTensor::from_vec(
        &[n, k],
        (0..n * k)
            .map(|j| {
                fixed
                    .encode(job.prices[j % k])
                    .expect("checked")
                    .wrapping_neg()
            })
            .collect(),
    )?;
    let gap = e.add_public(&spread(&limit)?, &prices)?;
    // One comparison for both sides: [limit < price] and [limit > price].
    let below = e.msb(&E::Secret::concat(&[&gap, &gap.neg()], 0)?)?;
    let rows = |r: std::ops::Range<usize>| r.collect::<Vec<_>>();
    let (lt, gt) = (
        below.select_rows(&rows(0..n))?,
        below.select_rows(&rows(n..2 * n))?,
    );
    // Eligible lots: buys with limit >= price, sells with limit <= price.
    let one = RingTensor::full(&[n, k], 1);
    let buy_ok = e.add_public(&lt.neg(), &one)?;
    let sell_ok = e.add_public(&gt.neg(), &one)?;
    let both = e.mul(
        &E::Secret::concat(&[&buy_ok, &sell_ok], 0)?,
        &E::Secret::concat(&[&spread(&buy_lots)?, &spread(&sell_lots)?], 0)?,
    )?;
    let (bought, sold) = (
        both.select_rows(&rows(0..n))?,
        both.select_rows(&rows(n..2 * n))?,
    );
    let demand = bought.sum_axis(0)?.reshape(&[k, 1])?;
    let supply = sold.sum_axis(0)?.reshape(&[k, 1])?;
    // Volume at each price: min(D, S) = S - relu(S - D).
    let volume = supply.sub(&e.relu(&supply.sub(&demand)?)?)?;
    let (best, index) = tournament(e, &volume)?;
    let opened = e.reveal(
        &E::Secret::concat(&[&best, &index], 0)?,
        "clearing price (grid index) and volume",
    )?;
    let v = fixed.decode(opened.as_slice()[0]);
    let at = opened.as_slice()[1] as usize;
    if v <= 0.0 || at >= k {
        return Ok(((0, 0.0), vec![0.0; mine.len()]));
    }
    // Pro-rata ratios V/D and V/S as 1 / (D/V): D/V >= 1, so the reciprocal
    // is in (0, 1]; a side with D/V within 1e-4 of 1 (the short side) fills
    // exactly.
    let pick = |t: &E::Secret| t.select_rows(&[at]);
    let depth = E::Secret::concat(&[&pick(&demand)?, &pick(&supply)?], 0)?;
    let ratio_in = e.mul_fraction(&depth, 1, v.round() as u64, MAX_TOTAL_LOTS)?;
    let inverse = approx::reciprocal(e, &ratio_in)?;
    let short = e.msb(&e.add_public_scalar(&ratio_in, fixed.encode(-1.0 - 1e-4)?)?)?;
    // ratio = r + short * (1 - r)
    let gap_to_one = e.add_public_scalar(&inverse.neg(), fixed.one())?;
    let ratio = inverse.add(&e.mul(&short, &gap_to_one)?)?;
    let col = |t: &E::Secret| t.select_cols(&[at]);
    let scale = |r: usize| -> PResult<E::Secret> {
        E::Secret::concat(&vec![&ratio.select_rows(&[r])?; n], 0)
    };
    let fills = e.mul_fixed(
        &E::Secret::concat(&[&col(&bought)?, &col(&sold)?], 0)?,
        &E::Secret::concat(&[&scale(0)?, &scale(1)?], 0)?,
    )?;
    let fills = fills
        .select_rows(&rows(0..n))?
        .add(&fills.select_rows(&rows(n..2 * n))?)?;
    // Each trader's own fills, to it alone.
    let mut own = Vec::new();
    let mut start = 0;
    for (t, &c) in counts.iter().enumerate() {
        let part = fills.select_rows(&rows(start..start + c))?;
        if let Some(f) = e.reveal_to(&part, t, "your fills")? {
            own = f.as_slice().iter().map(|&x| fixed.decode(x)).collect();
        }
        start += c;
    }
    Ok(((at, v), own))
}

/// The largest entry of `v [k, 1]` and its index (the lowest index on a
/// tie), by a tournament: each level compares pairs in one batch and keeps
/// the winner's value and index with one product.
fn tournament<E: Engine>(e: &mut E, v: &E::Secret) -> PResult<(E::Secret, E::Secret)> {
    let k = v.len();
    let mut vals = v.clone();
    let indices = RingTensor::from_vec(&[k, 1], (0..k as u64).collect())?;
    let mut idx = e.add_public(&vals.mul_public_scalar(0).reshape(&[k, 1])?, &indices)?;
    while vals.len() > 1 {
        let m = vals.len();
        let pairs = m / 2;
        let even: Vec<usize> = (0..pairs).map(|i| 2 * i).collect();
        let odd: Vec<usize> = (0..pairs).map(|i| 2 * i + 1).collect();
        let (lv, rv) = (vals.select_rows(&even)?, vals.select_rows(&odd)?);
        let (li, ri) = (idx.select_rows(&even)?, idx.select_rows(&odd)?);
        // The right one wins only if strictly larger: [left - right < 0].
        let right_wins = e.msb(&lv.sub(&rv)?)?;
        let diffs = E::Secret::concat(&[&rv.sub(&lv)?, &ri.sub(&li)?], 0)?;
        let both = E::Secret::concat(&[&right_wins, &right_wins], 0)?;
        let moved = e.mul(&both, &diffs)?;
        let mut next_v = lv.add(&moved.select_rows(&(0..pairs).collect::<Vec<_>>())?)?;
        let mut next_i = li.add(&moved.select_rows(&(pairs..2 * pairs).collect::<Vec<_>>())?)?;
        if m % 2 == 1 {
            next_v = E::Secret::concat(&[&next_v, &vals.select_rows(&[m - 1])?], 0)?;
            next_i = E::Secret::concat(&[&next_i, &idx.select_rows(&[m - 1])?], 0)?;
        }
        vals = next_v;
        idx = next_i;
    }
    Ok((vals, idx))
}
