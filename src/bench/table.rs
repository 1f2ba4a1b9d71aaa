//! The results as a Markdown table.

use super::*;

pub(crate) fn fmt_s(s: f64) -> String {
    if s.is_nan() {
        "-".into()
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} us", s * 1e6)
    }
}

/// A run's CPU time and how many cores it kept busy on average: above 1
/// for a run whose threads overlap (parties, the dealer, worker pools).
fn cpu_cell(r: &TaskResult) -> String {
    match r.cpu_s {
        // The cores figure only means something where the CPU time and the
        // wall time cover the same span (not for made-ahead runs).
        Some(cpu) if r.offline_s == 0.0 => {
            format!("{} ({:.1} cores)", fmt_s(cpu), cpu / r.mpc_s.max(1e-9))
        }
        Some(cpu) => fmt_s(cpu),
        None => "-".into(),
    }
}

/// The results as a Markdown table.
pub fn markdown(results: &[TaskResult]) -> String {
    let mut t = String::from(
        "| task | MPC | plaintext f32 | ratio (target) | CPU, all threads | prep. wait / online (peer wait) | offline | sent per party | preprocessing bytes | rounds | peak memory | accuracy MPC / f32 |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        if let Some(note) = r.note.as_ref().filter(|_| r.mpc_s.is_nan()) {
            t += &format!("| {} | {note} | | | | | | | | | | |\n", r.description);
            continue;
        }
        let description = match &r.note {
            Some(note) => format!("{} ({note})", r.description),
            None => r.description.clone(),
        };
        let acc = match (r.accuracy_mpc, r.accuracy_plaintext) {
            (Some(a), Some(b)) => format!("{:.2}% / {:.2}%", 100.0 * a, 100.0 * b),
            _ => "-".into(),
        };
        let target = r
            .target_ratio
            .map(|t| format!(" (<= {t:.0}x)"))
            .unwrap_or_default();
        t +=
            &format!(
            "| {} | {} | {} | {:.1}x{target} | {} | {} / {} ({}) | {} | {} | {} | {} | {} | {acc} |\n",
            description,
            match r.target_seconds {
                Some(t) => format!("{} (<= {})", fmt_s(r.mpc_s), fmt_s(t)),
                None => fmt_s(r.mpc_s),
            },
            fmt_s(r.plaintext_s),
            r.ratio,
            cpu_cell(r),
            fmt_s(r.preprocessing_wait_s),
            fmt_s(r.online_s),
            fmt_s(r.peer_wait_s),
            if r.offline_s > 0.0 { fmt_s(r.offline_s) } else { "-".into() },
            crate::human_bytes(r.bytes_sent_per_party),
            crate::human_bytes(r.preprocessing_bytes),
            r.rounds,
            r.peak_memory_bytes
                .map(crate::human_bytes)
                .unwrap_or_else(|| "-".into()),
        );
    }
    t
}
