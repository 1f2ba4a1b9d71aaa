//! The actively secure mode (SPDZ2k with the dealer): every protocol against
//! the plaintext ring reference for 2 and 3 parties, and a malicious-party
//! harness: a party that changes any single word of any message it sends
//! is caught, and no honest party ever outputs a wrong value.

use tessera_protocols::active::{Active, AuthShare, Tamper};
use tessera_protocols::approx;
use tessera_protocols::prep::Provider;
use tessera_protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera_protocols::{ProtocolError, Session};
use tessera_tensor::{FixedPoint, Prg, RingTensor};

mod common;
use common::*;

/// The protocols under test: each inputs `x` (party 0) and `y` (the last
/// party), computes, and opens the result to everyone or to party 1.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Open,
    OpenToOne,
    Mul,
    MatMul,
    Truncate,
    Relu,
    /// All 64 bits of `x`.
    Bits,
    /// The sigmoid approximation (a spline: a batch of comparisons, then products).
    Sigmoid,
}

const OPS: [Op; 8] = [
    Op::Open,
    Op::OpenToOne,
    Op::Mul,
    Op::MatMul,
    Op::Truncate,
    Op::Relu,
    Op::Bits,
    Op::Sigmoid,
];

/// The inputs of a trial: fixed-point values of moderate size for the
/// sigmoid, ring values (edges mixed in) for the rest.
fn inputs(op: Op, seed: u64, shape: &[usize]) -> (RingTensor, RingTensor) {
    let x = match op {
        Op::Sigmoid => signed_fixed(seed, shape, 12.0),
        _ => truncatable(seed, shape),
    };
    (x, data(seed + 1, shape))
}

/// Inputs `x` and `y` (the tamper hook is armed after them: changing one's
/// own input is allowed), computes `op` and opens the result. Returns it,
/// with the words this party sent to the tampered peer after arming (0 if
/// it holds no tamper).
fn program(
    s: &mut Session,
    op: Op,
    x: &RingTensor,
    y: &RingTensor,
    tamper: Option<(usize, Tamper)>,
) -> Result<(Option<RingTensor>, u64), ProtocolError> {
    let n = s.n();
    let me = s.id();
    let mut a = Active::new(s)?;
    let sx = a.input(0, (me == 0).then_some(x), x.shape())?;
    let sy = a.input(n - 1, (me == n - 1).then_some(y), y.shape())?;
    let mine = tamper.filter(|(c, _)| *c == me).map(|(_, t)| t);
    if let Some(t) = mine {
        a.tamper(t);
    }
    let z: AuthShare = match op {
        Op::Open | Op::OpenToOne => sx.add(&sy)?,
        Op::Mul => a.mul(&sx, &sy)?,
        Op::MatMul => {
            let (r, c) = (x.shape()[0], x.shape()[1]);
            a.matmul(&sx, &sy.reshape(&[c, r])?)?
        }
        Op::Truncate => a.truncate(&sx, 16)?,
        Op::Relu => a.relu_with_mask(&sx)?.0,
        Op::Bits => a.bits(&sx, 0, 64)?,
        Op::Sigmoid => approx::sigmoid(&mut a, &sx)?,
    };
    let out = match op {
        Op::OpenToOne => a.reveal_to(&z, 1, "z")?,
        _ => Some(a.reveal(&z, "z")?),
    };
    Ok((out, mine.map_or(0, |t| a.words_sent(t.peer))))
}

/// Whether `got` is `op`'s reference value (truncation may be one unit above).
fn agrees(op: Op, got: &RingTensor, want: &RingTensor) -> bool {
    match op {
        Op::Truncate => got
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .all(|(g, w)| g.wrapping_sub(*w) <= 1),
        Op::Sigmoid => {
            let fp = FixedPoint::default();
            got.as_slice()
                .iter()
                .zip(want.as_slice())
                .all(|(g, w)| (fp.decode(*g) - fp.decode(*w)).abs() <= 1e-4)
        }
        _ => got == want,
    }
}

