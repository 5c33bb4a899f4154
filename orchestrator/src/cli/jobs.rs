//! `holdfast job ...` (create, list, show, update, delete, the operations, monitor,
//! watch) and `holdfast report ...` (list, show, export, delete).

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{self, Format};
use super::{CliError, Client, Paging, opt, paging};

/// `holdfast job ...`
#[derive(Debug, Subcommand)]
pub enum JobCmd {
    /// Create a job of a recovery plan.
    Create {
        /// The recovery plan id.
        #[arg(long)]
        plan: String,
        /// `drill` or `dr`.
        #[arg(long = "type")]
        job_type: String,
        /// `now`, `at` or `schedule`.
        #[arg(long, default_value = "now")]
        run: String,
        /// `latest-data`, `latest-snapshot` or `snapshot`.
        #[arg(long, default_value = "latest-snapshot")]
        point: String,
        /// The snapshot of `--point snapshot`.
        #[arg(long)]
        snapshot: Option<String>,
        /// The time of `--run at` (RFC 3339).
        #[arg(long)]
        at: Option<String>,
        /// JSON file with the schedule of `--run schedule`.
        #[arg(long)]
        schedule_file: Option<PathBuf>,
        /// Name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List jobs.
    List {
        /// Only this protection group.
        #[arg(long)]
        group: Option<String>,
        /// Only this plan.
        #[arg(long)]
        plan: Option<String>,
        /// Only this state.
        #[arg(long)]
        state: Option<String>,
        /// Only this type.
        #[arg(long = "type")]
        job_type: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a job.
    Show {
        /// Job id.
        id: String,
    },
    /// Change the time of an `at` job or the schedule of a `schedule` job.
    Update {
        /// Job id.
        id: String,
        /// New time (RFC 3339).
        #[arg(long)]
        at: Option<String>,
        /// JSON file with the new schedule.
        #[arg(long)]
        schedule_file: Option<PathBuf>,
    },
    /// Delete a job that is not running.
    Delete {
        /// Job id.
        id: String,
    },
    /// Start a pending job or resume a paused one.
    Run {
        /// Job id.
        id: String,
    },
    /// Pause a running job.
    Pause {
        /// Job id.
        id: String,
    },
    /// Stop a running or paused job.
    Cancel {
        /// Job id.
        id: String,
    },
    /// Recover instances of a completed DR job again.
    Retry {
        /// Job id.
        id: String,
        /// Instance id (repeat).
        #[arg(long = "instance", required = true)]
        instances: Vec<String>,
        /// Recover from this snapshot instead of the job's point.
        #[arg(long)]
        snapshot: Option<String>,
    },
    /// Roll a completed job back.
    Rollback {
        /// Job id.
        id: String,
    },
    /// Retry a failed rollback (DR).
    RetryRollback {
        /// Job id.
        id: String,
    },
    /// Finish a failed rollback without cleanup; prints the cleanup script.
    IgnoreRollback {
        /// Job id.
        id: String,
    },
    /// Keep a completed DR job's workload.
    Confirm {
        /// Job id.
        id: String,
    },
    /// Retry a failed confirm.
    RetryConfirm {
        /// Job id.
        id: String,
    },
    /// Abandon a failed confirm and roll back.
    CancelConfirm {
        /// Job id.
        id: String,
    },
    /// Postpone a drill's automatic rollback.
    Extend {
        /// Job id.
        id: String,
        /// Minutes to add (1 to 10080).
        #[arg(long)]
        minutes: u64,
    },
    /// The job's monitor: progress, tasks, instances, volumes, log.
    Monitor {
        /// Job id.
        id: String,
    },
    /// Follow a job until it reaches a state (or leaves the list), printing each change.
    Watch {
        /// Job id.
        id: String,
        /// Stop at this state (default: when the job leaves the list).
        #[arg(long)]
        until: Option<String>,
        /// Poll interval in milliseconds.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
    },
}

/// `holdfast report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// List reports.
    List {
        /// Only this job type.
        #[arg(long = "type")]
        job_type: Option<String>,
        /// Only this result.
        #[arg(long)]
        result: Option<String>,
        /// Only this protection group.
        #[arg(long)]
        group: Option<String>,
        /// Paging.
        #[command(flatten)]
        paging: Paging,
    },
    /// Show a report.
    Show {
        /// Report id.
        id: String,
    },
    /// Export a report (`json` or `html`) to a file.
    Export {
        /// Report id.
        id: String,
        /// `json` or `html` (`-f` is the output format of every command).
        #[arg(long = "as", default_value = "json")]
        file_format: String,
        /// Output file.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Delete a drill report.
    Delete {
        /// Report id.
        id: String,
    },
}

fn read_json(path: &PathBuf) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))
}

async fn operate(c: &Client, id: &str, op: &str, body: Option<Value>) -> Result<Value, CliError> {
    c.send(
        Method::POST,
        &format!("/api/v1/jobs/{id}/operations/{op}"),
        &[],
        body.as_ref(),
    )
    .await
}

