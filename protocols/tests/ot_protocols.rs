//! The protocols on dealer-free (OT) material, against the plaintext
//! reference, for 2 and 3 parties, over random inputs with edge values.

use proptest::prelude::*;
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{approx, arith, binary, data, AShare, ProtocolError, Session};
use tessera_tensor::{FixedPoint, Prg, RingTensor};

const EDGES: [u64; 6] = [0, 1, u64::MAX, 1 << 63, (1 << 63) - 1, 1 << 62];

fn run<T: Send + PartialEq + std::fmt::Debug>(
    n: usize,
    seed: u8,
    f: impl Fn(&mut Session) -> Result<T, ProtocolError> + Sync,
) -> T {
    run_on(Provider::Ot, n, seed, f)
}

fn run_on<T: Send + PartialEq + std::fmt::Debug>(
    provider: Provider,
    n: usize,
    seed: u8,
    f: impl Fn(&mut Session) -> Result<T, ProtocolError> + Sync,
) -> T {
    let cfg = EmbeddedConfig::new(n)
        .with_seed([seed; 32])
        .with_preprocessing(provider);
    let mut outs = run_embedded(&cfg, f).expect("protocol run");
    let first = outs.remove(0).value;
    for o in outs {
        assert_eq!(o.value, first, "parties disagree");
        if provider == Provider::Ot {
            assert!(o.stats.preprocessing_bytes > 0 && o.stats.preprocessing_bytes_sent > 0);
        }
    }
    first
}

fn data(seed: u64, shape: &[usize]) -> RingTensor {
    let mut t = Prg::from_seed([(seed % 251) as u8; 32]).uniform(shape);
    for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
        if i % 3 == 0 {
            *v = EDGES[(i / 3 + seed as usize) % EDGES.len()];
        }
    }
    t
}

/// Fixed-point values in [-bound, bound], with 0 and +-1 ulp among them.
fn fixed(seed: u64, len: usize, bound: f64) -> (Vec<f64>, RingTensor) {
    let fp = FixedPoint::default();
    let mut prg = Prg::from_seed([(seed % 241) as u8 + 1; 32]);
    let xs: Vec<f64> = (0..len)
        .map(|i| match i % 7 {
            0 => 0.0,
            1 => fp.ulp(),
            2 => -fp.ulp(),
            _ => (prg.next_f64() * 2.0 - 1.0) * bound,
        })
        .collect();
    let enc = xs.iter().map(|&x| fp.encode(x).unwrap()).collect();
    (xs, RingTensor::from_vec(&[len], enc).unwrap())
}

fn input(sess: &mut Session, owner: usize, t: &RingTensor) -> AShare {
    let v = (sess.id() == owner).then_some(t);
    arith::share_input(sess, owner, v, t.shape()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn products_are_exact_in_the_ring(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3]),
                                      m in 1usize..5, k in 1usize..6, c in 1usize..5) {
        let (x, y) = (data(seed, &[m, k]), data(seed ^ 0xff, &[k, c]));
        let (v, w) = (data(seed ^ 1, &[m * k]), data(seed ^ 2, &[m * k]));
        let (z, p, q) = run(n, seed as u8, |s| {
            let (sx, sy) = (input(s, 1, &x), input(s, 0, &y));
            let (sv, sw) = (input(s, 0, &v), input(s, n - 1, &w));
            let z = arith::matmul(s, &sx, &sy)?;
            let p = arith::mul(s, &sv, &sw)?;
            let q = arith::square(s, &sv)?;
            Ok((arith::reveal(s, &z, "z")?, arith::reveal(s, &p, "p")?, arith::reveal(s, &q, "q")?))
        });
        prop_assert_eq!(z, x.matmul(&y).unwrap());
        prop_assert_eq!(p, v.mul(&w).unwrap());
        prop_assert_eq!(q, v.mul(&v).unwrap());
    }

    #[test]
    fn comparison_relu_and_truncation_match_the_reference(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3]), len in 1usize..150) {
        let fp = FixedPoint::default();
        let (xs, x) = fixed(seed, len, 1000.0);
        let f = fp.frac_bits();
        let (ltz, relu, prod, (relu_t, mask)) = run(n, seed as u8, |s| {
            let sx = input(s, 0, &x);
            let l = binary::less_than_zero(s, &sx)?;
            let r = binary::relu(s, &sx)?;
            let p = arith::mul_fixed(s, &sx, &sx)?;
            // Without tables, the fused truncation and ReLU takes two steps.
            let (rt, m) = binary::relu_truncated(s, &sx.mul_public_scalar(1 << f), f)?;
            let fused = (arith::reveal(s, &rt, "rt")?, arith::reveal(s, &m, "mask")?);
            Ok((arith::reveal(s, &l, "l")?, arith::reveal(s, &r, "r")?, arith::reveal(s, &p, "p")?, fused))
        });
        for i in 0..len {
            let v = x.as_slice()[i];
            prop_assert_eq!(ltz.as_slice()[i], (xs[i] < 0.0) as u64);
            prop_assert_eq!(relu.as_slice()[i], if xs[i] > 0.0 { v } else { 0 });
            // The truncation may add one unit: -1 ulp may become 0.
            let t = relu_t.as_slice()[i] as i64;
            prop_assert!(t == (v as i64).max(0) || t == (v as i64 + 1).max(0), "relu_truncated({})", xs[i]);
            let m = mask.as_slice()[i];
            prop_assert!(m == (xs[i] >= 0.0) as u64 || (xs[i] == -fp.ulp() && m == 1), "mask of {}", xs[i]);
            let want = fp.decode(v) * fp.decode(v);
            prop_assert!((fp.decode(prod.as_slice()[i]) - want).abs() <= fp.ulp() * 1.01, "{} squared", xs[i]);
        }
    }
}

