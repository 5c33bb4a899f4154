//! Servers: list, show, create, delete, start, stop.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use super::Nova;
use crate::catalog::ServiceType;
use crate::session::{Call, Paging, enc};
use crate::{Filters, Result};

/// A server as `GET /servers/detail` shows it (microversion ≥ 2.53).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Server {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `ACTIVE`, `BUILD`, `SHUTOFF`, `ERROR`, ...
    pub status: String,
    /// Project.
    #[serde(default)]
    pub tenant_id: String,
    /// Owner.
    #[serde(default)]
    pub user_id: String,
    /// The flavor, as embedded since 2.47.
    #[serde(default)]
    pub flavor: ServerFlavor,
    /// Keypair name.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Addresses per network name.
    #[serde(default)]
    pub addresses: BTreeMap<String, Vec<Address>>,
    /// Compute host.
    #[serde(default, rename = "OS-EXT-SRV-ATTR:host")]
    pub host: Option<String>,
    /// Hypervisor hostname.
    #[serde(default, rename = "OS-EXT-SRV-ATTR:hypervisor_hostname")]
    pub hypervisor_hostname: Option<String>,
    /// Availability zone.
    #[serde(default, rename = "OS-EXT-AZ:availability_zone")]
    pub availability_zone: Option<String>,
    /// Attached volumes.
    #[serde(default, rename = "os-extended-volumes:volumes_attached")]
    pub volumes_attached: Vec<AttachedVolume>,
    /// Security groups (by name).
    #[serde(default)]
    pub security_groups: Vec<NamedRef>,
    /// `active`, `stopped`, `building`, ...
    #[serde(default, rename = "OS-EXT-STS:vm_state")]
    pub vm_state: Option<String>,
    /// Task in progress.
    #[serde(default, rename = "OS-EXT-STS:task_state")]
    pub task_state: Option<String>,
    /// Power state (1 running, 4 shutdown).
    #[serde(default, rename = "OS-EXT-STS:power_state")]
    pub power_state: Option<i64>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// Last update.
    #[serde(default)]
    pub updated: Option<String>,
    /// Tags (2.26+).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Everything else Nova sent (`fault`, `image`, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A server's flavor (2.47+: a copy, not a reference).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ServerFlavor {
    /// Flavor name at boot time.
    #[serde(default)]
    pub original_name: Option<String>,
    /// vCPUs.
    #[serde(default)]
    pub vcpus: u32,
    /// RAM in MiB.
    #[serde(default)]
    pub ram: u64,
    /// Root disk in GiB.
    #[serde(default)]
    pub disk: u64,
    /// Ephemeral disk in GiB.
    #[serde(default)]
    pub ephemeral: u64,
    /// Extra specs.
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
    /// Flavor id (microversions before 2.47 only).
    #[serde(default)]
    pub id: Option<String>,
}

/// An address of a server.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Address {
    /// IP address.
    pub addr: String,
    /// 4 or 6.
    #[serde(default)]
    pub version: u8,
    /// `fixed` or `floating`.
    #[serde(default, rename = "OS-EXT-IPS:type")]
    pub kind: Option<String>,
    /// MAC of the port.
    #[serde(default, rename = "OS-EXT-IPS-MAC:mac_addr")]
    pub mac_addr: Option<String>,
}

/// A volume attached to a server.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct AttachedVolume {
    /// Volume id.
    pub id: String,
    /// Deleted with the server (2.3+).
    #[serde(default)]
    pub delete_on_termination: bool,
}

/// A `{"name": ...}` reference.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct NamedRef {
    /// Name.
    pub name: String,
}

/// A block device of a new server (`block_device_mapping_v2`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockDeviceMapping {
    /// 0 for the boot disk, `None` for the other disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_index: Option<i32>,
    /// Id of the volume/snapshot/image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// `volume`, `snapshot`, `image` or `blank`.
    pub source_type: String,
    /// `volume` or `local`.
    pub destination_type: String,
    /// Delete the volume with the server.
    pub delete_on_termination: bool,
    /// Size in GiB (for `blank`/`image`/`snapshot` sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<u64>,
    /// Volume type (microversion 2.67+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Device name hint (`/dev/vdb`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

