//! The cost of active security: linear regression trained semi-honest and
//! active (SPDZ2k MACs, dealer) in the same run, each against plaintext.

use super::*;
use crate::models::Security;

/// Linear regression on breast_cancer (the label as the target), 10
/// epochs, semi-honest then active; the active task's note gives its time
/// and bytes against the semi-honest one.
pub(crate) fn linreg_tasks(
    opts: &BenchOptions,
    reps: usize,
    out: &mut Vec<TaskResult>,
    progress: &mut impl FnMut(&str),
) -> Result<()> {
    if opts.preprocessing == Provider::Ot {
        out.push(skipped(
            "linreg_active",
            "linear regression under active security".into(),
            "skipped with OT: authenticated material comes from the dealer so far".into(),
        ));
        return Ok(());
    }
    let data = Dataset::from_csv(opts.data.join("breast_cancer.csv"))?;
    let job = Job::linear(2)
        .epoch_eval(false)
        .epochs(10)
        .learning_rate(0.05);
    let parts = job.split_dataset(&data)?;
    progress("linreg_semi_honest");
    let honest = training_task(
        "linreg_semi_honest",
        "linear regression, breast_cancer (455 train rows x 30), 10 epochs, batch 32, semi-honest"
            .into(),
        &job,
        &parts,
        None,
        reps,
    )?;
    progress("linreg_active");
    let mut active = training_task(
        "linreg_active",
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
