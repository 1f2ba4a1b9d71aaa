//! Every protocol against the plaintext reference, for 2, 3 and 5 parties.

use proptest::prelude::*;
use std::time::Duration;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{arith, binary, AShare, ProtocolError, Session};
use tessera_tensor::{FixedPoint, Prg, RingTensor};

const EDGES: [u64; 8] = [
    0,
    1,
    u64::MAX,
    1 << 63,
    (1 << 63) - 1,
    (1 << 63) + 1,
    1 << 62,
    (1u64 << 62).wrapping_neg(),
];

/// Runs `f` on `n` parties with a fixed seed and returns party 0's value,
/// after checking that every party returned the same.
fn run<T: Send + PartialEq + std::fmt::Debug>(
    n: usize,
    seed: u8,
    f: impl Fn(&mut Session) -> Result<T, ProtocolError> + Sync,
) -> T {
    let cfg = EmbeddedConfig::new(n).with_seed([seed; 32]);
    let mut outs = run_embedded(&cfg, f).expect("protocol run");
    let first = outs.remove(0).value;
    for o in outs {
        assert_eq!(o.value, first, "parties disagree");
    }
    first
}

/// Random ring tensor with the edge values mixed in.
fn data(seed: u64, shape: &[usize]) -> RingTensor {
    let mut prg = Prg::from_seed([(seed % 251) as u8; 32]);
    let mut t = prg.uniform(shape);
    for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
        if i % 3 == 0 {
            *v = EDGES[(i / 3 + seed as usize) % EDGES.len()];
        }
    }
    t
}

/// Shares a public-in-the-test tensor as party `owner`'s input.
fn input(sess: &mut Session, owner: usize, t: &RingTensor) -> AShare {
    let v = (sess.id() == owner).then_some(t);
    arith::share_input(sess, owner, v, t.shape()).unwrap()
}

