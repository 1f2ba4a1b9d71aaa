//! Preprocessing as the protocols use it: material prefetched from the last
//! step, plans found by a dry run, and data masked once with row triples.

use proptest::prelude::*;
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{arith, binary, data, ProtocolError, Session};
use tessera_tensor::{FixedPoint, Prg, RingTensor};

mod common;
use common::*;

/// Material prepared ahead from the last step's pattern stays correct when
/// the steps change shape (mispredictions fall back to asking the dealer).
#[test]
fn prefetched_preprocessing_survives_changing_steps() {
    let shapes = [5usize, 5, 5, 3, 5, 7, 7, 1, 5, 5];
    for n in [2usize, 3] {
        let got = run(n, 40, |s| {
            let mut out = Vec::new();
            for (step, &len) in shapes.iter().enumerate() {
                s.prep().step_boundary(&[])?;
                let x = signed_fixed(step as u64, &[len], 100.0);
                let sx = input(s, 0, &x);
                let p = arith::mul(s, &sx, &sx)?;
                let t = if step % 3 == 0 {
                    arith::truncate(s, &p)?
                } else {
                    p
                };
                out.push(arith::reveal(s, &t, "t")?);
            }
            Ok(out)
        });
        let fp = FixedPoint::default();
        for (step, &len) in shapes.iter().enumerate() {
            let x = signed_fixed(step as u64, &[len], 100.0);
            let sq = x.mul(&x).unwrap();
            if step % 3 == 0 {
                let r = fp.truncate_tensor(&sq);
                assert!(got[step]
                    .as_slice()
                    .iter()
                    .zip(r.as_slice())
                    .all(|(g, r)| g.wrapping_sub(*r) <= 1));
            } else {
                assert_eq!(got[step], sq, "step {step} with {n} parties");
            }
        }
    }
}

#[test]
fn a_dry_run_plans_exactly_the_material_a_real_run_takes() {
    let x = data(21, &[40]);
    let w = data(22, &[40, 3]).map(|v| v >> 40);
    let computation = |s: &mut Session| -> Result<RingTensor, ProtocolError> {
        let sx = input(s, 0, &x);
        let sw = input(s, 1, &w);
        let r = binary::relu(s, &sx)?;
        let m = arith::matmul(s, &r.reshape(&[1, 40])?, &sw)?;
        let b = binary::less_than_zero(s, &m)?;
        arith::reveal(s, &b, "signs")
    };
    let items = tessera_protocols::session::plan(
        0,
        2,
        FixedPoint::default(),
        Provider::Dealer,
        computation,
    )
    .unwrap();
    assert_eq!(
        items.len(),
        3,
        "relu, matmul and comparison take one item each: {items:?}"
    );
    let cfg = EmbeddedConfig::new(2).with_seed([8; 32]);
    let unplanned = run_embedded(&cfg, computation).unwrap();
    let planned = run_embedded(&cfg, |s| {
        s.prep().plan(&items)?;
        computation(s)
    })
    .unwrap();
    assert_eq!(planned[0].value, unplanned[0].value);
    // A mispredicted item would have been dealt twice.
    assert_eq!(
        planned[0].stats.preprocessing_bytes,
        unplanned[0].stats.preprocessing_bytes
    );
    // Made ahead (an offline phase), the computation itself never waits.
    let ahead = run_embedded(&cfg, |s| {
        s.prep().plan(&items)?;
        s.prep().make_ahead()?;
        s.sync()?;
        let waited = s.stats().preprocessing_wait_s;
        let out = computation(s)?;
        assert_eq!(s.stats().preprocessing_wait_s, waited, "no wait online");
        Ok::<_, ProtocolError>(out)
    })
    .unwrap();
    assert_eq!(ahead[0].value, unplanned[0].value);
    assert_eq!(
        ahead[0].stats.preprocessing_bytes,
        unplanned[0].stats.preprocessing_bytes
    );
}

