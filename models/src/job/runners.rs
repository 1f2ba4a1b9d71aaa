//! Running a job: every party as a thread of this process, or the same
//! recipe in plaintext as the twin to compare with.

use super::*;

/// Everything an embedded job reports.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// Each party's result, in party order.
    pub parties: Vec<PartyResult>,
    /// Each party's counters and wall time. With [`Embedded::make_ahead`],
    /// the waits and the wall time are the online phase's.
    pub cost: RunCost,
    /// Offline seconds before the online phase, with
    /// [`Embedded::make_ahead`]: the dry run listing the preprocessing
    /// items, then the provider making them (0 otherwise).
    pub offline_seconds: f64,
}

impl JobReport {
    /// The model as received by the first receiver.
    pub fn model(&self) -> Option<&SavedModel> {
        self.parties.iter().find_map(|p| p.model.as_ref())
    }
}

/// How an embedded run is set up beyond its spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embedded {
    /// Fixes all MPC randomness (reproducible, for tests only).
    pub mpc_seed: Option<[u8; 32]>,
    /// The simulated network between the threads (none by default).
    pub link: SimulatedLink,
    /// Semi-honest only: list the job's preprocessing by a dry run and have
    /// the provider make all of it before the parties start (the offline
    /// phase, as a dealer would between jobs), so that the run's time is
    /// the online phase alone; the offline time is reported apart. A job
    /// whose material is more than [`crate::MAX_PLANNED_WORDS`] words runs
    /// as without it. Off by default: the dealer then makes each step's
    /// material while the parties compute the step before.
    pub make_ahead: bool,
}

impl Embedded {
    /// A run with this seed (`None`: the operating system's randomness).
    pub fn seeded(mpc_seed: Option<[u8; 32]>) -> Self {
        Self {
            mpc_seed,
            ..Self::default()
        }
    }

    /// The runtime's settings for `parties` parties on this encoding and provider.
    pub(crate) fn config(
        &self,
        parties: usize,
        frac_bits: u32,
        provider: Provider,
    ) -> Result<EmbeddedConfig> {
        let mut cfg = EmbeddedConfig::new(parties)
            .with_preprocessing(provider)
            .over(self.link);
        cfg.fixed = FixedPoint::new(frac_bits).map_err(|e| ModelError::Config(e.to_string()))?;
        cfg.seed = self.mpc_seed;
        Ok(cfg)
    }
}

/// Runs a job with all parties (and the dealer) as threads of this process.
/// `data[p]` is party `p`'s data; each party thread reads only its own.
/// `mpc_seed` fixes all MPC randomness (reproducible, for tests only).
pub fn run_job_embedded(
    spec: &JobSpec,
    data: &[Dataset],
    mpc_seed: Option<[u8; 32]>,
) -> Result<JobReport> {
    run_job_embedded_observed(spec, data, Embedded::seeded(mpc_seed), &ignore_events)
}

/// [`run_job_embedded`], reporting party 0's training progress to `observe`
/// (every party trains in lockstep, so one party's progress is the job's).
pub fn run_job_embedded_observed(
    spec: &JobSpec,
    data: &[Dataset],
    run: Embedded,
    observe: Observer<'_>,
) -> Result<JobReport> {
    let shapes = check_parties(spec, data)?;
    let cfg = run.config(spec.parties, spec.frac_bits, spec.preprocessing)?;
    let planning = std::time::Instant::now();
    let items = tessera_protocols::session::fitting_plan(match (run.make_ahead, spec.security) {
        (true, Security::SemiHonest) => plan_job(spec, &shapes, &data[0], cfg.fixed)?,
        _ => Vec::new(),
    });
    let planning = planning.elapsed().as_secs_f64();
    let outs = run_embedded(&cfg, |sess| -> Result<_> {
        let me = sess.id();
        let observer: Observer<'_> = if me == 0 { observe } else { &ignore_events };
        let offline = match items.is_empty() {
            true => 0.0,
            false => sess.make_ahead(&items)?,
        };
        let before = sess.stats();
        let online = std::time::Instant::now();
        let result = party_run(sess, spec, &shapes, &data[me], observer)?;
        Ok((result, offline, online.elapsed().as_secs_f64(), before))
    })?;
    let made_ahead = !items.is_empty();
    Ok(JobReport {
        cost: RunCost {
            stats: outs
                .iter()
                .map(|o| o.stats.waits_since(&o.value.3))
                .collect(),
            seconds: outs
                .iter()
                .map(|o| match made_ahead {
                    true => o.value.2,
                    false => o.elapsed.as_secs_f64(),
                })
                .collect(),
        },
        offline_seconds: match made_ahead {
            true => planning + outs.iter().map(|o| o.value.1).fold(0.0, f64::max),
            false => 0.0,
        },
        parties: outs.into_iter().map(|o| o.value.0).collect(),
    })
}

