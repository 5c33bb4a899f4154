//! Event e-mail through lettre against a local SMTP server: plain, STARTTLS and implicit
//! TLS with a test CA, AUTH, refusals; and through the API (settings → an event → mail).

use std::time::Duration;

use holdfast_orchestrator::config::Secret;
use holdfast_orchestrator::mail::{self, MailError, MailServer, Outgoing};
use holdfast_orchestrator::settings::SmtpTls;
use serde_json::json;

use crate::certs::localhost_certs;
use crate::helpers::{Backend, spawn_app_with};
use crate::smtp_server::{self, Mode, Received};

fn outgoing() -> Outgoing {
    Outgoing {
        from: "holdfast@example.com".into(),
        to: vec!["ops@example.com".into()],
        subject: "[holdfast] warning test.code".into(),
        body: "first line\n.a line starting with a dot\n".into(),
    }
}

fn server(addr: std::net::SocketAddr, tls: SmtpTls, ca: Option<&std::path::Path>) -> MailServer {
    let mut s = MailServer::parse(&format!("localhost:{}", addr.port()), tls).unwrap();
    s.extra_roots_pem = ca.map(|p| std::fs::read(p).unwrap());
    s
}

async fn received(rx: tokio::sync::oneshot::Receiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("the SMTP session ended in time")
        .expect("a report")
}

#[tokio::test]
async fn plain_smtp_delivers_the_message() {
    let (addr, rx) = smtp_server::start(Mode::Plain, None, None).await;
    mail::send(&server(addr, SmtpTls::None, None), &outgoing())
        .await
        .unwrap();
    let r = received(rx).await;
    assert!(!r.encrypted);
    assert!(
        r.commands.contains(&"RCPT TO:<ops@example.com>".to_owned()),
        "{:?}",
        r.commands
    );
    assert!(
        r.data.contains("Subject: [holdfast] warning test.code"),
        "{}",
        r.data
    );
    assert!(r.data.contains(".a line starting with a dot"), "{}", r.data);
}

#[tokio::test]
async fn starttls_upgrades_before_auth_and_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let certs = localhost_certs(dir.path());
    let tls = smtp_server::acceptor(&certs.cert, &certs.key);
    let (addr, rx) =
        smtp_server::start(Mode::Starttls, Some(tls), Some(("ops", "s3cret-Pass!"))).await;
    let mut s = server(addr, SmtpTls::Starttls, Some(&certs.ca));
    s.credentials = Some(("ops".into(), Secret::new("s3cret-Pass!".into())));
    mail::send(&s, &outgoing()).await.unwrap();
    let r = received(rx).await;
    assert!(r.encrypted);
    assert_eq!(r.user.as_deref(), Some("ops"));
    let pos = |prefix: &str| r.commands.iter().position(|c| c.starts_with(prefix));
    assert!(
        pos("STARTTLS") < pos("AUTH") && pos("AUTH") < pos("MAIL FROM"),
        "{:?}",
        r.commands
    );
    assert!(r.data.contains("first line"), "{}", r.data);
}

#[tokio::test]
async fn implicit_tls_delivers_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let certs = localhost_certs(dir.path());
    let tls = smtp_server::acceptor(&certs.cert, &certs.key);
    let (addr, rx) = smtp_server::start(Mode::Implicit, Some(tls), None).await;
    mail::send(&server(addr, SmtpTls::Tls, Some(&certs.ca)), &outgoing())
        .await
        .unwrap();
    let r = received(rx).await;
    assert!(r.encrypted);
    assert!(r.data.contains("first line"), "{}", r.data);
}

#[tokio::test]
async fn refusals_name_the_server_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let certs = localhost_certs(dir.path());

    // STARTTLS required, but the server does not offer it: nothing goes out in clear.
    let (addr, rx) = smtp_server::start(Mode::Plain, None, None).await;
    let e = mail::send(
        &server(addr, SmtpTls::Starttls, Some(&certs.ca)),
        &outgoing(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, MailError::Send { .. }), "{e}");
    assert!(e.to_string().contains(&addr.port().to_string()), "{e}");
    let r = received(rx).await;
    assert!(r.data.is_empty(), "{}", r.data);
    assert!(
        !r.commands.iter().any(|c| c.starts_with("MAIL")),
        "{:?}",
        r.commands
    );

    // A certificate from a CA that is not trusted.
    let tls = smtp_server::acceptor(&certs.cert, &certs.key);
    let (addr, rx) = smtp_server::start(Mode::Starttls, Some(tls), None).await;
    let e = mail::send(&server(addr, SmtpTls::Starttls, None), &outgoing())
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::Send { .. }), "{e}");
    assert!(received(rx).await.data.is_empty());

    // Wrong password: refused, and the password is not in the error.
    let tls = smtp_server::acceptor(&certs.cert, &certs.key);
    let (addr, rx) =
        smtp_server::start(Mode::Starttls, Some(tls), Some(("ops", "right-Pass1!"))).await;
    let mut s = server(addr, SmtpTls::Starttls, Some(&certs.ca));
    s.credentials = Some(("ops".into(), Secret::new("wrong-Pass1!".into())));
    let e = mail::send(&s, &outgoing()).await.unwrap_err();
    assert!(!e.to_string().contains("wrong-Pass1!"), "{e}");
    assert!(received(rx).await.data.is_empty());
}

async fn events_are_emailed_over_starttls_with_auth(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let certs = localhost_certs(dir.path());
    let ca = certs.ca.clone();
    let app = spawn_app_with(backend, move |c| c.smtp_ca_file = Some(ca)).await;
    let tls = smtp_server::acceptor(&certs.cert, &certs.key);
    let (addr, rx) =
        smtp_server::start(Mode::Starttls, Some(tls), Some(("ops", "Mail-Pass-1!"))).await;
    let admin = app.admin().await;

    // AUTH without TLS is refused; a password without a user name too.
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"smtp_username": "ops", "smtp_tls": "none"})),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("smtp_tls"),
        "{b}"
    );
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"smtp_password": "x"})),
        )
        .await;
    assert_eq!(s, 422, "{b}");

    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({
                "smtp_relay": format!("localhost:{}", addr.port()),
                "smtp_tls": "starttls",
                "smtp_username": "ops",
                "smtp_password": "Mail-Pass-1!",
                "smtp_to": ["ops@example.com"],
            })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["smtp_password_set"], true);
    assert_eq!(b["smtp_tls"], "starttls");
    // The password is never returned.
    let (_, shown) = app
        .call("GET", "/api/v1/settings", Some(&admin), None)
        .await;
    assert!(!shown.to_string().contains("Mail-Pass-1!"), "{shown}");
    assert_eq!(shown["smtp_password_set"], true);

    let key = app.licence_key(&admin, "2099-01-01", 3).await;
    app.call(
        "PUT",
        "/api/v1/licence",
        Some(&admin),
        Some(json!({"licence_key": key})),
    )
    .await;
    let r = received(rx).await;
    assert!(r.encrypted);
    assert_eq!(r.user.as_deref(), Some("ops"));
    assert!(
        r.data
            .contains("Subject: [holdfast] info licence.registered"),
        "{}",
        r.data
    );

    // Clearing the user name removes the password with it.
    let (s, b) = app
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&admin),
            Some(json!({"smtp_username": null})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["smtp_password_set"], false);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_emailed_over_starttls_with_auth_sqlite() {
    events_are_emailed_over_starttls_with_auth(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_emailed_over_starttls_with_auth_postgres() {
    events_are_emailed_over_starttls_with_auth(Backend::Postgres).await;
}
