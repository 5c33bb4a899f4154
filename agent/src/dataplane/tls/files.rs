//! `[data_plane.tls]`: the paths of the material, as configured, and their checks at
//! config load (absolute, readable files). [`super::DataPlaneTls::load`] reads them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[data_plane.tls]`: PEM files of this node's certificate and key, of the CA and,
/// optionally, of the CA's certificate revocation lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// This node's certificate (chain), issued to its node id.
    pub cert: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA that issued every agent's certificate.
    pub ca: PathBuf,
    /// X.509 CRLs of the CA (PEM, one or more): a peer whose certificate they revoke is
    /// refused in both directions.
    #[serde(default)]
    pub crl: Option<PathBuf>,
}

impl TlsFiles {
    /// Relative paths taken from `dir` (the config file's directory), when known.
    pub fn relative_to(self, dir: Option<&Path>) -> TlsFiles {
        let Some(dir) = dir else { return self };
        let at = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
        TlsFiles {
            cert: at(self.cert),
            key: at(self.key),
            ca: at(self.ca),
            crl: self.crl.map(at),
        }
    }

    /// The checks of config loading: absolute paths to readable files.
    pub fn check(&self) -> Result<(), String> {
        for (key, path, what) in self.entries() {
            if !path.is_absolute() {
                return Err(format!(
                    "data_plane.tls.{key} must be an absolute path (or relative to the config file's directory)"
                ));
            }
            let readable = std::fs::File::open(path).and_then(|f| f.metadata());
            match readable {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    return Err(format!(
                        "data_plane.tls.{key} {} is not a file: give {what}",
                        path.display()
                    ));
                }
                Err(e) => {
                    return Err(format!(
                        "data_plane.tls.{key} {} cannot be read ({e}): give {what}",
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<(&'static str, &Path, &'static str)> {
        let crl = self.crl.as_deref().map(|p| {
            (
                "crl",
                p,
                "the PEM certificate revocation list(s) (BEGIN X509 CRL) of data_plane.tls.ca",
            )
        });
        let all: Vec<(&'static str, &Path, &'static str)> = vec![
            (
                "cert",
                &self.cert,
                "this node's certificate in PEM, issued to its node id",
            ),
            (
                "key",
                &self.key,
                "the private key of data_plane.tls.cert in PEM",
            ),
            (
                "ca",
                &self.ca,
                "the PEM certificate of the CA that issued every agent's certificate",
            ),
        ];
        all.into_iter().chain(crl).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_checks_name_the_key_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("present.pem");
        std::fs::write(&present, "x").unwrap();
        let files = |key: &Path| TlsFiles {
            cert: present.clone(),
            key: key.to_owned(),
            ca: present.clone(),
            crl: None,
        };
        assert!(files(&present).check().is_ok());
        let err = files(&dir.path().join("missing.key")).check().unwrap_err();
        assert!(err.contains("data_plane.tls.key"), "{err}");
        assert!(err.contains("missing.key"), "{err}");
        assert!(err.contains("private key"), "{err}");
        let err = files(Path::new("relative.key")).check().unwrap_err();
        assert!(err.contains("absolute"), "{err}");
        let err = files(dir.path()).check().unwrap_err();
        assert!(err.contains("not a file"), "{err}");
        let with_crl = |crl: &Path| TlsFiles {
            crl: Some(crl.to_owned()),
            ..files(&present)
        };
        assert!(with_crl(&present).check().is_ok());
        let err = with_crl(&dir.path().join("missing.crl"))
            .check()
            .unwrap_err();
        assert!(err.contains("data_plane.tls.crl"), "{err}");
        assert!(err.contains("missing.crl"), "{err}");
        assert!(err.contains("revocation list"), "{err}");
        let err = with_crl(Path::new("relative.crl")).check().unwrap_err();
        assert!(
            err.contains("data_plane.tls.crl must be an absolute path"),
            "{err}"
        );
    }

    #[test]
    fn the_config_refuses_a_missing_key_file_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("agent.crt");
        std::fs::write(&pem, "x").unwrap();
        let key = dir.path().join("agent.key");
        let text = |tls: &str| {
            format!(
                "node_id = \"node-a\"\nbus_url = \"amqp://u:p@127.0.0.1/%2f\"\nstate_dir = \"/var/lib/x\"\n\n[data_plane]\nlisten = \"127.0.0.1:7400\"\n\n[data_plane.tls]\n{tls}"
            )
        };
        let all = format!(
            "cert = {:?}\nkey = {:?}\nca = {:?}\n",
            pem.display().to_string(),
            key.display().to_string(),
            pem.display().to_string()
        );
        let parse = |t: &str| crate::config::Config::parse(t, |_| None);
        let err = parse(&text(&all)).unwrap_err().to_string();
        assert!(err.contains("data_plane.tls.key"), "{err}");
        assert!(err.contains(&key.display().to_string()), "{err}");
        assert!(err.contains("private key"), "{err}");

        std::fs::write(&key, "x").unwrap();
        let c = parse(&text(&all)).unwrap();
        assert_eq!(c.tls.as_ref().map(|t| &t.key), Some(&key));
        let reparsed = parse(&c.redacted().replace("***", "p")).unwrap();
        assert_eq!(
            reparsed.tls, c.tls,
            "the redacted config keeps [data_plane.tls]"
        );

        // In a file, relative paths are taken from the file's directory.
        let file = dir.path().join("agent.toml");
        std::fs::write(
            &file,
            text("cert = \"agent.crt\"\nkey = \"agent.key\"\nca = \"agent.crt\"\n"),
        )
        .unwrap();
        let c = crate::config::Config::load(&file).unwrap();
        assert_eq!(c.tls.as_ref().map(|t| &t.key), Some(&key));
        assert_eq!(c.tls.as_ref().and_then(|t| t.crl.as_ref()), None);

        // An optional CRL: relative like the others, checked readable at load.
        let crl_text = text(
            "cert = \"agent.crt\"\nkey = \"agent.key\"\nca = \"agent.crt\"\ncrl = \"ca.crl\"\n",
        );
        std::fs::write(&file, &crl_text).unwrap();
        let err = crate::config::Config::load(&file).unwrap_err().to_string();
        assert!(err.contains("data_plane.tls.crl"), "{err}");
        assert!(err.contains("ca.crl"), "{err}");
        std::fs::write(dir.path().join("ca.crl"), "x").unwrap();
        let c = crate::config::Config::load(&file).unwrap();
        let crl = dir.path().join("ca.crl");
        assert_eq!(c.tls.as_ref().and_then(|t| t.crl.as_ref()), Some(&crl));
        let reparsed = parse(&c.redacted().replace("***", "p")).unwrap();
        assert_eq!(reparsed.tls, c.tls, "the redacted config keeps the crl");
        let err = parse(&text(
            "cert = \"agent.crt\"\nkey = \"agent.key\"\nca = \"agent.crt\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("absolute"), "{err}");

        let no_ca = all.lines().take(2).collect::<Vec<_>>().join("\n");
        let err = parse(&text(&no_ca)).unwrap_err().to_string();
        assert!(err.contains("ca"), "{err}");
    }
}
