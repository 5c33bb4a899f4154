//! The drill on the real stack, through the REST API: licence, both real clouds
//! registered with their Ceph storage metadata, a group of the application's instances
//! and its plan, replication to `Normal`, new bytes on the source, a group snapshot,
//! bytes written after it (which the drill must not bring), the drill, its checks on
//! the target (every instance ACTIVE, every recovered volume's image on cluster `b`
//! equal to the source at the snapshot), the rollback and the target's listing
//! compared with the one taken before the drill.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use holdfast_agent::rbd::Image;
use holdfast_openstack::{Filters, Session};
use serde_json::json;

use super::app::{App, VOLUME_BYTES};
use super::clouds::{BACKEND, RealCloud};
use super::image_bytes;
use super::listing::Listing;
use crate::client::Api;
use crate::stack::Services;
use crate::story::{
    Narrator, drill, id_of, licence, report, resources, roll_back, wait_for, wait_normal,
    wait_synced,
};

/// What the story created in the orchestrator (for the teardown) and measured, filled
/// in as it goes, also when it fails.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) group: Option<String>,
    pub(crate) plan: Option<String>,
    pub(crate) timings: Timings,
}

/// The measured times.
#[derive(Debug, Default)]
pub(crate) struct Timings {
    /// Plan created → `Normal` (the initial copy of every volume, then the first group
    /// snapshot).
    pub(crate) initial_copy: Option<Duration>,
    /// The manual group snapshot.
    pub(crate) snapshot: Option<Duration>,
    /// Drill created → completed.
    pub(crate) drill: Option<Duration>,
    /// Rollback asked → the target's listing as before.
    pub(crate) rollback: Option<Duration>,
}

/// The two real clouds and their admin sessions.
#[derive(Debug)]
pub(crate) struct Clouds {
    pub(crate) source: RealCloud,
    pub(crate) target: RealCloud,
    pub(crate) target_admin: Session,
}

fn cluster_body(
    name: &str,
    owner: &str,
    cloud: &RealCloud,
    storage: serde_json::Value,
) -> serde_json::Value {
    json!({
        "name": name,
        "owner_group_id": owner,
        "description": format!("the real {} cloud of shared/realstack", cloud.name),
        "auth_url": cloud.auth_url,
        "credential": {"username": "admin", "password": "secret", "project": "admin"},
        "notification_broker_url": cloud.broker_url,
        "notification_exchanges": holdfast_orchestrator::domain::cluster::DEFAULT_EXCHANGES,
        "storage": storage,
    })
}

/// The Cinder pool of the `ceph` backend on the target (`host@backend#pool`), as an
/// operator reads it with `openstack volume backend pool list`.
async fn cinder_pool(admin: &Session) -> anyhow::Result<String> {
    let pools = admin.cinder().pools().await?;
    let mut ours = pools
        .iter()
        .filter(|p| p.capabilities.volume_backend_name.as_deref() == Some(BACKEND));
    match (ours.next(), ours.next()) {
        (Some(p), None) => Ok(p.name.clone()),
        _ => bail!(
            "the target's Cinder does not report exactly one pool of backend {BACKEND:?}: {:?}",
            pools.iter().map(|p| &p.name).collect::<Vec<_>>()
        ),
    }
}

