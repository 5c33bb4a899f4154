//! Two in-process test clouds (source seeded with a small realistic project, target
//! empty but for its external network and flavors), the plan built from the source's
//! listing, the file materialiser, a database (SQLite or PostgreSQL), and the full
//! resource listing of the target.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use holdfast_openstack::cinder::SnapshotCreate;
use holdfast_openstack::neutron::FloatingIpCreate;
use holdfast_openstack::{Credentials, Filters, Options, Password, Session};
use holdfast_orchestrator::db::Db;
use holdfast_orchestrator::dr::ids::*;
use holdfast_orchestrator::dr::job::{JobType, RecoveryPoint};
use holdfast_orchestrator::dr::target_details::*;
use holdfast_orchestrator::dr::topology::*;
use holdfast_orchestrator::recovery::{Executor, ExecutorOptions, JobSpec, NewJob, TargetCloud};
use holdfast_testcloud::config::Timing;
use holdfast_testcloud::fixture::Fixture;
use holdfast_testcloud::fixture::shop::Shop;
use holdfast_testcloud::{Config, TestCloud};

use crate::materialiser::FileMaterialiser;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test; a PostgreSQL one is dropped afterwards.
pub(crate) struct TestDb {
    pub(crate) db: Db,
    _dir: tempfile::TempDir,
    pg: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("HOLDFAST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    pub(crate) async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/holdfast.db?mode=rwc", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                use sqlx::Connection;
                sqlx::any::install_default_drivers();
                let name = format!("hf_rec_{}", uuid::Uuid::new_v4().simple());
                let mut c = sqlx::AnyConnection::connect(&pg_admin_url())
                    .await
                    .expect("PostgreSQL on 127.0.0.1:5432 (HOLDFAST_TEST_POSTGRES_URL)");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
                let base = pg_admin_url();
                let (base, _) = base.rsplit_once('/').unwrap();
                (format!("{base}/{name}"), Some(name))
            }
        };
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        TestDb { db, _dir: dir, pg }
    }

    pub(crate) async fn close(self) {
        self.db.close().await;
        if let Some(name) = &self.pg {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::AnyConnection::connect(&pg_admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

pub(crate) fn timing() -> Timing {
    Timing {
        server_build_ms: 20,
        server_delete_ms: 5,
        server_power_ms: 5,
        volume_create_ms: 5,
        volume_delete_ms: 5,
        volume_attach_ms: 5,
        snapshot_ms: 5,
    }
}

fn write_fixture(dir: &Path, name: &str, fx: &Fixture) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(fx).unwrap()).unwrap();
    p
}

pub(crate) async fn admin_session(cloud: &TestCloud) -> Session {
    Session::connect(credentials(cloud), Options::default())
        .await
        .unwrap()
}

pub(crate) fn credentials(cloud: &TestCloud) -> Credentials {
    Credentials {
        auth_url: cloud.auth_url(),
        username: "admin".into(),
        password: Password::new(cloud.admin_password()),
        user_domain: "Default".into(),
        project: "admin".into(),
        project_domain: "Default".into(),
    }
}

/// Source and target clouds with the shop on the source.
pub(crate) struct Clouds {
    pub(crate) source: TestCloud,
    pub(crate) target: TestCloud,
    pub(crate) src: Session,
    pub(crate) dst: Session,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start_clouds(web: usize, app: usize, timing: Timing) -> Clouds {
    start_sized(web, app, false, timing).await
}

pub(crate) async fn start_sized(web: usize, app: usize, web_data: bool, timing: Timing) -> Clouds {
    let dir = tempfile::tempdir().unwrap();
    let shop = Shop { app, web, web_data };
    let sfx = write_fixture(dir.path(), "source.json", &shop.source());
    let tfx = write_fixture(dir.path(), "target.json", &Shop::target());
    let source = TestCloud::start(Config {
        fixture: Some(sfx),
        timing: timing.clone(),
        ..Config::default()
    })
    .await
    .unwrap();
    let target = TestCloud::start(Config {
        fixture: Some(tfx),
        timing,
        ..Config::default()
    })
    .await
    .unwrap();
    let src = admin_session(&source).await;
    let dst = admin_session(&target).await;
    // the web servers' ports get the web group and a floating IP; the others the db group
    let shop = project_id(&src, "shop").await;
    let public = src
        .neutron()
        .networks(&Filters::none().eq("name", "public"))
        .await
        .unwrap()[0]
        .id
        .clone();
    let groups: BTreeMap<String, String> = src
        .neutron()
        .security_groups(&Filters::none().eq("project_id", &shop))
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.id))
        .collect();
    for s in src
        .nova()
        .servers(&Filters::all_tenants().eq("project_id", &shop))
        .await
        .unwrap()
    {
        let web = s.name.starts_with("web");
        let group = if web { &groups["web"] } else { &groups["db"] };
        for p in src
            .neutron()
            .ports(&Filters::none().eq("device_id", &s.id))
            .await
            .unwrap()
        {
            src.neutron()
                .set_port_security_groups(&p.id, std::slice::from_ref(group))
                .await
                .unwrap();
            if web {
                src.neutron()
                    .create_floating_ip(&FloatingIpCreate {
                        floating_network_id: public.clone(),
                        port_id: Some(p.id.clone()),
                        project_id: Some(shop.clone()),
                        ..FloatingIpCreate::default()
                    })
                    .await
                    .unwrap();
            }
        }
    }
    Clouds {
        source,
        target,
        src,
        dst,
        _dir: dir,
    }
}

