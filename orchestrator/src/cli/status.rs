//! `holdfast status`: the manual's health checks in one command — orchestrator, database,
//! bus, leader, clusters (reachable, last sync), agents with their last heartbeat and
//! replication lag against the RPO.
//! Unhealthy answers end in [`CliError::Unhealthy`] (exit status 1).

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::output::Format;
use super::{CliError, Client};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// `ok`, `problem` or `info` (informational, never unhealthy).
    pub status: &'static str,
    /// What was found.
    pub detail: String,
}

fn check(name: impl Into<String>, status: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
    }
}

/// Renders the report; `true` when nothing is a problem.
pub fn render(checks: &[Check], format: Format) -> (String, bool) {
    let healthy = checks.iter().all(|c| c.status != "problem");
    let text = match format {
        Format::Json => {
            let v = serde_json::json!({ "healthy": healthy, "checks": checks });
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        Format::Table => {
            let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
            let mut out = String::new();
            for c in checks {
                let tag = match c.status {
                    "ok" => "OK     ",
                    "problem" => "PROBLEM",
                    _ => "INFO   ",
                };
                out.push_str(&format!("{tag}  {:<width$}  {}\n", c.name, c.detail));
            }
            out.push_str(if healthy { "healthy\n" } else { "UNHEALTHY\n" });
            out
        }
    };
    (text, healthy)
}

fn secs(ms: &Value) -> String {
    ms.as_i64()
        .map_or_else(|| "never".to_owned(), |ms| format!("{} s ago", ms / 1000))
}

/// Runs every check against the orchestrator at `client`'s URL. Without a session
/// (`token` unset) the agents cannot be listed, which is reported as a problem.
pub async fn checks(client: &Client, logged_in: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let ready = match client.send(Method::GET, "/readyz", &[], None).await {
        Ok(v) => v,
        Err(CliError::Api {
            status, message, ..
        }) => {
            out.push(check(
                "orchestrator",
                "problem",
                format!(
                    "{} answers but is not ready ({status}): {message}",
                    client.url
                ),
            ));
            return out;
        }
        Err(e) => {
            out.push(check("orchestrator", "problem", e.to_string()));
            return out;
        }
    };
    out.push(check(
        "orchestrator",
        "ok",
        format!(
            "{} ready (instance {})",
            client.url,
            ready["instance"].as_str().unwrap_or("?")
        ),
    ));
    out.push(check(
        "database",
        "ok",
        format!("{} answers", ready["database"].as_str().unwrap_or("?")),
    ));
    let bus = &ready["bus"];
    let bus_configured = bus["status"].as_str() != Some("not_configured");
    match bus["status"].as_str() {
        Some("connected") => out.push(check(
            "bus",
            "ok",
            format!(
                "RabbitMQ connected (namespace {}, {} messages waiting)",
                bus["namespace"].as_str().unwrap_or("?"),
                bus["queue_depth"]
            ),
        )),
        Some("not_configured") => out.push(check(
            "bus",
            "info",
            "not configured: the orchestrator runs without agents (set bus_url to connect them)",
        )),
        _ => out.push(check(
            "bus",
            "problem",
            format!(
                "RabbitMQ unavailable: {}",
                bus["message"].as_str().unwrap_or("no answer")
            ),
        )),
    }
    out.push(check(
        "leader",
        "info",
        if ready["leader"].as_bool() == Some(true) {
            "this replica holds the leader lease (runs the scheduler and consumes agent messages)"
        } else {
            "this replica does not hold the leader lease (another replica runs the scheduler)"
        },
    ));
    if !logged_in {
        out.push(check(
            "clusters and agents",
            "problem",
            "not checked: not logged in (run `holdfast login --url URL --user ID`)",
        ));
        return out;
    }
    clusters(client, &mut out).await;
    agents(client, bus_configured, &mut out).await;
    out
}

async fn clusters(client: &Client, out: &mut Vec<Check>) {
    let q = [("limit", "500".to_owned())];
    let list = match client.send(Method::GET, "/api/v1/clusters", &q, None).await {
        Ok(v) => v,
        Err(e) => {
            out.push(check(
                "clusters",
                "problem",
                format!("cannot list clusters: {e}"),
            ));
            return;
        }
    };
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        out.push(check(
            "clusters",
            "info",
            "none registered (holdfast cluster register ...)",
        ));
        return;
    }
    for c in &items {
        out.push(cluster_check(c));
    }
}

