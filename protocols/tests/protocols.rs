//! Every protocol against the plaintext reference, for 2, 3 and 5 parties.

use proptest::prelude::*;
use std::time::Duration;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{arith, binary, AShare, BShare, ProtocolError, Session};
use tessera_tensor::{FixedPoint, Prg, RingTensor};

mod common;
use common::*;

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

    /// Two- and three-input AND gates on XOR-shared words, bit for bit.
    #[test]
    fn and_gates_are_exact(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]), len in 1usize..20) {
        let inputs = [data(seed, &[len]), data(seed ^ 1, &[len]), data(seed ^ 2, &[len])];
        let (two, three) = run(n, seed as u8, |s| {
            // Party i % n holds input i; the others hold zero words.
            let me = s.id();
            let share = |i: usize| {
                let mine = if me == i % n { inputs[i].clone() } else { RingTensor::zeros(&[len]) };
                BShare::from_share(mine)
            };
            let (x, y, z) = (share(0), share(1), share(2));
            let two = binary::and(s, &x, &y)?;
            let before = s.stats().rounds;
            let three = binary::and3(s, &x, &y, &z)?;
            assert_eq!(s.stats().rounds - before, 1, "and3 takes one round");
            // Open the words through their 64 bits, additively.
            let mut open = |w: &BShare| -> Result<Vec<u64>, ProtocolError> {
                let bits = binary::bits_to_arith(s, w, 64)?;
                let bits = arith::reveal(s, &bits, "bits")?;
                Ok(bits.as_slice().chunks(64).map(|b| b.iter().enumerate().map(|(i, v)| v << i).sum()).collect())
            };
            Ok((open(&two)?, open(&three)?))
        });
        for i in 0..len {
            let [x, y, z] = [0, 1, 2].map(|k| inputs[k].as_slice()[i]);
            prop_assert_eq!(two[i], x & y);
            prop_assert_eq!(three[i], x & y & z);
        }
    }

    #[test]
    fn matmul_is_exact_at_odd_shapes(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]),
                                     m in 1usize..6, k in 1usize..7, c in 1usize..6) {
        let x = data(seed, &[m, k]);
        let y = data(seed ^ 0xff, &[k, c]);
        let w = data(seed ^ 0xf0, &[c, k]);
        let (got, many, rounds) = run(n, seed as u8, |s| {
            let sx = input(s, 1, &x);
            let sy = input(s, 0, &y);
            let sw = input(s, n - 1, &w);
            let z = arith::matmul(s, &sx, &sy)?;
            // Two products sharing an operand, in one round.
            let before = s.stats().rounds;
            let both = arith::matmul_many(s, &[(&sx, &sy), (&sy, &sw)])?;
            let rounds = s.stats().rounds - before;
            let many = (arith::reveal(s, &both[0], "z")?, arith::reveal(s, &both[1], "v")?);
            Ok((arith::reveal(s, &z, "z")?, many, rounds))
        });
        prop_assert_eq!(&got, &x.matmul(&y).unwrap());
        prop_assert_eq!(many, (got, y.matmul(&w).unwrap()));
        prop_assert_eq!(rounds, 1);
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
        // The same values as a column too, truncated with x in one round.
        let column = x.reshape(&[len, 1]).unwrap();
        let (got, many, rounds) = run(n, seed as u8, |s| {
            let sx = input(s, 0, &x);
            let sc = input(s, n - 1, &column);
            let t = arith::truncate(s, &sx)?;
            let before = s.stats().rounds;
            let both = arith::truncate_many(s, &[&sx, &sc])?;
            // Nothing to truncate or multiply: no round.
            let nothing = arith::truncate_many(s, &[])?.len() + arith::matmul_many(s, &[])?.len();
            let rounds = s.stats().rounds - before + nothing as u64;
            let many = [arith::reveal(s, &both[0], "t")?, arith::reveal(s, &both[1], "c")?];
            Ok((arith::reveal(s, &t, "t")?, many, rounds))
        });
        prop_assert_eq!(rounds, 1);
        prop_assert_eq!(many[1].shape(), &[len, 1]);
        for got in [&got, &many[0], &many[1]] {
            for (g, v) in got.as_slice().iter().zip(x.as_slice()) {
                let floor = fp.truncate(*v);
                prop_assert!(*g == floor || *g == floor.wrapping_add(1), "x={} got={} floor={}", *v as i64, *g as i64, floor as i64);
            }
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

    /// The fused truncation and ReLU gives what a truncation then a ReLU
    /// may: the ReLU of `floor(y / 2^f)` or of one more, over the whole
    /// range `|y| < 2^62` and at the edges of each unit.
    #[test]
    fn relu_truncated_is_relu_of_the_truncation(seed in any::<u64>(), n in prop::sample::select(vec![2usize, 3, 5]),
                                                len in 1usize..70, f in prop::sample::select(vec![1u32, 16, 32, 62])) {
        // Edges within |y| < 2^62 (3 units + 1 too, for f = 62).
        let unit = 1i64 << f.min(60);
        let edges = [0, 1, -1, unit, -unit, unit - 1, 1 - unit, (1 << 62) - 1, 1 - (1 << 62), 3 * unit + 1, -3 * unit - 1];
        let mut prg = Prg::from_seed([(seed % 251) as u8; 32]);
        let y: Vec<i64> = (0..len)
            .map(|i| edges.get(i).copied().unwrap_or_else(|| (prg.next_u64() as i64) >> (2 + i % 50)))
            .collect();
        let x = RingTensor::from_vec(&[len], y.iter().map(|&v| v as u64).collect()).unwrap();
        let got = run(n, seed as u8, |s| {
            let sx = input(s, n - 1, &x);
            let (r, mask) = binary::relu_truncated(s, &sx, f)?;
            let both = RingTensor::concat(&[r.share(), mask.share()], 0)?;
            arith::reveal(s, &AShare::from_share(both), "relu and mask")
        });
        let (relu, mask) = got.as_slice().split_at(len);
        for (i, &v) in y.iter().enumerate() {
            let low = v >> f;
            let g = relu[i] as i64;
            prop_assert!(g == low.max(0) || g == (low + 1).max(0), "relu(trunc({} by {})) = {}", v, f, g);
            prop_assert_eq!(mask[i], (v >= 0) as u64, "mask of {}", v);
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
    // Four rounds (open x + r, two levels of four-input ANDs, the bit) and
    // 100 bits per element per party (64 + 28 + 7 + 1) plus headers.
    for (what, f) in [
        (
            "msb",
            (|s, x| binary::msb(s, x).map(|_| ())) as fn(&mut Session, &AShare) -> _,
        ),
        ("relu with mask", |s, x| {
            binary::relu_with_mask(s, x).map(|_| ())
        }),
        ("relu", |s, x| binary::relu(s, x).map(|_| ())),
        // The truncation's opening is the comparison's.
        ("relu truncated", |s, x| {
            binary::relu_truncated(s, x, 16).map(|_| ())
        }),
    ] {
        let (rounds, bits) = online_cost(4096, f);
        assert_eq!(rounds, 4, "{what}");
        assert!(
            (100.0..=101.0).contains(&bits),
            "{what}: {bits:.1} bits per element"
        );
    }
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
