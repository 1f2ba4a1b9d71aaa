//! A firm proves its assets, held by several custodians, cover its
//! liabilities; only the reserve-ratio bucket is opened.
//!
//! `cargo run --release --example proof_of_solvency [-- --only-solvent]`

use std::path::PathBuf;
use tessera::scenarios::MpcOptions;
use tessera::scenarios::{describe_views, solvency};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let books = ["exchange_books", "custodian_1", "custodian_2"]
        .iter()
        .map(|b| solvency::Books::from_csv(data.join(format!("solvency_{b}.csv"))))
        .collect::<Result<Vec<_>, _>>()?;
    let reveal = if std::env::args().any(|a| a == "--only-solvent") {
        solvency::Reveal::Solvent
    } else {
        solvency::Reveal::Bucket(vec![(1, 1), (11, 10), (3, 2), (2, 1)])
    };
    println!(
        "proof of solvency: {} holders of the books and an auditor, all in this process",
        books.len()
    );
    println!(
        "security: semi-honest parties; {}",
        tessera::protocols::prep::DEALER_TRUST
    );
    for b in &books {
        println!(
            "  {}: {} line items (kept private)",
            b.path.file_name().unwrap_or_default().to_string_lossy(),
            b.items.len()
        );
    }
    let out = solvency::run(&books, &reveal, true, MpcOptions::default())?;
    let names = [
        "below 1.0",
        "1.0 to 1.1",
        "1.1 to 1.5",
        "1.5 to 2.0",
        "2.0 or more",
    ];
    match &reveal {
        solvency::Reveal::Solvent => println!(
            "everyone learned: {}",
            if out.solvent(&reveal) {
                "assets cover liabilities"
            } else {
                "assets do NOT cover liabilities"
            }
        ),
        solvency::Reveal::Bucket(_) => println!(
            "everyone learned: reserve ratio (assets / liabilities) is {} -> {}",
            names[out.bucket],
            if out.solvent(&reveal) {
                "solvent"
            } else {
                "NOT solvent"
            }
        ),
    }
    print!("{}{}", describe_views(&out.views), out.cost);
    Ok(())
}
