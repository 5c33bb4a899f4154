//! Event e-mail through `lettre`'s async SMTP transport (tokio; TLS by rustls with the
//! ring provider, the stack the rest of the workspace uses). Transport security is
//! `none`, `starttls` (required) or implicit `tls`; AUTH is optional, its password
//! stored encrypted by [`crate::secrets`] and never returned by the API or logged.

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::Secret;
use crate::db;
use crate::settings::{Settings, SmtpTls};
use crate::state::{App, now_ms};

/// How long one delivery may take (connect, TLS, AUTH, the message).
const TIMEOUT: Duration = Duration::from_secs(15);

/// The associated data of the stored SMTP password (see [`crate::secrets`]).
pub const PASSWORD_AAD: &str = "smtp:password";

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server setting is not `host:port`.
    #[error("SMTP server {0:?} is not host:port; fix smtp_relay in the settings")]
    Server(String),
    /// A sender or recipient is not an e-mail address.
    #[error("{role} address {address:?} is not valid: {reason}; fix it in the settings")]
    Address {
        /// `from` or `to`.
        role: &'static str,
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The message could not be assembled.
    #[error("the e-mail could not be built: {0}")]
    Build(String),
    /// The trusted CA file could not be used.
    #[error("SMTP CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The stored AUTH password cannot be read.
    #[error("the SMTP password cannot be read: {0}; set smtp_password again")]
    Password(String),
    /// Network, TLS, authentication or the server's refusal.
    #[error("SMTP server {server}: {reason}")]
    Send {
        /// `host:port`.
        server: String,
        /// lettre's description (never contains the password).
        reason: String,
    },
}

