//! The scenarios end to end: each answer against a plaintext computation in
//! f64, and each party's record of openings against the declared outputs.

use std::path::{Path, PathBuf};
use tessera::models::{
    run_job_plaintext, Dataset, JobSpec, ModelKind, Security, Split, TrainConfig,
};
use tessera::scenarios::MpcOptions;
use tessera::scenarios::{credit, dark_pool, flagging, solvency, statistics, PartyView};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(name)
}

/// Asserts that party `p` learned exactly `labels` (in order, repeats collapsed).
fn learned(views: &[PartyView], p: usize, labels: &[&str]) {
    let mut got = views[p].labels();
    got.dedup();
    assert_eq!(
        got, labels,
        "party {p} ({}) learned other values",
        views[p].role
    );
}

fn ledger(text: &str) -> flagging::Ledger {
    flagging::Ledger::from_dataset(Dataset::parse(Path::new("edge.csv"), text).unwrap()).unwrap()
}

#[test]
fn flagging_matches_plaintext_and_only_the_auditor_learns_flags() {
    let registry = flagging::read_registry(data("accounts.csv")).unwrap();
    let ledgers: Vec<_> = ["bank_a", "bank_b", "bank_c"]
        .iter()
        .map(|b| flagging::Ledger::from_csv(data(&format!("{b}_transactions.csv"))).unwrap())
        .collect();
    for (tx, bal) in [(5000.0, 4000.0), (800.0, -200.0)] {
        let job = flagging::FlaggingJob {
            transaction_threshold: tx,
            balance_threshold: bal,
            registry: registry.clone(),
        };
        let out = flagging::run(&job, &ledgers, MpcOptions::seeded([3; 32])).unwrap();
        let mut balance = vec![0.0; registry.len()];
        for (l, flags) in ledgers.iter().zip(&out.transaction_flags) {
            let want: Vec<bool> = l.amounts.iter().map(|&a| a > tx).collect();
            assert_eq!(flags, &want, "{}", l.path.display());
            for (acct, amt) in l.accounts.iter().zip(&l.amounts) {
                balance[registry.iter().position(|a| a == acct).unwrap()] += amt;
            }
        }
        let want: Vec<bool> = balance.iter().map(|&b| b > bal).collect();
        assert_eq!(out.account_flags, want);
        assert!(
            want.iter().any(|&f| f) && want.iter().any(|&f| !f),
            "a test that flags all or none proves little"
        );
        for bank in 0..3 {
            learned(&out.views, bank, &[]);
        }
        learned(
            &out.views,
            3,
            &[
                "transaction flags (amount above threshold)",
                "account flags (combined balance above threshold)",
            ],
        );
    }
}

#[test]
fn flagging_is_exact_at_the_threshold_with_two_parties() {
    // One bank and the auditor; amounts at, just above and just below the threshold.
    let l = ledger("account,amount\n7,100\n7,100.01\n7,99.99\n8,-100000\n8,1e9\n9,0\n");
    let job = flagging::FlaggingJob {
        transaction_threshold: 100.0,
        balance_threshold: 200.0,
        registry: vec![7, 8, 9, 10],
    };
    let out = flagging::run(&job, &[l], MpcOptions::seeded([4; 32])).unwrap();
    assert_eq!(
        out.transaction_flags[0],
        [false, true, false, false, true, false]
    );
    // Balances: 300, 999_900_000, 0, 0.
    assert_eq!(out.account_flags, [true, true, false, false]);
}