/// The plaintext reference of `op` (truncation: the floor, which the
/// protocol may exceed by one unit).
fn reference(op: Op, x: &RingTensor, y: &RingTensor) -> RingTensor {
    match op {
        Op::Open | Op::OpenToOne => x.add(y).unwrap(),
        Op::Mul => x.mul(y).unwrap(),
        Op::MatMul => {
            let (r, c) = (x.shape()[0], x.shape()[1]);
            x.matmul(&y.reshape(&[c, r]).unwrap()).unwrap()
        }
        Op::Truncate => x.map(|v| ((v as i64) >> 16) as u64),
        Op::Relu => x.map(|v| if (v as i64) > 0 { v } else { 0 }),
        Op::Bits => {
            let bits = x
                .as_slice()
                .iter()
                .flat_map(|&v| (0..64).map(move |i| v >> i & 1));
            RingTensor::from_vec(&[x.len(), 64], bits.collect()).unwrap()
        }
        Op::Sigmoid => {
            let fp = FixedPoint::default();
            x.map(|v| fp.encode(1.0 / (1.0 + (-fp.decode(v)).exp())).unwrap())
        }
    }
}

fn config(n: usize, seed: u8) -> EmbeddedConfig {
    let mut cfg = EmbeddedConfig::new(n).with_seed([seed; 32]);
    cfg.preprocessing = Provider::Dealer;
    cfg
}

/// Signed values below 2^62 in magnitude (truncation's range), edges mixed in.
fn truncatable(seed: u64, shape: &[usize]) -> RingTensor {
    let mut t = data(seed, shape);
    t.as_mut_slice()
        .iter_mut()
        .for_each(|v| *v = ((*v as i64) >> 2) as u64);
    t
}

#[test]
fn every_protocol_matches_the_ring_reference_for_2_and_3_parties() {
    for n in [2, 3] {
        for (i, op) in OPS.into_iter().enumerate() {
            for seed in 0..4u64 {
                let shape = [2 + seed as usize, 3];
                let (x, y) = inputs(op, seed * 7 + i as u64, &shape);
                let outs =
                    run_embedded(&config(n, seed as u8), |s| program(s, op, &x, &y, None)).unwrap();
                let want = reference(op, &x, &y);
                for (p, o) in outs.iter().enumerate() {
                    match (&o.value.0, op) {
                        (None, Op::OpenToOne) if p != 1 => {}
                        (Some(got), _) => assert!(
                            agrees(op, got, &want),
                            "{op:?}, {n} parties: {got:?} against {want:?}"
                        ),
                        (None, _) => panic!("{op:?}: party {p} got nothing"),
                    }
                }
            }
        }
    }
}

#[test]
fn fixed_point_products_match_the_fixed_point_reference() {
    let fp = FixedPoint::default();
    let x = signed_fixed(3, &[4, 5], 100.0);
    let y = signed_fixed(4, &[5, 2], 100.0);
    for n in [2, 3] {
        let outs = run_embedded(&config(n, 9), |s| {
            let me = s.id();
            let mut a = Active::new(s)?;
            let sx = a.input(0, (me == 0).then_some(&x), &[4, 5])?;
            let sy = a.input(1, (me == 1).then_some(&y), &[5, 2])?;
            let z = a.matmul_fixed(&sx, &sy)?;
            let w = a.mul_fixed(&sx, &sx)?;
            Ok::<_, ProtocolError>((a.reveal(&z, "z")?, a.reveal(&w, "w")?))
        })
        .unwrap();
        let (z, w) = &outs[0].value;
        let xf: Vec<f64> = fp.decode_tensor(&x).iter().copied().collect();
        let yf: Vec<f64> = fp.decode_tensor(&y).iter().copied().collect();
        for i in 0..4 {
            for j in 0..2 {
                let want: f64 = (0..5).map(|k| xf[i * 5 + k] * yf[k * 2 + j]).sum();
                assert!((fp.decode(z.as_slice()[i * 2 + j]) - want).abs() < 1e-3);
            }
        }
        for (g, v) in w.as_slice().iter().zip(&xf) {
            assert!((fp.decode(*g) - v * v).abs() < 1e-3);
        }
    }
}

