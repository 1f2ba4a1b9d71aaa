//! Banks train a credit-risk model without opening it, then one bank scores
//! its applicants privately.
//!
//! `cargo run --release --example credit_risk`

use std::path::PathBuf;
use tessera::models::{Dataset, TrainConfig};
use tessera::scenarios::MpcOptions;
use tessera::scenarios::{credit, describe_views};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let banks = ["bank_a", "bank_b", "bank_c"]
        .iter()
        .map(|b| Dataset::from_csv(data.join(format!("credit_{b}.csv"))))
        .collect::<Result<Vec<_>, _>>()?;
    let applicants = Dataset::from_csv(data.join("credit_applicants.csv"))?;
    let job = credit::CreditJob {
        train: TrainConfig {
            epochs: 10,
            learning_rate: 0.5,
            batch_size: 32,
            ..Default::default()
        },
        applicant_bank: 1,
    };
    println!(
        "joint credit-risk model: {} banks, customers split by rows, all in this process",
        banks.len()
    );
    println!(
        "security: semi-honest parties; {}",
        tessera::protocols::prep::DEALER_TRUST
    );
    println!(
        "the trained weights are never opened; bank {} scores its {} applicants",
        job.applicant_bank,
        applicants.rows()
    );
    let out = credit::run(&job, &banks, &applicants, MpcOptions::default())?;
    if let Some(t) = &out.test {
        println!(
            "all banks learned: held-out accuracy {:.1}% ({} rows)",
            100.0 * t.accuracy.unwrap_or(f64::NAN),
            t.rows
        );
    }
    println!(
        "bank {} alone learned the applicants' probabilities of default:",
        job.applicant_bank
    );
    for (i, s) in out.scores.iter().enumerate() {
        println!("  applicant {}: {:.3}", i + 1, s);
    }
    print!("{}{}", describe_views(&out.views), out.cost);
    Ok(())
}