/// Rows `rows` of `x` times `w` in the ring, as the reference.
fn rows_times(x: &RingTensor, rows: &[usize], w: &RingTensor, transposed: bool) -> RingTensor {
    let xr = x.select_rows(rows).unwrap();
    if transposed {
        xr.transpose().matmul(w).unwrap()
    } else {
        xr.matmul(w).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn products_with_rows_of_a_masked_matrix_are_exact(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3]),
            rows in 1usize..9, cols in 1usize..6, out in 1usize..4) {
        let x = data(seed, &[rows, cols]);
        let batches: Vec<Vec<usize>> = vec![
            (0..rows).rev().collect(),
            vec![rows - 1, 0, rows / 2, rows - 1],
            vec![rows / 3],
        ];
        let ws: Vec<RingTensor> = batches.iter().enumerate().map(|(i, _)| data(seed + i as u64 + 1, &[cols, out])).collect();
        let gs: Vec<RingTensor> = batches.iter().enumerate().map(|(i, b)| data(seed + i as u64 + 7, &[b.len(), out])).collect();
        let (fwd, bwd) = run(n, seed as u8, |s| {
            let sx = input(s, n - 1, &x);
            let masked = data::mask_once(s, &sx)?;
            let (mut fwd, mut bwd) = (vec![], vec![]);
            // Every epoch reuses the one opening of x - A.
            for (i, rows) in batches.iter().enumerate() {
                let sw = input(s, 0, &ws[i]);
                let sg = input(s, 0, &gs[i]);
                let before = s.stats().total_sent();
                let y = data::matmul_masked_rows(s, &masked, rows, &sw, false)?;
                let sent = s.stats().total_sent() - before;
                // Only w - B goes out: cols * out elements per peer, plus a header.
                assert!(sent <= ((cols * out * 8 + 64) * (n - 1)) as u64, "sent {sent}");
                let z = data::matmul_masked_rows(s, &masked, rows, &sg, true)?;
                fwd.push(arith::reveal(s, &y, "y")?);
                bwd.push(arith::reveal(s, &z, "z")?);
            }
            let again = masked.rows(s, &batches[1])?;
            fwd.push(arith::reveal(s, &again, "rows")?);
            Ok((fwd, bwd))
        });
        prop_assert_eq!(&fwd[batches.len()], &x.select_rows(&batches[1]).unwrap());
        for (i, rows) in batches.iter().enumerate() {
            prop_assert_eq!(&fwd[i], &rows_times(&x, rows, &ws[i], false));
            prop_assert_eq!(&bwd[i], &rows_times(&x, rows, &gs[i], true));
        }
    }
}

/// Products with the im2col windows of masked images are exact, forward
/// and transposed, with padding and a stride, for 2 and 3 parties, with the
/// dealer and by OT; only the other operand is opened.
#[test]
fn products_with_windows_of_masked_images_are_exact() {
    use tessera_tensor::SlidingWindow;
    let window = SlidingWindow {
        channels: 2,
        height: 5,
        width: 4,
        kernel: 3,
        stride: 2,
        padding: 1,
    };
    let x = data(51, &[6, window.inputs()]);
    let rows = vec![4, 0, 4, 2];
    let [m, k] = window.shape(rows.len(), false).unwrap();
    let w = data(52, &[k, 3]);
    let g = data(53, &[m, 3]);
    let cols = window.im2col(&x.select_rows(&rows).unwrap()).unwrap();
    let want = (
        cols.matmul(&w).unwrap(),
        cols.transpose().matmul(&g).unwrap(),
    );
    for (n, provider) in [
        (2, Provider::Dealer),
        (3, Provider::Dealer),
        (2, Provider::Ot),
    ] {
        let cfg = EmbeddedConfig::new(n)
            .with_seed([n as u8; 32])
            .with_preprocessing(provider);
        let outs = run_embedded(&cfg, |s| {
            let sx = input(s, n - 1, &x);
            let masked = data::mask_once(s, &sx)?;
            let (sw, sg) = (input(s, 0, &w), input(s, 0, &g));
            let before = s.stats().total_sent();
            let y = data::matmul_masked_windows(s, &masked, &rows, window, &sw, false)?;
            let sent = s.stats().total_sent() - before;
            let z = data::matmul_masked_windows(s, &masked, &rows, window, &sg, true)?;
            let bad = SlidingWindow {
                kernel: 9,
                ..window
            };
            let refused = data::matmul_masked_windows(s, &masked, &rows, bad, &sw, false).is_err();
            Ok::<_, ProtocolError>((
                arith::reveal(s, &y, "y")?,
                arith::reveal(s, &z, "z")?,
                sent,
                refused,
            ))
        })
        .unwrap();
        let (y, z, sent, refused) = &outs[0].value;
        assert_eq!((y, z), (&want.0, &want.1), "{n} parties, {provider}");
        // Only w - B goes out (k * 3 elements per peer and a header), not
        // the m * k entries of the windows.
        assert!(*sent <= ((k * 3 * 8 + 64) * (n - 1)) as u64, "sent {sent}");
        assert!(refused);
    }
}

