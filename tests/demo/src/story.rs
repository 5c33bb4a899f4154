//! The steps both stories share, through the REST API: the narrator, polling with a
//! deadline, the licence, cluster sync, the synced resources, waiting for a plan to be
//! `Normal`, a drill to its end, its rollback, and its report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::client::Api;

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
pub(crate) struct Deadline {
    what: &'static str,
    at: Instant,
    limit: Duration,
}

impl Deadline {
    pub(crate) fn after(what: &'static str, limit: Duration) -> Deadline {
        Deadline {
            what,
            at: Instant::now() + limit,
            limit,
        }
    }

    /// Sleeps before the next poll, or fails once the limit passed.
    pub(crate) async fn wait(&self) -> anyhow::Result<()> {
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
pub(crate) async fn wait_for<T, F, Fut>(
    what: &str,
    limit: Duration,
    mut check: F,
) -> anyhow::Result<T>
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

pub(crate) fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn id_of(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {v}"))
}

/// Registers a licence for 50 instances signed by `signer`.
pub(crate) async fn licence(api: &Api, signer: &ed25519_dalek::SigningKey) -> anyhow::Result<()> {
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
    let key = holdfast_orchestrator::licence::issue(&terms, signer);
    api.put("/api/v1/licence", json!({"licence_key": key}))
        .await?;
    Ok(())
}

/// Waits for a cluster's full sync.
pub(crate) async fn wait_synced(api: &Api, id: &str) -> anyhow::Result<()> {
    wait_for("the cluster sync", Duration::from_secs(120), || async {
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
pub(crate) async fn resources(
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

/// Waits until the plan is `Normal`, telling each new state and its reasons.
pub(crate) async fn wait_normal(
    api: &Api,
    plan: &str,
    limit: Duration,
    n: &Narrator,
) -> anyhow::Result<()> {
    let mut last = String::new();
    let deadline = Deadline::after("the plan reaching Normal", limit);
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
            return Ok(());
        }
        deadline.wait().await?;
    }
}

/// Runs a drill of `plan` from its latest snapshot to its end; returns the job id once
/// it completed successfully.
pub(crate) async fn drill(
    api: &Api,
    plan: &str,
    limit: Duration,
    n: &Narrator,
) -> anyhow::Result<String> {
    let job = id_of(
        &api.post(
            "/api/v1/jobs",
            json!({"plan_id": plan, "type": "drill", "run_type": "now",
                   "recovery_point": "latest-snapshot"}),
        )
        .await?,
    )?;
    n.say(format!("drill {job} created from the latest snapshot"));
    let mut seen = String::new();
    let deadline = Deadline::after("the drill completing", limit);
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
        bail!(
            "the drill ended {result}: {}; {}",
            failures(&monitor),
            errors_in_log(&monitor)
        );
    }
    n.say(format!("drill completed: {result}"));
    Ok(job)
}

/// Asks the rollback of a completed drill and waits until it finished.
pub(crate) async fn roll_back(
    api: &Api,
    job: &str,
    limit: Duration,
    n: &Narrator,
) -> anyhow::Result<()> {
    api.post(
        &format!("/api/v1/jobs/{job}/operations/rollback"),
        json!({}),
    )
    .await?;
    n.say("rollback asked: everything the drill created on the target is deleted");
    let deadline = Deadline::after("the drill's rollback", limit);
    loop {
        // a finished one-time job leaves the job list; its report stays
        let Ok(m) = api.get(&format!("/api/v1/jobs/{job}/monitor")).await else {
            return Ok(());
        };
        match m["job"]["state"].as_str() {
            Some("finished") => return Ok(()),
            Some("clear-failed") => bail!(
                "the rollback left resources on the target: {}",
                errors_in_log(&m)
            ),
            _ => deadline.wait().await?,
        }
    }
}

/// Reads the drill's report and tells its summary.
pub(crate) async fn report(
    api: &Api,
    base: &str,
    group: &str,
    job: &str,
    n: &Narrator,
) -> anyhow::Result<()> {
    let reports = api
        .get(&format!("/api/v1/reports?group={group}&type=drill"))
        .await?;
    let item = items(&reports)
        .into_iter()
        .find(|r| r["job_id"].as_str() == Some(job))
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
        "report as HTML: {base}/api/v1/reports/{rid}/export?format=html"
    ));
    Ok(())
}

/// The id of the volume named `name` the drill created on the target (the target's
/// copy in the orchestrator is kept current by its notifications).
pub(crate) async fn recovered_volume(
    api: &Api,
    target: &str,
    name: &str,
) -> anyhow::Result<String> {
    wait_for(
        "the recovered volume in the target's inventory",
        Duration::from_secs(60),
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
