//! `holdfast schedule list|show`: the scheduler's schedules (read-only), with their next
//! slot and the result of the last one.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// List schedules: kind, owner, next slot, last slot and its result.
    List {
        /// Only this kind (`event-retention`, `licence-check`, `plan-snapshot`).
        #[arg(long)]
        kind: Option<String>,
        /// Only schedules of this object id (e.g. a plan id).
        #[arg(long)]
        owner: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one schedule with its recurrence and the last fired slot.
    Show {
        /// Schedule id, e.g. `builtin:event-retention`.
        id: String,
    },
}

/// One table row of a schedule: nested fields flattened to what an operator scans.
fn row(s: &Value) -> Value {
    let owner = match (s["owner"]["kind"].as_str(), s["owner"]["id"].as_str()) {
        (Some(kind), Some(id)) => format!("{kind} {id}"),
        (Some(kind), None) => kind.to_owned(),
        _ => String::new(),
    };
    json!({
        "id": s["id"],
        "kind": s["kind"],
        "owner": owner,
        "next_fire_at": s["next_fire_at"],
        "last_fired": s["last_fire"]["slot"],
        "last_result": s["last_fire"]["result"],
    })
}

/// Runs a schedule command.
pub async fn run(c: Client, cmd: ScheduleCmd, fmt: Format) -> Result<String, CliError> {
    match cmd {
        ScheduleCmd::List {
            kind,
            owner,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "kind", &kind);
            opt(&mut q, "owner", &owner);
            paging(&mut q, &p);
            let mut v = c.send(Method::GET, "/api/v1/schedules", &q, None).await?;
            if fmt == Format::Table
                && let Some(items) = v["items"].as_array_mut()
            {
                for item in items.iter_mut() {
                    *item = row(item);
                }
            }
            Ok(output::render(&v, fmt))
        }
        ScheduleCmd::Show { id } => {
            let path = format!("/api/v1/schedules/{}", urlencode(&id));
            Ok(output::render(
                &c.send(Method::GET, &path, &[], None).await?,
                fmt,
            ))
        }
    }
}

/// Percent-encodes a path segment (schedule ids contain `:`; keep it readable but safe).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_flatten_the_owner_and_the_last_fire() {
        let s = json!({
            "id": "plan-snapshot:p1", "kind": "plan-snapshot",
            "owner": {"kind": "plan", "id": "p1", "group_id": "g"},
            "next_fire_at": "2026-01-01T00:00:00Z",
            "last_fire": {"slot": "2025-12-31T23:00:00Z", "result": "ok"},
        });
        let r = row(&s);
        assert_eq!(r["owner"], "plan p1");
        assert_eq!(r["last_result"], "ok");
        let sys = row(
            &json!({"id": "builtin:x", "owner": {"kind": "system", "id": null},
            "last_fire": null}),
        );
        assert_eq!(sys["owner"], "system");
        assert!(sys["last_result"].is_null());
        assert_eq!(
            urlencode("builtin:event-retention"),
            "builtin:event-retention"
        );
        assert_eq!(urlencode("a/b c"), "a%2Fb%20c");
    }
}