fn signed_fixed(seed: u64, shape: &[usize], bound: f64) -> RingTensor {
    let fp = FixedPoint::default();
    let mut prg = Prg::from_seed([(seed % 241) as u8 + 1; 32]);
    let mut t = RingTensor::zeros(shape);
    let edges = [
        0.0,
        fp.ulp(),
        -fp.ulp(),
        bound - fp.ulp(),
        -bound + fp.ulp(),
        1.0,
        -1.0,
    ];
    for (i, v) in t.as_mut_slice().iter_mut().enumerate() {
        let x = if i < edges.len() {
            edges[i]
        } else {
            (prg.next_f64() * 2.0 - 1.0) * bound
        };
        *v = fp.encode(x).unwrap();
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn share_and_reveal_round_trip(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]), rows in 1usize..5, cols in 1usize..5) {
        let x = data(seed, &[rows, cols]);
        let owner = seed as usize % n;
        let got = run(n, seed as u8, |s| {
            let sx = input(s, owner, &x);
            arith::reveal(s, &sx, "x")
        });
        prop_assert_eq!(got, x);
    }

    #[test]
    fn beaver_products_are_exact_in_the_ring(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]), len in 1usize..40) {
        let x = data(seed, &[len]);
        let y = data(seed.wrapping_add(1), &[len]);
        let (prod, sq) = run(n, seed as u8, |s| {
            let sx = input(s, 0, &x);
            let sy = input(s, n - 1, &y);
            let p = arith::mul(s, &sx, &sy)?;
            let q = arith::square(s, &sx)?;
            Ok((arith::reveal(s, &p, "p")?, arith::reveal(s, &q, "q")?))
        });
        prop_assert_eq!(prod, x.mul(&y).unwrap());
        prop_assert_eq!(sq, x.mul(&x).unwrap());
    }

    #[test]
    fn matmul_is_exact_at_odd_shapes(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]),
                                     m in 1usize..6, k in 1usize..7, c in 1usize..6) {
        let x = data(seed, &[m, k]);
        let y = data(seed ^ 0xff, &[k, c]);
        let got = run(n, seed as u8, |s| {
            let sx = input(s, 1, &x);
            let sy = input(s, 0, &y);
            let z = arith::matmul(s, &sx, &sy)?;
            arith::reveal(s, &z, "z")
        });
        prop_assert_eq!(got, x.matmul(&y).unwrap());
    }

    #[test]
    fn multiplying_by_a_public_fraction_is_accurate(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3]),
                                                    num in 1u64..2000, den in 1u64..100_000, len in 1usize..30) {
        let fp = FixedPoint::default();
        let bound = 1.0e6;
        let x = signed_fixed(seed, &[len], bound);
        let got = run(n, seed as u8, |s| {
            let sx = input(s, 0, &x);
            let y = arith::mul_fraction(s, &sx, num, den, bound)?;
            arith::reveal(s, &y, "y")
        });
        let factor = num as f64 / den as f64;
        // The documented bound: 1 ulp plus |x| 2^f / 2^(k+1) ulps.
        let scaled = bound * 65536.0 * factor;
        let k = (61.0 - scaled.log2()).floor().min(62.0);
        for (g, v) in got.as_slice().iter().zip(x.as_slice()) {
            let want = fp.decode(*v) * factor;
            let err_ulps = (fp.decode(*g) - want).abs() / fp.ulp();
            let allowed = 1.0 + fp.decode(*v).abs() * 65536.0 / (2f64).powf(k + 1.0) + 1e-9;
            prop_assert!(err_ulps <= allowed, "x={} * {num}/{den}: error {err_ulps} ulps > {allowed}", fp.decode(*v));
        }
    }

    #[test]
    fn truncation_is_within_one_ulp_above_floor(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]), len in 1usize..50) {
        let fp = FixedPoint::default();
        // Any value below 2^62 in magnitude, edges included.
        let mut x = data(seed, &[len]).map(|v| ((v as i64) >> 2) as u64);
        x.as_mut_slice()[0] = (1u64 << 62) - 1;
        if len > 1 { x.as_mut_slice()[1] = (1u64 << 62).wrapping_neg() + 1; }
        let got = run(n, seed as u8, |s| {
            let sx = input(s, 0, &x);
            let t = arith::truncate(s, &sx)?;
            arith::reveal(s, &t, "t")
        });
        for (g, v) in got.as_slice().iter().zip(x.as_slice()) {
            let floor = fp.truncate(*v);
            prop_assert!(*g == floor || *g == floor.wrapping_add(1), "x={} got={} floor={}", *v as i64, *g as i64, floor as i64);
        }
    }

    #[test]
    fn fixed_point_products_match_the_reference(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5])) {
        let fp = FixedPoint::default();
        let bound = fp.product_limit();
        let x = signed_fixed(seed, &[3, 4], bound);
        let y = signed_fixed(seed + 7, &[3, 4], bound);
        let w = signed_fixed(seed + 9, &[4, 2], 100.0);
        let (p, mm, sc) = run(n, seed as u8, |s| {
            let sx = input(s, 0, &x);
            let sy = input(s, 1, &y);
            let sw = input(s, n - 1, &w);
            let p = arith::mul_fixed(s, &sx, &sy)?;
            let mm = arith::matmul_fixed(s, &sx, &sw)?;
            let sc = arith::scale(s, &sw, -0.3)?;
            Ok((arith::reveal(s, &p, "p")?, arith::reveal(s, &mm, "mm")?, arith::reveal(s, &sc, "sc")?))
        });
        let within = |got: &RingTensor, reference: &RingTensor| {
            got.as_slice().iter().zip(reference.as_slice()).all(|(g, r)| g.wrapping_sub(*r) <= 1)
        };
        prop_assert!(within(&p, &fp.truncate_tensor(&x.mul(&y).unwrap())));
        prop_assert!(within(&mm, &fp.truncate_tensor(&x.matmul(&w).unwrap())));
        let c = fp.encode(-0.3).unwrap();
        prop_assert!(within(&sc, &fp.truncate_tensor(&w.mul_scalar(c))));
    }

    #[test]
    fn comparison_and_relu_are_exact_on_the_whole_ring(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]), len in 1usize..70) {
        let x = data(seed, &[len]);
        let (ltz, gtz, relu, sign, (relu2, mask)) = run(n, seed as u8, |s| {
            let sx = input(s, n - 1, &x);
            let a = binary::less_than_zero(s, &sx)?;
            let b = binary::greater_than_zero(s, &sx)?;
            let r = binary::relu(s, &sx)?;
            let g = binary::sign(s, &sx)?;
            let (r2, m) = binary::relu_with_mask(s, &sx)?;
            let both = arith::reveal_many(s, &[&r2, &m], "relu with mask")?;
            Ok((arith::reveal(s, &a, "ltz")?, arith::reveal(s, &b, "gtz")?, arith::reveal(s, &r, "relu")?, arith::reveal(s, &g, "sign")?, (both[0].clone(), both[1].clone())))
        });
        for i in 0..len {
            let v = x.as_slice()[i] as i64;
            prop_assert_eq!(ltz.as_slice()[i], (v < 0) as u64, "ltz({})", v);
            // -2^63 has no negation in the ring; it lies far outside every encodable range.
            if v != i64::MIN {
                prop_assert_eq!(gtz.as_slice()[i], (v > 0) as u64, "gtz({})", v);
                prop_assert_eq!(sign.as_slice()[i] as i64, v.signum(), "sign({})", v);
                prop_assert_eq!(relu2.as_slice()[i], v.max(0) as u64, "relu_with_mask({})", v);
                prop_assert_eq!(mask.as_slice()[i], (v > 0) as u64, "relu mask({})", v);
            }
            prop_assert_eq!(relu.as_slice()[i], v.max(0) as u64, "relu({})", v);
        }
    }
}

