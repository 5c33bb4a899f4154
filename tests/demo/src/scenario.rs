//! The demo's story, told through the REST API exactly as an operator's tools would:
//! licence, two clusters, a protection group and its recovery plan, replication to
//! `Normal`, new data on the source, a snapshot, a drill that rebuilds the shop on the
//! target (its recovered volume checked byte for byte), the drill's rollback and its
//! report.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::client::Api;
use crate::stack::{BACKEND, Cloud, Stack};
use crate::story::{
    Narrator, drill, id_of, licence, recovered_volume, report, resources, roll_back, wait_for,
    wait_normal, wait_synced,
};

fn cluster_body(name: &str, owner: &str, cloud: &Cloud, bus_url: &str) -> Value {
    json!({
        "name": name,
        "owner_group_id": owner,
        "description": format!("test cloud at {}", cloud.tc.auth_url()),
        "auth_url": cloud.tc.auth_url(),
        "credential": {"username": "admin", "password": cloud.tc.admin_password(), "project": "admin"},
        "notification_broker_url": bus_url,
        "notification_exchanges": cloud.exchanges,
        "storage": [{"type": "file", "backend": BACKEND, "node": cloud.node,
                     "path_prefix": cloud.pool().display().to_string()}],
    })
}

/// What the first part of the story created.
#[derive(Debug)]
pub(crate) struct Protected {
    pub(crate) target: String,
    pub(crate) group: String,
    pub(crate) plan: String,
    /// Source volume ids by name.
    pub(crate) volumes: BTreeMap<String, String>,
}

