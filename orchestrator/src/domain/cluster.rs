//! Clusters, pure: statuses, storage metadata rules, notification settings, and the
//! kinds of synced resources.

use serde::{Deserialize, Serialize};

/// Reachability of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterStatus {
    /// Reachable and authenticated.
    Active,
    /// Not reachable or not authenticated.
    Inactive,
}

impl ClusterStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Active => "active",
            ClusterStatus::Inactive => "inactive",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<ClusterStatus> {
        [ClusterStatus::Active, ClusterStatus::Inactive]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Progress of the resource synchronisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SyncStatus {
    /// Registered, never synced.
    #[serde(rename = "INIT")]
    Init,
    /// A sync runs.
    Running,
    /// The last sync finished (see the last error).
    Done,
}

impl SyncStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Init => "INIT",
            SyncStatus::Running => "Running",
            SyncStatus::Done => "Done",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<SyncStatus> {
        [SyncStatus::Init, SyncStatus::Running, SyncStatus::Done]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What replication needs to reach one volume backend's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendStorage {
    /// Ceph RBD (values from `/etc/ceph/ceph.conf`).
    Ceph {
        /// Cinder backend name (`volume_backend_name`).
        backend: String,
        /// Monitor hosts (`host` or `host:port`).
        monitors: Vec<String>,
        /// RBD pool.
        pool: String,
        /// Client name, e.g. `cinder`.
        client: String,
        /// Where the keyring is on the agents' nodes (a path, never the key itself).
        keyring_ref: String,
        /// The Cinder pool (`host@backend#pool`, as `openstack volume backend pool list`
        /// shows it) that volumes recovered on this cluster are adopted into with
        /// manage-existing. Needed when the cluster is a target: Ceph metadata does not
        /// tell which `cinder-volume` host serves the backend.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cinder_host: Option<String>,
        /// Node ids or host names of the agents that reach this Ceph cluster; empty: any
        /// online agent with a backend of this name. Needed when another cluster's Ceph
        /// backend has the same name (e.g. `ceph` on both source and target).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        agents: Vec<String>,
    },
    /// File or LVM backend: the node holding the volumes and their path prefix.
    File {
        /// Cinder backend name.
        backend: String,
        /// Node (host name) that holds the volumes.
        node: String,
        /// Directory or device prefix, e.g. `/var/lib/cinder/volumes` or `/dev/cinder-volumes`.
        path_prefix: String,
    },
}

impl BackendStorage {
    /// The Cinder backend this entry describes.
    pub fn backend(&self) -> &str {
        match self {
            BackendStorage::Ceph { backend, .. } | BackendStorage::File { backend, .. } => backend,
        }
    }
}

/// Why storage metadata or notification settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ClusterFieldError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn field_err(field: &'static str, reason: impl Into<String>) -> ClusterFieldError {
    ClusterFieldError {
        field,
        reason: reason.into(),
    }
}

