//! Rates of the building blocks: the PRG, random OT extension and the ring
//! matmul kernel.

use super::*;

/// Bytes per second one thread of the dealer expands from a seed (the
/// AES-CTR stream all preprocessing material is drawn from), best of three
/// runs of 64 MiB.
pub fn prg_throughput() -> f64 {
    let mut buf = vec![0u64; 8 << 20];
    let (s, _) = best_of(3, || Prg::from_seed([5; 32]).fill(&mut buf));
    (buf.len() * 8) as f64 / s
}

/// Random OTs per second between two parties on in-memory links (the IKNP
/// extension alone, both directions at once, after the base OTs), and bytes
/// sent per OT: the rate every OT-made correlation builds on.
pub fn random_ot_rate(n: usize) -> Result<(f64, f64)> {
    use crate::protocols::channel::{MemChannel, DEFAULT_TIMEOUT};
    use crate::protocols::prep::OtProvider;
    use crate::protocols::Channel;
    let (a, b) = MemChannel::pair(DEFAULT_TIMEOUT);
    let links: Vec<Vec<Option<Box<dyn Channel>>>> =
        vec![vec![None, Some(Box::new(a))], vec![Some(Box::new(b)), None]];
    let runs: Vec<std::result::Result<(f64, u64), ProtocolError>> = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .into_iter()
            .enumerate()
            .map(|(id, chans)| {
                s.spawn(move || {
                    let mut p = OtProvider::connect(id, chans, Prg::from_seed([id as u8 + 1; 32]))?;
                    let before = crate::protocols::Preprocessing::bytes_sent(&p);
                    let start = Instant::now();
                    // In batches of 2^18, as the provider makes its own.
                    for _ in 0..n.div_ceil(1 << 18) {
                        p.random_ots(1 << 18, |j| (j & 1) as u64)?;
                    }
                    let sent = crate::protocols::Preprocessing::bytes_sent(&p) - before;
                    Ok((start.elapsed().as_secs_f64(), sent))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("OT benchmark thread"))
            .collect()
    });
    let mut worst = 0f64;
    let mut bytes = 0u64;
    for r in runs {
        let (t, b) = r?;
        worst = worst.max(t);
        bytes = bytes.max(b);
    }
    // Each party received as many OTs as it sent: twice that in all.
    let per_party = (n.div_ceil(1 << 18) << 18) as f64;
    Ok((2.0 * per_party / worst, bytes as f64 / per_party))
}

/// The ring matmul kernel against the plain i-k-j loop on one core, and the
/// kernel on all cores, in multiply-adds per second (`n^3` products).
#[derive(Debug, Clone, Serialize)]
pub struct KernelRate {
    /// Matrix size.
    pub n: usize,
    /// The blocked kernel, one thread.
    pub kernel_one_core: f64,
    /// The plain i-k-j loop, one thread.
    pub ikj_one_core: f64,
    /// The blocked kernel, every core.
    pub kernel_all_cores: f64,
}

/// Measures [`KernelRate`] at `n = 1024` (256 with `quick`), best of two runs each.
pub fn kernel_throughput(quick: bool) -> Result<KernelRate> {
    use crate::tensor::matmul::{ring_matmul, ring_matmul_ikj};
    let n = if quick { 256 } else { 1024 };
    let mut prg = Prg::from_seed([8; 32]);
    let (a, b) = (prg.next_u64_vec(n * n), prg.next_u64_vec(n * n));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| ModelError::Config(format!("cannot start a thread pool: {e}")))?;
    let rate = |s: f64| (n * n * n) as f64 / s;
    let (kernel_1, _) = one.install(|| best_of(2, || ring_matmul(&a, &b, n, n, n)));
    let (ikj_1, _) = best_of(2, || ring_matmul_ikj(&a, &b, n, n, n));
    let (kernel_all, _) = best_of(2, || ring_matmul(&a, &b, n, n, n));
    Ok(KernelRate {
        n,
        kernel_one_core: rate(kernel_1),
        ikj_one_core: rate(ikj_1),
        kernel_all_cores: rate(kernel_all),
    })
}
