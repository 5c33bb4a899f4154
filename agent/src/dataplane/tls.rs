//! Optional mutual TLS under the data plane's authenticated sessions (rustls with the
//! ring provider, like the rest of the workspace).
//!
//! With `[data_plane.tls]` configured, every agent holds a certificate issued by one
//! CA to its node id (`subjectAltName = DNS:<node_id>`, extended key usage serverAuth
//! and clientAuth, or none). The source connects with its certificate and verifies the
//! target's against the CA under the target's node id; the target requires a client
//! certificate from that CA and, in the session handshake, that it is issued to the
//! volume's expected source node. The HMAC session handshake then runs inside the TLS
//! connection unchanged. A TLS agent neither accepts nor opens plain connections: a
//! mismatch fails with a [`TlsError`] saying which side to configure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::{WebPkiServerVerifier, verify_server_name};
use tokio_rustls::rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use tokio_rustls::rustls::{
    self, AlertDescription, CertificateError, ClientConfig, RootCertStore, ServerConfig,
};
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

use super::cert_validity::{self, Validity};

mod crl;
mod files;
mod handle;

pub use files::TlsFiles;
pub use handle::TlsHandle;

/// The ALPN protocol both ends require: a TLS peer that is not a Holdfast data plane
/// (or speaks another version of it) fails the handshake.
const ALPN: &[u8] = b"holdfast-dataplane/1";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS on the data plane failed, with what to fix.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TlsError {
    #[error("data_plane.tls.{key} {path}: {reason}")]
    Material {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "data_plane.tls.cert {path} is not issued to this node's id {node:?}: its subjectAltName must contain DNS:{node}"
    )]
    NotOurName { path: PathBuf, node: String },
    #[error(
        "the peer does not use TLS on its data plane but this agent does: configure [data_plane.tls] on both agents (or on neither)"
    )]
    PeerIsPlain,
    #[error(
        "the peer closed the connection during the TLS handshake: its data plane probably does not use TLS; configure [data_plane.tls] on both agents (or on neither)"
    )]
    ClosedDuringHandshake,
    #[error(
        "the peer uses TLS on its data plane but this agent does not: configure [data_plane.tls] (cert, key, ca) on this agent too (or on neither)"
    )]
    PeerUsesTls,
    #[error(
        "the peer's certificate is not issued by this agent's CA (data_plane.tls.ca): issue every agent's certificate from the same CA"
    )]
    UnknownIssuer,
    #[error(
        "the peer refused this agent's certificate ({alert}): the peer's data_plane.tls.ca must be the CA that issued this agent's data_plane.tls.cert"
    )]
    RefusedByPeer { alert: String },
    #[error(
        "the peer's certificate is not issued to the node id it was reached as ({presented}): its subjectAltName must contain DNS:<the peer's node id>"
    )]
    WrongName { presented: String },
    #[error(
        "the peer's certificate has expired: renew it and reload that agent (systemctl reload holdfast-agent)"
    )]
    PeerExpired,
    #[error(
        "the peer refused this agent's certificate as expired: renew data_plane.tls.cert and reload this agent (systemctl reload holdfast-agent)"
    )]
    OursExpired,
    #[error(
        "the peer's certificate is revoked by data_plane.tls.crl: issue that agent a new certificate and reload it (systemctl reload holdfast-agent)"
    )]
    PeerRevoked,
    #[error(
        "the peer refused this agent's certificate as revoked (its data_plane.tls.crl lists it): issue this agent a new data_plane.tls.cert and reload it (systemctl reload holdfast-agent)"
    )]
    OursRevoked,
    #[error(
        "data_plane.tls.cert {cert} is revoked by data_plane.tls.crl {crl}: peers refuse it; issue this node a new certificate"
    )]
    OwnRevoked { cert: PathBuf, crl: PathBuf },
    #[error("the peer's certificate is not valid yet: check both nodes' clocks")]
    NotYetValid,
    #[error(
        "the peer is not a Holdfast data plane of this version (no common ALPN protocol {ALPN:?})"
    )]
    NoCommonProtocol,
    #[error(
        "the node id {0:?} cannot be a TLS name: use node ids made of letters, digits, '-', '.'"
    )]
    BadName(String),
    #[error("the TLS handshake timed out")]
    Timeout,
    #[error("the TLS handshake failed: {0}")]
    Handshake(String),
}

