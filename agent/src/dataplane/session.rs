//! Authenticated framing over one connection (plain TCP or TLS over TCP: any
//! [`Stream`]), and the handshake that sets it up.
//!
//! Handshake (HMAC-SHA256 over a per-session secret the orchestrator gave both agents
//! in `ReplicationStart.session_secret`):
//!
//! ```text
//! source → target  Hello { volume, source_node, target_node, nonce_c }
//! target → source  Challenge { nonce_t, proof_t = HMAC(secret, "target" ‖ T) }
//! source → target  Proof { proof_c = HMAC(secret, "source" ‖ T) }
//! ```
//!
//! where `T` = SHA-256 of the length-prefixed volume, node ids and both nonces. Each
//! side checks the other's proof before sending anything else, so neither a process
//! without the secret nor an agent of another volume or node can read from a source or
//! write into a target. Afterwards every frame carries a keyed-BLAKE3 MAC over a
//! per-direction counter and the body, with keys `HMAC(secret, "c2s"/"s2c" ‖ T)`:
//! frames cannot be altered, replayed, reordered or injected. For a block frame the MAC
//! covers every field but the payload bytes; the payload is bound by the frame's BLAKE3
//! checksum, which the MAC covers and the target verifies on the decoded data before
//! writing anything (a changed payload is rejected like any checksum mismatch). This
//! saves one pass over the data on each side. The session itself does not
//! encrypt: with `[data_plane.tls]` configured the connection underneath is mutual TLS
//! ([`super::tls`]) and this handshake runs inside it (defence in depth: the TLS
//! certificates prove the nodes, the session secret proves the volume assignment).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

use super::frame::{BLOCK_HEAD, Digest, FrameError, MAX_BODY, Msg, is_block_head};
use super::tls::{PeerCert, TlsError};

pub const PROTOCOL_VERSION: u16 = 1;
const MAC_FLAG: u32 = 1 << 31;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum DataPlaneError {
    #[error("data-plane I/O: {0}")]
    Io(std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("malformed data-plane frame: {0}")]
    Frame(#[from] FrameError),
    #[error("frame authentication failed (tampered or out of order)")]
    BadMac,
    #[error("the peer refused the connection: {0}")]
    Refused(String),
    #[error("the peer failed authentication: {0}")]
    AuthenticationFailed(String),
    #[error("data-plane protocol violation: {0}")]
    Protocol(String),
    #[error("the data-plane handshake timed out")]
    Timeout,
}

impl From<std::io::Error> for DataPlaneError {
    /// An I/O error carrying a TLS failure (an alert from the peer after the handshake,
    /// e.g. the target refusing this agent's certificate) becomes a typed TLS error.
    fn from(e: std::io::Error) -> DataPlaneError {
        match super::tls::classify_io(&e) {
            Some(t) => DataPlaneError::Tls(t),
            None => DataPlaneError::Io(e),
        }
    }
}

/// A byte stream the data plane runs over: a `TcpStream`, or a TLS stream over one.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

fn split(stream: impl Stream) -> (FrameReader, FrameWriter) {
    let (r, w) = tokio::io::split(stream);
    (FrameReader::new(Box::new(r)), FrameWriter::new(Box::new(w)))
}

/// The first bytes of a TLS record (handshake or alert, TLS 1.0..1.3) where a plain
/// peer's frame length would be: a plain frame's length never starts with them (frames
/// are below 16 MiB, so the first byte is 0).
fn looks_like_tls(first: &[u8; 4]) -> bool {
    matches!(first[0], 0x15 | 0x16) && first[1] == 0x03
}

type HmacSha256 = Hmac<Sha256>;

/// The identities and nonces both sides bind their proofs and keys to.
#[derive(Debug, Clone)]
pub struct Transcript([u8; 32]);

impl Transcript {
    pub fn new(
        volume: &str,
        source: &str,
        target: &str,
        nonce_c: &Digest,
        nonce_t: &Digest,
    ) -> Transcript {
        let mut h = Sha256::new();
        h.update(b"holdfast-dataplane-v1");
        for part in [
            volume.as_bytes(),
            source.as_bytes(),
            target.as_bytes(),
            nonce_c,
            nonce_t,
        ] {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part);
        }
        Transcript(h.finalize().into())
    }

    fn mac(&self, secret: &[u8], label: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut m = <HmacSha256 as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new_from_slice(&[0]).expect("HMAC key"));
        m.update(label);
        m.update(&self.0);
        m
    }

    pub fn proof(&self, secret: &[u8], label: &[u8]) -> Digest {
        self.mac(secret, label).finalize().into_bytes().into()
    }

    /// Constant-time check of a proof.
    pub fn verify(&self, secret: &[u8], label: &[u8], proof: &Digest) -> bool {
        self.mac(secret, label).verify_slice(proof).is_ok()
    }
}

