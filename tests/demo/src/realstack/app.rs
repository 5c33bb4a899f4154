//! The application the drill protects, made on the real SOURCE cloud in a project of
//! its own: a network with a subnet and a router to the external network, a security
//! group, a keypair, two instances booted from `ceph` volumes (`bootable`), a data
//! volume attached to one of them and a floating IP on the other. Known bytes go into
//! every volume's RBD image on cluster `a`. Everything made is recorded as it is made
//! and removed by [`Made::clean_up`], also after a failure.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use holdfast_agent::rbd::{Cluster, Image};
use holdfast_openstack::cinder::VolumeCreate;
use holdfast_openstack::keystone::ProjectCreate;
use holdfast_openstack::neutron::{
    ExternalGateway, FloatingIpCreate, NetworkCreate, RouterCreate, SecurityGroupCreate,
    SecurityGroupRuleCreate, SubnetCreate,
};
use holdfast_openstack::nova::{
    BlockDeviceMapping, KeypairCreate, NamedRef, NetworkRequest, Networks, ServerCreate,
};
use holdfast_openstack::{Filters, Session};

use super::clouds::{BACKEND, RealCloud};
use super::image_bytes::{self, Content};
use crate::story::{Narrator, wait_for};

/// Volumes are 1 GiB, the smallest Cinder makes.
pub(crate) const VOLUME_BYTES: u64 = 1 << 30;
/// A public key for the keypair (Holdfast copies keys; nobody logs in).
const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBiOjI7EmcXdxVSVAE5KyZW8cPYLEJgUUuHgXL0b9pAS holdfast-drill";

/// Something made on the source, in the order made.
#[derive(Debug, Clone)]
enum Thing {
    Project(String),
    Network(String),
    Subnet(String),
    Router(String),
    RouterInterface { router: String, subnet: String },
    SecurityGroup(String),
    Keypair(String),
    Volume(String),
    Server(String),
    FloatingIp(String),
}

/// What was made on the source, for the clean-up.
#[derive(Debug, Default)]
pub(crate) struct Made(Vec<Thing>);

/// One volume of the application and what its image holds.
#[derive(Debug, Clone)]
pub(crate) struct AppVolume {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) content: Content,
}

/// The application on the source.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) project_name: String,
    /// Its network (mapped to a copy on the target).
    pub(crate) network: String,
    /// Instances by name: id and start order.
    pub(crate) servers: BTreeMap<String, (String, u32)>,
    pub(crate) volumes: Vec<AppVolume>,
    /// The floating IP address of the front instance.
    pub(crate) floating_ip: String,
}

impl App {
    /// The volume's image on the source's Ceph cluster.
    pub(crate) fn image(ceph: &Cluster, v: &AppVolume) -> Image {
        Image::new(ceph.clone(), format!("volume-{}", v.id))
    }
}

fn ok_status<'a>(what: &str, status: &'a str) -> anyhow::Result<&'a str> {
    if status.starts_with("error") || status == "ERROR" {
        bail!("{what} went {status}");
    }
    Ok(status)
}

async fn volume_status(s: &Session, id: &str, want: &str) -> anyhow::Result<()> {
    wait_for(
        "a source volume's status",
        Duration::from_secs(180),
        || async {
            let v = s.cinder().volume(id).await?;
            Ok((ok_status(&format!("volume {id}"), &v.status)? == want).then_some(()))
        },
    )
    .await
    .with_context(|| format!("volume {id} becoming {want}"))
}

async fn server_active(s: &Session, id: &str) -> anyhow::Result<()> {
    wait_for(
        "a source instance becoming ACTIVE",
        Duration::from_secs(300),
        || async {
            let v = s.nova().server(id).await?;
            if v.status == "ERROR" {
                bail!("instance {id} went ERROR: {:?}", v.extra.get("fault"));
            }
            Ok((v.status == "ACTIVE").then_some(()))
        },
    )
    .await
}

impl Made {
    fn add(&mut self, t: Thing) {
        self.0.push(t);
    }