impl BlockDeviceMapping {
    /// Attach the existing volume `volume_id`; `boot` makes it the boot disk.
    pub fn existing_volume(volume_id: impl Into<String>, boot: bool) -> Self {
        Self {
            boot_index: boot.then_some(0),
            uuid: Some(volume_id.into()),
            source_type: "volume".into(),
            destination_type: "volume".into(),
            delete_on_termination: false,
            volume_size: None,
            volume_type: None,
            device_name: None,
        }
    }
}

/// One requested network of a new server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct NetworkRequest {
    /// A network (Nova creates the port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// An existing port (Holdfast's recovery creates ports itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// A fixed IP on `uuid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
}

/// The networks of a new server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Networks {
    /// No network at all (`"none"`; e.g. instances recovered from another point).
    None,
    /// Nova picks (`"auto"`).
    Auto,
    /// These networks/ports.
    List(Vec<NetworkRequest>),
}

impl Serialize for Networks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::None => s.serialize_str("none"),
            Self::Auto => s.serialize_str("auto"),
            Self::List(l) => l.serialize(s),
        }
    }
}

/// A server to create.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerCreate {
    /// Name (Holdfast puts the job id in name or metadata to find it again).
    pub name: String,
    /// Flavor id.
    #[serde(rename = "flavorRef")]
    pub flavor_ref: String,
    /// Image (empty for boot from volume).
    #[serde(rename = "imageRef", skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    /// Disks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mapping_v2: Vec<BlockDeviceMapping>,
    /// Networks.
    pub networks: Networks,
    /// Keypair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// `zone` or `zone:host` (admin) or `zone::node`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Security groups by name (applies to ports Nova creates).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<NamedRef>,
    /// Metadata.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// What Nova answers to a create (202): the id; the server builds asynchronously.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServerCreated {
    /// Id.
    pub id: String,
    /// Everything else (`links`, `adminPass`, ...; not logged).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct One<T> {
    server: T,
}

impl Nova<'_> {
    /// Servers with details, every page (`GET /servers/detail`). Use
    /// [`Filters::all_tenants`] for every project.
    #[tracing::instrument(skip_all)]
    pub async fn servers(&self, filters: &Filters) -> Result<Vec<Server>> {
        self.session
            .list(
                ServiceType::Compute,
                "servers/detail",
                "servers",
                filters,
                Paging::Marker,
            )
            .await
    }

    /// One server.
    #[tracing::instrument(skip_all, fields(server_id = id))]
    pub async fn server(&self, id: &str) -> Result<Server> {
        let one: One<Server> = self
            .session
            .get(Call::new(
                ServiceType::Compute,
                format!("servers/{}", enc(id)),
            ))
            .await?;
        Ok(one.server)
    }

    /// Creates a server (202; it builds asynchronously: poll [`Nova::server`]). Never
    /// retried: after an error, look for the server by name/metadata first.
    #[tracing::instrument(skip_all, fields(name = %server.name))]
    pub async fn create_server(&self, server: &ServerCreate) -> Result<ServerCreated> {
        let one: One<ServerCreated> = self
            .session
            .post(
                Call::new(ServiceType::Compute, "servers"),
                &json!({ "server": server }),
            )
            .await?;
        Ok(one.server)
    }

    /// Deletes a server (204; asynchronous).
    #[tracing::instrument(skip_all, fields(server_id = id))]
    pub async fn delete_server(&self, id: &str) -> Result<()> {
        self.session
            .delete(Call::new(
                ServiceType::Compute,
                format!("servers/{}", enc(id)),
            ))
            .await
    }

    /// Starts a stopped server (`os-start`, 202).
    #[tracing::instrument(skip_all, fields(server_id = id))]
    pub async fn start_server(&self, id: &str) -> Result<()> {
        self.action(id, json!({"os-start": null})).await
    }

    /// Stops a server (`os-stop`, 202).
    #[tracing::instrument(skip_all, fields(server_id = id))]
    pub async fn stop_server(&self, id: &str) -> Result<()> {
        self.action(id, json!({"os-stop": null})).await
    }

    async fn action(&self, id: &str, body: Value) -> Result<()> {
        let call = Call::new(ServiceType::Compute, format!("servers/{}/action", enc(id)))
            .method(Method::POST);
        self.session.post_no_content(call, &body).await
    }
}
