//! Measures every nonlinear function, ReLU variant and sigmoid variant:
//! rounds, bits sent per element and peer, preprocessing bits per element
//! (from the dealer to party 0, or sent and received by OT), time, and the
//! worst error against float64 math on a dense grid. Prints the Markdown
//! table of `docs/NONLINEAR.md`.
//!
//! `cargo run --release --example nonlinear_costs [-- --parties 3] [-- --ot | --active] [-- --elements N]
//! [-- --only NAME]`
//!
//! `--active`: under active security (authenticated shares, the dealer's
//! authenticated material; the final MAC check runs before the result is
//! opened, and is not timed).

use ndarray::{Array2, ArrayD};
use tessera::layers::softmax::softmax;
use tessera::layers::{
    Activation, ActivationLayer, ActiveBackend, Backend, Function, LayerError, MpcBackend,
    MpcSession, SigmoidKind,
};
use tessera::protocols::prep::Provider;
use tessera::protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera::protocols::Stats;

/// What a case computes, on any backend ([`Kind::run`]).
#[derive(Clone, Copy)]
enum Kind {
    /// `[x < 0]`, as `[-x > 0]`.
    Less,
    Act(Activation),
    Apply(Function),
    Softmax,
}

impl Kind {
    fn run<B: Backend>(self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor, LayerError> {
        match self {
            Kind::Less => {
                let minus = b.neg(x)?;
                b.positive(&minus)
            }
            Kind::Act(a) => ActivationLayer::apply(b, a, x),
            Kind::Apply(f) => b.apply(f, x),
            Kind::Softmax => softmax(b, x),
        }
    }
}

/// A function under test: its name, what it computes, the reference and
/// the grid it is measured on.
struct Case {
    name: &'static str,
    op: Kind,
    reference: fn(f64) -> f64,
    grid: (f64, f64),
}

fn cases() -> Vec<Case> {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    vec![
        Case {
            name: "comparison `[x < 0]`",
            op: Kind::Less,
            reference: |x| (x < 0.0) as u64 as f64,
            grid: (-8.0, 8.0),
        },
        Case {
            name: "ReLU (exact)",
            op: Kind::Act(Activation::Relu),
            reference: |x| x.max(0.0),
            grid: (-8.0, 8.0),
        },
        Case {
            name: "ReLU, polynomial of degree 2 (on [-4, 4])",
            op: Kind::Act(Activation::ReluPoly { degree: 2 }),
            reference: |x| x.max(0.0),
            grid: (-4.0, 4.0),
        },
        Case {
            name: "ReLU, polynomial of degree 4 (on [-4, 4])",
            op: Kind::Act(Activation::ReluPoly { degree: 4 }),
            reference: |x| x.max(0.0),
            grid: (-4.0, 4.0),
        },
        Case {
            name: "sigmoid, accurate (spline; the default)",
            op: Kind::Act(Activation::Sigmoid(SigmoidKind::Accurate)),
            reference: sigmoid,
            grid: (-12.0, 12.0),
        },
        Case {
            name: "sigmoid, clipped polynomial",
            op: Kind::Act(Activation::Sigmoid(SigmoidKind::Polynomial)),
            reference: sigmoid,
            grid: (-12.0, 12.0),
        },
        Case {
            name: "sigmoid, piecewise linear",
            op: Kind::Act(Activation::Sigmoid(SigmoidKind::PiecewiseLinear)),
            reference: sigmoid,
            grid: (-12.0, 12.0),
        },
        Case {
            name: "tanh",
            op: Kind::Act(Activation::Tanh),
            reference: f64::tanh,
            grid: (-5.0, 5.0),
        },
        Case {
            name: "exp (on [-10, 10])",
            op: Kind::Apply(Function::Exp),
            reference: f64::exp,
            grid: (-10.0, 10.0),
        },
        Case {
            name: "exp for x <= 0 (softmax's; on [-10, 0])",
            op: Kind::Apply(Function::ExpNonPositive),
            reference: f64::exp,
            grid: (-10.0, 0.0),
        },
        Case {
            name: "reciprocal (on [0.01, 100])",
            op: Kind::Apply(Function::Reciprocal),
            reference: |x| 1.0 / x,
            grid: (0.01, 100.0),
        },
        Case {
            name: "reciprocal on [1, 10] (softmax's)",
            op: Kind::Apply(Function::ReciprocalUpTo(10)),
            reference: |x| 1.0 / x,
            grid: (1.0, 10.0),
        },
        Case {
            name: "inverse sqrt (on [0.01, 100])",
            op: Kind::Apply(Function::InvSqrt),
            reference: |x| 1.0 / x.sqrt(),
            grid: (0.01, 100.0),
        },
        Case {
            name: "log (on [0.01, 100])",
            op: Kind::Apply(Function::Log),
            reference: f64::ln,
            grid: (0.01, 100.0),
        },
    ]
}

/// What one run of `op` on `x` cost party 0, and the opened result.
struct Measured {
    rounds: u64,
    sent_bits: f64,
    prep_bits: f64,
    seconds: f64,
    out: Vec<f64>,
}

/// How a run is secured: semi-honest with `provider`, or active.
#[derive(Clone, Copy)]
struct Mode {
    parties: usize,
    provider: Provider,
    active: bool,
}

fn measure(mode: Mode, x: &ArrayD<f64>, op: Kind) -> Measured {
    let cfg = EmbeddedConfig::new(mode.parties).with_preprocessing(mode.provider);
    let outs = run_embedded(&cfg, |s| -> Result<_, LayerError> {
        if mode.active {
            timed(&mut ActiveBackend::new(s)?, x, op)
        } else {
            timed(&mut MpcBackend::new(s), x, op)
        }
    })
    .expect("the measured run");
    let (rounds, sent, prep, seconds, out) = outs[0].value.clone();
    let n = x.len() as f64;
    Measured {
        rounds,
        sent_bits: sent as f64 * 8.0 / (mode.parties - 1) as f64 / n,
        prep_bits: prep as f64 * 8.0 / n,
        seconds: outs.iter().map(|o| o.value.3).fold(seconds, f64::max),
        out: out.iter().copied().collect(),
    }
}

/// Party's rounds, bytes sent, preprocessing bytes and seconds for `op`
/// on `x` (input by party 0), and the opened result.
type Run = (u64, u64, u64, f64, ArrayD<f64>);

fn timed<B: MpcSession>(b: &mut B, x: &ArrayD<f64>, op: Kind) -> Result<Run, LayerError> {
    let me = b.session().id();
    let t = b.input(0, (me == 0).then_some(x), x.shape())?;
    let snap = |st: Stats| {
        (
            st.rounds,
            st.total_sent(),
            st.preprocessing_bytes + st.preprocessing_bytes_sent,
        )
    };
    let before = snap(b.session().stats());
    let start = std::time::Instant::now();
    let y = op.run(b, &t)?;
    let seconds = start.elapsed().as_secs_f64();
    let after = snap(b.session().stats());
    let out = b.reveal(&y, "y")?;
    b.finish()?;
    Ok((
        after.0 - before.0,
        after.1 - before.1,
        after.2 - before.2,
        seconds,
        out,
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name);
    let parties = flag("--parties")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let provider = if flag("--ot").is_some() {
        Provider::Ot
    } else {
        Provider::Dealer
    };
    let mode = Mode {
        parties,
        provider,
        active: flag("--active").is_some(),
    };
    let elements: usize = flag("--elements")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "{parties} parties, {provider} preprocessing{}; time for {elements} elements (slowest party); \
         error: worst error on 20001 points of the grid, relative where the \
         reference is at least 1 and absolute below",
        if mode.active { ", active security" } else { "" }
    );
    println!();
    println!(
        "| function | rounds | bits sent per element and peer | preprocessing bits per element | time | worst error (grid) |"
    );
    println!("|---|---|---|---|---|---|");
    let mut prg = tessera::tensor::Prg::from_seed([1; 32]);
    let only = flag("--only").and_then(|i| args.get(i + 1)).cloned();
    let wanted = |name: &str| only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    for case in cases().into_iter().filter(|c| wanted(c.name)) {
        let (lo, hi) = case.grid;
        let timed = ArrayD::from_shape_fn(vec![elements], |_| lo + (hi - lo) * prg.next_f64());
        let cost = measure(mode, &timed, case.op);
        let points = 20001;
        let grid = ArrayD::from_shape_fn(vec![points], |i| {
            lo + (hi - lo) * i[0] as f64 / (points - 1) as f64
        });
        let got = measure(mode, &grid, case.op);
        let worst = if case.name.starts_with("comparison") {
            // Exact: the opened 0/1 values (fixed point) against the signs.
            let wrong = grid
                .iter()
                .zip(&got.out)
                .filter(|(&x, &y)| y != (x < 0.0) as u64 as f64)
                .count();
            format!("{wrong} wrong")
        } else {
            // Relative where the reference is at least 1, absolute below.
            let worst = grid
                .iter()
                .zip(&got.out)
                .map(|(&x, &y)| {
                    let r = (case.reference)(x);
                    (y - r).abs() / r.abs().max(1.0)
                })
                .fold(0.0, f64::max);
            format!("{worst:.1e}")
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {} |",
            case.name,
            cost.rounds,
            cost.sent_bits,
            cost.prep_bits,
            seconds(cost.seconds),
            worst
        );
    }
    // Softmax over 10 classes: rows of logits in [-5, 5].
    if !wanted("softmax") {
        return;
    }
    let rows = elements / 10;
    let logits = Array2::from_shape_fn((rows, 10), |_| 10.0 * prg.next_f64() - 5.0).into_dyn();
    let cost = measure(mode, &logits, Kind::Softmax);
    let check = Array2::from_shape_fn((2000, 10), |_| 10.0 * prg.next_f64() - 5.0).into_dyn();
    let got = measure(mode, &check, Kind::Softmax);
    let mut worst: f64 = 0.0;
    for (r, row) in check.outer_iter().enumerate() {
        let mx = row.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = row.iter().map(|v| (v - mx).exp()).sum();
        for (c, v) in row.iter().enumerate() {
            worst = worst.max((got.out[r * 10 + c] - (v - mx).exp() / z).abs());
        }
    }
    println!(
        "| softmax, 10 classes (per probability) | {} | {:.0} | {:.0} | {} | {:.1e} |",
        cost.rounds,
        cost.sent_bits,
        cost.prep_bits,
        seconds(cost.seconds),
        worst
    );
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}
