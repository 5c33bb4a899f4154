//! The status probe: a fresh Keystone token plus a cheap Nova call, without retries;
//! Active when both succeed. A change is recorded by compare-and-set, stores its event in
//! the same transaction, then delivers it and calls the plan hook.

use std::time::Duration;

use holdfast_openstack::{Options, RetryPolicy, Session};

use crate::db;
use crate::domain::cluster::ClusterStatus;
use crate::events::{Event, Severity};
use crate::state::{App, now_ms};

/// Probes one cluster: `Err` says why it is not reachable or not authenticated.
pub async fn probe(app: &App, cluster_id: &str) -> Result<(), String> {
    let record = {
        let mut conn = app.db.conn().await.map_err(|e| e.to_string())?;
        db::clusters::get(&mut conn, cluster_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the cluster was deleted".to_owned())?
    };
    let credentials = app.clusters.credentials(&record)?;
    let options = Options {
        retry: RetryPolicy::none(),
        request_timeout: Some(Duration::from_secs(10)),
        connect_timeout: Some(Duration::from_secs(5)),
        ..Options::default()
    };
    let session = Session::connect(credentials, options)
        .await
        .map_err(|e| e.to_string())?;
    session
        .nova()
        .availability_zones()
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Probes and records the status; raises `cluster.active` / `cluster.inactive` on change.
#[tracing::instrument(skip_all, fields(cluster_id = %cluster_id))]
pub async fn probe_and_record(app: &App, cluster_id: &str) {
    let result = probe(app, cluster_id).await;
    let (status, reason) = match &result {
        Ok(()) => (ClusterStatus::Active, None),
        Err(e) => (ClusterStatus::Inactive, Some(e.as_str())),
    };
    // the status and its event commit together: a crash between them loses neither alone
    let recorded = async {
        let mut tx = app.db.begin().await?;
        let changed =
            db::clusters::set_status(&mut tx, cluster_id, status.as_str(), reason, now_ms())
                .await?;
        let event = if changed {
            let group = db::clusters::get(&mut tx, cluster_id)
                .await?
                .map(|c| c.owner_group_id);
            let event = status_event(cluster_id, reason, group);
            crate::events::record(&mut tx, &event).await?;
            Some(event)
        } else {
            None
        };
        tx.commit().await?;
        Ok::<_, db::DbError>(event)
    }
    .await;
    let event = match recorded {
        Ok(Some(event)) => event,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the cluster status");
            return;
        }
    };
    if status == ClusterStatus::Inactive {
        app.clusters.forget_session(cluster_id).await;
    }
    if let Err(e) = crate::events::deliver(app, event).await {
        tracing::warn!(error = %e, "cannot deliver the cluster status event");
    }
    super::plan_hooks::reevaluate_plans_after_status_change(app, cluster_id, status).await;
}

/// `cluster.active` (no reason) or `cluster.inactive` (why not).
fn status_event(cluster_id: &str, reason: Option<&str>, group: Option<String>) -> Event {
    match reason {
        None => Event::new(
            "cluster.active",
            Severity::Info,
            "the cluster is reachable and authenticated again",
        ),
        Some(r) => Event::new(
            "cluster.inactive",
            Severity::Critical,
            format!("the cluster is not reachable or not authenticated: {r}"),
        ),
    }
    .object("cluster", cluster_id)
    .group(group)
}
