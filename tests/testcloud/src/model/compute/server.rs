//! Servers: scheduling onto hypervisors, ports from Neutron, volumes from Cinder, and
//! the BUILD → ACTIVE/ERROR, power and delete transitions.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::Flavor;
use crate::model::effect::PowerAction;
use crate::model::network::PortSpec;
use crate::model::{
    Cloud, CloudError, CloudResult, Job, Notification, Priority, Service, new_uuid,
};

#[derive(Debug, Clone)]
pub struct ServerPort {
    pub port_id: String,
    /// Nova created it from a network request, so Nova deletes it with the server.
    pub created_by_nova: bool,
}

#[derive(Debug, Clone)]
pub struct ServerVolume {
    pub volume_id: String,
    pub device: String,
    pub delete_on_termination: bool,
    pub boot_index: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub flavor: Flavor,
    pub status: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: u8,
    pub hypervisor: Option<u64>,
    pub availability_zone: String,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub security_groups: Vec<String>,
    pub ports: Vec<ServerPort>,
    pub volumes: Vec<ServerVolume>,
    pub fault: Option<(u16, String)>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub launched_at: Option<Timestamp>,
}

/// One entry of `server.networks`.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    pub network_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
}

/// One `block_device_mapping_v2` entry.
#[derive(Debug, Clone, Default)]
pub struct BlockDevice {
    pub boot_index: Option<i32>,
    pub uuid: Option<String>,
    pub source_type: String,
    pub destination_type: String,
    pub delete_on_termination: bool,
    pub device_name: Option<String>,
}

/// What `POST /servers` asks for.
#[derive(Debug, Clone, Default)]
pub struct ServerSpec {
    pub name: String,
    pub flavor_ref: String,
    pub image_ref: Option<String>,
    /// `None`: "auto" (the project's only network, if any).
    pub networks: Option<Vec<NetworkRequest>>,
    pub key_name: Option<String>,
    pub availability_zone: Option<String>,
    pub security_groups: Vec<String>,
    pub block_devices: Vec<BlockDevice>,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
}

fn device_name(i: usize) -> String {
    format!("/dev/vd{}", (b'a' + (i as u8 % 26)) as char)
}

fn conflict_state(action: &str, id: &str, state: &str) -> CloudError {
    CloudError::conflict(
        "InstanceInvalidState",
        format!("Cannot '{action}' instance {id} while it is in vm_state {state}"),
    )
}

impl Cloud {
    pub fn server(&self, id: &str) -> CloudResult<&Server> {
        self.compute
            .servers
            .get(id)
            .ok_or_else(|| CloudError::not_found("Instance", id))
    }

    /// The legacy (unversioned) notification payload of an instance.
    pub fn instance_payload(&self, s: &Server) -> Value {
        let host = s
            .hypervisor
            .and_then(|h| self.compute.hypervisors.get(&h))
            .map(|h| h.hostname.clone());
        let fixed_ips: Vec<Value> = s
            .ports
            .iter()
            .filter_map(|sp| self.net.ports.get(&sp.port_id))
            .flat_map(|p| {
                let label = self
                    .net
                    .networks
                    .get(&p.network_id)
                    .map(|n| n.name.clone())
                    .unwrap_or_default();
                p.fixed_ips.iter().map(move |(_, ip)| {
                    json!({"address": ip.to_string(), "type": "fixed", "version": 4, "label": label, "vif_mac": p.mac_address, "floating_ips": [], "meta": {}})
                })
            })
            .collect();
        json!({
            "tenant_id": s.project_id,
            "user_id": s.user_id,
            "instance_id": s.id,
            "display_name": s.name,
            "hostname": s.name.to_lowercase().replace(' ', "-"),
            "host": host,
            "node": host,
            "reservation_id": format!("r-{}", &s.id[..8]),
            "state": s.vm_state,
            "state_description": s.task_state.clone().unwrap_or_default(),
            "progress": "",
            "instance_type": s.flavor.name,
            "instance_type_id": s.flavor.id,
            "instance_flavor_id": s.flavor.id,
            "memory_mb": s.flavor.ram,
            "vcpus": s.flavor.vcpus,
            "root_gb": s.flavor.disk,
            "disk_gb": s.flavor.disk + s.flavor.ephemeral,
            "ephemeral_gb": s.flavor.ephemeral,
            "availability_zone": s.availability_zone,
            "created_at": crate::time::oslo(s.created_at),
            "launched_at": s.launched_at.map(crate::time::oslo).unwrap_or_default(),
            "terminated_at": "",
            "deleted_at": "",
            "image_ref_url": "",
            "image_meta": {},
            "os_type": null,
            "architecture": null,
            "kernel_id": "",
            "ramdisk_id": "",
            "fixed_ips": fixed_ips,
            "metadata": s.metadata,
            "cell_name": "",
        })
    }

