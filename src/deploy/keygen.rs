//! Making a job's certificate authority, each endpoint's certificate and key,
//! and an example job file.

use super::*;

/// Writes a CA and a certificate and key for each party and the dealer into
/// `dir`, with private keys readable by their owner only, plus an example job file.
pub fn keygen(
    dir: &Path,
    parties: usize,
    preprocessing: Provider,
) -> Result<Vec<PathBuf>, DeployError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    if parties < 2 {
        return Err(DeployError::Net(format!(
            "keygen: a job needs at least 2 parties, got {parties}"
        )));
    }
    let with_dealer = preprocessing == Provider::Dealer;
    let err = |e: &dyn std::fmt::Display| DeployError::Net(format!("keygen: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    let mut written = Vec::new();
    let write = |name: &str,
                 text: &str,
                 private: bool,
                 written: &mut Vec<PathBuf>|
     -> Result<(), DeployError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| err(&format!("{}: {e}", path.display())))?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(&e))?;
        }
        written.push(path);
        Ok(())
    };
    let ca_key = KeyPair::generate().map_err(|e| err(&e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tessera job CA");
    let ca = ca_params.self_signed(&ca_key).map_err(|e| err(&e))?;
    write("ca.pem", &ca.pem(), false, &mut written)?;
    write("ca.key", &ca_key.serialize_pem(), true, &mut written)?;
    let names: Vec<String> = (0..parties)
        .map(party_name)
        .chain(with_dealer.then(|| "dealer".to_string()))
        .collect();
    for name in &names {
        let key = KeyPair::generate().map_err(|e| err(&e))?;
        let mut params = CertificateParams::new(vec![name.clone()]).map_err(|e| err(&e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, name.clone());
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(|e| err(&e))?;
        write(&format!("{name}.pem"), &cert.pem(), false, &mut written)?;
        write(
            &format!("{name}.key"),
            &key.serialize_pem(),
            true,
            &mut written,
        )?;
    }
    let mut example =
        String::from("# A tessera job: copy to each host, edit addresses and data paths.\n");
    if !with_dealer {
        example += "# No dealer: the parties make their correlated randomness by oblivious transfer.\npreprocessing = \"ot\"\n";
    }
    example += "[job]\nmodel = \"logistic\"\nsplit = \"rows\"\nepochs = 10\nlearning_rate = 0.5\nbatch_size = 32\nseed = 42\n\n[tls]\nca = \"ca.pem\"\n\n[network]\nconnect_timeout_s = 30\nrecv_timeout_s = 60\n";
    if with_dealer {
        example += "\n[dealer]\naddress = \"127.0.0.1:7100\"\ncert = \"dealer.pem\"\nkey = \"dealer.key\"\n";
    }
    for i in 0..parties {
        example += &format!("\n[[party]]\naddress = \"127.0.0.1:{}\"\ncert = \"party-{i}.pem\"\nkey = \"party-{i}.key\"\ndata = \"party-{i}.csv\"\n", 7101 + i);
    }
    write("job.example.toml", &example, false, &mut written)?;
    Ok(written)
}