/// The preprocessing items party 0 takes running `spec`, found by a dry run
/// of its program on zeros shaped like its data `mine` (only shapes matter:
/// MPC code never branches on secrets, and a real run that took other items
/// would have them made on demand, never wrong).
pub fn plan_job(
    spec: &JobSpec,
    shapes: &[PartyShape],
    mine: &Dataset,
    fixed: FixedPoint,
) -> Result<Vec<tessera_protocols::prep::Material>> {
    let zeros = Dataset {
        path: "dry run".into(),
        feature_names: mine.feature_names.clone(),
        features: ndarray::Array2::zeros(mine.features.dim()),
        labels: mine
            .labels
            .as_ref()
            .map(|l| ndarray::Array1::zeros(l.len())),
        lines: mine.lines.clone(),
    };
    tessera_protocols::session::plan(0, spec.parties, fixed, spec.preprocessing, |sess| {
        party_run(sess, spec, shapes, &zeros, &ignore_events)
    })
}

/// Result of training the same recipe in plaintext.
#[derive(Debug, Clone, Serialize)]
pub struct PlainReport {
    /// Backend used.
    pub backend: String,
    /// The model.
    pub model: SavedModel,
    /// Loss per epoch.
    pub epoch_losses: Vec<f64>,
    /// Held-out quality after each epoch, with `epoch_eval`.
    pub epoch_test: Vec<Evaluation>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Trains the same recipe on the same split in plaintext (`f32`, or fixed
/// point when `fixed` is set): the reference MPC results are compared with.
/// It runs the parties' own pipeline with every party's data in this
/// process: the same standardisation (in fixed point, as the parties open
/// it), the same sharing, training, evaluation and model assembly.
pub fn run_job_plaintext(spec: &JobSpec, data: &[Dataset], fixed: bool) -> Result<PlainReport> {
    let shapes = check_parties(spec, data)?;
    let start = std::time::Instant::now();
    // The reference is plaintext: its model is always assembled.
    let spec = &JobSpec {
        model_receivers: (0..spec.parties).collect(),
        ..spec.clone()
    };
    let fp = FixedPoint::new(spec.frac_bits).map_err(|e| ModelError::Config(e.to_string()))?;
    let all: Vec<Option<&Dataset>> = data.iter().map(Some).collect();
    let st = standardise_all(&mut FixedBackend::new(fp), fp, spec, &shapes, &all)?;
    let trust = "none (plaintext)";
    let (t, backend) = if fixed {
        let mut b = FixedBackend::new(fp);
        let t = train_jointly(&mut b, spec, &shapes, &st, &ignore_events, trust)?;
        ((t.model, t.epoch_losses, t.epoch_test), "fixed")
    } else {
        let t = train_jointly(&mut F32Backend, spec, &shapes, &st, &ignore_events, trust)?;
        ((t.model, t.epoch_losses, t.epoch_test), "f32")
    };
    let (model, epoch_losses, epoch_test) = t;
    Ok(PlainReport {
        backend: backend.into(),
        model: model.expect("every party receives the plaintext model"),
        epoch_losses,
        epoch_test,
        seconds: start.elapsed().as_secs_f64(),
    })
}
