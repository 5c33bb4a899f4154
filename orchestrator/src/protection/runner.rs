//! The leader's protection loop (protection.md, "On create", "Snapshots"; platform.md,
//! "Schedules"). Every [`PASS_EVERY`], on the lease holder only, for each plan:
//!
//! 1. replication replicates exactly the plan's volumes (started again when a volume is
//!    missing or extra, e.g. the agents were not up when the plan was created);
//! 2. the plan's state is re-evaluated (replication facts change without events);
//! 3. when every volume's initial copy is done and the plan has no snapshot yet, the
//!    first group snapshot is taken, so the plan becomes `Normal`;
//! 4. the group's snapshot interval is a persistent schedule (`plan-snapshot:<plan>`),
//!    fired once per slot by the scheduler, also with several replicas ([`scheduled`]);
//! 5. a warning event when a volume's lag exceeds its RPO, once per crossing (an info
//!    event when it is back within). The crossings are remembered by this process:
//!    a new leader raises a still-open crossing once more.

use std::collections::BTreeSet;
use std::time::Duration;

use super::snapshots::{self, Trigger};
use super::{evaluate, plans};
use crate::db::plans::{PlanFilter, PlanRecord};
use crate::db::{self, DbError};
use crate::domain::schedule::{MissedPolicy, Recurrence};
use crate::dr::ids::PlanId;
use crate::events::{Event, Severity};
use crate::scheduler::{self, StoredSpec};
use crate::state::{App, AppState, now_ms};

/// How often the loop looks at every plan.
pub const PASS_EVERY: Duration = Duration::from_secs(2);

/// The scheduler purpose of snapshot schedules.
pub const SNAPSHOT_PURPOSE: &str = "plan-snapshot";

/// The id of a plan's snapshot schedule.
pub fn schedule_id(plan: &str) -> String {
    format!("{SNAPSHOT_PURPOSE}:{plan}")
}

/// Volumes whose lag is over the RPO, as (plan, volume).
#[derive(Debug, Default)]
pub struct LagWatch {
    over: BTreeSet<(String, String)>,
}

/// A change of a volume's lag against its RPO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LagCrossing {
    /// The lag went over the RPO.
    Over {
        /// The volume.
        volume: String,
        /// Its lag (ms).
        lag_ms: u64,
        /// Its RPO (ms).
        rpo_ms: u64,
    },
    /// The lag is back within the RPO.
    Within {
        /// The volume.
        volume: String,
    },
}

impl LagWatch {
    /// Records the plan's volumes now (volume, lag, RPO, over) and returns the
    /// crossings since the last call (pure).
    pub fn observe(
        &mut self,
        plan: &str,
        volumes: &[(String, Option<u64>, u64, bool)],
    ) -> Vec<LagCrossing> {
        let mut out = Vec::new();
        for (volume, lag, rpo, over) in volumes {
            let key = (plan.to_owned(), volume.clone());
            if *over && self.over.insert(key.clone()) {
                out.push(LagCrossing::Over {
                    volume: volume.clone(),
                    lag_ms: lag.unwrap_or(0),
                    rpo_ms: *rpo,
                });
            } else if !*over && self.over.remove(&key) {
                out.push(LagCrossing::Within {
                    volume: volume.clone(),
                });
            }
        }
        // Volumes no longer replicated are forgotten.
        self.over
            .retain(|(p, v)| p != plan || volumes.iter().any(|(x, ..)| x == v));
        out
    }

    /// Forgets every plan not in `plans`.
    pub fn keep_plans(&mut self, plans: &BTreeSet<String>) {
        self.over.retain(|(p, _)| plans.contains(p));
    }
}

/// Runs the loop until shutdown.
pub async fn run(app: AppState) {
    let mut shutdown = app.shutdown.clone();
    let mut every = tokio::time::interval(PASS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lag = LagWatch::default();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
            _ = every.tick() => {
                if !app.leader.is_leader() {
                    continue;
                }
                if let Err(e) = pass(&app, &mut lag).await {
                    tracing::warn!(error = %e, "protection pass failed; retrying");
                }
            }
        }
    }
}

