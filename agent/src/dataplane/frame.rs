//! The data-plane messages and their binary encoding (pure; no I/O).
//!
//! A frame on the wire is `u32 length (big endian) | body | MAC`, where the body is a
//! type byte followed by the fields below (integers big endian, strings and byte
//! strings as `u32 length | bytes`). The 32-byte MAC is present once the handshake set
//! the session keys (see [`super::session`]).

use thiserror::Error;

/// Largest block payload in one frame.
pub const MAX_PAYLOAD: usize = 4 << 20;
/// Largest encoded body accepted.
pub const MAX_BODY: usize = MAX_PAYLOAD + 1024;
/// Bytes of a block's body before its payload: type, seq, offset, len, checksum,
/// encoding, payload length.
pub const BLOCK_HEAD: usize = 1 + 8 + 8 + 4 + 32 + 1 + 4;

/// Whether `body` starts with a whole block head.
pub fn is_block_head(body: &[u8]) -> bool {
    body.first() == Some(&7) && body.len() >= BLOCK_HEAD
}
const MAX_STRING: usize = 4096;

pub type Digest = [u8; 32];

/// How a block payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Raw = 0,
    Zstd = 1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Source → target: who I am, which volume, my nonce.
    Hello {
        version: u16,
        volume: String,
        source_node: String,
        target_node: String,
        nonce: Digest,
    },
    /// Target → source: my nonce and proof that I know the session secret.
    Challenge { nonce: Digest, proof: Digest },
    /// Source → target: proof that I know the session secret.
    Proof { proof: Digest },
    /// Either way: the connection is refused or failed; the reason is for logs.
    Refused { reason: String },
    /// Target → source after authentication: what it holds durably.
    Position {
        epoch: u64,
        next_seq: u64,
        complete: bool,
    },
    /// Source → target: extents `0..count` of `epoch` follow (from the position on).
    Begin {
        epoch: u64,
        count: u64,
        volume_size: u64,
        initial: bool,
    },
    /// One extent of data, verified by the target against `checksum` (BLAKE3 of the
    /// decoded bytes).
    Block {
        seq: u64,
        offset: u64,
        len: u32,
        checksum: Digest,
        encoding: Encoding,
        payload: Vec<u8>,
    },
    /// One extent that is all zeroes.
    Zero { seq: u64, offset: u64, len: u64 },
    /// Source → target: every extent below `seq` was sent; make them durable and ack.
    Sync { seq: u64 },
    /// Target → source: extents below `next_seq` of `epoch` are durable.
    Ack {
        epoch: u64,
        next_seq: u64,
        complete: bool,
    },
    /// Target → source: extent `seq` failed verification and was not written.
    Nack { seq: u64, reason: String },
    /// Source → target: `epoch` is complete once every extent below `count` is durable.
    End { epoch: u64, count: u64 },
    /// Source → target: create a snapshot of the target copy containing `epoch`.
    Snapshot { name: String, epoch: u64 },
    /// Source → target: delete a snapshot (idempotent).
    DeleteSnapshot { name: String },
    /// Target → source: the outcome of a snapshot request.
    SnapshotDone {
        name: String,
        epoch: u64,
        error: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame truncated")]
    Truncated,
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("unknown payload encoding {0}")]
    UnknownEncoding(u8),
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("string field is not UTF-8 or too long")]
    BadString,
    #[error("{0} trailing bytes after the frame")]
    Trailing(usize),
}

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    fn digest(&mut self, d: &Digest) -> &mut Self {
        self.0.extend_from_slice(d);
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
}

struct R<'a>(&'a [u8]);

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.0.len() < n {
            return Err(FrameError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    fn bool(&mut self) -> Result<bool, FrameError> {
        Ok(self.u8()? != 0)
    }
    fn bytes(&mut self, limit: usize) -> Result<&'a [u8], FrameError> {
        let n = self.u32()? as usize;
        if n > limit {
            return Err(FrameError::TooLarge(n));
        }
        self.take(n)
    }
    fn string(&mut self) -> Result<String, FrameError> {
        let b = self.bytes(MAX_STRING).map_err(|_| FrameError::BadString)?;
        String::from_utf8(b.to_vec()).map_err(|_| FrameError::BadString)
    }
}

impl Msg {
    /// The body split in two: everything before a block's payload, and the payload
    /// (empty for other messages), so large payloads are written without a copy.
    pub fn encode_parts(&self) -> (Vec<u8>, &[u8]) {
        match self {
            Msg::Block {
                seq,
                offset,
                len,
                checksum,
                encoding,
                payload,
            } => {
                let mut w = W(Vec::with_capacity(64));
                w.u8(7)
                    .u64(*seq)
                    .u64(*offset)
                    .u32(*len)
                    .digest(checksum)
                    .u8(*encoding as u8)
                    .u32(payload.len() as u32);
                (w.0, payload)
            }
            other => (other.encode(), &[]),
        }
    }

