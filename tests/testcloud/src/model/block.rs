//! Cinder: pools, volume types, volumes, snapshots, groups and group snapshots.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Cloud, CloudError, CloudResult, Job, Notification, Priority, Service, new_uuid};

pub mod group;

pub use group::{Group, GroupSnapshot, GroupType};

/// A backend's pool: Cinder host `testcloud@<backend>#<pool>`.
#[derive(Debug, Clone)]
pub struct Pool {
    pub backend: String,
    pub pool: String,
    pub capacity_gb: u64,
}

impl Pool {
    pub fn host(&self) -> String {
        format!("testcloud@{}#{}", self.backend, self.pool)
    }
}

#[derive(Debug, Clone)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: String,
    pub server_id: String,
    pub host_name: String,
    pub device: String,
    pub attached_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub user_id: String,
    pub size_gb: u64,
    pub status: String,
    pub volume_type_id: String,
    pub availability_zone: String,
    pub bootable: bool,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
    /// Index into [`BlockStorage::pools`].
    pub pool: usize,
    pub group_id: Option<String>,
    pub multiattach: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub launched_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub volume_id: String,
    pub project_id: String,
    pub user_id: String,
    pub size_gb: u64,
    pub status: String,
    pub metadata: BTreeMap<String, String>,
    pub group_snapshot_id: Option<String>,
    pub pool: usize,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default)]
pub struct BlockStorage {
    pub pools: Vec<Pool>,
    pub types: BTreeMap<String, VolumeType>,
    pub default_type_id: String,
    pub volumes: BTreeMap<String, Volume>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub group_types: BTreeMap<String, GroupType>,
    pub groups: BTreeMap<String, Group>,
    pub group_snapshots: BTreeMap<String, GroupSnapshot>,
    /// GiB allocated per pool (volumes and snapshots), kept as they come and go.
    pool_used: Vec<u64>,
}

/// What `POST /volumes` asks for.
#[derive(Debug, Clone, Default)]
pub struct VolumeSpec {
    pub size_gb: Option<u64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub group_id: Option<String>,
    pub bootable: bool,
    pub multiattach: bool,
    /// Initial content written at offset 0 (fixtures).
    pub content: Option<Vec<u8>>,
}

/// What `POST /snapshots` asks for.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSpec {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
    pub group_snapshot_id: Option<String>,
}

/// What manage-existing asks for, after the edge has looked at the file.
#[derive(Debug, Clone, Default)]
pub struct ManageSpec {
    pub host: String,
    pub source_name: String,
    pub size_gb: u64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub bootable: bool,
    pub metadata: BTreeMap<String, String>,
}

pub const DELETABLE: &[&str] = &[
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];

impl BlockStorage {
    pub(crate) fn add_pool(&mut self, backend: &str, pool: &str, capacity_gb: u64) {
        self.pools.push(Pool {
            backend: backend.into(),
            pool: pool.into(),
            capacity_gb,
        });
        self.pool_used.push(0);
    }

    pub(crate) fn add_default_type(&mut self, backend: &str) {
        let id = new_uuid();
        let mut extra_specs = BTreeMap::new();
        extra_specs.insert("volume_backend_name".to_owned(), backend.to_owned());
        self.types.insert(
            id.clone(),
            VolumeType {
                id: id.clone(),
                name: "__DEFAULT__".into(),
                description: "Default Volume Type".into(),
                is_public: true,
                extra_specs,
            },
        );
        self.default_type_id = id;
    }

    /// A volume type by id or name.
    pub fn find_type(&self, id_or_name: &str) -> Option<&VolumeType> {
        self.types
            .get(id_or_name)
            .or_else(|| self.types.values().find(|t| t.name == id_or_name))
    }

    /// The pool that serves a volume type: the first whose backend name matches the
    /// type's `volume_backend_name`, else the first pool.
    pub fn pool_for_type(&self, t: &VolumeType) -> Option<usize> {
        match t.extra_specs.get("volume_backend_name") {
            Some(b) => self.pools.iter().position(|p| &p.backend == b),
            None => (!self.pools.is_empty()).then_some(0),
        }
    }

