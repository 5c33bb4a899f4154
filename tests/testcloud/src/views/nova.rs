//! Nova v2.1 resource shapes; `mv` is the minor part of the request's microversion.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::model::Cloud;
use crate::model::compute::{Flavor, Hypervisor, Keypair, Server};
use crate::time::iso_z;

fn links(base: &str, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/compute/v2.1/{kind}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/compute/{kind}/{id}")},
    ])
}

pub fn server_brief(s: &Server, base: &str) -> Value {
    json!({"id": s.id, "name": s.name, "links": links(base, "servers", &s.id)})
}

fn host_id(project: &str, host: &str) -> String {
    if host.is_empty() {
        return String::new();
    }
    let mut h = Md5::new();
    h.update(project.as_bytes());
    h.update(host.as_bytes());
    format!("{:x}", h.finalize())
}

/// `addresses`: per network name, fixed and floating addresses of the server's ports.
pub fn addresses(cloud: &Cloud, s: &Server) -> Value {
    let mut out = Map::new();
    for sp in &s.ports {
        let Some(p) = cloud.net.ports.get(&sp.port_id) else {
            continue;
        };
        let name = cloud
            .net
            .networks
            .get(&p.network_id)
            .map(|n| n.name.clone())
            .unwrap_or_default();
        let entry = out.entry(name).or_insert_with(|| json!([]));
        for (_, ip) in &p.fixed_ips {
            if let Some(list) = entry.as_array_mut() {
                list.push(json!({"version": 4, "addr": ip.to_string(), "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac_address}));
                for f in cloud.net.floating_ips.values().filter(|f| {
                    f.port_id.as_deref() == Some(&p.id) && f.fixed_ip_address == Some(*ip)
                }) {
                    list.push(json!({"version": 4, "addr": f.floating_ip_address.to_string(), "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": p.mac_address}));
                }
            }
        }
    }
    Value::Object(out)
}

pub fn server(cloud: &Cloud, s: &Server, mv: u32, base: &str) -> Value {
    let host = s
        .hypervisor
        .and_then(|h| cloud.compute.hypervisors.get(&h))
        .map(|h| h.hostname.clone());
    let boot_from_volume = s.volumes.iter().any(|v| v.boot_index == Some(0));
    let flavor = if mv >= 47 {
        json!({
            "vcpus": s.flavor.vcpus, "ram": s.flavor.ram, "disk": s.flavor.disk,
            "ephemeral": s.flavor.ephemeral, "swap": s.flavor.swap,
            "original_name": s.flavor.name, "extra_specs": s.flavor.extra_specs,
        })
    } else {
        json!({"id": s.flavor.id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/flavors/{}", s.flavor.id)}]})
    };
    let volumes: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| {
            if mv >= 3 {
                json!({"id": v.volume_id, "delete_on_termination": v.delete_on_termination})
            } else {
                json!({"id": v.volume_id})
            }
        })
        .collect();
    let index =
        s.id.bytes()
            .take(4)
            .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let mut v = json!({
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "tenant_id": s.project_id,
        "user_id": s.user_id,
        "metadata": s.metadata,
        "hostId": host_id(&s.project_id, host.as_deref().unwrap_or("")),
        "image": if boot_from_volume { json!("") } else { json!({}) },
        "flavor": flavor,
        "created": iso_z(s.created_at),
        "updated": iso_z(s.updated_at),
        "addresses": addresses(cloud, s),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(base, "servers", &s.id),
        "key_name": s.key_name,
        "progress": if s.status == "ACTIVE" { 100 } else { 0 },
        "config_drive": "",
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": s.availability_zone,
        "OS-EXT-SRV-ATTR:host": host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": host,
        "OS-EXT-SRV-ATTR:instance_name": format!("instance-{:08x}", index),
        "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:vm_state": s.vm_state,
        "OS-EXT-STS:power_state": s.power_state,
        "OS-SRV-USG:launched_at": s.launched_at.map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.%6f").to_string()),
        "OS-SRV-USG:terminated_at": null,
        "os-extended-volumes:volumes_attached": volumes,
        "security_groups": s.security_groups.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
    });
    if let Some((code, message)) = &s.fault {
        v["fault"] = json!({"code": code, "message": message, "created": iso_z(s.updated_at)});
    }
    if mv >= 3 {
        v["OS-EXT-SRV-ATTR:reservation_id"] = json!(format!("r-{}", &s.id[..8]));
        v["OS-EXT-SRV-ATTR:launch_index"] = json!(0);
        v["OS-EXT-SRV-ATTR:hostname"] = json!(s.name.to_lowercase().replace(' ', "-"));
        v["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
        v["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
        v["OS-EXT-SRV-ATTR:root_device_name"] = json!("/dev/vda");
        v["OS-EXT-SRV-ATTR:user_data"] = json!(null);
    }
    if mv >= 9 {
        v["locked"] = json!(false);
    }
    if mv >= 16 {
        v["host_status"] = json!(if host.is_some() { "UP" } else { "" });
    }
    if mv >= 19 {
        v["description"] = json!(s.description);
    }
    if mv >= 26 {
        v["tags"] = json!(s.tags);
    }
    if mv >= 63 {
        v["trusted_image_certificates"] = json!(null);
    }
    if mv >= 71 {
        v["server_groups"] = json!([]);
    }
    if mv >= 73 {
        v["locked_reason"] = json!(null);
    }
    v
}

pub fn flavor(f: &Flavor, mv: u32, base: &str) -> Value {
    let mut v = json!({
        "id": f.id,
        "name": f.name,
        "ram": f.ram,
        "vcpus": f.vcpus,
        "disk": f.disk,
        "swap": if f.swap == 0 { json!("") } else { json!(f.swap) },
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral,
        "OS-FLV-DISABLED:disabled": false,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": links(base, "flavors", &f.id),
    });
    if mv >= 55 {
        v["description"] = json!(f.description);
    }
    v
}

pub fn flavor_brief(f: &Flavor, mv: u32, base: &str) -> Value {
    let mut v = json!({"id": f.id, "name": f.name, "links": links(base, "flavors", &f.id)});
    if mv >= 55 {
        v["description"] = json!(f.description);
    }
    v
}

pub fn hypervisor(h: &Hypervisor, mv: u32, detail: bool) -> Value {
    let id = if mv >= 53 { json!(h.uuid) } else { json!(h.id) };
    let mut v = json!({
        "id": id,
        "hypervisor_hostname": h.hostname,
        "state": "up",
        "status": "enabled",
    });
    if detail {
        let free_ram = h.memory_mb as i64 - h.memory_mb_used as i64;
        let free_disk = h.local_gb as i64 - h.local_gb_used as i64;
        let extra = json!({
            "vcpus": h.vcpus,
            "vcpus_used": h.vcpus_used,
            "memory_mb": h.memory_mb,
            "memory_mb_used": h.memory_mb_used,
            "free_ram_mb": free_ram,
            "local_gb": h.local_gb,
            "local_gb_used": h.local_gb_used,
            "free_disk_gb": free_disk,
            "disk_available_least": free_disk,
            "running_vms": h.running_vms,
            "current_workload": 0,
            "hypervisor_type": "fake",
            "hypervisor_version": 1000,
            "host_ip": h.host_ip,
            "cpu_info": "{\"arch\": \"x86_64\", \"model\": \"Nehalem\", \"vendor\": \"Intel\", \"topology\": {\"cores\": 1, \"threads\": 1, \"sockets\": 1}}",
            "service": {"host": h.hostname, "id": if mv >= 53 { json!(h.uuid) } else { json!(h.id) }, "disabled_reason": null},
        });
        if let (Some(obj), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            obj.extend(e.clone());
        }
    }
    v
}

pub fn keypair(k: &Keypair, mv: u32, detail: bool) -> Value {
    let mut v = json!({
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
    });
    if mv >= 2 {
        v["type"] = json!(k.key_type);
    }
    if detail {
        v["user_id"] = json!(k.user_id);
        v["created_at"] = json!(k.created_at.strftime("%Y-%m-%dT%H:%M:%S.%6f").to_string());
        v["deleted"] = json!(false);
        v["deleted_at"] = json!(null);
        v["updated_at"] = json!(null);
        v["id"] = json!(1);
    }
    v
}
