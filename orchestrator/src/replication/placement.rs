//! Where a volume replicates from and to, pure: the source backend named by the
//! volume's Cinder host, the clusters' storage metadata, and the agents that registered
//! the backends decide the source and target agents, their volume locations, the
//! target's data-plane address, and the target Cinder pool exports are adopted into.
//!
//! Conventions (operations manual): an agent serves a Cinder backend when one of its
//! `[[backends]]` carries the Cinder backend name (`volume_backend_name`); a file/LVM
//! backend is served by the agent whose node id or host name is the metadata's `node`;
//! a Ceph backend by an online agent with that backend, among the metadata's `agents`
//! when it names some (two clusters often both call their backend `ceph`; both ends on
//! one agent's backend is refused). Cinder names a volume's object
//! `volume-<id>`; the mirror on the target is `holdfast-mirror-<id>`. Without an
//! explicit target pool, the target backend is the target cluster's only backend of the
//! source's storage type, adopted as `<node>@<backend>#<backend>` (file/LVM: Cinder's
//! pool name is the backend name) or, for Ceph, into the metadata's `cinder_host`.

use holdfast_protocol::NodeId;
use holdfast_protocol::messages::{StorageKind, VolumeLocation};

use crate::domain::cluster::BackendStorage;

/// An agent as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    /// Node id.
    pub node_id: String,
    /// Host name from its hello.
    pub hostname: String,
    /// Reachable now.
    pub online: bool,
    /// `host:port` of its data plane.
    pub data_plane_addr: Option<String>,
    /// Its storage backends.
    pub backends: Vec<(String, StorageKind)>,
}

/// A Cinder host `host@backend#pool`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CinderHost {
    /// The service host.
    pub host: String,
    /// The backend name.
    pub backend: String,
    /// The pool, when given.
    pub pool: Option<String>,
}

impl CinderHost {
    /// Parses `host@backend[#pool]`.
    pub fn parse(s: &str) -> Result<CinderHost, PlacementError> {
        let bad = || PlacementError::BadHost(s.to_owned());
        let (host, rest) = s.split_once('@').ok_or_else(bad)?;
        let (backend, pool) = match rest.split_once('#') {
            Some((b, p)) => (b, Some(p)),
            None => (rest, None),
        };
        if host.is_empty() || backend.is_empty() || pool.is_some_and(str::is_empty) {
            return Err(bad());
        }
        Ok(CinderHost {
            host: host.to_owned(),
            backend: backend.to_owned(),
            pool: pool.map(str::to_owned),
        })
    }
}

/// One end of a replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Agent node.
    pub node: NodeId,
    /// The volume's object on that node.
    pub location: VolumeLocation,
}

/// A volume's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The source end.
    pub source: End,
    /// The target end (the mirror).
    pub target: End,
    /// The target agent's data plane.
    pub target_data_addr: String,
    /// The Cinder pool on the target exports are adopted into, `host@backend#pool`.
    pub target_host: String,
}