/// Runs a `job` command.
pub async fn run(c: Client, cmd: JobCmd, fmt: Format) -> Result<String, CliError> {
    let v = match cmd {
        JobCmd::Create {
            plan,
            job_type,
            run,
            point,
            snapshot,
            at,
            schedule_file,
            name,
        } => {
            let mut body = json!({"plan_id": plan, "type": job_type, "run_type": run,
                "recovery_point": point});
            for (k, v) in [("snapshot_id", snapshot), ("at", at), ("name", name)] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if let Some(p) = &schedule_file {
                body["schedule"] = read_json(p)?;
            }
            c.send(Method::POST, "/api/v1/jobs", &[], Some(&body))
                .await?
        }
        JobCmd::List {
            group,
            plan,
            state,
            job_type,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "group", &group);
            opt(&mut q, "plan", &plan);
            opt(&mut q, "state", &state);
            opt(&mut q, "type", &job_type);
            paging(&mut q, &p);
            c.send(Method::GET, "/api/v1/jobs", &q, None).await?
        }
        JobCmd::Show { id } => {
            c.send(Method::GET, &format!("/api/v1/jobs/{id}"), &[], None)
                .await?
        }
        JobCmd::Update {
            id,
            at,
            schedule_file,
        } => {
            let body = match (at, &schedule_file) {
                (Some(at), None) => json!({"at": at}),
                (None, Some(p)) => json!({"schedule": read_json(p)?}),
                _ => {
                    return Err(CliError::Usage(
                        "give exactly one of --at or --schedule-file".into(),
                    ));
                }
            };
            c.send(
                Method::PATCH,
                &format!("/api/v1/jobs/{id}"),
                &[],
                Some(&body),
            )
            .await?
        }
        JobCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("/api/v1/jobs/{id}"), &[], None)
                .await?
        }
        JobCmd::Run { id } => operate(&c, &id, "run", None).await?,
        JobCmd::Pause { id } => operate(&c, &id, "pause", None).await?,
        JobCmd::Cancel { id } => operate(&c, &id, "cancel", None).await?,
        JobCmd::Retry {
            id,
            instances,
            snapshot,
        } => {
            let body = json!({"instances": instances, "snapshot_id": snapshot});
            operate(&c, &id, "retry", Some(body)).await?
        }
        JobCmd::Rollback { id } => operate(&c, &id, "rollback", None).await?,
        JobCmd::RetryRollback { id } => operate(&c, &id, "retry-rollback", None).await?,
        JobCmd::IgnoreRollback { id } => {
            let v = operate(&c, &id, "ignore-rollback", None).await?;
            if fmt == Format::Table
                && let Some(script) = v["cleanup_script"].as_str()
            {
                return Ok(script.to_owned());
            }
            v
        }
        JobCmd::Confirm { id } => operate(&c, &id, "confirm", None).await?,
        JobCmd::RetryConfirm { id } => operate(&c, &id, "retry-confirm", None).await?,
        JobCmd::CancelConfirm { id } => operate(&c, &id, "cancel-confirm", None).await?,
        JobCmd::Extend { id, minutes } => {
            operate(
                &c,
                &id,
                "extend-rollback-wait",
                Some(json!({"minutes": minutes})),
            )
            .await?
        }
        JobCmd::Monitor { id } => {
            c.send(
                Method::GET,
                &format!("/api/v1/jobs/{id}/monitor"),
                &[],
                None,
            )
            .await?
        }
        JobCmd::Watch {
            id,
            until,
            interval_ms,
        } => return watch(&c, &id, until.as_deref(), interval_ms).await,
    };
    Ok(output::render(&v, fmt))
}

/// Polls the monitor; one line per change of state or progress.
async fn watch(
    c: &Client,
    id: &str,
    until: Option<&str>,
    interval_ms: u64,
) -> Result<String, CliError> {
    let mut out = String::new();
    let mut last = String::new();
    loop {
        let m = match c
            .send(
                Method::GET,
                &format!("/api/v1/jobs/{id}/monitor"),
                &[],
                None,
            )
            .await
        {
            Ok(m) => m,
            Err(CliError::Api { status: 404, .. }) if !last.is_empty() => {
                out.push_str("finished: the job left the list (see `holdfast report list`)\n");
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        let state = m["job"]["state"].as_str().unwrap_or("?").to_owned();
        let line = format!(
            "{state} {}/{} tasks{}",
            m["progress"]["done"],
            m["progress"]["total"],
            m["job"]["result"]
                .as_str()
                .map(|r| format!(", result {r}"))
                .unwrap_or_default()
        );
        if line != last {
            out.push_str(&line);
            out.push('\n');
            last = line;
        }
        if until == Some(state.as_str()) {
            return Ok(out);
        }
        tokio::time::sleep(Duration::from_millis(interval_ms.max(100))).await;
    }
}

/// Runs a `report` command.
pub async fn report(c: Client, cmd: ReportCmd, fmt: Format) -> Result<String, CliError> {
    let v = match cmd {
        ReportCmd::List {
            job_type,
            result,
            group,
            paging: p,
        } => {
            let mut q = Vec::new();
            opt(&mut q, "type", &job_type);
            opt(&mut q, "result", &result);
            opt(&mut q, "group", &group);
            paging(&mut q, &p);
            c.send(Method::GET, "/api/v1/reports", &q, None).await?
        }
        ReportCmd::Show { id } => {
            c.send(Method::GET, &format!("/api/v1/reports/{id}"), &[], None)
                .await?
        }
        ReportCmd::Export {
            id,
            file_format,
            output,
        } => {
            let v = c
                .send(
                    Method::GET,
                    &format!("/api/v1/reports/{id}/export"),
                    &[("format", file_format.clone())],
                    None,
                )
                .await?;
            let text = match v {
                Value::String(s) => s,
                other => serde_json::to_string_pretty(&other).unwrap_or_default(),
            };
            std::fs::write(&output, text)
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", output.display())))?;
            return Ok(format!("report {id} written to {}\n", output.display()));
        }
        ReportCmd::Delete { id } => {
            c.send(Method::DELETE, &format!("/api/v1/reports/{id}"), &[], None)
                .await?;
            return Ok(format!("report {id} deleted\n"));
        }
    };
    Ok(output::render(&v, fmt))
}
