use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AnyMessage, Body, DecodeError, EncodeError, MessageKind, ProtocolVersion, Sender};

/// The largest encoded envelope accepted, header and body together. Bulk volume data
/// never travels on the bus (it uses the agents' data plane), so 1 MiB is generous.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The current wall-clock time.
    pub fn now() -> UnixMillis {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }
}

/// What every message carries besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: ProtocolVersion,
    /// UUID v7: unique, and ordered by creation time. Consumers deduplicate on it.
    pub message_id: Uuid,
    /// For a reply, the `message_id` of the request it answers.
    pub correlation_id: Option<Uuid>,
    pub sender: Sender,
    pub sent_at: UnixMillis,
}

/// A decoded message with its header.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub header: Header,
    pub message: AnyMessage,
}

/// The envelope as it is laid out on the wire: a MessagePack map with named fields; the
/// body is a nested MessagePack document kept as bytes, so the header can be read (and
/// a message routed or dead-lettered) without understanding the body.
#[derive(Serialize, Deserialize)]
struct Wire {
    version: ProtocolVersion,
    message_id: Uuid,
    correlation_id: Option<Uuid>,
    sender: String,
    sent_at_ms: u64,
    kind: String,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

impl Envelope {
    /// A new message from `sender`, stamped with the current protocol version and a fresh
    /// UUID v7 derived from `sent_at`.
    pub fn new(sender: Sender, message: impl Into<AnyMessage>, sent_at: UnixMillis) -> Envelope {
        Envelope {
            header: Header {
                version: ProtocolVersion::CURRENT,
                message_id: uuid_v7_at(sent_at),
                correlation_id: None,
                sender,
                sent_at,
            },
            message: message.into(),
        }
    }

    /// A reply to this message: its correlation id is this message's id.
    pub fn reply(
        &self,
        sender: Sender,
        message: impl Into<AnyMessage>,
        sent_at: UnixMillis,
    ) -> Envelope {
        let mut reply = Envelope::new(sender, message, sent_at);
        reply.header.correlation_id = Some(self.header.message_id);
        reply
    }

    pub fn kind(&self) -> MessageKind {
        self.message.kind()
    }

    /// The body as the concrete type the caller expects.
    pub fn into_body<T: Body + TryFrom<AnyMessage>>(self) -> Result<T, DecodeError> {
        let found = self.kind();
        T::try_from(self.message).map_err(|_| DecodeError::KindMismatch {
            expected: T::KIND,
            found,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let kind = self.kind();
        let body = self.message.encode_body().map_err(|e| EncodeError::Body {
            kind,
            reason: e.to_string(),
        })?;
        let wire = Wire {
            version: self.header.version,
            message_id: self.header.message_id,
            correlation_id: self.header.correlation_id,
            sender: self.header.sender.to_string(),
            sent_at_ms: self.header.sent_at.0,
            kind: kind.as_str().to_owned(),
            body,
        };
        let bytes = rmp_serde::to_vec_named(&wire).map_err(|e| EncodeError::Body {
            kind,
            reason: e.to_string(),
        })?;
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(EncodeError::TooLarge {
                kind,
                size: bytes.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        Ok(bytes)
    }

    /// Decodes bytes from the bus. Never panics; see [`DecodeError`] for what is refused.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        Envelope::decode_with_limit(bytes, MAX_MESSAGE_BYTES)
    }

    /// [`Envelope::decode`] with a stricter size limit.
    pub fn decode_with_limit(bytes: &[u8], limit: usize) -> Result<Envelope, DecodeError> {
        if bytes.len() > limit {
            return Err(DecodeError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        let wire: Wire = rmp_serde::from_slice(bytes)
            .map_err(|e| DecodeError::MalformedEnvelope(e.to_string()))?;
        if !wire.version.is_readable_by(ProtocolVersion::CURRENT) {
            return Err(DecodeError::UnsupportedVersion {
                found: wire.version,
                ours: ProtocolVersion::CURRENT,
            });
        }
        let kind = MessageKind::parse(&wire.kind).ok_or(DecodeError::UnknownKind(wire.kind))?;
        let sender = Sender::try_from(wire.sender)?;
        let message =
            AnyMessage::decode_body(kind, &wire.body).map_err(|e| DecodeError::MalformedBody {
                kind,
                reason: e.to_string(),
            })?;
        Ok(Envelope {
            header: Header {
                version: wire.version,
                message_id: wire.message_id,
                correlation_id: wire.correlation_id,
                sender,
                sent_at: UnixMillis(wire.sent_at_ms),
            },
            message,
        })
    }
}

fn uuid_v7_at(at: UnixMillis) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.0 / 1000,
        u32::try_from((at.0 % 1000) * 1_000_000).unwrap_or(0),
    );
    Uuid::new_v7(ts)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::NodeId;
    use crate::kind::any_message;

    fn sender() -> impl Strategy<Value = Sender> {
        prop_oneof![
            Just(Sender::Orchestrator),
            any::<NodeId>().prop_map(Sender::Node)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_message_round_trips(
            message in any_message(),
            sender in sender(),
            at in 0u64..(1u64 << 47),
            minor in any::<u16>(),
            correlated in any::<bool>(),
        ) {
            let mut env = Envelope::new(sender, message, UnixMillis(at));
            env.header.version.minor = minor;
            if correlated {
                env.header.correlation_id = Some(env.header.message_id);
            }
            let bytes = env.encode().unwrap();
            prop_assert_eq!(Envelope::decode(&bytes).unwrap(), env);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Envelope::decode(&bytes);
        }

        #[test]
        fn corrupted_messages_never_panic(
            message in any_message(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let env = Envelope::new(Sender::Orchestrator, message, UnixMillis(1));
            let mut bytes = env.encode().unwrap();
            for (i, b) in flips {
                let at = i.index(bytes.len());
                bytes[at] = b;
            }
            let _ = Envelope::decode(&bytes);
            bytes.truncate(bytes.len() / 2);
            let _ = Envelope::decode(&bytes);
        }
    }

    #[test]
    fn message_ids_are_v7_and_carry_the_time() {
        let env = Envelope::new(
            Sender::Orchestrator,
            crate::messages::ReplicationResync {
                volume_id: crate::VolumeId("v".into()),
            },
            UnixMillis(1_700_000_000_123),
        );
        assert_eq!(env.header.message_id.get_version_num(), 7);
        let (secs, nanos) = env.header.message_id.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs * 1000 + u64::from(nanos / 1_000_000),
            1_700_000_000_123
        );
    }
}