    /// Makes the application on `cloud` (project `hf-drill-<run>`).
    pub(crate) async fn app(
        &mut self,
        cloud: &RealCloud,
        admin: &Session,
        run: &str,
        n: &Narrator,
    ) -> anyhow::Result<App> {
        let project_name = format!("hf-drill-{run}");
        let ks = admin.keystone();
        let project = ks
            .create_project(&ProjectCreate {
                name: project_name.clone(),
                description: Some(
                    "holdfast-demo --realstack: the application a drill protects".into(),
                ),
                enabled: true,
                ..ProjectCreate::default()
            })
            .await?;
        self.add(Thing::Project(project.id.clone()));
        let user = admin.token().await?.user.id.clone();
        let role = ks
            .role_by_name("admin")
            .await?
            .context("the source has no admin role")?;
        ks.grant_project_role(&project.id, &user, &role.id).await?;
        let s = cloud.session(&project_name).await?;
        let (nova, cinder, neutron) = (s.nova(), s.cinder(), s.neutron());

        let net = neutron
            .create_network(&NetworkCreate {
                name: format!("hf-drill-net-{run}"),
                admin_state_up: true,
                ..NetworkCreate::default()
            })
            .await?;
        self.add(Thing::Network(net.id.clone()));
        let subnet = neutron
            .create_subnet(&SubnetCreate {
                network_id: net.id.clone(),
                name: format!("hf-drill-subnet-{run}"),
                cidr: "10.77.0.0/24".into(),
                ip_version: 4,
                enable_dhcp: false,
                ..SubnetCreate::default()
            })
            .await?;
        self.add(Thing::Subnet(subnet.id.clone()));
        let public = neutron
            .networks(&Filters::none().eq("name", "public"))
            .await?
            .into_iter()
            .next()
            .context("the source has no external network `public`")?;
        let router = neutron
            .create_router(&RouterCreate {
                name: format!("hf-drill-router-{run}"),
                admin_state_up: true,
                external_gateway_info: Some(ExternalGateway {
                    network_id: public.id.clone(),
                    ..ExternalGateway::default()
                }),
                ..RouterCreate::default()
            })
            .await?;
        self.add(Thing::Router(router.id.clone()));
        neutron.add_router_interface(&router.id, &subnet.id).await?;
        self.add(Thing::RouterInterface {
            router: router.id.clone(),
            subnet: subnet.id.clone(),
        });
        let sg_name = format!("hf-drill-web-{run}");
        let sg = neutron
            .create_security_group(&SecurityGroupCreate {
                name: sg_name.clone(),
                description: Some("web".into()),
                project_id: None,
            })
            .await?;
        self.add(Thing::SecurityGroup(sg.id.clone()));
        neutron
            .create_security_group_rule(&SecurityGroupRuleCreate {
                security_group_id: sg.id.clone(),
                direction: "ingress".into(),
                ethertype: "IPv4".into(),
                protocol: Some("tcp".into()),
                port_range_min: Some(80),
                port_range_max: Some(80),
                ..SecurityGroupRuleCreate::default()
            })
            .await?;
        let key = format!("hf-drill-key-{run}");
        nova.create_keypair(&KeypairCreate {
            name: key.clone(),
            public_key: PUBLIC_KEY.into(),
            key_type: None,
            user_id: None,
        })
        .await?;
        self.add(Thing::Keypair(key.clone()));
        n.say(format!(
            "source: project {project_name} with network, subnet 10.77.0.0/24, router to public, security group, keypair"
        ));

        let ceph = cloud.ceph();
        let mut volumes = Vec::new();
        for name in ["web-boot", "db-boot", "db-data"] {
            let v = cinder
                .create_volume(&VolumeCreate {
                    size: VOLUME_BYTES >> 30,
                    name: Some(format!("hf-drill-{name}-{run}")),
                    volume_type: Some(BACKEND.into()),
                    ..VolumeCreate::default()
                })
                .await?;
            self.add(Thing::Volume(v.id.clone()));
            volumes.push(AppVolume {
                name: v.name.clone().unwrap_or_default(),
                id: v.id,
                content: Content::zeros(VOLUME_BYTES),
            });
        }
        for v in &mut volumes {
            volume_status(&s, &v.id, "available").await?;
            if !v.name.contains("-data-") {
                cinder.set_bootable(&v.id, true).await?;
            }
            // a disk label at the start, data in the middle and at the very end
            let image = App::image(&ceph, v);
            for (offset, len) in [
                (0, 4 << 20),
                (300 << 20, 1 << 20),
                (VOLUME_BYTES - (64 << 10), 64 << 10),
            ] {
                let data = image_bytes::random(len);
                image_bytes::write(&image, offset, &data).await?;
                v.content.record(offset, data);
            }
        }
        n.say(format!(
            "source: {} volumes of type {BACKEND}, known bytes written into their RBD images on Ceph a",
            volumes.len()
        ));

        let flavor = nova
            .flavors(&Filters::none())
            .await?
            .into_iter()
            .find(|f| f.name == "m1.tiny")
            .context("the source has no flavor m1.tiny")?;
        let mut servers = BTreeMap::new();
        for (name, boot, order) in [("db", 1, 0), ("web", 0, 1)] {
            let server_name = format!("hf-drill-{name}-{run}");
            let created = nova
                .create_server(&ServerCreate {
                    name: server_name.clone(),
                    flavor_ref: flavor.id.clone(),
                    image_ref: None,
                    block_device_mapping_v2: vec![BlockDeviceMapping::existing_volume(
                        &volumes[boot].id,
                        true,
                    )],
                    networks: Networks::List(vec![NetworkRequest {
                        uuid: Some(net.id.clone()),
                        ..NetworkRequest::default()
                    }]),
                    key_name: Some(key.clone()),
                    availability_zone: None,
                    security_groups: vec![NamedRef {
                        name: sg_name.clone(),
                    }],
                    metadata: BTreeMap::new(),
                })
                .await?;
            self.add(Thing::Server(created.id.clone()));
            servers.insert(server_name, (created.id, order));
        }
        for (name, (id, _)) in &servers {
            server_active(&s, id)
                .await
                .with_context(|| format!("booting {name} from its volume"))?;
        }
        let db = servers
            .iter()
            .find(|(name, _)| name.contains("-db-"))
            .map(|(_, (id, _))| id.clone())
            .context("no db instance")?;
        nova.attach_volume(&db, &volumes[2].id).await?;
        volume_status(&s, &volumes[2].id, "in-use").await?;
        let web = servers
            .iter()
            .find(|(name, _)| name.contains("-web-"))
            .map(|(_, (id, _))| id.clone())
            .context("no web instance")?;
        let port = neutron
            .ports(&Filters::none().eq("device_id", &web))
            .await?
            .into_iter()
            .next()
            .context("the web instance has no port")?;
        let fip = neutron
            .create_floating_ip(&FloatingIpCreate {
                floating_network_id: public.id.clone(),
                port_id: Some(port.id),
                ..FloatingIpCreate::default()
            })
            .await?;
        self.add(Thing::FloatingIp(fip.id.clone()));
        n.say(format!(
            "source: instances db and web ACTIVE, booted from their volumes; db-data attached to db; floating IP {} on web",
            fip.floating_ip_address
        ));
        Ok(App {
            project_name,
            network: net.id,
            servers,
            volumes,
            floating_ip: fip.floating_ip_address,
        })
    }