/// Licence, clusters, group, plan; returns once the plan is `Normal`.
pub(crate) async fn protect(
    api: &Api,
    stack: &Stack,
    bus_url: &str,
    n: &Narrator,
) -> anyhow::Result<Protected> {
    licence(api, &stack.svc.licence_signer).await?;
    n.say("licence registered (50 instances, openstack)");
    let team = id_of(
        &api.post(
            "/api/v1/groups",
            json!({"name": "dr-team", "description": "the DR operators"}),
        )
        .await?,
    )?;
    let source = id_of(
        &api.post(
            "/api/v1/clusters",
            cluster_body("seoul-prod", &team, &stack.source, bus_url),
        )
        .await?,
    )?;
    n.say(format!(
        "source cluster seoul-prod registered ({})",
        stack.source.tc.auth_url()
    ));
    let target = id_of(
        &api.post(
            "/api/v1/clusters",
            cluster_body("busan-dr", &team, &stack.target, bus_url),
        )
        .await?,
    )?;
    n.say(format!(
        "target cluster busan-dr registered ({})",
        stack.target.tc.auth_url()
    ));
    wait_synced(api, &source).await?;
    wait_synced(api, &target).await?;
    let servers = resources(api, &source, "instances").await?;
    let volumes: BTreeMap<String, String> = resources(api, &source, "volumes")
        .await?
        .into_iter()
        .map(|(name, v)| Ok((name, id_of(&v)?)))
        .collect::<anyhow::Result<_>>()?;
    n.say(format!(
        "both clusters synced: the source runs {} instances with {} volumes",
        servers.len(),
        volumes.len()
    ));
    let server_id = |name: &str| -> anyhow::Result<String> {
        id_of(
            servers
                .get(name)
                .with_context(|| format!("no instance {name} on the source"))?,
        )
    };
    let members = ["db", "app1", "web1", "web2"]
        .iter()
        .map(|s| server_id(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let group = id_of(
        &api.post(
            "/api/v1/protection-groups",
            json!({
                "name": "shop", "description": "the web shop", "source_cluster_id": source,
                "owner_group_id": team,
                "instances": members,
                "rpo_minutes": 5, "rto_minutes": 30,
                "snapshot_interval": {"kind": "every_hours", "n": 1},
            }),
        )
        .await?,
    )?;
    n.say("protection group shop created: db, app1, web1, web2");
    let networks = resources(api, &source, "networks").await?;
    let public = resources(api, &target, "networks").await?;
    let public = id_of(
        public
            .get("public")
            .context("the target has no public network")?,
    )?;
    let order = [("db", 0), ("app1", 1), ("web1", 2), ("web2", 2)];
    let mut instances = serde_json::Map::new();
    for (name, start) in order {
        instances.insert(server_id(name)?, json!({"start_order": start}));
    }
    let mut nets = serde_json::Map::new();
    for name in ["front", "back"] {
        nets.insert(
            id_of(
                networks
                    .get(name)
                    .with_context(|| format!("no network {name}"))?,
            )?,
            json!("create"),
        );
    }
    let plan = id_of(
        &api.post(
            "/api/v1/plans",
            json!({
                "group_id": group, "name": "shop-to-busan", "target_cluster_id": target,
                "retention": 4,
                "mapping": {
                    "project_name": "shop-dr", "availability_zone": "nova",
                    "networks": nets, "volume_types": {"__DEFAULT__": "__DEFAULT__"},
                    "instances": instances, "external_network": public,
                },
            }),
        )
        .await?,
    )?;
    n.say(
        "recovery plan shop-to-busan created: boot order db → app1 → web1, web2; networks copied",
    );
    wait_normal(api, &plan, Duration::from_secs(180), n).await?;
    Ok(Protected {
        target,
        group,
        plan,
        volumes,
    })
}

/// Writes `text` at 1 MiB into a source volume's file (as the database would).
fn write_on_source(stack: &Stack, volume: &str, text: &str) -> anyhow::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let path = stack.source.pool().join(format!("volume-{volume}"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::Start(1 << 20))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Whether a target volume file holds `text` at 1 MiB.
fn target_holds(stack: &Stack, volume: &str, text: &str) -> anyhow::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let path = stack.target.pool().join(format!("volume-{volume}"));
    let mut f =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::Start(1 << 20))?;
    let mut buf = vec![0u8; text.len()];
    f.read_exact(&mut buf)?;
    Ok(buf == text.as_bytes())
}

/// The whole story.
pub(crate) async fn run(
    api: &Api,
    stack: &Stack,
    bus_url: &str,
    n: &Narrator,
) -> anyhow::Result<String> {
    let p = protect(api, stack, bus_url, n).await?;
    let db_data = p
        .volumes
        .get("db-data")
        .context("no db-data volume")?
        .clone();
    let orders = format!("orders up to {}", jiff::Timestamp::now());
    write_on_source(stack, &db_data, &orders)?;
    n.say(format!(
        "the shop's database wrote {orders:?} on the source"
    ));
    let snapshot = api
        .post(
            &format!("/api/v1/protection-groups/{}/snapshots", p.group),
            json!({}),
        )
        .await?;
    n.say(format!(
        "protection-group snapshot {} taken (one cut across all {} volumes)",
        snapshot["id"].as_str().unwrap_or("?"),
        p.volumes.len()
    ));
    let job = drill(api, &p.plan, Duration::from_secs(300), n).await?;
    // the recovered copy of db-data on the target holds the data written before the snapshot
    let recovered = recovered_volume(api, &p.target, "db-data").await?;
    if target_holds(stack, &recovered, &orders)? {
        n.say(format!(
            "verified: the target's recovered db-data ({recovered}) holds {orders:?}"
        ));
    } else {
        bail!(
            "the recovered db-data volume {recovered} does not hold the data written before the snapshot"
        );
    }
    roll_back(api, &job, Duration::from_secs(300), n).await?;
    wait_for(
        "the drill's project leaving the target",
        Duration::from_secs(30),
        || async {
            let left = resources(api, &p.target, "projects")
                .await?
                .into_keys()
                .any(|name| name.starts_with("shop-dr"));
            Ok((!left).then_some(()))
        },
    )
    .await?;
    n.say("rolled back: the drill's project and everything in it are gone from the target");
    report(api, &stack.svc.base, &p.group, &job, n).await?;
    Ok(p.plan)
}
