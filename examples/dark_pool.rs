//! Three trading desks clear their secret buy and sell orders in one
//! uniform-price call auction; everyone learns the clearing price and the
//! volume, each desk only its own fills.
//!
//! `cargo run --release --example dark_pool [-- --no-dealer | --active]`

use std::path::PathBuf;
use tessera::models::Security;
use tessera::protocols::prep::Provider;
use tessera::scenarios::{dark_pool, describe_views, MpcOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let books = ["desk_a", "desk_b", "desk_c"]
        .iter()
        .map(|d| dark_pool::Orders::from_csv(data.join(format!("dark_pool_{d}.csv"))))
        .collect::<Result<Vec<_>, _>>()?;
    let provider = if std::env::args().any(|a| a == "--no-dealer") {
        Provider::Ot
    } else {
        Provider::Dealer
    };
    // Active security: a desk that deviates is caught before anything opens.
    let security = if std::env::args().any(|a| a == "--active") {
        Security::Active
    } else {
        Security::SemiHonest
    };
    let job = dark_pool::DarkPoolJob::grid(95.0, 105.0, 0.5)?;
    println!(
        "dark pool: {} trading desks, each a computing party; no operator sees any order",
        books.len()
    );
    println!("security: {}; {}", security.statement(), provider.trust());
    println!(
        "public: {} candidate prices from {} to {}, and how many orders each desk sends",
        job.prices.len(),
        job.prices[0],
        job.prices[job.prices.len() - 1]
    );
    for b in &books {
        println!(
            "  {}: {} orders (kept private)",
            b.path.file_name().unwrap_or_default().to_string_lossy(),
            b.len()
        );
    }
    let out = dark_pool::run(&job, &books, MpcOptions::with(provider).secured(security))?;
    match out.price {
        Some(p) => println!(
            "everyone learns: clearing price {p}, {} lots traded",
            out.volume
        ),
        None => println!("everyone learns: no order can trade on this grid"),
    }
    for (b, fills) in books.iter().zip(&out.fills) {
        let name = b.path.file_stem().unwrap_or_default().to_string_lossy();
        println!("{name} alone learns its fills:");
        for i in 0..b.len() {
            let side = if b.buy[i] { "buy " } else { "sell" };
            println!(
                "    {side} {:>5} lots at limit {:>6}: filled {:.1}",
                b.quantity[i], b.limit[i], fills[i]
            );
        }
    }
    // The same auction in plaintext, as a trusted operator would run it.
    let (price, volume, _) = dark_pool::clear_in_the_clear(&job, &books);
    println!("check against plaintext: price {price:?}, volume {volume}");
    print!("{}{}", describe_views(&out.views), out.cost);
    Ok(())
}
