//! Errors: the reply to a request that failed, or a standalone report.

use serde::{Deserialize, Serialize};

use crate::{MessageKind, VolumeId};

/// A machine-readable error code. The orchestrator decides on retries and events from
/// it; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum ErrorCode {
    /// The request is invalid; retrying it unchanged will fail again.
    BadRequest,
    /// The volume is not known to this agent.
    UnknownVolume,
    /// The named storage backend is missing or unreachable.
    StorageUnavailable,
    /// The target storage has no space left.
    StorageFull,
    /// A block failed verification more times than allowed.
    ChecksumMismatch,
    /// The peer agent's data plane could not be reached.
    DataPlaneUnreachable,
    /// The data-plane peer failed authentication.
    AuthenticationFailed,
    /// The request conflicts with the volume's current state.
    Conflict,
    Timeout,
    /// The sender is not allowed to ask for this.
    NotPermitted,
    Internal,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ErrorReport {
    pub code: ErrorCode,
    pub message: String,
    /// The kind of the request that failed, when this is a reply.
    #[cfg_attr(test, proptest(strategy = "crate::testing::opt_kind_str()"))]
    pub request_kind: Option<String>,
    pub volume_id: Option<VolumeId>,
    /// Whether the same request may succeed later.
    pub retryable: bool,
}

impl ErrorReport {
    pub fn for_request(kind: MessageKind, code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorReport {
            code,
            message: message.into(),
            request_kind: Some(kind.as_str().to_owned()),
            volume_id: None,
            retryable: matches!(
                code,
                ErrorCode::StorageUnavailable
                    | ErrorCode::DataPlaneUnreachable
                    | ErrorCode::Timeout
                    | ErrorCode::Internal
            ),
        }
    }
}
