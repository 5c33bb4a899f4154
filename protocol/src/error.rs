use crate::{MessageKind, ProtocolVersion};

/// Why bytes from the bus could not be turned into a message.
///
/// Decoding never panics: every malformed, truncated, oversized or foreign input ends
/// here, and the bus moves such a message to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(String),
    #[error(
        "protocol version {found} is not supported (this peer speaks {ours}); upgrade the older side"
    )]
    UnsupportedVersion {
        found: ProtocolVersion,
        ours: ProtocolVersion,
    },
    #[error("unknown message kind {0:?}; is the sender newer than this peer?")]
    UnknownKind(String),
    #[error("malformed body for message kind {kind}: {reason}")]
    MalformedBody { kind: MessageKind, reason: String },
    #[error("expected a {expected} message, got {found}")]
    KindMismatch {
        expected: MessageKind,
        found: MessageKind,
    },
    #[error("invalid sender: {0}")]
    InvalidSender(#[from] crate::IdError),
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot encode {kind}: {reason}")]
    Body { kind: MessageKind, reason: String },
    #[error("encoded {kind} message is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        kind: MessageKind,
        size: usize,
        limit: usize,
    },
}
