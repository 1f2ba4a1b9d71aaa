//! Criterion benchmarks: ring matmul against f32, and MPC products, matrix
//! products and the Linear layer for 2 and 3 parties against plaintext f32 at
//! the same shapes. Bytes and rounds per operation (which criterion cannot
//! record) are written beside the timings to `target/tessera-bench/*.json`.

use criterion::{criterion_main, BenchmarkId, Criterion};

/// The same allocator as the `tessera` binary (see there for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use ndarray::{Array2, ArrayD};
use std::time::{Duration, Instant};
use tessera::layers::{Backend, F32Backend, Init, Linear, MpcBackend};
use tessera::protocols::runtime::{run_embedded, EmbeddedConfig};
use tessera::protocols::{arith, Stats};
use tessera::tensor::{matmul, Prg};

fn random(rows: usize, cols: usize, seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 32]);
    Array2::from_shape_simple_fn((rows, cols), || prg.next_f64() * 2.0 - 1.0).into_dyn()
}

/// Writes bytes and rounds per operation (party 0) for one benchmark.
fn record(name: &str, parties: usize, iters: u64, before: &Stats, after: &Stats) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tessera-bench");
    let _ = std::fs::create_dir_all(&dir);
    let per = |a: u64, b: u64| (a - b) as f64 / iters as f64;
    let json = serde_json::json!({
        "benchmark": name,
        "parties": parties,
        "bytes_sent_per_op": per(after.total_sent(), before.total_sent()),
        "bytes_received_per_op": per(after.total_received(), before.total_received()),
        "rounds_per_op": per(after.rounds, before.rounds),
        "dealer_bytes_per_op": per(after.preprocessing_bytes, before.preprocessing_bytes),
    });
    let _ = std::fs::write(
        dir.join(format!("{}.json", name.replace('/', "_"))),
        json.to_string(),
    );
}

/// Times `iters` runs of `op` on every party of an embedded job (setup excluded).
fn mpc_time<F>(name: &str, parties: usize, iters: u64, op: F) -> Duration
where
    F: Fn(&mut MpcBackend<'_>, &ArrayD<f64>, &ArrayD<f64>) + Sync,
{
    let (x, y) = (random(1, 1, 0), random(1, 1, 0));
    let outs = run_embedded(
        &EmbeddedConfig::new(parties),
        |s| -> Result<Duration, tessera::layers::LayerError> {
            let before = s.stats();
            let start = Instant::now();
            let mut b = MpcBackend::new(s);
            for _ in 0..iters {
                op(&mut b, &x, &y);
            }
            let elapsed = start.elapsed();
            let after = b.session().stats();
            if b.session().id() == 0 {
                record(name, parties, iters, &before, &after);
            }
            Ok(elapsed)
        },
    )
    .expect("benchmark run");
    outs.iter().map(|o| o.value).max().unwrap_or_default()
}

fn ring_matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("tensor/matmul");
    g.sample_size(10);
    for n in [64usize, 256, 1024] {
        let mut prg = Prg::from_seed([1; 32]);
        let a = prg.next_u64_vec(n * n);
        let b = prg.next_u64_vec(n * n);
        let af: Vec<f32> = a.iter().map(|&v| (v % 1000) as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&v| (v % 1000) as f32).collect();
        g.bench_with_input(BenchmarkId::new("ring_u64", n), &n, |bench, &n| {
            bench.iter(|| matmul::ring_matmul(&a, &b, n, n, n))
        });
        g.bench_with_input(
            BenchmarkId::new("ring_u64_plain_ikj", n),
            &n,
            |bench, &n| bench.iter(|| matmul::ring_matmul_ikj(&a, &b, n, n, n)),
        );
        g.bench_with_input(BenchmarkId::new("f32", n), &n, |bench, &n| {
            bench.iter(|| matmul::f32_matmul(&af, &bf, n, n, n))
        });
    }
    g.finish();
}

