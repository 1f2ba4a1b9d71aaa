//! Running one endpoint of a job file: a party (training or inference)
//! through the same launcher as the embedded runtime, or the dealer.

use super::*;

/// What one party's run reports, written as JSON next to its model.
#[derive(Debug, Clone, Serialize)]
pub struct PartyMetrics {
    /// The party.
    pub party: usize,
    /// Peer names, in the order of the counters.
    pub peers: Vec<String>,
    /// Counters: bytes per peer, rounds, dealer bytes and wait.
    pub stats: Stats,
    /// Seconds to connect and handshake.
    pub connect_s: f64,
    /// Seconds of the computation.
    pub compute_s: f64,
    /// Of which waiting for the dealer (preprocessing).
    pub preprocessing_s: f64,
    /// Of which the rest (online).
    pub online_s: f64,
    /// Training loss per epoch.
    pub epoch_losses: Vec<f64>,
    /// Train and test quality.
    pub metrics: crate::models::Metrics,
    /// Who was trusted.
    pub trust: String,
    /// Where the model was written, if this party received it.
    pub model_path: Option<PathBuf>,
}

/// This party's session over its TLS links: the PRG derived as in the
/// embedded runtime, and the provider set up by the same launcher.
pub(crate) fn open_session(
    file: &JobFile,
    id: usize,
    mut links: HashMap<String, TlsChannel>,
    frac_bits: u32,
) -> Result<Session, DeployError> {
    let n = file.party.len();
    let mut master = master_prg(file);
    // The dealer's stream comes first, as in the embedded runtime.
    let _dealer_prg = master.fork();
    let prg = (0..=id).map(|_| master.fork()).last().expect("id >= 0");
    let provider = match links.remove("dealer") {
        Some(link) => ProviderLink::Dealer(Box::new(link)),
        None => ProviderLink::Ot,
    };
    let channels: Vec<Option<Box<dyn Channel>>> = (0..n)
        .map(|p| {
            if p == id {
                None
            } else {
                Some(Box::new(links.remove(&party_name(p)).expect("linked")) as Box<dyn Channel>)
            }
        })
        .collect();
    let fixed = FixedPoint::new(frac_bits).map_err(|e| DeployError::JobFile {
        path: file.base.clone(),
        reason: e.to_string(),
    })?;
    Ok(launch(id, fixed, channels, provider, prg).map_err(crate::models::ModelError::from)?)
}

/// What one party of an inference job reports.
#[derive(Debug, Clone, Serialize)]
pub struct InferMetrics {
    /// The party.
    pub party: usize,
    /// Counters.
    pub stats: Stats,
    /// Seconds to connect and handshake.
    pub connect_s: f64,
    /// Seconds of the computation.
    pub compute_s: f64,
    /// Where the predictions were written (the querier only).
    pub predictions_path: Option<PathBuf>,
    /// The predictions (the querier only).
    #[serde(skip)]
    pub predictions: Option<Vec<Vec<f64>>>,
}

/// Runs party `id` of a private-inference job file: the owner contributes
/// its model, the querier its rows, and only the querier learns the predictions.
pub fn run_inference_party(file: &JobFile, id: usize) -> Result<InferMetrics, DeployError> {
    use crate::models::{load_model, party_infer, InferSpec};
    let inf = file.inference.as_ref().expect("an inference job");
    let n = file.party.len();
    let me = file.party.get(id).ok_or_else(|| DeployError::JobFile {
        path: file.base.clone(),
        reason: format!("there is no party {id} (the file lists {n})"),
    })?;
    let start = Instant::now();
    let model = if id == inf.owner {
        Some(load_model(&file.path(&inf.model))?)
    } else {
        None
    };
    let rows = if id == inf.querier {
        Some(Dataset::from_csv(
            file.path(me.data.as_ref().expect("checked at load")),
        )?)
    } else {
        None
    };
    let shape = rows.as_ref().map(|d| PartyShape {
        rows: d.rows(),
        features: d.feature_names.clone(),
    });
    // The owner announces the architecture (not the weights), sized for one row.
    let arch = match &model {
        Some(m) => Some(m.infer_spec(n, inf.owner, inf.querier, inf.output, 1)?),
        None => None,
    };
    let name = party_name(id);
    let (links, peers) = handshake(
        file,
        &name,
        &me.address,
        &me.cert,
        &me.key,
        shape.clone(),
        arch.clone(),
    )?;
    let arch = arch
        .or_else(|| {
            peers
                .get(&party_name(inf.owner))
                .and_then(|(_, a)| a.clone())
        })
        .ok_or_else(|| DeployError::Mismatch {
            peer: party_name(inf.owner),
            detail: "the owner sent no model architecture".into(),
        })?;
    let rows_n = shape
        .or_else(|| {
            peers
                .get(&party_name(inf.querier))
                .and_then(|(s, _)| s.clone())
        })
        .ok_or_else(|| DeployError::Mismatch {
            peer: party_name(inf.querier),
            detail: "the querier sent no data shape".into(),
        })?
        .rows;
    let spec = InferSpec {
        rows: rows_n,
        ..arch
    };
    // The architecture and the row count came from peers: sized before use.
    spec.check(n).map_err(|e| DeployError::Mismatch {
        peer: format!("{} or {}", party_name(inf.owner), party_name(inf.querier)),
        detail: e.to_string(),
    })?;
    // Party 0 lists the dealer's material with a dry run, so the dealer
    // makes it while the parties compute rather than one round trip at a time.
    let fixed = crate::tensor::FixedPoint::new(spec.frac_bits)
        .map_err(|e| crate::models::ModelError::Config(e.to_string()))?;
    let plan = match (id, file.preprocessing) {
        (0, Provider::Dealer) => crate::models::plan_infer(&spec, model.as_deref(), fixed)?,
        _ => Vec::new(),
    };
    let connect_s = start.elapsed().as_secs_f64();
    let compute = Instant::now();
    let mut sess = open_session(file, id, links, spec.frac_bits)?;
    sess.prep()
        .plan(&plan)
        .map_err(crate::models::ModelError::from)?;
    let predictions = party_infer(&mut sess, &spec, model.as_deref(), rows.as_ref())?;
    sess.finish().map_err(crate::models::ModelError::from)?;
    let predictions_path = match &predictions {
        Some(p) => {
            let path = file.path(&inf.out);
            // The same file as `tessera infer --out`: a header, then a row each.
            let what = match spec.output {
                crate::models::InferOutput::Class => crate::report::Columns::Class,
                crate::models::InferOutput::Scores => crate::report::Columns::Scores,
            };
            let classes = spec.dims.last().copied().unwrap_or(1);
            let text = crate::report::predictions_csv(spec.kind, classes, p, what);
            std::fs::write(&path, text)
                .map_err(|e| DeployError::Net(format!("cannot write {}: {e}", path.display())))?;
            Some(path)
        }
        None => None,
    };
    Ok(InferMetrics {
        party: id,
        stats: sess.stats(),
        connect_s,
        compute_s: compute.elapsed().as_secs_f64(),
        predictions_path,
        predictions,
    })
}

