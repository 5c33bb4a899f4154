//! The drivers: a task per job whose stored state needs work. `recovery` runs the
//! executor under the job's [`RunControl`] and feeds "all tasks done" back; `clear`
//! rolls back or confirms and feeds "all clear tasks done" back. Both start from the
//! stored state, so they resume after a restart.

use tokio::sync::watch;

use super::record;
use super::source::FrozenJob;
use super::{JobError, Jobs};
use crate::db::job_engine::{self as rows, JobRow};
use crate::dr::ids::{InstanceId, JobId};
use crate::dr::job::ClearOperation;
use crate::dr::job_state::{Event, Phase};
use crate::recovery::{Executor, NewJob, RecoveryReport, RunControl};
use crate::state::AppState;

fn frozen(row: &JobRow) -> Result<(FrozenJob, JobId), JobError> {
    let json = row
        .frozen_json
        .as_deref()
        .ok_or_else(|| record::CorruptJob(format!("job {} has no frozen copy", row.id)))?;
    let run = row
        .run_id
        .as_deref()
        .ok_or_else(|| record::CorruptJob(format!("job {} has no run", row.id)))?;
    Ok((record::parse_frozen(json)?, JobId::new(run)))
}

async fn executor(app: &AppState, f: &FrozenJob) -> Result<Executor, JobError> {
    let cloud = app.jobs.source.target(&f.target.id).await?;
    Ok(Executor::new(app.db.clone(), cloud))
}

/// The executor's run of the job (created on first use).
async fn ensure_run(
    app: &AppState,
    ex: &Executor,
    row: &JobRow,
    f: &FrozenJob,
    run: &JobId,
) -> Result<(), JobError> {
    let exists = {
        let mut conn = app.db.conn().await?;
        crate::db::jobs::get(&mut conn, run.as_str())
            .await?
            .is_some()
    };
    if !exists {
        let job_type = record::parse_type(&row.job_type)
            .ok_or_else(|| record::CorruptJob(format!("job type {:?}", row.job_type)))?;
        ex.create_job(&NewJob {
            id: run.clone(),
            plan: f.plan.clone(),
            group: f.group.clone(),
            target: f.target.id.clone(),
            job_type,
            point: f.point.clone(),
            spec: f.spec.clone(),
        })
        .await?;
    }
    Ok(())
}

/// Feeds `event` to the job while its state is one of `states` (retried over
/// concurrent changes); a job that moved elsewhere is left alone.
async fn feed(
    jobs: &Jobs,
    app: &AppState,
    id: &str,
    states: &[&str],
    event: Event,
    reason: Option<String>,
) -> Result<(), JobError> {
    for _ in 0..10 {
        let mut row = {
            let mut conn = app.db.conn().await?;
            match rows::get(&mut conn, id).await? {
                Some(r) => r,
                None => return Ok(()),
            }
        };
        if !states.contains(&row.state.as_str()) {
            return Ok(());
        }
        if let Some(r) = &reason {
            row.reason = Some(r.clone());
        }
        match jobs.apply(app, row, event.clone()).await {
            Err(JobError::Changed(_)) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(JobError::Changed(id.to_owned()))
}

/// Runs (or resumes) the recovery of a running / paused / canceling job.
pub(super) async fn recovery(
    app: &AppState,
    row: JobRow,
    control: watch::Receiver<RunControl>,
) -> Result<(), JobError> {
    let (f, run) = frozen(&row)?;
    let ex = executor(app, &f).await?;
    ensure_run(app, &ex, &row, &f, &run).await?;
    let report = ex.recover_controlled(&run, control).await?;
    feed(
        &app.jobs,
        app,
        &row.id,
        &["running", "canceling"],
        Event::AllTasksDone(report.outcome),
        None,
    )
    .await
}

fn failed_instances(report: &RecoveryReport) -> Vec<InstanceId> {
    report
        .instances
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(i, _)| i.clone())
        .collect()
}

/// Rolls back or confirms a clearing job.
pub(super) async fn clear(app: &AppState, row: JobRow) -> Result<(), JobError> {
    let state = record::parse_state(&row.state_json)?;
    let Phase::Clearing { operation, .. } = state.phase else {
        return Ok(());
    };
    let (f, run) = frozen(&row)?;
    let ex = executor(app, &f).await?;
    let outcome: Result<(), String> = match operation {
        ClearOperation::Rollback => {
            let has_run = {
                let mut conn = app.db.conn().await?;
                crate::db::jobs::get(&mut conn, run.as_str()).await?
            };
            match has_run {
                // nothing was ever created
                None => Ok(()),
                Some(r) if r.phase == "rolled_back" => Ok(()),
                Some(_) => match ex.rollback(&run).await {
                    Ok(r) if r.failed.is_empty() => Ok(()),
                    Ok(r) => Err(format!(
                        "{} resource(s) could not be deleted: {}",
                        r.failed.len(),
                        r.failed
                            .iter()
                            .map(|(what, why)| format!("{what}: {why}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Err(e) => Err(e.to_string()),
                },
            }
        }
        ClearOperation::Confirm => {
            let report = ex.recover(&run).await?;
            let failed = failed_instances(&report);
            let set = failed.iter().cloned().collect();
            let split = if failed.is_empty() {
                Ok(())
            } else {
                match ex.rollback_instances(&run, &set).await {
                    Ok(r) if r.failed.is_empty() => Ok(()),
                    Ok(r) => Err(format!(
                        "{} resource(s) of the failed instances could not be deleted: {}",
                        r.failed.len(),
                        r.failed
                            .iter()
                            .map(|(what, why)| format!("{what}: {why}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Err(e) => Err(e.to_string()),
                }
            };
            match split {
                Ok(()) => app
                    .jobs
                    .source
                    .confirmed(&f, &failed)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            }
        }
    };
    let succeeded = outcome.is_ok();
    feed(
        &app.jobs,
        app,
        &row.id,
        &["clearing"],
        Event::AllClearTasksDone { succeeded },
        outcome.err(),
    )
    .await
}
