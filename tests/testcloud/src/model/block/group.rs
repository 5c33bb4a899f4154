//! Cinder generic volume groups and group snapshots.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::json;

use crate::model::{Cloud, CloudError, CloudResult, Notification, Service, new_uuid};

#[derive(Debug, Clone)]
pub struct GroupType {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub group_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub group_type_id: String,
    pub volume_type_ids: Vec<String>,
    pub status: String,
    pub availability_zone: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct GroupSnapshot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub group_id: String,
    pub project_id: String,
    pub group_type_id: String,
    pub status: String,
    pub created_at: Timestamp,
}

fn group_event(event: &str, payload: serde_json::Value) -> Notification {
    Notification::info(Service::Volume, event, "testcloud", payload)
}

impl Cloud {
    pub fn create_group_type(
        &mut self,
        name: &str,
        description: Option<String>,
        is_public: Option<bool>,
        group_specs: BTreeMap<String, String>,
    ) -> CloudResult<GroupType> {
        if name.is_empty() {
            return Err(CloudError::bad(
                "Invalid input received: group type name can not be empty.",
            ));
        }
        if self.block.group_types.values().any(|g| g.name == name) {
            return Err(CloudError::conflict(
                "GroupTypeExists",
                format!("Group Type {name} already exists."),
            ));
        }
        let g = GroupType {
            id: new_uuid(),
            name: name.to_owned(),
            description: description.unwrap_or_default(),
            is_public: is_public.unwrap_or(true),
            group_specs,
        };
        self.block.group_types.insert(g.id.clone(), g.clone());
        Ok(g)
    }

    pub fn find_group_type(&self, id_or_name: &str) -> CloudResult<&GroupType> {
        self.block
            .group_types
            .get(id_or_name)
            .or_else(|| {
                self.block
                    .group_types
                    .values()
                    .find(|g| g.name == id_or_name)
            })
            .ok_or_else(|| CloudError::not_found("GroupType", id_or_name))
    }

    pub fn create_group(
        &mut self,
        project_id: &str,
        group_type: &str,
        volume_types: &[String],
        name: Option<String>,
        description: Option<String>,
        availability_zone: Option<String>,
    ) -> CloudResult<Group> {
        let gt = self.find_group_type(group_type)?.id.clone();
        if volume_types.is_empty() {
            return Err(CloudError::bad(
                "Invalid input received: volume_types must be provided to create group.",
            ));
        }
        let mut type_ids = vec![];
        for t in volume_types {
            type_ids.push(
                self.block
                    .find_type(t)
                    .ok_or_else(|| CloudError::not_found("VolumeType", t))?
                    .id
                    .clone(),
            );
        }
        let g = Group {
            id: new_uuid(),
            name: name.unwrap_or_default(),
            description: description.unwrap_or_default(),
            project_id: project_id.to_owned(),
            group_type_id: gt,
            volume_type_ids: type_ids,
            status: "available".into(),
            availability_zone: availability_zone.unwrap_or_else(|| "nova".into()),
            created_at: crate::time::now(),
        };
        self.block.groups.insert(g.id.clone(), g.clone());
        self.notify(group_event(
            "group.create.end",
            json!({"group_id": g.id, "name": g.name, "tenant_id": g.project_id, "status": g.status, "availability_zone": g.availability_zone, "created_at": crate::time::iso_micro(g.created_at)}),
        ));
        Ok(g)
    }