/// Why a volume cannot be placed, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Not `host@backend#pool`.
    #[error("{0:?} is not a Cinder host of the form host@backend#pool")]
    BadHost(String),
    /// The cluster's storage metadata does not describe the backend.
    #[error(
        "backend {backend:?} is not in the storage metadata of cluster {cluster} (described: {known:?}); add it to the cluster's storage metadata"
    )]
    UnknownBackend {
        /// The cluster.
        cluster: String,
        /// The backend.
        backend: String,
        /// The backends the metadata describes.
        known: Vec<String>,
    },
    /// No registered agent serves the backend.
    #[error(
        "no agent serves backend {backend:?} of cluster {cluster}{}: install holdfast-agent on that node with a [[backends]] entry named {backend:?}",
        node.as_ref().map(|n| format!(" on node {n}")).unwrap_or_default()
    )]
    NoAgent {
        /// The cluster.
        cluster: String,
        /// The backend.
        backend: String,
        /// The node the metadata names (file/LVM).
        node: Option<String>,
    },
    /// The agent serving the backend is unreachable.
    #[error(
        "agent {node} serving backend {backend:?} is unreachable; check `systemctl status holdfast-agent` on that node"
    )]
    AgentUnreachable {
        /// The node.
        node: String,
        /// The backend.
        backend: String,
    },
    /// The target agent announced no data-plane address.
    #[error(
        "target agent {node} has no data-plane address; set [data_plane] listen/advertise in its config"
    )]
    NoDataPlane {
        /// The node.
        node: String,
    },
    /// No or several target backends fit and none was named.
    #[error(
        "cluster {cluster} has {} {kind} backends ({candidates:?}); name the target pool (host@backend#pool)",
        if candidates.is_empty() { "no" } else { "several" }
    )]
    TargetBackend {
        /// The target cluster.
        cluster: String,
        /// `ceph` or `file`.
        kind: &'static str,
        /// Backends of that type.
        candidates: Vec<String>,
    },
    /// Source and target storage types differ.
    #[error(
        "the source backend {source_backend:?} is {source_kind} storage but the target backend {target_backend:?} is {target_kind}; map to a target of the same storage kind"
    )]
    KindMismatch {
        /// Source backend.
        source_backend: String,
        /// Its type.
        source_kind: &'static str,
        /// Target backend.
        target_backend: String,
        /// Its type.
        target_kind: &'static str,
    },
    /// A Ceph target needs its Cinder pool named.
    #[error(
        "the Cinder pool of Ceph backend {backend:?} on cluster {cluster} is not in its storage metadata: set cinder_host (host@backend#pool, as `openstack volume backend pool list` shows it)"
    )]
    TargetHostNeeded {
        /// The target cluster.
        cluster: String,
        /// The backend.
        backend: String,
    },
    /// Both ends would be the same backend of the same agent.
    #[error(
        "backend {backend:?} of cluster {source_cluster} and backend {backend:?} of cluster {target_cluster} would both be served by agent {node}, so the mirror would land on the source's own storage; name the agents of each cluster's backend in its storage metadata (`agents`)"
    )]
    SameAgent {
        /// The agent.
        node: String,
        /// The backend name both clusters use.
        backend: String,
        /// The source cluster.
        source_cluster: String,
        /// The target cluster.
        target_cluster: String,
    },
    /// A node id an agent registered is not valid (cannot happen for registered agents).
    #[error("agent node id {0:?} is invalid")]
    BadNode(String),
}

/// What to place.
#[derive(Debug, Clone, Copy)]
pub struct PlacementInput<'a> {
    /// Source volume id.
    pub volume_id: &'a str,
    /// Its Cinder host.
    pub source_host: &'a str,
    /// Source cluster id and its storage metadata.
    pub source_cluster: (&'a str, &'a [BackendStorage]),
    /// Target cluster id and its storage metadata.
    pub target_cluster: (&'a str, &'a [BackendStorage]),
    /// The target pool, if the caller names it.
    pub target_host: Option<&'a str>,
}

fn type_name(s: &BackendStorage) -> &'static str {
    match s {
        BackendStorage::Ceph { .. } => "ceph",
        BackendStorage::File { .. } => "file",
    }
}

fn find<'a>(
    cluster: &str,
    storage: &'a [BackendStorage],
    backend: &str,
) -> Result<&'a BackendStorage, PlacementError> {
    storage
        .iter()
        .find(|s| s.backend() == backend)
        .ok_or_else(|| PlacementError::UnknownBackend {
            cluster: cluster.to_owned(),
            backend: backend.to_owned(),
            known: storage.iter().map(|s| s.backend().to_owned()).collect(),
        })
}

