//! `/api/v1/protection-groups/{id}/snapshots`: protection-group snapshots (protection.md,
//! "Snapshots"; rights of the protection-groups menu), and
//! `/api/v1/plans/{id}/replication`: the plan's replication per volume.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Params;
use super::page::{Page, PageRequest};
use crate::db;
use crate::domain::rbac::{Action, Menu};
use crate::dr::ids::{PlanId, SnapshotId};
use crate::protection::snapshots::{self as ops, PlanSnapshotDoc, Trigger};
use crate::replication::{GroupSnapshot, ReplicationFacts};
use crate::state::AppState;

/// The plan as it was when the snapshot was taken (the plan snapshot), summarised.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanSnapshotSummary {
    /// The plan's name then.
    pub plan_name: String,
    /// Its retention then.
    pub retention: u8,
    /// The group's instance ids then.
    pub instances: Vec<String>,
    /// The protected volume ids then.
    pub volumes: Vec<String>,
    /// Instances the recovery rebuilds.
    pub recovered_instances: usize,
}

/// One volume's part of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SnapshotVolumeView {
    /// The source volume.
    pub volume: String,
    /// The target agent holding its snapshot.
    pub target_node: String,
    /// The replication epoch the snapshot contains.
    pub epoch: u64,
}

/// A protection-group snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SnapshotView {
    /// Id.
    pub id: String,
    /// The plan it belongs to.
    pub plan_id: String,
    /// The cut point (RFC 3339).
    pub taken_at: String,
    /// The snapshot's name on every target volume.
    pub snapshot_name: String,
    /// Each volume's part.
    pub volumes: Vec<SnapshotVolumeView>,
    /// The plan snapshot; `null` when its record is unreadable.
    pub plan: Option<PlanSnapshotSummary>,
}

fn view(s: GroupSnapshot) -> SnapshotView {
    let plan = serde_json::from_str::<PlanSnapshotDoc>(&s.plan_json)
        .ok()
        .map(|d| PlanSnapshotSummary {
            plan_name: d.plan_name,
            retention: d.retention,
            instances: d.instances,
            volumes: d.volumes,
            recovered_instances: d.spec.topology.instances.len(),
        });
    SnapshotView {
        id: s.id.to_string(),
        plan_id: s.owner.to_string(),
        taken_at: super::time_text(s.taken_at_ms),
        snapshot_name: s.snapshot_name,
        volumes: s
            .volumes
            .into_iter()
            .map(|v| SnapshotVolumeView {
                volume: v.volume.to_string(),
                target_node: v.target_node,
                epoch: v.epoch,
            })
            .collect(),
        plan,
    }
}

/// Paging of the snapshot list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// Only snapshots taken at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// The group's plan id, or 409 `no_plan`.
async fn plan_of(state: &AppState, group_id: &str) -> ApiResult<Option<PlanId>> {
    let mut c = state.db.conn().await?;
    Ok(db::plans::of_group(&mut c, group_id)
        .await?
        .map(|p| PlanId::new(p.id)))
}

fn no_plan(group_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_plan",
        format!(
            "protection group {group_id} has no recovery plan: snapshots exist only once a plan replicates the group; create its plan first"
        ),
    )
}

/// Lists the group's snapshots, newest first (none without a plan).
#[utoipa::path(get, path = "/api/v1/protection-groups/{id}/snapshots", tag = "protection",
    params(("id" = String, Path, description = "protection group id"), SnapshotQuery),
    responses((status = 200, body = Page<SnapshotView>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Params(q): Params<SnapshotQuery>,
) -> ApiResult<Json<Page<SnapshotView>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    super::protection_groups::authorised(&state, &auth, &id, Menu::ProtectionGroups, Action::Read)
        .await?;
    let since = match &q.since {
        Some(t) => Some(
            t.parse::<jiff::Timestamp>()
                .map_err(|e| {
                    ApiError::invalid(format!("since {t:?} is not an RFC 3339 time: {e}"))
                })?
                .as_millisecond(),
        ),
        None => None,
    };
    let all = match plan_of(&state, &id).await? {
        Some(plan) => state
            .replication
            .snapshots(&plan)
            .await
            .map_err(ops::SnapshotRefusal::from)?,
        None => Vec::new(),
    };
    let all: Vec<GroupSnapshot> = all
        .into_iter()
        .filter(|s| since.is_none_or(|t| s.taken_at_ms >= t))
        .collect();
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    let items = all
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .map(view)
        .collect();
    Ok(Json(Page::new(items, total, page)))
}

/// Takes a snapshot now ("snapshot now"), in addition to the schedule; the plan's
/// retention then applies. Refused (409) without a plan or while the plan does not
/// replicate yet.
#[utoipa::path(post, path = "/api/v1/protection-groups/{id}/snapshots", tag = "protection",
    params(("id" = String, Path, description = "protection group id")),
    responses((status = 201, body = SnapshotView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<SnapshotView>)> {
    super::protection_groups::authorised(
        &state,
        &auth,
        &id,
        Menu::ProtectionGroups,
        Action::Create,
    )
    .await?;
    let plan = plan_of(&state, &id).await?.ok_or_else(|| no_plan(&id))?;
    let s = ops::take(&state, &plan, Trigger::Manual).await?;
    Ok((StatusCode::CREATED, Json(view(s))))
}

/// Deletes a snapshot from the target storage.
#[utoipa::path(delete, path = "/api/v1/protection-groups/{id}/snapshots/{sid}", tag = "protection",
    params(("id" = String, Path, description = "protection group id"),
           ("sid" = String, Path, description = "snapshot id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    super::protection_groups::authorised(
        &state,
        &auth,
        &id,
        Menu::ProtectionGroups,
        Action::Delete,
    )
    .await?;
    let plan = plan_of(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("snapshot", &sid))?;
    ops::delete(&state, &plan, &SnapshotId::new(sid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The plan's replication per volume: phase, initial-copy progress, lag against the RPO.
#[utoipa::path(get, path = "/api/v1/plans/{id}/replication", tag = "protection",
    params(("id" = String, Path, description = "plan id")),
    responses((status = 200, body = ReplicationFacts), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replication(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ReplicationFacts>> {
    super::plans::authorised(&state, &auth, &id, Action::Read).await?;
    let facts = state
        .replication
        .volume_detail(&PlanId::new(id))
        .await
        .map_err(ops::SnapshotRefusal::from)?;
    Ok(Json(facts))
}
