//! `data_plane.tls.crl`: the CA's certificate revocation lists. Read and checked when
//! the material is loaded (at start and on every reload): the file must hold PEM CRLs,
//! each issued by the CA that issued this node's certificate (a CRL of another CA
//! would silently revoke nothing), and none may revoke this node's own certificate.
//! Both directions then check the peer's certificate against them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::ServerCertVerifier;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::{self, CertificateError, RootCertStore};

use super::{TlsError, material};
use crate::dataplane::cert_validity::Validity;

/// Reads the PEM CRLs (`BEGIN X509 CRL`) in `path`; at least one.
pub(super) fn read(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let err = material("crl", path);
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| err(format!("cannot read: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a PEM CRL file: {e}")))?;
    if crls.is_empty() {
        return Err(err(
            "holds no PEM certificate revocation list (BEGIN X509 CRL): give the CRL(s) of data_plane.tls.ca, e.g. from `openssl ca -gencrl`"
                .into(),
        ));
    }
    Ok(crls)
}

/// This node's certificate, as loaded.
pub(super) struct OwnCert<'a> {
    pub(super) certs: &'a [CertificateDer<'static>],
    pub(super) node: &'a str,
    pub(super) validity: &'a Validity,
    pub(super) cert_path: &'a Path,
}

/// Checks every CRL against this node's own certificate: it must be the CA's (its
/// issuer and signature), and must not revoke the certificate. The chain itself was
/// checked before (`issued_by_ca`).
pub(super) fn check_own(
    crls: &[CertificateRevocationListDer<'static>],
    crl_path: &Path,
    own: &OwnCert<'_>,
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Result<(), TlsError> {
    let err = material("crl", crl_path);
    let name = ServerName::try_from(own.node.to_owned())
        .map_err(|_| TlsError::BadName(own.node.to_owned()))?;
    let at = within_validity(own.validity);
    for (i, crl) in crls.iter().enumerate() {
        let n = i + 1;
        // One CRL at a time, unknown status denied: a CRL that does not cover this
        // node's certificate is not the CA's.
        let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .with_crls([crl.clone()])
            .only_check_end_entity_revocation()
            .build()
            .map_err(|e| err(format!("CRL #{n} is not a usable X.509 CRL: {e}")))?;
        let r = verifier.verify_server_cert(&own.certs[0], &own.certs[1..], &name, &[], at);
        match r {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(CertificateError::Revoked)) => {
                return Err(TlsError::OwnRevoked {
                    cert: own.cert_path.to_owned(),
                    crl: crl_path.to_owned(),
                });
            }
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownRevocationStatus)) => {
                return Err(err(format!(
                    "CRL #{n} is not issued by the CA that issued data_plane.tls.cert: give the CRL(s) of data_plane.tls.ca"
                )));
            }
            Err(rustls::Error::InvalidCertRevocationList(e)) => {
                return Err(err(format!(
                    "CRL #{n} cannot be used with data_plane.tls.ca ({e:?}): give a CRL signed by that CA"
                )));
            }
            // Anything else is about the chain, which `issued_by_ca` already judged.
            Err(_) => {}
        }
    }
    Ok(())
}

