//! Fixture files (JSON or TOML): the initial content of a cloud. Loading settles every
//! transition at once (volumes available with their files, servers ACTIVE) and sends no
//! notifications.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::block::VolumeSpec;
use crate::model::compute::{BlockDevice, Flavor, Keypair, NetworkRequest, ServerSpec};
use crate::model::identity::{DEFAULT_DOMAIN, Scope};
use crate::model::network::{NetworkSpec, RuleSpec, SubnetSpec};
use crate::model::{Cloud, CloudError, Effect};

pub mod generate;
pub mod shop;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fixture {
    pub hypervisors: Vec<HypervisorFx>,
    pub flavors: Vec<FlavorFx>,
    pub projects: Vec<ProjectFx>,
    pub users: Vec<UserFx>,
    /// Quota overrides: project name -> resource -> limit (-1 unlimited).
    pub quotas: BTreeMap<String, BTreeMap<String, i64>>,
    pub volume_types: Vec<VolumeTypeFx>,
    pub networks: Vec<NetworkFx>,
    pub routers: Vec<RouterFx>,
    pub security_groups: Vec<SecurityGroupFx>,
    pub keypairs: Vec<KeypairFx>,
    pub volumes: Vec<VolumeFx>,
    pub servers: Vec<ServerFx>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HypervisorFx {
    pub hostname: String,
    #[serde(default = "nova")]
    pub availability_zone: String,
    pub vcpus: u64,
    pub memory_mb: u64,
    pub local_gb: u64,
}

fn nova() -> String {
    "nova".into()
}

fn admin() -> String {
    "admin".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorFx {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub vcpus: u64,
    pub ram: u64,
    #[serde(default)]
    pub disk: u64,
    #[serde(default)]
    pub ephemeral: u64,
    #[serde(default = "yes")]
    pub is_public: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFx {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Grant the cloud's `admin` user the `admin` role on the project (what an operator
    /// does before protecting it); `false` makes a project without that membership, as
    /// Keystone leaves a project created by someone else.
    #[serde(default = "yes")]
    pub admin_member: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserFx {
    pub name: String,
    pub password: String,
    /// Project (by name) the roles are granted on.
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeTypeFx {
    pub name: String,
    /// `volume_backend_name`.
    #[serde(default)]
    pub backend: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFx {
    pub name: String,
    #[serde(default = "admin")]
    pub project: String,
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub subnets: Vec<SubnetFx>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetFx {
    pub name: String,
    pub cidr: String,
    #[serde(default)]
    pub gateway_ip: Option<String>,
    #[serde(default = "yes")]
    pub enable_dhcp: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouterFx {
    pub name: String,
    #[serde(default = "admin")]
    pub project: String,
    /// External network (by name) for the gateway.
    #[serde(default)]
    pub external_network: Option<String>,
    /// Subnets (by name) to attach as interfaces.
    #[serde(default)]
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupFx {
    pub name: String,
    #[serde(default = "admin")]
    pub project: String,
    #[serde(default)]
    pub rules: Vec<RuleFx>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFx {
    #[serde(default = "ingress")]
    pub direction: String,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port_min: Option<u16>,
    #[serde(default)]
    pub port_max: Option<u16>,
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
}

fn ingress() -> String {
    "ingress".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeypairFx {
    pub name: String,
    #[serde(default = "admin")]
    pub user: String,
    pub public_key: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeFx {
    pub name: String,
    #[serde(default = "admin")]
    pub project: String,
    pub size_gb: u64,
    #[serde(default)]
    pub volume_type: Option<String>,
    /// Written at offset 0 of the volume's file.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub bootable: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFx {
    pub name: String,
    #[serde(default = "admin")]
    pub project: String,
    #[serde(default = "admin")]
    pub user: String,
    pub flavor: String,
    /// Networks by name (one port each).
    #[serde(default)]
    pub networks: Vec<String>,
    /// Boot volume (by name).
    pub boot_volume: String,
    /// Further volumes (by name) attached to it.
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Why a fixture cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid fixture {path}: {message}")]
    Parse { path: String, message: String },
    #[error("fixture refers to unknown {kind} {name:?}")]
    Unknown { kind: &'static str, name: String },
    #[error("fixture {what} {name:?} rejected: {source}")]
    Rejected {
        what: &'static str,
        name: String,
        source: CloudError,
    },
    #[error("fixture volume files: {0}")]
    Storage(String),
}

/// How much a fixture created.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FixtureStats {
    pub projects: usize,
    pub networks: usize,
    pub volumes: usize,
    pub servers: usize,
}

impl Fixture {
    /// Reads a `.json` or `.toml` fixture.
    pub fn from_file(path: &Path) -> Result<Self, FixtureError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
            path: p.clone(),
            source,
        })?;
        if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| FixtureError::Parse {
                path: p,
                message: e.to_string(),
            })
        } else {
            serde_json::from_str(&text).map_err(|e| FixtureError::Parse {
                path: p,
                message: e.to_string(),
            })
        }
    }
}

fn rejected<'a>(what: &'static str, name: &'a str) -> impl FnOnce(CloudError) -> FixtureError + 'a {
    move |source| FixtureError::Rejected {
        what,
        name: name.to_owned(),
        source,
    }
}

fn unknown(kind: &'static str, name: &str) -> FixtureError {
    FixtureError::Unknown {
        kind,
        name: name.to_owned(),
    }
}

/// Lookups by name while loading.
#[derive(Default)]
struct Names {
    projects: HashMap<String, String>,
    users: HashMap<String, String>,
    networks: HashMap<String, String>,
    subnets: HashMap<String, String>,
    volumes: HashMap<String, String>,
}

impl Names {
    fn get<'a>(
        map: &'a HashMap<String, String>,
        kind: &'static str,
        name: &str,
    ) -> Result<&'a String, FixtureError> {
        map.get(name).ok_or_else(|| unknown(kind, name))
    }
}

/// Applies a fixture to the model. Effects (jobs and notifications) are left in the cloud
/// for the caller to settle.
pub fn apply(c: &mut Cloud, fx: &Fixture) -> Result<FixtureStats, FixtureError> {
    c.quiet = true;
    let result = apply_quietly(c, fx);
    c.quiet = false;
    result
}

fn apply_quietly(c: &mut Cloud, fx: &Fixture) -> Result<FixtureStats, FixtureError> {
    let mut n = Names::default();
    for (id, p) in &c.identity.projects {
        n.projects.insert(p.name.clone(), id.clone());
    }
    for (id, u) in &c.identity.users {
        n.users.insert(u.name.clone(), id.clone());
    }
    for h in &fx.hypervisors {
        c.compute.add_hypervisor(
            &h.hostname,
            &h.availability_zone,
            h.vcpus,
            h.memory_mb,
            h.local_gb,
        );
    }
    for f in &fx.flavors {
        let flavor = Flavor {
            id: f.id.clone().unwrap_or_else(crate::model::new_uuid),
            name: f.name.clone(),
            ram: f.ram,
            vcpus: f.vcpus,
            disk: f.disk,
            ephemeral: f.ephemeral,
            swap: 0,
            rxtx_factor: 1.0,
            is_public: f.is_public,
            description: None,
            extra_specs: BTreeMap::new(),
        };
        c.compute
            .create_flavor(flavor)
            .map_err(rejected("flavor", &f.name))?;
    }
    for p in &fx.projects {
        let id = c.ensure_project(&p.name, DEFAULT_DOMAIN);
        if let Some(proj) = c.identity.projects.get_mut(&id) {
            proj.description = p.description.clone();
        }
        if p.admin_member {
            let admin = Names::get(&n.users, "user", "admin")?.clone();
            let role = c.ensure_role("admin");
            c.grant_role(Scope::Project(id.clone()), &admin, &role)
                .map_err(rejected("project", &p.name))?;
        }
        n.projects.insert(p.name.clone(), id);
    }
    for (project, limits) in &fx.quotas {
        let pid = Names::get(&n.projects, "project", project)?.clone();
        for (r, l) in limits {
            c.quotas.set(&pid, r, *l);
        }
    }
    for u in &fx.users {
        let project = u
            .project
            .as_ref()
            .map(|p| Names::get(&n.projects, "project", p).cloned())
            .transpose()?;
        let uid = c.ensure_user(&u.name, DEFAULT_DOMAIN, &u.password, project.as_deref());
        if let Some(p) = &project {
            for r in &u.roles {
                let rid = c.ensure_role(r);
                c.grant_role(Scope::Project(p.clone()), &uid, &rid)
                    .map_err(rejected("user", &u.name))?;
            }
        }
        n.users.insert(u.name.clone(), uid);
    }
    for t in &fx.volume_types {
        let mut specs = BTreeMap::new();
        if let Some(b) = &t.backend {
            specs.insert("volume_backend_name".to_owned(), b.clone());
        }
        c.create_volume_type(&t.name, None, Some(true), specs)
            .map_err(rejected("volume type", &t.name))?;
    }
    for net in &fx.networks {
        let pid = Names::get(&n.projects, "project", &net.project)?.clone();
        let created = c
            .create_network(
                &pid,
                NetworkSpec {
                    name: Some(net.name.clone()),
                    external: Some(net.external),
                    shared: Some(net.shared),
                    network_type: net.external.then(|| "flat".to_owned()),
                    physical_network: net.external.then(|| "public".to_owned()),
                    ..Default::default()
                },
            )
            .map_err(rejected("network", &net.name))?;
        for s in &net.subnets {
            let sub = c
                .create_subnet(
                    &pid,
                    SubnetSpec {
                        name: Some(s.name.clone()),
                        network_id: created.id.clone(),
                        cidr: s.cidr.clone(),
                        ip_version: 4,
                        gateway_ip: s.gateway_ip.clone().map(Some),
                        enable_dhcp: Some(s.enable_dhcp),
                        ..Default::default()
                    },
                )
                .map_err(rejected("subnet", &s.name))?;
            n.subnets.insert(s.name.clone(), sub.id);
        }
        n.networks.insert(net.name.clone(), created.id);
    }
    for r in &fx.routers {
        let pid = Names::get(&n.projects, "project", &r.project)?.clone();
        let gw = r
            .external_network
            .as_ref()
            .map(|e| Names::get(&n.networks, "network", e).map(|id| (id.clone(), None)))
            .transpose()?;
        let router = c
            .create_router(&pid, Some(r.name.clone()), None, None, gw)
            .map_err(rejected("router", &r.name))?;
        for s in &r.subnets {
            let sid = Names::get(&n.subnets, "subnet", s)?.clone();
            c.add_router_interface(&router.id, Some(&sid), None)
                .map_err(rejected("router", &r.name))?;
        }
    }
    for g in &fx.security_groups {
        let pid = Names::get(&n.projects, "project", &g.project)?.clone();
        let sg = c
            .create_security_group(&pid, &g.name, None, None)
            .map_err(rejected("security group", &g.name))?;
        for r in &g.rules {
            c.create_security_group_rule(
                &pid,
                RuleSpec {
                    security_group_id: sg.id.clone(),
                    direction: r.direction.clone(),
                    protocol: r.protocol.clone(),
                    port_range_min: r.port_min,
                    port_range_max: r.port_max,
                    remote_ip_prefix: r.remote_ip_prefix.clone(),
                    ..Default::default()
                },
            )
            .map_err(rejected("security group rule", &g.name))?;
        }
    }
    for k in &fx.keypairs {
        let uid = Names::get(&n.users, "user", &k.user)?.clone();
        let fingerprint = crate::http::nova::keypair::fingerprint(&k.public_key)
            .map_err(rejected("keypair", &k.name))?;
        c.compute
            .create_keypair(Keypair {
                name: k.name.clone(),
                user_id: uid,
                public_key: k.public_key.clone(),
                fingerprint,
                key_type: "ssh".into(),
                created_at: crate::time::now(),
            })
            .map_err(rejected("keypair", &k.name))?;
    }
    let admin_user = Names::get(&n.users, "user", "admin")?.clone();
    for v in &fx.volumes {
        let pid = Names::get(&n.projects, "project", &v.project)?.clone();
        let vol = c
            .create_volume(
                &pid,
                &admin_user,
                VolumeSpec {
                    size_gb: Some(v.size_gb),
                    name: Some(v.name.clone()),
                    volume_type: v.volume_type.clone(),
                    metadata: v.metadata.clone(),
                    bootable: v.bootable,
                    content: v.content.as_ref().map(|s| s.as_bytes().to_vec()),
                    ..Default::default()
                },
            )
            .map_err(rejected("volume", &v.name))?;
        if vol.status == "error" {
            return Err(FixtureError::Rejected {
                what: "volume",
                name: v.name.clone(),
                source: CloudError::bad("no pool has room for it"),
            });
        }
        n.volumes.insert(v.name.clone(), vol.id);
    }
    // Volumes must be available before servers can use them.
    settle(c)?;
    for s in &fx.servers {
        let pid = Names::get(&n.projects, "project", &s.project)?.clone();
        let uid = Names::get(&n.users, "user", &s.user)?.clone();
        let flavor = c
            .compute
            .find_flavor(&s.flavor)
            .map(|f| f.id.clone())
            .ok_or_else(|| unknown("flavor", &s.flavor))?;
        let mut bdms = vec![BlockDevice {
            boot_index: Some(0),
            uuid: Some(Names::get(&n.volumes, "volume", &s.boot_volume)?.clone()),
            source_type: "volume".into(),
            destination_type: "volume".into(),
            ..Default::default()
        }];
        for v in &s.volumes {
            bdms.push(BlockDevice {
                uuid: Some(Names::get(&n.volumes, "volume", v)?.clone()),
                source_type: "volume".into(),
                destination_type: "volume".into(),
                ..Default::default()
            });
        }
        let networks = s
            .networks
            .iter()
            .map(|net| {
                Ok(NetworkRequest {
                    network_id: Some(Names::get(&n.networks, "network", net)?.clone()),
                    ..Default::default()
                })
            })
            .collect::<Result<Vec<_>, FixtureError>>()?;
        c.create_server(
            &pid,
            &uid,
            ServerSpec {
                name: s.name.clone(),
                flavor_ref: flavor,
                networks: Some(networks),
                key_name: s.key_name.clone(),
                availability_zone: s.availability_zone.clone(),
                block_devices: bdms,
                metadata: s.metadata.clone(),
                ..Default::default()
            },
        )
        .map_err(rejected("server", &s.name))?;
    }
    settle(c)?;
    Ok(FixtureStats {
        projects: fx.projects.len(),
        networks: fx.networks.len(),
        volumes: fx.volumes.len(),
        servers: fx.servers.len(),
    })
}

/// Runs every pending job at once (files synchronously) and drops notifications.
fn settle(c: &mut Cloud) -> Result<(), FixtureError> {
    loop {
        let jobs: Vec<_> = c
            .take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Job(j) => Some(j),
                Effect::Notify(_) => None,
            })
            .collect();
        if jobs.is_empty() {
            return Ok(());
        }
        for j in jobs {
            crate::engine::file_work(&j).map_err(|e| FixtureError::Storage(e.to_string()))?;
            c.finish(&j, Ok(()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend;

    const TOML: &str = r#"
[[hypervisors]]
hostname = "hv-a"
availability_zone = "az1"
vcpus = 16
memory_mb = 32768
local_gb = 500

[[flavors]]
name = "m1.small"
vcpus = 1
ram = 1024
disk = 1

[[projects]]
name = "demo"

[[users]]
name = "alice"
password = "pw"
project = "demo"
roles = ["member"]

[[volume_types]]
name = "fast"
backend = "file"

[[networks]]
name = "public"
external = true
subnets = [{ name = "public-sub", cidr = "203.0.113.0/24" }]

[[networks]]
name = "demo-net"
project = "demo"
subnets = [{ name = "demo-sub", cidr = "10.0.0.0/24" }]

[[routers]]
name = "demo-router"
project = "demo"
external_network = "public"
subnets = ["demo-sub"]

[[security_groups]]
name = "ssh"
project = "demo"
rules = [{ protocol = "tcp", port_min = 22, port_max = 22, remote_ip_prefix = "0.0.0.0/0" }]

[[keypairs]]
name = "k"
user = "alice"
public_key = "ssh-ed25519 YWJj alice"

[[volumes]]
name = "boot"
project = "demo"
size_gb = 1
volume_type = "fast"
bootable = true
content = "hello from the fixture"

[[volumes]]
name = "data"
project = "demo"
size_gb = 2

[[servers]]
name = "web"
project = "demo"
user = "alice"
flavor = "m1.small"
networks = ["demo-net"]
boot_volume = "boot"
volumes = ["data"]
key_name = "k"
"#;

    #[test]
    fn toml_fixture_builds_a_consistent_cloud_with_real_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, TOML).unwrap();
        let fx = Fixture::from_file(&path).unwrap();
        let mut c = Cloud::new("R", dir.path().join("storage"), "pw", &[Backend::default()]);
        let stats = apply(&mut c, &fx).unwrap();
        assert_eq!(stats.servers, 1);
        assert!(
            c.take_effects().is_empty(),
            "everything settled, nothing to notify"
        );
        let server = c.compute.servers.values().next().unwrap();
        assert_eq!(server.status, "ACTIVE");
        assert_eq!(server.availability_zone, "az1");
        assert_eq!(server.volumes.len(), 2);
        let boot = c.block.volumes.values().find(|v| v.name == "boot").unwrap();
        assert_eq!(boot.status, "in-use");
        let file = c.volume_path(boot);
        let mut head = [0u8; 22];
        std::io::Read::read_exact(&mut std::fs::File::open(&file).unwrap(), &mut head).unwrap();
        assert_eq!(&head, b"hello from the fixture");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), crate::storage::GIB);
        let port = c
            .net
            .ports
            .values()
            .find(|p| p.device_id == server.id)
            .unwrap();
        assert!(port.fixed_ips[0].1.to_string().starts_with("10.0.0."));
        assert_eq!(
            c.net
                .routers
                .values()
                .next()
                .unwrap()
                .gateway
                .as_ref()
                .map(|g| g.network_id.clone()),
            Some(
                c.net
                    .networks
                    .values()
                    .find(|n| n.external)
                    .unwrap()
                    .id
                    .clone()
            )
        );
        assert_eq!(
            c.compute.hypervisors.values().next().unwrap().running_vms,
            1
        );
    }

    #[test]
    fn unknown_references_are_reported() {
        let fx: Fixture = serde_json::from_str(
            r#"{"volumes": [{"name": "v", "project": "nope", "size_gb": 1}]}"#,
        )
        .unwrap();
        let mut c = Cloud::new("R", "/nonexistent".into(), "pw", &[Backend::default()]);
        let err = apply(&mut c, &fx).unwrap_err();
        assert!(
            err.to_string().contains("unknown project \"nope\""),
            "{err}"
        );
        assert!(serde_json::from_str::<Fixture>(r#"{"servers": [{"bogus": 1}]}"#).is_err());
    }
}