    fn notify_instance(&mut self, id: &str, event: &str, priority: Priority) {
        if self.quiet {
            return;
        }
        let Some(s) = self.compute.servers.get(id) else {
            return;
        };
        let host = s
            .hypervisor
            .and_then(|h| self.compute.hypervisors.get(&h))
            .map(|h| h.hostname.clone())
            .unwrap_or_else(|| "testcloud".into());
        let mut payload = self.instance_payload(s);
        if let (Some((code, msg)), Priority::Error) = (&s.fault, priority) {
            payload["code"] = json!(code);
            payload["message"] = json!(msg);
        }
        self.notify(Notification {
            service: Service::Compute,
            event_type: event.to_owned(),
            priority,
            host,
            payload,
        });
    }

    fn compute_quota(&self, project_id: &str, flavor: &Flavor) -> CloudResult<()> {
        if ["instances", "cores", "ram"]
            .iter()
            .all(|r| self.quotas.limit(project_id, r) < 0)
        {
            return Ok(());
        }
        let (mut n, mut cores, mut ram) = (0i64, 0i64, 0i64);
        for s in self
            .compute
            .servers
            .values()
            .filter(|s| s.project_id == project_id)
        {
            n += 1;
            cores += s.flavor.vcpus as i64;
            ram += s.flavor.ram as i64;
        }
        for (res, used, more) in [
            ("instances", n, 1),
            ("cores", cores, flavor.vcpus as i64),
            ("ram", ram, flavor.ram as i64),
        ] {
            if self.quotas.exceeds(project_id, res, used, more) {
                return Err(CloudError::QuotaExceeded(format!(
                    "Quota exceeded for {res}: Requested {more}, but already used {used} of {} {res}",
                    self.quotas.limit(project_id, res)
                )));
            }
        }
        Ok(())
    }

