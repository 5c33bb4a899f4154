//! Job reports (`job_reports`, migration 0007): written once at `reporting`, never
//! changed; drill reports may be deleted, DR reports are permanent.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::DbError;

/// One stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Report id (the executor run's id, or the job id for a job that never ran).
    pub id: String,
    /// The job.
    pub job_id: String,
    /// The job's name.
    pub job_name: String,
    /// The plan.
    pub plan_id: String,
    /// The protection group.
    pub group_id: String,
    /// The owning user group.
    pub owner_group_id: String,
    /// `drill` / `dr`.
    pub job_type: String,
    /// The job's result.
    pub result: String,
    /// Recovery start (ms).
    pub started_at: Option<i64>,
    /// The job's end (ms).
    pub finished_at: i64,
    /// The report document.
    pub report_json: String,
    /// Stored at (ms).
    pub created_at: i64,
}

const COLUMNS: &str = "id, job_id, job_name, plan_id, group_id, owner_group_id, job_type, \
    result, started_at, finished_at, report_json, created_at";

fn row(r: &AnyRow) -> Result<ReportRow, DbError> {
    Ok(ReportRow {
        id: r.try_get("id")?,
        job_id: r.try_get("job_id")?,
        job_name: r.try_get("job_name")?,
        plan_id: r.try_get("plan_id")?,
        group_id: r.try_get("group_id")?,
        owner_group_id: r.try_get("owner_group_id")?,
        job_type: r.try_get("job_type")?,
        result: r.try_get("result")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        report_json: r.try_get("report_json")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Stores a report unless one with its id exists; `false` if it did (written before a
/// crash: reports are immutable, the first one stays).
pub async fn insert_once(conn: &mut AnyConnection, r: &ReportRow) -> Result<bool, DbError> {
    let done = sqlx::query(&format!(
        "INSERT INTO job_reports ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12) ON CONFLICT (id) DO NOTHING"
    ))
    .bind(&r.id)
    .bind(&r.job_id)
    .bind(&r.job_name)
    .bind(&r.plan_id)
    .bind(&r.group_id)
    .bind(&r.owner_group_id)
    .bind(&r.job_type)
    .bind(&r.result)
    .bind(r.started_at)
    .bind(r.finished_at)
    .bind(&r.report_json)
    .bind(r.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One report.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<ReportRow>, DbError> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM job_reports WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(row).transpose()
}

/// Filters of the report list.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// Only reports owned by groups this user belongs to (non-Admin view).
    pub visible_to: Option<String>,
    /// Only this protection group.
    pub group_id: Option<String>,
    /// Only this job type.
    pub job_type: Option<String>,
    /// Only this result.
    pub result: Option<String>,
    /// Only jobs whose name contains this text (case-insensitive).
    pub search: Option<String>,
    /// Only reports of jobs that ended at or after this time (ms).
    pub finished_from: Option<i64>,
    /// Only reports of jobs that ended before this time (ms).
    pub finished_before: Option<i64>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

const FILTER: &str = "($1 IS NULL OR EXISTS (SELECT 1 FROM user_group_members m \
    WHERE m.group_id = job_reports.owner_group_id AND m.user_id = $1)) \
    AND ($2 IS NULL OR group_id = $2) AND ($3 IS NULL OR job_type = $3) \
    AND ($4 IS NULL OR result = $4) AND ($5 IS NULL OR LOWER(job_name) LIKE $5 ESCAPE '\\') \
    AND ($6 IS NULL OR finished_at >= $6) AND ($7 IS NULL OR finished_at < $7)";

/// A page of reports, newest first, and the total matching.
pub async fn list(
    conn: &mut AnyConnection,
    f: &ReportFilter,
) -> Result<(Vec<ReportRow>, i64), DbError> {
    let pattern = f.search.as_deref().map(super::clusters::like_pattern);
    let (total,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM job_reports WHERE {FILTER}"))
            .bind(&f.visible_to)
            .bind(&f.group_id)
            .bind(&f.job_type)
            .bind(&f.result)
            .bind(&pattern)
            .bind(f.finished_from)
            .bind(f.finished_before)
            .fetch_one(&mut *conn)
            .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM job_reports WHERE {FILTER} \
         ORDER BY finished_at DESC, id LIMIT $8 OFFSET $9"
    ))
    .bind(&f.visible_to)
    .bind(&f.group_id)
    .bind(&f.job_type)
    .bind(&f.result)
    .bind(&pattern)
    .bind(f.finished_from)
    .bind(f.finished_before)
    .bind(f.limit)
    .bind(f.offset)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows.iter().map(row).collect::<Result<_, _>>()?, total))
}

/// Deletes a drill report; `false` if there is no such drill report.
pub async fn delete_drill(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM job_reports WHERE id = $1 AND job_type = 'drill'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
