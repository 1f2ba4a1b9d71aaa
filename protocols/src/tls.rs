//! TCP links secured with mutual TLS (rustls), one per direction.
//!
//! Every pair of endpoints (parties and the dealer) holds two TLS connections:
//! each side sends on the connection it opened as a client and receives on
//! the one it accepted as a server. A writer thread and a reader thread own
//! one stream each, so both sides can send large frames at once without
//! deadlock, and no lock is shared between reading and writing.
//!
//! Every endpoint has a certificate from the job's CA naming it (`party-0`,
//! `dealer`, ...). A client checks the server's certificate against the name
//! it dials; a server checks the client's certificate against the CA and
//! learns from it which peer is connecting. Frames are a 4-byte little-endian
//! length and the payload; a length above the limit is an error, never an
//! allocation.

use crate::channel::{Channel, NetError, SimulatedLink};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An endpoint's credentials: the job's CA, its certificate chain and key.
pub struct TlsIdentity {
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn io_err(what: impl std::fmt::Display) -> NetError {
    NetError::Io(what.to_string())
}

impl TlsIdentity {
    /// Loads PEM files: the CA certificate, this endpoint's certificate and its private key.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<Self, NetError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| io_err(format!("cannot read {}: {e}", p.display())))
        };
        let certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, NetError> {
            let bytes = read(p)?;
            let list: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
                .collect::<Result<_, _>>()
                .map_err(|e| io_err(format!("{}: not a PEM certificate: {e}", p.display())))?;
            if list.is_empty() {
                return Err(io_err(format!("{}: no certificate found", p.display())));
            }
            Ok(list)
        };
        let mut roots = RootCertStore::empty();
        for c in certs(ca)? {
            roots
                .add(c)
                .map_err(|e| io_err(format!("{}: bad CA certificate: {e}", ca.display())))?;
        }
        let key_bytes = read(key)?;
        let key = rustls_pemfile::private_key(&mut key_bytes.as_slice())
            .map_err(|e| io_err(format!("{}: {e}", key.display())))?
            .ok_or_else(|| io_err(format!("{}: no private key found", key.display())))?;
        Ok(Self {
            roots: Arc::new(roots),
            chain: certs(cert)?,
            key,
        })
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn client_config(&self) -> Result<Arc<ClientConfig>, NetError> {
        let cfg = ClientConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .map_err(io_err)?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| io_err(format!("bad certificate or key: {e}")))?;
        Ok(Arc::new(cfg))
    }

    fn server_config(&self) -> Result<Arc<ServerConfig>, NetError> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            self.roots.clone(),
            Self::provider(),
        )
        .build()
        .map_err(io_err)?;
        let mut cfg = ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .map_err(io_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| io_err(format!("bad certificate or key: {e}")))?;
        cfg.send_tls13_tickets = 0;
        Ok(Arc::new(cfg))
    }
}

/// Network settings shared by every link of an endpoint.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// How long to keep trying to reach peers (they may start in any order).
    pub connect_deadline: Duration,
    /// How long a receive waits before the peer counts as lost.
    pub recv_timeout: Duration,
    /// Largest frame accepted, in bytes.
    pub max_frame: usize,
    /// Simulated latency and bandwidth added to every frame (none by default).
    pub link: SimulatedLink,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            connect_deadline: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(60),
            max_frame: 1 << 31,
            link: SimulatedLink::default(),
        }
    }
}

type Incoming = Result<(Vec<u8>, Instant), NetError>;

