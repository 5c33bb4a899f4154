//! Event e-mail: a minimal SMTP client (RFC 5321) for a relay that accepts mail without
//! authentication or TLS, such as the local MTA. No STARTTLS, no AUTH.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Network error or timeout.
    #[error("SMTP relay {relay}: {reason}")]
    Io {
        /// The relay.
        relay: String,
        /// What went wrong.
        reason: String,
    },
    /// The relay refused a command.
    #[error("SMTP relay refused {command}: {reply}")]
    Refused {
        /// The command.
        command: String,
        /// The reply.
        reply: String,
    },
}

/// Sends one plain-text message to `to` through `relay` (`host:port`).
pub async fn send(
    relay: &str,
    from: &str,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<(), MailError> {
    let io = |e: std::io::Error| MailError::Io {
        relay: relay.to_owned(),
        reason: e.to_string(),
    };
    let work = async {
        let stream = TcpStream::connect(relay).await.map_err(io)?;
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        expect(&mut read, "connect", '2').await?;
        let mut step = async |line: String, ok: char| -> Result<(), MailError> {
            write.write_all(line.as_bytes()).await.map_err(io)?;
            write.write_all(b"\r\n").await.map_err(io)?;
            expect(&mut read, &line, ok).await
        };
        step("EHLO holdfast".to_owned(), '2').await?;
        step(format!("MAIL FROM:<{from}>"), '2').await?;
        for rcpt in to {
            step(format!("RCPT TO:<{rcpt}>"), '2').await?;
        }
        step("DATA".to_owned(), '3').await?;
        let mut data = format!(
            "From: <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
            to.iter()
                .map(|t| format!("<{t}>"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for line in body.lines() {
            // Dot-stuffing (RFC 5321 4.5.2).
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push('.');
        step(data, '2').await?;
        step("QUIT".to_owned(), '2').await?;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(15), work)
        .await
        .map_err(|_| MailError::Io {
            relay: relay.to_owned(),
            reason: "timed out".to_owned(),
        })?
}

async fn expect(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    command: &str,
    ok: char,
) -> Result<(), MailError> {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        let n = read.read_line(&mut line).await.map_err(|e| MailError::Io {
            relay: String::new(),
            reason: e.to_string(),
        })?;
        if n == 0 {
            return Err(MailError::Refused {
                command: first_line(command),
                reply: format!("connection closed after {reply:?}"),
            });
        }
        reply.push_str(&line);
        // "250-..." continues a multi-line reply; "250 ..." ends it.
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    if reply.starts_with(ok) {
        Ok(())
    } else {
        Err(MailError::Refused {
            command: first_line(command),
            reply: reply.trim_end().to_owned(),
        })
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_owned()
}
