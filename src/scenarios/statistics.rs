//! Secure aggregation of statistics across hospitals.
//!
//! Each hospital holds patient rows. Jointly they compute the count, mean,
//! sample variance and a histogram of one column over all hospitals. Only
//! those aggregates are opened (to every hospital); no hospital's own count,
//! sum or histogram is. Each hospital first aggregates its own rows locally
//! (nothing is lost: an aggregate of its own data is all the joint
//! computation needs), then the aggregates are added and divided as shares.

use super::{column, on_engine, role_of, run_parties, Cost, MpcOptions, PartyView};
use crate::models::{Dataset, ModelError, Result};
use crate::protocols::engine::{Engine, Secret};
use crate::tensor::RingTensor;
use ndarray::ArrayD;
use serde::Serialize;

/// The public settings: which column, its declared range and the bins.
#[derive(Debug, Clone, Serialize)]
pub struct StatsJob {
    /// Column name, present in every hospital's file.
    pub column: String,
    /// Smallest allowed value (also the left edge of the first bin).
    pub lo: f64,
    /// Largest allowed value (also the right edge of the last bin).
    pub hi: f64,
    /// Number of equal-width histogram bins over `[lo, hi]`.
    pub bins: usize,
}

impl StatsJob {
    /// The bin of `v` (the last bin includes `hi`).
    pub fn bin_of(&self, v: f64) -> usize {
        let w = (self.hi - self.lo) / self.bins as f64;
        (((v - self.lo) / w) as usize).min(self.bins - 1)
    }

    /// The centre of the range: values are shifted by it before squaring,
    /// which keeps sums of squares small and variance precise.
    fn centre(&self) -> f64 {
        (self.lo + self.hi) / 2.0
    }
}

/// The opened aggregates.
#[derive(Debug, Clone, Serialize)]
pub struct Aggregates {
    /// Rows over all hospitals.
    pub count: usize,
    /// Mean of the column.
    pub mean: f64,
    /// Sample variance (divided by `count - 1`).
    pub variance: f64,
    /// Rows per bin.
    pub histogram: Vec<usize>,
}

/// The aggregates and what every party saw.
#[derive(Debug, Clone, Serialize)]
pub struct StatsOutcome {
    /// What every hospital learned.
    pub aggregates: Aggregates,
    /// What each party learned: the aggregates, nothing else.
    pub views: Vec<PartyView>,
    /// Bytes, rounds and time.
    pub cost: Cost,
}

/// A hospital's local aggregate: `[count, sum, sum of squares, bins...]`
/// of the centred column, after checking every value is in range.
fn local_aggregate(job: &StatsJob, d: &Dataset) -> Result<Vec<f64>> {
    let (j, col) = column(d, &job.column)?;
    let c = job.centre();
    let mut agg = vec![0.0; 3 + job.bins];
    for (i, &v) in col.iter().enumerate() {
        if !(job.lo..=job.hi).contains(&v) {
            return Err(ModelError::Value {
                path: d.path.clone(),
                line: d.lines[i],
                column: j + 1,
                name: job.column.clone(),
                reason: format!(
                    "{v} is outside the declared range [{}, {}]; fix the value or widen the range",
                    job.lo, job.hi
                ),
            });
        }
        agg[0] += 1.0;
        agg[1] += v - c;
        agg[2] += (v - c) * (v - c);
        agg[3 + job.bin_of(v)] += 1.0;
    }
    Ok(agg)
}