/// A full-duplex link to one peer over two TLS connections.
pub struct TlsChannel {
    tx: Option<Sender<Vec<u8>>>,
    rx: Receiver<Incoming>,
    timeout: Duration,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TlsChannel {
    /// Lets the writer finish sending what was queued (for example a
    /// handshake reply explaining why this endpoint stops) before the
    /// connection closes.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Channel for TlsChannel {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), NetError> {
        match &self.tx {
            Some(tx) => tx.send(frame).map_err(|_| NetError::Disconnected),
            None => Err(NetError::Disconnected),
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        match self.rx.recv_timeout(self.timeout) {
            Ok(Ok((frame, at))) => {
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                Ok(frame)
            }
            Ok(Err(e)) => Err(e),
            Err(RecvTimeoutError::Timeout) => Err(NetError::Timeout(self.timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(NetError::Disconnected),
        }
    }
}

/// Writes one frame: 4-byte little-endian length, then the payload.
pub fn write_frame(w: &mut impl Write, frame: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(frame.len()).map_err(|_| std::io::Error::other("frame over 4 GiB"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(frame)?;
    w.flush()
}

/// Reads one frame, refusing lengths above `max` before allocating.
pub fn read_frame(r: &mut impl Read, max: usize) -> Result<Vec<u8>, NetError> {
    let mut len = [0u8; 4];
    read_exact(r, &mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(NetError::Oversized {
            size: len,
            limit: max,
        });
    }
    let mut buf = vec![0u8; len];
    read_exact(r, &mut buf)?;
    Ok(buf)
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), NetError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe
        | std::io::ErrorKind::ConnectionAborted => NetError::Disconnected,
        _ => io_err(e),
    })
}

fn spawn_link<W, R>(mut out: W, mut inp: R, opts: &LinkOptions) -> TlsChannel
where
    W: Write + Send + 'static,
    R: Read + Send + 'static,
{
    let (tx, out_q) = channel::<Vec<u8>>();
    let (in_q, rx) = channel::<Incoming>();
    let link = opts.link;
    let writer = std::thread::spawn(move || {
        while let Ok(frame) = out_q.recv() {
            std::thread::sleep(link.transfer_time(frame.len()));
            if write_frame(&mut out, &frame).is_err() {
                return;
            }
        }
    });
    let (max, delay) = (opts.max_frame, opts.link.delay);
    std::thread::spawn(move || loop {
        let got = read_frame(&mut inp, max).map(|f| (f, Instant::now() + delay));
        let stop = got.is_err();
        if in_q.send(got).is_err() || stop {
            return;
        }
    });
    TlsChannel {
        tx: Some(tx),
        rx,
        timeout: opts.recv_timeout,
        writer: Some(writer),
    }
}

/// Opens mutually authenticated links to every peer. `me` is this
/// endpoint's certificate name, `listener` its bound socket, `peers` the
/// other endpoints' names and addresses. Peers may start in any order:
/// dialing retries with backoff until the deadline.
pub fn connect_all(
    me: &str,
    listener: TcpListener,
    peers: &[(String, SocketAddr)],
    identity: &TlsIdentity,
    opts: &LinkOptions,
) -> Result<HashMap<String, TlsChannel>, NetError> {
    let deadline = Instant::now() + opts.connect_deadline;
    let server_cfg = identity.server_config()?;
    let client_cfg = identity.client_config()?;
    let names: Vec<String> = peers.iter().map(|(n, _)| n.clone()).collect();
    // Accept one connection from each peer in the background.
    let acceptor = {
        let names = names.clone();
        let me = me.to_string();
        std::thread::spawn(move || accept_all(&me, listener, &names, server_cfg, deadline))
    };
    let mut outgoing = HashMap::new();
    for (name, addr) in peers {
        outgoing.insert(
            name.clone(),
            dial(name, *addr, client_cfg.clone(), deadline)?,
        );
    }
    let mut incoming = acceptor
        .join()
        .map_err(|_| io_err("the accepting thread crashed"))??;
    let mut links = HashMap::new();
    for name in names {
        let out = outgoing.remove(&name).expect("dialed every peer");
        let inp = incoming.remove(&name).expect("accepted every peer");
        links.insert(name, spawn_link(out, inp, opts));
    }
    Ok(links)
}

/// Connects to a peer and completes the TLS handshake, retrying until
/// `deadline` while the peer is unreachable, drops the connection during
/// the handshake (a peer still starting, or a proxy in front of it), or does
/// not answer. A handshake the peer refuses (certificates) fails at once.
fn dial(
    name: &str,
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<StreamOwned<ClientConnection, TcpStream>, NetError> {
    let mut backoff = Duration::from_millis(20);
    loop {
        let why = match dial_once(name, addr, &cfg, deadline) {
            Ok(tls) => return Ok(tls),
            Err(Dialled::Refused(e)) => return Err(e),
            Err(Dialled::Retry(why)) => why,
        };
        if Instant::now() + backoff >= deadline {
            return Err(io_err(format!(
                "cannot connect to {name} at {addr} before the deadline: {why}"
            )));
        }
        tracing::debug!(peer = name, %addr, why, "connecting again");
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(500));
    }
}

/// Why one attempt of [`dial`] failed.
enum Dialled {
    /// Worth another try before the deadline.
    Retry(String),
    /// The peer refused us: no point trying again.
    Refused(NetError),
}

fn dial_once(
    name: &str,
    addr: SocketAddr,
    cfg: &Arc<ClientConfig>,
    deadline: Instant,
) -> Result<StreamOwned<ClientConnection, TcpStream>, Dialled> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(10));
    let tcp = TcpStream::connect_timeout(&addr, left.min(Duration::from_secs(2)))
        .map_err(|e| Dialled::Retry(e.to_string()))?;
    let fatal = |e: String| Dialled::Refused(io_err(e));
    tcp.set_nodelay(true).map_err(|e| fatal(e.to_string()))?;
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|e| fatal(format!("bad peer name {name}: {e}")))?;
    let conn = ClientConnection::new(cfg.clone(), server_name).map_err(|e| fatal(e.to_string()))?;
    let mut tls = StreamOwned::new(conn, tcp);
    let wait = left.min(Duration::from_secs(10));
    tls.sock
        .set_read_timeout(Some(wait))
        .map_err(|e| fatal(e.to_string()))?;
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            use std::io::ErrorKind::*;
            return Err(match e.kind() {
                // rustls reports a refused or invalid handshake as invalid data.
                InvalidData => fatal(format!("TLS handshake with {name} at {addr} failed: {e}")),
                WouldBlock | TimedOut => Dialled::Retry(format!(
                    "the TLS handshake got no answer in {:.1} s",
                    wait.as_secs_f64()
                )),
                _ => Dialled::Retry(format!("the TLS handshake was cut off ({e})")),
            });
        }
    }
    tls.sock
        .set_read_timeout(None)
        .map_err(|e| fatal(e.to_string()))?;
    Ok(tls)
}

