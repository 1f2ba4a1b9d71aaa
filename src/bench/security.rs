//! The cost of active security: logistic regression and an MLP epoch
//! trained semi-honest and active (SPDZ2k MACs, dealer) in the same run,
//! each against plaintext.

use super::*;
use crate::models::Security;

/// Logistic regression on breast_cancer, 10 epochs, semi-honest then
/// active; the active task's note gives its time and bytes against the
/// semi-honest one.
pub(crate) fn security_tasks(
    opts: &BenchOptions,
    reps: usize,
    out: &mut Vec<TaskResult>,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    let matches = |name: &str| !matches!(&opts.filter, Some(f) if !name.contains(f.as_str()));
    if opts.preprocessing == Provider::Ot {
        for name in ["logreg_active", "mlp_active"]
            .into_iter()
            .filter(|n| matches(n))
        {
            out.push(skipped(
                name,
                "under active security".into(),
                "skipped with OT: authenticated material comes from the dealer so far".into(),
            ));
        }
        return Ok(());
    }
    if matches("logreg_semi_honest") || matches("logreg_active") {
        let data = Dataset::from_csv(opts.data.join("breast_cancer.csv"))?;
        let job = Job::logistic(2)
            .over(opts.link)
            .epoch_eval(false)
            .epochs(10);
        let parts = job.split_dataset(&data)?;
        let what = "logistic regression, breast_cancer (455 train rows x 30), 10 epochs, batch 32";
        side_by_side("logreg", what, &job, &parts, reps, out, progress)?;
    }
    if matches("mlp_semi_honest") || matches("mlp_active") {
        let digits = Dataset::from_csv(opts.data.join("digits.csv"))?;
        // A quick run trains on the first 320 rows only.
        let digits = match opts.quick {
            true => digits.select(&(0..320).collect::<Vec<_>>()),
            false => digits,
        };
        let job = Job::mlp(2, &[128], 10)
            .over(opts.link)
            .epoch_eval(false)
            .epochs(1)
            .batch_size(64)
            .learning_rate(0.2);
        let parts = job.split_dataset(&digits)?;
        let what = format!(
            "MLP 64-128-10, digits ({} rows), 1 epoch, batch 64",
            digits.rows()
        );
        side_by_side("mlp", &what, &job, &parts, reps, out, progress)?;
    }
    Ok(())
}

/// `job` semi-honest then active, as `{name}_semi_honest` and
/// `{name}_active`; the active task's note compares the two.
fn side_by_side(
    name: &str,
    what: &str,
    job: &Job,
    parts: &[Dataset],
    reps: usize,
    out: &mut Vec<TaskResult>,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    let (honest_name, active_name) = (format!("{name}_semi_honest"), format!("{name}_active"));
    progress(&honest_name);
    let honest = training_task(
        &honest_name,
        format!("{what}, semi-honest"),
        job,
        parts,
        None,
        reps,
    )?;
    progress(&active_name);
    let mut active = training_task(
        &active_name,
        "the same, under active security (SPDZ2k MACs, every opening checked)".into(),
        &job.clone().security(Security::Active),
        parts,
        None,
        reps,
    )?;
    let online = |t: &TaskResult| t.bytes_sent_per_party as f64;
    let all = |t: &TaskResult| (t.bytes_sent_per_party + t.preprocessing_bytes) as f64;
    active.note = Some(format!(
        "{:.2}x the semi-honest time; {:.2}x its bytes between parties, {:.2}x with the dealer's (issue 16's targets: <= 3x, <= 2.5x)",
        active.mpc_s / honest.mpc_s,
        online(&active) / online(&honest),
        all(&active) / all(&honest)
    ));
    out.push(honest);
    out.push(active);
    Ok(())
}