/// Writes frames, with a MAC once keyed. Buffered: call [`flush`](Self::flush) before
/// waiting for an answer.
pub struct FrameWriter {
    inner: BufWriter<WriteHalf>,
    key: Option<Digest>,
    counter: u64,
    pub bytes_written: u64,
}

impl FrameWriter {
    fn new(w: WriteHalf) -> FrameWriter {
        FrameWriter {
            inner: BufWriter::with_capacity(256 << 10, w),
            key: None,
            counter: 0,
            bytes_written: 0,
        }
    }

    pub async fn send(&mut self, msg: &Msg) -> Result<(), DataPlaneError> {
        let (head, payload) = msg.encode_parts();
        let body_len = head.len() + payload.len();
        let mut len = body_len as u32;
        if self.key.is_some() {
            len |= MAC_FLAG;
        }
        self.inner.write_all(&len.to_be_bytes()).await?;
        self.inner.write_all(&head).await?;
        self.inner.write_all(payload).await?;
        self.bytes_written += 4 + body_len as u64;
        if let Some(key) = &self.key {
            // For a block the MAC covers `head` only (see the module docs).
            let mac = frame_mac(key, self.counter, &head);
            self.counter += 1;
            self.inner.write_all(&mac).await?;
            self.bytes_written += 32;
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> Result<(), DataPlaneError> {
        self.inner.flush().await?;
        Ok(())
    }

    pub async fn send_now(&mut self, msg: &Msg) -> Result<(), DataPlaneError> {
        self.send(msg).await?;
        self.flush().await
    }
}

impl std::fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("keyed", &self.key.is_some())
            .field("counter", &self.counter)
            .field("bytes_written", &self.bytes_written)
            .finish_non_exhaustive()
    }
}

/// Reads frames, checking the MAC once keyed.
pub struct FrameReader {
    inner: BufReader<ReadHalf>,
    key: Option<Digest>,
    counter: u64,
}

impl FrameReader {
    fn new(r: ReadHalf) -> FrameReader {
        FrameReader {
            inner: BufReader::with_capacity(256 << 10, r),
            key: None,
            counter: 0,
        }
    }

    /// The next message; `Ok(None)` on a clean end of stream between frames.
    pub async fn recv(&mut self) -> Result<Option<Msg>, DataPlaneError> {
        let mut len = [0u8; 4];
        match self.inner.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        if self.key.is_none() && self.counter == 0 && looks_like_tls(&len) {
            // Only before the session is keyed: the peer speaks TLS and this side not.
            return Err(TlsError::PeerUsesTls.into());
        }
        let raw = u32::from_be_bytes(len);
        let has_mac = raw & MAC_FLAG != 0;
        let len = (raw & !MAC_FLAG) as usize;
        if len > MAX_BODY {
            return Err(FrameError::TooLarge(len).into());
        }
        // The head first: a block's payload is then read into a buffer of its own (no
        // zeroing, no copy when it is decoded); other bodies are read whole.
        let mut body = vec![0u8; len.min(BLOCK_HEAD)];
        self.inner.read_exact(&mut body).await?;
        let rest = len - body.len();
        let payload = if is_block_head(&body) {
            let mut payload = Vec::with_capacity(rest + 64);
            (&mut self.inner)
                .take(rest as u64)
                .read_to_end(&mut payload)
                .await?;
            if payload.len() != rest {
                return Err(DataPlaneError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            Some(payload)
        } else {
            body.resize(len, 0);
            self.inner.read_exact(&mut body[len - rest..]).await?;
            None
        };
        match (&self.key, has_mac) {
            (Some(key), true) => {
                let mut mac = [0u8; 32];
                self.inner.read_exact(&mut mac).await?;
                let expected = frame_mac(key, self.counter, &body);
                // blake3::Hash compares in constant time.
                if blake3::Hash::from(expected) != blake3::Hash::from(mac) {
                    return Err(DataPlaneError::BadMac);
                }
                self.counter += 1;
            }
            (Some(_), false) => {
                // The only unauthenticated frame a keyed peer may see is a refusal.
                return match Msg::decode(&body) {
                    Ok(Msg::Refused { reason }) => Err(DataPlaneError::Refused(reason)),
                    _ => Err(DataPlaneError::BadMac),
                };
            }
            (None, true) => return Err(DataPlaneError::Protocol("unexpected MAC".into())),
            (None, false) => {}
        }
        Ok(Some(match payload {
            Some(payload) => Msg::decode_parts(&body, payload)?,
            None => Msg::decode(&body)?,
        }))
    }

    pub async fn expect(&mut self) -> Result<Msg, DataPlaneError> {
        match self.recv().await? {
            Some(Msg::Refused { reason }) => Err(DataPlaneError::Refused(reason)),
            Some(m) => Ok(m),
            None => Err(DataPlaneError::Io(std::io::ErrorKind::UnexpectedEof.into())),
        }
    }
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("keyed", &self.key.is_some())
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// The part of a body the MAC covers (see the module docs).
fn authenticated(body: &[u8]) -> &[u8] {
    if is_block_head(body) {
        &body[..BLOCK_HEAD]
    } else {
        body
    }
}

fn frame_mac(key: &Digest, counter: u64, body: &[u8]) -> Digest {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(&counter.to_be_bytes());
    h.update(authenticated(body));
    *h.finalize().as_bytes()
}

fn nonce() -> Digest {
    rand::random()
}

/// An authenticated connection, split into its two directions.
#[derive(Debug)]
pub struct Session {
    pub reader: FrameReader,
    pub writer: FrameWriter,
}

/// Identities the source claims, for the target to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub volume: String,
    pub source_node: String,
    pub target_node: String,
}

/// Runs the source side of the handshake over `stream` (plain TCP, or TLS already
/// established by [`super::tls::DataPlaneTls::connect`]). Set TCP_NODELAY first.
pub async fn connect(
    stream: impl Stream,
    hello: &ClientHello,
    secret: &[u8],
) -> Result<Session, DataPlaneError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, client(stream, hello, secret))
        .await
        .map_err(|_| DataPlaneError::Timeout)?
}