/// One pass over every plan.
pub async fn pass(app: &App, lag: &mut LagWatch) -> Result<(), DbError> {
    let all = PlanFilter {
        member: None,
        cluster_id: None,
        state: None,
        search: None,
    };
    let (plans, _) = {
        let mut c = app.db.conn().await?;
        db::plans::list(&mut c, &all, i64::MAX, 0).await?
    };
    lag.keep_plans(&plans.iter().map(|p| p.id.clone()).collect());
    for p in &plans {
        if !app.leader.is_leader() {
            break;
        }
        plan_pass(app, p, lag).await;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(plan_id = %p.id, group_id = %p.group_id))]
async fn plan_pass(app: &App, p: &PlanRecord, lag: &mut LagWatch) {
    let plan = PlanId::new(&p.id);
    let detail = app.replication.volume_detail(&plan).await.ok();
    if let Some(d) = &detail {
        match plans::parse_mapping(p) {
            Ok(m) => {
                let have: BTreeSet<&str> = d.volumes.iter().map(|v| v.volume.as_str()).collect();
                let want: BTreeSet<&str> = m.volumes.iter().map(String::as_str).collect();
                if have != want
                    && let Err(e) = plans::restart_replication(app, &p.id).await
                {
                    tracing::warn!(error = %e, "replication could not be started again");
                }
            }
            Err(e) => tracing::warn!(error = %e, "unreadable plan mapping"),
        }
        let volumes: Vec<_> = d
            .volumes
            .iter()
            .map(|v| (v.volume.to_string(), v.lag_ms, v.rpo_ms, v.over_rpo))
            .collect();
        for c in lag.observe(&p.id, &volumes) {
            lag_event(app, p, c).await;
        }
    }
    if let Err(e) = evaluate::evaluate_plan(app, &p.id).await {
        tracing::warn!(error = %e, "plan evaluation failed");
    }
    if let Some(d) = &detail
        && d.initial_copy_done()
    {
        match app.replication.snapshots(&plan).await {
            Ok(s) if s.is_empty() => {
                if let Err(e) = snapshots::take(app, &plan, Trigger::First).await {
                    tracing::warn!(error = %e, "the first snapshot failed; retrying");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the plan's snapshots cannot be listed"),
        }
    }
    if let Err(e) = ensure_schedule(app, p).await {
        tracing::warn!(error = %e, "the snapshot schedule could not be registered");
    }
}

async fn lag_event(app: &App, p: &PlanRecord, c: LagCrossing) {
    let owner = match app.db.conn().await {
        Ok(mut conn) => db::protection_groups::get(&mut conn, &p.group_id)
            .await
            .ok()
            .flatten()
            .map(|g| g.owner_group_id),
        Err(_) => None,
    };
    let (severity, volume, message) = match &c {
        LagCrossing::Over {
            volume,
            lag_ms,
            rpo_ms,
        } => (
            Severity::Warning,
            volume,
            format!(
                "replication lag of volume {volume} (plan {}) is {} s, above the RPO of {} s",
                p.name,
                lag_ms / 1000,
                rpo_ms / 1000
            ),
        ),
        LagCrossing::Within { volume } => (
            Severity::Info,
            volume,
            format!(
                "replication lag of volume {volume} (plan {}) is back within the RPO",
                p.name
            ),
        ),
    };
    let code = match c {
        LagCrossing::Over { .. } => "replication.lag.over_rpo",
        LagCrossing::Within { .. } => "replication.lag.within_rpo",
    };
    let e = Event::new(code, severity, message)
        .object("plan", &p.id)
        .object("protection_group", &p.group_id)
        .object("volume", volume)
        .group(owner);
    if let Err(e) = crate::events::publish(app, e).await {
        tracing::warn!(error = %e, "lag event not recorded");
    }
}

/// Registers (or re-registers, after the interval changed) the plan's snapshot
/// schedule from its group's snapshot interval.
async fn ensure_schedule(app: &App, p: &PlanRecord) -> Result<(), scheduler::SchedulerError> {
    let id = schedule_id(&p.id);
    let (group, existing) = {
        let mut c = app.db.conn().await?;
        (
            db::protection_groups::get(&mut c, &p.group_id).await?,
            db::schedules::get(&mut c, &id).await?,
        )
    };
    let Some(group) = group else {
        return Ok(());
    };
    let recurrence: Recurrence =
        serde_json::from_str(&group.snapshot_interval_json).map_err(|e| {
            scheduler::SchedulerError::Corrupt {
                id: id.clone(),
                reason: format!("the group's snapshot interval is unreadable: {e}"),
            }
        })?;
    if let Some(s) = &existing {
        let same = serde_json::from_str::<StoredSpec>(&s.spec_json)
            .is_ok_and(|spec| spec.recurrence == recurrence);
        if same {
            return Ok(());
        }
        let mut c = app.db.conn().await?;
        db::schedules::delete(&mut c, &id).await?;
    }
    scheduler::ensure(
        &app.db,
        &id,
        SNAPSHOT_PURPOSE,
        recurrence,
        "UTC",
        now_ms(),
        MissedPolicy::RunOnceLate,
    )
    .await?;
    tracing::info!(schedule = %id, ?recurrence, "snapshot schedule registered");
    Ok(())
}

/// What a fired snapshot slot does: a snapshot of a plan that replicates; the schedule
/// of a deleted plan is removed. The text is the slot's result (`/api/v1/schedules`).
pub async fn scheduled(app: &App, schedule_id: &str) -> Result<String, String> {
    let Some(plan) = schedule_id.strip_prefix(&format!("{SNAPSHOT_PURPOSE}:")) else {
        tracing::warn!(schedule = schedule_id, "not a snapshot schedule");
        return Err(format!("{schedule_id} is not a snapshot schedule"));
    };
    let exists = match app.db.conn().await {
        Ok(mut c) => db::plans::get(&mut c, plan).await.map(|p| p.is_some()),
        Err(e) => Err(e),
    };
    match exists {
        Ok(true) => {}
        Ok(false) => {
            if let Ok(mut c) = app.db.conn().await
                && let Err(e) = db::schedules::delete(&mut c, schedule_id).await
            {
                tracing::warn!(error = %e, "the schedule of a deleted plan could not be removed");
            }
            return Ok(format!("plan {plan} no longer exists; schedule removed"));
        }
        Err(e) => {
            tracing::warn!(error = %e, plan_id = plan, "scheduled snapshot skipped");
            return Err(format!("scheduled snapshot skipped: {e}"));
        }
    }
    let id = PlanId::new(plan);
    let first_done = app
        .replication
        .snapshots(&id)
        .await
        .is_ok_and(|s| !s.is_empty());
    if !first_done {
        tracing::info!(
            plan_id = plan,
            "scheduled snapshot skipped: the plan's first snapshot is not taken yet"
        );
        return Ok("skipped: the plan's first snapshot is not taken yet".to_owned());
    }
    match snapshots::take(app, &id, Trigger::Scheduled).await {
        Ok(_) => Ok("group snapshot taken".to_owned()),
        Err(e) => {
            tracing::warn!(plan_id = plan, error = %e, "scheduled snapshot failed");
            Err(format!("scheduled snapshot failed: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, over: bool) -> (String, Option<u64>, u64, bool) {
        (
            name.to_owned(),
            Some(if over { 9_000 } else { 10 }),
            1_000,
            over,
        )
    }

    #[test]
    fn a_crossing_is_reported_once_each_way() {
        let mut w = LagWatch::default();
        assert!(w.observe("p", &[v("a", false)]).is_empty());
        assert_eq!(
            w.observe("p", &[v("a", true)]),
            vec![LagCrossing::Over {
                volume: "a".into(),
                lag_ms: 9_000,
                rpo_ms: 1_000
            }]
        );
        assert!(w.observe("p", &[v("a", true)]).is_empty());
        assert_eq!(
            w.observe("p", &[v("a", false)]),
            vec![LagCrossing::Within { volume: "a".into() }]
        );
        assert!(w.observe("p", &[v("a", false)]).is_empty());
    }

    #[test]
    fn plans_and_volumes_are_independent_and_forgotten() {
        let mut w = LagWatch::default();
        assert_eq!(w.observe("p", &[v("a", true), v("b", true)]).len(), 2);
        assert_eq!(w.observe("q", &[v("a", true)]).len(), 1);
        // b no longer replicates: forgotten, so a new crossing is reported again.
        assert!(w.observe("p", &[v("a", true)]).is_empty());
        assert_eq!(w.observe("p", &[v("a", true), v("b", true)]).len(), 1);
        w.keep_plans(&BTreeSet::from(["q".to_owned()]));
        assert_eq!(w.observe("p", &[v("a", true)]).len(), 1);
        assert!(w.observe("q", &[v("a", true)]).is_empty());
    }

    #[test]
    fn schedule_ids_name_the_plan() {
        assert_eq!(schedule_id("p1"), "plan-snapshot:p1");
    }
}