pub(crate) async fn project_id(s: &Session, name: &str) -> String {
    s.keystone()
        .projects(&Filters::none().eq("name", name))
        .await
        .unwrap()[0]
        .id
        .clone()
}

pub(crate) fn pool(cloud: &TestCloud) -> PathBuf {
    cloud.storage_dir().join("file").join("file")
}

/// Writes a known 64 KiB pattern at 300 MiB into every volume of the shop (beyond
/// the fixture's content at offset 0).
pub(crate) fn write_patterns(c: &Clouds, volumes: &[(String, String)]) {
    for (id, name) in volumes {
        let path = pool(&c.source).join(format!("volume-{id}"));
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(300 << 20)).unwrap();
        let pattern: Vec<u8> = (0..65536u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 ^ name.len() as u8)
            .collect();
        f.write_all(&pattern).unwrap();
    }
}

/// Overwrites the start of every source volume (data written after the snapshot).
pub(crate) fn scribble(c: &Clouds, volumes: &[(String, String)]) {
    for (id, _) in volumes {
        let path = pool(&c.source).join(format!("volume-{id}"));
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(b"WRITTEN AFTER THE SNAPSHOT").unwrap();
    }
}

/// Byte-for-byte comparison of two files.
pub(crate) fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return true;
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        if ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Snapshots every volume of the shop on the source (the group snapshot = the
/// recovery point), returning (snapshot id, volume id → Cinder snapshot id).
pub(crate) async fn snapshot_all(
    c: &Clouds,
    volumes: &[(String, String)],
) -> BTreeMap<VolumeId, String> {
    let mut out = BTreeMap::new();
    for (id, name) in volumes {
        let s = c
            .src
            .cinder()
            .create_snapshot(&SnapshotCreate {
                volume_id: id.clone(),
                name: Some(format!("{name}-snap")),
                description: None,
                force: true,
                metadata: BTreeMap::new(),
            })
            .await
            .unwrap();
        out.insert(VolumeId::new(id), s.id);
    }
    for sid in out.values() {
        for _ in 0..500 {
            if c.src.cinder().snapshot(sid).await.unwrap().status == "available" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    out
}

/// The plan, built from the source's listing the way plan sync does: topology with
/// the mapping (networks copied, floating IPs kept, boot groups db → app → web) and
/// the target details (flavor by name, fixed IPs, volumes, rules, keys, external net).
pub(crate) async fn plan_from_source(c: &Clouds) -> (JobSpec, Vec<(String, String)>) {
    let s = &c.src;
    let n = s.neutron();
    let shop = project_id(s, "shop").await;
    let servers = s
        .nova()
        .servers(&Filters::all_tenants().eq("project_id", &shop))
        .await
        .unwrap();
    let target_flavors: BTreeMap<String, String> = c
        .dst
        .nova()
        .flavors(&Filters::none())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.id))
        .collect();
    let source_flavors: BTreeMap<String, String> = s
        .nova()
        .flavors(&Filters::none())
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.id, f.name))
        .collect();
    let mut details = TargetDetails {
        external_network: Some(
            c.dst
                .neutron()
                .networks(&Filters::none().eq("name", "public"))
                .await
                .unwrap()[0]
                .id
                .clone(),
        ),
        ..TargetDetails::default()
    };
    let mut instances = vec![];
    let mut used_subnets = BTreeSet::new();
    let mut used_groups = BTreeSet::new();
    let mut keypairs = BTreeSet::new();
    let mut volumes = vec![];
    for srv in &servers {
        let mut ports = vec![];
        let mut fips = vec![];
        let mut groups = BTreeSet::new();
        for p in n
            .ports(&Filters::none().eq("device_id", &srv.id))
            .await
            .unwrap()
        {
            let f = &p.fixed_ips[0];
            used_subnets.insert(f.subnet_id.clone());
            groups.extend(p.security_groups.iter().cloned());
            details.ports.insert(
                PortId::new(&p.id),
                PortDetails {
                    fixed_ip: f.ip_address.clone(),
                },
            );
            for fip in n
                .floating_ips(&Filters::none().eq("port_id", &p.id))
                .await
                .unwrap()
            {
                fips.push(FloatingIpSpec {
                    port: PortId::new(&p.id),
                    policy: FloatingIpPolicy::KeepSame(fip.floating_ip_address),
                });
            }
            ports.push(PortSpec {
                id: PortId::new(&p.id),
                subnet: SubnetId::new(&f.subnet_id),
            });
        }
        used_groups.extend(groups.iter().cloned());
        let mut vols = vec![];
        for a in &srv.volumes_attached {
            let v = s.cinder().volume(&a.id).await.unwrap();
            let name = v.name.clone().unwrap_or_default();
            details.volumes.insert(
                VolumeId::new(&v.id),
                VolumeDetails {
                    name: name.clone(),
                    size_gb: v.size,
                    volume_type: None,
                },
            );
            volumes.push((v.id.clone(), name));
            vols.push(VolumeSpec {
                id: VolumeId::new(&v.id),
                boot: v.bootable,
            });
        }
        let flavor_name = srv
            .flavor
            .original_name
            .clone()
            .or_else(|| srv.flavor.id.as_ref().map(|i| source_flavors[i].clone()))
            .unwrap();
        details.instances.insert(
            InstanceId::new(&srv.id),
            InstanceDetails {
                flavor: target_flavors[&flavor_name].clone(),
                availability_zone: Some("nova".into()),
                node: None,
            },
        );
        if let Some(k) = &srv.key_name {
            keypairs.insert(k.clone());
        }
        let boot = if srv.name.starts_with("db") {
            0
        } else if srv.name.starts_with("app") {
            1
        } else {
            2
        };
        instances.push(InstanceSpec {
            id: InstanceId::new(&srv.id),
            name: srv.name.clone(),
            keypair: srv.key_name.clone(),
            security_groups: groups.into_iter().map(SecurityGroupId::new).collect(),
            ports,
            volumes: vols,
            floating_ips: fips,
            boot: Boot::Started(boot),
        });
    }
    let mut subnets = vec![];
    let mut networks = BTreeMap::new();
    for sid in &used_subnets {
        let sub = n.subnet(sid).await.unwrap();
        details.subnets.insert(
            SubnetId::new(sid),
            SubnetDetails {
                gateway_ip: sub.gateway_ip.clone(),
                enable_dhcp: sub.enable_dhcp,
            },
        );
        let net = n.network(&sub.network_id).await.unwrap();
        networks.insert(
            net.id.clone(),
            NetworkSpec {
                id: NetworkId::new(&net.id),
                name: net.name.clone(),
                target: NetworkTarget::Create,
            },
        );
        subnets.push(SubnetSpec {
            id: SubnetId::new(sid),
            network: NetworkId::new(&sub.network_id),
            cidr: sub.cidr.clone(),
        });
    }
    let mut routers = vec![];
    for r in n
        .routers(&Filters::none().eq("project_id", &shop))
        .await
        .unwrap()
    {
        let interfaces = n
            .router_interfaces(&r.id)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|p| p.fixed_ips.into_iter().map(|f| SubnetId::new(f.subnet_id)))
            .filter(|s| used_subnets.contains(s.as_str()))
            .collect();
        routers.push(RouterSpec {
            id: RouterId::new(&r.id),
            name: r.name.clone(),
            interfaces,
            external_gateway: r.external_gateway_info.is_some(),
        });
    }
    let mut security_groups = vec![];
    for gid in &used_groups {
        let g = n.security_group(gid).await.unwrap();
        let rules = g
            .security_group_rules
            .iter()
            .map(|r| RuleDetails {
                direction: r.direction.clone(),
                ethertype: r.ethertype.clone(),
                protocol: r.protocol.clone(),
                port_range_min: r.port_range_min,
                port_range_max: r.port_range_max,
                remote_ip_prefix: r.remote_ip_prefix.clone(),
                remote_group: r.remote_group_id.clone().map(SecurityGroupId::new),
            })
            .collect::<Vec<_>>();
        let remote_groups = rules
            .iter()
            .filter_map(|r| r.remote_group.clone())
            .filter(|r| r.as_str() != gid)
            .collect();
        details
            .security_group_rules
            .insert(SecurityGroupId::new(gid), rules);
        security_groups.push(SecurityGroupSpec {
            id: SecurityGroupId::new(gid),
            name: g.name.clone(),
            remote_groups,
        });
    }
    for k in &keypairs {
        let kp = s.nova().keypair(k).await.unwrap();
        details.keypairs.insert(k.clone(), kp.public_key);
    }
    let topology = Topology {
        project_name: "shop".into(),
        security_groups,
        keypairs: keypairs.into_iter().collect(),
        networks: networks.into_values().collect(),
        subnets,
        routers,
        instances,
        drill_external_access: false,
    };
    (JobSpec { topology, details }, volumes)
}