    /// `PUT /groups/{id}`: rename and add/remove volumes.
    pub fn update_group(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        add: &[String],
        remove: &[String],
    ) -> CloudResult<Group> {
        let g = self
            .block
            .groups
            .get(id)
            .ok_or_else(|| CloudError::not_found("Group", id))?
            .clone();
        for v in add {
            let vol = self.volume(v)?;
            if !g.volume_type_ids.contains(&vol.volume_type_id) {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Cannot add volume {v} to group {id} because volume type {} is not supported by the group.",
                    vol.volume_type_id
                )));
            }
            if vol.group_id.as_deref().is_some_and(|x| x != id) {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Volume {v} is already in a group."
                )));
            }
            if !["available", "in-use"].contains(&vol.status.as_str()) {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Volume {v} status must be available or in-use."
                )));
            }
        }
        for v in remove {
            if self.volume(v)?.group_id.as_deref() != Some(id) {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Volume {v} is not in group {id}."
                )));
            }
        }
        for v in add {
            if let Some(vol) = self.block.volumes.get_mut(v) {
                vol.group_id = Some(id.to_owned());
            }
        }
        for v in remove {
            if let Some(vol) = self.block.volumes.get_mut(v) {
                vol.group_id = None;
            }
        }
        let g = self
            .block
            .groups
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Group", id))?;
        if let Some(n) = name {
            g.name = n;
        }
        if let Some(d) = description {
            g.description = d;
        }
        let g = g.clone();
        self.notify(group_event(
            "group.update.end",
            json!({"group_id": id, "name": g.name}),
        ));
        Ok(g)
    }

    /// Deletes a group; with `delete_volumes` its volumes go too, otherwise it must be empty.
    pub fn delete_group(&mut self, id: &str, delete_volumes: bool) -> CloudResult<()> {
        if !self.block.groups.contains_key(id) {
            return Err(CloudError::not_found("Group", id));
        }
        let members: Vec<String> = self
            .block
            .volumes
            .values()
            .filter(|v| v.group_id.as_deref() == Some(id))
            .map(|v| v.id.clone())
            .collect();
        if !members.is_empty() && !delete_volumes {
            return Err(CloudError::bad(format!(
                "Invalid group: Group {id} still contains volumes. The delete-volumes flag is required to delete it."
            )));
        }
        if self
            .block
            .group_snapshots
            .values()
            .any(|s| s.group_id == id)
        {
            return Err(CloudError::bad(format!(
                "Invalid group: Group {id} has group snapshots."
            )));
        }
        for v in &members {
            let vol = self.volume(v)?;
            if !vol.attachments.is_empty() {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Volume {v} in group {id} is attached."
                )));
            }
        }
        for v in members {
            if let Some(vol) = self.block.volumes.get_mut(&v) {
                vol.group_id = None;
            }
            self.delete_volume(&v, true)?;
        }
        self.block.groups.remove(id);
        self.notify(group_event("group.delete.end", json!({"group_id": id})));
        Ok(())
    }

    /// A consistent snapshot of every volume of a group.
    pub fn create_group_snapshot(
        &mut self,
        project_id: &str,
        user_id: &str,
        group_id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> CloudResult<GroupSnapshot> {
        let g = self
            .block
            .groups
            .get(group_id)
            .ok_or_else(|| CloudError::not_found("Group", group_id))?
            .clone();
        let members: Vec<String> = self
            .block
            .volumes
            .values()
            .filter(|v| v.group_id.as_deref() == Some(group_id))
            .map(|v| v.id.clone())
            .collect();
        for v in &members {
            let st = &self.volume(v)?.status;
            if st != "available" && st != "in-use" {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Volume {v} in group {group_id} has status {st}."
                )));
            }
        }
        let gs = GroupSnapshot {
            id: new_uuid(),
            name: name.unwrap_or_default(),
            description: description.unwrap_or_default(),
            group_id: group_id.to_owned(),
            project_id: project_id.to_owned(),
            group_type_id: g.group_type_id.clone(),
            status: "creating".into(),
            created_at: crate::time::now(),
        };
        self.block.group_snapshots.insert(gs.id.clone(), gs.clone());
        for v in &members {
            self.create_snapshot(
                project_id,
                user_id,
                crate::model::block::SnapshotSpec {
                    volume_id: v.clone(),
                    name: Some(format!("snapshot-{}", gs.id)),
                    force: true,
                    group_snapshot_id: Some(gs.id.clone()),
                    ..Default::default()
                },
            )?;
        }
        self.settle_group_snapshot(&gs.id);
        Ok(self.block.group_snapshots[&gs.id].clone())
    }

    /// A creating group snapshot becomes available once all its snapshots are.
    pub(crate) fn settle_group_snapshot(&mut self, id: &str) {
        let snaps: Vec<&str> = self
            .block
            .snapshots
            .values()
            .filter(|s| s.group_snapshot_id.as_deref() == Some(id))
            .map(|s| s.status.as_str())
            .collect();
        let status = if snaps.contains(&"error") {
            "error"
        } else if snaps.iter().all(|s| *s == "available") {
            "available"
        } else {
            return;
        };
        if let Some(gs) = self.block.group_snapshots.get_mut(id)
            && gs.status == "creating"
        {
            gs.status = status.into();
            let payload = json!({"group_snapshot_id": gs.id, "group_id": gs.group_id, "status": gs.status, "tenant_id": gs.project_id});
            self.notify(group_event("group_snapshot.create.end", payload));
        }
    }

    pub fn delete_group_snapshot(&mut self, id: &str) -> CloudResult<()> {
        let gs = self
            .block
            .group_snapshots
            .get(id)
            .ok_or_else(|| CloudError::not_found("GroupSnapshot", id))?;
        if gs.status != "available" && gs.status != "error" {
            return Err(CloudError::bad(format!(
                "Invalid group snapshot: Group snapshot status must be available or error, but current status is: {}.",
                gs.status
            )));
        }
        let snaps: Vec<String> = self
            .block
            .snapshots
            .values()
            .filter(|s| s.group_snapshot_id.as_deref() == Some(id))
            .map(|s| s.id.clone())
            .collect();
        for s in snaps {
            if let Some(snap) = self.block.snapshots.get_mut(&s) {
                snap.group_snapshot_id = None;
            }
            self.delete_snapshot(&s)?;
        }
        self.block.group_snapshots.remove(id);
        self.notify(group_event(
            "group_snapshot.delete.end",
            json!({"group_snapshot_id": id}),
        ));
        Ok(())
    }
}
