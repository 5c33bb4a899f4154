//! A test CA and a leaf certificate for `localhost` / 127.0.0.1 signed by it, made by the
//! `openssl` command (Debian package openssl).

use std::path::{Path, PathBuf};
use std::process::Command;

/// PEM files in a test directory.
pub(crate) struct TestCerts {
    /// The CA certificate clients trust.
    pub(crate) ca: PathBuf,
    /// The leaf certificate (localhost, 127.0.0.1).
    pub(crate) cert: PathBuf,
    /// The leaf's private key.
    pub(crate) key: PathBuf,
}

/// Makes a CA and a localhost leaf in `d`.
pub(crate) fn localhost_certs(d: &Path) -> TestCerts {
    let ext = d.join("leaf.ext");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let p = |name: &str| d.join(name).display().to_string();
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=holdfast-test-ca",
        ]
        .map(String::from)
        .to_vec(),
        [
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &p("key.pem"),
            "-out",
            &p("leaf.csr"),
            "-subj",
            "/CN=localhost",
        ]
        .map(String::from)
        .to_vec(),
        [
            "x509",
            "-req",
            "-in",
            &p("leaf.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p("cert.pem"),
            "-days",
            "1",
            "-extfile",
            &p("leaf.ext"),
        ]
        .map(String::from)
        .to_vec(),
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(&args)
            .output()
            .expect("the openssl command (Debian package openssl) is needed for this test");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    TestCerts {
        ca: d.join("ca.pem"),
        cert: d.join("cert.pem"),
        key: d.join("key.pem"),
    }
}
