//! Running a job: every party as a thread of this process, or the same
//! recipe in plaintext as the twin to compare with.

use super::*;

/// Everything an embedded job reports.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// Each party's result, in party order.
    pub parties: Vec<PartyResult>,
    /// Each party's counters and wall time.
    pub cost: RunCost,
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
    let outs = run_embedded(&cfg, |sess| {
        let me = sess.id();
        let observer: Observer<'_> = if me == 0 { observe } else { &ignore_events };
        party_run(sess, spec, &shapes, &data[me], observer)
    })?;
    Ok(JobReport {
        cost: RunCost::of(&outs),
        parties: outs.into_iter().map(|o| o.value).collect(),
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