    /// `POST /servers`: validates every reference, schedules onto a hypervisor with room,
    /// creates the ports, reserves the volumes, and queues the build (BUILD → ACTIVE, or
    /// → ERROR "No valid host was found" when nothing fits).
    pub fn create_server(
        &mut self,
        project_id: &str,
        user_id: &str,
        spec: ServerSpec,
    ) -> CloudResult<Server> {
        if spec.name.trim().is_empty() || spec.name.len() > 255 {
            return Err(CloudError::bad(
                "Invalid input for field/attribute name. Value: . '' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'",
            ));
        }
        let flavor = self
            .compute
            .flavors
            .get(&spec.flavor_ref)
            .cloned()
            .ok_or_else(|| {
                CloudError::bad(format!("Flavor {} could not be found.", spec.flavor_ref))
            })?;
        if let Some(k) = &spec.key_name
            && !self
                .compute
                .keypairs
                .contains_key(&(user_id.to_owned(), k.clone()))
        {
            return Err(CloudError::bad("Invalid key_name provided."));
        }
        let azs = self.compute.availability_zones();
        if let Some(az) = &spec.availability_zone
            && !azs.contains(az)
        {
            return Err(CloudError::bad(
                "The requested availability zone is not available",
            ));
        }
        // Block devices: only existing Cinder volumes (no Glance in the test cloud).
        let mut volumes = vec![];
        for (i, bd) in spec.block_devices.iter().enumerate() {
            if bd.source_type != "volume" || bd.destination_type != "volume" {
                return Err(CloudError::bad(format!(
                    "Block Device Mapping is Invalid: source_type '{}' with destination_type '{}' is not supported by this cloud (no image service); boot from an existing volume.",
                    bd.source_type, bd.destination_type
                )));
            }
            let vid = bd.uuid.clone().ok_or_else(|| {
                CloudError::bad(
                    "Block Device Mapping is Invalid: uuid is required for source_type volume.",
                )
            })?;
            let v = self.block.volumes.get(&vid).ok_or_else(|| {
                CloudError::bad(format!(
                    "Block Device Mapping is Invalid: failed to get volume {vid}."
                ))
            })?;
            if v.status != "available" {
                return Err(CloudError::bad(format!(
                    "Invalid volume: volume {vid} status must be available, but current status is: {}",
                    v.status
                )));
            }
            if bd.boot_index == Some(0) && !v.bootable {
                return Err(CloudError::bad(format!(
                    "Block Device {vid} is not bootable."
                )));
            }
            volumes.push(ServerVolume {
                volume_id: vid,
                device: bd.device_name.clone().unwrap_or_else(|| device_name(i)),
                delete_on_termination: bd.delete_on_termination,
                boot_index: bd.boot_index,
            });
        }
        let boots_from_volume = volumes.iter().any(|v| v.boot_index == Some(0));
        match spec.image_ref.as_deref().filter(|i| !i.is_empty()) {
            Some(img) if !boots_from_volume => {
                return Err(CloudError::bad(format!("Image {img} could not be found.")));
            }
            None if !boots_from_volume => {
                return Err(CloudError::bad(
                    "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.",
                ));
            }
            _ => {}
        }
        // Networks.
        let requests = match spec.networks {
            Some(r) => r,
            None => {
                let candidates: Vec<&String> = self
                    .net
                    .networks
                    .values()
                    .filter(|n| !n.external && (n.project_id == project_id || n.shared))
                    .map(|n| &n.id)
                    .collect();
                match candidates.as_slice() {
                    [] => vec![],
                    [one] => vec![NetworkRequest {
                        network_id: Some((*one).clone()),
                        ..Default::default()
                    }],
                    _ => {
                        return Err(CloudError::conflict(
                            "NetworkAmbiguous",
                            "Multiple possible networks found, use a Network ID to be more specific.",
                        ));
                    }
                }
            }
        };
        for r in &requests {
            match (&r.network_id, &r.port_id) {
                (_, Some(p)) => {
                    let port = self.net.ports.get(p).ok_or_else(|| {
                        CloudError::bad(format!("Port id {p} could not be found."))
                    })?;
                    if !port.device_id.is_empty() {
                        return Err(CloudError::conflict(
                            "PortInUse",
                            format!("Port {p} is still in use."),
                        ));
                    }
                }
                (Some(n), None) => {
                    if !self.net.networks.contains_key(n) {
                        return Err(CloudError::bad(format!("Network {n} could not be found.")));
                    }
                }
                (None, None) => {
                    return Err(CloudError::bad(
                        "Bad networks format: network uuid is not in proper format",
                    ));
                }
            }
        }
        // Security groups by name or id.
        let sg_names = if spec.security_groups.is_empty() {
            vec!["default".to_owned()]
        } else {
            spec.security_groups.clone()
        };
        let mut sg_ids = vec![];
        let mut resolved_names = vec![];
        for name in &sg_names {
            let found = self
                .net
                .security_groups
                .values()
                .find(|g| (g.name == *name && g.project_id == project_id) || g.id == *name)
                .map(|g| g.id.clone());
            match found {
                Some(id) => {
                    resolved_names.push(self.net.security_groups[&id].name.clone());
                    sg_ids.push(id);
                }
                None if name == "default" => {
                    resolved_names.push("default".into());
                    sg_ids.push(self.ensure_default_security_group(project_id));
                }
                None => {
                    return Err(CloudError::bad(format!(
                        "Security group {name} not found for project {project_id}."
                    )));
                }
            }
        }
        self.compute_quota(project_id, &flavor)?;
        // Scheduling: the least-loaded hypervisor with room, in the requested AZ.
        let disk = if boots_from_volume {
            0
        } else {
            flavor.disk + flavor.ephemeral
        };
        let host = self
            .compute
            .hypervisors
            .values()
            .filter(|h| {
                spec.availability_zone
                    .as_ref()
                    .is_none_or(|az| &h.availability_zone == az)
            })
            .filter(|h| h.fits(flavor.vcpus, flavor.ram, disk))
            .min_by_key(|h| (h.vcpus_used * 1000 / h.vcpus.max(1), h.id))
            .map(|h| h.id);
        let now = crate::time::now();
        let az = match (host, &spec.availability_zone) {
            (Some(h), _) => self.compute.hypervisors[&h].availability_zone.clone(),
            (None, Some(az)) => az.clone(),
            (None, None) => azs.into_iter().next().unwrap_or_else(|| "nova".into()),
        };
        let id = new_uuid();
        let mut server = Server {
            id: id.clone(),
            name: spec.name,
            project_id: project_id.to_owned(),
            user_id: user_id.to_owned(),
            flavor: flavor.clone(),
            status: "BUILD".into(),
            vm_state: "building".into(),
            task_state: Some("scheduling".into()),
            power_state: 0,
            hypervisor: host,
            availability_zone: az.clone(),
            key_name: spec.key_name,
            metadata: spec.metadata,
            security_groups: resolved_names,
            ports: vec![],
            volumes: vec![],
            fault: None,
            description: spec.description,
            tags: spec.tags,
            created_at: now,
            updated_at: now,
            launched_at: None,
        };
        if let Some(h) = host {
            let hostname = self.compute.hypervisors[&h].hostname.clone();
            for r in requests {
                let result = match r.port_id {
                    Some(p) => self
                        .update_port(
                            &p,
                            None,
                            None,
                            None,
                            None,
                            Some((id.clone(), format!("compute:{az}"))),
                        )
                        .map(|p| ServerPort {
                            port_id: p.id,
                            created_by_nova: false,
                        }),
                    None => self
                        .create_port(
                            project_id,
                            PortSpec {
                                network_id: r.network_id.unwrap_or_default(),
                                fixed_ips: r.fixed_ip.map(|ip| vec![(None, Some(ip))]),
                                device_id: Some(id.clone()),
                                device_owner: Some(format!("compute:{az}")),
                                security_groups: Some(sg_ids.clone()),
                                binding_host: Some(hostname.clone()),
                                ..Default::default()
                            },
                        )
                        .map(|p| ServerPort {
                            port_id: p.id,
                            created_by_nova: true,
                        }),
                };
                match result {
                    Ok(sp) => server.ports.push(sp),
                    Err(e) => {
                        self.release_server_ports(&server.ports);
                        return Err(e);
                    }
                }
            }
            let hv = self
                .compute
                .hypervisors
                .get_mut(&h)
                .ok_or_else(|| CloudError::not_found("Hypervisor", h.to_string()))?;
            hv.vcpus_used += flavor.vcpus;
            hv.memory_mb_used += flavor.ram;
            hv.local_gb_used += disk;
            hv.running_vms += 1;
            for v in &volumes {
                if let Some(vol) = self.block.volumes.get_mut(&v.volume_id) {
                    vol.status = "reserved".into();
                }
            }
            server.volumes = volumes;
            server.task_state = Some("spawning".into());
        }
        self.compute.servers.insert(id.clone(), server.clone());
        self.notify_instance(&id, "compute.instance.create.start", Priority::Info);
        self.job(Job::BuildServer { server_id: id });
        Ok(server)
    }