#[test]
fn masked_rows_material_is_prefetched_for_the_announced_rows() {
    let x = data(31, &[12, 5]);
    let w = data(32, &[5, 2]);
    let batches: Vec<Vec<usize>> = (0..5)
        .map(|i| vec![(2 * i) % 12, (2 * i + 7) % 12, 11 - i])
        .collect();
    let body = |s: &mut Session, announce: bool| -> Result<_, ProtocolError> {
        let sx = input(s, 1, &x);
        let sw = input(s, 0, &w);
        let masked = data::mask_once(s, &sx)?;
        let mut out = vec![];
        for (i, rows) in batches.iter().enumerate() {
            let next: Vec<&[usize]> = batches[i..].iter().map(|b| b.as_slice()).collect();
            s.prep().step_boundary(if announce { &next } else { &[] })?;
            let y = data::matmul_masked_rows(s, &masked, rows, &sw, false)?;
            out.push(arith::reveal(s, &y, "y")?);
        }
        Ok(out)
    };
    let cfg = EmbeddedConfig::new(2).with_seed([3; 32]);
    let with = run_embedded(&cfg, |s| body(s, true)).unwrap();
    let without = run_embedded(&cfg, |s| body(s, false)).unwrap();
    for (i, rows) in batches.iter().enumerate() {
        assert_eq!(with[0].value[i], rows_times(&x, rows, &w, false));
    }
    assert_eq!(with[0].value, without[0].value);
    // Without the rows, every prefetched triple was for the wrong rows and
    // was dealt again; with them, each was dealt once.
    assert!(with[0].stats.preprocessing_bytes < without[0].stats.preprocessing_bytes);
}

#[test]
fn a_large_matrix_is_masked_block_by_block() {
    // More than the 2^20 elements of one block, with a partial last block.
    let (rows, cols) = ((1 << 19) + 3, 3);
    let x = Prg::from_seed([5; 32]).uniform(&[rows, cols]);
    let w = data(41, &[cols, 2]);
    let picked = [0, rows - 1, 1 << 18, (1 << 19) + 1];
    let got = run(2, 4, |s| {
        let sx = input(s, 1, &x);
        let sw = input(s, 0, &w);
        let masked = data::mask_once(s, &sx)?;
        let y = data::matmul_masked_rows(s, &masked, &picked, &sw, false)?;
        arith::reveal(s, &y, "y")
    });
    assert_eq!(got, rows_times(&x, &picked, &w, false));
}

/// Steps announced with their rows are asked for ahead exactly: a smaller
/// last step is not predicted from the larger ones, and nothing is asked
/// for past the last announced step. The dealer then sends what an
/// unannounced run asks for item by item, and no more.
#[test]
fn announced_steps_are_prefetched_without_waste() {
    let x = signed_fixed(33, &[14, 4], 100.0);
    let w = signed_fixed(34, &[4, 3], 100.0);
    let batches: Vec<Vec<usize>> = vec![
        vec![0, 5, 9],
        vec![1, 2, 13],
        vec![3, 4, 6],
        vec![7, 8, 10],
        vec![11, 12],
    ];
    let body = |s: &mut Session, announce: bool| -> Result<_, ProtocolError> {
        let sx = input(s, 1, &x);
        let sw = input(s, 0, &w);
        let masked = data::mask_once(s, &sx)?;
        let mut out = vec![];
        for (i, rows) in batches.iter().enumerate() {
            if announce {
                let next: Vec<&[usize]> =
                    batches[i..].iter().take(2).map(|b| b.as_slice()).collect();
                s.prep().step_boundary(&next)?;
            }
            let y = data::matmul_masked_rows(s, &masked, rows, &sw, false)?;
            let t = arith::truncate(s, &y)?;
            out.push(arith::reveal(s, &t, "t")?);
        }
        Ok(out)
    };
    for n in [2, 3] {
        let cfg = EmbeddedConfig::new(n).with_seed([4; 32]);
        let ahead = run_embedded(&cfg, |s| body(s, true)).unwrap();
        let asked = run_embedded(&cfg, |s| body(s, false)).unwrap();
        let fp = FixedPoint::default();
        for (i, rows) in batches.iter().enumerate() {
            let want = fp.truncate_tensor(&rows_times(&x, rows, &w, false));
            let close = (ahead[0].value[i].as_slice().iter())
                .zip(want.as_slice())
                .all(|(g, r)| g.wrapping_sub(*r) <= 1);
            assert!(close, "{n} parties, step {i}");
        }
        assert_eq!(
            ahead[0].stats.preprocessing_bytes, asked[0].stats.preprocessing_bytes,
            "{n} parties: material asked for ahead and never used"
        );
    }
}