/// Online cost per element for 2 parties: rounds, and bits each party sends
/// (wire headers included, amortised over many elements).
fn online_cost(
    len: usize,
    f: fn(&mut Session, &AShare) -> Result<(), ProtocolError>,
) -> (u64, f64) {
    let x = data(11, &[len]);
    let cfg = EmbeddedConfig::new(2).with_seed([6; 32]);
    let outs = run_embedded(&cfg, |s| -> Result<_, ProtocolError> {
        let sx = input(s, 0, &x);
        let before = (
            s.stats().rounds,
            s.stats().total_sent(),
            s.stats().preprocessing_bytes,
        );
        f(s, &sx)?;
        let after = (
            s.stats().rounds,
            s.stats().total_sent(),
            s.stats().preprocessing_bytes,
        );
        Ok((
            after.0 - before.0,
            (after.1 - before.1) as f64 * 8.0 / len as f64,
        ))
    })
    .unwrap();
    outs[0].value
}

#[test]
fn comparison_meets_its_round_and_bit_budget() {
    // The budget: at most 8 rounds and 256 bits per element per party.
    let (rounds, bits) = online_cost(4096, |s, x| binary::msb(s, x).map(|_| ()));
    assert!(rounds <= 8, "msb: {rounds} rounds");
    assert!(bits <= 256.0, "msb: {bits:.1} bits per element");
    // ReLU too: its product by the bit reuses the comparison's mask.
    let (rounds, bits) = online_cost(4096, |s, x| binary::relu_with_mask(s, x).map(|_| ()));
    assert!(rounds <= 8, "relu: {rounds} rounds");
    assert!(bits <= 256.0, "relu: {bits:.1} bits per element");
    let (rounds, bits) = online_cost(4096, |s, x| binary::relu(s, x).map(|_| ()));
    assert!(
        rounds <= 8 && bits <= 256.0,
        "relu: {rounds} rounds, {bits:.1} bits"
    );
}

#[test]
fn comparison_on_a_matrix_keeps_its_shape() {
    let x = data(3, &[4, 7]);
    let got = run(3, 1, |s| {
        let sx = input(s, 0, &x);
        let r = binary::relu(s, &sx)?;
        arith::reveal(s, &r, "r")
    });
    assert_eq!(got.shape(), &[4, 7]);
    assert_eq!(got, x.map(|v| (v as i64).max(0) as u64));
}

#[test]
fn reveal_to_one_party_and_openings_are_recorded() {
    let x = data(5, &[2, 2]);
    let cfg = EmbeddedConfig::new(3).with_seed([4; 32]);
    let outs = run_embedded(&cfg, |s| -> Result<_, ProtocolError> {
        let sx = input(s, 0, &x);
        let got = arith::reveal_to(s, &sx, 2, "x for party 2")?;
        Ok((got, s.openings().to_vec()))
    })
    .unwrap();
    assert_eq!(outs[0].value.0, None);
    assert_eq!(outs[1].value.0, None);
    assert_eq!(outs[2].value.0.as_ref(), Some(&x));
    for o in &outs {
        assert_eq!(o.value.1.len(), 1);
        assert_eq!(o.value.1[0].to, Some(2));
        assert_eq!(o.value.1[0].label, "x for party 2");
    }
    // Party 0 sent nothing but its share to party 2.
    assert_eq!(outs[0].stats.bytes_sent[1], 32);
}

