//! `/api/v1/schedules`: the scheduler's schedules, read-only (list with paging and
//! filters, detail). Admins see all; Managers the system's and their groups' objects'.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Params;
use super::page::{Page, PageRequest};
use crate::db;
use crate::db::schedule_list::ScheduleRow;
use crate::domain::rbac::{self, Action, Actor, Menu, Owner};
use crate::state::AppState;

/// The object a schedule belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleOwner {
    /// `system` (built-in upkeep) or `plan` (a recovery plan's snapshot schedule).
    pub kind: String,
    /// The object's id (`null` for `system`).
    pub id: Option<String>,
    /// The user group owning the object (`null` for `system`, or when the plan is gone).
    pub group_id: Option<String>,
}

/// The latest fired slot of a schedule and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastFire {
    /// The slot (RFC 3339, UTC).
    pub slot: String,
    /// When an orchestrator claimed it (RFC 3339, UTC).
    pub fired_at: String,
    /// The orchestrator replica that ran it.
    pub fired_by: String,
    /// When its task ended (RFC 3339); `null` while running or if the replica stopped.
    pub finished_at: Option<String>,
    /// `ok` or `failed`; `null` like `finished_at`.
    pub result: Option<String>,
    /// What the task reported (the failure's cause, or what it did).
    pub detail: Option<String>,
}

/// A schedule.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleView {
    /// Id (`builtin:event-retention`, `builtin:licence-check`, `plan-snapshot:<plan>`).
    pub id: String,
    /// What it does: `event-retention`, `licence-check`, `plan-snapshot`.
    pub kind: String,
    /// The object it belongs to.
    pub owner: ScheduleOwner,
    /// How it recurs (`domain::schedule::Recurrence` as JSON, e.g.
    /// `{"kind": "every_hours", "n": 1}`); `null` if the stored specification is unreadable.
    #[schema(value_type = Option<Object>)]
    pub recurrence: Option<serde_json::Value>,
    /// The IANA time zone its wall-clock times are in.
    pub time_zone: String,
    /// What happens to a slot missed while no orchestrator ran: `run_once_late` (one late
    /// run for all missed slots) or `skip` (wait for the next slot).
    pub missed_policy: String,
    /// The next slot (RFC 3339, UTC); `null` when it will not fire again.
    pub next_fire_at: Option<String>,
    /// The latest slot handled, fired or skipped (RFC 3339, UTC).
    pub last_slot_at: Option<String>,
    /// The latest fired slot and its result.
    pub last_fire: Option<LastFire>,
    /// Created (RFC 3339, UTC).
    pub created_at: String,
}

/// Filters of the schedule list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ScheduleQuery {
    /// Only this kind (`event-retention`, `licence-check`, `plan-snapshot`).
    pub kind: Option<String>,
    /// Only schedules of this object id (e.g. a plan id).
    pub owner: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// The object a schedule belongs to, from its id and purpose.
pub fn owner_of(id: &str, purpose: &str, group_id: Option<String>) -> ScheduleOwner {
    let snapshot = crate::protection::runner::SNAPSHOT_PURPOSE;
    match id.strip_prefix(snapshot).and_then(|r| r.strip_prefix(':')) {
        Some(plan) if purpose == snapshot => ScheduleOwner {
            kind: "plan".to_owned(),
            id: Some(plan.to_owned()),
            group_id,
        },
        _ => ScheduleOwner {
            kind: "system".to_owned(),
            id: None,
            group_id: None,
        },
    }
}

fn view(r: ScheduleRow) -> ScheduleView {
    let s = r.schedule;
    let recurrence = serde_json::from_str::<crate::scheduler::StoredSpec>(&s.spec_json)
        .ok()
        .and_then(|spec| serde_json::to_value(spec.recurrence).ok());
    ScheduleView {
        owner: owner_of(&s.id, &s.purpose, r.owner_group_id),
        id: s.id,
        kind: s.purpose,
        recurrence,
        time_zone: s.time_zone,
        missed_policy: s.missed_policy,
        next_fire_at: s.next_fire_at.map(super::time_text),
        last_slot_at: s.last_slot_at.map(super::time_text),
        last_fire: r.last_fire.map(|f| LastFire {
            slot: super::time_text(f.slot_at),
            fired_at: super::time_text(f.fired_at),
            fired_by: f.fired_by,
            finished_at: f.finished_at.map(super::time_text),
            result: f.result,
            detail: f.detail,
        }),
        created_at: super::time_text(s.created_at),
    }
}

fn allowed(actor: &Actor, owner: &ScheduleOwner) -> Result<(), rbac::Denied> {
    let groups: Vec<String> = owner.group_id.iter().cloned().collect();
    let owned_by = if owner.kind == "system" {
        Owner::System
    } else {
        Owner::Groups(&groups)
    };
    rbac::decide(actor, Menu::Schedules, Action::Read, owned_by)
}

/// Lists schedules by id; a Manager sees the system's and their groups' objects'.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(ScheduleQuery),
    responses((status = 200, body = Page<ScheduleView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Params(q): Params<ScheduleQuery>,
) -> ApiResult<Json<Page<ScheduleView>>> {
    rbac::decide(&auth.actor, Menu::Schedules, Action::Read, Owner::System)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = state.db.conn().await?;
    let rows = db::schedule_list::all(&mut conn).await?;
    drop(conn);
    let matching: Vec<ScheduleView> = rows
        .into_iter()
        .map(view)
        .filter(|v| allowed(&auth.actor, &v.owner).is_ok())
        .filter(|v| q.kind.as_ref().is_none_or(|k| *k == v.kind))
        .filter(|v| q.owner.is_none() || q.owner == v.owner.id)
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let items = matching
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect();
    Ok(Json(Page::new(items, total, page)))
}

/// Shows one schedule.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = String, Path, description = "schedule id, e.g. builtin:event-retention")),
    responses((status = 200, body = ScheduleView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    rbac::decide(&auth.actor, Menu::Schedules, Action::Read, Owner::System)?;
    let mut conn = state.db.conn().await?;
    let row = db::schedule_list::get(&mut conn, &id).await?;
    drop(conn);
    let v = view(row.ok_or_else(|| ApiError::not_found("schedule", &id))?);
    allowed(&auth.actor, &v.owner)?;
    Ok(Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_follow_the_schedule_id() {
        let plan = owner_of("plan-snapshot:p1", "plan-snapshot", Some("g".into()));
        assert_eq!(plan.kind, "plan");
        assert_eq!(plan.id.as_deref(), Some("p1"));
        assert_eq!(plan.group_id.as_deref(), Some("g"));
        let sys = owner_of("builtin:event-retention", "event-retention", None);
        assert_eq!((sys.kind.as_str(), sys.id), ("system", None));
        // A purpose that is not the snapshot's does not make an owner of the id.
        assert_eq!(owner_of("plan-snapshot:p1", "other", None).kind, "system");
    }
}