/// A time at which the certificate is valid (now, when it is), so that an expired
/// certificate is still checked for revocation.
fn within_validity(v: &Validity) -> UnixTime {
    let now = UnixTime::now().as_secs() as i64;
    let (from, to) = (v.not_before.unix_seconds(), v.not_after.unix_seconds());
    // `clamp` needs min <= max.
    let t = if to.saturating_sub(from) < 2 {
        now
    } else {
        now.clamp(from + 1, to - 1)
    };
    UnixTime::since_unix_epoch(Duration::from_secs(t.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{DataPlaneTls, TlsFiles};
    use super::*;
    use crate::bench::pki::TestCa;

    fn with_crl(files: &TlsFiles, crl: PathBuf) -> TlsFiles {
        TlsFiles {
            crl: Some(crl),
            ..files.clone()
        }
    }

    fn refused_crl(e: TlsError) -> String {
        match &e {
            TlsError::Material { key: "crl", .. } => e.to_string(),
            other => panic!("expected a data_plane.tls.crl error, got {other:?}"),
        }
    }

    #[test]
    fn crl_files_that_are_not_the_cas_pem_crls_are_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca = TestCa::new(&d.join("pki"), "ca").unwrap();
        let other = TestCa::new(&d.join("pki"), "other-ca").unwrap();
        let a = ca.issue("node-a", 30).unwrap();

        let e = refused_crl(
            DataPlaneTls::load(&with_crl(&a, d.join("missing.crl")), "node-a").unwrap_err(),
        );
        assert!(
            e.contains("missing.crl") && e.contains("cannot read"),
            "{e}"
        );

        let garbage = d.join("garbage.crl");
        std::fs::write(&garbage, "not a CRL at all\n").unwrap();
        let e = refused_crl(DataPlaneTls::load(&with_crl(&a, garbage), "node-a").unwrap_err());
        assert!(e.contains("BEGIN X509 CRL"), "{e}");

        // A certificate is PEM, but not a CRL.
        let e = refused_crl(DataPlaneTls::load(&with_crl(&a, ca.cert()), "node-a").unwrap_err());
        assert!(e.contains("BEGIN X509 CRL"), "{e}");

        let bad_base64 = d.join("bad-base64.crl");
        std::fs::write(
            &bad_base64,
            "-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n",
        )
        .unwrap();
        let e = refused_crl(DataPlaneTls::load(&with_crl(&a, bad_base64), "node-a").unwrap_err());
        assert!(e.contains("not a PEM CRL"), "{e}");

        let bad_der = d.join("bad-der.crl");
        std::fs::write(
            &bad_der,
            "-----BEGIN X509 CRL-----\nAAECAwQF\n-----END X509 CRL-----\n",
        )
        .unwrap();
        let e = refused_crl(DataPlaneTls::load(&with_crl(&a, bad_der), "node-a").unwrap_err());
        assert!(e.contains("not a usable X.509 CRL"), "{e}");

        // Another CA's CRL would revoke nothing of ours: refused, not silently ignored.
        let e = refused_crl(
            DataPlaneTls::load(&with_crl(&a, other.crl().unwrap()), "node-a").unwrap_err(),
        );
        assert!(e.contains("not issued by the CA"), "{e}");

        // The CA's own CRL, revoking someone else, loads.
        ca.issue("node-z", 30).unwrap();
        ca.revoke("node-z").unwrap();
        let crl = ca.crl().unwrap();
        let tls = DataPlaneTls::load(&with_crl(&a, crl.clone()), "node-a").unwrap();
        assert_eq!(tls.files.crl, Some(crl));
    }

    #[test]
    fn a_crl_that_revokes_this_nodes_own_certificate_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(&dir.path().join("pki"), "ca").unwrap();
        let a = ca.issue("node-a", 30).unwrap();
        let before = ca.crl().unwrap();
        assert!(DataPlaneTls::load(&with_crl(&a, before), "node-a").is_ok());
        ca.revoke("node-a").unwrap();
        let e = DataPlaneTls::load(&with_crl(&a, ca.crl().unwrap()), "node-a").unwrap_err();
        assert!(matches!(e, TlsError::OwnRevoked { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("data_plane.tls.cert") && msg.contains("revoked"),
            "{msg}"
        );
        assert!(msg.contains("issue this node a new certificate"), "{msg}");

        // Expired and revoked: still refused as revoked.
        let old = ca.issue_expired("node-a").unwrap();
        ca.revoke_file(&old.cert).unwrap();
        let e = DataPlaneTls::load(&with_crl(&old, ca.crl().unwrap()), "node-a").unwrap_err();
        assert!(matches!(e, TlsError::OwnRevoked { .. }), "{e:?}");
    }
}