fn plain(field: &'static str, v: &str, max: usize) -> Result<(), ClusterFieldError> {
    if v.trim().is_empty() || v.len() > max {
        return Err(field_err(field, format!("must be 1 to {max} characters")));
    }
    if v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(field_err(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// Checks storage metadata: each backend once, every field filled.
pub fn validate_storage(entries: &[BackendStorage]) -> Result<(), ClusterFieldError> {
    let mut seen = std::collections::BTreeSet::new();
    for e in entries {
        plain("storage.backend", e.backend(), 255)?;
        if !seen.insert(e.backend()) {
            return Err(field_err(
                "storage.backend",
                format!("backend {:?} is described twice", e.backend()),
            ));
        }
        match e {
            BackendStorage::Ceph {
                monitors,
                pool,
                client,
                keyring_ref,
                backend,
                cinder_host,
                agents,
            } => {
                for a in agents {
                    plain("storage.agents", a, 255)?;
                }
                if monitors.is_empty() {
                    return Err(field_err("storage.monitors", "name at least one monitor"));
                }
                for m in monitors {
                    plain("storage.monitors", m, 255)?;
                }
                plain("storage.pool", pool, 255)?;
                plain("storage.client", client, 255)?;
                plain("storage.keyring_ref", keyring_ref, 4096)?;
                if let Some(h) = cinder_host {
                    plain("storage.cinder_host", h, 255)?;
                    let served = h
                        .split_once('@')
                        .and_then(|(host, rest)| Some((host, rest.split_once('#')?)))
                        .filter(|(host, (_, pool))| !host.is_empty() && !pool.is_empty())
                        .map(|(_, (b, _))| b);
                    if served != Some(backend.as_str()) {
                        return Err(field_err(
                            "storage.cinder_host",
                            format!(
                                "must be a Cinder pool of backend {backend:?}: <host>@{backend}#<pool>, as `openstack volume backend pool list` shows it"
                            ),
                        ));
                    }
                }
            }
            BackendStorage::File {
                node, path_prefix, ..
            } => {
                plain("storage.node", node, 255)?;
                if !path_prefix.starts_with('/') {
                    return Err(field_err("storage.path_prefix", "must be an absolute path"));
                }
                plain("storage.path_prefix", path_prefix, 4096)?;
            }
        }
    }
    Ok(())
}

/// The oslo.messaging exchanges a cluster's services notify on (a real cloud: `nova`,
/// `neutron`, `openstack` for Cinder and Keystone).
pub const DEFAULT_EXCHANGES: [&str; 3] = ["nova", "openstack", "neutron"];

/// Checks a notification broker URL and its exchanges.
pub fn validate_notifications(
    broker_url: Option<&str>,
    exchanges: &[String],
) -> Result<(), ClusterFieldError> {
    if let Some(url) = broker_url
        && !(url.starts_with("amqp://") || url.starts_with("amqps://"))
    {
        return Err(field_err(
            "notification_broker_url",
            "must be an amqp:// or amqps:// URL, e.g. amqp://user:pass@host:5672/%2f",
        ));
    }
    if exchanges.is_empty() {
        return Err(field_err(
            "notification_exchanges",
            "name at least one exchange",
        ));
    }
    for x in exchanges {
        plain("notification_exchanges", x, 255)?;
    }
    Ok(())
}

/// A kind of synced resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    /// Compute node.
    Hypervisor,
    /// Availability zone.
    AvailabilityZone,
    /// Keystone project (tenant).
    Project,
    /// Neutron network.
    Network,
    /// Neutron subnet.
    Subnet,
    /// Neutron router (with its interfaces and gateway).
    Router,
    /// Neutron port.
    Port,
    /// Floating IP.
    FloatingIp,
    /// Security group.
    SecurityGroup,
    /// Security group rule.
    SecurityGroupRule,
    /// Nova server.
    Instance,
    /// Cinder volume.
    Volume,
    /// Cinder volume type.
    VolumeType,
    /// Cinder group (consistency group).
    VolumeGroup,
    /// Cinder snapshot.
    VolumeSnapshot,
    /// Nova keypair.
    Keypair,
    /// Nova flavor.
    Flavor,
}

impl ResourceKind {
    /// Every kind, in sync order.
    pub const ALL: [ResourceKind; 17] = [
        ResourceKind::Hypervisor,
        ResourceKind::AvailabilityZone,
        ResourceKind::Project,
        ResourceKind::Network,
        ResourceKind::Subnet,
        ResourceKind::Router,
        ResourceKind::Port,
        ResourceKind::FloatingIp,
        ResourceKind::SecurityGroup,
        ResourceKind::SecurityGroupRule,
        ResourceKind::Flavor,
        ResourceKind::Keypair,
        ResourceKind::VolumeType,
        ResourceKind::VolumeGroup,
        ResourceKind::Volume,
        ResourceKind::VolumeSnapshot,
        ResourceKind::Instance,
    ];

    /// Stored and URL name (`instances`, `volume-types`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Hypervisor => "hypervisors",
            ResourceKind::AvailabilityZone => "availability-zones",
            ResourceKind::Project => "projects",
            ResourceKind::Network => "networks",
            ResourceKind::Subnet => "subnets",
            ResourceKind::Router => "routers",
            ResourceKind::Port => "ports",
            ResourceKind::FloatingIp => "floating-ips",
            ResourceKind::SecurityGroup => "security-groups",
            ResourceKind::SecurityGroupRule => "security-group-rules",
            ResourceKind::Instance => "instances",
            ResourceKind::Volume => "volumes",
            ResourceKind::VolumeType => "volume-types",
            ResourceKind::VolumeGroup => "volume-groups",
            ResourceKind::VolumeSnapshot => "volume-snapshots",
            ResourceKind::Keypair => "keypairs",
            ResourceKind::Flavor => "flavors",
        }
    }

    /// Parses a stored or URL name.
    pub fn parse(s: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ResourceKind::ALL {
            assert_eq!(ResourceKind::parse(k.as_str()), Some(k));
        }
        for s in [SyncStatus::Init, SyncStatus::Running, SyncStatus::Done] {
            assert_eq!(SyncStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ClusterStatus::parse("active"), Some(ClusterStatus::Active));
        assert_eq!(ResourceKind::parse("servers"), None);
    }

    #[test]
    fn storage_rules() {
        let ceph = BackendStorage::Ceph {
            backend: "rbd-1".into(),
            monitors: vec!["10.0.0.1:6789".into()],
            pool: "volumes".into(),
            client: "cinder".into(),
            keyring_ref: "/etc/ceph/ceph.client.cinder.keyring".into(),
            cinder_host: None,
            agents: vec![],
        };
        let file = BackendStorage::File {
            backend: "lvm".into(),
            node: "node1".into(),
            path_prefix: "/dev/cinder-volumes".into(),
        };
        validate_storage(&[ceph.clone(), file.clone()]).unwrap();
        assert_eq!(
            validate_storage(&[file.clone(), file.clone()])
                .unwrap_err()
                .field,
            "storage.backend"
        );
        let relative = BackendStorage::File {
            backend: "lvm".into(),
            node: "node1".into(),
            path_prefix: "var/x".into(),
        };
        assert_eq!(
            validate_storage(&[relative]).unwrap_err().field,
            "storage.path_prefix"
        );
        let no_mon = BackendStorage::Ceph {
            backend: "rbd".into(),
            monitors: vec![],
            pool: "p".into(),
            client: "c".into(),
            keyring_ref: "/k".into(),
            cinder_host: None,
            agents: vec![],
        };
        assert_eq!(
            validate_storage(&[no_mon]).unwrap_err().field,
            "storage.monitors"
        );
        let with_host = |h: &str| BackendStorage::Ceph {
            backend: "rbd-1".into(),
            monitors: vec!["10.0.0.1:6789".into()],
            pool: "volumes".into(),
            client: "cinder".into(),
            keyring_ref: "/k".into(),
            cinder_host: Some(h.into()),
            agents: vec!["dr-1".into()],
        };
        validate_storage(&[with_host("ctl@rbd-1#rbd-1")]).unwrap();
        validate_storage(&[with_host("rbd:volumes@rbd-1#pool")]).unwrap();
        for bad in [
            "ctl@other#rbd-1",
            "ctl@rbd-1",
            "@rbd-1#p",
            "ctl@rbd-1#",
            "ctl",
        ] {
            assert_eq!(
                validate_storage(&[with_host(bad)]).unwrap_err().field,
                "storage.cinder_host",
                "{bad}"
            );
        }
        // metadata stored before the field existed still reads, and reads back the same
        let old: BackendStorage = serde_json::from_str(
            r#"{"type":"ceph","backend":"b","monitors":["m"],"pool":"p","client":"c","keyring_ref":"/k"}"#,
        )
        .unwrap();
        assert!(matches!(
            &old,
            BackendStorage::Ceph { cinder_host: None, agents, .. } if agents.is_empty()
        ));
        let text = serde_json::to_string(&old).unwrap();
        assert!(
            !text.contains("cinder_host") && !text.contains("agents"),
            "{text}"
        );
        let unnamed_agent = BackendStorage::Ceph {
            backend: "rbd-1".into(),
            monitors: vec!["m".into()],
            pool: "p".into(),
            client: "c".into(),
            keyring_ref: "/k".into(),
            cinder_host: None,
            agents: vec!["dr-1".into(), " ".into()],
        };
        assert_eq!(
            validate_storage(&[unnamed_agent]).unwrap_err().field,
            "storage.agents"
        );
        let parsed: Result<BackendStorage, _> =
            serde_json::from_str(r#"{"type":"nfs","backend":"x"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn notification_rules() {
        let ex = vec!["nova".to_owned()];
        validate_notifications(Some("amqp://u:p@h:5672/%2f"), &ex).unwrap();
        validate_notifications(None, &ex).unwrap();
        assert!(validate_notifications(Some("http://h"), &ex).is_err());
        assert!(validate_notifications(None, &[]).is_err());
        assert!(validate_notifications(None, &["a b".to_owned()]).is_err());
    }
}
