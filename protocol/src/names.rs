//! Exchange, queue and routing-key names.
//!
//! Layout (namespace `holdfast` in production; tests use a unique namespace each):
//!
//! | name | type | what |
//! | --- | --- | --- |
//! | `holdfast.commands` | direct exchange | orchestrator → agent; routing key = node id |
//! | `holdfast.agent.<node>` | quorum queue | one per agent, bound to `commands` with its node id |
//! | `holdfast.events` | topic exchange | agent → orchestrator; routing key `<node>.<kind>` |
//! | `holdfast.orchestrator` | quorum queue | bound to `events` with `#` |
//! | `holdfast.dead-letter` | fanout exchange + queue | messages that could not be decoded |
//!
//! The routing key of an agent's events starts with its node id, so a RabbitMQ topic
//! permission (`^<node>\.`) confines each agent's user to publishing as itself.

use crate::{MessageKind, NodeId};

/// The namespace of the production topology.
pub const DEFAULT_NAMESPACE: &str = "holdfast";
pub const COMMANDS_EXCHANGE: &str = "commands";
pub const EVENTS_EXCHANGE: &str = "events";
pub const DEAD_LETTER_EXCHANGE: &str = "dead-letter";
pub const DEAD_LETTER_QUEUE: &str = "dead-letter";
pub const ORCHESTRATOR_QUEUE: &str = "orchestrator";
pub const AGENT_QUEUE_PREFIX: &str = "agent";
/// Binding key of the orchestrator's queue on the events exchange.
pub const ALL_EVENTS_BINDING: &str = "#";

/// Every name of one topology, derived from its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    namespace: String,
}

impl Default for Names {
    fn default() -> Self {
        Names::new(DEFAULT_NAMESPACE)
    }
}

impl Names {
    pub fn new(namespace: impl Into<String>) -> Names {
        Names {
            namespace: namespace.into(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}.{}", self.namespace, suffix)
    }

    pub fn commands_exchange(&self) -> String {
        self.name(COMMANDS_EXCHANGE)
    }

    pub fn events_exchange(&self) -> String {
        self.name(EVENTS_EXCHANGE)
    }

    pub fn dead_letter_exchange(&self) -> String {
        self.name(DEAD_LETTER_EXCHANGE)
    }

    pub fn dead_letter_queue(&self) -> String {
        self.name(DEAD_LETTER_QUEUE)
    }

    pub fn orchestrator_queue(&self) -> String {
        self.name(ORCHESTRATOR_QUEUE)
    }

    pub fn agent_queue(&self, node: &NodeId) -> String {
        format!("{}.{}.{}", self.namespace, AGENT_QUEUE_PREFIX, node)
    }

    /// Routing key of a command for `node` on the commands exchange.
    pub fn command_key(node: &NodeId) -> String {
        node.as_str().to_owned()
    }

    /// Routing key of an event from `node` on the events exchange.
    pub fn event_key(node: &NodeId, kind: MessageKind) -> String {
        format!("{node}.{kind}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_names() {
        let n = Names::default();
        let node = NodeId::parse("compute-1").unwrap();
        assert_eq!(n.commands_exchange(), "holdfast.commands");
        assert_eq!(n.events_exchange(), "holdfast.events");
        assert_eq!(n.orchestrator_queue(), "holdfast.orchestrator");
        assert_eq!(n.dead_letter_exchange(), "holdfast.dead-letter");
        assert_eq!(n.dead_letter_queue(), "holdfast.dead-letter");
        assert_eq!(n.agent_queue(&node), "holdfast.agent.compute-1");
        assert_eq!(Names::command_key(&node), "compute-1");
        assert_eq!(
            Names::event_key(&node, MessageKind::Heartbeat),
            "compute-1.agent.heartbeat"
        );
    }
}
