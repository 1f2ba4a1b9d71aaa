//! The row maximum by all pairs (`tessera_protocols::max`) against the
//! plaintext maximum, for 2 and 3 parties, with ties, equal rows, edge
//! values and every width from 1 to 17; and its round and bit budget.

use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{arith, max, ProtocolError};
use tessera_tensor::{Prg, RingTensor};

mod common;
use common::*;

/// Signed values below 2^61 in magnitude (so every difference of a row is
/// below 2^62), with ties, equal rows and the extremes mixed in.
fn rows(seed: u64, rows: usize, n: usize) -> RingTensor {
    let mut prg = Prg::from_seed([seed as u8 + 3; 32]);
    let top = 1i64 << 61;
    let edges = [0, 1, -1, top - 1, -(top - 1), 7, -7];
    let mut t = RingTensor::zeros(&[rows, n]);
    for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
        let (r, c) = (i / n, i % n);
        let value: i64 = match r % 4 {
            // A row of one value: ties everywhere.
            0 => edges[r % edges.len()],
            // Few distinct values: many ties.
            1 => (prg.next_u64() % 3) as i64 - 1,
            2 => edges[(c + r) % edges.len()],
            _ => (prg.next_u64() >> 3) as i64 - top,
        };
        *v = value as u64;
    }
    t
}

#[test]
fn row_maxima_match_the_plaintext_for_2_and_3_parties() {
    for parties in [2, 3] {
        for n in (1..=10).chain([13, 17]) {
            let x = rows(n as u64 + parties as u64, 37, n);
            let got = run(parties, n as u8, |s| {
                let sx = input(s, 0, &x);
                let m = max::max_rows(s, &sx)?;
                arith::reveal(s, &m, "max")
            });
            assert_eq!(got.shape(), &[37, 1]);
            for (r, row) in x.as_slice().chunks(n).enumerate() {
                let want = row.iter().map(|&v| v as i64).max().unwrap() as u64;
                assert_eq!(
                    got.as_slice()[r],
                    want,
                    "{parties} parties, n {n}, row {r}: {row:?}"
                );
            }
        }
    }
}

#[test]
fn row_argmaxes_match_the_plaintext_with_ties_to_the_lower_index() {
    for parties in [2, 3] {
        for n in (1..=10).chain([13]) {
            let x = rows(n as u64 + 7 * parties as u64, 29, n);
            let (hot, index) = run(parties, n as u8 + 30, |s| {
                let sx = input(s, 0, &x);
                let (hot, index) = max::argmax_rows(s, &sx)?;
                Ok((
                    arith::reveal(s, &hot, "one-hot")?,
                    arith::reveal(s, &index, "index")?,
                ))
            });
            assert_eq!(hot.shape(), &[29, n]);
            for (r, row) in x.as_slice().chunks(n).enumerate() {
                let best = row.iter().map(|&v| v as i64).max().unwrap();
                let want = row.iter().position(|&v| v as i64 == best).unwrap();
                assert_eq!(
                    index.as_slice()[r],
                    want as u64,
                    "{parties} parties, row {row:?}"
                );
                let got = &hot.as_slice()[r * n..(r + 1) * n];
                let one_hot: Vec<u64> = (0..n).map(|i| (i == want) as u64).collect();
                assert_eq!(got, &one_hot[..], "{parties} parties, row {row:?}");
            }
        }
    }
}

#[test]
fn maxima_and_one_hots_together_match_the_plaintext() {
    for parties in [2, 3] {
        for n in (1..=10).chain([13]) {
            let x = rows(n as u64 + 11 * parties as u64, 23, n);
            let (m, hot) = run(parties, n as u8 + 60, |s| {
                let sx = input(s, 0, &x);
                let (m, hot) = max::max_and_argmax_rows(s, &sx)?;
                Ok((
                    arith::reveal(s, &m, "max")?,
                    arith::reveal(s, &hot, "one-hot")?,
                ))
            });
            assert_eq!((m.shape(), hot.shape()), (&[23, 1][..], &[23, n][..]));
            for (r, row) in x.as_slice().chunks(n).enumerate() {
                let best = row.iter().map(|&v| v as i64).max().unwrap();
                let want = row.iter().position(|&v| v as i64 == best).unwrap();
                assert_eq!(m.as_slice()[r], best as u64, "{parties} parties, {row:?}");
                let one_hot: Vec<u64> = (0..n).map(|i| (i == want) as u64).collect();
                assert_eq!(&hot.as_slice()[r * n..(r + 1) * n], &one_hot[..]);
            }
        }
    }
}

#[test]
fn a_row_maximum_of_ten_takes_six_rounds() {
    const ROWS: usize = 640;
    let x = rows(5, ROWS, 10);
    let cfg = EmbeddedConfig::new(2).with_seed([9; 32]);
    let outs = run_embedded(&cfg, |s| -> Result<_, ProtocolError> {
        let sx = input(s, 0, &x);
        let before = (s.stats().rounds, s.stats().total_sent());
        max::max_rows(s, &sx)?;
        let after = (s.stats().rounds, s.stats().total_sent());
        // With the one-hot too: the same rounds and bits.
        max::max_and_argmax_rows(s, &sx)?;
        let both = (s.stats().rounds - after.0, s.stats().total_sent() - after.1);
        Ok((
            after.0 - before.0,
            (after.1 - before.1) as f64 * 8.0 / ROWS as f64,
            both,
            (after.0 - before.0, after.1 - before.1),
        ))
    })
    .unwrap();
    let (rounds, bits, both, alone) = outs[0].value;
    assert_eq!(both, alone);
    // Open the 45 pairs' c, two levels of nodes, two levels of three-input
    // ANDs over nine bits, the selecting bits: 6 rounds (a tournament: 16).
    assert_eq!(rounds, 6);
    // 45 x 99 + 9 x 4 x 3 + 9 = 4572 bits per row, plus message headers.
    assert!(bits <= 4650.0, "{bits:.0} bits per row");
}

#[test]
fn a_malformed_shape_is_an_error_not_a_panic() {
    let x = data(1, &[2, 3, 4]);
    let cfg = EmbeddedConfig::new(2).with_seed([2; 32]);
    let outs = run_embedded(&cfg, |s| {
        let sx = input(s, 0, &x);
        Ok::<_, ProtocolError>(max::max_rows(s, &sx).is_err())
    })
    .unwrap();
    assert!(outs.iter().all(|o| o.value));
}
