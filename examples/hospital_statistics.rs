//! Hospitals pool the count, mean, variance and histogram of one column;
//! only those aggregates are opened.
//!
//! `cargo run --release --example hospital_statistics [-- COLUMN LO HI BINS]`
//! (default: systolic_bp 80 220 7)

use std::path::PathBuf;
use tessera::models::Dataset;
use tessera::scenarios::MpcOptions;
use tessera::scenarios::{describe_views, statistics};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: f64| -> Result<f64, String> {
        args.get(i).map_or(Ok(default), |a| a.parse().map_err(|_| format!("argument {} ('{a}') is not a number; usage: hospital_statistics [COLUMN LO HI BINS]", i + 1)))
    };
    let job = statistics::StatsJob {
        column: args
            .first()
            .cloned()
            .unwrap_or_else(|| "systolic_bp".into()),
        lo: num(1, 80.0)?,
        hi: num(2, 220.0)?,
        bins: num(3, 7.0)? as usize,
    };
    let hospitals = ["hospital_a", "hospital_b", "hospital_c"]
        .iter()
        .map(|h| Dataset::from_csv(data.join(format!("{h}_patients.csv"))))
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "secure aggregation of '{}' over {} hospitals, all in this process",
        job.column,
        hospitals.len()
    );
    println!(
        "security: semi-honest parties; {}",
        tessera::protocols::prep::DEALER_TRUST
    );
    let out = statistics::run(&job, &hospitals, MpcOptions::default())?;
    let a = &out.aggregates;
    println!("every hospital learned:");
    println!(
        "  count {}, mean {:.3}, sample variance {:.3} (std {:.3})",
        a.count,
        a.mean,
        a.variance,
        a.variance.sqrt()
    );
    let w = (job.hi - job.lo) / job.bins as f64;
    for (i, c) in a.histogram.iter().enumerate() {
        let lo = job.lo + w * i as f64;
        println!(
            "  [{lo:>7.1}, {:>7.1}{} {c:>4} {}",
            lo + w,
            if i + 1 == job.bins { "]" } else { ")" },
            "#".repeat(c / 4)
        );
    }
    print!("{}{}", describe_views(&out.views), out.cost);
    Ok(())
}
