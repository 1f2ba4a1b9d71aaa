//! The cost of active security: logistic regression trained semi-honest
//! and active (SPDZ2k MACs, dealer) in the same run, each against plaintext.

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
    if opts.preprocessing == Provider::Ot {
        out.push(skipped(
            "logreg_active",
            "logistic regression under active security".into(),
            "skipped with OT: authenticated material comes from the dealer so far".into(),
        ));
        return Ok(());
    }
    let data = Dataset::from_csv(opts.data.join("breast_cancer.csv"))?;
    let job = Job::logistic(2).epoch_eval(false).epochs(10);
    let parts = job.split_dataset(&data)?;
    progress("logreg_semi_honest");
    let honest = training_task(
        "logreg_semi_honest",
        "logistic regression, breast_cancer (455 train rows x 30), 10 epochs, batch 32, semi-honest"
            .into(),
        &job,
        &parts,
        None,
        reps,
    )?;
    progress("logreg_active");
    let mut active = training_task(
        "logreg_active",
        "the same, under active security (SPDZ2k MACs, every opening checked)".into(),
        &job.clone().security(Security::Active),
        &parts,
        None,
        reps,
    )?;
    let bytes = |t: &TaskResult| (t.bytes_sent_per_party + t.preprocessing_bytes) as f64;
    active.note = Some(format!(
        "{:.2}x the semi-honest time, {:.2}x its bytes (online and preprocessing; issue 16's targets: <= 3x, <= 2.5x)",
        active.mpc_s / honest.mpc_s,
        bytes(&active) / bytes(&honest)
    ));
    out.push(honest);
    out.push(active);
    Ok(())
}