    /// The ids of the volumes made.
    pub(crate) fn volumes(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|t| match t {
                Thing::Volume(id) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// Removes everything made, newest first; a step that fails is reported and the
    /// others still run. Snapshots `holdfast-*` still on a volume's image (replication
    /// not stopped) are removed first so that Cinder can delete the volume; each one
    /// found is reported.
    pub(crate) async fn clean_up(&mut self, admin: &Session, ceph: &Cluster) -> Vec<String> {
        let mut problems = Vec::new();
        let things: Vec<Thing> = self.0.drain(..).rev().collect();
        let servers: Vec<&String> = things
            .iter()
            .filter_map(|t| match t {
                Thing::Server(id) => Some(id),
                _ => None,
            })
            .collect();
        // servers first, all at once, then wait: their volumes become available
        for id in &servers {
            if let Err(e) = admin.nova().delete_server(id).await
                && !e.is_not_found()
            {
                problems.push(format!("deleting server {id}: {e}"));
            }
        }
        for id in &servers {
            let gone = wait_for(
                "a source server's deletion",
                Duration::from_secs(180),
                || async {
                    match admin.nova().server(id).await {
                        Err(e) if e.is_not_found() => Ok(Some(())),
                        Ok(s) if s.status == "DELETED" => Ok(Some(())),
                        Ok(_) => Ok(None),
                        Err(e) => Err(e.into()),
                    }
                },
            )
            .await;
            if let Err(e) = gone {
                problems.push(format!("server {id}: {e:#}"));
            }
        }
        for t in &things {
            let r: anyhow::Result<()> = match t {
                Thing::Server(_) => Ok(()),
                Thing::FloatingIp(id) => admin
                    .neutron()
                    .delete_floating_ip(id)
                    .await
                    .map_err(Into::into),
                Thing::Volume(id) => delete_volume(admin, ceph, id, &mut problems).await,
                Thing::Keypair(name) => admin.nova().delete_keypair(name).await.map_err(Into::into),
                Thing::SecurityGroup(id) => admin
                    .neutron()
                    .delete_security_group(id)
                    .await
                    .map_err(Into::into),
                Thing::RouterInterface { router, subnet } => admin
                    .neutron()
                    .remove_router_interface(router, subnet)
                    .await
                    .map(drop)
                    .map_err(Into::into),
                Thing::Router(id) => admin.neutron().delete_router(id).await.map_err(Into::into),
                Thing::Subnet(id) => admin.neutron().delete_subnet(id).await.map_err(Into::into),
                Thing::Network(id) => admin.neutron().delete_network(id).await.map_err(Into::into),
                Thing::Project(id) => delete_project(admin, id).await,
            };
            if let Err(e) = r {
                let not_found = e
                    .downcast_ref::<holdfast_openstack::Error>()
                    .is_some_and(holdfast_openstack::Error::is_not_found);
                if !not_found {
                    problems.push(format!("removing {t:?}: {e:#}"));
                }
            }
        }
        problems
    }
}

async fn delete_volume(
    admin: &Session,
    ceph: &Cluster,
    id: &str,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    volume_status(admin, id, "available").await?;
    let image = Image::new(ceph.clone(), format!("volume-{id}"));
    match image.snapshots().await {
        Ok(snaps) => {
            for s in snaps.iter().filter(|s| s.name.starts_with("holdfast-")) {
                problems.push(format!(
                    "snapshot {}@{} was left on the source after replication stopped",
                    image.spec(),
                    s.name
                ));
                image.snap_remove(&s.name).await?;
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    admin.cinder().delete_volume(id).await?;
    wait_for(
        "a source volume's deletion",
        Duration::from_secs(180),
        || async {
            match admin.cinder().volume(id).await {
                Err(e) if e.is_not_found() => Ok(Some(())),
                Ok(v) => {
                    Ok((ok_status(&format!("volume {id}"), &v.status)? == "deleted").then_some(()))
                }
                Err(e) => Err(e.into()),
            }
        },
    )
    .await
}

/// Deletes the project and the security groups Neutron made in it (`default`).
async fn delete_project(admin: &Session, id: &str) -> anyhow::Result<()> {
    let neutron = admin.neutron();
    for sg in neutron
        .security_groups(&Filters::none().eq("project_id", id))
        .await?
    {
        neutron.delete_security_group(&sg.id).await?;
    }
    admin.keystone().delete_project(id).await?;
    Ok(())
}
