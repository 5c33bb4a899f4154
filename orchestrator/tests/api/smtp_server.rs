//! A one-message SMTP server on loopback for the e-mail tests: plain, STARTTLS (offered
//! or not) or implicit TLS with a test certificate, and AUTH PLAIN / LOGIN checked
//! against one user. It reports what it received when the client quits or disconnects.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// How the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Plain SMTP; no STARTTLS offered.
    Plain,
    /// STARTTLS offered; AUTH offered only after the upgrade.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// What one session received.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Every command line outside DATA (AUTH lines redacted to the mechanism).
    pub(crate) commands: Vec<String>,
    /// The message (DATA), dot-unstuffed.
    pub(crate) data: String,
    /// The user that authenticated successfully.
    pub(crate) user: Option<String>,
    /// Whether the session was encrypted when the message was sent.
    pub(crate) encrypted: bool,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A TLS acceptor for the certificate and key files.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// Starts a server for one session; `login` is the (user, password) AUTH accepts.
pub(crate) async fn start(
    mode: Mode,
    tls: Option<TlsAcceptor>,
    login: Option<(&str, &str)>,
) -> (SocketAddr, tokio::sync::oneshot::Receiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let login = login.map(|(u, p)| (u.to_owned(), p.to_owned()));
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut received = Received::default();
        let stream: Box<dyn Io> = match mode {
            Mode::Implicit => {
                received.encrypted = true;
                match tls.as_ref().expect("a certificate").accept(tcp).await {
                    Ok(s) => Box::new(s),
                    // The client refused our certificate: report the empty session.
                    Err(_) => {
                        let _ = tx.send(received);
                        return;
                    }
                }
            }
            _ => Box::new(tcp),
        };
        session(stream, mode, tls, login, &mut received).await;
        let _ = tx.send(received);
    });
    (addr, rx)
}

async fn session(
    stream: Box<dyn Io>,
    mode: Mode,
    tls: Option<TlsAcceptor>,
    login: Option<(String, String)>,
    r: &mut Received,
) {
    let mut io = BufReader::new(stream);
    if io.write_all(b"220 fake ESMTP\r\n").await.is_err() {
        return;
    }
    let mut in_data = false;
    let mut login_user: Option<String> = None;
    loop {
        let mut line = String::new();
        match io.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if in_data {
            if line == ".\r\n" {
                in_data = false;
                let _ = io.write_all(b"250 queued\r\n").await;
            } else {
                r.data
                    .push_str(line.strip_prefix('.').unwrap_or(line.as_str()));
            }
            continue;
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        // The second step of AUTH LOGIN: the base64 user, then the password.
        if let Some(step) = login_user.take() {
            let text = String::from_utf8(B64.decode(&cmd).unwrap_or_default()).unwrap_or_default();
            if step.is_empty() {
                login_user = Some(text);
                let _ = io.write_all(b"334 UGFzc3dvcmQ6\r\n").await;
            } else {
                let ok = login.as_ref() == Some(&(step.clone(), text));
                r.user = ok.then_some(step);
                let reply: &[u8] = if ok { b"235 ok\r\n" } else { b"535 no\r\n" };
                let _ = io.write_all(reply).await;
            }
            continue;
        }
        r.commands.push(if upper.starts_with("AUTH") {
            cmd.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
        } else {
            cmd.clone()
        });
        if upper.starts_with("EHLO") {
            let mut reply = String::from("250-fake\r\n");
            if mode == Mode::Starttls && !r.encrypted {
                reply.push_str("250-STARTTLS\r\n");
            }
            if r.encrypted && login.is_some() {
                reply.push_str("250-AUTH PLAIN LOGIN\r\n");
            }
            reply.push_str("250 8BITMIME\r\n");
            let _ = io.write_all(reply.as_bytes()).await;
        } else if upper == "STARTTLS" && mode == Mode::Starttls && !r.encrypted {
            let _ = io.write_all(b"220 go ahead\r\n").await;
            let tcp = io.into_inner();
            match tls.as_ref().expect("a certificate").accept(tcp).await {
                Ok(s) => {
                    io = BufReader::new(Box::new(s) as Box<dyn Io>);
                    r.encrypted = true;
                }
                Err(_) => return,
            }
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = cmd.split_whitespace().nth(2).unwrap_or("");
            let raw = B64.decode(arg).unwrap_or_default();
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            let ok = r.encrypted
                && parts.len() == 3
                && login.as_ref() == Some(&(parts[1].clone(), parts[2].clone()));
            r.user = ok.then(|| parts[1].clone());
            let reply: &[u8] = if ok { b"235 ok\r\n" } else { b"535 no\r\n" };
            let _ = io.write_all(reply).await;
        } else if upper.starts_with("AUTH LOGIN") {
            login_user = Some(String::new());
            let _ = io.write_all(b"334 VXNlcm5hbWU6\r\n").await;
        } else if upper == "DATA" {
            in_data = true;
            let _ = io.write_all(b"354 go ahead\r\n").await;
        } else if upper == "QUIT" {
            let _ = io.write_all(b"221 bye\r\n").await;
            return;
        } else if upper.starts_with("MAIL FROM") && login.is_some() && r.user.is_none() {
            let _ = io.write_all(b"530 authentication required\r\n").await;
        } else {
            let _ = io.write_all(b"250 ok\r\n").await;
        }
    }
}