/// Every hospital's aggregates `[count, sum, sum of squares, histogram..]`
/// (centred values) summed as secrets; the count and histogram are opened,
/// then the mean and sample variance computed and opened.
fn pool<E: Engine>(
    e: &mut E,
    n: usize,
    mine: &RingTensor,
    half: f64,
    job: &StatsJob,
) -> Result<Aggregates> {
    let me = e.id();
    let fixed = e.fixed();
    let width = mine.len();
    let mut total: Option<E::Secret> = None;
    for h in 0..n {
        let t = e.input(h, (h == me).then_some(mine), &[width])?;
        total = Some(match total {
            None => t,
            Some(s) => s.add(&t)?,
        });
    }
    let total = total.expect("at least one hospital").reshape(&[width, 1])?;
    let mut counts_idx = vec![0];
    counts_idx.extend(3..width);
    let counts = e.reveal(&total.select_rows(&counts_idx)?, "row count and histogram")?;
    let counts: Vec<usize> = counts
        .as_slice()
        .iter()
        .map(|&v| fixed.decode(v).round() as usize)
        .collect();
    let rows = counts[0];
    if rows < 2 {
        return Err(ModelError::Mismatch(format!(
            "{rows} rows in all: a variance needs at least 2"
        )));
    }
    let sum = total.select_rows(&[1])?;
    let sum_sq = total.select_rows(&[2])?;
    // The count is public now: divide by it as a public fraction.
    let mean_c = e.mul_fraction(&sum, 1, rows as u64, rows as f64 * half)?;
    let mean_sq = e.mul_fraction(&sum_sq, 1, rows as u64, rows as f64 * half * half)?;
    let pop_var = mean_sq.sub(&e.mul_fixed(&mean_c, &mean_c)?)?;
    let var = e.mul_fraction(&pop_var, rows as u64, rows as u64 - 1, half * half)?;
    let both = E::Secret::concat(&[&mean_c, &var], 0)?;
    let opened = e.reveal(&both, "mean and sample variance")?;
    let v: Vec<f64> = opened.as_slice().iter().map(|&x| fixed.decode(x)).collect();
    Ok(Aggregates {
        count: rows,
        mean: v[0] + job.centre(),
        variance: v[1].max(0.0),
        histogram: counts[1..].to_vec(),
    })
}

/// Runs the job with hospital `i` as party `i`. `mpc` picks the preprocessing and may fix all MPC
/// randomness (tests only).
///
/// ```
/// use tessera::{models::Dataset, scenarios::{MpcOptions, statistics::{run, StatsJob}}};
/// use std::path::Path;
///
/// let a = Dataset::parse(Path::new("a.csv"), "age\n30\n40\n")?;
/// let b = Dataset::parse(Path::new("b.csv"), "age\n50\n60\n70\n")?;
/// let job = StatsJob { column: "age".into(), lo: 0.0, hi: 100.0, bins: 2 };
/// // With the dealer (the default); `MpcOptions::with(Provider::Ot)` for none.
/// let out = run(&job, &[a, b], MpcOptions::default())?;
/// assert_eq!(out.aggregates.count, 5);
/// assert!((out.aggregates.mean - 50.0).abs() < 1e-3);
/// assert!((out.aggregates.variance - 250.0).abs() < 1e-2);
/// assert_eq!(out.aggregates.histogram, [2, 3]);
/// // Each hospital learned the aggregates and nothing else.
/// assert_eq!(out.views[1].labels(), ["row count and histogram", "mean and sample variance"]);
/// # Ok::<(), tessera::models::ModelError>(())
/// ```
pub fn run(job: &StatsJob, hospitals: &[Dataset], mpc: MpcOptions) -> Result<StatsOutcome> {
    if !(job.lo.is_finite() && job.hi.is_finite() && job.lo < job.hi) || job.bins == 0 {
        return Err(ModelError::Config(format!(
            "the range [{}, {}] must be finite and non-empty, with at least one bin",
            job.lo, job.hi
        )));
    }
    let n = hospitals.len();
    let roles: Vec<String> = hospitals.iter().map(|d| role_of(&d.path)).collect();
    let width = 3 + job.bins;
    let half = (job.hi - job.lo) / 2.0;
    let (values, views, cost) = run_parties(&roles, mpc, |sess| {
        let me = sess.id();
        let limit = sess.fixed().limit();
        let mine = local_aggregate(job, &hospitals[me])?;
        // The summed sum of squares must fit the fixed-point range.
        let rows_bound = limit / (half * half).max(1.0) / n as f64;
        if mine[0] >= rows_bound {
            return Err(ModelError::Mismatch(format!(
                "{} has {} rows; with the range [{}, {}] at most {rows_bound:.0} rows per hospital fit",
                hospitals[me].path.display(),
                mine[0],
                job.lo,
                job.hi
            )));
        }
        let mine = ArrayD::from_shape_vec(vec![width], mine).expect("aggregate width");
        let mine = sess
            .fixed()
            .encode_array(&mine)
            .map_err(crate::protocols::ProtocolError::from)?;
        let security = mpc.security;
        on_engine!(sess, security, pool(n, &mine, half, job))
    })?;
    Ok(StatsOutcome {
        aggregates: values.into_iter().next().expect("at least one party"),
        views,
        cost,
    })
}