    /// Decodes a body it owns; a block's payload is split off (see
    /// [`decode_parts`](Msg::decode_parts) to receive it apart in the first place).
    pub fn decode_owned(mut body: Vec<u8>) -> Result<Msg, FrameError> {
        if is_block_head(&body) && body.len() <= MAX_BODY {
            let payload = body.split_off(BLOCK_HEAD);
            return Msg::decode_parts(&body, payload);
        }
        Msg::decode(&body)
    }

    /// Decodes a block from its head (the [`BLOCK_HEAD`] bytes before the payload) and
    /// its payload, read apart so the payload is never copied.
    pub fn decode_parts(head: &[u8], payload: Vec<u8>) -> Result<Msg, FrameError> {
        if !is_block_head(head) || head.len() != BLOCK_HEAD {
            return Err(FrameError::Truncated);
        }
        let declared = u32::from_be_bytes([
            head[BLOCK_HEAD - 4],
            head[BLOCK_HEAD - 3],
            head[BLOCK_HEAD - 2],
            head[BLOCK_HEAD - 1],
        ]) as usize;
        if declared != payload.len() {
            return Err(if declared > payload.len() {
                FrameError::Truncated
            } else {
                FrameError::Trailing(payload.len() - declared)
            });
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(FrameError::TooLarge(payload.len()));
        }
        // the head decodes as a block with an empty payload; the payload read apart
        // takes its place
        let mut msg = Msg::decode(&[&head[..BLOCK_HEAD - 4], &[0, 0, 0, 0]].concat())?;
        match &mut msg {
            Msg::Block { payload: p, .. } => *p = payload,
            _ => return Err(FrameError::UnknownType(7)),
        }
        Ok(msg)
    }

