//! `tessera party`: one endpoint of a distributed job file.

use super::*;

/// One party of a private-inference job file.
pub(crate) fn infer_party(file: &tessera::deploy::JobFile, a: PartyArgs) -> Result<()> {
    let inf = file.inference.as_ref().expect("checked at load");
    eprintln!(
        "tessera party {} of {}: private inference; party {} holds the model, party {} the rows and learns the predictions; security: semi-honest parties; {}",
        a.id,
        file.party.len(),
        inf.owner,
        inf.querier,
        file.preprocessing.trust()
    );
    let m = tessera::deploy::run_inference_party(file, a.id)?;
    let path = a.metrics.unwrap_or_else(|| {
        file.path(std::path::Path::new(&format!(
            "metrics-party-{}.json",
            a.id
        )))
    });
    std::fs::write(&path, serde_json::to_string_pretty(&m)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "party {}: sent {}, received {}, {} rounds; connect {:.2} s, compute {:.2} s",
        a.id,
        bytes(m.stats.total_sent()),
        bytes(m.stats.total_received()),
        m.stats.rounds,
        m.connect_s,
        m.compute_s
    );
    match &m.predictions_path {
        Some(p) => eprintln!("predictions written to {}", p.display()),
        None => eprintln!("this party learns nothing about the predictions"),
    }
    Ok(())
}

pub(crate) fn party(a: PartyArgs) -> Result<()> {
    let file = tessera::deploy::JobFile::load(&a.config)?;
    // Checked before anything is announced: "party 5 of 2" is no banner.
    if a.id >= file.party.len() {
        bail!(
            "there is no party {}: {} lists {} parties (ids 0 to {})",
            a.id,
            a.config.display(),
            file.party.len(),
            file.party.len() - 1
        );
    }
    let Some(job) = &file.job else {
        return infer_party(&file, a);
    };
    eprintln!(
        "tessera party {} of {}: {}, split by {:?}; security: {}; {}",
        a.id,
        file.party.len(),
        job.model,
        job.split,
        file.security.statement(),
        file.preprocessing.trust()
    );
    if job.insecure_mpc_seed.is_some() {
        eprintln!(
            "WARNING: insecure_mpc_seed makes every share predictable; use it only for tests"
        );
    }
    let m = tessera::deploy::run_party(&file, a.id)?;
    let path = a.metrics.unwrap_or_else(|| {
        file.path(std::path::Path::new(&format!(
            "metrics-party-{}.json",
            a.id
        )))
    });
    std::fs::write(&path, serde_json::to_string_pretty(&m)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(t) = &m.metrics.test {
        eprintln!("test: {}", describe(t));
    }
    eprintln!(
        "party {}: sent {}, received {}, {} rounds; connect {:.2} s, compute {:.2} s (preprocessing {:.2} s)",
        a.id,
        bytes(m.stats.total_sent()),
        bytes(m.stats.total_received()),
        m.stats.rounds,
        m.connect_s,
        m.compute_s,
        m.preprocessing_s
    );
    match &m.model_path {
        Some(p) => eprintln!("model written to {}", p.display()),
        None => eprintln!("this party does not receive the model"),
    }
    eprintln!("metrics written to {}", path.display());
    Ok(())
}
