//! The schedule of a `schedule` job and its next slot.

use serde::{Deserialize, Serialize};

use super::JobError;
use crate::domain::schedule::{self, Recurrence, Schedule};

/// The schedule of a `schedule` job (a recurrence of jobs.md in a time zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSchedule {
    /// How it recurs (`daily`, `weekly`, `monthly_by_day`, `monthly_by_weekday`).
    pub recurrence: Recurrence,
    /// IANA time zone of the wall-clock times (default UTC).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Nothing fires before this (RFC 3339); default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

fn utc() -> String {
    "UTC".to_owned()
}

impl JobSchedule {
    pub(super) fn schedule(&self, created_at: i64) -> Result<Schedule, JobError> {
        if !matches!(
            self.recurrence,
            Recurrence::Daily { .. }
                | Recurrence::Weekly { .. }
                | Recurrence::MonthlyByDay { .. }
                | Recurrence::MonthlyByWeekday { .. }
        ) {
            return Err(JobError::Invalid(
                "a job schedule is daily, weekly, monthly_by_day or monthly_by_weekday".into(),
            ));
        }
        let start = match &self.start {
            None => created_at,
            Some(s) => s
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|e| JobError::Invalid(format!("schedule start {s:?}: {e}")))?,
        };
        Ok(Schedule::new(self.recurrence, &self.time_zone, start)?)
    }

    /// The first slot strictly after `after`.
    pub(super) fn next_after(&self, created_at: i64, after: i64) -> Result<i64, JobError> {
        schedule::next_after(&self.schedule(created_at)?, after)
            .ok_or_else(|| JobError::Invalid("the schedule never fires".into()))
    }
}
