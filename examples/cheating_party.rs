//! A party that cheats: three banks compute their joint exposure to a set
//! of counterparties (bank 0's exposures times bank 2's risk weights, a
//! matrix product), and bank 1 sends one wrong word at a chosen step.
//!
//! Under `semi-honest` security the result is silently wrong: nobody can
//! tell. Under `active` security (SPDZ2k MACs, with the dealer) every
//! honest bank stops with an error naming the check that failed, and
//! nothing is released.
//!
//! `cargo run --release --example cheating_party [-- WORD [ERROR]]`: bank 1
//! changes word WORD (default 3) of what it sends to bank 0 after the
//! inputs, XORing ERROR (default 2^20, 16.0 in fixed point) into it.

use tessera::protocols::active::{Active, Tamper};
use tessera::protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera::protocols::{arith, ProtocolError, Session};
use tessera::tensor::{FixedPoint, RingTensor};

const COUNTERPARTIES: usize = 4;
const SECTORS: usize = 3;

fn inputs(fp: FixedPoint) -> (RingTensor, RingTensor) {
    // Bank 0: exposure to each counterparty by sector (millions).
    let exposure: Vec<f64> = (0..COUNTERPARTIES * SECTORS)
        .map(|i| 1.0 + (i * 7 % 11) as f64)
        .collect();
    // Bank 2: a risk weight per sector.
    let weights = [0.2, 0.5, 1.0];
    let enc = |v: &[f64], shape: &[usize]| {
        RingTensor::from_vec(shape, v.iter().map(|&x| fp.encode(x).unwrap()).collect()).unwrap()
    };
    (
        enc(&exposure, &[COUNTERPARTIES, SECTORS]),
        enc(&weights, &[SECTORS, 1]),
    )
}

fn semi_honest(
    s: &mut Session,
    x: &RingTensor,
    w: &RingTensor,
    error: u64,
) -> Result<RingTensor, ProtocolError> {
    let me = s.id();
    let sx = arith::share_input(s, 0, (me == 0).then_some(x), x.shape())?;
    let sw = arith::share_input(s, 2, (me == 2).then_some(w), w.shape())?;
    let z = arith::matmul_fixed(s, &sx, &sw)?;
    // Bank 1 sends a share off by `error` when the result is opened: the
    // same as changing one word of its message.
    let z = if me == 1 {
        let mut wrong = z.share().clone();
        wrong.as_mut_slice()[0] = wrong.as_slice()[0].wrapping_add(error);
        tessera::protocols::AShare::from_share(wrong)
    } else {
        z
    };
    arith::reveal(s, &z, "joint exposure")
}

fn active(
    s: &mut Session,
    x: &RingTensor,
    w: &RingTensor,
    word: u64,
    error: u64,
) -> Result<RingTensor, ProtocolError> {
    let me = s.id();
    let mut a = Active::new(s)?;
    let sx = a.input(0, (me == 0).then_some(x), x.shape())?;
    let sw = a.input(2, (me == 2).then_some(w), w.shape())?;
    if me == 1 {
        a.tamper(Tamper {
            peer: 0,
            word,
            xor: error,
        });
    }
    let z = a.matmul_fixed(&sx, &sw)?;
    a.reveal(&z, "joint exposure")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let word = args.first().copied().unwrap_or(3);
    let error = args.get(1).copied().unwrap_or(1 << 20);
    let fp = FixedPoint::default();
    let (x, w) = inputs(fp);
    let cfg = EmbeddedConfig::new(3);
    let decode =
        |t: &RingTensor| -> Vec<f64> { t.as_slice().iter().map(|&v| fp.decode(v)).collect() };
    let truth: Vec<f64> = (0..COUNTERPARTIES)
        .map(|i| {
            (0..SECTORS)
                .map(|k| fp.decode(x.as_slice()[i * SECTORS + k]) * fp.decode(w.as_slice()[k]))
                .sum()
        })
        .collect();
    println!("3 banks; bank 1 cheats (word {word} of its messages to bank 0, changed by {error})");
    println!("the true joint exposure per counterparty: {truth:.2?}\n");

    println!("semi-honest security (the parties are trusted to follow the protocol):");
    let outs = run_embedded(&cfg, |s| semi_honest(s, &x, &w, error))?;
    let got = decode(&outs[0].value);
    println!("  every bank receives {got:.2?}");
    let off = got.iter().zip(&truth).any(|(g, t)| (g - t).abs() > 0.01);
    println!(
        "  {}\n",
        if off {
            "WRONG, and nobody noticed: semi-honest security cannot catch a cheating party"
        } else {
            "correct (the change fell outside the opened value)"
        }
    );

    println!("active security (SPDZ2k MACs; the dealer trusted, the banks not):");
    let results: Vec<Option<Result<RingTensor, String>>> = {
        let slots: Vec<std::sync::Mutex<Option<Result<RingTensor, String>>>> =
            (0..3).map(|_| std::sync::Mutex::new(None)).collect();
        let _ = run_embedded(&cfg, |s| {
            let me = s.id();
            let r = active(s, &x, &w, word, error);
            let failed = r.is_err();
            *slots[me].lock().unwrap() = Some(r.map_err(|e| e.to_string()));
            if failed {
                Err(ProtocolError::InvalidArgument {
                    op: "bank",
                    detail: "stopped".into(),
                })
            } else {
                Ok(())
            }
        });
        slots.into_iter().map(|m| m.into_inner().unwrap()).collect()
    };
    for (bank, r) in results.iter().enumerate() {
        let who = if bank == 1 {
            "bank 1 (the cheater)"
        } else {
            &format!("bank {bank}")
        };
        match r {
            Some(Ok(v)) => println!("  {who} receives {:.2?}", decode(v)),
            Some(Err(e)) => println!("  {who} stops: {e}"),
            None => println!("  {who} did not finish"),
        }
    }
    let honest_released = results
        .iter()
        .enumerate()
        .filter(|(b, r)| *b != 1 && matches!(r, Some(Ok(_))))
        .count();
    println!(
        "  {}",
        if honest_released == 0 {
            "every honest bank stopped before anything was released"
        } else {
            "the change did not touch anything checked (e.g. a word past the last message)"
        }
    );
    Ok(())
}