    /// The body of the frame (type byte and fields).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = W(Vec::with_capacity(64));
        match self {
            Msg::Hello {
                version,
                volume,
                source_node,
                target_node,
                nonce,
            } => w
                .u8(1)
                .u16(*version)
                .str(volume)
                .str(source_node)
                .str(target_node)
                .digest(nonce),
            Msg::Challenge { nonce, proof } => w.u8(2).digest(nonce).digest(proof),
            Msg::Proof { proof } => w.u8(3).digest(proof),
            Msg::Refused { reason } => w.u8(4).str(reason),
            Msg::Position {
                epoch,
                next_seq,
                complete,
            } => w.u8(5).u64(*epoch).u64(*next_seq).bool(*complete),
            Msg::Begin {
                epoch,
                count,
                volume_size,
                initial,
            } => w
                .u8(6)
                .u64(*epoch)
                .u64(*count)
                .u64(*volume_size)
                .bool(*initial),
            Msg::Block {
                seq,
                offset,
                len,
                checksum,
                encoding,
                payload,
            } => {
                w.0.reserve(payload.len() + 64);
                w.u8(7)
                    .u64(*seq)
                    .u64(*offset)
                    .u32(*len)
                    .digest(checksum)
                    .u8(*encoding as u8)
                    .bytes(payload)
            }
            Msg::Zero { seq, offset, len } => w.u8(8).u64(*seq).u64(*offset).u64(*len),
            Msg::Sync { seq } => w.u8(9).u64(*seq),
            Msg::Ack {
                epoch,
                next_seq,
                complete,
            } => w.u8(10).u64(*epoch).u64(*next_seq).bool(*complete),
            Msg::Nack { seq, reason } => w.u8(11).u64(*seq).str(reason),
            Msg::End { epoch, count } => w.u8(12).u64(*epoch).u64(*count),
            Msg::Snapshot { name, epoch } => w.u8(13).str(name).u64(*epoch),
            Msg::DeleteSnapshot { name } => w.u8(14).str(name),
            Msg::SnapshotDone { name, epoch, error } => {
                w.u8(15).str(name).u64(*epoch).bool(error.is_some());
                w.str(error.as_deref().unwrap_or(""))
            }
        };
        w.0
    }

    /// Decodes a frame body. Never panics; refuses oversized and malformed input.
    pub fn decode(body: &[u8]) -> Result<Msg, FrameError> {
        if body.len() > MAX_BODY {
            return Err(FrameError::TooLarge(body.len()));
        }
        let mut r = R(body);
        let msg = match r.u8()? {
            1 => Msg::Hello {
                version: r.u16()?,
                volume: r.string()?,
                source_node: r.string()?,
                target_node: r.string()?,
                nonce: r.arr()?,
            },
            2 => Msg::Challenge {
                nonce: r.arr()?,
                proof: r.arr()?,
            },
            3 => Msg::Proof { proof: r.arr()? },
            4 => Msg::Refused {
                reason: r.string()?,
            },
            5 => Msg::Position {
                epoch: r.u64()?,
                next_seq: r.u64()?,
                complete: r.bool()?,
            },
            6 => Msg::Begin {
                epoch: r.u64()?,
                count: r.u64()?,
                volume_size: r.u64()?,
                initial: r.bool()?,
            },
            7 => Msg::Block {
                seq: r.u64()?,
                offset: r.u64()?,
                len: r.u32()?,
                checksum: r.arr()?,
                encoding: match r.u8()? {
                    0 => Encoding::Raw,
                    1 => Encoding::Zstd,
                    other => return Err(FrameError::UnknownEncoding(other)),
                },
                payload: r.bytes(MAX_PAYLOAD)?.to_vec(),
            },
            8 => Msg::Zero {
                seq: r.u64()?,
                offset: r.u64()?,
                len: r.u64()?,
            },
            9 => Msg::Sync { seq: r.u64()? },
            10 => Msg::Ack {
                epoch: r.u64()?,
                next_seq: r.u64()?,
                complete: r.bool()?,
            },
            11 => Msg::Nack {
                seq: r.u64()?,
                reason: r.string()?,
            },
            12 => Msg::End {
                epoch: r.u64()?,
                count: r.u64()?,
            },
            13 => Msg::Snapshot {
                name: r.string()?,
                epoch: r.u64()?,
            },
            14 => Msg::DeleteSnapshot { name: r.string()? },
            15 => {
                let name = r.string()?;
                let epoch = r.u64()?;
                let has_error = r.bool()?;
                let error = r.string()?;
                Msg::SnapshotDone {
                    name,
                    epoch,
                    error: has_error.then_some(error),
                }
            }
            other => return Err(FrameError::UnknownType(other)),
        };
        if !r.0.is_empty() {
            return Err(FrameError::Trailing(r.0.len()));
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digest() -> impl Strategy<Value = Digest> {
        any::<[u8; 32]>()
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z0-9._-]{0,40}"
    }

    fn msg() -> impl Strategy<Value = Msg> {
        prop_oneof![
            (any::<u16>(), name(), name(), name(), digest()).prop_map(
                |(version, volume, s, t, nonce)| Msg::Hello {
                    version,
                    volume,
                    source_node: s,
                    target_node: t,
                    nonce
                }
            ),
            (digest(), digest()).prop_map(|(nonce, proof)| Msg::Challenge { nonce, proof }),
            digest().prop_map(|proof| Msg::Proof { proof }),
            name().prop_map(|reason| Msg::Refused { reason }),
            (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(epoch, next_seq, complete)| {
                Msg::Position {
                    epoch,
                    next_seq,
                    complete,
                }
            }),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<bool>()).prop_map(
                |(epoch, count, volume_size, initial)| Msg::Begin {
                    epoch,
                    count,
                    volume_size,
                    initial
                }
            ),
            (
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                digest(),
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(seq, offset, len, checksum, z, payload)| Msg::Block {
                    seq,
                    offset,
                    len,
                    checksum,
                    encoding: if z { Encoding::Zstd } else { Encoding::Raw },
                    payload
                }),
            (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(seq, offset, len)| Msg::Zero {
                seq,
                offset,
                len
            }),
            any::<u64>().prop_map(|seq| Msg::Sync { seq }),
            (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(epoch, next_seq, complete)| {
                Msg::Ack {
                    epoch,
                    next_seq,
                    complete,
                }
            }),
            (any::<u64>(), name()).prop_map(|(seq, reason)| Msg::Nack { seq, reason }),
            (any::<u64>(), any::<u64>()).prop_map(|(epoch, count)| Msg::End { epoch, count }),
            (name(), any::<u64>()).prop_map(|(name, epoch)| Msg::Snapshot { name, epoch }),
            name().prop_map(|name| Msg::DeleteSnapshot { name }),
            (name(), any::<u64>(), proptest::option::of(name()))
                .prop_map(|(name, epoch, error)| Msg::SnapshotDone { name, epoch, error }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in msg()) {
            prop_assert_eq!(Msg::decode(&m.encode()), Ok(m.clone()));
            let (head, payload) = m.encode_parts();
            let joined = [head, payload.to_vec()].concat();
            prop_assert_eq!(&joined, &m.encode());
            prop_assert_eq!(Msg::decode_owned(joined), Ok(m));
        }

        #[test]
        fn owned_decoding_agrees_with_decoding(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut b = bytes;
            if let Some(first) = b.first_mut() { *first = 7; }
            prop_assert_eq!(Msg::decode_owned(b.clone()).is_ok(), Msg::decode(&b).is_ok());
        }

        #[test]
        fn truncated_or_extended_frames_are_refused(m in msg(), cut in any::<prop::sample::Index>()) {
            let bytes = m.encode();
            let at = cut.index(bytes.len());
            prop_assert!(Msg::decode(&bytes[..at]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(Msg::decode(&longer).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Msg::decode(&bytes);
        }
    }

    #[test]
    fn oversized_payload_lengths_are_refused_without_allocating() {
        let mut body = vec![7u8];
        body.extend_from_slice(&[0; 8 + 8 + 4 + 32]);
        body.push(0);
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            Msg::decode(&body),
            Err(FrameError::TooLarge(u32::MAX as usize))
        );
    }
}
