//! `tessera bench`: the benchmark tasks and the building-block rates.

use super::*;

pub(crate) fn bench(a: BenchArgs, out: Output) -> Result<()> {
    let opts = tessera::bench::BenchOptions {
        quick: a.quick,
        mnist: a.mnist,
        onnx: a.onnx,
        data: a.data,
        filter: a.only,
        preprocessing: a.preprocessing,
        security: a.security,
        link: tessera::SimulatedLink::from_figures(a.latency_ms, a.bandwidth_mbps)
            .map_err(|e| anyhow::anyhow!("--latency-ms / --bandwidth-mbps: {e}"))?,
    };
    if out.text() {
        eprintln!(
            "tessera bench{}: 2 parties embedded (threads), each task next to plaintext f32 in this process; {}; security: {}; {}",
            if opts.quick { " --quick" } else { "" },
            link_words(&opts.link),
            opts.security.statement(),
            opts.preprocessing.trust()
        );
    }
    let bar = spinner(out, "running");
    let results = tessera::bench::run(&opts, |name| bar.set_message(format!("running {name}")))?;
    bar.finish_and_clear();
    let table = tessera::bench::markdown(&results);
    let prg = tessera::bench::prg_throughput();
    let kernel = tessera::bench::kernel_throughput(opts.quick)?;
    let ots = tessera::bench::random_ot_rate(if opts.quick { 1 << 18 } else { 1 << 22 })?;
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "quick": opts.quick,
        "preprocessing": opts.preprocessing,
        "trust": opts.preprocessing.trust(),
        "security": opts.security,
        "latency_ms": opts.link.delay.as_secs_f64() * 1e3,
        "bandwidth_mbps": opts.link.rate.map(|r| r * 8.0 / 1e6),
        "threads": rayon_threads(),
        "dealer_prg_bytes_per_s": prg,
        "random_ots_per_s": ots.0,
        "random_ot_bytes_sent": ots.1,
        "ring_matmul": kernel,
        "tasks": results,
    }))?;
    if let Some(p) = &a.json_out {
        std::fs::write(p, json.clone() + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &a.markdown {
        std::fs::write(p, &table).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if out.json {
        println!("{json}");
    } else if !out.quiet {
        print!("{table}");
        println!(
            "dealer PRG expansion (AES-128-CTR, one thread): {}/s",
            bytes(prg as u64)
        );
        println!(
            "ring matmul {n}^3: blocked kernel {:.2} G multiply-adds/s on one core, {:.2}x the plain i-k-j loop ({:.2} G/s); {:.2} G/s on {} cores",
            kernel.kernel_one_core / 1e9,
            kernel.kernel_one_core / kernel.ikj_one_core,
            kernel.ikj_one_core / 1e9,
            kernel.kernel_all_cores / 1e9,
            rayon_threads(),
            n = kernel.n,
        );
        println!(
            "random OT extension (IKNP, 2 parties, both directions): {:.1} M OTs/s, {:.1} bytes sent per OT",
            ots.0 / 1e6,
            ots.1
        );
    }
    Ok(())
}

/// The simulated link in words, for the run's header.
fn link_words(link: &tessera::SimulatedLink) -> String {
    if link.is_ideal() {
        return "no simulated network (in-memory links)".into();
    }
    let rate = link.rate.map_or("unlimited bandwidth".into(), |r| {
        format!("{:.0} Mbit/s", r * 8.0 / 1e6)
    });
    format!(
        "simulated network: {:.1} ms one way, {rate} on every link",
        link.delay.as_secs_f64() * 1e3
    )
}
