//! Cinder v3 resource shapes.

use serde_json::{Value, json};

use crate::model::Cloud;
use crate::model::block::{Group, GroupSnapshot, Snapshot, Volume, VolumeType};
use crate::time::iso_micro;

fn links(base: &str, project: &str, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/volume/v3/{project}/{kind}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/volume/{project}/{kind}/{id}")},
    ])
}

pub fn volume_brief(v: &Volume, base: &str) -> Value {
    json!({"id": v.id, "name": v.name, "links": links(base, &v.project_id, "volumes", &v.id)})
}

pub fn volume(cloud: &Cloud, v: &Volume, base: &str) -> Value {
    let vtype = cloud.block.types.get(&v.volume_type_id);
    json!({
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size_gb,
        "availability_zone": v.availability_zone,
        "created_at": iso_micro(v.created_at),
        "updated_at": iso_micro(v.updated_at),
        "attachments": v.attachments.iter().map(|a| json!({
            "id": v.id,
            "attachment_id": a.id,
            "volume_id": v.id,
            "server_id": a.server_id,
            "host_name": a.host_name,
            "device": a.device,
            "attached_at": iso_micro(a.attached_at),
        })).collect::<Vec<_>>(),
        "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false,
        "multiattach": v.multiattach,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "consistencygroup_id": null,
        "group_id": v.group_id,
        "volume_type": vtype.map(|t| t.name.clone()),
        "volume_type_id": v.volume_type_id,
        "metadata": v.metadata,
        "links": links(base, &v.project_id, "volumes", &v.id),
        "user_id": v.user_id,
        "replication_status": "disabled",
        "migration_status": null,
        "os-vol-host-attr:host": cloud.block.pools.get(v.pool).map(|p| p.host()),
        "os-vol-tenant-attr:tenant_id": v.project_id,
        "os-vol-mig-status-attr:migstat": null,
        "os-vol-mig-status-attr:name_id": null,
        "provider_id": null,
        "service_uuid": null,
        "shared_targets": false,
        "cluster_name": null,
        "consumes_quota": true,
        "encryption_key_id": null,
    })
}

pub fn snapshot(s: &Snapshot) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "volume_id": s.volume_id,
        "status": s.status,
        "size": s.size_gb,
        "created_at": iso_micro(s.created_at),
        "updated_at": iso_micro(s.updated_at),
        "metadata": s.metadata,
        "os-extended-snapshot-attributes:progress": if s.status == "available" { "100%" } else { "0%" },
        "os-extended-snapshot-attributes:project_id": s.project_id,
        "user_id": s.user_id,
        "group_snapshot_id": s.group_snapshot_id,
        "consumes_quota": true,
    })
}

pub fn volume_type(t: &VolumeType) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "os-volume-type-access:is_public": t.is_public,
        "extra_specs": t.extra_specs,
        "qos_specs_id": null,
    })
}

pub fn group(cloud: &Cloud, g: &Group) -> Value {
    let volumes: Vec<&String> = cloud
        .block
        .volumes
        .values()
        .filter(|v| v.group_id.as_deref() == Some(&g.id))
        .map(|v| &v.id)
        .collect();
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "status": g.status,
        "availability_zone": g.availability_zone,
        "created_at": iso_micro(g.created_at),
        "group_type": g.group_type_id,
        "volume_types": g.volume_type_ids,
        "volumes": volumes,
        "group_snapshot_id": null,
        "source_group_id": null,
        "project_id": g.project_id,
        "replication_status": "disabled",
    })
}

pub fn group_snapshot(g: &GroupSnapshot) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "status": g.status,
        "group_id": g.group_id,
        "group_type_id": g.group_type_id,
        "project_id": g.project_id,
        "created_at": iso_micro(g.created_at),
    })
}