/// Counts of set bits per bit position over many 64-bit words must look
/// binomial(N, 1/2): a leak such as sending `x - r` with a fixed `r` would
/// pin bits and fail this.
fn assert_uniform_bits(words: &[u64], what: &str) {
    let n = words.len() as f64;
    assert!(n >= 2000.0, "{what}: too few samples ({n})");
    let sd = (n * 0.25).sqrt();
    for bit in 0..64 {
        let ones = words.iter().filter(|w| (*w >> bit) & 1 == 1).count() as f64;
        let z = (ones - n / 2.0) / sd;
        assert!(
            z.abs() < 6.0,
            "{what}: bit {bit} set in {ones} of {n} words (z = {z:.1})"
        );
    }
    let mut sorted = words.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert!(sorted.len() as f64 > 0.99 * n, "{what}: repeated words");
}

#[test]
fn incoming_messages_look_uniform() {
    let len = 4096;
    // A constant secret is the worst case for a leak.
    let x = RingTensor::full(&[len], FixedPoint::default().encode(3.25).unwrap());
    for n in [2usize, 3] {
        let cfg = EmbeddedConfig::new(n).with_seed([9; 32]);
        let outs = run_embedded(&cfg, |s| -> Result<_, ProtocolError> {
            s.record_transcript();
            let sx = input(s, 0, &x);
            let after_input = s.transcript().len();
            let sy = input(s, 0, &x);
            let _ = arith::mul(s, &sx, &sy)?;
            Ok((after_input, s.transcript().to_vec()))
        })
        .unwrap();
        for o in &outs[1..] {
            let (after_input, frames) = &o.value;
            assert_eq!(*after_input, 0, "input sharing sends no message");
            let from_owner: Vec<u64> = frames
                .iter()
                .filter(|(p, _)| *p == 0)
                .flat_map(|(_, f)| {
                    let t = tessera_tensor::wire::decode(f, 1 << 20).unwrap();
                    t.into_vec()
                })
                .collect();
            assert_eq!(from_owner.len(), 2 * len, "one masked pair per product");
            assert_uniform_bits(
                &from_owner,
                &format!("n={n}: party {} receiving from the owner", o.stats.party),
            );
        }
    }
}

#[test]
fn local_truncation_is_close_for_small_values() {
    let fp = FixedPoint::default();
    let x = signed_fixed(1, &[2000], 1000.0).mul_scalar(fp.one());
    let got = run(2, 8, |s| {
        let sx = input(s, 0, &x);
        let t = arith::truncate_local(s, &sx)?;
        arith::reveal(s, &t, "t")
    });
    let reference = fp.truncate_tensor(&x);
    for (g, r) in got.as_slice().iter().zip(reference.as_slice()) {
        assert!((*g as i64 - *r as i64).abs() <= 1);
    }
    let three = EmbeddedConfig::new(3);
    let err = run_embedded(&three, |s| {
        arith::truncate_local(s, &AShare::from_share(RingTensor::zeros(&[1])))
    })
    .unwrap_err();
    assert!(err.to_string().contains("exactly 2 parties"));
}

#[test]
fn shape_mismatch_is_an_error_not_a_panic() {
    let cfg = EmbeddedConfig::new(2).with_seed([1; 32]);
    let err = run_embedded(&cfg, |s| {
        let a = AShare::from_share(RingTensor::zeros(&[2, 3]));
        let b = AShare::from_share(RingTensor::zeros(&[3, 3]));
        arith::mul(s, &a, &b)
    })
    .unwrap_err();
    assert!(err.to_string().contains("mul"), "{err}");
}