/// The agent serving `storage` and the kind of its backend.
fn serving<'a>(
    cluster: &str,
    storage: &BackendStorage,
    agents: &'a [AgentView],
) -> Result<(&'a AgentView, StorageKind), PlacementError> {
    let backend = storage.backend();
    let kind_of = |a: &AgentView| {
        a.backends
            .iter()
            .find(|(n, k)| {
                n == backend
                    && match storage {
                        BackendStorage::Ceph { .. } => *k == StorageKind::Rbd,
                        BackendStorage::File { .. } => {
                            matches!(k, StorageKind::File | StorageKind::Block)
                        }
                    }
            })
            .map(|(_, k)| *k)
    };
    let named: Vec<&str> = match storage {
        BackendStorage::File { node, .. } => vec![node.as_str()],
        BackendStorage::Ceph { agents, .. } => agents.iter().map(String::as_str).collect(),
    };
    let mut candidates: Vec<(&AgentView, StorageKind)> = agents
        .iter()
        .filter(|a| named.is_empty() || named.iter().any(|n| a.node_id == *n || a.hostname == *n))
        .filter_map(|a| kind_of(a).map(|k| (a, k)))
        .collect();
    candidates.sort_by(|a, b| (!a.0.online, &a.0.node_id).cmp(&(!b.0.online, &b.0.node_id)));
    let (agent, kind) = candidates
        .first()
        .copied()
        .ok_or_else(|| PlacementError::NoAgent {
            cluster: cluster.to_owned(),
            backend: backend.to_owned(),
            node: (!named.is_empty()).then(|| named.join(", ")),
        })?;
    if !agent.online {
        return Err(PlacementError::AgentUnreachable {
            node: agent.node_id.clone(),
            backend: backend.to_owned(),
        });
    }
    Ok((agent, kind))
}

fn node_id(a: &AgentView) -> Result<NodeId, PlacementError> {
    NodeId::parse(a.node_id.clone()).map_err(|_| PlacementError::BadNode(a.node_id.clone()))
}

/// Places one volume.
pub fn place(i: PlacementInput<'_>, agents: &[AgentView]) -> Result<Placement, PlacementError> {
    let (source_cluster, source_storage) = i.source_cluster;
    let (target_cluster, target_storage) = i.target_cluster;
    let host = CinderHost::parse(i.source_host)?;
    let source = find(source_cluster, source_storage, &host.backend)?;
    let (target, target_host) = match i.target_host {
        Some(t) => {
            let parsed = CinderHost::parse(t)?;
            (
                find(target_cluster, target_storage, &parsed.backend)?,
                t.to_owned(),
            )
        }
        None => {
            let same: Vec<&BackendStorage> = target_storage
                .iter()
                .filter(|s| type_name(s) == type_name(source))
                .collect();
            let [only] = same.as_slice() else {
                return Err(PlacementError::TargetBackend {
                    cluster: target_cluster.to_owned(),
                    kind: type_name(source),
                    candidates: same.iter().map(|s| s.backend().to_owned()).collect(),
                });
            };
            let host = match only {
                BackendStorage::File { backend, node, .. } => format!("{node}@{backend}#{backend}"),
                BackendStorage::Ceph {
                    cinder_host: Some(h),
                    ..
                } => h.clone(),
                BackendStorage::Ceph { backend, .. } => {
                    return Err(PlacementError::TargetHostNeeded {
                        cluster: target_cluster.to_owned(),
                        backend: backend.clone(),
                    });
                }
            };
            (*only, host)
        }
    };
    if type_name(source) != type_name(target) {
        return Err(PlacementError::KindMismatch {
            source_backend: source.backend().to_owned(),
            source_kind: type_name(source),
            target_backend: target.backend().to_owned(),
            target_kind: type_name(target),
        });
    }
    let (src_agent, src_kind) = serving(source_cluster, source, agents)?;
    let (tgt_agent, tgt_kind) = serving(target_cluster, target, agents)?;
    if src_agent.node_id == tgt_agent.node_id && source.backend() == target.backend() {
        // one `[[backends]]` entry reaches one storage: this would mirror the volume
        // onto the source's own storage
        return Err(PlacementError::SameAgent {
            node: src_agent.node_id.clone(),
            backend: source.backend().to_owned(),
            source_cluster: source_cluster.to_owned(),
            target_cluster: target_cluster.to_owned(),
        });
    }
    let target_data_addr =
        tgt_agent
            .data_plane_addr
            .clone()
            .ok_or_else(|| PlacementError::NoDataPlane {
                node: tgt_agent.node_id.clone(),
            })?;
    Ok(Placement {
        source: End {
            node: node_id(src_agent)?,
            location: VolumeLocation {
                backend: source.backend().to_owned(),
                kind: src_kind,
                object: format!("volume-{}", i.volume_id),
            },
        },
        target: End {
            node: node_id(tgt_agent)?,
            location: VolumeLocation {
                backend: target.backend().to_owned(),
                kind: tgt_kind,
                object: format!("holdfast-mirror-{}", i.volume_id),
            },
        },
        target_data_addr,
        target_host,
    })
}

#[cfg(test)]
mod tests;