    fn release_server_ports(&mut self, ports: &[ServerPort]) {
        for sp in ports {
            if sp.created_by_nova {
                self.remove_port(&sp.port_id);
            } else {
                let _ = self.update_port(
                    &sp.port_id,
                    None,
                    None,
                    None,
                    None,
                    Some((String::new(), String::new())),
                );
            }
        }
    }

    pub(crate) fn finish_server_build(&mut self, id: &str) {
        let Some(s) = self.compute.servers.get_mut(id) else {
            return;
        };
        if s.status != "BUILD" {
            return;
        }
        let now = crate::time::now();
        s.updated_at = now;
        s.task_state = None;
        if s.hypervisor.is_none() {
            s.status = "ERROR".into();
            s.vm_state = "error".into();
            s.fault = Some((
                500,
                "No valid host was found. There are not enough hosts available.".into(),
            ));
            self.notify_instance(id, "compute.instance.create.error", Priority::Error);
            return;
        }
        s.status = "ACTIVE".into();
        s.vm_state = "active".into();
        s.power_state = 1;
        s.launched_at = Some(now);
        let volumes = s.volumes.clone();
        let hostname = s
            .hypervisor
            .and_then(|h| self.compute.hypervisors.get(&h))
            .map(|h| h.hostname.clone())
            .unwrap_or_default();
        for v in volumes {
            if let Some(vol) = self.block.volumes.get_mut(&v.volume_id) {
                vol.status = "in-use".into();
                vol.attachments.push(crate::model::block::Attachment {
                    id: new_uuid(),
                    server_id: id.to_owned(),
                    host_name: hostname.clone(),
                    device: v.device.clone(),
                    attached_at: now,
                });
                self.notify_volume(&v.volume_id, "volume.attach.end");
            }
        }
        self.notify_instance(id, "compute.instance.create.end", Priority::Info);
    }

    pub fn update_server(
        &mut self,
        id: &str,
        name: Option<String>,
        description: Option<Option<String>>,
    ) -> CloudResult<Server> {
        let s = self
            .compute
            .servers
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Instance", id))?;
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        s.updated_at = crate::time::now();
        let s = s.clone();
        self.notify_instance(id, "compute.instance.update", Priority::Info);
        Ok(s)
    }

