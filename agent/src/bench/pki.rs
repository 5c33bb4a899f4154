//! A throwaway CA and node certificates for the data plane's TLS, made with the
//! `openssl` command (as the orchestrator's HTTPS tests do): for `bench --tls` and the
//! integration tests. Operators use their own PKI (see the agent docs).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::dataplane::tls::TlsFiles;

/// A CA key and self-signed certificate in a directory.
#[derive(Debug, Clone)]
pub struct TestCa {
    dir: PathBuf,
    name: String,
}

fn openssl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("running the openssl command (Debian package openssl)")?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

impl TestCa {
    /// Creates the CA `name` (files `<name>.pem`, `<name>.key` in `dir`).
    pub fn new(dir: &Path, name: &str) -> anyhow::Result<TestCa> {
        std::fs::create_dir_all(dir)?;
        let ca = TestCa {
            dir: dir.to_owned(),
            name: name.to_owned(),
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &s(&ca.key()),
            "-out",
            &s(&ca.cert()),
            "-days",
            "30",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])?;
        Ok(ca)
    }

    /// The CA certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    fn key(&self) -> PathBuf {
        self.dir.join(format!("{}.key", self.name))
    }

    /// Issues a certificate for `node` (subjectAltName DNS:`node`, serverAuth and
    /// clientAuth) valid for `days`; returns the files for `[data_plane.tls]`.
    pub fn issue(&self, node: &str, days: u32) -> anyhow::Result<TlsFiles> {
        let base = self.dir.join(format!("{}-{node}", self.name));
        let (key, csr, cert, ext) = (
            base.with_extension("key"),
            base.with_extension("csr"),
            base.with_extension("crt"),
            base.with_extension("ext"),
        );
        std::fs::write(
            &ext,
            format!(
                "subjectAltName=DNS:{node}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
            ),
        )?;
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &s(&key),
            "-out",
            &s(&csr),
            "-subj",
            &format!("/CN={node}"),
        ])?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &s(&csr),
            "-CA",
            &s(&self.cert()),
            "-CAkey",
            &s(&self.key()),
            "-CAcreateserial",
            "-out",
            &s(&cert),
            "-days",
            &days.to_string(),
            "-extfile",
            &s(&ext),
        ])?;
        Ok(TlsFiles {
            cert,
            key,
            ca: self.cert(),
        })
    }
}