/// Runs `op` with `cheater` changing word `word` of what it sends to `peer`;
/// returns whether some honest party stopped, and whether any honest party
/// output a wrong value.
fn trial(
    n: usize,
    op: Op,
    cheater: usize,
    peer: usize,
    word: u64,
    xor: u64,
    seed: u8,
) -> (bool, bool) {
    let (x, y) = inputs(op, seed as u64, &[2, 3]);
    let t = Tamper { peer, word, xor };
    let mut cfg = config(n, seed);
    cfg.timeout = std::time::Duration::from_secs(20);
    let outs = run_embedded_each(&cfg, |s| {
        program(s, op, &x, &y, Some((cheater, t))).map(|(out, _)| out)
    });
    let want = reference(op, &x, &y);
    let mut stopped = false;
    let mut wrong = false;
    for (_, out) in outs.iter().enumerate().filter(|(p, _)| *p != cheater) {
        match out {
            Err(_) => stopped = true,
            Ok(Some(got)) => wrong |= !agrees(op, got, &want),
            Ok(None) => {}
        }
    }
    (stopped, wrong)
}

/// One party's result in a trial.
type Outcome = Result<Option<RingTensor>, ProtocolError>;

/// Every party's result, errors included (a cheated run fails some parties).
fn run_embedded_each(
    cfg: &EmbeddedConfig,
    f: impl Fn(&mut Session) -> Result<Option<RingTensor>, ProtocolError> + Sync,
) -> Vec<Outcome> {
    let slots: Vec<std::sync::Mutex<Option<Outcome>>> = (0..cfg.parties)
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    let _ = run_embedded(cfg, |s| {
        let me = s.id();
        let r = f(s);
        let failed = r.is_err();
        *slots[me].lock().unwrap() = Some(r);
        if failed {
            Err(ProtocolError::InvalidArgument {
                op: "trial",
                detail: "stopped".into(),
            })
        } else {
            Ok(())
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap()
                .unwrap_or(Err(ProtocolError::InvalidArgument {
                    op: "trial",
                    detail: "never ran".into(),
                }))
        })
        .collect()
}

/// How many words `cheater` sends to `peer` after the inputs, honestly.
fn words_after_inputs(n: usize, op: Op, cheater: usize, peer: usize) -> u64 {
    let (x, y) = inputs(op, 0, &[2, 3]);
    // A tamper that changes nothing (xor 0) counts from the same point.
    let t = Tamper {
        peer,
        word: u64::MAX,
        xor: 0,
    };
    let outs = run_embedded(&config(n, 1), |s| {
        program(s, op, &x, &y, Some((cheater, t)))
    });
    outs.unwrap()[cheater].value.1
}

#[test]
fn a_party_that_changes_any_word_it_sends_is_caught_and_nothing_wrong_is_released() {
    // 1000 trials per protocol, alternating 2 and 3 parties, every party in
    // turn cheating towards a random peer, at a random word, by a random
    // nonzero change.
    let mut prg = Prg::from_seed([42; 32]);
    let mut words = std::collections::HashMap::new();
    for op in OPS {
        for t in 0..1000u64 {
            let n = [2, 3][t as usize % 2];
            let cheater = (t as usize / 2) % n;
            let peer = (cheater + 1 + prg.next_u64() as usize % (n - 1)) % n;
            let total = *words
                .entry((n, op as u8, cheater, peer))
                .or_insert_with(|| words_after_inputs(n, op, cheater, peer));
            let word = prg.next_u64() % total;
            let xor = prg.next_u64().max(1);
            let (stopped, wrong) = trial(n, op, cheater, peer, word, xor, (t % 200) as u8);
            assert!(
                stopped,
                "{op:?}, {n} parties, party {cheater} changed word {word} of {total} to party {peer}: not caught"
            );
            assert!(!wrong, "{op:?}, {n} parties: a wrong value was released");
        }
    }
}

#[test]
fn the_dealer_free_provider_declines_active_security() {
    let mut cfg = EmbeddedConfig::new(2);
    cfg.preprocessing = Provider::Ot;
    let err = run_embedded(&cfg, |s| Active::new(s).map(|_| ())).unwrap_err();
    assert!(err.to_string().contains("dealer"), "{err}");
}

#[test]
fn comparison_and_relu_match_the_reference_for_2_and_3_parties() {
    for n in [2, 3] {
        let x = data(5 + n as u64, &[7, 9]);
        let outs = run_embedded(&config(n, 7), |s| {
            let me = s.id();
            let mut a = Active::new(s)?;
            let sx = a.input(n - 1, (me == n - 1).then_some(&x), &[7, 9])?;
            let msb = a.msb(&sx)?;
            let (relu, mask) = a.relu_with_mask(&sx)?;
            Ok::<_, ProtocolError>((
                a.reveal(&msb, "msb")?,
                a.reveal(&relu, "relu")?,
                a.reveal(&mask, "mask")?,
            ))
        })
        .unwrap();
        let (msb, relu, mask) = &outs[0].value;
        for (i, &v) in x.as_slice().iter().enumerate() {
            let negative = (v as i64) < 0;
            assert_eq!(msb.as_slice()[i], negative as u64, "msb of {v:#x}");
            if v == 1 << 63 {
                // -2^63 has no negation: as in the semi-honest comparison.
                continue;
            }
            let positive = (v as i64) > 0;
            assert_eq!(mask.as_slice()[i], positive as u64, "x > 0 for {v:#x}");
            assert_eq!(
                relu.as_slice()[i],
                if positive { v } else { 0 },
                "relu of {v:#x}"
            );
        }
    }
}

#[test]
fn bit_ranges_match_the_reference_for_2_and_3_parties() {
    for n in [2, 3] {
        let x = data(11 + n as u64, &[5, 8]);
        let outs = run_embedded(&config(n, 8), |s| {
            let me = s.id();
            let mut a = Active::new(s)?;
            let sx = a.input(0, (me == 0).then_some(&x), &[5, 8])?;
            let low = a.bits(&sx, 0, 5)?;
            let middle = a.bits(&sx, 16, 6)?;
            let top = a.bits(&sx, 61, 3)?;
            [&low, &middle, &top]
                .into_iter()
                .map(|t| a.reveal(t, "bits"))
                .collect::<Result<Vec<_>, ProtocolError>>()
        })
        .unwrap();
        let got = &outs[0].value;
        for (i, &v) in x.as_slice().iter().enumerate() {
            for (t, (from, count)) in [(0, 5), (16, 6), (61, 3)].into_iter().enumerate() {
                for j in 0..count {
                    assert_eq!(
                        got[t].as_slice()[i * count + j],
                        v >> (from + j) & 1,
                        "bit {} of {v:#x}, {n} parties",
                        from + j
                    );
                }
            }
        }
    }
}

#[test]
fn a_comparison_costs_six_rounds_and_173_bits_per_element() {
    let x = data(3, &[64]);
    let outs = run_embedded(&config(2, 4), |s| {
        let me = s.id();
        let mut a = Active::new(s)?;
        let sx = a.input(0, (me == 0).then_some(&x), &[64])?;
        let before = (a.session().stats().rounds, a.words_sent(1 - me));
        a.msb(&sx)?;
        let after = (a.session().stats().rounds, a.words_sent(1 - me));
        Ok::<_, ProtocolError>((after.0 - before.0, after.1 - before.1))
    })
    .unwrap();
    let (rounds, words) = outs[0].value;
    assert_eq!(rounds, 6, "rounds of an active comparison");
    // 128 bits for the masked value; the 16 chunks' pairs are local; then
    // 3 opened bits per tree node (2 at the root: 8 + 4 + 2 + 1 nodes) and
    // 1 for the conversion: 173 bits.
    assert_eq!(
        words * 64,
        64 * (128 + 3 * 14 + 2 + 1),
        "bits sent per 64 comparisons"
    );
}

#[test]
fn masked_data_rows_and_their_products_match_the_reference_for_2_and_3_parties() {
    let x = data(21, &[5, 3]);
    let w = data(22, &[3, 2]);
    let v = data(23, &[3, 2]);
    let rows = [4, 0, 2];
    for n in [2, 3] {
        let outs = run_embedded(&config(n, 10), |s| {
            let me = s.id();
            let mut a = Active::new(s)?;
            let sx = a.input(0, (me == 0).then_some(&x), &[5, 3])?;
            let sw = a.input(n - 1, (me == n - 1).then_some(&w), &[3, 2])?;
            let sv = a.input(n - 1, (me == n - 1).then_some(&v), &[3, 2])?;
            let d = a.mask_data(&sx)?;
            let picked = a.data_rows(&d, &rows)?;
            let xw = a.matmul_rows(&d, &rows, &sw, false)?;
            let xtv = a.matmul_rows(&d, &rows, &sv, true)?;
            [&picked, &xw, &xtv]
                .into_iter()
                .map(|t| a.reveal(t, "data"))
                .collect::<Result<Vec<_>, ProtocolError>>()
        })
        .unwrap();
        let got = &outs[0].value;
        let xr = x.select_rows(&rows).unwrap();
        assert_eq!(got[0], xr, "{n} parties: rows");
        assert_eq!(got[1], xr.matmul(&w).unwrap(), "{n} parties: rows times W");
        assert_eq!(
            got[2],
            xr.transpose().matmul(&v).unwrap(),
            "{n} parties: rows transposed times V"
        );
    }
}

/// An active protocol on one secret.
type Unary = fn(&mut Active, &AuthShare) -> Result<AuthShare, ProtocolError>;

/// Rounds and bits sent per element to the one peer (2 parties) of an
/// active protocol on 1024 inputs in [-8, 8], outside the MAC checks.
fn active_cost(f: Unary) -> (u64, f64) {
    const LEN: usize = 1024;
    let x = signed_fixed(31, &[LEN], 8.0);
    let outs = run_embedded(&config(2, 12), |s| {
        let me = s.id();
        let mut a = Active::new(s)?;
        let sx = a.input(0, (me == 0).then_some(&x), &[LEN])?;
        let before = (a.session().stats().rounds, a.words_sent(1 - me));
        f(&mut a, &sx)?;
        let after = (a.session().stats().rounds, a.words_sent(1 - me));
        Ok::<_, ProtocolError>((after.0 - before.0, after.1 - before.1))
    })
    .unwrap();
    let (rounds, words) = outs[0].value;
    (rounds, words as f64 * 64.0 / LEN as f64)
}

#[test]
fn active_approximations_cost_no_more_than_measured() {
    // Measured when written (semi-honest: exp 12 rounds and 1239 bits,
    // sigmoid 10 and 1196, reciprocal 15 and 1946, ReLU 4 and 100; see
    // tests/approx.rs); a change that makes one dearer fails here. The
    // thresholds' trees of AND nodes share their subtrees (the octave's 42:
    // 185 nodes, not 42 x 15): the reciprocal took 4450 bits before that,
    // and the bit decomposition the octave replaced 3922 in 25 rounds.
    let budgets: [(&str, Unary, u64, f64); 4] = [
        ("exp", |a, x| approx::exp(a, x), 14, 2262.0),
        ("sigmoid", |a, x| approx::sigmoid(a, x), 12, 2108.0),
        ("reciprocal", |a, x| approx::reciprocal(a, x), 17, 3116.0),
        ("relu", |a, x| Ok(a.relu_with_mask(x)?.0), 6, 173.0),
    ];
    for (name, f, max_rounds, max_bits) in budgets {
        let (rounds, bits) = active_cost(f);
        eprintln!("{name}: {rounds} rounds, {bits:.0} bits per element");
        assert!(rounds <= max_rounds, "{name}: {rounds} rounds");
        assert!(bits <= max_bits, "{name}: {bits:.0} bits per element");
    }
}

#[test]
fn vectors_concatenate_and_select_rows_as_the_semi_honest_shares_do() {
    // A layer written for either mode stacks vectors along axis 0 and
    // picks their entries as rows: both must keep vectors vectors.
    let (x, y) = (data(41, &[5]), data(42, &[3]));
    let outs = run_embedded(&config(2, 14), |s| {
        let me = s.id();
        let mut a = Active::new(s)?;
        let sx = a.input(0, (me == 0).then_some(&x), &[5])?;
        let sy = a.input(1, (me == 1).then_some(&y), &[3])?;
        let both = AuthShare::concat(&[&sx, &sy], 0)?;
        let picked = both.select_rows(&[7, 0, 5])?;
        Ok::<_, ProtocolError>((a.reveal(&both, "both")?, a.reveal(&picked, "picked")?))
    })
    .unwrap();
    let (both, picked) = &outs[0].value;
    let want: Vec<u64> = x.as_slice().iter().chain(y.as_slice()).copied().collect();
    assert_eq!(both.shape(), &[8]);
    assert_eq!(both.as_slice(), &want[..]);
    assert_eq!(picked.shape(), &[3]);
    assert_eq!(picked.as_slice(), &[want[7], want[0], want[5]]);
}
