//! Connecting the endpoints over mutual TLS and checking, before any data
//! flows, that all run the same job (the first differing field is named).

use super::*;

/// First field where two JSON values differ, as a path, with both values.
pub(crate) fn first_difference(
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
    path: &str,
) -> Option<String> {
    use serde_json::Value;
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                first_difference(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &p,
                )
            })
        }
        (a, b) if a != b => Some(format!("field '{path}': ours is {a}, theirs is {b}")),
        _ => None,
    }
}

/// The handshake message of one endpoint.
#[derive(Serialize, Deserialize)]
pub(crate) struct Hello {
    job: serde_json::Value,
    shape: Option<PartyShape>,
    /// In private inference, the owner's public model architecture.
    #[serde(default)]
    arch: Option<crate::models::InferSpec>,
}

/// Links to every peer, and each peer's declared data shape.
pub(crate) type Handshaken = (
    HashMap<String, TlsChannel>,
    HashMap<String, (Option<PartyShape>, Option<crate::models::InferSpec>)>,
);

/// Connects, sends our hello on every link and checks every peer's.
pub(crate) fn handshake(
    file: &JobFile,
    me: &str,
    my_address: &str,
    cert: &Path,
    key: &Path,
    shape: Option<PartyShape>,
    arch: Option<crate::models::InferSpec>,
) -> Result<Handshaken, DeployError> {
    let identity = TlsIdentity::load(&file.path(&file.tls.ca), &file.path(cert), &file.path(key))
        .map_err(|e| DeployError::Net(e.to_string()))?;
    let listener = TcpListener::bind(file.address(my_address)?)
        .map_err(|e| DeployError::Net(format!("{me}: cannot listen on {my_address}: {e}")))?;
    let peers: Vec<(String, SocketAddr)> = file
        .endpoints()?
        .into_iter()
        .filter(|(n, _)| n != me)
        .collect();
    tracing::info!(
        endpoint = me,
        listen = my_address,
        peers = peers.len(),
        "connecting over mutual TLS"
    );
    let mut links = connect_all(me, listener, &peers, &identity, &file.options())
        .map_err(|e| DeployError::Net(format!("{me}: {e}")))?;
    tracing::info!(
        endpoint = me,
        "connected; checking every endpoint runs the same job"
    );
    let ours = file.public_description();
    let hello = serde_json::to_vec(&Hello {
        job: ours.clone(),
        shape,
        arch,
    })
    .expect("hello serialises");
    for (name, link) in links.iter_mut() {
        link.send(hello.clone()).map_err(|e| {
            DeployError::Net(format!("{me}: lost {name} during the handshake: {e}"))
        })?;
    }
    let mut shapes = HashMap::new();
    for (name, _) in &peers {
        let link = links.get_mut(name).expect("linked");
        let frame = link
            .recv()
            .map_err(|e| DeployError::Net(format!("{me}: no handshake from {name}: {e}")))?;
        let theirs: Hello = serde_json::from_slice(&frame).map_err(|e| DeployError::Mismatch {
            peer: name.clone(),
            detail: format!("unreadable handshake ({e}); is it a tessera endpoint?"),
        })?;
        if let Some(detail) = first_difference(&ours, &theirs.job, "") {
            return Err(DeployError::Mismatch {
                peer: name.clone(),
                detail,
            });
        }
        shapes.insert(name.clone(), (theirs.shape, theirs.arch));
    }
    Ok((links, shapes))
}

/// The master PRG of a run: from the insecure seed (reproducible, identical to
/// the embedded mode's) or from the operating system.
pub(crate) fn master_prg(file: &JobFile) -> Prg {
    let seed = match (&file.job, &file.inference) {
        (Some(j), _) => j.insecure_mpc_seed,
        (None, Some(i)) => i.insecure_mpc_seed,
        (None, None) => None,
    };
    match seed {
        Some(s) => {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&s.to_le_bytes());
            Prg::from_seed(k)
        }
        None => Prg::from_entropy(),
    }
}
