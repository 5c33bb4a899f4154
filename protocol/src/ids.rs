use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("node id must not be empty")]
    Empty,
    #[error("node id {0:?} is longer than 64 characters")]
    TooLong(String),
    #[error(
        "node id {0:?} may contain only ASCII letters, digits, '.', '-' and '_' (it is used in queue names)"
    )]
    BadCharacter(String),
    #[error("node id {0:?} is reserved for the orchestrator")]
    Reserved(String),
}

const ORCHESTRATOR: &str = "orchestrator";

/// The identity of a node agent. It appears in queue names and routing keys, so it is
/// restricted to `[A-Za-z0-9._-]{1,64}` and may not be `orchestrator`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct NodeId(String);

impl NodeId {
    pub fn parse(s: impl Into<String>) -> Result<NodeId, IdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.chars().count() > 64 {
            return Err(IdError::TooLong(s));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(IdError::BadCharacter(s));
        }
        if s == ORCHESTRATOR {
            return Err(IdError::Reserved(s));
        }
        Ok(NodeId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NodeId::parse(s).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who sent a message: the orchestrator or one node agent. On the wire it is the
/// string `orchestrator` or the node id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Sender {
    Orchestrator,
    Node(NodeId),
}

impl TryFrom<String> for Sender {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        if s == ORCHESTRATOR {
            Ok(Sender::Orchestrator)
        } else {
            NodeId::parse(s).map(Sender::Node)
        }
    }
}

impl From<Sender> for String {
    fn from(s: Sender) -> String {
        match s {
            Sender::Orchestrator => ORCHESTRATOR.to_owned(),
            Sender::Node(n) => n.0,
        }
    }
}

impl std::fmt::Display for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sender::Orchestrator => f.write_str(ORCHESTRATOR),
            Sender::Node(n) => f.write_str(n.as_str()),
        }
    }
}

/// A source volume, named by its Cinder volume id on the source cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct VolumeId(pub String);

impl std::fmt::Display for VolumeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_validated() {
        assert!(NodeId::parse("compute-01.dc1_a").is_ok());
        assert_eq!(NodeId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            NodeId::parse("a b"),
            Err(IdError::BadCharacter(_))
        ));
        assert!(matches!(
            NodeId::parse("a#b"),
            Err(IdError::BadCharacter(_))
        ));
        assert!(matches!(
            NodeId::parse("x".repeat(65)),
            Err(IdError::TooLong(_))
        ));
        assert!(NodeId::parse("x".repeat(64)).is_ok());
        assert!(matches!(
            NodeId::parse("orchestrator"),
            Err(IdError::Reserved(_))
        ));
    }

    #[test]
    fn sender_round_trips_as_a_string() {
        let node = Sender::Node(NodeId::parse("n1").unwrap());
        assert_eq!(String::from(node.clone()), "n1");
        assert_eq!(Sender::try_from("n1".to_owned()), Ok(node));
        assert_eq!(
            Sender::try_from("orchestrator".to_owned()),
            Ok(Sender::Orchestrator)
        );
        assert!(Sender::try_from("bad node".to_owned()).is_err());
    }
}