    /// A pool by Cinder host string: `testcloud@backend#pool`, `testcloud@backend` or
    /// `backend#pool`.
    pub fn pool_by_host(&self, host: &str) -> Option<usize> {
        let rest = host.split_once('@').map_or(host, |(_, r)| r);
        let (backend, pool) = match rest.split_once('#') {
            Some((b, p)) => (b, Some(p)),
            None => (rest, None),
        };
        self.pools
            .iter()
            .position(|p| p.backend == backend && pool.is_none_or(|x| x == p.pool))
    }

    /// GiB allocated in a pool (volumes and snapshots).
    pub fn allocated_gb(&self, pool: usize) -> u64 {
        self.pool_used.get(pool).copied().unwrap_or(0)
    }

    fn charge(&mut self, pool: usize, gb: u64) {
        if let Some(u) = self.pool_used.get_mut(pool) {
            *u += gb;
        }
    }

    fn release(&mut self, pool: usize, gb: u64) {
        if let Some(u) = self.pool_used.get_mut(pool) {
            *u = u.saturating_sub(gb);
        }
    }
}

fn vol_event(event: &str, host: &str, payload: Value) -> Notification {
    Notification::info(Service::Volume, event, host, payload)
}

impl Cloud {
    pub fn pool_dir(&self, pool: usize) -> PathBuf {
        let p = &self.block.pools[pool];
        self.storage_root.join(&p.backend).join(&p.pool)
    }

    pub fn volume_path(&self, v: &Volume) -> PathBuf {
        self.pool_dir(v.pool).join(format!("volume-{}", v.id))
    }

    pub fn snapshot_path(&self, s: &Snapshot) -> PathBuf {
        self.pool_dir(s.pool).join(format!("snapshot-{}", s.id))
    }

    pub fn volume(&self, id: &str) -> CloudResult<&Volume> {
        self.block
            .volumes
            .get(id)
            .ok_or_else(|| CloudError::not_found("Volume", id))
    }

    fn volume_mut(&mut self, id: &str) -> CloudResult<&mut Volume> {
        self.block
            .volumes
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Volume", id))
    }

    /// The notification payload of a volume, as Cinder's `_usage_from_volume`.
    pub fn volume_usage(&self, v: &Volume) -> Value {
        let vtype = self.block.types.get(&v.volume_type_id);
        json!({
            "tenant_id": v.project_id,
            "host": self.block.pools[v.pool].host(),
            "user_id": v.user_id,
            "availability_zone": v.availability_zone,
            "volume_id": v.id,
            "volume_type": vtype.map(|t| t.id.clone()),
            "display_name": v.name,
            "launched_at": v.launched_at.map(crate::time::iso_micro).unwrap_or_default(),
            "created_at": crate::time::iso_micro(v.created_at),
            "status": v.status,
            "snapshot_id": v.snapshot_id,
            "size": v.size_gb,
            "replication_status": "disabled",
            "replication_extended_status": null,
            "replication_driver_data": null,
            "metadata": v.metadata.iter().map(|(k, val)| json!({"key": k, "value": val})).collect::<Vec<_>>(),
            "volume_attachment": v.attachments.iter().map(|a| json!({"id": a.id, "instance_uuid": a.server_id, "mountpoint": a.device, "attached_host": a.host_name})).collect::<Vec<_>>(),
            "glance_metadata": [],
        })
    }

    pub(crate) fn notify_volume(&mut self, id: &str, event: &str) {
        if self.quiet {
            return;
        }
        if let Some(v) = self.block.volumes.get(id) {
            let n = vol_event(
                event,
                &self.block.pools[v.pool].host(),
                self.volume_usage(v),
            );
            self.notify(n);
        }
    }