/// Runs party `id` of a job file to the end.
pub fn run_party(file: &JobFile, id: usize) -> Result<PartyMetrics, DeployError> {
    let n = file.party.len();
    let me = file.party.get(id).ok_or_else(|| DeployError::JobFile {
        path: file.base.clone(),
        reason: format!("there is no party {id} (the file lists {n})"),
    })?;
    let start = Instant::now();
    let data = Dataset::from_csv(file.path(me.data.as_ref().expect("checked at load")))?;
    let spec = file.spec();
    crate::models::check_own_data(&spec, id, &data)?;
    let my_shape = PartyShape {
        rows: data.rows(),
        features: data.feature_names.clone(),
    };
    let name = party_name(id);
    let (links, peer_shapes) = handshake(
        file,
        &name,
        &me.address,
        &me.cert,
        &me.key,
        Some(my_shape.clone()),
        None,
    )?;
    let shapes: Vec<PartyShape> = (0..n)
        .map(|p| {
            if p == id {
                Ok(my_shape.clone())
            } else {
                peer_shapes
                    .get(&party_name(p))
                    .and_then(|(s, _)| s.clone())
                    .ok_or_else(|| DeployError::Mismatch {
                        peer: party_name(p),
                        detail: "sent no data shape".into(),
                    })
            }
        })
        .collect::<Result<_, _>>()?;
    let connect_s = start.elapsed().as_secs_f64();
    let compute = Instant::now();
    let mut sess = open_session(file, id, links, spec.frac_bits)?;
    crate::models::check_parties_shapes(&spec, &shapes)?;
    let result = party_main(&mut sess, &spec, &shapes, &data)?;
    sess.finish().map_err(crate::models::ModelError::from)?;
    let compute_s = compute.elapsed().as_secs_f64();
    let stats = sess.stats();
    let model_path = match &result.model {
        Some(m) => {
            let path = file.path(
                &me.model_out
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("model-party-{id}.json"))),
            );
            m.save(&path)?;
            Some(path)
        }
        None => None,
    };
    Ok(PartyMetrics {
        party: id,
        peers: (0..n).map(party_name).collect(),
        preprocessing_s: stats.preprocessing_wait_s,
        online_s: compute_s - stats.preprocessing_wait_s,
        stats,
        connect_s,
        compute_s,
        epoch_losses: result.epoch_losses,
        metrics: result.metrics,
        trust: result.trust,
        model_path,
    })
}

/// Runs the dealer of a job file until party 0 is done.
pub fn run_dealer(file: &JobFile) -> Result<u64, DeployError> {
    let Some(d) = file.dealer() else {
        return Err(DeployError::JobFile {
            path: file.base.clone(),
            reason: "this job has no dealer: preprocessing = \"ot\" makes the parties \
                     generate their correlated randomness themselves"
                .into(),
        });
    };
    let (mut links, _) = handshake(file, "dealer", &d.address, &d.cert, &d.key, None, None)?;
    let mut master = master_prg(file);
    let prg = master.fork();
    let channels: Vec<Box<dyn Channel>> = (0..file.party.len())
        .map(|p| Box::new(links.remove(&party_name(p)).expect("linked")) as Box<dyn Channel>)
        .collect();
    let dealer = Dealer::start(channels, prg).map_err(crate::models::ModelError::from)?;
    Ok(dealer.serve().map_err(crate::models::ModelError::from)?)
}
