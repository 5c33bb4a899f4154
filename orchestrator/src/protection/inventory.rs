//! A cluster's synced resources as typed OpenStack documents, loaded from
//! `cluster_resources` (the sync stores each resource's document as the client layer
//! serialised it, so it reads back into the same types).

use std::collections::{BTreeMap, BTreeSet};

use holdfast_openstack::{cinder, keystone, neutron, nova};
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;

use crate::db::resources::{self, StoredResource};
use crate::db::{DbError, clusters::ClusterRecord};
use crate::domain::cluster::{BackendStorage, ResourceKind};
use crate::dr::group_rules::{SourceInstance, SourceInventory, SourceVolume};
use crate::dr::ids::{GroupId, InstanceId, ProjectId, VolumeGroupId, VolumeId};
use crate::dr::plan_rules::StorageKind;

/// A router interface as the sync stores it inside the router's document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RouterInterface {
    /// Interface port.
    pub port_id: String,
    /// Subnet.
    pub subnet_id: String,
}

/// Every live resource of one cluster that protection needs, by id.
#[derive(Debug, Clone, Default)]
pub struct ClusterDocs {
    /// Servers.
    pub instances: BTreeMap<String, nova::Server>,
    /// Volumes.
    pub volumes: BTreeMap<String, cinder::Volume>,
    /// Ports.
    pub ports: BTreeMap<String, neutron::Port>,
    /// Subnets.
    pub subnets: BTreeMap<String, neutron::Subnet>,
    /// Networks.
    pub networks: BTreeMap<String, neutron::Network>,
    /// Routers with their interfaces.
    pub routers: BTreeMap<String, (neutron::Router, Vec<RouterInterface>)>,
    /// Security groups (with their rules).
    pub security_groups: BTreeMap<String, neutron::SecurityGroup>,
    /// Keypairs by name.
    pub keypairs: BTreeMap<String, nova::Keypair>,
    /// Flavors.
    pub flavors: BTreeMap<String, nova::Flavor>,
    /// Floating IPs.
    pub floating_ips: BTreeMap<String, neutron::FloatingIp>,
    /// Compute nodes.
    pub hypervisors: BTreeMap<String, nova::Hypervisor>,
    /// Availability zones by name.
    pub zones: BTreeMap<String, nova::AvailabilityZone>,
    /// Volume types.
    pub volume_types: BTreeMap<String, cinder::VolumeType>,
    /// Volume groups.
    pub volume_groups: BTreeMap<String, cinder::Group>,
    /// Projects.
    pub projects: BTreeMap<String, keystone::Project>,
}

fn parse<T: DeserializeOwned>(rows: Vec<StoredResource>) -> Result<BTreeMap<String, T>, DbError> {
    rows.into_iter()
        .map(|r| {
            serde_json::from_str(&r.row.doc_json)
                .map(|d| (r.row.id.clone(), d))
                .map_err(|e| DbError::Corrupt {
                    table: "cluster_resources",
                    reason: format!("{} {}: {e}", r.row.kind, r.row.id),
                })
        })
        .collect()
}

async fn kind<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    cluster_id: &str,
    k: ResourceKind,
) -> Result<BTreeMap<String, T>, DbError> {
    parse(resources::live(conn, cluster_id, k.as_str()).await?)
}

/// Loads the synced copy of a cluster.
pub async fn load(conn: &mut AnyConnection, cluster_id: &str) -> Result<ClusterDocs, DbError> {
    let routers: BTreeMap<String, neutron::Router> =
        kind(conn, cluster_id, ResourceKind::Router).await?;
    let routers = routers
        .into_iter()
        .map(|(id, r)| {
            let interfaces = r
                .extra
                .get("interfaces")
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            (id, (r, interfaces))
        })
        .collect();
    Ok(ClusterDocs {
        instances: kind(conn, cluster_id, ResourceKind::Instance).await?,
        volumes: kind(conn, cluster_id, ResourceKind::Volume).await?,
        ports: kind(conn, cluster_id, ResourceKind::Port).await?,
        subnets: kind(conn, cluster_id, ResourceKind::Subnet).await?,
        networks: kind(conn, cluster_id, ResourceKind::Network).await?,
        routers,
        security_groups: kind(conn, cluster_id, ResourceKind::SecurityGroup).await?,
        keypairs: kind(conn, cluster_id, ResourceKind::Keypair).await?,
        flavors: kind(conn, cluster_id, ResourceKind::Flavor).await?,
        floating_ips: kind(conn, cluster_id, ResourceKind::FloatingIp).await?,
        hypervisors: kind(conn, cluster_id, ResourceKind::Hypervisor).await?,
        zones: kind(conn, cluster_id, ResourceKind::AvailabilityZone).await?,
        volume_types: kind(conn, cluster_id, ResourceKind::VolumeType).await?,
        volume_groups: kind(conn, cluster_id, ResourceKind::VolumeGroup).await?,
        projects: kind(conn, cluster_id, ResourceKind::Project).await?,
    })
}

impl ClusterDocs {
    /// The ports bound to a server, by id.
    pub fn ports_of<'a>(&'a self, instance: &'a str) -> impl Iterator<Item = &'a neutron::Port> {
        self.ports.values().filter(move |p| p.device_id == instance)
    }