#[test]
fn a_failing_party_stops_the_others_with_an_error() {
    let mut cfg = EmbeddedConfig::new(3).with_seed([2; 32]);
    cfg.timeout = Duration::from_secs(20);
    let start = std::time::Instant::now();
    let err = run_embedded(&cfg, |s| {
        if s.id() == 1 {
            return Err(ProtocolError::InvalidArgument {
                op: "test",
                detail: "party 1 gives up".into(),
            });
        }
        let x = AShare::from_share(RingTensor::zeros(&[4]));
        arith::reveal(s, &x, "x")
    })
    .unwrap_err();
    assert!(err.to_string().contains("party 1 gives up"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "peers noticed the loss at once"
    );
}

/// 10^6 random fixed-point products in the safe range: the dealer-assisted
/// truncation never errs by more than one ulp, for 2 and 3 parties.
#[test]
fn no_gross_truncation_errors_in_a_million_products() {
    let fp = FixedPoint::default();
    let n = 1_000_000;
    let x = signed_fixed(21, &[n], 180.0);
    let y = signed_fixed(22, &[n], 180.0);
    for parties in [2usize, 3] {
        let got = run(parties, 30 + parties as u8, |s| {
            let sx = input(s, 0, &x);
            let sy = input(s, parties - 1, &y);
            let p = arith::mul_fixed(s, &sx, &sy)?;
            arith::reveal(s, &p, "p")
        });
        let reference = fp.truncate_tensor(&x.mul(&y).unwrap());
        let gross = got
            .as_slice()
            .iter()
            .zip(reference.as_slice())
            .filter(|(g, r)| g.wrapping_sub(**r) > 1)
            .count();
        assert_eq!(
            gross, 0,
            "{parties} parties: {gross} products off by more than one ulp"
        );
    }
}

/// A peer that sends bytes that are not a tensor of the expected shape gets
/// a clear error, not a crash.
#[test]
fn corrupt_messages_are_errors() {
    use tessera_protocols::channel::{Channel, MemChannel};
    use tessera_protocols::prep::DealerClient;
    let (mut dealer_end, party_end) = MemChannel::pair(Duration::from_secs(5));
    dealer_end.send(vec![7; 32]).unwrap();
    let prep = DealerClient::connect(1, Box::new(party_end)).unwrap();
    let (mut evil, mine) = MemChannel::pair(Duration::from_secs(5));
    evil.send(vec![1; 32]).unwrap(); // the pairwise seed
    let mut sess = Session::establish(
        1,
        FixedPoint::default(),
        vec![Some(Box::new(mine) as Box<dyn Channel>), None],
        Prg::from_seed([1; 32]),
        Box::new(prep),
    )
    .unwrap();
    for garbage in [
        vec![],
        vec![200, 1, 2],
        vec![1, 255, 255, 255, 255, 255, 255, 255, 255],
    ] {
        evil.send(garbage).unwrap();
        let err = arith::reveal(&mut sess, &AShare::from_share(RingTensor::zeros(&[4])), "x")
            .unwrap_err();
        assert!(
            err.to_string().contains("malformed message from party 0"),
            "{err}"
        );
    }
    // Right encoding, wrong shape.
    evil.send(tessera_tensor::wire::encode(&RingTensor::zeros(&[5])))
        .unwrap();
    let err =
        arith::reveal(&mut sess, &AShare::from_share(RingTensor::zeros(&[4])), "x").unwrap_err();
    assert!(err.to_string().contains("expected shape [4]"), "{err}");
}

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
    let items = tessera_protocols::session::plan(0, 2, FixedPoint::default(), computation).unwrap();
    assert!(
        items.len() >= 4,
        "relu, matmul and comparison take material"
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
            let masked = arith::mask_once(s, &sx)?;
            let (mut fwd, mut bwd) = (vec![], vec![]);
            // Every epoch reuses the one opening of x - A.
            for (i, rows) in batches.iter().enumerate() {
                let sw = input(s, 0, &ws[i]);
                let sg = input(s, 0, &gs[i]);
                let before = s.stats().total_sent();
                let y = arith::matmul_masked_rows(s, &masked, rows, &sw, false)?;
                let sent = s.stats().total_sent() - before;
                // Only w - B goes out: cols * out elements per peer, plus a header.
                assert!(sent <= ((cols * out * 8 + 64) * (n - 1)) as u64, "sent {sent}");
                let z = arith::matmul_masked_rows(s, &masked, rows, &sg, true)?;
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
        let masked = arith::mask_once(s, &sx)?;
        let mut out = vec![];
        for (i, rows) in batches.iter().enumerate() {
            let next: Vec<&[usize]> = batches[i..].iter().map(|b| b.as_slice()).collect();
            s.prep().step_boundary(if announce { &next } else { &[] })?;
            let y = arith::matmul_masked_rows(s, &masked, rows, &sw, false)?;
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
        let masked = arith::mask_once(s, &sx)?;
        let y = arith::matmul_masked_rows(s, &masked, &picked, &sw, false)?;
        arith::reveal(s, &y, "y")
    });
    assert_eq!(got, rows_times(&x, &picked, &w, false));
}