fn protocols(c: &mut Criterion) {
    let mut g = c.benchmark_group("protocols");
    g.sample_size(10);
    let len = 10_000;
    for parties in [2usize, 3] {
        g.bench_function(
            BenchmarkId::new(format!("mul_fixed_{len}"), parties),
            |bench| {
                bench.iter_custom(|iters| {
                    mpc_time(
                        &format!("protocols/mul_fixed_{len}/{parties}"),
                        parties,
                        iters,
                        |b, _, _| {
                            let x = b.public(&random(len, 1, 1)).unwrap();
                            let y = b.public(&random(len, 1, 2)).unwrap();
                            b.mul(&x, &y).unwrap();
                        },
                    )
                })
            },
        );
        for n in [128usize, 256] {
            g.bench_function(
                BenchmarkId::new(format!("matmul_fixed_{n}"), parties),
                |bench| {
                    bench.iter_custom(|iters| {
                        mpc_time(
                            &format!("protocols/matmul_fixed_{n}/{parties}"),
                            parties,
                            iters,
                            |b, _, _| {
                                let x = b.public(&random(n, n, 1)).unwrap();
                                let y = b.public(&random(n, n, 2)).unwrap();
                                b.matmul(&x, &y).unwrap();
                            },
                        )
                    })
                },
            );
        }
        g.bench_function(BenchmarkId::new("truncate_10000", parties), |bench| {
            bench.iter_custom(|iters| {
                mpc_time(
                    &format!("protocols/truncate_10000/{parties}"),
                    parties,
                    iters,
                    |b, _, _| {
                        let x = b.public(&random(len, 1, 1)).unwrap();
                        arith::truncate(b.session(), &x).unwrap();
                    },
                )
            })
        });
    }
    for (name, f) in [("mul_10000", 0), ("matmul_128", 1), ("matmul_256", 2)] {
        g.bench_function(BenchmarkId::new(name, "f32"), |bench| {
            let mut b = F32Backend;
            let (x, y) = match f {
                0 => (
                    b.public(&random(len, 1, 1)).unwrap(),
                    b.public(&random(len, 1, 2)).unwrap(),
                ),
                1 => (
                    b.public(&random(128, 128, 1)).unwrap(),
                    b.public(&random(128, 128, 2)).unwrap(),
                ),
                _ => (
                    b.public(&random(256, 256, 1)).unwrap(),
                    b.public(&random(256, 256, 2)).unwrap(),
                ),
            };
            bench.iter(|| {
                if f == 0 {
                    b.mul(&x, &y).unwrap()
                } else {
                    b.matmul(&x, &y).unwrap()
                }
            })
        });
    }
    g.finish();
}

/// Linear layer 784 -> 128 on a batch of 128: forward and backward.
fn linear_layer(c: &mut Criterion) {
    let mut g = c.benchmark_group("layers/linear_784x128_batch128");
    g.sample_size(10);
    let x = random(128, 784, 3);
    let grad = random(128, 128, 4);
    for parties in [2usize, 3] {
        g.bench_function(BenchmarkId::new("mpc_forward_backward", parties), |bench| {
            bench.iter_custom(|iters| {
                mpc_time(
                    &format!("layers/linear_fwd_bwd/{parties}"),
                    parties,
                    iters,
                    |b, _, _| {
                        let xs = b.public(&x).unwrap();
                        let gs = b.public(&grad).unwrap();
                        let mut l = Linear::new(b, 784, 128, Init::Uniform { seed: 1 }).unwrap();
                        l.forward(b, &xs).unwrap();
                        l.backward(b, &gs, true).unwrap();
                    },
                )
            })
        });
    }
    g.bench_function(BenchmarkId::new("f32_forward_backward", "plain"), |bench| {
        let mut b = F32Backend;
        let xs = b.public(&x).unwrap();
        let gs = b.public(&grad).unwrap();
        bench.iter(|| {
            let mut l = Linear::new(&mut b, 784, 128, Init::Uniform { seed: 1 }).unwrap();
            l.forward(&mut b, &xs).unwrap();
            l.backward(&mut b, &gs, true).unwrap();
        })
    });
    g.finish();
}