    fn volume_quota(&self, project_id: &str, size_gb: u64) -> CloudResult<()> {
        if self.quotas.limit(project_id, "volumes") < 0
            && self.quotas.limit(project_id, "gigabytes") < 0
        {
            return Ok(());
        }
        let mine = self
            .block
            .volumes
            .values()
            .filter(|v| v.project_id == project_id);
        let (count, gigs) = mine.fold((0i64, 0i64), |(c, g), v| (c + 1, g + v.size_gb as i64));
        if self.quotas.exceeds(project_id, "volumes", count, 1) {
            return Err(CloudError::QuotaExceeded(format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({}) exceeded for quota 'volumes'.",
                self.quotas.limit(project_id, "volumes")
            )));
        }
        if self
            .quotas
            .exceeds(project_id, "gigabytes", gigs, size_gb as i64)
        {
            return Err(CloudError::QuotaExceeded(format!(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size_gb}G, quota is {}G and {gigs}G has been consumed.",
                self.quotas.limit(project_id, "gigabytes")
            )));
        }
        Ok(())
    }

    /// `POST /v3/{project_id}/volumes`: status `creating`, then `available` once the
    /// file exists (or `error` when no pool has room).
    pub fn create_volume(
        &mut self,
        project_id: &str,
        user_id: &str,
        spec: VolumeSpec,
    ) -> CloudResult<Volume> {
        let (source_path, source_size, source_pool, source_type, bootable) = match (
            &spec.snapshot_id,
            &spec.source_volid,
        ) {
            (Some(_), Some(_)) => {
                return Err(CloudError::bad(
                    "Invalid input received: Cannot create volume from both a snapshot and a source volume.",
                ));
            }
            (Some(sid), None) => {
                let s = self
                    .block
                    .snapshots
                    .get(sid)
                    .ok_or_else(|| CloudError::not_found("Snapshot", sid))?;
                if s.status != "available" {
                    return Err(CloudError::bad(
                        "Invalid snapshot: Originating snapshot status must be one of 'available' values",
                    ));
                }
                let src_vol = self.block.volumes.get(&s.volume_id);
                (
                    Some(self.snapshot_path(s)),
                    Some(s.size_gb),
                    Some(s.pool),
                    src_vol.map(|v| v.volume_type_id.clone()),
                    src_vol.is_some_and(|v| v.bootable),
                )
            }
            (None, Some(vid)) => {
                let v = self.volume(vid)?;
                if v.status != "available" && v.status != "in-use" {
                    return Err(CloudError::bad(format!(
                        "Invalid volume: Volume {vid} status must be available or in-use, but current status is: {}.",
                        v.status
                    )));
                }
                (
                    Some(self.volume_path(v)),
                    Some(v.size_gb),
                    Some(v.pool),
                    Some(v.volume_type_id.clone()),
                    v.bootable,
                )
            }
            (None, None) => (None, None, None, None, false),
        };
        let size_gb = match (spec.size_gb, source_size) {
            (Some(s), Some(min)) if s < min => {
                return Err(CloudError::bad(format!(
                    "Invalid input received: Volume size '{s}'GB cannot be smaller than the snapshot size {min}GB. They must be >= original snapshot size."
                )));
            }
            (Some(0), None) => {
                return Err(CloudError::bad(
                    "Invalid input received: Volume size '0' must be an integer and greater than 0.",
                ));
            }
            (Some(s), _) => s,
            (None, Some(min)) => min,
            (None, None) => {
                return Err(CloudError::bad(
                    "Invalid input received: size is required when neither snapshot_id nor source_volid is given.",
                ));
            }
        };
        let vtype = match spec.volume_type.as_deref().or(source_type.as_deref()) {
            Some(t) => self
                .block
                .find_type(t)
                .ok_or_else(|| CloudError::not_found("VolumeType", t))?
                .clone(),
            None => self.block.types[&self.block.default_type_id].clone(),
        };
        let az = spec.availability_zone.unwrap_or_else(|| "nova".into());
        if !self.compute.availability_zones().contains(&az) && az != "nova" {
            return Err(CloudError::bad(format!(
                "Invalid input received: Availability zone '{az}' is invalid."
            )));
        }
        if let Some(g) = &spec.group_id
            && !self.block.groups.contains_key(g)
        {
            return Err(CloudError::not_found("Group", g));
        }
        self.volume_quota(project_id, size_gb)?;
        let pool = source_pool.or_else(|| self.block.pool_for_type(&vtype));
        let fits = pool.is_some_and(|p| {
            self.block.allocated_gb(p) + size_gb <= self.block.pools[p].capacity_gb
        });
        let now = crate::time::now();
        let v = Volume {
            id: new_uuid(),
            name: spec.name.unwrap_or_default(),
            description: spec.description.unwrap_or_default(),
            project_id: project_id.to_owned(),
            user_id: user_id.to_owned(),
            size_gb,
            status: if fits { "creating" } else { "error" }.into(),
            volume_type_id: vtype.id.clone(),
            availability_zone: az,
            bootable: bootable || spec.bootable,
            snapshot_id: spec.snapshot_id,
            source_volid: spec.source_volid,
            metadata: spec.metadata,
            attachments: vec![],
            pool: pool.unwrap_or(0),
            group_id: spec.group_id,
            multiattach: spec.multiattach,
            created_at: now,
            updated_at: now,
            launched_at: None,
        };
        self.block.volumes.insert(v.id.clone(), v.clone());
        if fits {
            self.block.charge(v.pool, v.size_gb);
        }
        self.notify_volume(&v.id, "volume.create.start");
        if fits {
            self.job(Job::CreateVolume {
                volume_id: v.id.clone(),
                path: self.volume_path(&v),
                size_gb,
                source: source_path,
                content: spec.content,
            });
        } else {
            let host = self
                .block
                .pools
                .get(v.pool)
                .map(|p| p.host())
                .unwrap_or_default();
            self.notify(Notification {
                service: Service::Volume,
                event_type: "scheduler.create_volume".into(),
                priority: Priority::Error,
                host,
                payload: json!({"volume_id": v.id, "state": "error", "method": "create_volume", "reason": "No valid backend was found. No weighed backends available"}),
            });
        }
        Ok(v)
    }

    pub(crate) fn finish_volume_create(&mut self, id: &str, outcome: Result<(), String>) {
        let Ok(v) = self.volume_mut(id) else { return };
        v.status = if outcome.is_ok() {
            "available"
        } else {
            "error"
        }
        .into();
        v.launched_at = Some(crate::time::now());
        v.updated_at = crate::time::now();
        self.notify_volume(id, "volume.create.end");
    }

    pub fn update_volume(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        metadata: Option<BTreeMap<String, String>>,
    ) -> CloudResult<Volume> {
        let v = self.volume_mut(id)?;
        if let Some(n) = name {
            v.name = n;
        }
        if let Some(d) = description {
            v.description = d;
        }
        if let Some(m) = metadata {
            v.metadata = m;
        }
        v.updated_at = crate::time::now();
        let v = v.clone();
        self.notify_volume(id, "volume.update.end");
        Ok(v)
    }

    /// `DELETE /volumes/{id}` (with `cascade` also deleting its snapshots).
    pub fn delete_volume(&mut self, id: &str, cascade: bool) -> CloudResult<()> {
        let v = self.volume(id)?;
        let snaps: Vec<String> = self
            .block
            .snapshots
            .values()
            .filter(|s| s.volume_id == id)
            .map(|s| s.id.clone())
            .collect();
        if !DELETABLE.contains(&v.status.as_str())
            || !v.attachments.is_empty()
            || (!snaps.is_empty() && !cascade)
        {
            return Err(CloudError::bad(
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.",
            ));
        }
        for s in snaps {
            self.delete_snapshot(&s)?;
        }
        self.start_volume_delete(id);
        Ok(())
    }

    pub(crate) fn start_volume_delete(&mut self, id: &str) {
        let Ok(v) = self.volume_mut(id) else { return };
        v.status = "deleting".into();
        let v = v.clone();
        self.notify_volume(id, "volume.delete.start");
        self.job(Job::DeleteVolume {
            volume_id: id.to_owned(),
            path: self.volume_path(&v),
        });
    }

    pub(crate) fn finish_volume_delete(&mut self, id: &str, outcome: Result<(), String>) {
        if outcome.is_err() {
            if let Ok(v) = self.volume_mut(id) {
                v.status = "error_deleting".into();
            }
            return;
        }
        self.notify_volume(id, "volume.delete.end");
        // A volume that never found room was never charged (and never launched).
        if let Some(v) = self.block.volumes.remove(id)
            && v.launched_at.is_some()
        {
            self.block.release(v.pool, v.size_gb);
        }
    }

    /// `os-extend`: only an available volume grows.
    pub fn extend_volume(&mut self, id: &str, new_size: u64) -> CloudResult<()> {
        let v = self.volume(id)?;
        if v.status != "available" {
            return Err(CloudError::bad(format!(
                "Invalid volume: Volume {id} status must be 'available' to extend, but current status is: {}.",
                v.status
            )));
        }
        if new_size <= v.size_gb {
            return Err(CloudError::bad(format!(
                "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                v.size_gb
            )));
        }
        let (project, old) = (v.project_id.clone(), v.size_gb);
        self.volume_quota(&project, new_size - old)
            .or_else(|e| match e {
                CloudError::QuotaExceeded(m) if m.starts_with("VolumeLimitExceeded") => Ok(()),
                e => Err(e),
            })?;
        let v = self.volume_mut(id)?;
        v.status = "extending".into();
        let v = v.clone();
        self.notify_volume(id, "volume.resize.start");
        self.job(Job::ExtendVolume {
            volume_id: id.to_owned(),
            path: self.volume_path(&v),
            size_gb: new_size,
        });
        Ok(())
    }

    pub(crate) fn finish_volume_extend(
        &mut self,
        id: &str,
        size: u64,
        outcome: Result<(), String>,
    ) {
        let Ok(v) = self.volume_mut(id) else { return };
        let (pool, old) = (v.pool, v.size_gb);
        v.updated_at = crate::time::now();
        match outcome {
            Ok(()) => {
                v.size_gb = size;
                v.status = "available".into();
                self.block.release(pool, old);
                self.block.charge(pool, size);
            }
            Err(_) => v.status = "error_extending".into(),
        }
        self.notify_volume(id, "volume.resize.end");
    }

    /// `os-reset_status` (admin): sets the status (and attach status) as given.
    pub fn reset_volume_status(&mut self, id: &str, status: Option<&str>) -> CloudResult<()> {
        const VALID: &[&str] = &[
            "creating",
            "available",
            "deleting",
            "error",
            "error_deleting",
            "error_managing",
            "managing",
            "attaching",
            "in-use",
            "detaching",
            "maintenance",
            "reserved",
            "error_restoring",
            "error_extending",
            "extending",
            "downloading",
            "uploading",
            "retyping",
            "backing-up",
            "restoring-backup",
        ];
        let v = self.volume_mut(id)?;
        if let Some(s) = status {
            if !VALID.contains(&s) {
                return Err(CloudError::bad(format!(
                    "Invalid input received: Must specify a valid status ({s} is not valid)."
                )));
            }
            v.status = s.to_owned();
        }
        v.updated_at = crate::time::now();
        Ok(())
    }

    /// `os-attach` bookkeeping (a driver has attached the volume elsewhere).
    pub fn attach_bookkeeping(
        &mut self,
        id: &str,
        server_id: Option<&str>,
        host_name: Option<&str>,
        mountpoint: &str,
    ) -> CloudResult<()> {
        let v = self.volume_mut(id)?;
        if !(["available", "reserved", "attaching"].contains(&v.status.as_str())
            || (v.multiattach && v.status == "in-use"))
        {
            return Err(CloudError::bad(format!(
                "Invalid volume: Volume {id} status must be available or reserved, but current status is: {}.",
                v.status
            )));
        }
        v.attachments.push(Attachment {
            id: new_uuid(),
            server_id: server_id.unwrap_or_default().to_owned(),
            host_name: host_name.unwrap_or_default().to_owned(),
            device: mountpoint.to_owned(),
            attached_at: crate::time::now(),
        });
        v.status = "in-use".into();
        self.notify_volume(id, "volume.attach.end");
        Ok(())
    }

    /// `os-detach` bookkeeping: removes one attachment (or the only one).
    pub fn detach_bookkeeping(&mut self, id: &str, attachment_id: Option<&str>) -> CloudResult<()> {
        let v = self.volume_mut(id)?;
        let idx = match attachment_id {
            Some(a) => v.attachments.iter().position(|x| x.id == a),
            None if v.attachments.len() == 1 => Some(0),
            None => None,
        }
        .ok_or_else(|| {
            CloudError::bad(format!(
                "Invalid volume: Volume {id} is not attached or the attachment_id is required."
            ))
        })?;
        v.attachments.remove(idx);
        if v.attachments.is_empty() {
            v.status = "available".into();
        }
        self.notify_volume(id, "volume.detach.end");
        Ok(())
    }

    /// `os-unmanage`: the volume leaves Cinder; its file stays where it is.
    pub fn unmanage_volume(&mut self, id: &str) -> CloudResult<PathBuf> {
        let v = self.volume(id)?;
        if v.status != "available" && v.status != "error" {
            return Err(CloudError::bad(format!(
                "Invalid volume: Volume {id} status must be available or error, but current status is: {}.",
                v.status
            )));
        }
        if self.block.snapshots.values().any(|s| s.volume_id == id) {
            return Err(CloudError::bad(format!(
                "Invalid volume: Volume {id} has snapshots and cannot be unmanaged."
            )));
        }
        let path = self.volume_path(v);
        self.notify_volume(id, "volume.unmanage.start");
        self.notify_volume(id, "volume.unmanage.end");
        if let Some(v) = self.block.volumes.remove(id) {
            self.block.release(v.pool, v.size_gb);
        }
        Ok(path)
    }

    /// Manage-existing: adopts the file `source_name` of the pool at `host`.
    pub fn manage_volume(
        &mut self,
        project_id: &str,
        user_id: &str,
        spec: ManageSpec,
    ) -> CloudResult<Volume> {
        let pool = self.block.pool_by_host(&spec.host).ok_or_else(|| {
            CloudError::bad(format!(
                "Invalid input received: Service {} not found.",
                spec.host
            ))
        })?;
        if spec.source_name.contains('/') || spec.source_name.starts_with('.') {
            return Err(CloudError::bad(format!(
                "Manage existing volume failed due to invalid backend reference {{'source-name': '{}'}}",
                spec.source_name
            )));
        }
        if let Some(id) = spec.source_name.strip_prefix("volume-")
            && self.block.volumes.contains_key(id)
        {
            return Err(CloudError::bad(format!(
                "Manage existing volume failed due to invalid backend reference: {} is already managed.",
                spec.source_name
            )));
        }
        let vtype = match spec.volume_type.as_deref() {
            Some(t) => self
                .block
                .find_type(t)
                .ok_or_else(|| CloudError::not_found("VolumeType", t))?
                .clone(),
            None => self.block.types[&self.block.default_type_id].clone(),
        };
        self.volume_quota(project_id, spec.size_gb)?;
        let now = crate::time::now();
        let mut metadata = spec.metadata;
        metadata.insert("source-name".into(), spec.source_name.clone());
        let v = Volume {
            id: new_uuid(),
            name: spec.name.unwrap_or_default(),
            description: spec.description.unwrap_or_default(),
            project_id: project_id.to_owned(),
            user_id: user_id.to_owned(),
            size_gb: spec.size_gb,
            status: "creating".into(),
            volume_type_id: vtype.id,
            availability_zone: spec.availability_zone.unwrap_or_else(|| "nova".into()),
            bootable: spec.bootable,
            snapshot_id: None,
            source_volid: None,
            metadata,
            attachments: vec![],
            pool,
            group_id: None,
            multiattach: false,
            created_at: now,
            updated_at: now,
            launched_at: None,
        };
        self.block.volumes.insert(v.id.clone(), v.clone());
        self.block.charge(pool, v.size_gb);
        self.notify_volume(&v.id, "volume.manage_existing.start");
        self.job(Job::AdoptVolume {
            volume_id: v.id.clone(),
            from: self.pool_dir(pool).join(&spec.source_name),
            to: self.volume_path(&v),
        });
        Ok(v)
    }

    pub(crate) fn finish_volume_manage(&mut self, id: &str, outcome: Result<(), String>) {
        let Ok(v) = self.volume_mut(id) else { return };
        v.status = if outcome.is_ok() {
            "available"
        } else {
            "error_managing"
        }
        .into();
        v.launched_at = Some(crate::time::now());
        self.notify_volume(id, "volume.manage_existing.end");
    }

    pub fn snapshot(&self, id: &str) -> CloudResult<&Snapshot> {
        self.block
            .snapshots
            .get(id)
            .ok_or_else(|| CloudError::not_found("Snapshot", id))
    }

    pub(crate) fn snapshot_usage(&self, s: &Snapshot) -> Value {
        json!({
            "tenant_id": s.project_id,
            "user_id": s.user_id,
            "snapshot_id": s.id,
            "display_name": s.name,
            "volume_id": s.volume_id,
            "volume_size": s.size_gb,
            "status": s.status,
            "created_at": crate::time::iso_micro(s.created_at),
            "deleted": "",
            "metadata": s.metadata,
            "availability_zone": self.block.volumes.get(&s.volume_id).map(|v| v.availability_zone.clone()),
        })
    }

    fn notify_snapshot(&mut self, id: &str, event: &str) {
        if self.quiet {
            return;
        }
        if let Some(s) = self.block.snapshots.get(id) {
            let n = vol_event(
                event,
                &self.block.pools[s.pool].host(),
                self.snapshot_usage(s),
            );
            self.notify(n);
        }
    }

    /// `POST /snapshots`: a point-in-time copy of the volume's file.
    pub fn create_snapshot(
        &mut self,
        project_id: &str,
        user_id: &str,
        spec: SnapshotSpec,
    ) -> CloudResult<Snapshot> {
        let SnapshotSpec {
            volume_id,
            name,
            description,
            force,
            metadata,
            group_snapshot_id,
        } = spec;
        let volume_id = volume_id.as_str();
        let v = self.volume(volume_id)?.clone();
        if !(v.status == "available" || (force && v.status == "in-use")) {
            return Err(CloudError::bad(format!(
                "Invalid volume: Volume {volume_id} status must be available, but current status is: {}.",
                v.status
            )));
        }
        let count = self
            .block
            .snapshots
            .values()
            .filter(|s| s.project_id == project_id)
            .count() as i64;
        if self.quotas.exceeds(project_id, "snapshots", count, 1) {
            return Err(CloudError::QuotaExceeded(format!(
                "SnapshotLimitExceeded: Maximum number of snapshots allowed ({}) exceeded for quota 'snapshots'.",
                self.quotas.limit(project_id, "snapshots")
            )));
        }
        let now = crate::time::now();
        let s = Snapshot {
            id: new_uuid(),
            name: name.unwrap_or_default(),
            description: description.unwrap_or_default(),
            volume_id: volume_id.to_owned(),
            project_id: project_id.to_owned(),
            user_id: user_id.to_owned(),
            size_gb: v.size_gb,
            status: "creating".into(),
            metadata,
            group_snapshot_id,
            pool: v.pool,
            created_at: now,
            updated_at: now,
        };
        self.block.snapshots.insert(s.id.clone(), s.clone());
        self.block.charge(s.pool, s.size_gb);
        self.notify_snapshot(&s.id, "snapshot.create.start");
        self.job(Job::CreateSnapshot {
            snapshot_id: s.id.clone(),
            source: self.volume_path(&v),
            path: self.snapshot_path(&s),
        });
        Ok(s)
    }

    pub(crate) fn finish_snapshot_create(&mut self, id: &str, outcome: Result<(), String>) {
        let Some(s) = self.block.snapshots.get_mut(id) else {
            return;
        };
        s.status = if outcome.is_ok() {
            "available"
        } else {
            "error"
        }
        .into();
        s.updated_at = crate::time::now();
        let gs = s.group_snapshot_id.clone();
        self.notify_snapshot(id, "snapshot.create.end");
        if let Some(gs) = gs {
            self.settle_group_snapshot(&gs);
        }
    }

    pub fn update_snapshot(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> CloudResult<Snapshot> {
        let s = self
            .block
            .snapshots
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Snapshot", id))?;
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        s.updated_at = crate::time::now();
        let s = s.clone();
        self.notify_snapshot(id, "snapshot.update.end");
        Ok(s)
    }

    pub fn reset_snapshot_status(&mut self, id: &str, status: &str) -> CloudResult<()> {
        if ![
            "available",
            "error",
            "creating",
            "deleting",
            "error_deleting",
        ]
        .contains(&status)
        {
            return Err(CloudError::bad(format!(
                "Invalid input received: Must specify a valid status ({status} is not valid)."
            )));
        }
        let s = self
            .block
            .snapshots
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Snapshot", id))?;
        s.status = status.to_owned();
        self.notify_snapshot(id, "snapshot.reset_status.end");
        Ok(())
    }

    pub fn delete_snapshot(&mut self, id: &str) -> CloudResult<()> {
        let s = self.snapshot(id)?;
        if s.status != "available" && s.status != "error" {
            return Err(CloudError::bad(format!(
                "Invalid snapshot: Snapshot status must be available or error, but current status is: {}.",
                s.status
            )));
        }
        let path = self.snapshot_path(s);
        if let Some(s) = self.block.snapshots.get_mut(id) {
            s.status = "deleting".into();
        }
        self.notify_snapshot(id, "snapshot.delete.start");
        self.job(Job::DeleteSnapshot {
            snapshot_id: id.to_owned(),
            path,
        });
        Ok(())
    }

    pub(crate) fn finish_snapshot_delete(&mut self, id: &str, outcome: Result<(), String>) {
        if outcome.is_err() {
            if let Some(s) = self.block.snapshots.get_mut(id) {
                s.status = "error_deleting".into();
            }
            return;
        }
        self.notify_snapshot(id, "snapshot.delete.end");
        let removed = self.block.snapshots.remove(id);
        if let Some(s) = &removed {
            self.block.release(s.pool, s.size_gb);
        }
        let gs = removed.and_then(|s| s.group_snapshot_id);
        if let Some(gs) = gs {
            self.settle_group_snapshot(&gs);
        }
    }

    pub fn create_volume_type(
        &mut self,
        name: &str,
        description: Option<String>,
        is_public: Option<bool>,
        extra_specs: BTreeMap<String, String>,
    ) -> CloudResult<VolumeType> {
        if name.is_empty() {
            return Err(CloudError::bad(
                "Invalid input received: Volume type name can not be empty.",
            ));
        }
        if self.block.find_type(name).is_some() {
            return Err(CloudError::conflict(
                "VolumeTypeExists",
                format!("Volume Type {name} already exists."),
            ));
        }
        let t = VolumeType {
            id: new_uuid(),
            name: name.to_owned(),
            description: description.unwrap_or_default(),
            is_public: is_public.unwrap_or(true),
            extra_specs,
        };
        self.block.types.insert(t.id.clone(), t.clone());
        self.notify(vol_event(
            "volume_type.create",
            "testcloud",
            json!({"volume_types": {"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public, "extra_specs": t.extra_specs}}),
        ));
        Ok(t)
    }

    pub fn set_volume_type_specs(
        &mut self,
        id: &str,
        specs: BTreeMap<String, String>,
    ) -> CloudResult<VolumeType> {
        let t = self
            .block
            .types
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("VolumeType", id))?;
        t.extra_specs.extend(specs);
        let t = t.clone();
        self.notify(vol_event(
            "volume_type.update",
            "testcloud",
            json!({"volume_types": {"id": t.id, "name": t.name, "extra_specs": t.extra_specs}}),
        ));
        Ok(t)
    }

    pub fn delete_volume_type(&mut self, id: &str) -> CloudResult<()> {
        if !self.block.types.contains_key(id) {
            return Err(CloudError::not_found("VolumeType", id));
        }
        if id == self.block.default_type_id {
            return Err(CloudError::bad(
                "Invalid volume type: The default volume type cannot be deleted.",
            ));
        }
        if self.block.volumes.values().any(|v| v.volume_type_id == id) {
            return Err(CloudError::bad(format!(
                "Invalid volume type: Target volume type {id} is still in use."
            )));
        }
        self.block.types.remove(id);
        self.notify(vol_event(
            "volume_type.delete",
            "testcloud",
            json!({"volume_types": {"id": id}}),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
