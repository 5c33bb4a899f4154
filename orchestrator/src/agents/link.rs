//! [`AgentLink`]: request/reply with one agent over the bus, matched by correlation id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdfast_bus::{Bus, BusError};
use holdfast_protocol::messages::{ErrorCode, ErrorReport};
use holdfast_protocol::{AnyMessage, Envelope, MessageKind, NodeId, Request, Sender, UnixMillis};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

/// Why a request to an agent did not get its reply.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Replies are consumed by the lease holder only.
    #[error(
        "this orchestrator replica does not hold the leader lease, so it receives no agent replies; send {kind} from the leader"
    )]
    NotLeader {
        /// The request kind.
        kind: MessageKind,
    },
    /// No queue exists for the node.
    #[error(
        "no agent {node} is known to RabbitMQ (its command queue does not exist); is holdfast-agent installed and started on that node with this bus namespace?"
    )]
    UnknownAgent {
        /// The node.
        node: NodeId,
    },
    /// Publishing failed.
    #[error("cannot send {kind} to agent {node}: {source}")]
    Bus {
        /// The node.
        node: NodeId,
        /// The request kind.
        kind: MessageKind,
        /// The bus error.
        #[source]
        source: BusError,
    },
    /// No reply in time.
    #[error(
        "agent {node} did not answer {kind} within {waited_ms} ms; check that it is online (`holdfast agents show {node}`)"
    )]
    Timeout {
        /// The node.
        node: NodeId,
        /// The request kind.
        kind: MessageKind,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The agent answered with an error report.
    #[error("agent {node} refused {kind} ({code:?}): {message}")]
    Refused {
        /// The node.
        node: NodeId,
        /// The request kind.
        kind: MessageKind,
        /// Machine-readable code.
        code: ErrorCode,
        /// The agent's words.
        message: String,
        /// Whether the same request may succeed later.
        retryable: bool,
        /// The volume concerned, if any.
        volume_id: Option<String>,
    },
    /// The reply was of another kind than the request's reply type.
    #[error("agent {node} answered {kind} with {found}, expected {expected}")]
    UnexpectedReply {
        /// The node.
        node: NodeId,
        /// The request kind.
        kind: MessageKind,
        /// Expected reply kind.
        expected: MessageKind,
        /// What came.
        found: MessageKind,
    },
    /// The link was shut down while waiting.
    #[error("the orchestrator is shutting down; {kind} to agent {node} was abandoned")]
    ShutDown {
        /// The node.
        node: NodeId,
        /// The request kind.
        kind: MessageKind,
    },
}

impl AgentError {
    /// Whether the same request may succeed later.
    pub fn retryable(&self) -> bool {
        match self {
            AgentError::Refused { retryable, .. } => *retryable,
            AgentError::NotLeader { .. } | AgentError::UnexpectedReply { .. } => false,
            _ => true,
        }
    }
}

type Pending = Mutex<HashMap<Uuid, oneshot::Sender<Envelope>>>;

/// Sends requests to agents and matches their replies. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AgentLink {
    pub(crate) bus: Bus,
    pending: Arc<Pending>,
    consuming: Arc<watch::Sender<bool>>,
}

/// Removes a pending request when its caller stops waiting.
struct PendingGuard<'a> {
    pending: &'a Pending,
    id: Uuid,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl AgentLink {
    /// A link on `bus`, not consuming yet.
    pub(crate) fn new(bus: Bus) -> AgentLink {
        AgentLink {
            bus,
            pending: Arc::default(),
            consuming: Arc::new(watch::channel(false).0),
        }
    }

    /// Whether this replica consumes the agents' messages (it holds the leader lease),
    /// so that requests can get their replies.
    pub fn is_consuming(&self) -> bool {
        *self.consuming.borrow()
    }

    pub(crate) fn set_consuming(&self, on: bool) {
        self.consuming.send_replace(on);
        if !on {
            self.abandon_all();
        }
    }

    /// The bus this link uses.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Hands a reply to the request waiting for it; gives the envelope back if nobody
    /// waits (not a reply, a late reply, or a request of another replica).
    pub(crate) fn deliver(&self, env: Envelope) -> Option<Envelope> {
        let Some(id) = env.header.correlation_id else {
            return Some(env);
        };
        let waiter = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        match waiter {
            Some(tx) => tx.send(env).err(),
            None => Some(env),
        }
    }

    /// Sends `body` to `node` and waits up to `timeout` for its reply. An
    /// [`ErrorReport`] answer becomes [`AgentError::Refused`].
    #[tracing::instrument(skip_all, fields(node = %node, kind = %R::KIND))]
    pub async fn request<R>(
        &self,
        node: &NodeId,
        body: R,
        timeout: Duration,
    ) -> Result<R::Reply, AgentError>
    where
        R: Request,
        R::Reply: TryFrom<AnyMessage, Error = AnyMessage>,
    {
        let kind = R::KIND;
        if !self.is_consuming() {
            return Err(AgentError::NotLeader { kind });
        }
        let started = tokio::time::Instant::now();
        let env = Envelope::new(Sender::Orchestrator, body, UnixMillis::now());
        let id = env.header.message_id;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let _guard = PendingGuard {
            pending: &self.pending,
            id,
        };
        let timed_out = || AgentError::Timeout {
            node: node.clone(),
            kind,
            waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        match tokio::time::timeout(timeout, self.bus.publish_command(node, &env)).await {
            Ok(Ok(())) => {}
            Ok(Err(BusError::Unroutable { .. })) => {
                return Err(AgentError::UnknownAgent { node: node.clone() });
            }
            Ok(Err(source)) => {
                return Err(AgentError::Bus {
                    node: node.clone(),
                    kind,
                    source,
                });
            }
            Err(_) => return Err(timed_out()),
        }
        tracing::debug!(message_id = %id, "request sent");
        let reply = match tokio::time::timeout_at(started + timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => {
                return Err(AgentError::ShutDown {
                    node: node.clone(),
                    kind,
                });
            }
            Err(_) => return Err(timed_out()),
        };
        match reply.message {
            AnyMessage::ErrorReport(ErrorReport {
                code,
                message,
                retryable,
                volume_id,
                ..
            }) => Err(AgentError::Refused {
                node: node.clone(),
                kind,
                code,
                message,
                retryable,
                volume_id: volume_id.map(|v| v.0),
            }),
            other => R::Reply::try_from(other).map_err(|found| AgentError::UnexpectedReply {
                node: node.clone(),
                kind,
                expected: <R::Reply as holdfast_protocol::Body>::KIND,
                found: found.kind(),
            }),
        }
    }

    /// Fails every waiting request (shutdown or loss of leadership: replies will go
    /// to another replica).
    fn abandon_all(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