    /// A server's display name, or its id when the copy no longer has it.
    pub fn instance_name(&self, id: &str) -> String {
        self.instances
            .get(id)
            .map_or_else(|| id.to_owned(), |s| s.name.clone())
    }

    /// A volume's display name (its id when unnamed).
    pub fn volume_name(&self, id: &str) -> String {
        self.volumes
            .get(id)
            .and_then(|v| v.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.to_owned())
    }

    /// The availability zone a compute node is in: the zone whose host list shows it
    /// running `nova-compute` (a node that also runs the conductor or the scheduler is
    /// listed in Nova's `internal` zone too), else any zone that lists it, else Nova's
    /// default zone `nova`.
    pub fn zone_of(&self, h: &nova::Hypervisor) -> String {
        let host = h
            .service
            .as_ref()
            .map_or(h.hypervisor_hostname.as_str(), |s| s.host.as_str());
        let names = [host, h.hypervisor_hostname.as_str()];
        let listed = |z: &&nova::AvailabilityZone| {
            z.hosts
                .as_ref()
                .is_some_and(|hs| names.iter().any(|n| hs.contains_key(*n)))
        };
        self.zones
            .values()
            .find(|z| z.compute_hosts().iter().any(|c| names.contains(c)))
            .or_else(|| self.zones.values().find(listed))
            .map_or_else(|| "nova".to_owned(), |z| z.name.clone())
    }

    /// The storage kind behind a volume type, from its `volume_backend_name` and the
    /// cluster's storage metadata.
    pub fn storage_kind(&self, storage: &[BackendStorage], type_name: &str) -> StorageKind {
        let backend = self
            .volume_types
            .values()
            .find(|t| t.name == type_name || t.id == type_name)
            .and_then(|t| t.extra_specs.get("volume_backend_name").cloned());
        let Some(backend) = backend else {
            return StorageKind::Other(format!("volume type {type_name} without a backend"));
        };
        match storage.iter().find(|s| s.backend() == backend) {
            Some(BackendStorage::Ceph { .. }) => StorageKind::CephRbd,
            Some(BackendStorage::File { .. }) => StorageKind::File,
            None => StorageKind::Other(backend),
        }
    }

    /// The source inventory the group rules check a selection against; `membership`
    /// is instance id → protection group id.
    pub fn source_inventory(&self, membership: &BTreeMap<String, String>) -> SourceInventory {
        let mut inv = SourceInventory::default();
        for (id, s) in &self.instances {
            inv.instances.insert(
                InstanceId::new(id),
                SourceInstance {
                    project: ProjectId::new(&s.tenant_id),
                    group: membership.get(id).map(GroupId::new),
                    volumes: s
                        .volumes_attached
                        .iter()
                        .map(|a| VolumeId::new(&a.id))
                        .collect(),
                },
            );
        }
        for (id, v) in &self.volumes {
            inv.volumes.insert(
                VolumeId::new(id),
                SourceVolume {
                    attached_to: v
                        .attachments
                        .iter()
                        .filter_map(|a| a.server_id.as_deref().map(InstanceId::new))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    volume_group: v.group_id.as_deref().map(VolumeGroupId::new),
                    from_snapshot: v.snapshot_id.clone(),
                },
            );
            if let Some(g) = &v.group_id {
                inv.volume_groups
                    .entry(VolumeGroupId::new(g))
                    .or_default()
                    .push(VolumeId::new(id));
            }
        }
        // Role assignments are not part of the synced copy: the caller fills
        // `projects_with_admin` from the cloud (`super::admin_membership`).
        inv
    }
}

/// The storage metadata of a cluster record (empty when unreadable).
pub fn storage_of(c: &ClusterRecord) -> Vec<BackendStorage> {
    serde_json::from_str(&c.storage_json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, hosts: serde_json::Value) -> nova::AvailabilityZone {
        serde_json::from_value(serde_json::json!({
            "zoneName": name, "zoneState": {"available": true}, "hosts": hosts,
        }))
        .unwrap()
    }

    fn node(host: &str) -> nova::Hypervisor {
        serde_json::from_value(serde_json::json!({
            "id": "1", "hypervisor_hostname": host, "service": {"host": host},
        }))
        .unwrap()
    }

    #[test]
    fn a_node_is_in_the_zone_where_it_runs_nova_compute() {
        // an all-in-one node, as a real cloud lists it: `internal` for its conductor
        // and scheduler (and first by name), its own zone for nova-compute
        let up = serde_json::json!({"active": true, "available": true});
        let mut docs = ClusterDocs::default();
        docs.zones.insert(
            "internal".into(),
            zone(
                "internal",
                serde_json::json!({"ctl": {"nova-conductor": up, "nova-scheduler": up}}),
            ),
        );
        docs.zones.insert(
            "nova".into(),
            zone("nova", serde_json::json!({"ctl": {"nova-compute": up}})),
        );
        docs.zones.insert(
            "az2".into(),
            zone("az2", serde_json::json!({"c2": {"nova-compute": up}})),
        );
        assert_eq!(docs.zone_of(&node("ctl")), "nova");
        assert_eq!(docs.zone_of(&node("c2")), "az2");
        // listed without its services: the zone that lists it; unlisted: `nova`
        docs.zones
            .insert("az3".into(), zone("az3", serde_json::json!({"c3": {}})));
        assert_eq!(docs.zone_of(&node("c3")), "az3");
        assert_eq!(docs.zone_of(&node("elsewhere")), "nova");
    }
}