fn accept_all(
    me: &str,
    listener: TcpListener,
    names: &[String],
    cfg: Arc<ServerConfig>,
    deadline: Instant,
) -> Result<HashMap<String, StreamOwned<ServerConnection, TcpStream>>, NetError> {
    listener.set_nonblocking(true).map_err(io_err)?;
    let mut got = HashMap::new();
    let mut refused: Vec<String> = Vec::new();
    while got.len() < names.len() {
        let (tcp, from) = match listener.accept() {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    let missing: Vec<&String> =
                        names.iter().filter(|n| !got.contains_key(*n)).collect();
                    return Err(io_err(format!(
                        "{me}: no connection from {missing:?} before the deadline"
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(io_err(e)),
        };
        tcp.set_nonblocking(false).map_err(io_err)?;
        tcp.set_nodelay(true).map_err(io_err)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(io_err)?;
        let conn = ServerConnection::new(cfg.clone()).map_err(io_err)?;
        let mut tls = StreamOwned::new(conn, tcp);
        let mut failed = None;
        while tls.conn.is_handshaking() {
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            // A stranger (wrong CA, no certificate) is refused; keep waiting for the real peers.
            tracing::warn!(endpoint = me, %from, error = %e, "refused a connection");
            refused.push(format!("{from}: {e}"));
            continue;
        }
        let cert = tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| io_err("peer sent no certificate"))?
            .clone();
        let name = names.iter().find(|n| certificate_names(&cert, n)).cloned();
        match name {
            Some(n) if !got.contains_key(&n) => {
                tls.sock.set_read_timeout(None).map_err(io_err)?;
                got.insert(n, tls);
            }
            _ => tracing::warn!(
                endpoint = me,
                %from,
                "refused a connection: its certificate names no expected peer"
            ),
        }
    }
    Ok(got)
}

/// True if `cert` is valid for the DNS name `name`.
fn certificate_names(cert: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(end) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    let Ok(server) = ServerName::try_from(name) else {
        return false;
    };
    end.verify_is_valid_for_subject_name(&server).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_hostile_lengths_are_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        assert_eq!(read_frame(&mut buf.as_slice(), 100).unwrap(), b"hello");
        // A header claiming 4 GiB is refused before any allocation.
        let huge = u32::MAX.to_le_bytes();
        assert_eq!(
            read_frame(&mut huge.as_slice(), 1 << 20),
            Err(NetError::Oversized {
                size: u32::MAX as usize,
                limit: 1 << 20
            })
        );
        // A frame cut short is a lost peer, not garbage.
        assert_eq!(read_frame(&mut &buf[..6], 100), Err(NetError::Disconnected));
        assert_eq!(read_frame(&mut &buf[..2], 100), Err(NetError::Disconnected));
    }
}