/// Party `p`'s block of `x` when each holds `extents[p]` rows (`axis` 0)
/// or columns (`axis` 1).
fn block_of(x: &RingTensor, axis: usize, extents: &[usize], p: usize) -> RingTensor {
    let lo: usize = extents[..p].iter().sum();
    let idx: Vec<usize> = (lo..lo + extents[p]).collect();
    match axis {
        0 => x.select_rows(&idx).unwrap(),
        _ => x.select_cols(&idx).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Products with rows of data its owners hold in the clear are exact in
    /// the ring, both ways round, whoever holds which rows or columns (a
    /// party may hold none); the rows themselves read back exactly. By OT on
    /// the data itself or on held triples, and with the dealer's held triples.
    #[test]
    fn owned_rows_products_are_exact(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3]),
                                     axis in 0usize..2, ext in prop::collection::vec(0usize..5, 3),
                                     other in 1usize..5, out in 1usize..4, picks in prop::collection::vec(any::<u16>(), 1..6),
                                     provider in prop::sample::select(vec![Provider::Ot, Provider::Dealer]),
                                     held in any::<bool>()) {
        let mut extents = ext[..n].to_vec();
        extents[0] = extents[0].max(1);
        let total: usize = extents.iter().sum();
        let shape = if axis == 0 { [total, other] } else { [other, total] };
        let x = data(seed, &shape);
        let rows: Vec<usize> = picks.iter().map(|&r| r as usize % shape[0]).collect();
        let y = data(seed ^ 3, &[shape[1], out]);
        let g = data(seed ^ 5, &[rows.len(), out]);
        let (got_rows, xy, xtg) = run_on(provider, n, seed as u8, |s| {
            let mine = (extents[s.id()] > 0).then(|| block_of(&x, axis, &extents, s.id()));
            let mut owned = data::OwnedMatrix::new(s, axis, &extents, shape[1 - axis], mine)?;
            if held {
                owned = owned.held_triples();
            }
            let (sy, sg) = (input(s, n - 1, &y), input(s, 0, &g));
            let r = owned.rows(s, &rows)?;
            let p = data::matmul_owned_rows(s, &owned, &rows, &sy, false)?;
            let q = data::matmul_owned_rows(s, &owned, &rows, &sg, true)?;
            Ok((arith::reveal(s, &r, "r")?, arith::reveal(s, &p, "p")?, arith::reveal(s, &q, "q")?))
        });
        let xi = x.select_rows(&rows).unwrap();
        prop_assert_eq!(&got_rows, &xi);
        prop_assert_eq!(xy, xi.matmul(&y).unwrap());
        prop_assert_eq!(xtg, xi.transpose().matmul(&g).unwrap());
    }
}

#[test]
fn the_dealer_declines_owned_products_and_training_data_is_masked_instead() {
    let cfg = EmbeddedConfig::new(2).with_seed([7; 32]);
    let outs = run_embedded(&cfg, |s| {
        let can = s.prep().owned_products();
        let left = (s.id() == 0).then(|| RingTensor::zeros(&[2, 2]));
        let err = s.prep().owned_triple(0, left.as_ref(), [2, 2, 2]).err();
        Ok::<_, ProtocolError>((can, err.map(|e| e.to_string())))
    })
    .unwrap();
    for o in outs {
        assert!(!o.value.0);
        assert!(o.value.1.unwrap().contains("own data"));
    }
}

#[test]
fn sigmoid_and_masked_rows_products_hold_on_ot_material() {
    let fp = FixedPoint::default();
    for n in [2, 3] {
        let (xs, x) = fixed(9, 64, 10.0);
        let w = RingTensor::from_vec(
            &[4, 2],
            (0..8).map(|i| fp.encode(i as f64 - 3.5).unwrap()).collect(),
        )
        .unwrap();
        let rows = RingTensor::from_vec(&[8, 4], x.as_slice()[..32].to_vec()).unwrap();
        let (sig, prod) = run(n, 4, |s| {
            let sx = input(s, 0, &x);
            let y = approx::sigmoid(s, &sx)?;
            let srows = input(s, 1, &rows);
            let sw = input(s, 0, &w);
            let masked = data::mask_once(s, &srows)?;
            let p =
                data::DataMatrix::Masked(masked).matmul_rows_fixed(s, &[5, 0, 7], &sw, false)?;
            Ok((arith::reveal(s, &y, "y")?, arith::reveal(s, &p, "p")?))
        });
        for (g, x) in sig.as_slice().iter().zip(&xs) {
            let want = 1.0 / (1.0 + (-x).exp());
            assert!((fp.decode(*g) - want).abs() < 1e-4, "sigmoid({x})");
        }
        let want = rows.select_rows(&[5, 0, 7]).unwrap();
        for i in 0..3 {
            for j in 0..2 {
                let exact: f64 = (0..4)
                    .map(|k| {
                        fp.decode(want.as_slice()[i * 4 + k]) * fp.decode(w.as_slice()[k * 2 + j])
                    })
                    .sum();
                let got = fp.decode(prod.as_slice()[i * 2 + j]);
                assert!((got - exact).abs() <= 2.0 * fp.ulp(), "{got} vs {exact}");
            }
        }
    }
}