#[test]
fn flagging_rejects_an_unknown_account_naming_file_and_line() {
    let l = ledger("account,amount\n7,1\n12,5\n");
    let job = flagging::FlaggingJob {
        transaction_threshold: 1.0,
        balance_threshold: 1.0,
        registry: vec![7],
    };
    let e = flagging::run(&job, &[l], MpcOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3") && e.contains("account 12"), "{e}");
}

fn books(text: &str) -> solvency::Books {
    solvency::Books::parse(Path::new("books.csv"), text).unwrap()
}

#[test]
fn solvency_opens_only_the_bucket_and_matches_the_ratio() {
    let all: Vec<_> = ["exchange_books", "custodian_1", "custodian_2"]
        .iter()
        .map(|b| solvency::Books::from_csv(data(&format!("solvency_{b}.csv"))).unwrap())
        .collect();
    let (a, l) = all
        .iter()
        .map(|b| b.totals())
        .fold((0.0, 0.0), |s, t| (s.0 + t.0, s.1 + t.1));
    let bounds = vec![(1, 1), (11, 10), (3, 2), (2, 1)];
    let want = bounds
        .iter()
        .filter(|&&(p, q)| a * q as f64 >= l * p as f64)
        .count();
    let reveal = solvency::Reveal::Bucket(bounds);
    let out = solvency::run(&all, &reveal, true, MpcOptions::seeded([5; 32])).unwrap();
    assert_eq!(out.bucket, want, "assets {a}, liabilities {l}");
    assert!(out.solvent(&reveal));
    for p in 0..4 {
        learned(&out.views, p, &["reserve-ratio bucket"]);
        assert_eq!(out.views[p].learned[0].shape, [1, 1]);
    }
}

#[test]
fn solvency_is_exact_at_the_boundary_with_two_and_three_parties() {
    let owes = books("item,kind,amount\ndeposits,liability,1000000.25\n");
    for (assets, solvent) in [
        ("1000000.25", true),
        ("1000000.24", false),
        ("1000000.26", true),
        ("0", false),
    ] {
        let holds = books(&format!("item,kind,amount\ncash,asset,{assets}\n"));
        // Two parties: the two holders. Three: plus the auditor.
        for auditor in [false, true] {
            let out = solvency::run(
                &[owes.clone(), holds.clone()],
                &solvency::Reveal::Solvent,
                auditor,
                MpcOptions::seeded([6; 32]),
            )
            .unwrap();
            assert_eq!(
                out.solvent(&solvency::Reveal::Solvent),
                solvent,
                "assets {assets}"
            );
            assert_eq!(out.bucket, solvent as usize);
            for v in &out.views {
                assert_eq!(v.labels(), ["solvent (assets >= liabilities)"]);
            }
        }
    }
}

#[test]
fn solvency_rejects_malformed_books() {
    let e = solvency::Books::parse(Path::new("b.csv"), "item,kind,amount\ncash,assets,5\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("column 2") && e.contains("'assets'"),
        "{e}"
    );
    let e = solvency::Books::parse(Path::new("b.csv"), "item,kind,amount\ncash,asset,-5\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("non-negative"), "{e}");
}

fn f64_stats(job: &statistics::StatsJob, hs: &[Dataset]) -> (usize, f64, f64, Vec<usize>) {
    let mut v = Vec::new();
    for h in hs {
        let j = h
            .feature_names
            .iter()
            .position(|n| n == &job.column)
            .unwrap();
        v.extend(h.features.column(j).iter().copied());
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let mut hist = vec![0; job.bins];
    for x in &v {
        hist[job.bin_of(*x)] += 1;
    }
    (v.len(), mean, var, hist)
}

#[test]
fn statistics_match_plaintext_and_open_only_the_aggregates() {
    let hs: Vec<_> = ["hospital_a", "hospital_b", "hospital_c"]
        .iter()
        .map(|h| Dataset::from_csv(data(&format!("{h}_patients.csv"))).unwrap())
        .collect();
    for (column, lo, hi, bins) in [
        ("systolic_bp", 80.0, 220.0, 7),
        ("age", 0.0, 120.0, 12),
        ("cholesterol", 100.0, 400.0, 5),
    ] {
        let job = statistics::StatsJob {
            column: column.into(),
            lo,
            hi,
            bins,
        };
        // 3 parties, and 2 (the first two hospitals).
        for parties in [3, 2] {
            let out = statistics::run(&job, &hs[..parties], MpcOptions::seeded([7; 32])).unwrap();
            let (n, mean, var, hist) = f64_stats(&job, &hs[..parties]);
            let a = &out.aggregates;
            assert_eq!(a.count, n);
            assert_eq!(a.histogram, hist, "{column}");
            assert!(
                (a.mean - mean).abs() < 1e-3,
                "{column}: mean {} vs {mean}",
                a.mean
            );
            assert!(
                (a.variance - var).abs() < 1e-3 * var.max(1.0),
                "{column}: variance {} vs {var}",
                a.variance
            );
            for p in 0..parties {
                learned(
                    &out.views,
                    p,
                    &["row count and histogram", "mean and sample variance"],
                );
            }
        }
    }
}

#[test]
fn statistics_reject_values_outside_the_declared_range() {
    let h = Dataset::from_csv(data("hospital_a_patients.csv")).unwrap();
    let job = statistics::StatsJob {
        column: "age".into(),
        lo: 20.0,
        hi: 90.0,
        bins: 4,
    };
    let e = statistics::run(&job, &[h.clone(), h], MpcOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hospital_a_patients.csv") && e.contains("outside the declared range"),
        "{e}"
    );
}

/// The three banks' data, the applicants, and a credit job of `epochs`
/// epochs scoring bank 2's applicants.
fn credit_job(epochs: usize) -> (Vec<Dataset>, Dataset, TrainConfig, credit::CreditJob) {
    let banks = ["bank_a", "bank_b", "bank_c"]
        .iter()
        .map(|b| Dataset::from_csv(data(&format!("credit_{b}.csv"))).unwrap())
        .collect();
    let applicants = Dataset::from_csv(data("credit_applicants.csv")).unwrap();
    let train = TrainConfig {
        model: ModelKind::Logistic,
        epochs,
        ..Default::default()
    };
    let job = credit::CreditJob {
        train: train.clone(),
        applicant_bank: 2,
    };
    (banks, applicants, train, job)
}

#[test]
fn credit_scores_match_plaintext_and_only_the_applicant_bank_sees_them() {
    let (banks, applicants, train, job) = credit_job(5);
    let out = credit::run(&job, &banks, &applicants, MpcOptions::seeded([8; 32])).unwrap();
    // The same recipe in plaintext f32, with the model opened, scoring the same rows.
    let plain = run_job_plaintext(&JobSpec::new(3, Split::Rows, train), &banks, false).unwrap();
    let want = plain.model.predict(&applicants).unwrap();
    assert_eq!(out.scores.len(), applicants.rows());
    for (got, want) in out.scores.iter().zip(&want) {
        assert!(
            (got - want[0]).abs() < 0.01,
            "score {got} vs plaintext {}",
            want[0]
        );
    }
    let plain_test = plain.model.metrics.test.as_ref().unwrap().accuracy.unwrap();
    assert!((out.test.as_ref().unwrap().accuracy.unwrap() - plain_test).abs() <= 0.011);
    for p in 0..3 {
        let labels = out.views[p].labels();
        assert!(
            !labels.iter().any(|l| l.contains("weights")),
            "party {p} saw the model: {labels:?}"
        );
        assert_eq!(
            labels.contains(&"predictions for the querier"),
            p == 2,
            "party {p}: {labels:?}"
        );
    }
}

#[test]
fn every_scenario_runs_without_a_dealer_and_under_active_security_with_the_same_answers() {
    let ot = |seed: u8| MpcOptions {
        seed: Some([seed; 32]),
        preprocessing: tessera::Provider::Ot,
        ..MpcOptions::default()
    };
    let active = |seed: u8| MpcOptions::seeded([seed; 32]).secured(Security::Active);
    for alt in [ot, active] {
        same_answers(alt);
    }
}

/// Every scenario run with `alt`'s options gives the dealer's semi-honest
/// answers, and opens the same values.
fn same_answers(ot: impl Fn(u8) -> MpcOptions) {
    // Flagging, 3 banks and the auditor.
    let registry = flagging::read_registry(data("accounts.csv")).unwrap();
    let ledgers: Vec<_> = ["bank_a", "bank_b", "bank_c"]
        .iter()
        .map(|b| flagging::Ledger::from_csv(data(&format!("{b}_transactions.csv"))).unwrap())
        .collect();
    let job = flagging::FlaggingJob {
        transaction_threshold: 5000.0,
        balance_threshold: 4000.0,
        registry,
    };
    let with_dealer = flagging::run(&job, &ledgers, MpcOptions::seeded([3; 32])).unwrap();
    let without = flagging::run(&job, &ledgers, ot(3)).unwrap();
    assert_eq!(without.transaction_flags, with_dealer.transaction_flags);
    assert_eq!(without.account_flags, with_dealer.account_flags);
    for (a, b) in without.views.iter().zip(&with_dealer.views) {
        assert_eq!(a.labels(), b.labels());
    }

    // Solvency, 3 holders and the auditor.
    let all: Vec<_> = ["exchange_books", "custodian_1", "custodian_2"]
        .iter()
        .map(|b| solvency::Books::from_csv(data(&format!("solvency_{b}.csv"))).unwrap())
        .collect();
    let reveal = solvency::Reveal::Bucket(vec![(1, 1), (11, 10), (3, 2), (2, 1)]);
    let a = solvency::run(&all, &reveal, true, MpcOptions::seeded([5; 32])).unwrap();
    let b = solvency::run(&all, &reveal, true, ot(5)).unwrap();
    assert_eq!(a.bucket, b.bucket);

    // Statistics, 2 hospitals.
    let hs: Vec<_> = ["hospital_a", "hospital_b"]
        .iter()
        .map(|h| Dataset::from_csv(data(&format!("{h}_patients.csv"))).unwrap())
        .collect();
    let job = statistics::StatsJob {
        column: "age".into(),
        lo: 0.0,
        hi: 120.0,
        bins: 12,
    };
    let (n, mean, var, hist) = f64_stats(&job, &hs);
    let s = statistics::run(&job, &hs, ot(7)).unwrap().aggregates;
    assert_eq!((s.count, s.histogram.clone()), (n, hist));
    assert!((s.mean - mean).abs() < 1e-3 && (s.variance - var).abs() / var < 1e-3);

    // Credit risk, 3 banks: scores as in plaintext.
    let (banks, applicants, train, job) = credit_job(3);
    let out = credit::run(&job, &banks, &applicants, ot(8)).unwrap();
    let plain = run_job_plaintext(&JobSpec::new(3, Split::Rows, train), &banks, false).unwrap();
    let want = plain.model.predict(&applicants).unwrap();
    for (got, want) in out.scores.iter().zip(&want) {
        assert!((got - want[0]).abs() < 0.01, "score {got} vs {}", want[0]);
    }

    // The dark pool, 3 traders.
    let books: Vec<_> = (0..3).map(|t| random_orders(t, 6, 21)).collect();
    let job = dark_pool::DarkPoolJob::grid(95.0, 105.0, 0.5).unwrap();
    check_auction(&job, &books, ot(9));
}

/// A random order book for trader `t`: prices around 100 on a 0.5 grid, so
/// some limits sit exactly on grid prices.
fn random_orders(t: usize, n: usize, seed: u8) -> dark_pool::Orders {
    let mut prg = tessera::tensor::Prg::from_seed([seed.wrapping_add(t as u8); 32]);
    let mut o = dark_pool::Orders {
        path: format!("trader_{t}.csv").into(),
        buy: vec![],
        quantity: vec![],
        limit: vec![],
    };
    for _ in 0..n {
        o.buy.push(prg.below(2) == 1);
        o.quantity.push(1.0 + prg.below(500) as f64);
        o.limit.push(95.0 + 0.5 * prg.below(21) as f64);
    }
    o
}

fn check_auction(job: &dark_pool::DarkPoolJob, books: &[dark_pool::Orders], mpc: MpcOptions) {
    let out = dark_pool::run(job, books, mpc).unwrap();
    let (price, volume, fills) = dark_pool::clear_in_the_clear(job, books);
    assert_eq!(out.price, price);
    assert_eq!(out.volume, volume);
    for (t, (got, want)) in out.fills.iter().zip(&fills).enumerate() {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let q = books[t].quantity[i];
            assert!(
                (g - w).abs() <= 1e-3 * q + 1e-3,
                "trader {t} order {i}: {g} vs {w}"
            );
        }
        // Orders filled completely in plaintext (the short side's) are
        // filled exactly, not merely within the reciprocal's bound.
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if *w == books[t].quantity[i] {
                assert!(
                    (g - w).abs() <= 1e-4,
                    "trader {t} order {i}: {g} vs full {w}"
                );
            }
        }
    }
    // The short side exists whenever anything trades.
    let full = books
        .iter()
        .zip(&fills)
        .flat_map(|(o, f)| o.quantity.iter().zip(f))
        .filter(|(q, f)| q == f)
        .count();
    assert_eq!(full > 0, volume > 0.0, "orders filled completely: {full}");
    // No side overfills the volume.
    for side in [true, false] {
        let total: f64 = books
            .iter()
            .zip(&out.fills)
            .flat_map(|(o, f)| {
                (0..o.len())
                    .filter(move |&i| o.buy[i] == side)
                    .map(move |i| f[i])
            })
            .sum();
        assert!(
            (total - volume).abs() <= 1e-3 * volume + 1e-2,
            "{side}: {total} vs {volume}"
        );
    }
    // Everyone learned the price and volume; each trader its own fills only.
    for (t, v) in out.views.iter().enumerate() {
        assert_eq!(
            v.labels(),
            ["clearing price (grid index) and volume", "your fills"]
                [..if volume > 0.0 { 2 } else { 1 }]
        );
        if let Some(own) = v.learned.get(1) {
            assert_eq!(
                (own.to, own.shape.as_slice()),
                (Some(t), &[books[t].len(), 1][..])
            );
        }
    }
}

#[test]
fn the_dark_pool_clears_as_in_plaintext_and_each_trader_learns_only_its_fills() {
    let job = dark_pool::DarkPoolJob::grid(95.0, 105.0, 0.5).unwrap();
    for (traders, seed) in [(2, 1u8), (3, 7), (2, 11)] {
        let books: Vec<_> = (0..traders).map(|t| random_orders(t, 12, seed)).collect();
        check_auction(&job, &books, MpcOptions::seeded([seed; 32]));
    }
    // Edge cases: a tie in volume over several prices (the lowest wins), a
    // book that never crosses, and limits exactly on the clearing price.
    let book = |buy: &[bool], q: &[f64], p: &[f64]| dark_pool::Orders {
        path: "t.csv".into(),
        buy: buy.to_vec(),
        quantity: q.to_vec(),
        limit: p.to_vec(),
    };
    let tie = [
        book(&[true], &[10.0], &[103.0]),
        book(&[false], &[10.0], &[97.0]),
    ];
    check_auction(&job, &tie, MpcOptions::seeded([2; 32]));
    assert_eq!(dark_pool::clear_in_the_clear(&job, &tie).0, Some(97.0));
    let apart = [
        book(&[true, true], &[5.0, 7.0], &[96.0, 95.5]),
        book(&[false], &[10.0], &[104.0]),
    ];
    check_auction(&job, &apart, MpcOptions::seeded([4; 32]));
    assert_eq!(dark_pool::clear_in_the_clear(&job, &apart).1, 0.0);
    let exact = [
        book(&[true, false], &[300.0, 100.0], &[100.0, 100.0]),
        book(&[false, true], &[100.0, 1.0], &[99.5, 100.5]),
    ];
    check_auction(&job, &exact, MpcOptions::seeded([6; 32]));
    // Without a dealer, the same answer.
    let books: Vec<_> = (0..2).map(|t| random_orders(t, 6, 3)).collect();
    check_auction(
        &job,
        &books,
        MpcOptions {
            seed: Some([8; 32]),
            preprocessing: tessera::Provider::Ot,
            ..MpcOptions::default()
        },
    );
}

#[test]
fn dark_pool_orders_are_checked_with_file_and_line() {
    let t = tessera::models::CsvTable::parse(
        std::path::Path::new("orders.csv"),
        "side,quantity,limit\nbuy,10,101\nhold,5,99\n",
    )
    .unwrap();
    let e = dark_pool::Orders::from_table(&t).unwrap_err().to_string();
    assert!(
        e.contains("orders.csv, line 3, column 1 ('side')") && e.contains("buy or sell"),
        "{e}"
    );
    let t = tessera::models::CsvTable::parse(
        std::path::Path::new("orders.csv"),
        "side,quantity,limit\nsell,2.5,101\n",
    )
    .unwrap();
    let e = dark_pool::Orders::from_table(&t).unwrap_err().to_string();
    assert!(
        e.contains("line 2, column 2") && e.contains("whole number of lots"),
        "{e}"
    );
    assert!(dark_pool::DarkPoolJob::grid(1.0, 1e6, 0.01).is_err());
}
