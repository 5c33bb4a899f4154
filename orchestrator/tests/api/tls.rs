//! HTTPS with rustls: a self-signed certificate made by the `openssl` command.

use std::process::Command;
use std::time::{Duration, Instant};

use holdfast_orchestrator::config::TlsConfig;

use crate::helpers::test_config;

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    // A test CA and a leaf certificate for localhost signed by it.
    let d = dir.path();
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
    let ca = d.join("ca.pem");
    let mut config = test_config(dir.path());
    config.tls = Some(TlsConfig {
        cert: cert.clone(),
        key,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(holdfast_orchestrator::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let resp = loop {
        match client.get(format!("{url}/healthz")).send().await {
            Ok(r) => break r,
            Err(e) => {
                if task.is_finished() {
                    panic!("server stopped: {:?}", task.await);
                }
                assert!(Instant::now() < deadline, "no HTTPS answer: {e:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(resp.status(), 200);
    // The session cookie is marked Secure under HTTPS.
    let login = client
        .post(format!("{url}/api/v1/sessions"))
        .json(&serde_json::json!({"id": "admin", "password": crate::helpers::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
