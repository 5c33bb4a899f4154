//! The demo's story, told through the REST API exactly as an operator's tools would:
//! licence, two clusters, a protection group and its recovery plan, replication to
//! `Normal`, new data on the source, a snapshot, a drill that rebuilds the shop on the
//! target (its recovered volume checked byte for byte), the drill's rollback and its
//! report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::client::Api;
use crate::stack::{BACKEND, Cloud, Stack};

/// Prints one step with the time since the demo started.
pub(crate) struct Narrator {
    started: Instant,
}

impl Narrator {
    pub(crate) fn new() -> Narrator {
        Narrator {
            started: Instant::now(),
        }
    }

    pub(crate) fn say(&self, text: impl AsRef<str>) {
        println!(
            "[{:>6.1} s] {}",
            self.started.elapsed().as_secs_f64(),
            text.as_ref()
        );
    }
}

/// A time limit for a polling loop.
struct Deadline {
    what: &'static str,
    at: Instant,
    limit: Duration,
}

impl Deadline {
    fn after(what: &'static str, limit: Duration) -> Deadline {
        Deadline {
            what,
            at: Instant::now() + limit,
            limit,
        }
    }

    /// Sleeps before the next poll, or fails once the limit passed.
    async fn wait(&self) -> anyhow::Result<()> {
        if Instant::now() > self.at {
            bail!(
                "{} did not happen within {} s",
                self.what,
                self.limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(())
    }
}

/// Polls `check` every 250 ms until it yields a value or `limit` passes.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("{what} did not happen within {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn id_of(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {v}"))
}

async fn licence(api: &Api, stack: &Stack) -> anyhow::Result<()> {
    let current = api.get("/api/v1/licence").await?;
    let uuid = current["product_uuid"]
        .as_str()
        .context("the licence view has no product_uuid")?;
    let today = jiff::Zoned::now().date();
    let terms = holdfast_orchestrator::licence::LicenceTerms {
        product_uuid: uuid.to_owned(),
        issued: today.to_string(),
        expires: today.checked_add(jiff::Span::new().years(1))?.to_string(),
        instance_limit: 50,
        platforms: vec!["openstack".to_owned()],
    };
    let key = holdfast_orchestrator::licence::issue(&terms, &stack.licence_signer);
    api.put("/api/v1/licence", json!({"licence_key": key}))
        .await?;
    Ok(())
}

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

async fn wait_synced(api: &Api, id: &str) -> anyhow::Result<()> {
    wait_for("the cluster sync", Duration::from_secs(60), || async {
        let v = api.get(&format!("/api/v1/clusters/{id}")).await?;
        match v["sync_status"].as_str() {
            Some("Done") => Ok(Some(())),
            Some("Failed") => bail!("the sync of cluster {id} failed: {}", v["sync_error"]),
            _ => Ok(None),
        }
    })
    .await
}

/// Every resource of a kind in the orchestrator's copy of a cluster, by name.
async fn resources(
    api: &Api,
    cluster: &str,
    kind: &str,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let v = api
        .get(&format!(
            "/api/v1/clusters/{cluster}/resources/{kind}?limit=500"
        ))
        .await?;
    Ok(items(&v)
        .into_iter()
        .filter_map(|r| Some((r["name"].as_str()?.to_owned(), r)))
        .collect())
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
    licence(api, stack).await?;
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
    let mut last = String::new();
    let deadline = Deadline::after("the plan reaching Normal", Duration::from_secs(180));
    loop {
        let v = api.get(&format!("/api/v1/plans/{plan}")).await?;
        let state = v["state"].as_str().unwrap_or("?").to_owned();
        let reasons: Vec<&str> = v["reasons"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let line = if reasons.is_empty() {
            format!("plan state {state}")
        } else {
            format!("plan state {state}: {}", reasons.join("; "))
        };
        if last != line {
            n.say(&line);
            last = line;
        }
        if state == "Normal" {
            break;
        }
        deadline.wait().await?;
    }
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
    let job = id_of(
        &api.post(
            "/api/v1/jobs",
            json!({"plan_id": p.plan, "type": "drill", "run_type": "now",
                   "recovery_point": "latest-snapshot"}),
        )
        .await?,
    )?;
    n.say(format!("drill {job} created from the latest snapshot"));
    let mut seen = String::new();
    let deadline = Deadline::after("the drill completing", Duration::from_secs(300));
    let monitor = loop {
        let m = api.get(&format!("/api/v1/jobs/{job}/monitor")).await?;
        let line = progress_line(&m);
        if seen != line {
            n.say(&line);
            seen = line;
        }
        if matches!(
            m["job"]["state"].as_str(),
            Some("completed" | "clear-failed" | "finished")
        ) {
            break m;
        }
        deadline.wait().await?;
    };
    let result = monitor["job"]["result"].as_str().unwrap_or("?").to_owned();
    if result != "success" {
        bail!("the drill ended {result}: {}", failures(&monitor));
    }
    n.say(format!("drill completed: {result}"));
    // the recovered copy of db-data on the target holds the data written before the snapshot
    let recovered = resources_in_job(api, &p.target, "db-data").await?;
    if target_holds(stack, &recovered, &orders)? {
        n.say(format!(
            "verified: the target's recovered db-data ({recovered}) holds {orders:?}"
        ));
    } else {
        bail!(
            "the recovered db-data volume {recovered} does not hold the data written before the snapshot"
        );
    }
    api.post(
        &format!("/api/v1/jobs/{job}/operations/rollback"),
        json!({}),
    )
    .await?;
    n.say("rollback asked: everything the drill created on the target is deleted");
    let deadline = Deadline::after("the drill's rollback", Duration::from_secs(300));
    loop {
        // a finished one-time job leaves the job list; its report stays
        let Ok(m) = api.get(&format!("/api/v1/jobs/{job}/monitor")).await else {
            break;
        };
        match m["job"]["state"].as_str() {
            Some("finished") => break,
            Some("clear-failed") => bail!(
                "the rollback left resources on the target: {}",
                errors_in_log(&m)
            ),
            _ => deadline.wait().await?,
        }
    }
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
    let reports = api
        .get(&format!("/api/v1/reports?group={}&type=drill", p.group))
        .await?;
    let item = items(&reports)
        .into_iter()
        .find(|r| r["job_id"].as_str() == Some(job.as_str()))
        .context("no report for the drill")?;
    let rid = id_of(&item)?;
    let report = api.get(&format!("/api/v1/reports/{rid}")).await?;
    let secs = |v: &Value| {
        v.as_i64().map_or_else(
            || "?".to_owned(),
            |ms| format!("{:.1} s", ms as f64 / 1000.0),
        )
    };
    n.say(format!(
        "report {rid}: {} drill of {} from {} to {}, result {}, achieved RTO {}, RPO {}",
        report["summary"]["ending"].as_str().unwrap_or("?"),
        report["summary"]["group"]["name"].as_str().unwrap_or("?"),
        report["summary"]["source_cluster"]["name"]
            .as_str()
            .unwrap_or("?"),
        report["summary"]["target_cluster"]["name"]
            .as_str()
            .unwrap_or("?"),
        report["summary"]["result"].as_str().unwrap_or("?"),
        secs(&report["summary"]["rto_ms"]),
        secs(&report["summary"]["rpo_ms"]),
    ));
    n.say(format!(
        "report as HTML: {}/api/v1/reports/{rid}/export?format=html",
        stack.base
    ));
    Ok(p.plan)
}

fn progress_line(m: &Value) -> String {
    let state = m["job"]["state"].as_str().unwrap_or("?");
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for i in m["instances"].as_array().into_iter().flatten() {
        *by_status
            .entry(i["status"].as_str().unwrap_or("?"))
            .or_default() += 1;
    }
    let instances: Vec<String> = by_status.iter().map(|(s, k)| format!("{k} {s}")).collect();
    format!(
        "drill {state} {}%: instances {}",
        m["progress"]["percent"],
        if instances.is_empty() {
            "-".to_owned()
        } else {
            instances.join(", ")
        }
    )
}

fn errors_in_log(m: &Value) -> String {
    let lines: Vec<&str> = m["log"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["level"].as_str() == Some("error"))
        .filter_map(|l| l["message"].as_str())
        .collect();
    lines.join("; ")
}

fn failures(m: &Value) -> String {
    let failed: Vec<String> = m["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(m["volumes"].as_array().into_iter().flatten())
        .filter(|i| i["status"].as_str() == Some("failed"))
        .map(|i| {
            format!(
                "{}: {}",
                i["id"].as_str().unwrap_or("?"),
                i["error"].as_str().unwrap_or("?")
            )
        })
        .collect();
    failed.join("; ")
}

/// The id of the volume named `name` the drill created on the target (the target's
/// copy in the orchestrator is kept current by its notifications).
async fn resources_in_job(api: &Api, target: &str, name: &str) -> anyhow::Result<String> {
    wait_for(
        "the recovered volume in the target's inventory",
        Duration::from_secs(30),
        || async {
            let v = api
                .get(&format!(
                    "/api/v1/clusters/{target}/resources/volumes?q={name}&limit=50"
                ))
                .await?;
            Ok(items(&v)
                .into_iter()
                .find(|r| r["name"].as_str() == Some(name))
                .and_then(|r| r["id"].as_str().map(str::to_owned)))
        },
    )
    .await
}
