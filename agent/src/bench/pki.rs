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
        let (files, csr, ext) = self.request(node)?;
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
            &s(&files.cert),
            "-days",
            &days.to_string(),
            "-extfile",
            &s(&ext),
        ])?;
        Ok(files)
    }

    /// Issues a certificate for `node` that expired in 2020 (`openssl ca` takes past
    /// dates; `x509 -days` does not).
    pub fn issue_expired(&self, node: &str) -> anyhow::Result<TlsFiles> {
        let (files, csr, ext) = self.request(node)?;
        let db = self.dir.join(format!("{}-{node}-db", self.name));
        std::fs::create_dir_all(&db)?;
        std::fs::write(db.join("index.txt"), "")?;
        std::fs::write(db.join("serial"), "1000\n")?;
        let cnf = db.join("ca.cnf");
        std::fs::write(
            &cnf,
            format!(
                "[ca]\ndefault_ca = test\n[test]\ndatabase = {}\nnew_certs_dir = {}\nserial = {}\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
                s(&db.join("index.txt")),
                s(&db),
                s(&db.join("serial"))
            ),
        )?;
        openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            &s(&cnf),
            "-cert",
            &s(&self.cert()),
            "-keyfile",
            &s(&self.key()),
            "-in",
            &s(&csr),
            "-out",
            &s(&files.cert),
            "-extfile",
            &s(&ext),
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
        ])?;
        Ok(files)
    }

    /// Revokes the certificate last issued to `node` (recorded in the CA's database,
    /// published by the next [`crl`](Self::crl)).
    pub fn revoke(&self, node: &str) -> anyhow::Result<()> {
        self.revoke_file(&self.dir.join(format!("{}-{node}.crt", self.name)))
    }

    /// Revokes the certificate in `cert` (a PEM file this CA issued).
    pub fn revoke_file(&self, cert: &Path) -> anyhow::Result<()> {
        self.openssl_ca(&["-revoke", &s(cert)])
    }

    /// Writes the CA's CRL (PEM, every certificate revoked so far, valid 30 days) to
    /// `<name>.crl` in the CA's directory; returns its path.
    pub fn crl(&self) -> anyhow::Result<PathBuf> {
        let out = self.dir.join(format!("{}.crl", self.name));
        self.openssl_ca(&["-gencrl", "-crldays", "30", "-out", &s(&out)])?;
        Ok(out)
    }

    /// `openssl ca` as this CA, with its revocation database, and `args`.
    fn openssl_ca(&self, args: &[&str]) -> anyhow::Result<()> {
        let cnf = self.revocation_db()?;
        let (cert, key) = (s(&self.cert()), s(&self.key()));
        let mut all = vec!["ca", "-batch", "-config"];
        let cnf = s(&cnf);
        all.extend([cnf.as_str(), "-cert", &cert, "-keyfile", &key]);
        all.extend_from_slice(args);
        openssl(&all)
    }

    /// The minimal `openssl ca` configuration and index of revoked certificates (in
    /// `<name>-crl-db` in the CA's directory), created on first use.
    fn revocation_db(&self) -> anyhow::Result<PathBuf> {
        let db = self.dir.join(format!("{}-crl-db", self.name));
        let cnf = db.join("ca.cnf");
        if cnf.exists() {
            return Ok(cnf);
        }
        std::fs::create_dir_all(&db)?;
        std::fs::write(db.join("index.txt"), "")?;
        // A CRL number makes a v2 CRL, the version rustls accepts.
        std::fs::write(db.join("crlnumber"), "1000\n")?;
        std::fs::write(
            &cnf,
            format!(
                "[ca]\ndefault_ca = test\n[test]\ndatabase = {}\ncrlnumber = {}\ndefault_md = sha256\nunique_subject = no\n",
                s(&db.join("index.txt")),
                s(&db.join("crlnumber"))
            ),
        )?;
        Ok(cnf)
    }

    /// A key and certificate request for `node`, and the extensions file to sign with.
    fn request(&self, node: &str) -> anyhow::Result<(TlsFiles, PathBuf, PathBuf)> {
        let file = |ext: &str| self.dir.join(format!("{}-{node}.{ext}", self.name));
        let (key, csr, cert, ext) = (file("key"), file("csr"), file("crt"), file("ext"));
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
        Ok((
            TlsFiles {
                cert,
                key,
                ca: self.cert(),
                crl: None,
            },
            csr,
            ext,
        ))
    }
}
