//! Small pieces of the terminal output shared by the commands.

use super::*;

/// A progress bar on stderr, hidden for --quiet, --json and non-terminals.
pub(crate) fn progress_bar(out: Output, len: u64) -> indicatif::ProgressBar {
    if !out.text() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:32}] {pos}/{len} batches, {per_sec}, ETA {eta}  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message("sharing the data");
    bar
}

/// A spinner on stderr for a step without a known length.
pub(crate) fn spinner(out: Output, msg: &'static str) -> indicatif::ProgressBar {
    if !out.text() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(msg);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

pub(crate) fn describe(e: &Evaluation) -> String {
    match (e.accuracy, e.r2) {
        (Some(acc), _) => format!("accuracy {:.2}% ({} rows)", acc * 100.0, e.rows),
        (_, Some(r2)) => format!(
            "R^2 {r2:.4}, MSE {:.4} ({} rows)",
            e.mse.unwrap_or(f64::NAN),
            e.rows
        ),
        _ => String::from("-"),
    }
}

/// A job needs two parties at least: one alone has nobody to compute with.
pub(crate) fn at_least_two_parties(parties: usize) -> Result<()> {
    if parties < 2 {
        anyhow::bail!(
            "--parties must be at least 2 (got {parties}): a job is computed jointly by two or more parties"
        );
    }
    Ok(())
}

/// Threads available to the kernels (for the record).
pub(crate) fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