/// The whole story.
pub(crate) async fn play(
    api: &Api,
    svc: &Services,
    clouds: &Clouds,
    app: &mut App,
    run: &str,
    p: &mut Progress,
    n: &Narrator,
) -> anyhow::Result<()> {
    licence(api, &svc.licence_signer).await?;
    let team = id_of(
        &api.post(
            "/api/v1/groups",
            json!({"name": format!("dr-team-{run}"), "description": "the DR operators"}),
        )
        .await?,
    )?;
    let pool = cinder_pool(&clouds.target_admin).await?;
    let source = id_of(
        &api.post(
            "/api/v1/clusters",
            cluster_body(
                "realstack-source",
                &team,
                &clouds.source,
                clouds.source.storage(None)?,
            ),
        )
        .await?,
    )?;
    let target = id_of(
        &api.post(
            "/api/v1/clusters",
            cluster_body(
                "realstack-target",
                &team,
                &clouds.target,
                clouds.target.storage(Some(&pool))?,
            ),
        )
        .await?,
    )?;
    n.say(format!(
        "clusters registered: realstack-source ({}, Ceph a) and realstack-target ({}, Ceph b, recovered volumes adopted into {pool})",
        clouds.source.auth_url, clouds.target.auth_url
    ));
    wait_synced(api, &source).await?;
    wait_synced(api, &target).await?;
    n.say("both clusters synced");

    let members: Vec<&String> = app.servers.values().map(|(id, _)| id).collect();
    let group = id_of(
        &api.post(
            "/api/v1/protection-groups",
            json!({
                "name": format!("drill-{run}"), "description": "the application on Ceph volumes",
                "source_cluster_id": source, "owner_group_id": team, "instances": members,
                "rpo_minutes": 5, "rto_minutes": 30,
                "snapshot_interval": {"kind": "every_hours", "n": 1},
            }),
        )
        .await?,
    )?;
    p.group = Some(group.clone());
    let public = resources(api, &target, "networks")
        .await?
        .get("public")
        .map(id_of)
        .context("the target has no external network `public`")??;
    let instances: serde_json::Map<String, serde_json::Value> = app
        .servers
        .values()
        .map(|(id, order)| (id.clone(), json!({"start_order": order})))
        .collect();
    let plan_started = Instant::now();
    let plan = id_of(
        &api.post(
            "/api/v1/plans",
            json!({
                "group_id": group, "name": format!("drill-{run}-to-target"),
                "target_cluster_id": target, "retention": 2,
                "mapping": {
                    "project_name": format!("{}-dr", app.project_name), "availability_zone": "nova",
                    "networks": {app.network.clone(): "create"},
                    "volume_types": {BACKEND: BACKEND},
                    "instances": instances,
                    "floating_ips": {app.floating_ip.clone(): "another"},
                    "external_network": public,
                },
            }),
        )
        .await?,
    )?;
    p.plan = Some(plan.clone());
    n.say(format!(
        "protection group and plan created: {} instances, {} volumes of {} GiB replicating Ceph a -> b",
        app.servers.len(),
        app.volumes.len(),
        VOLUME_BYTES >> 30
    ));
    wait_normal(api, &plan, Duration::from_secs(900), n).await?;
    p.timings.initial_copy = Some(plan_started.elapsed());

    let source_ceph = clouds.source.ceph();
    for v in &mut app.volumes {
        let data = image_bytes::random(1 << 20);
        image_bytes::write(&App::image(&source_ceph, v), 512 << 20, &data).await?;
        v.content.record(512 << 20, data);
    }
    n.say("new bytes written on the source (1 MiB at 512 MiB in every volume)");
    let started = Instant::now();
    let snapshot = api
        .post(
            &format!("/api/v1/protection-groups/{group}/snapshots"),
            json!({}),
        )
        .await?;
    p.timings.snapshot = Some(started.elapsed());
    n.say(format!(
        "group snapshot {} taken",
        snapshot["id"].as_str().unwrap_or("?")
    ));
    for v in &app.volumes {
        let image = App::image(&source_ceph, v);
        image_bytes::write(&image, 512 << 20, &image_bytes::random(64 << 10)).await?;
        image_bytes::write(&image, 700 << 20, &image_bytes::random(64 << 10)).await?;
    }
    n.say("more bytes written after the snapshot (the drill must not bring them)");

    let before = Listing::take(&clouds.target_admin).await?;
    n.say(format!("target before the drill: {}", before.counts()));
    let started = Instant::now();
    let job = drill(api, &plan, Duration::from_secs(1200), n).await?;
    p.timings.drill = Some(started.elapsed());
    check_recovered(clouds, app, &before, n).await?;

    let started = Instant::now();
    roll_back(api, &job, Duration::from_secs(900), n).await?;
    let left = wait_for(
        "the target's listing equal to the one before the drill",
        Duration::from_secs(120),
        || async {
            let now = Listing::take(&clouds.target_admin).await?;
            Ok(before.diff(&now).is_empty().then_some(()))
        },
    )
    .await;
    if left.is_err() {
        let now = Listing::take(&clouds.target_admin).await?;
        bail!(
            "after the rollback the target differs from before the drill:\n  {}",
            before.diff(&now).join("\n  ")
        );
    }
    p.timings.rollback = Some(started.elapsed());
    n.say(format!(
        "rolled back: the target's listing equals the one before the drill ({})",
        before.counts()
    ));
    report(api, &svc.base, &group, &job, n).await
}

/// Every instance ACTIVE on the target, every recovered volume's image on cluster `b`
/// equal to its source at the snapshot.
async fn check_recovered(
    clouds: &Clouds,
    app: &App,
    before: &Listing,
    n: &Narrator,
) -> anyhow::Result<()> {
    let admin = &clouds.target_admin;
    let all = Filters::all_tenants();
    let servers = admin.nova().servers(&all).await?;
    let mut recovered = BTreeMap::new();
    for name in app.servers.keys() {
        let s = servers
            .iter()
            .find(|s| &s.name == name && !before.has("servers", &s.id))
            .with_context(|| format!("the drill made no instance {name} on the target"))?;
        if s.status != "ACTIVE" {
            bail!("the recovered instance {name} ({}) is {}", s.id, s.status);
        }
        recovered.insert(name.clone(), s.id.clone());
    }
    n.say(format!(
        "verified: {} recovered instances ACTIVE on the target ({})",
        recovered.len(),
        recovered.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    let volumes = admin.cinder().volumes(&all).await?;
    let ceph = clouds.target.ceph();
    for v in &app.volumes {
        let r = volumes
            .iter()
            .find(|x| x.name.as_deref() == Some(v.name.as_str()) && !before.has("volumes", &x.id))
            .with_context(|| format!("the drill made no volume {} on the target", v.name))?;
        if r.status != "in-use" {
            bail!(
                "the recovered volume {} ({}) is {}, not in-use",
                v.name,
                r.id,
                r.status
            );
        }
        let image = Image::new(ceph.clone(), format!("volume-{}", r.id));
        let compared = image_bytes::verify(&image, &v.content)
            .await
            .with_context(|| format!("the recovered volume {}", v.name))?;
        n.say(format!(
            "verified: {} ({}) on Ceph b holds the source's bytes at the snapshot ({} MiB compared, {} KiB written on the source)",
            v.name,
            image.spec(),
            compared >> 20,
            v.content.written() >> 10
        ));
    }
    Ok(())
}
