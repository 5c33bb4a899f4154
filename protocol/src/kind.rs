use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::messages;

/// A message body that can travel in an [`crate::Envelope`].
pub trait Body:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + PartialEq + Into<AnyMessage>
{
    /// The kind written into the envelope header.
    const KIND: MessageKind;
}

/// A message that expects an answer: the reply (or an
/// [`messages::ErrorReport`]) carries the request's message id as its correlation id.
pub trait Request: Body {
    type Reply: Body;
}

/// A one-way message (status, progress, health): nobody replies to it.
pub trait Event: Body {}

macro_rules! messages {
    ($( $variant:ident => $kind:literal, )*) => {
        /// The kind of a message, written as a string in the envelope header.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MessageKind {
            $( $variant, )*
        }

        impl MessageKind {
            /// Every kind this version knows, in declaration order.
            pub const ALL: &'static [MessageKind] = &[ $( MessageKind::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( MessageKind::$variant => $kind, )*
                }
            }

            /// `None` for a kind this version does not know.
            pub fn parse(s: &str) -> Option<MessageKind> {
                match s {
                    $( $kind => Some(MessageKind::$variant), )*
                    _ => None,
                }
            }
        }

        /// Any message of this protocol version, decoded.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnyMessage {
            $( $variant(messages::$variant), )*
        }

        impl AnyMessage {
            pub fn kind(&self) -> MessageKind {
                match self {
                    $( AnyMessage::$variant(_) => MessageKind::$variant, )*
                }
            }

            pub(crate) fn encode_body(&self) -> Result<Vec<u8>, rmp_serde::encode::Error> {
                match self {
                    $( AnyMessage::$variant(m) => rmp_serde::to_vec_named(m), )*
                }
            }

            pub(crate) fn decode_body(
                kind: MessageKind,
                bytes: &[u8],
            ) -> Result<AnyMessage, rmp_serde::decode::Error> {
                match kind {
                    $( MessageKind::$variant => rmp_serde::from_slice(bytes).map(AnyMessage::$variant), )*
                }
            }
        }

        /// A strategy producing every kind of message (for property tests).
        #[cfg(test)]
        pub(crate) fn any_message() -> proptest::strategy::BoxedStrategy<AnyMessage> {
            use proptest::prelude::*;
            proptest::strategy::Union::new(vec![
                $( any::<messages::$variant>().prop_map(AnyMessage::$variant).boxed(), )*
            ])
            .boxed()
        }

        $(
            impl Body for messages::$variant {
                const KIND: MessageKind = MessageKind::$variant;
            }

            impl From<messages::$variant> for AnyMessage {
                fn from(m: messages::$variant) -> AnyMessage {
                    AnyMessage::$variant(m)
                }
            }

            impl TryFrom<AnyMessage> for messages::$variant {
                type Error = AnyMessage;
                fn try_from(m: AnyMessage) -> Result<Self, AnyMessage> {
                    match m {
                        AnyMessage::$variant(inner) => Ok(inner),
                        other => Err(other),
                    }
                }
            }
        )*
    };
}

messages! {
    AgentHello => "agent.hello",
    AgentWelcome => "agent.welcome",
    Heartbeat => "agent.heartbeat",
    ReplicationStart => "replication.start",
    ReplicationStop => "replication.stop",
    ReplicationResync => "replication.resync",
    ReplicationPause => "replication.pause",
    ReplicationResume => "replication.resume",
    ReplicationAck => "replication.ack",
    ReplicationStatus => "replication.status",
    CutPrepare => "cut.prepare",
    CutPrepared => "cut.prepared",
    CutCommit => "cut.commit",
    CutAbort => "cut.abort",
    CutResult => "cut.result",
    TargetSnapshotCreate => "target-snapshot.create",
    TargetSnapshotDelete => "target-snapshot.delete",
    TargetSnapshotResult => "target-snapshot.result",
    VolumeExport => "volume.export",
    VolumeExported => "volume.exported",
    VolumeExportDiscard => "volume.export-discard",
    VolumeExportDiscarded => "volume.export-discarded",
    ErrorReport => "error.report",
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! requests {
    ($( $req:ident => $reply:ident, )*) => {
        $( impl Request for messages::$req { type Reply = messages::$reply; } )*
    };
}

requests! {
    AgentHello => AgentWelcome,
    ReplicationStart => ReplicationAck,
    ReplicationStop => ReplicationAck,
    ReplicationResync => ReplicationAck,
    ReplicationPause => ReplicationAck,
    ReplicationResume => ReplicationAck,
    CutPrepare => CutPrepared,
    CutCommit => CutResult,
    CutAbort => CutResult,
    TargetSnapshotCreate => TargetSnapshotResult,
    TargetSnapshotDelete => TargetSnapshotResult,
    VolumeExport => VolumeExported,
    VolumeExportDiscard => VolumeExportDiscarded,
}

impl Event for messages::Heartbeat {}
impl Event for messages::ReplicationStatus {}
impl Event for messages::ErrorReport {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for kind in MessageKind::ALL {
            assert!(seen.insert(kind.as_str()), "duplicate kind {kind}");
            assert_eq!(MessageKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(MessageKind::parse("agent.unknown"), None);
    }
}