    pub fn set_server_metadata(
        &mut self,
        id: &str,
        metadata: BTreeMap<String, String>,
        replace: bool,
    ) -> CloudResult<BTreeMap<String, String>> {
        let s = self
            .compute
            .servers
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Instance", id))?;
        if replace {
            s.metadata = metadata;
        } else {
            s.metadata.extend(metadata);
        }
        Ok(s.metadata.clone())
    }

    /// `DELETE /servers/{id}`: the server goes away after the delete delay, its Nova
    /// ports are deleted, its volumes detached (or deleted if so requested).
    pub fn delete_server(&mut self, id: &str) -> CloudResult<()> {
        let s = self
            .compute
            .servers
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Instance", id))?;
        if s.task_state.as_deref() == Some("deleting") {
            return Ok(());
        }
        s.task_state = Some("deleting".into());
        self.notify_instance(id, "compute.instance.delete.start", Priority::Info);
        self.job(Job::DeleteServer {
            server_id: id.to_owned(),
        });
        Ok(())
    }

    pub(crate) fn finish_server_delete(&mut self, id: &str) {
        let Some(s) = self.compute.servers.get(id).cloned() else {
            return;
        };
        self.notify_instance(id, "compute.instance.shutdown.end", Priority::Info);
        if let Some(h) = s
            .hypervisor
            .and_then(|h| self.compute.hypervisors.get_mut(&h))
        {
            let disk = if s.volumes.iter().any(|v| v.boot_index == Some(0)) {
                0
            } else {
                s.flavor.disk + s.flavor.ephemeral
            };
            h.vcpus_used = h.vcpus_used.saturating_sub(s.flavor.vcpus);
            h.memory_mb_used = h.memory_mb_used.saturating_sub(s.flavor.ram);
            h.local_gb_used = h.local_gb_used.saturating_sub(disk);
            h.running_vms = h.running_vms.saturating_sub(1);
        }
        self.release_server_ports(&s.ports);
        for v in &s.volumes {
            if let Some(vol) = self.block.volumes.get_mut(&v.volume_id) {
                vol.attachments.retain(|a| a.server_id != id);
                if vol.attachments.is_empty() {
                    vol.status = "available".into();
                }
                self.notify_volume(&v.volume_id, "volume.detach.end");
                if v.delete_on_termination {
                    self.start_volume_delete(&v.volume_id);
                }
            }
        }
        self.notify_instance(id, "compute.instance.delete.end", Priority::Info);
        self.compute.servers.remove(id);
    }

