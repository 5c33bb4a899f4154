//! Schedules as `/api/v1/schedules` reads them: each with its latest fire record and,
//! for a plan's snapshot schedule, the owner group of the plan's protection group.

use sqlx::AnyConnection;

use super::DbError;
use super::schedules::ScheduleRecord;

/// The latest fired slot of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireRecord {
    /// The slot (ms).
    pub slot_at: i64,
    /// When it was claimed (ms).
    pub fired_at: i64,
    /// The orchestrator replica that ran it.
    pub fired_by: String,
    /// When its task ended (ms); `None` while running or when it was not recorded.
    pub finished_at: Option<i64>,
    /// `ok` or `failed`; `None` like `finished_at`.
    pub result: Option<String>,
    /// What the task reported.
    pub detail: Option<String>,
}

/// A schedule with what the API shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// The stored schedule.
    pub schedule: ScheduleRecord,
    /// Its latest fired slot.
    pub last_fire: Option<FireRecord>,
    /// The owner group of the object the schedule belongs to (a plan's group's owner);
    /// `None` for system schedules and for a plan that no longer exists.
    pub owner_group_id: Option<String>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn row(r: Row) -> ScheduleRow {
    let (id, purpose, spec_json, time_zone, missed_policy, next_fire_at, last_slot_at) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6);
    let last_fire = match (r.8, r.9, r.10) {
        (Some(slot_at), Some(fired_at), Some(fired_by)) => Some(FireRecord {
            slot_at,
            fired_at,
            fired_by,
            finished_at: r.11,
            result: r.12,
            detail: r.13,
        }),
        _ => None,
    };
    ScheduleRow {
        schedule: ScheduleRecord {
            id,
            purpose,
            spec_json,
            time_zone,
            missed_policy,
            next_fire_at,
            last_slot_at,
            created_at: r.7,
        },
        last_fire,
        owner_group_id: r.14,
    }
}

const SELECT: &str = "SELECT s.id, s.purpose, s.spec_json, s.time_zone, s.missed_policy, \
    s.next_fire_at, s.last_slot_at, s.created_at, \
    f.slot_at, f.fired_at, f.fired_by, f.finished_at, f.result, f.detail, g.owner_group_id \
    FROM schedules s \
    LEFT JOIN schedule_fires f ON f.schedule_id = s.id AND f.slot_at = \
        (SELECT MAX(x.slot_at) FROM schedule_fires x WHERE x.schedule_id = s.id) \
    LEFT JOIN recovery_plans p ON s.id = 'plan-snapshot:' || p.id \
    LEFT JOIN protection_groups g ON g.id = p.group_id";

/// Every schedule, by id.
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<ScheduleRow>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY s.id"))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(row).collect())
}

/// One schedule.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<ScheduleRow>, DbError> {
    let r: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(r.map(row))
}