/// One cluster's line: a problem when it is inactive or its last sync failed.
fn cluster_check(c: &Value) -> Check {
    let name = c["name"].as_str().unwrap_or("?");
    let status = c["status"].as_str().unwrap_or("?");
    let sync = c["sync_status"].as_str().unwrap_or("?");
    let mut detail = format!("{status}, sync {sync}");
    let mut healthy = status == "active";
    if let Some(reason) = c["status_reason"].as_str().filter(|_| !healthy) {
        detail.push_str(&format!(" ({reason})"));
    }
    if let Some(e) = c["sync_error"].as_str() {
        healthy = false;
        detail.push_str(&format!("; last sync failed: {e}"));
    }
    check(
        format!("cluster {name}"),
        if healthy { "ok" } else { "problem" },
        detail,
    )
}

async fn agents(client: &Client, bus_configured: bool, out: &mut Vec<Check>) {
    let q = [("limit", "500".to_owned())];
    let list = match client.send(Method::GET, "/api/v1/agents", &q, None).await {
        Ok(v) => v,
        Err(e) => {
            out.push(check(
                "agents",
                "problem",
                format!("cannot list agents: {e}"),
            ));
            return;
        }
    };
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        let (status, detail) = if bus_configured {
            (
                "info",
                "no agent has registered yet (install and start holdfast-agent on the nodes)",
            )
        } else {
            ("info", "none: no bus configured")
        };
        out.push(check("agents", status, detail));
        return;
    }
    for a in &items {
        let node = a["node_id"].as_str().unwrap_or("?");
        let problems: Vec<String> = a["problems"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut detail = format!(
            "{}, version {}, last heartbeat {}, {} replications ({} behind RPO)",
            a["state"].as_str().unwrap_or("?"),
            a["agent_version"].as_str().unwrap_or("?"),
            secs(&a["heartbeat_age_ms"]),
            a["replications"],
            a["behind_rpo"],
        );
        if !problems.is_empty() {
            detail.push_str(&format!(": {}", problems.join("; ")));
        }
        let status = if problems.is_empty() && a["state"] == "online" {
            "ok"
        } else {
            "problem"
        };
        out.push(check(format!("agent {node}"), status, detail));
        if a["replications"].as_u64().unwrap_or(0) > 0 {
            volumes(client, node, out).await;
        }
    }
}

async fn volumes(client: &Client, node: &str, out: &mut Vec<Check>) {
    let d = match client
        .send(Method::GET, &format!("/api/v1/agents/{node}"), &[], None)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            out.push(check(
                format!("agent {node}"),
                "problem",
                format!("cannot read its replication: {e}"),
            ));
            return;
        }
    };
    for r in d["replications"].as_array().cloned().unwrap_or_default() {
        let lag = r["lag_ms"]
            .as_i64()
            .map_or_else(|| "unknown".to_owned(), |l| format!("{} s", l / 1000));
        let rpo = r["rpo_ms"]
            .as_i64()
            .map_or_else(|| "not set".to_owned(), |l| format!("{} s", l / 1000));
        let state = r["state"].as_str().unwrap_or("?");
        let status = if state == "failed" || r["within_rpo"] == Value::Bool(false) {
            "problem"
        } else {
            "ok"
        };
        out.push(check(
            format!("  volume {}", r["volume_id"].as_str().unwrap_or("?")),
            status,
            format!("{state} on {node}, lag {lag}, RPO {rpo}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_problem_makes_the_report_unhealthy() {
        let ok = vec![
            check("database", "ok", "sqlite answers"),
            check("bus", "info", "not configured"),
        ];
        let (text, healthy) = render(&ok, Format::Table);
        assert!(healthy);
        assert!(text.ends_with("healthy\n"), "{text}");
        let mut bad = ok.clone();
        bad.push(check("agent n1", "problem", "unreachable"));
        let (text, healthy) = render(&bad, Format::Table);
        assert!(!healthy);
        assert!(text.contains("PROBLEM  agent n1"), "{text}");
        let (json, _) = render(&bad, Format::Json);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["healthy"], false);
        assert_eq!(v["checks"][2]["status"], "problem");
    }

    #[test]
    fn a_cluster_is_a_problem_when_inactive_or_its_sync_failed() {
        let c = |status: &str, reason: Value, error: Value| {
            cluster_check(&serde_json::json!({
                "name": "seoul-1", "status": status, "status_reason": reason,
                "sync_status": "Done", "sync_error": error,
            }))
        };
        let ok = c("active", Value::Null, Value::Null);
        assert_eq!((ok.name.as_str(), ok.status), ("cluster seoul-1", "ok"));
        assert_eq!(ok.detail, "active, sync Done");
        let down = c("inactive", "Keystone unreachable".into(), Value::Null);
        assert_eq!(down.status, "problem");
        assert!(
            down.detail.contains("(Keystone unreachable)"),
            "{}",
            down.detail
        );
        let failed = c("active", Value::Null, "HTTP 500 on volumes".into());
        assert_eq!(failed.status, "problem");
        assert!(
            failed.detail.contains("last sync failed: HTTP 500"),
            "{}",
            failed.detail
        );
    }
}
