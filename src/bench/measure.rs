//! How a task is measured: wall time (fastest of several runs), bytes,
//! rounds, preprocessing time and peak memory, next to its plaintext twin.

use super::*;

/// Counters gathered from a run.
#[derive(Default)]
pub(crate) struct Cost {
    pub(crate) mpc_s: f64,
    pub(crate) wait_s: f64,
    pub(crate) peer_wait_s: f64,
    pub(crate) bytes: u64,
    pub(crate) preprocessing: u64,
    pub(crate) rounds: u64,
    /// Process CPU time of the run, set by [`fastest_run`].
    pub(crate) cpu_s: Option<f64>,
}

/// CPU time this process has used so far, all threads together (user and
/// system), where the platform reports it.
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes one `rusage` into the pointer it is given,
        // which points to a zeroed value of that type owned by this frame.
        #[allow(unsafe_code)]
        let (ok, usage) = unsafe {
            let ok = libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) == 0;
            (ok, usage.assume_init())
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        ok.then(|| secs(usage.ru_utime) + secs(usage.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

impl Cost {
    pub(crate) fn from_outcomes<T>(outs: &[PartyOutcome<T>]) -> Self {
        Self::from_stats(
            &outs.iter().map(|o| o.stats.clone()).collect::<Vec<_>>(),
            outs.iter()
                .map(|o| o.elapsed.as_secs_f64())
                .fold(0.0, f64::max),
        )
    }
    pub(crate) fn from_stats(stats: &[crate::protocols::Stats], mpc_s: f64) -> Self {
        Cost {
            mpc_s,
            wait_s: stats
                .iter()
                .map(|s| s.preprocessing_wait_s)
                .fold(0.0, f64::max),
            peer_wait_s: stats.iter().map(|s| s.peer_wait_s).fold(0.0, f64::max),
            bytes: stats.iter().map(|s| s.total_sent()).max().unwrap_or(0),
            preprocessing: stats
                .iter()
                .map(|s| s.preprocessing_bytes + s.preprocessing_bytes_sent)
                .max()
                .unwrap_or(0),
            rounds: stats.iter().map(|s| s.rounds).max().unwrap_or(0),
            cpu_s: None,
        }
    }
}

/// Resets the kernel's peak-RSS counter of this process (Linux).
pub(crate) fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset (Linux: `VmHWM`).
pub(crate) fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn result(
    name: &str,
    description: String,
    parties: usize,
    cost: Cost,
    plaintext_s: f64,
    target_ratio: Option<f64>,
    accuracy: (Option<f64>, Option<f64>),
    peak: Option<u64>,
) -> TaskResult {
    TaskResult {
        name: name.into(),
        description,
        parties,
        mpc_s: cost.mpc_s,
        plaintext_s,
        ratio: cost.mpc_s / plaintext_s.max(1e-9),
        target_ratio,
        target_seconds: None,
        offline_s: 0.0,
        preprocessing_wait_s: cost.wait_s,
        online_s: (cost.mpc_s - cost.wait_s).max(0.0),
        peer_wait_s: cost.peer_wait_s,
        bytes_sent_per_party: cost.bytes,
        preprocessing_bytes: cost.preprocessing,
        rounds: cost.rounds,
        peak_memory_bytes: peak,
        cpu_s: cost.cpu_s,
        accuracy_mpc: accuracy.0,
        accuracy_plaintext: accuracy.1,
        note: None,
    }
}

/// Times `f` a few times and keeps the fastest (plaintext runs are short and noisy).
pub(crate) fn best_of<T>(times: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..times.max(1) {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

/// Runs an MPC task `reps` times and keeps the fastest run: the machine is
/// shared and noisy, and the plaintext twins are timed the same way. With
/// `reps > 1`, a short task runs again while its runs so far took under a
/// second, up to the plaintext twins' 20 runs: short runs are the ones noise
/// distorts most.
pub(crate) fn fastest_run<T>(
    reps: usize,
    mut run: impl FnMut() -> Result<(Cost, T)>,
) -> Result<(Cost, T)> {
    const MAX_RUNS: usize = 20;
    let start = std::time::Instant::now();
    let more = |runs: usize| {
        runs < reps || (reps > 1 && runs < MAX_RUNS && start.elapsed().as_secs_f64() < 1.0)
    };
    let mut timed = || {
        let before = process_cpu_seconds();
        let (mut cost, value) = run()?;
        cost.cpu_s = before.zip(process_cpu_seconds()).map(|(a, b)| b - a);
        Ok::<_, ModelError>((cost, value))
    };
    let mut best = timed()?;
    let mut runs = 1;
    while more(runs) {
        runs += 1;
        let next = timed()?;
        if next.0.mpc_s < best.0.mpc_s {
            best = next;
        }
    }
    Ok(best)
}

/// Private inference of `model` on `rows` (party 0 the owner, party 1 the
/// querier, classes to the querier) against the same forward pass on the
/// f32 backend; accuracy against the rows' labels.
pub(crate) fn inference_task(
    name: &str,
    description: String,
    model: &dyn InferModel,
    rows: &Dataset,
    target: Option<f64>,
    reps: usize,
    opts: &BenchOptions,
) -> Result<TaskResult> {
    reset_peak_memory();
    let (cost, report) = fastest_run(reps, || {
        let mut spec = model.infer_spec(2, 0, 1, InferOutput::Class, rows.rows())?;
        spec.preprocessing = opts.preprocessing;
        spec.security = opts.security;
        let run = crate::models::Embedded {
            link: opts.link,
            ..Default::default()
        };
        let report = crate::models::run_inference_embedded_with(&spec, model, rows, run)?;
        let cost = Cost::from_stats(&report.cost.stats, report.cost.wall_seconds());
        Ok((cost, report))
    })?;
    let peak = peak_memory();
    let spec = model.infer_spec(2, 0, 1, InferOutput::Class, rows.rows())?;
    let (plain_s, plain) = best_of(20, || {
        infer_plain(&mut crate::layers::F32Backend, &spec, model, rows)
    });
    let plain = plain?;
    let labels = rows.labels.as_ref();
    let acc = |p: &[Vec<f64>]| {
        labels.map(|l| p.iter().zip(l).filter(|(p, y)| p[0] == **y).count() as f64 / p.len() as f64)
    };
    let mut r = result(
        name,
        description,
        2,
        cost,
        plain_s,
        target,
        (acc(&report.predictions), acc(&plain)),
        peak,
    );
    r.offline_s = report.planning_seconds;
    Ok(r)
}

/// Trains `job` under MPC and in plaintext on the same split.
pub(crate) fn training_task(
    name: &str,
    description: String,
    job: &Job,
    parts: &[Dataset],
    target: Option<f64>,
    reps: usize,
) -> Result<TaskResult> {
    reset_peak_memory();
    let (cost, trained) = fastest_run(reps, || {
        let trained = job.train(parts)?;
        // Made ahead: the online phase's wall time (the offline apart).
        let wall = match trained.report.offline_seconds > 0.0 {
            true => trained.report.cost.wall_seconds(),
            false => trained.metrics.wall_seconds,
        };
        let cost = Cost::from_stats(&trained.report.cost.stats, wall);
        Ok((cost, trained))
    })?;
    let peak = peak_memory();
    let (plain_s, plain) = best_of(5, || job.train_plaintext(parts));
    let plain = plain?;
    let acc = |m: &SavedModel| m.metrics.test.as_ref().and_then(|t| t.accuracy);
    let mut r = result(
        name,
        description,
        job.spec().parties,
        cost,
        plain_s,
        target,
        (trained.model.as_ref().and_then(acc), acc(&plain.model)),
        peak,
    );
    r.offline_s = trained.report.offline_seconds;
    Ok(r)
}

/// Runs one MPC operation on `parties` embedded parties with a fixed input
/// owned by party 0, against the `f32` twin.
pub(crate) fn op_task(
    opts: &BenchOptions,
    name: &str,
    description: String,
    shape: &[usize],
    reps: usize,
    plain: impl Fn(&[f32]) -> Vec<f32>,
    op: impl Fn(&mut Session, &AShare) -> std::result::Result<AShare, ProtocolError> + Sync,
) -> Result<TaskResult> {
    let fp = FixedPoint::default();
    let mut prg = Prg::from_seed([9; 32]);
    let len: usize = shape.iter().product();
    let xs: Vec<f64> = (0..len).map(|_| prg.next_f64() * 8.0 - 4.0).collect();
    let enc = RingTensor::from_vec(
        shape,
        xs.iter().map(|&v| fp.encode(v).expect("small")).collect(),
    )
    .map_err(|e| ModelError::Config(e.to_string()))?;
    // Offline, as for private inference: a dry run lists the material, the
    // provider makes it before the timed call (unless it is more than
    // `MAX_PLANNED_WORDS`; then it is made as the call goes).
    let planning = Instant::now();
    let zeros = AShare::from_share(RingTensor::zeros(shape));
    let items = crate::protocols::session::fitting_plan(crate::protocols::session::plan(
        0,
        2,
        fp,
        opts.preprocessing,
        |s| op(s, &zeros),
    )?);
    let planning_s = planning.elapsed().as_secs_f64();
    reset_peak_memory();
    let (cost, offline_s) = fastest_run(reps, || {
        let outs = run_embedded(&opts.embedded(), |s| {
            let x = arith::share_input(s, 0, (s.id() == 0).then_some(&enc), shape)?;
            let offline = s.make_ahead(&items)?;
            let before = s.stats();
            let online = Instant::now();
            let y = op(s, &x)?;
            // Nothing is opened: the result stays shared, as inside a model.
            Ok::<_, ProtocolError>((y.len(), offline, online.elapsed().as_secs_f64(), before))
        })?;
        let stats: Vec<_> = outs
            .iter()
            .map(|o| o.stats.waits_since(&o.value.3))
            .collect();
        let online = outs.iter().map(|o| o.value.2).fold(0.0, f64::max);
        let offline = outs.iter().map(|o| o.value.1).fold(0.0, f64::max);
        Ok((Cost::from_stats(&stats, online), offline))
    })?;
    let peak = peak_memory();
    let xf: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
    let (plain_s, _) = best_of(3, || plain(&xf));
    let mut r = result(
        name,
        description,
        2,
        cost,
        plain_s,
        None,
        (None, None),
        peak,
    );
    r.offline_s = planning_s + offline_s;
    Ok(r)
}

pub(crate) fn skipped(name: &str, description: String, why: String) -> TaskResult {
    TaskResult {
        name: name.into(),
        description,
        parties: 2,
        mpc_s: f64::NAN,
        plaintext_s: f64::NAN,
        ratio: f64::NAN,
        target_ratio: None,
        target_seconds: None,
        offline_s: f64::NAN,
        preprocessing_wait_s: f64::NAN,
        online_s: f64::NAN,
        peer_wait_s: f64::NAN,
        bytes_sent_per_party: 0,
        preprocessing_bytes: 0,
        rounds: 0,
        peak_memory_bytes: None,
        cpu_s: None,
        accuracy_mpc: None,
        accuracy_plaintext: None,
        note: Some(why),
    }
}
