//! HTTPS with rustls: a test CA's certificate made by the `openssl` command.

use std::time::{Duration, Instant};

use holdfast_orchestrator::config::TlsConfig;

use crate::helpers::test_config;

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let crate::certs::TestCerts { ca, cert, key } = crate::certs::localhost_certs(dir.path());
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