/// A client certificate the target received.
#[derive(Debug, Clone)]
pub struct PeerCert(CertificateDer<'static>);

impl PeerCert {
    /// Checks the certificate is issued to `node` (its subjectAltName).
    pub fn check_name(&self, node: &str) -> Result<(), TlsError> {
        check_name(&self.0, node).map_err(|e| match e {
            NameCheck::Bad(reason) => TlsError::Handshake(reason),
            NameCheck::NotFor(presented) => TlsError::WrongName { presented },
        })
    }
}

enum NameCheck {
    Bad(String),
    NotFor(String),
}

fn check_name(cert: &CertificateDer<'_>, node: &str) -> Result<(), NameCheck> {
    let name = ServerName::try_from(node.to_owned())
        .map_err(|_| NameCheck::Bad(TlsError::BadName(node.to_owned()).to_string()))?;
    let parsed = ParsedCertificate::try_from(cert)
        .map_err(|e| NameCheck::Bad(format!("unreadable certificate: {e}")))?;
    verify_server_name(&parsed, &name).map_err(|e| match e {
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            presented,
            ..
        }) => NameCheck::NotFor(format!("it names {}", presented.join(", "))),
        other => NameCheck::NotFor(other.to_string()),
    })
}

/// The loaded TLS material of an agent: client and server configurations.
pub struct DataPlaneTls {
    pub files: TlsFiles,
    /// The node id the certificate was checked against.
    pub node: String,
    /// This node's certificate's validity.
    pub validity: Validity,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for DataPlaneTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configurations hold the private key: never printed.
        f.debug_struct("DataPlaneTls")
            .field("files", &self.files)
            .field("node", &self.node)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

fn material(key: &'static str, path: &Path) -> impl Fn(String) -> TlsError {
    let path = path.to_owned();
    move |reason| TlsError::Material {
        key,
        path: path.clone(),
        reason,
    }
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = material(key, path);
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(format!("cannot read: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err("holds no PEM certificate (BEGIN CERTIFICATE)".into()));
    }
    Ok(certs)
}

/// The validity of the first certificate in a PEM file (for `status`).
pub fn cert_validity(files: &TlsFiles) -> Result<Validity, TlsError> {
    let certs = read_certs("cert", &files.cert)?;
    cert_validity::validity(&certs[0]).map_err(material("cert", &files.cert))
}

impl DataPlaneTls {
    /// Loads and checks the material: the key belongs to the certificate, the
    /// certificate is issued to `node` and by the CA and, with `crl`, the CRLs are the
    /// CA's and do not revoke it. An expired certificate loads (the daemon keeps
    /// reporting health; `status` shows the problem).
    pub fn load(files: &TlsFiles, node: &str) -> Result<DataPlaneTls, TlsError> {
        let certs = read_certs("cert", &files.cert)?;
        let ca = read_certs("ca", &files.ca)?;
        let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
            material("key", &files.key)(format!("not a readable PEM private key: {e}"))
        })?;
        let crls = match &files.crl {
            Some(path) => crl::read(path)?,
            None => Vec::new(),
        };
        let validity = cert_validity::validity(&certs[0]).map_err(material("cert", &files.cert))?;
        let mut roots = RootCertStore::empty();
        for c in ca {
            roots
                .add(c)
                .map_err(|e| material("ca", &files.ca)(format!("not a usable CA: {e}")))?;
        }
        let roots = Arc::new(roots);
        match check_name(&certs[0], node) {
            Ok(()) => {}
            Err(NameCheck::Bad(reason)) => return Err(material("cert", &files.cert)(reason)),
            Err(NameCheck::NotFor(_)) => {
                return Err(TlsError::NotOurName {
                    path: files.cert.clone(),
                    node: node.to_owned(),
                });
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        issued_by_ca(&certs, &roots, &provider).map_err(material("cert", &files.cert))?;
        if let Some(path) = &files.crl {
            let own = crl::OwnCert {
                certs: &certs,
                node,
                validity: &validity,
                cert_path: &files.cert,
            };
            crl::check_own(&crls, path, &own, &roots, &provider)?;
        }
        let tls_err = |e: rustls::Error| TlsError::Handshake(e.to_string());
        let key_err = |e: rustls::Error| {
            material("key", &files.key)(format!("does not fit data_plane.tls.cert: {e}"))
        };
        let crl_err = |e: rustls::server::VerifierBuilderError| match &files.crl {
            Some(path) => material("crl", path)(format!("not a usable X.509 CRL: {e}")),
            None => material("ca", &files.ca)(e.to_string()),
        };
        // Revocation: the CRLs are the CA's (checked above), so every agent certificate
        // has a known status; a certificate they do not cover is not revoked.
        let server_verifier =
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .with_crls(crls.clone())
                .allow_unknown_revocation_status()
                .build()
                .map_err(crl_err)?;
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_webpki_verifier(server_verifier)
            .with_client_auth_cert(certs.clone(), key.clone_key())
            .map_err(key_err)?;
        client.alpn_protocols = vec![ALPN.to_vec()];
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .with_crls(crls)
            .allow_unknown_revocation_status()
            .build()
            .map_err(crl_err)?;
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(key_err)?;
        server.alpn_protocols = vec![ALPN.to_vec()];
        Ok(DataPlaneTls {
            files: files.clone(),
            node: node.to_owned(),
            validity,
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// Opens TLS to the target `peer_node` over `tcp`, verifying its certificate.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        peer_node: &str,
    ) -> Result<client::TlsStream<TcpStream>, TlsError> {
        let name = ServerName::try_from(peer_node.to_owned())
            .map_err(|_| TlsError::BadName(peer_node.to_owned()))?;
        let connect = TlsConnector::from(self.client.clone()).connect(name, tcp);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(handshake_error(&e)),
            Err(_) => Err(TlsError::Timeout),
        }
    }

    /// Completes TLS with a source over `tcp`; returns its verified certificate.
    pub async fn accept(
        &self,
        tcp: TcpStream,
    ) -> Result<(server::TlsStream<TcpStream>, PeerCert), TlsError> {
        let accept = TlsAcceptor::from(self.server.clone()).accept(tcp);
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(handshake_error(&e)),
            Err(_) => return Err(TlsError::Timeout),
        };
        let cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .cloned()
            .ok_or_else(|| TlsError::Handshake("the peer presented no certificate".into()))?;
        Ok((stream, PeerCert(cert)))
    }
}

/// Whether this node's certificate chains to the CA (expiry aside: reported, not fatal).
fn issued_by_ca(
    certs: &[CertificateDer<'static>],
    roots: &RootCertStore,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<(), String> {
    let parsed = ParsedCertificate::try_from(&certs[0]).map_err(|e| e.to_string())?;
    let r = rustls::client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        roots,
        &certs[1..],
        UnixTime::now(),
        provider.signature_verification_algorithms.all,
    );
    match r {
        Ok(()) => Ok(()),
        Err(rustls::Error::InvalidCertificate(e)) => match e {
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => Ok(()),
            CertificateError::UnknownIssuer | CertificateError::BadSignature => Err(
                "is not issued by data_plane.tls.ca: agents verify each other with that CA, so every agent's certificate must come from it"
                    .into(),
            ),
            other => Err(format!("is not usable with data_plane.tls.ca: {other}")),
        },
        Err(other) => Err(format!("is not usable with data_plane.tls.ca: {other}")),
    }
}

/// A failed TLS handshake, as a typed error.
fn handshake_error(e: &std::io::Error) -> TlsError {
    if let Some(t) = classify_io(e) {
        return t;
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => TlsError::ClosedDuringHandshake,
        _ => TlsError::Handshake(e.to_string()),
    }
}

/// The TLS failure inside an I/O error from a TLS stream, if there is one.
pub fn classify_io(e: &std::io::Error) -> Option<TlsError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(classify)
}

/// Maps a rustls error to what the operator has to fix.
pub fn classify(e: &rustls::Error) -> TlsError {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsError::UnknownIssuer
            }
            CertificateError::NotValidForName => TlsError::WrongName {
                presented: "other names".into(),
            },
            CertificateError::NotValidForNameContext { presented, .. } => TlsError::WrongName {
                presented: format!("it names {}", presented.join(", ")),
            },
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsError::PeerExpired
            }
            CertificateError::Revoked => TlsError::PeerRevoked,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsError::NotYetValid
            }
            other => TlsError::Handshake(format!("the peer's certificate is unusable: {other}")),
        },
        E::AlertReceived(AlertDescription::CertificateExpired) => TlsError::OursExpired,
        E::AlertReceived(AlertDescription::CertificateRevoked) => TlsError::OursRevoked,
        E::InvalidCertRevocationList(e) => TlsError::Handshake(format!(
            "data_plane.tls.crl cannot be used to check the peer's certificate: {e:?}"
        )),
        E::AlertReceived(
            a @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRequired
            | AlertDescription::AccessDenied),
        ) => TlsError::RefusedByPeer {
            alert: format!("{a:?}"),
        },
        E::AlertReceived(AlertDescription::NoApplicationProtocol) | E::NoApplicationProtocol => {
            TlsError::NoCommonProtocol
        }
        E::InvalidMessage(_) => TlsError::PeerIsPlain,
        other => TlsError::Handshake(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_map_to_what_to_fix() {
        use rustls::Error as E;
        let cases = [
            (
                E::InvalidCertificate(CertificateError::UnknownIssuer),
                TlsError::UnknownIssuer,
            ),
            (
                E::InvalidCertificate(CertificateError::Expired),
                TlsError::PeerExpired,
            ),
            (
                E::InvalidCertificate(CertificateError::NotValidYet),
                TlsError::NotYetValid,
            ),
            (
                E::AlertReceived(AlertDescription::CertificateExpired),
                TlsError::OursExpired,
            ),
            (
                E::AlertReceived(AlertDescription::UnknownCA),
                TlsError::RefusedByPeer {
                    alert: "UnknownCA".into(),
                },
            ),
            (
                E::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                TlsError::PeerIsPlain,
            ),
            (E::NoApplicationProtocol, TlsError::NoCommonProtocol),
            (
                E::InvalidCertificate(CertificateError::Revoked),
                TlsError::PeerRevoked,
            ),
            (
                E::AlertReceived(AlertDescription::CertificateRevoked),
                TlsError::OursRevoked,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(classify(&e), want, "{e:?}");
        }
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            E::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(classify_io(&io), Some(TlsError::UnknownIssuer));
        assert_eq!(
            classify_io(&std::io::ErrorKind::UnexpectedEof.into()),
            None,
            "plain I/O errors stay I/O errors"
        );
        assert_eq!(
            handshake_error(&std::io::ErrorKind::UnexpectedEof.into()),
            TlsError::ClosedDuringHandshake
        );
    }

    #[test]
    fn every_message_says_what_to_configure() {
        for e in [
            TlsError::PeerIsPlain,
            TlsError::PeerUsesTls,
            TlsError::ClosedDuringHandshake,
        ] {
            assert!(e.to_string().contains("[data_plane.tls]"), "{e}");
        }
        assert!(TlsError::UnknownIssuer.to_string().contains("same CA"));
        for e in [
            TlsError::PeerRevoked,
            TlsError::OursRevoked,
            TlsError::PeerExpired,
            TlsError::OursExpired,
        ] {
            assert!(
                e.to_string().contains("systemctl reload holdfast-agent"),
                "{e}"
            );
        }
        assert!(
            TlsError::PeerRevoked
                .to_string()
                .contains("issue that agent a new certificate")
        );
    }
}