pub(crate) fn options() -> ExecutorOptions {
    ExecutorOptions {
        concurrency: 8,
        poll_interval: Duration::from_millis(5),
        wait_timeout: Duration::from_secs(30),
        task_attempts: 3,
    }
}

pub(crate) async fn executor(
    c: &Clouds,
    db: &Db,
    materialiser: Arc<FileMaterialiser>,
    options: ExecutorOptions,
) -> Executor {
    let cloud = TargetCloud::connect(
        credentials(&c.target),
        Options::default(),
        materialiser,
        options,
    )
    .await
    .unwrap();
    Executor::new(db.clone(), cloud)
}

pub(crate) fn materialiser(c: &Clouds) -> Arc<FileMaterialiser> {
    Arc::new(FileMaterialiser::new(pool(&c.source), pool(&c.target)))
}

pub(crate) fn new_job(spec: &JobSpec, job_type: JobType, point: RecoveryPoint) -> NewJob {
    NewJob {
        id: JobId::new(uuid::Uuid::new_v4().to_string()),
        plan: PlanId::new("plan-shop"),
        group: GroupId::new("group-shop"),
        target: ClusterId::new("target"),
        job_type,
        point,
        spec: spec.clone(),
    }
}

/// Every resource of the target, by kind (ids and the attributes that matter), and
/// the files of its storage.
pub(crate) async fn listing(c: &Clouds) -> BTreeMap<&'static str, BTreeSet<String>> {
    let s = &c.dst;
    let n = s.neutron();
    let all = Filters::all_tenants();
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut put = |k: &'static str, v: String| {
        out.entry(k).or_default().insert(v);
    };
    for p in s.keystone().projects(&Filters::none()).await.unwrap() {
        put("projects", format!("{} {}", p.id, p.name));
    }
    for a in s
        .keystone()
        .role_assignments(&Filters::none())
        .await
        .unwrap()
    {
        put("role_assignments", format!("{a:?}"));
    }
    for g in n.security_groups(&Filters::none()).await.unwrap() {
        put(
            "security_groups",
            format!("{} {} {}", g.id, g.name, g.project_id),
        );
    }
    for r in n.security_group_rules(&Filters::none()).await.unwrap() {
        put("security_group_rules", r.id);
    }
    for k in s.nova().keypairs(&Filters::none()).await.unwrap() {
        put("keypairs", k.name);
    }
    for x in n.networks(&Filters::none()).await.unwrap() {
        put("networks", x.id);
    }
    for x in n.subnets(&Filters::none()).await.unwrap() {
        put("subnets", x.id);
    }
    for x in n.routers(&Filters::none()).await.unwrap() {
        put("routers", format!("{} {:?}", x.id, x.external_gateway_info));
    }
    for x in n.ports(&Filters::none()).await.unwrap() {
        put("ports", x.id);
    }
    for x in n.floating_ips(&Filters::none()).await.unwrap() {
        put("floating_ips", x.id);
    }
    for x in s.cinder().volumes(&all).await.unwrap() {
        put("volumes", x.id);
    }
    for x in s.nova().servers(&all).await.unwrap() {
        put("servers", x.id);
    }
    for f in std::fs::read_dir(pool(&c.target)).into_iter().flatten() {
        put(
            "files",
            f.unwrap().file_name().to_string_lossy().into_owned(),
        );
    }
    out
}