/// Where and how to deliver.
#[derive(Clone)]
pub struct MailServer {
    /// Host name or address (the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// AUTH user and password.
    pub credentials: Option<(String, Secret<String>)>,
    /// Extra trusted CA certificates (PEM), e.g. a private CA of the mail server.
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl fmt::Debug for MailServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl MailServer {
    /// `host:port` as given in the settings (`[v6]:port` too), without credentials.
    pub fn parse(relay: &str, tls: SmtpTls) -> Result<MailServer, MailError> {
        let (host, port) = relay
            .rsplit_once(':')
            .ok_or_else(|| MailError::Server(relay.to_owned()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port
            .parse::<u16>()
            .map_err(|_| MailError::Server(relay.to_owned()))?;
        if host.is_empty() {
            return Err(MailError::Server(relay.to_owned()));
        }
        Ok(MailServer {
            host: host.to_owned(),
            port,
            tls,
            credentials: None,
            extra_roots_pem: None,
        })
    }

    fn name(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn tls_parameters(&self) -> Result<TlsParameters, MailError> {
        let send = |e: lettre::transport::smtp::Error| MailError::Send {
            server: self.name(),
            reason: e.to_string(),
        };
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.extra_roots_pem {
            let cert = Certificate::from_pem(pem).map_err(|e| MailError::CaFile {
                path: "smtp_ca_file".to_owned(),
                reason: e.to_string(),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build_rustls().map_err(send)
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let tls = match self.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(self.tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(self.tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if let Some((user, password)) = &self.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
        }
        Ok(builder.build())
    }
}

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Text body.
    pub body: String,
}

fn mailbox(role: &'static str, address: &str) -> Result<Mailbox, MailError> {
    address.parse::<Mailbox>().map_err(|e| MailError::Address {
        role,
        address: address.to_owned(),
        reason: e.to_string(),
    })
}

fn message(m: &Outgoing) -> Result<Message, MailError> {
    let mut builder = Message::builder()
        .from(mailbox("from", &m.from)?)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN);
    for to in &m.to {
        builder = builder.to(mailbox("to", to)?);
    }
    builder
        .body(m.body.clone())
        .map_err(|e| MailError::Build(e.to_string()))
}

/// Sends one message through `server`.
#[tracing::instrument(skip_all, fields(server = %server.name(), tls = ?server.tls))]
pub async fn send(server: &MailServer, m: &Outgoing) -> Result<(), MailError> {
    let msg = message(m)?;
    let transport = server.transport()?;
    // lettre's own timeout covers each network step; this one bounds the whole exchange.
    let outcome = tokio::time::timeout(TIMEOUT * 2, transport.send(msg))
        .await
        .map_err(|_| MailError::Send {
            server: server.name(),
            reason: "timed out".to_owned(),
        })?;
    outcome.map(|_| ()).map_err(|e| MailError::Send {
        server: server.name(),
        reason: e.to_string(),
    })
}

/// The server the settings describe (with the decrypted AUTH password and the
/// configured CA file), or `None` when event e-mail is off.
pub async fn configured(app: &App, settings: &Settings) -> Result<Option<MailServer>, MailError> {
    let Some(relay) = &settings.smtp_relay else {
        return Ok(None);
    };
    if settings.smtp_to.is_empty() {
        return Ok(None);
    }
    let mut server = MailServer::parse(relay, settings.smtp_tls)?;
    if let Some(user) = &settings.smtp_username {
        let stored = {
            let mut conn = app
                .db
                .conn()
                .await
                .map_err(|e| MailError::Password(e.to_string()))?;
            db::smtp::password(&mut conn)
                .await
                .map_err(|e| MailError::Password(e.to_string()))?
        };
        if let Some(stored) = stored {
            let sb = app.clusters.secret_box().map_err(MailError::Password)?;
            let password = sb
                .decrypt(&stored, PASSWORD_AAD)
                .map_err(|e| MailError::Password(e.to_string()))?;
            server.credentials = Some((user.clone(), Secret::new(password)));
        }
    }
    if let Some(path) = &app.config.smtp_ca_file {
        let pem = tokio::fs::read(path).await.map_err(|e| MailError::CaFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        server.extra_roots_pem = Some(pem);
    }
    Ok(Some(server))
}

/// Why the SMTP password was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// No secrets key is configured.
    #[error("the SMTP password cannot be stored: {0}")]
    NoKey(String),
    /// Database.
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// Stores (encrypted) or, with `None`, removes the SMTP AUTH password.
pub async fn set_password(app: &App, password: Option<&str>) -> Result<(), PasswordError> {
    let mut tx = app.db.begin().await?;
    match password {
        Some(p) => {
            let sb = app.clusters.secret_box().map_err(PasswordError::NoKey)?;
            db::smtp::set_password(&mut tx, &sb.encrypt(p, PASSWORD_AAD), now_ms()).await?;
        }
        None => db::smtp::clear_password(&mut tx).await?,
    }
    tx.commit().await.map_err(db::DbError::from)?;
    Ok(())
}

/// Whether an SMTP password is stored.
pub async fn password_set(app: &App) -> Result<bool, db::DbError> {
    let mut conn = app.db.conn().await?;
    Ok(db::smtp::password(&mut conn).await?.is_some())
}

/// Re-encrypts the stored SMTP password under the current secrets key (key rotation).
pub async fn reencrypt(app: &App) -> Result<bool, String> {
    let Ok(sb) = app.clusters.secret_box() else {
        return Ok(false);
    };
    let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
    let Some(stored) = db::smtp::password(&mut tx)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    if !sb.is_stale(&stored) {
        return Ok(false);
    }
    let plain = sb
        .decrypt(&stored, PASSWORD_AAD)
        .map_err(|e| format!("SMTP password: {e}"))?;
    db::smtp::set_password(&mut tx, &sb.encrypt(&plain, PASSWORD_AAD), now_ms())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    tracing::info!(
        key_id = sb.current_key_id(),
        "re-encrypted the SMTP password under the current secrets key"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        let s = MailServer::parse("mail.example.com:587", SmtpTls::Starttls).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("mail.example.com", 587));
        let s = MailServer::parse("[::1]:25", SmtpTls::None).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", 25));
        assert!(MailServer::parse("nohost", SmtpTls::None).is_err());
        assert!(MailServer::parse(":25", SmtpTls::None).is_err());
        assert!(MailServer::parse("h:99999", SmtpTls::None).is_err());
    }

    #[test]
    fn the_password_never_prints() {
        let mut s = MailServer::parse("h:25", SmtpTls::Tls).unwrap();
        s.credentials = Some(("ops".into(), Secret::new("hunter2-Secret!".into())));
        let shown = format!("{s:?}");
        assert!(shown.contains("ops"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn messages_are_built_or_refused_with_the_address() {
        let m = Outgoing {
            from: "holdfast@example.com".into(),
            to: vec!["ops@example.com".into(), "dr@example.com".into()],
            subject: "[holdfast] info x".into(),
            body: "line one\n.line two\n".into(),
        };
        let text = String::from_utf8(message(&m).unwrap().formatted()).unwrap();
        assert!(text.contains("Subject: [holdfast] info x"), "{text}");
        assert!(
            text.contains("ops@example.com") && text.contains("dr@example.com"),
            "{text}"
        );
        let bad = Outgoing {
            to: vec!["not an address".into()],
            ..m
        };
        assert!(matches!(
            message(&bad),
            Err(MailError::Address { role: "to", .. })
        ));
    }
}