    /// `os-start`, `os-stop`, `reboot`.
    pub fn server_power(&mut self, id: &str, action: PowerAction) -> CloudResult<()> {
        let s = self
            .compute
            .servers
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("Instance", id))?;
        if s.task_state.is_some() {
            return Err(CloudError::conflict(
                "InstanceInvalidState",
                format!(
                    "Cannot '{}' instance {id} while it is in task_state {}",
                    match action {
                        PowerAction::Start => "start",
                        PowerAction::Stop => "stop",
                        PowerAction::Reboot => "reboot",
                    },
                    s.task_state.clone().unwrap_or_default()
                ),
            ));
        }
        let (name, allowed, task) = match action {
            PowerAction::Start => ("start", &["stopped"][..], "powering-on"),
            PowerAction::Stop => ("stop", &["active", "error"][..], "powering-off"),
            PowerAction::Reboot => ("reboot", &["active", "stopped"][..], "rebooting"),
        };
        if !allowed.contains(&s.vm_state.as_str()) {
            return Err(conflict_state(name, id, &s.vm_state));
        }
        s.task_state = Some(task.into());
        if action == PowerAction::Reboot {
            s.status = "REBOOT".into();
        }
        self.job(Job::PowerServer {
            server_id: id.to_owned(),
            action,
        });
        Ok(())
    }

    pub(crate) fn finish_server_power(&mut self, id: &str, action: PowerAction) {
        let Some(s) = self.compute.servers.get_mut(id) else {
            return;
        };
        s.task_state = None;
        s.updated_at = crate::time::now();
        let event = match action {
            PowerAction::Stop => {
                s.status = "SHUTOFF".into();
                s.vm_state = "stopped".into();
                s.power_state = 4;
                "compute.instance.power_off.end"
            }
            PowerAction::Start | PowerAction::Reboot => {
                s.status = "ACTIVE".into();
                s.vm_state = "active".into();
                s.power_state = 1;
                if action == PowerAction::Start {
                    "compute.instance.power_on.end"
                } else {
                    "compute.instance.reboot.end"
                }
            }
        };
        self.notify_instance(id, event, Priority::Info);
    }

    /// `POST /servers/{id}/os-volume_attachments`.
    pub fn attach_volume(
        &mut self,
        server_id: &str,
        volume_id: &str,
        device: Option<String>,
        delete_on_termination: bool,
    ) -> CloudResult<ServerVolume> {
        let s = self.server(server_id)?;
        if !["active", "stopped"].contains(&s.vm_state.as_str()) || s.task_state.is_some() {
            return Err(conflict_state("attach_volume", server_id, &s.vm_state));
        }
        if s.volumes.iter().any(|v| v.volume_id == volume_id) {
            return Err(CloudError::conflict(
                "VolumeAlreadyAttached",
                format!("volume {volume_id} already attached"),
            ));
        }
        let used: Vec<String> = s.volumes.iter().map(|v| v.device.clone()).collect();
        let v = self
            .block
            .volumes
            .get(volume_id)
            .ok_or_else(|| CloudError::not_found("Volume", volume_id))?;
        if v.status != "available" {
            return Err(CloudError::bad(format!(
                "Invalid volume: volume {volume_id} status must be available, but current status is: {}",
                v.status
            )));
        }
        let device = device.unwrap_or_else(|| {
            (1..26)
                .map(device_name)
                .find(|d| !used.contains(d))
                .unwrap_or_else(|| device_name(25))
        });
        let sv = ServerVolume {
            volume_id: volume_id.to_owned(),
            device,
            delete_on_termination,
            boot_index: None,
        };
        if let Some(vol) = self.block.volumes.get_mut(volume_id) {
            vol.status = "attaching".into();
        }
        if let Some(s) = self.compute.servers.get_mut(server_id) {
            s.volumes.push(sv.clone());
        }
        self.job(Job::AttachVolume {
            volume_id: volume_id.to_owned(),
            server_id: server_id.to_owned(),
        });
        Ok(sv)
    }

    pub(crate) fn finish_volume_attach(&mut self, volume_id: &str, server_id: &str) {
        let Some(s) = self.compute.servers.get(server_id) else {
            return;
        };
        let Some(sv) = s.volumes.iter().find(|v| v.volume_id == volume_id).cloned() else {
            return;
        };
        let host = s
            .hypervisor
            .and_then(|h| self.compute.hypervisors.get(&h))
            .map(|h| h.hostname.clone())
            .unwrap_or_default();
        if let Some(vol) = self.block.volumes.get_mut(volume_id) {
            vol.status = "in-use".into();
            vol.attachments.push(crate::model::block::Attachment {
                id: new_uuid(),
                server_id: server_id.to_owned(),
                host_name: host,
                device: sv.device,
                attached_at: crate::time::now(),
            });
        }
        self.notify_volume(volume_id, "volume.attach.end");
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{volume_id}`.
    pub fn detach_volume(&mut self, server_id: &str, volume_id: &str) -> CloudResult<()> {
        let s = self.server(server_id)?;
        let sv = s
            .volumes
            .iter()
            .find(|v| v.volume_id == volume_id)
            .ok_or_else(|| {
                CloudError::not_found(
                    "Volume attachment",
                    format!("volume {volume_id} on server {server_id}"),
                )
            })?;
        if sv.boot_index == Some(0) {
            return Err(CloudError::bad("Cannot detach a root device volume"));
        }
        if let Some(vol) = self.block.volumes.get_mut(volume_id) {
            if vol.status != "in-use" {
                return Err(CloudError::bad(format!(
                    "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach (current: {}).",
                    vol.status
                )));
            }
            vol.status = "detaching".into();
        }
        self.job(Job::DetachVolume {
            volume_id: volume_id.to_owned(),
            server_id: server_id.to_owned(),
        });
        Ok(())
    }

    pub(crate) fn finish_volume_detach(&mut self, volume_id: &str, server_id: &str) {
        if let Some(s) = self.compute.servers.get_mut(server_id) {
            s.volumes.retain(|v| v.volume_id != volume_id);
        }
        if let Some(vol) = self.block.volumes.get_mut(volume_id) {
            vol.attachments.retain(|a| a.server_id != server_id);
            if vol.attachments.is_empty() {
                vol.status = "available".into();
            }
        }
        self.notify_volume(volume_id, "volume.detach.end");
    }
}