/// What the target holds in the recovered project: (kind → count).
pub(crate) async fn project_counts(c: &Clouds, project: &str) -> BTreeMap<&'static str, usize> {
    let s = &c.dst;
    let n = s.neutron();
    let f = || Filters::none().eq("project_id", project);
    let mut out = BTreeMap::new();
    out.insert(
        "security_groups",
        n.security_groups(&f()).await.unwrap().len(),
    );
    out.insert(
        "security_group_rules",
        n.security_group_rules(&f()).await.unwrap().len(),
    );
    out.insert("networks", n.networks(&f()).await.unwrap().len());
    out.insert("subnets", n.subnets(&f()).await.unwrap().len());
    out.insert("routers", n.routers(&f()).await.unwrap().len());
    out.insert("ports", n.ports(&f()).await.unwrap().len());
    out.insert("floating_ips", n.floating_ips(&f()).await.unwrap().len());
    out.insert(
        "volumes",
        s.cinder()
            .volumes(&Filters::all_tenants().eq("project_id", project))
            .await
            .unwrap()
            .len(),
    );
    out.insert(
        "servers",
        s.nova()
            .servers(&Filters::all_tenants().eq("project_id", project))
            .await
            .unwrap()
            .len(),
    );
    out.insert(
        "keypairs",
        s.nova().keypairs(&Filters::none()).await.unwrap().len(),
    );
    out.insert("files", std::fs::read_dir(pool(&c.target)).unwrap().count());
    out
}