/// Element counts for the nonlinear benchmarks: 10^3 .. 10^6, capped by
/// `TESSERA_BENCH_MAX_ELEMS` for quick runs.
fn nonlinear_sizes() -> Vec<usize> {
    let cap: usize = std::env::var("TESSERA_BENCH_MAX_ELEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= cap)
        .collect()
}

type NonlinearOp =
    fn(&mut MpcBackend<'_>, &tessera::protocols::AShare) -> tessera::protocols::AShare;
type PlainOp = fn(&mut F32Backend, &ArrayD<f32>) -> ArrayD<f32>;

/// Comparison, ReLU (exact and polynomial), the three sigmoids and softmax,
/// MPC with 2 and 3 parties against f32, at 10^3..10^6 elements.
fn nonlinear(c: &mut Criterion) {
    use tessera::layers::softmax::softmax;
    use tessera::layers::{Activation, ActivationLayer, SigmoidKind};
    let cases: [(&str, NonlinearOp, PlainOp); 8] = [
        (
            "compare",
            |b, x| b.positive(x).unwrap(),
            |b, x| b.positive(x).unwrap(),
        ),
        (
            "relu_exact",
            |b, x| ActivationLayer::apply(b, Activation::Relu, x).unwrap(),
            |b, x| b.relu(x).unwrap(),
        ),
        (
            "relu_poly2",
            |b, x| ActivationLayer::apply(b, Activation::ReluPoly { degree: 2 }, x).unwrap(),
            |b, x| ActivationLayer::apply(b, Activation::ReluPoly { degree: 2 }, x).unwrap(),
        ),
        (
            "relu_poly4",
            |b, x| ActivationLayer::apply(b, Activation::ReluPoly { degree: 4 }, x).unwrap(),
            |b, x| ActivationLayer::apply(b, Activation::ReluPoly { degree: 4 }, x).unwrap(),
        ),
        (
            "sigmoid_accurate",
            |b, x| {
                ActivationLayer::apply(b, Activation::Sigmoid(SigmoidKind::Accurate), x).unwrap()
            },
            |b, x| {
                ActivationLayer::apply(b, Activation::Sigmoid(SigmoidKind::Accurate), x).unwrap()
            },
        ),
        (
            "sigmoid_polynomial",
            |b, x| {
                ActivationLayer::apply(b, Activation::Sigmoid(SigmoidKind::Polynomial), x).unwrap()
            },
            |b, x| {
                ActivationLayer::apply(b, Activation::Sigmoid(SigmoidKind::Polynomial), x).unwrap()
            },
        ),
        (
            "sigmoid_piecewise",
            |b, x| {
                ActivationLayer::apply(b, Activation::Sigmoid(SigmoidKind::PiecewiseLinear), x)
                    .unwrap()
            },
            |b, x| {
                ActivationLayer::apply(b, Activation::Sigmoid(SigmoidKind::PiecewiseLinear), x)
                    .unwrap()
            },
        ),
        (
            "softmax_10_classes",
            |b, x| softmax(b, x).unwrap(),
            |b, x| softmax(b, x).unwrap(),
        ),
    ];
    for (name, op, plain) in cases {
        let mut g = c.benchmark_group(format!("nonlinear/{name}"));
        g.sample_size(10);
        for n in nonlinear_sizes() {
            let x = random(n / 10, 10, 7).mapv(|v| v * 8.0);
            for parties in [2usize, 3] {
                g.bench_function(BenchmarkId::new(format!("mpc_{parties}"), n), |bench| {
                    bench.iter_custom(|iters| {
                        let label = format!("nonlinear/{name}/{n}/{parties}");
                        mpc_time(&label, parties, iters, |b, _, _| {
                            let t = b.public(&x).unwrap();
                            op(b, &t);
                        })
                    })
                });
            }
            g.bench_function(BenchmarkId::new("f32", n), |bench| {
                let mut b = F32Backend;
                let t = b.public(&x).unwrap();
                bench.iter(|| plain(&mut b, &t))
            });
        }
        g.finish();
    }
}

mod groups {
    #![allow(missing_docs)]
    criterion::criterion_group!(
        benches,
        super::ring_matmul,
        super::protocols,
        super::linear_layer,
        super::nonlinear
    );
}
criterion_main!(groups::benches);