async fn client(
    stream: impl Stream,
    hello: &ClientHello,
    secret: &[u8],
) -> Result<Session, DataPlaneError> {
    let (mut reader, mut writer) = split(stream);
    let nonce_c = nonce();
    writer
        .send_now(&Msg::Hello {
            version: PROTOCOL_VERSION,
            volume: hello.volume.clone(),
            source_node: hello.source_node.clone(),
            target_node: hello.target_node.clone(),
            nonce: nonce_c,
        })
        .await?;
    let (nonce_t, proof_t) = match reader.expect().await? {
        Msg::Challenge { nonce, proof } => (nonce, proof),
        other => {
            return Err(DataPlaneError::Protocol(format!(
                "expected a challenge, got {other:?}"
            )));
        }
    };
    let t = Transcript::new(
        &hello.volume,
        &hello.source_node,
        &hello.target_node,
        &nonce_c,
        &nonce_t,
    );
    if !t.verify(secret, b"target", &proof_t) {
        let _ = writer
            .send_now(&Msg::Refused {
                reason: "target failed authentication".into(),
            })
            .await;
        return Err(DataPlaneError::AuthenticationFailed(
            "the target does not know this volume's session secret".into(),
        ));
    }
    writer
        .send_now(&Msg::Proof {
            proof: t.proof(secret, b"source"),
        })
        .await?;
    writer.key = Some(t.proof(secret, b"c2s"));
    reader.key = Some(t.proof(secret, b"s2c"));
    Ok(Session { reader, writer })
}

/// What a target knows about a volume it accepts connections for.
#[derive(Clone)]
pub struct Expected {
    pub secret: Vec<u8>,
    pub source_node: String,
}

impl std::fmt::Debug for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expected")
            .field("secret", &"<redacted>")
            .field("source_node", &self.source_node)
            .finish()
    }
}

/// Runs the target side of the handshake. `lookup` returns the secret and expected
/// source of a volume this node is the target of. `peer` is the client certificate
/// when the connection is TLS: it must be issued to the volume's expected source node.
pub async fn accept(
    stream: impl Stream,
    my_node: &str,
    peer: Option<&PeerCert>,
    lookup: impl Fn(&str) -> Option<Expected>,
) -> Result<(Session, ClientHello), DataPlaneError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, server(stream, my_node, peer, lookup))
        .await
        .map_err(|_| DataPlaneError::Timeout)?
}

