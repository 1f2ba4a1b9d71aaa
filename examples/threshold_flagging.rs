//! Banks flag large transactions and accounts with a large combined balance;
//! only the auditor learns the flags.
//!
//! `cargo run --release --example threshold_flagging [-- TX_THRESHOLD BALANCE_THRESHOLD]`

use std::path::PathBuf;
use tessera::scenarios::MpcOptions;
use tessera::scenarios::{describe_views, flagging};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().map_err(|_| format!("'{a}' is not a number; usage: threshold_flagging [TX_THRESHOLD BALANCE_THRESHOLD]")))
        .collect::<Result<_, _>>()?;
    let job = flagging::FlaggingJob {
        transaction_threshold: args.first().copied().unwrap_or(5000.0),
        balance_threshold: args.get(1).copied().unwrap_or(4000.0),
        registry: flagging::read_registry(data.join("accounts.csv"))?,
    };
    let ledgers = ["bank_a", "bank_b", "bank_c"]
        .iter()
        .map(|b| flagging::Ledger::from_csv(data.join(format!("{b}_transactions.csv"))))
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "threshold flagging: {} banks and an auditor (party {}), all in this process",
        ledgers.len(),
        ledgers.len()
    );
    println!(
        "security: semi-honest parties; {}",
        tessera::protocols::prep::DEALER_TRUST
    );
    println!(
        "public: the thresholds ({} per transaction, {} per combined balance), the {} registry accounts, each bank's transaction count",
        job.transaction_threshold, job.balance_threshold, job.registry.len()
    );
    let out = flagging::run(&job, &ledgers, MpcOptions::default())?;
    println!("the auditor learned:");
    for (l, flags) in ledgers.iter().zip(&out.transaction_flags) {
        let rows: Vec<String> = flags
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .map(|(i, _)| format!("line {}", l.lines[i]))
            .collect();
        println!(
            "  {}: {} of {} transactions flagged ({})",
            l.path.file_name().unwrap_or_default().to_string_lossy(),
            rows.len(),
            flags.len(),
            rows.join(", ")
        );
    }
    let accounts: Vec<String> = job
        .registry
        .iter()
        .zip(&out.account_flags)
        .filter(|(_, f)| **f)
        .map(|(a, _)| a.to_string())
        .collect();
    println!(
        "  accounts whose combined balance is above the threshold: {}",
        accounts.join(", ")
    );
    print!("{}{}", describe_views(&out.views), out.cost);
    Ok(())
}