async fn server(
    stream: impl Stream,
    my_node: &str,
    peer: Option<&PeerCert>,
    lookup: impl Fn(&str) -> Option<Expected>,
) -> Result<(Session, ClientHello), DataPlaneError> {
    let (mut reader, mut writer) = split(stream);
    let (hello, nonce_c) = match reader.expect().await? {
        Msg::Hello {
            version,
            volume,
            source_node,
            target_node,
            nonce,
        } if version == PROTOCOL_VERSION => (
            ClientHello {
                volume,
                source_node,
                target_node,
            },
            nonce,
        ),
        other => {
            let _ = writer
                .send_now(&Msg::Refused {
                    reason: "unsupported protocol".into(),
                })
                .await;
            return Err(DataPlaneError::Protocol(format!(
                "expected hello, got {other:?}"
            )));
        }
    };
    let expected = match lookup(&hello.volume) {
        Some(e) => e,
        None => {
            return refuse(
                &mut writer,
                format!("volume {:?} is not replicated to this node", hello.volume),
            )
            .await;
        }
    };
    if hello.target_node != my_node || hello.source_node != expected.source_node {
        return refuse(
            &mut writer,
            format!(
                "volume {:?}: connection claims {} -> {}, expected {} -> {my_node}",
                hello.volume, hello.source_node, hello.target_node, expected.source_node
            ),
        )
        .await;
    }
    if let Some(cert) = peer
        && let Err(e) = cert.check_name(&expected.source_node)
    {
        return refuse(
            &mut writer,
            format!(
                "volume {:?}: the client certificate is not this volume's source node's: {e}",
                hello.volume
            ),
        )
        .await;
    }
    let nonce_t = nonce();
    let t = Transcript::new(
        &hello.volume,
        &hello.source_node,
        &hello.target_node,
        &nonce_c,
        &nonce_t,
    );
    writer
        .send_now(&Msg::Challenge {
            nonce: nonce_t,
            proof: t.proof(&expected.secret, b"target"),
        })
        .await?;
    let proof = match reader.expect().await? {
        Msg::Proof { proof } => proof,
        other => {
            return Err(DataPlaneError::Protocol(format!(
                "expected proof, got {other:?}"
            )));
        }
    };
    if !t.verify(&expected.secret, b"source", &proof) {
        return refuse(
            &mut writer,
            format!("volume {:?}: wrong session secret", hello.volume),
        )
        .await;
    }
    writer.key = Some(t.proof(&expected.secret, b"s2c"));
    reader.key = Some(t.proof(&expected.secret, b"c2s"));
    Ok((Session { reader, writer }, hello))
}

async fn refuse<T>(writer: &mut FrameWriter, why: String) -> Result<T, DataPlaneError> {
    let _ = writer
        .send_now(&Msg::Refused {
            reason: "not authorised".into(),
        })
        .await;
    Err(DataPlaneError::AuthenticationFailed(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_depend_on_secret_label_and_every_transcript_field() {
        let t = Transcript::new("v", "a", "b", &[1; 32], &[2; 32]);
        let p = t.proof(b"secret", b"source");
        assert!(t.verify(b"secret", b"source", &p));
        assert!(!t.verify(b"other", b"source", &p));
        assert!(!t.verify(b"secret", b"target", &p));
        for other in [
            Transcript::new("w", "a", "b", &[1; 32], &[2; 32]),
            Transcript::new("v", "x", "b", &[1; 32], &[2; 32]),
            Transcript::new("v", "a", "x", &[1; 32], &[2; 32]),
            Transcript::new("v", "a", "b", &[3; 32], &[2; 32]),
            Transcript::new("v", "a", "b", &[1; 32], &[3; 32]),
            // length prefixes keep field boundaries: "va"+"" differs from "v"+"a"
            Transcript::new("va", "", "b", &[1; 32], &[2; 32]),
        ] {
            assert!(!other.verify(b"secret", b"source", &p));
        }
    }

    #[test]
    fn block_macs_cover_every_field_but_the_payload() {
        use super::super::frame::Encoding;
        let block = |seq, checksum, payload: &[u8]| {
            Msg::Block {
                seq,
                offset: 4096,
                len: payload.len() as u32,
                checksum,
                encoding: Encoding::Raw,
                payload: payload.to_vec(),
            }
            .encode()
        };
        let k = [1; 32];
        let base = frame_mac(&k, 0, &block(1, [2; 32], b"abcd"));
        assert_ne!(base, frame_mac(&k, 0, &block(2, [2; 32], b"abcd")));
        assert_ne!(base, frame_mac(&k, 0, &block(1, [3; 32], b"abcd")));
        assert_ne!(
            base,
            frame_mac(&k, 0, &block(1, [2; 32], b"abcde")),
            "length is covered"
        );
        // Same length, other bytes: the checksum (verified by the target) catches it.
        assert_eq!(base, frame_mac(&k, 0, &block(1, [2; 32], b"abce")));
    }

    #[test]
    fn frame_macs_bind_the_counter() {
        let k = [7; 32];
        assert_ne!(frame_mac(&k, 0, b"x"), frame_mac(&k, 1, b"x"));
        assert_ne!(frame_mac(&k, 0, b"x"), frame_mac(&[8; 32], 0, b"x"));
    }
}
